// Copyright The modeltel Authors
// SPDX-License-Identifier: Apache-2.0

package drift

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// vectorsDir is the shared vectors' folder, relative to this package.
const vectorsDir = "../../../../tests/vectors/drift"

type side struct {
	Counts []float64 `json:"counts"`
	Min    *float64  `json:"min"`
	Max    *float64  `json:"max"`
}

func (s *side) histogram(bounds []float64) Histogram {
	h := Histogram{Bounds: bounds, Counts: s.Counts, Min: math.NaN(), Max: math.NaN()}
	if s.Min != nil {
		h.Min = *s.Min
	}
	if s.Max != nil {
		h.Max = *s.Max
	}
	return h
}

type vector struct {
	Name       string          `json:"name"`
	Kind       string          `json:"kind"`
	Method     string          `json:"method"`
	Bounds     []float64       `json:"bounds"`
	Reference  *side           `json:"reference"`
	Production *side           `json:"production"`
	Params     map[string]any  `json:"params"`
	Expected   json.RawMessage `json:"expected"`
}

func (v vector) param(name string, def float64) float64 {
	if x, ok := v.Params[name].(float64); ok {
		return x
	}
	return def
}

// compute evaluates the vector's method with this package; ok is false for an unknown method.
func (v vector) compute() (got []float64, ok bool) {
	switch v.Method {
	case "benjamini_hochberg", "holm":
		raw := v.Params["pvalues"].([]any)
		ps := make([]float64, len(raw))
		for i, p := range raw {
			ps[i] = p.(float64)
		}
		if v.Method == "holm" {
			return Holm(ps), true
		}
		return BenjaminiHochberg(ps), true
	case "rate_pvalue":
		return []float64{RatePValue(v.param("x", 0), v.param("m", 0), v.param("y", 0), v.param("n", 0))}, true
	case "outside_pvalue":
		return []float64{OutsidePValue(v.param("x", 0), v.param("m", 0), v.param("n", 0))}, true
	case "effect_floor":
		return []float64{EffectFloor(v.param("n", 0), v.param("m", 0), v.param("scale", 0))}, true
	case "calibrated_model":
		return v.calibratedModel(), true
	case "sequential_evalue", "sequential_cusum":
		return v.sequential(), true
	}
	ref, prod := v.Reference.histogram(v.Bounds), v.Production.histogram(v.Bounds)
	eps := v.param("epsilon", Epsilon)
	n, m := ref.Total(), prod.Total()
	switch v.Method {
	case "psi":
		return []float64{PSI(ref.Counts, prod.Counts, eps)}, true
	case "jensen_shannon":
		return []float64{JensenShannon(ref.Counts, prod.Counts)}, true
	case "linf":
		return []float64{Linf(ref.Counts, prod.Counts)}, true
	case "chi2_pvalue":
		return []float64{Chi2PValue(ref.Counts, prod.Counts, eps)}, true
	case "ks_statistic":
		return []float64{KSStatistic(ref.Counts, prod.Counts)}, true
	case "ks_pvalue":
		return []float64{KSPValue(KSStatistic(ref.Counts, prod.Counts), n, m)}, true
	case "wasserstein":
		return []float64{Wasserstein(ref, prod)}, true
	case "wasserstein_normalized":
		return []float64{WassersteinNormalized(ref, prod)}, true
	case "reference_std":
		_, std := ReferenceMeanStd(ref)
		return []float64{std}, true
	case "rank_sum_pvalue":
		return []float64{RankSumPValue(ref.Counts, prod.Counts)}, true
	case "chi2_contingency_pvalue", "chi2_contingency_effect":
		ordered, _ := v.Params["ordered"].(bool)
		p, rg, pg := Chi2TwoSample(ref.Counts, prod.Counts, ordered, v.param("min_expected", 5))
		if v.Method == "chi2_contingency_pvalue" {
			return []float64{p}, true
		}
		if len(rg) < 2 {
			return []float64{0}, true
		}
		return []float64{MaxCohenH(rg, pg)}, true
	case "psi_critical":
		return []float64{PSICritical(n, m, Occupied(ref.Counts), v.param("alpha", 0.01))}, true
	case "js_critical":
		return []float64{JSCritical(n, m, Occupied(ref.Counts), v.param("alpha", 0.01))}, true
	}
	return nil, false
}

