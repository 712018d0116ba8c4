// Copyright The modeltel Authors
// SPDX-License-Identifier: Apache-2.0

// Package drift is the Go side of docs/drift-math.md: drift scores and verdicts computed
// from histograms only. It must agree with src/modeltel/_drift.py to 1e-9 on every shared
// vector under tests/vectors/drift/, so every formula follows the spec as written, in the
// same order of operations, even where a shorter form would be mathematically equal.
package drift // import "github.com/modeltel/mldriftprocessor/internal/drift"

import (
	"math"
	"sort"

	"github.com/modeltel/mlcommon/special"
)

// Epsilon is the default floor of empty proportions (PSI and chi-squared, spec 2.1 and 3).
const Epsilon = 1e-4

// Histogram is one numeric (explicit-bucket) or categorical distribution.
//
// Numeric: len(Counts) == len(Bounds)+1, buckets upper-inclusive as in OTLP.
// Categorical: Bounds is empty and Counts holds one count per category, __other__ last.
// Min/Max are the recorded extremes; NaN means "not recorded" (spec 1.3 fallbacks apply).
type Histogram struct {
	Bounds []float64
	Counts []float64
	Min    float64
	Max    float64
}

// Total is the sum of the counts.
func (h Histogram) Total() float64 { return sum(h.Counts) }

func sum(xs []float64) float64 {
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s
}

func proportions(c []float64) []float64 {
	t := sum(c)
	out := make([]float64, len(c))
	for i, x := range c {
		out[i] = x / t
	}
	return out
}

// PSI is the population stability index with every proportion floored at eps (2.1).
func PSI(reference, production []float64, eps float64) float64 {
	r, p := proportions(reference), proportions(production)
	s := 0.0
	for i := range r {
		ri, pi := math.Max(r[i], eps), math.Max(p[i], eps)
		s += (pi - ri) * math.Log(pi/ri)
	}
	return s
}

// JensenShannon is the Jensen-Shannon distance, base 2, without epsilon (2.6).
func JensenShannon(reference, production []float64) float64 {
	r, p := proportions(reference), proportions(production)
	kp, kr := 0.0, 0.0
	for i := range r {
		m := (p[i] + r[i]) / 2
		if p[i] > 0 {
			kp += p[i] * math.Log2(p[i]/m)
		}
		if r[i] > 0 {
			kr += r[i] * math.Log2(r[i]/m)
		}
	}
	return math.Sqrt(math.Max(0.5*kp+0.5*kr, 0))
}

// Linf is the largest absolute difference of proportions (3).
func Linf(reference, production []float64) float64 {
	r, p := proportions(reference), proportions(production)
	best := 0.0
	for i := range r {
		best = math.Max(best, math.Abs(p[i]-r[i]))
	}
	return best
}

// KSStatistic compares the cumulative proportions at the bucket bounds (2.4).
func KSStatistic(reference, production []float64) float64 {
	if len(reference) <= 1 {
		return 0
	}
	n, m := sum(reference), sum(production)
	cr, cp, d := 0.0, 0.0, 0.0
	for j := 0; j < len(reference)-1; j++ {
		cr += reference[j]
		cp += production[j]
		d = math.Max(d, math.Abs(cp/m-cr/n))
	}
	return d
}

// KolmogorovSF is the survival function of the Kolmogorov distribution (2.5).
func KolmogorovSF(lambda float64) float64 {
	if lambda <= 0 {
		return 1
	}
	var p float64
	if lambda < 1 {
		s := 0.0
		for j := 1.0; j <= 10; j++ {
			s += math.Exp(-((2*j - 1) * (2*j - 1)) * math.Pi * math.Pi / (8 * lambda * lambda))
		}
		p = 1 - math.Sqrt(2*math.Pi)/lambda*s
	} else {
		s := 0.0
		for j := 1.0; j <= 10; j++ {
			sign := 1.0
			if int(j)%2 == 0 {
				sign = -1
			}
			s += sign * math.Exp(-2*j*j*lambda*lambda)
		}
		p = 2 * s
	}
	return math.Min(math.Max(p, 0), 1)
}

