// Copyright The modeltel Authors
// SPDX-License-Identifier: Apache-2.0

package perf

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// vector is one file of tests/vectors/performance (generate_performance_vectors.py).
type vector struct {
	Task string `json:"task"`
	// ProbClasses are the columns of Rows.Probabilities (multiclass with every class's probability).
	ProbClasses []string `json:"probability_classes"`
	Positive    string   `json:"positive"`
	// ReferenceLabels are the reference's label counts of the label drift test.
	ReferenceLabels map[string]float64 `json:"reference_labels"`
	Rows            struct {
		Actual    json.RawMessage `json:"actual"`
		Predicted json.RawMessage `json:"predicted"`
		Score     []float64       `json:"score"`
		Probs     [][]float64     `json:"probabilities"`
	} `json:"rows"`
	Expected struct {
		Accuracy *float64 `json:"accuracy"`
		Classes  map[string]struct {
			Precision, Recall, F1 float64
			Support               uint64
		} `json:"classes"`
		Macro   *struct{ Precision, Recall, F1 float64 } `json:"macro"`
		LogLoss *float64                                 `json:"log_loss"`
		Brier   *float64                                 `json:"brier"`
		ROCAUC  *float64                                 `json:"roc_auc"`
		PRAUC   *float64                                 `json:"pr_auc"`
		PRTied  *float64                                 `json:"pr_auc_tied_in_slots"`
		MAE     *float64                                 `json:"mae"`
		MAPE    *float64                                 `json:"mape"`
		ECE     *float64                                 `json:"calibration_error"`
		RMSE    *float64                                 `json:"rmse"`
		Bias    *float64                                 `json:"bias"`
		R2      *float64                                 `json:"r2"`
		Resid   []uint64                                 `json:"residual_counts"`
		LabelP  *float64                                 `json:"label_drift_pvalue"`
		LabelD  *float64                                 `json:"label_drift_distance"`
	} `json:"expected"`
}

const tol = 1e-9

// TestSharedVectors checks every figure against scikit-learn's on the shared vectors:
// to 1e-9, and ROC AUC from score histograms within its own error bound and 0.005.
func TestSharedVectors(t *testing.T) {
	files, err := filepath.Glob("../../../../tests/vectors/performance/*.json")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			raw, err := os.ReadFile(path)
			require.NoError(t, err)
			var v vector
			require.NoError(t, json.Unmarshal(raw, &v))
			a := NewAgg(DefaultBins)
			names := map[string]uint16{}
			idx := func(s string) uint16 {
				if i, ok := names[s]; ok {
					return i
				}
				names[s] = uint16(len(names) + 1)
				return names[s]
			}
			if v.Task == "regression" {
				var y, p []float64
				require.NoError(t, json.Unmarshal(v.Rows.Actual, &y))
				require.NoError(t, json.Unmarshal(v.Rows.Predicted, &p))
				for i := range y {
					a.AddValue(p[i], y[i])
				}
			} else {
				var y, p []string
				require.NoError(t, json.Unmarshal(v.Rows.Actual, &y))
				require.NoError(t, json.Unmarshal(v.Rows.Predicted, &p))
				for i := range y {
					a.AddClass(idx(y[i]), idx(p[i]))
					if v.Rows.Score != nil {
						a.AddScore(DefaultBins, v.Rows.Score[i], y[i] == v.Positive)
					}
					if v.Rows.Probs != nil {
						col := -1
						for c, name := range v.ProbClasses {
							if name == y[i] {
								col = c
							}
						}
						a.AddProbabilities(v.Rows.Probs[i], col)
					}
				}
			}
			f := a.Compute()
			e := v.Expected
			check := func(name string, want *float64, got float64) {
				if want != nil {
					assert.InDelta(t, *want, got, tol, name)
				}
			}
			check("accuracy", e.Accuracy, f.Accuracy)
			check("log_loss", e.LogLoss, f.LogLoss)
			check("brier", e.Brier, f.Brier)
			check("mae", e.MAE, f.MAE)
			check("mape", e.MAPE, f.MAPE)
			check("calibration_error", e.ECE, f.CalibrationError)
			check("rmse", e.RMSE, f.RMSE)
			check("bias", e.Bias, f.Bias)
			check("r2", e.R2, f.R2)
			check("pr_auc_tied_in_slots", e.PRTied, f.PRAUC)
			if v.ReferenceLabels != nil {
				actual := map[string]float64{}
				for pair, c := range a.Confusion {
					for name, i := range names {
						if i == uint16(pair>>16) {
							actual[name] += float64(c)
						}
					}
				}
				p, d := LabelDrift(v.ReferenceLabels, actual)
				check("label_drift_pvalue", e.LabelP, p)
				check("label_drift_distance", e.LabelD, d)
			}
			if e.Resid != nil {
				assert.Equal(t, e.Resid, a.Residuals, "residual histogram")
			}
			if e.PRAUC != nil {
				diff := math.Abs(*e.PRAUC - f.PRAUC)
				t.Logf("pr_auc exact %.6f histogram %.6f |error| %.2e bound %.2e", *e.PRAUC, f.PRAUC, diff, f.PRError)
				assert.LessOrEqual(t, diff, f.PRError+tol, "PR AUC error within its bound")
			}
			if e.Macro != nil {
				assert.InDelta(t, e.Macro.Precision, f.Macro.Precision, tol, "macro precision")
				assert.InDelta(t, e.Macro.Recall, f.Macro.Recall, tol, "macro recall")
				assert.InDelta(t, e.Macro.F1, f.Macro.F1, tol, "macro f1")
			}
			got := map[string]ClassScore{}
			for _, c := range f.Classes {
				for name, i := range names {
					if i == c.Class {
						got[name] = c
					}
				}
			}
			want := make([]string, 0, len(e.Classes))
			for name := range e.Classes {
				want = append(want, name)
			}
			sort.Strings(want)
			for _, name := range want {
				w := e.Classes[name]
				g, ok := got[name]
				require.True(t, ok, "class %s", name)
				assert.InDelta(t, w.Precision, g.Precision, tol, "precision %s", name)
				assert.InDelta(t, w.Recall, g.Recall, tol, "recall %s", name)
				assert.InDelta(t, w.F1, g.F1, tol, "f1 %s", name)
				assert.Equal(t, w.Support, g.Support, "support %s", name)
			}
			if e.ROCAUC != nil {
				diff := math.Abs(*e.ROCAUC - f.ROCAUC)
				t.Logf("roc_auc exact %.6f histogram %.6f |error| %.2e bound %.2e", *e.ROCAUC, f.ROCAUC, diff, f.AUCError)
				assert.LessOrEqual(t, diff, f.AUCError+tol, "AUC error within its bound")
				assert.Less(t, diff, 0.005)
			}
		})
	}
}

