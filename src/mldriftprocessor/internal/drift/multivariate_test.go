// Copyright The modeltel Authors
// SPDX-License-Identifier: Apache-2.0

package drift

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// multivariateDir holds the shared multivariate vectors (tests/vectors/generate_multivariate_vectors.py).
const multivariateDir = "../../../../tests/vectors/multivariate"

func verdictCode(v Verdict) float64 {
	switch v {
	case VerdictDrift:
		return 1
	case VerdictNoDrift:
		return 0
	}
	return -1
}

// TestMultivariateVectors checks every shared multivariate vector (scipy-generated): per
// feature the verdict and Holm q-values, then the dataset verdict (projections left out) and
// the multivariate verdict, to 1e-9.
func TestMultivariateVectors(t *testing.T) {
	for _, v := range loadVectors(t, multivariateDir, 3) {
		t.Run(v.Name, func(t *testing.T) {
			var want []float64
			require.NoError(t, json.Unmarshal(v.Expected, &want))
			th := v.thresholds()
			var features []Feature
			for _, raw := range v.Params["features"].([]any) {
				f := raw.(map[string]any)
				bounds := floats(f["bounds"])
				features = append(features, Feature{
					Projection:      strings.HasPrefix(f["name"].(string), "__projection_"),
					Reference:       Histogram{Bounds: bounds, Counts: floats(f["reference"]), Min: math.NaN(), Max: math.NaN()},
					Production:      Histogram{Bounds: bounds, Counts: floats(f["production"]), Min: math.NaN(), Max: math.NaN()},
					ReferenceNulls:  f["ref_nulls"].(float64),
					ProductionNulls: f["prod_nulls"].(float64),
					Thresholds:      th,
				})
			}
			results := Evaluate(features)
			var got []float64
			for _, r := range results {
				got = append(got, verdictCode(r.Verdict))
				if r.Verdict == VerdictInsufficientData {
					continue
				}
				for _, rt := range r.Tests {
					got = append(got, rt.QValue)
				}
			}
			dataset, _, _ := Dataset(features, results, 0.5)
			mv, _, ok := Multivariate(features, results)
			require.True(t, ok)
			got = append(got, verdictCode(dataset), verdictCode(mv))
			require.Len(t, got, len(want))
			for i := range want {
				require.LessOrEqualf(t, math.Abs(got[i]-want[i]), 1e-9*math.Max(1, math.Abs(want[i])), "[%d]: got %.17g want %.17g", i, got[i], want[i])
			}
		})
	}
}

// TestMultivariateWithoutProjections checks that a model without projections has no verdict.
func TestMultivariateWithoutProjections(t *testing.T) {
	_, _, ok := Multivariate([]Feature{{}}, []Result{{Verdict: VerdictDrift}})
	require.False(t, ok)
}
