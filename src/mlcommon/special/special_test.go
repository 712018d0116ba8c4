// Copyright The modeltel Authors
// SPDX-License-Identifier: Apache-2.0

package special

import (
	"math"
	"testing"
)

// Closed forms of Q(a, x): Q(1, x) = exp(-x), Q(1/2, x) = erfc(sqrt(x)), Q(2, x) = (1+x) exp(-x);
// both branches (series below a+1, continued fraction above) are exercised.
func TestGammaInccClosedForms(t *testing.T) {
	for _, x := range []float64{1e-6, 0.1, 0.5, 1, 1.9, 2.5, 5, 20, 80} {
		cases := []struct {
			a, want float64
		}{
			{1, math.Exp(-x)},
			{0.5, math.Erfc(math.Sqrt(x))},
			{2, (1 + x) * math.Exp(-x)},
		}
		for _, c := range cases {
			got := GammaIncc(c.a, x)
			if diff := math.Abs(got - c.want); diff > 1e-12*math.Max(1, c.want) && diff > 1e-300 {
				t.Errorf("GammaIncc(%v, %v) = %.17g, want %.17g", c.a, x, got, c.want)
			}
		}
	}
}

func TestGammaInccEdges(t *testing.T) {
	if !math.IsNaN(GammaIncc(0, 1)) {
		t.Error("a <= 0 must be NaN")
	}
	if GammaIncc(3, 0) != 1 || GammaIncc(3, -1) != 1 {
		t.Error("x <= 0 must be 1")
	}
	if GammaIncc(3, math.Inf(1)) != 0 {
		t.Error("x = +Inf must be 0")
	}
}