// KSPValue is the asymptotic two-sample p-value with n_eff = n*m/(n+m) (2.5).
func KSPValue(d, n, m float64) float64 {
	if n <= 0 || m <= 0 {
		return math.NaN()
	}
	return KolmogorovSF(math.Sqrt(n*m/(n+m)) * d)
}

// Supports returns each bucket's [lo, hi] under the piecewise-uniform model (1.3).
func Supports(h Histogram) (lo, hi []float64) {
	b := h.Bounds
	k := len(b)
	fallbackLo, fallbackHi := 0.0, 0.0
	if k > 0 {
		fallbackLo, fallbackHi = b[0], b[k-1]
	}
	loClose, hiClose := fallbackLo, fallbackHi
	if !math.IsNaN(h.Min) && !math.IsInf(h.Min, 0) {
		loClose = h.Min
	}
	if !math.IsNaN(h.Max) && !math.IsInf(h.Max, 0) {
		hiClose = h.Max
	}
	if loClose > hiClose {
		loClose = hiClose
	}
	lo = make([]float64, k+1)
	hi = make([]float64, k+1)
	for i := 0; i <= k; i++ {
		lower, upper := math.Inf(-1), math.Inf(1)
		if i > 0 {
			lower = b[i-1]
		}
		if i < k {
			upper = b[i]
		}
		lo[i] = math.Max(lower, loClose)
		hi[i] = math.Min(upper, hiClose)
		if lo[i] > hi[i] {
			lo[i] = hi[i]
		}
	}
	return lo, hi
}

// ReferenceMeanStd is the mean and standard deviation of a histogram under 1.3 (2.2).
func ReferenceMeanStd(h Histogram) (mean, std float64) {
	lo, hi := Supports(h)
	r := proportions(h.Counts)
	for i := range r {
		mean += r[i] * ((lo[i] + hi[i]) / 2)
	}
	v := 0.0
	for i := range r {
		mid, w := (lo[i]+hi[i])/2, hi[i]-lo[i]
		v += r[i] * (w*w/12 + (mid-mean)*(mid-mean))
	}
	return mean, math.Sqrt(math.Max(v, 0))
}

// cdfParts returns, for each x, the unnormalised linear part of the CDF and the point
// mass at or below x (the right limit), skipping empty buckets.
func cdfParts(lo, hi, c, xs []float64) (linear, atMost []float64) {
	linear = make([]float64, len(xs))
	atMost = make([]float64, len(xs))
	for i := range c {
		if c[i] <= 0 {
			continue
		}
		w := hi[i] - lo[i]
		for j, x := range xs {
			if w > 0 {
				f := (x - lo[i]) / w
				linear[j] += math.Min(math.Max(f, 0), 1) * c[i]
			} else if lo[i] <= x {
				atMost[j] += c[i]
			}
		}
	}
	return linear, atMost
}

// Wasserstein is the exact Wasserstein-1 distance of two numeric histograms (2.3).
func Wasserstein(reference, production Histogram) float64 {
	rc, pc := reference.Counts, production.Counts
	rlo, rhi := Supports(reference)
	plo, phi := Supports(production)
	seen := map[float64]struct{}{}
	for i := range rc {
		if rc[i] > 0 {
			seen[rlo[i]], seen[rhi[i]] = struct{}{}, struct{}{}
		}
	}
	for i := range pc {
		if pc[i] > 0 {
			seen[plo[i]], seen[phi[i]] = struct{}{}, struct{}{}
		}
	}
	xs := make([]float64, 0, len(seen))
	for x := range seen {
		xs = append(xs, x)
	}
	if len(xs) < 2 {
		return 0
	}
	sort.Float64s(xs)
	rLin, rPt := cdfParts(rlo, rhi, rc, xs)
	pLin, pPt := cdfParts(plo, phi, pc, xs)
	n, m := sum(rc), sum(pc)
	total := 0.0
	for j := 0; j+1 < len(xs); j++ {
		da := (pLin[j]+pPt[j])/m - (rLin[j]+rPt[j])/n
		db := (pLin[j+1]+pPt[j])/m - (rLin[j+1]+rPt[j])/n
		h := xs[j+1] - xs[j]
		aa, ab := math.Abs(da), math.Abs(db)
		if da*db >= 0 {
			total += h * (aa + ab) / 2
		} else {
			total += h * (da*da + db*db) / (2 * (aa + ab))
		}
	}
	return total
}