// TestBinsIndex checks the slot of scores at and around the grid's ends.
func TestBinsIndex(t *testing.T) {
	b := Bins{Count: 4, Limit: 2}
	bounds := b.Bounds()
	require.Len(t, bounds, 5)
	for _, tc := range []struct {
		score float64
		want  int
	}{
		{0, 0}, {-1, 0}, {math.NaN(), 0}, {1, 5}, {2, 5},
		{1 / (1 + math.Exp(3)), 0}, {0.5, 3}, {1 / (1 + math.Exp(-1.5)), 4}, {1 / (1 + math.Exp(-3)), 5},
	} {
		assert.Equal(t, tc.want, b.Index(tc.score), "score %v", tc.score)
	}
}

// TestWilson checks the interval against published values (Newcombe 1998, table I).
func TestWilson(t *testing.T) {
	lo, hi := Wilson(81, 263, 1.959964)
	assert.InDelta(t, 0.2553, lo, 1e-4)
	assert.InDelta(t, 0.3662, hi, 1e-4)
	lo, hi = Wilson(0, 0, 1.96)
	assert.Equal(t, [2]float64{0, 1}, [2]float64{lo, hi})
}

// TestMergeIsAddition checks that merging two halves gives the aggregate of the whole.
func TestMergeIsAddition(t *testing.T) {
	whole, x, y := NewAgg(DefaultBins), NewAgg(DefaultBins), NewAgg(DefaultBins)
	for i := 0; i < 100; i++ {
		s := float64(i) / 100
		part := x
		if i%3 == 0 {
			part = y
		}
		for _, a := range []*Agg{whole, part} {
			a.AddClass(uint16(i%2), uint16(i%3%2))
			a.AddScore(DefaultBins, s, i%2 == 1)
			a.AddValue(s, s*2)
		}
	}
	x.Merge(y)
	assert.Equal(t, whole.Confusion, x.Confusion)
	assert.Equal(t, whole.Pos, x.Pos)
	assert.InDelta(t, whole.Compute().LogLoss, x.Compute().LogLoss, 1e-12)
	assert.InDelta(t, whole.Compute().RMSE, x.Compute().RMSE, 1e-12)
}

// TestEstimateOfCalibratedScores checks the confidence-based estimate: on scores that are the
// true probabilities, the expected accuracy, macro F1 and AUC are close to the realised ones.
func TestEstimateOfCalibratedScores(t *testing.T) {
	a := NewAgg(DefaultBins)
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 200000; i++ {
		p := 1 / (1 + math.Exp(-r.NormFloat64()*2.5))
		y := r.Float64() < p
		var yc, pc uint16
		if y {
			yc = 1
		}
		if p >= 0.5 {
			pc = 1
		}
		a.AddClass(yc, pc)
		a.AddScore(DefaultBins, p, y)
		a.AddEstimate(DefaultBins, p, p, p >= 0.5)
	}
	f, e := a.Compute(), a.Estimated()
	assert.InDelta(t, f.Accuracy, e.Accuracy, 0.005)
	assert.InDelta(t, f.Macro.F1, e.F1Macro, 0.005)
	assert.InDelta(t, f.ROCAUC, e.ROCAUC, 0.005)
}

// TestResidualBuckets checks the residual histogram's buckets at and around its bounds.
func TestResidualBuckets(t *testing.T) {
	require.Len(t, ResidualBounds, 57)
	assert.Equal(t, 0.0, ResidualBounds[28])
	a := NewAgg(DefaultBins)
	for _, e := range []float64{0, 0.001, -0.0015, 3, 2e6, -2e6, 1e6} {
		a.AddValue(10+e, 10)
	}
	want := map[int]uint64{28: 1, 29: 1, 27: 1, 40: 1, 57: 1, 0: 1, 56: 1}
	for i, c := range a.Residuals {
		assert.Equal(t, want[i], c, "bucket %d (upper bound %v)", i, append(ResidualBounds, math.Inf(1))[i])
	}
}

// TestCalibration checks the piecewise-linear map and its ends.
func TestCalibration(t *testing.T) {
	c := Calibration{Scores: []float64{0.2, 0.6}, Probabilities: []float64{0.1, 0.5}}
	assert.Equal(t, 0.1, c.Apply(0))
	assert.InDelta(t, 0.3, c.Apply(0.4), 1e-12)
	assert.Equal(t, 0.5, c.Apply(0.9))
	assert.Equal(t, 0.7, Calibration{}.Apply(0.7))
}
