// Copyright The modeltel Authors
// SPDX-License-Identifier: Apache-2.0

package drift

// Multivariate is the model-level multivariate verdict of spec 8.3: drift when any projection
// feature drifts, no_drift when some were scored and none drifts, insufficient_data when none
// was scored; ok is false when the model has no projection features. The projections are in
// the model's one Holm family (Evaluate), so this verdict adds no false-alarm rate of its own
// beyond the model's alpha.
func Multivariate(features []Feature, results []Result) (verdict Verdict, drifted []int, ok bool) {
	scored := 0
	for i, f := range features {
		if !f.Projection {
			continue
		}
		ok = true
		switch results[i].Verdict {
		case VerdictDrift:
			drifted = append(drifted, i)
			scored++
		case VerdictNoDrift:
			scored++
		}
	}
	switch {
	case !ok:
		return "", nil, false
	case len(drifted) > 0:
		return VerdictDrift, drifted, true
	case scored > 0:
		return VerdictNoDrift, nil, true
	default:
		return VerdictInsufficientData, nil, true
	}
}