func floats(x any) []float64 {
	raw, _ := x.([]any)
	out := make([]float64, len(raw))
	for i, v := range raw {
		out[i] = v.(float64)
	}
	return out
}

// thresholds are the defaults with the vector's alpha, feature alpha, effect floor, minimum
// expected count and minimum samples.
func (v vector) thresholds() Thresholds {
	th := DefaultThresholds()
	th.Alpha, th.FeatureAlpha = v.param("alpha", 0), v.param("feature_alpha", 0)
	th.EffectFloor, th.MinExpected, th.MinSamples = v.param("effect_floor", 0), v.param("min_expected", 0), v.param("min_samples", 0)
	return th
}

// calibratedModel evaluates the vector's model: per feature the verdict (1, 0, -1 for
// insufficient_data), then each rule's Holm q-value.
func (v vector) calibratedModel() []float64 {
	th := v.thresholds()
	var features []Feature
	for _, raw := range v.Params["features"].([]any) {
		f := raw.(map[string]any)
		bounds := floats(f["bounds"])
		outside, known := f["prod_outside"].(float64)
		tail, _ := f["tail"].(float64)
		features = append(features, Feature{
			Tail:              int(tail),
			ProductionOutside: outside,
			OutsideKnown:      known,
			Categorical:       f["kind"] == "categorical",
			Reference:         Histogram{Bounds: bounds, Counts: floats(f["reference"]), Min: math.NaN(), Max: math.NaN()},
			Production:        Histogram{Bounds: bounds, Counts: floats(f["production"]), Min: math.NaN(), Max: math.NaN()},
			ReferenceNulls:    f["ref_nulls"].(float64),
			ProductionNulls:   f["prod_nulls"].(float64),
			Thresholds:        th,
		})
	}
	var out []float64
	for _, r := range Evaluate(features) {
		switch r.Verdict {
		case VerdictDrift:
			out = append(out, 1)
		case VerdictNoDrift:
			out = append(out, 0)
		default:
			out = append(out, -1)
			continue
		}
		for _, t := range r.Tests {
			out = append(out, t.QValue)
		}
	}
	return out
}

// loadVectors reads every shared vector file of dir, at least atLeast of them.
func loadVectors(t *testing.T, dir string, atLeast int) []vector {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(files), atLeast, "expected the shared vectors in %s", dir)
	out := make([]vector, 0, len(files))
	for _, file := range files {
		raw, err := os.ReadFile(file)
		require.NoError(t, err)
		var v vector
		require.NoError(t, json.Unmarshal(raw, &v), file)
		out = append(out, v)
	}
	return out
}

// TestSharedVectors checks every shared vector (generated with scipy, never with either
// implementation) against this package with the spec's rule |got-want| <= 1e-9*max(1,|want|).
func TestSharedVectors(t *testing.T) {
	for _, v := range loadVectors(t, vectorsDir, 40) {
		t.Run(v.Name, func(t *testing.T) {
			var want []float64
			var one float64
			if json.Unmarshal(v.Expected, &one) == nil {
				want = []float64{one}
			} else {
				require.NoError(t, json.Unmarshal(v.Expected, &want))
			}
			got, ok := v.compute()
			require.True(t, ok, "unknown method %q", v.Method)
			require.Len(t, got, len(want))
			for i := range want {
				tol := 1e-9 * math.Max(1, math.Abs(want[i]))
				require.LessOrEqualf(t, math.Abs(got[i]-want[i]), tol, "%s[%d]: got %.17g want %.17g", v.Method, i, got[i], want[i])
			}
		})
	}
}
