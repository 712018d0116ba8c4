// Copyright The modeltel Authors
// SPDX-License-Identifier: Apache-2.0

package drift

// Verdict of one feature or of a dataset in one window (spec 4).
type Verdict string

// The three verdicts of spec 4.
const (
	VerdictDrift            Verdict = "drift"
	VerdictNoDrift          Verdict = "no_drift"
	VerdictInsufficientData Verdict = "insufficient_data"
)

// Thresholds are the per-feature verdict settings of spec 4 (the Python DriftConfig fields).
type Thresholds struct {
	MinSamples           float64
	PSIThreshold         float64
	KSAlpha              float64
	WassersteinThreshold float64
	Chi2Alpha            float64
	Chi2MaxRows          float64
	JSThreshold          float64
	Adaptive             bool
	AdaptiveAlpha        float64
	Epsilon              float64
	// Calibrated selects the calibrated rules of spec 5 (the default mode); Adaptive and
	// the fixed thresholds above are then unused.
	Calibrated bool
	// Alpha and FeatureAlpha are model-level: the family level is
	// min(Alpha, FeatureAlpha * features) (5.4).
	Alpha        float64
	FeatureAlpha float64
	// EffectFloor scales the effect-size floor EffectFloor * n_eff^-1/4 (5.3).
	EffectFloor float64
	// MinExpected is the expected count each collapsed cell reaches on both sides (5.1).
	MinExpected float64
}

// Default values of min_samples per mode when it is not set (Python's DEFAULT_MIN_SAMPLES).
const (
	DefaultMinSamplesCalibrated = 50
	DefaultMinSamplesFixed      = 500
)

// DefaultThresholds are the defaults of specs 4 and 5, the same as Python's DriftConfig():
// calibrated mode.
func DefaultThresholds() Thresholds {
	return Thresholds{
		MinSamples: DefaultMinSamplesCalibrated, PSIThreshold: 0.2, KSAlpha: 0.05, WassersteinThreshold: 0.1,
		Chi2Alpha: 0.05, Chi2MaxRows: 1000, JSThreshold: 0.1, AdaptiveAlpha: 0.01, Epsilon: Epsilon,
		Calibrated: true, Alpha: 0.05, FeatureAlpha: 0.01, EffectFloor: 0.5, MinExpected: 5,
	}
}

// Feature is one feature to evaluate: a reference and a production histogram on the
// same bounds (or categories), with its thresholds.
type Feature struct {
	Categorical bool
	Output      bool // a prediction feature: its own BH family, not in the dataset share
	Reference   Histogram
	Production  Histogram
	// ReferenceNulls and ProductionNulls are the null values beside the histograms (the
	// null-rate rule of spec 5.2).
	ReferenceNulls  float64
	ProductionNulls float64
	// ProductionOutside is the production values strictly outside the reference's
	// [min, max] (the SDK's out_of_range count), when OutsideKnown (spec 5.2).
	ProductionOutside float64
	OutsideKnown      bool
	// Tail is how many categorical cells before __other__ are hashed tail buckets (labels
	// beyond the top categories): the unseen_category rule counts them with __other__.
	Tail       int
	Thresholds Thresholds
	// Projection marks a multivariate projection (__projection_<k>__, spec 8): scored like
	// any input feature, not in the dataset share, aggregated by Multivariate.
	Projection bool
}

// Reason is one rule that fired, as reported in a log record.
type Reason struct {
	Method    string
	Score     float64
	Threshold float64
	// Rule is the calibrated rule (RuleKS, RuleNullRate, ...); empty in the fixed modes.
	Rule string
}

// Result is the scores and verdict of one feature.
type Result struct {
	Scores map[string]float64
	// Limits are the thresholds each score was compared with (adaptive mode replaces
	// psi and jensen_shannon limits with their critical values).
	Limits  map[string]float64
	Verdict Verdict
	Reasons []Reason
	// Primary is the rule that decides this feature in this window; reported when a
	// feature leaves drift.
	Primary Reason
	// Tests are the calibrated rules evaluated (calibrated mode only).
	Tests []RuleTest
}

// ScoreFeature computes every score of spec 2 (numeric) or 3 (categorical).
func ScoreFeature(f Feature) map[string]float64 {
	ref, prod := f.Reference, f.Production
	n, m := ref.Total(), prod.Total()
	if n <= 0 || m <= 0 {
		return nil
	}
	eps := f.Thresholds.Epsilon
	s := map[string]float64{
		"psi":            PSI(ref.Counts, prod.Counts, eps),
		"jensen_shannon": JensenShannon(ref.Counts, prod.Counts),
	}
	if f.Categorical {
		s["chi2_pvalue"] = Chi2PValue(ref.Counts, prod.Counts, eps)
		s["linf"] = Linf(ref.Counts, prod.Counts)
	} else {
		d := KSStatistic(ref.Counts, prod.Counts)
		s["ks_statistic"] = d
		s["ks_pvalue"] = KSPValue(d, n, m)
		s["wasserstein"] = Wasserstein(ref, prod)
		s["wasserstein_normalized"] = WassersteinNormalized(ref, prod)
	}
	return s
}