// WassersteinNormalized is W1 divided by the reference's standard deviation (2.3).
func WassersteinNormalized(reference, production Histogram) float64 {
	w1 := Wasserstein(reference, production)
	_, std := ReferenceMeanStd(reference)
	if std <= 0 {
		if w1 == 0 {
			return 0
		}
		return math.Inf(1)
	}
	return w1 / std
}

// GammaIncc is the regularized upper incomplete gamma function Q(a, x) (3.1).
func GammaIncc(a, x float64) float64 { return special.GammaIncc(a, x) }

// Chi2ISF returns x with P(chi2(df) > x) = alpha, by bracketing and bisection (4.3).
func Chi2ISF(alpha, df float64) float64 {
	if df <= 0 {
		return math.Inf(1)
	}
	lo, hi := 0.0, df+10
	for GammaIncc(df/2, hi/2) >= alpha {
		hi *= 2
	}
	for i := 0; i < 200; i++ {
		mid := (lo + hi) / 2
		if GammaIncc(df/2, mid/2) >= alpha {
			lo = mid
		} else {
			hi = mid
		}
		if hi-lo <= 1e-13*hi {
			break
		}
	}
	return (lo + hi) / 2
}

// Chi2PValue is the goodness-of-fit p-value of production against the reference (3).
func Chi2PValue(reference, production []float64, eps float64) float64 {
	n, m := sum(reference), sum(production)
	var rk, pk []float64
	for i := range reference {
		if reference[i] > 0 || production[i] > 0 {
			rk = append(rk, math.Max(reference[i]/n, eps))
			pk = append(pk, production[i])
		}
	}
	df := len(rk) - 1
	if df < 1 {
		return 1
	}
	rs := sum(rk)
	stat := 0.0
	for i := range rk {
		e := m * (rk[i] / rs)
		stat += (pk[i] - e) * (pk[i] - e) / e
	}
	return GammaIncc(float64(df)/2, stat/2)
}

// Occupied counts the cells with a positive reference count (B of 4.3).
func Occupied(reference []float64) int {
	b := 0
	for _, c := range reference {
		if c > 0 {
			b++
		}
	}
	return b
}

// PSICritical is the (1-alpha) PSI quantile under no drift (4.3).
func PSICritical(n, m float64, bins int, alpha float64) float64 {
	if bins < 2 {
		return math.Inf(1)
	}
	return (1/n + 1/m) * Chi2ISF(alpha, float64(bins-1))
}

// JSCritical is the (1-alpha) Jensen-Shannon distance quantile under no drift (4.3).
func JSCritical(n, m float64, bins int, alpha float64) float64 {
	if bins < 2 {
		return math.Inf(1)
	}
	return math.Sqrt((1/n + 1/m) * Chi2ISF(alpha, float64(bins-1)) / (8 * math.Ln2))
}

// BenjaminiHochberg returns the BH-adjusted p-values in input order (4.2).
func BenjaminiHochberg(pvalues []float64) []float64 {
	n := len(pvalues)
	q := make([]float64, n)
	if n == 0 {
		return q
	}
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return pvalues[order[a]] < pvalues[order[b]] })
	ranked := make([]float64, n)
	for i, idx := range order {
		ranked[i] = math.Min(1, pvalues[idx]*float64(n)/float64(i+1))
	}
	for i := n - 2; i >= 0; i-- {
		ranked[i] = math.Min(ranked[i], ranked[i+1])
	}
	for i, idx := range order {
		q[idx] = ranked[i]
	}
	return q
}
