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
	if v.Method == "benjamini_hochberg" {
		raw := v.Params["pvalues"].([]any)
		ps := make([]float64, len(raw))
		for i, p := range raw {
			ps[i] = p.(float64)
		}
		return BenjaminiHochberg(ps), true
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
	case "psi_critical":
		return []float64{PSICritical(n, m, Occupied(ref.Counts), v.param("alpha", 0.01))}, true
	case "js_critical":
		return []float64{JSCritical(n, m, Occupied(ref.Counts), v.param("alpha", 0.01))}, true
	}
	return nil, false
}

// TestSharedVectors checks every shared vector (generated with scipy, never with either
// implementation) against this package with the spec's rule |got-want| <= 1e-9*max(1,|want|).
func TestSharedVectors(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(vectorsDir, "*.json"))
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(files), 40, "expected the shared drift vectors in %s", vectorsDir)
	for _, file := range files {
		raw, err := os.ReadFile(file)
		require.NoError(t, err)
		var v vector
		require.NoError(t, json.Unmarshal(raw, &v), file)
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
