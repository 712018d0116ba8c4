// Copyright The modeltel Authors
// SPDX-License-Identifier: Apache-2.0

// Package special holds the special functions that modeltel's collector components share
// (the drift tests and the label-drift test of the performance connector).
package special // import "github.com/modeltel/mlcommon/special"

import "math"

// GammaIncc is the regularized upper incomplete gamma function Q(a, x) (docs/drift-math.md 3.1): a series
// below a+1, a continued fraction above it, clamped to [0, 1].
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
