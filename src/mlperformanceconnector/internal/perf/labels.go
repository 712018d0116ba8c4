// Copyright The modeltel Authors
// SPDX-License-Identifier: Apache-2.0

package perf // import "github.com/modeltel/mlperformanceconnector/internal/perf"

import (
	"math"
	"sort"
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
	return GammaIncc(float64(df)/2, stat/2), distance
}

func GammaIncc(a, x float64) float64 {
	if a <= 0 {
		return math.NaN()
	}
	if x <= 0 {
		return 1
	}
	if math.IsInf(x, 1) {
		return 0
	}
	lg, _ := math.Lgamma(a)
	logFront := -x + a*math.Log(x) - lg
	var q float64
	if x < a+1 {
		ap := a
		term := 1 / a
		total := term
		for n := 0; n < 10000; n++ {
			ap++
			term *= x / ap
			total += term
			if math.Abs(term) < math.Abs(total)*1e-17 {
				break
			}
		}
		q = 1 - math.Exp(logFront)*total
	} else {
		const tiny = 1e-300
		b := x + 1 - a
		c := 1 / tiny
		d := 1 / b
		h := d
		for i := 1; i <= 10000; i++ {
			an := -float64(i) * (float64(i) - a)
			b += 2
			d = an*d + b
			if math.Abs(d) < tiny {
				d = tiny
			}
			c = b + an/c
			if math.Abs(c) < tiny {
				c = tiny
			}
			d = 1 / d
			delta := d * c
			h *= delta
			if math.Abs(delta-1) < 1e-16 {
				break
			}
		}
		q = math.Exp(logFront) * h
	}
	return math.Min(math.Max(q, 0), 1)
}
