// Copyright The modeltel Authors
// SPDX-License-Identifier: Apache-2.0

package perf // import "github.com/modeltel/mlperformanceconnector/internal/perf"

import (
	"math"
	"sort"

	"github.com/modeltel/mlcommon/special"
)

// LabelEpsilon floors a reference share in the label drift test (modeltel._drift.EPSILON),
// so that a label the reference never saw gives a finite statistic.
const LabelEpsilon = 1e-4

// LabelDrift compares the actual labels of a window with a reference distribution (the
// baseline's targets): the chi-squared goodness-of-fit p-value of the window's counts against
// the reference shares (modeltel._drift.chi2_pvalue) and the total variation distance between
// the two distributions. Labels absent from both are ignored; NaN without rows on either side.
func LabelDrift(reference, window map[string]float64) (pvalue, distance float64) {
	var r, w float64
	labels := make([]string, 0, len(reference)+len(window))
	for l, c := range reference {
		r += c
		labels = append(labels, l)
	}
	for l, c := range window {
		w += c
		if _, ok := reference[l]; !ok {
			labels = append(labels, l)
		}
	}
	if r <= 0 || w <= 0 {
		return math.NaN(), math.NaN()
	}
	sort.Strings(labels)
	var kept []string
	var floored float64
	for _, l := range labels {
		if reference[l] > 0 || window[l] > 0 {
			kept = append(kept, l)
			floored += math.Max(reference[l]/r, LabelEpsilon)
		}
		distance += math.Abs(reference[l]/r-window[l]/w) / 2
	}
	df := len(kept) - 1
	if df < 1 {
		return 1, distance
	}
	var stat float64
	for _, l := range kept {
		expected := w * math.Max(reference[l]/r, LabelEpsilon) / floored
		stat += (window[l] - expected) * (window[l] - expected) / expected
	}
	return special.GammaIncc(float64(df)/2, stat/2), distance
}