// Evaluate scores every feature of one model in one window and applies the verdict rules:
// calibrated features (spec 5) with Holm over all their rules, one family per model; fixed
// and adaptive ones (spec 4) with Benjamini-Hochberg across the inputs and, separately, the
// outputs and the projections.
func Evaluate(features []Feature) []Result {
	results := make([]Result, len(features))
	for i, f := range features {
		r := Result{Scores: ScoreFeature(f), Limits: map[string]float64{}, Verdict: VerdictNoDrift}
		if f.Thresholds.Calibrated {
			r.Tests = CalibratedTests(f)
			if r.Scores == nil {
				r.Scores = map[string]float64{}
			}
			if f.Production.Total()+f.ProductionNulls < f.Thresholds.MinSamples || len(r.Tests) == 0 {
				r.Verdict = VerdictInsufficientData
			}
		} else if r.Scores == nil || f.Production.Total() < f.Thresholds.MinSamples {
			r.Verdict = VerdictInsufficientData
		}
		results[i] = r
	}
	calibrate(features, results)
	// Fixed and adaptive modes: one BH family each for inputs, outputs and projections.
	for _, family := range []struct{ output, projection bool }{{false, false}, {true, false}, {false, true}} {
		var idx []int
		var keys []string
		var ps []float64
		for i, f := range features {
			if f.Output != family.output || f.Projection != family.projection || f.Thresholds.Calibrated || results[i].Verdict == VerdictInsufficientData {
				continue
			}
			key := ""
			switch {
			case !f.Categorical:
				key = "ks"
			case f.Production.Total() < f.Thresholds.Chi2MaxRows:
				key = "chi2"
			default:
				continue
			}
			idx = append(idx, i)
			keys = append(keys, key)
			ps = append(ps, results[i].Scores[key+"_pvalue"])
		}
		for j, q := range BenjaminiHochberg(ps) {
			results[idx[j]].Scores[keys[j]+"_qvalue"] = q
		}
	}
	for i, f := range features {
		if f.Thresholds.Calibrated || results[i].Verdict == VerdictInsufficientData {
			continue
		}
		decide(&results[i], f)
	}
	return results
}

func decide(r *Result, f Feature) {
	t := f.Thresholds
	s := r.Scores
	n, m := f.Reference.Total(), f.Production.Total()
	psiLimit, jsLimit := t.PSIThreshold, t.JSThreshold
	if t.Adaptive {
		bins := Occupied(f.Reference.Counts)
		psiLimit = PSICritical(n, m, bins, t.AdaptiveAlpha)
		jsLimit = JSCritical(n, m, bins, t.AdaptiveAlpha)
	}
	switch {
	case !f.Categorical:
		r.Limits["psi"] = psiLimit
		r.Limits["ks_qvalue"] = t.KSAlpha
		r.Limits["wasserstein_normalized"] = t.WassersteinThreshold
		r.Primary = Reason{Method: "psi", Score: s["psi"], Threshold: psiLimit}
		if s["psi"] >= psiLimit {
			r.Reasons = append(r.Reasons, r.Primary)
		}
		if s["ks_qvalue"] < t.KSAlpha && s["wasserstein_normalized"] >= t.WassersteinThreshold {
			r.Reasons = append(r.Reasons, Reason{Method: "wasserstein_normalized", Score: s["wasserstein_normalized"], Threshold: t.WassersteinThreshold})
		}
	case m < t.Chi2MaxRows:
		r.Limits["chi2_qvalue"] = t.Chi2Alpha
		r.Primary = Reason{Method: "chi2_qvalue", Score: s["chi2_qvalue"], Threshold: t.Chi2Alpha}
		if s["chi2_qvalue"] < t.Chi2Alpha {
			r.Reasons = append(r.Reasons, r.Primary)
		}
	default:
		r.Limits["jensen_shannon"] = jsLimit
		r.Primary = Reason{Method: "jensen_shannon", Score: s["jensen_shannon"], Threshold: jsLimit}
		if s["jensen_shannon"] >= jsLimit {
			r.Reasons = append(r.Reasons, r.Primary)
		}
	}
	if len(r.Reasons) > 0 {
		r.Verdict = VerdictDrift
	}
}

// Dataset is the dataset verdict of spec 4.4 over input features with a verdict
// (projections left out).
func Dataset(features []Feature, results []Result, share float64) (verdict Verdict, drifted, evaluated int) {
	for i, f := range features {
		if f.Output || f.Projection || results[i].Verdict == VerdictInsufficientData {
			continue
		}
		evaluated++
		if results[i].Verdict == VerdictDrift {
			drifted++
		}
	}
	switch {
	case evaluated == 0:
		return VerdictInsufficientData, 0, 0
	case float64(drifted) >= share*float64(evaluated):
		return VerdictDrift, drifted, evaluated
	default:
		return VerdictNoDrift, drifted, evaluated
	}
}
