// Copyright The modeltel Authors
// SPDX-License-Identifier: Apache-2.0

package state

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"
)

// index is the OpenTelemetry bucket of a magnitude at scale s: (2^(i/2^s), 2^((i+1)/2^s)].
func index(x float64, s int32) int32 {
	return int32(math.Ceil(math.Log2(x)*math.Exp2(float64(s)))) - 1
}

func bin(values []float64, s int32) *Expo {
	h := NewExpo(s)
	for _, v := range values {
		switch {
		case v == 0:
			h.Zero++
		case v > 0:
			h.Pos[index(v, s)]++
		default:
			h.Neg[index(-v, s)]++
		}
	}
	return h
}

// explicitCounts bins values on OTLP explicit bounds (upper-inclusive buckets).
func explicitCounts(values, bounds []float64) []float64 {
	out := make([]float64, len(bounds)+1)
	for _, v := range values {
		out[sort.SearchFloat64s(bounds, v)]++
	}
	return out
}

// TestExplicitKeepsEveryValueInItsBucket checks the conversion of two exponential
// histograms at different scales to shared explicit bounds: the bounds increase strictly
// and each value lands where binning it directly on those bounds puts it (values are
// taken away from bucket edges, where the two conventions could legitimately differ).
func TestExplicitKeepsEveryValueInItsBucket(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	draw := func(n int, mean float64) []float64 {
		out := make([]float64, n)
		for i := range out {
			v := rng.NormFloat64()*20 + mean
			if i%50 == 0 {
				v = 0
			}
			out[i] = v
		}
		return out
	}
	a, b := draw(3000, 10), draw(2000, 25)
	ha, hb := bin(a, 4), bin(b, 2)
	bounds, ca, cb := Explicit(ha, hb)
	require.True(t, sort.SliceIsSorted(bounds, func(i, j int) bool { return bounds[i] < bounds[j] }))
	for i := 1; i < len(bounds); i++ {
		require.Less(t, bounds[i-1], bounds[i])
	}
	require.Equal(t, explicitCounts(a, bounds), ca)
	require.Equal(t, explicitCounts(b, bounds), cb)
}

// TestExpoMergeDownscales checks that merging at different scales sums counts at the
// lower scale and that a wide histogram is downscaled to a bounded number of buckets.
func TestExpoMergeDownscales(t *testing.T) {
	a := bin([]float64{1.5, 3, 100}, 3)
	b := bin([]float64{1.5, 7}, 1)
	a.Add(b)
	require.Equal(t, int32(1), a.Scale)
	require.Equal(t, 5.0, a.Total())
	wide := NewExpo(20)
	wide.Add(bin([]float64{1e-9, 1, 1e9}, 20))
	require.LessOrEqual(t, span(wide.Pos), int32(maxExpBuckets))
	require.Equal(t, 3.0, wide.Total())
}
