// Copyright The modeltel Authors
// SPDX-License-Identifier: Apache-2.0

package state

import (
	"math"
	"sort"
)

// maxExpBuckets bounds the buckets a merged exponential histogram keeps per sign: a
// histogram that spans more is downscaled (as the OpenTelemetry SDK does), so a window's
// memory does not depend on the data.
const maxExpBuckets = 160

// Expo is a base-2 exponential histogram (the OpenTelemetry data model): at scale s,
// bucket i holds magnitudes in (2^(i/2^s), 2^((i+1)/2^s)]; zeros are in Zero.
type Expo struct {
	Scale    int32
	Zero     float64
	Pos, Neg map[int32]float64
}

// NewExpo returns an empty histogram at scale.
func NewExpo(scale int32) *Expo {
	return &Expo{Scale: scale, Pos: map[int32]float64{}, Neg: map[int32]float64{}}
}

// Total is the number of values in the histogram.
func (e *Expo) Total() float64 {
	t := e.Zero
	for _, c := range e.Pos {
		t += c
	}
	for _, c := range e.Neg {
		t += c
	}
	return t
}

func downscaleMap(m map[int32]float64, by int32) map[int32]float64 {
	if by <= 0 {
		return m
	}
	out := make(map[int32]float64, len(m))
	for i, c := range m {
		out[i>>by] += c // arithmetic shift: floor division, also for negative indices
	}
	return out
}

// Downscale lowers the scale to s (no-op when already at or below it).
func (e *Expo) Downscale(s int32) {
	if s >= e.Scale {
		return
	}
	by := e.Scale - s
	e.Pos, e.Neg, e.Scale = downscaleMap(e.Pos, by), downscaleMap(e.Neg, by), s
}

func span(m map[int32]float64) int32 {
	if len(m) == 0 {
		return 0
	}
	lo, hi := int32(math.MaxInt32), int32(math.MinInt32)
	for i := range m {
		lo, hi = min(lo, i), max(hi, i)
	}
	return hi - lo + 1
}

// fit downscales until each sign spans at most maxExpBuckets buckets.
func (e *Expo) fit() {
	for (span(e.Pos) > maxExpBuckets || span(e.Neg) > maxExpBuckets) && e.Scale > -10 {
		e.Downscale(e.Scale - 1)
	}
}

// Add merges another histogram (counts multiplied by 1) into e, at the lower scale.
func (e *Expo) Add(o *Expo) {
	e.Downscale(o.Scale)
	by := o.Scale - e.Scale
	e.Zero += o.Zero
	for i, c := range o.Pos {
		e.Pos[i>>by] += c
	}
	for i, c := range o.Neg {
		e.Neg[i>>by] += c
	}
	e.fit()
}

// Clone returns a deep copy.
func (e *Expo) Clone() *Expo {
	c := NewExpo(e.Scale)
	c.Add(e)
	return c
}

// Explicit turns two exponential histograms into explicit-bucket counts on shared bounds
// (their common scale; negative buckets, the zero bucket, positive buckets), so that the
// drift math of docs/drift-math.md applies unchanged.
func Explicit(a, b *Expo) (bounds, ca, cb []float64) {
	a, b = a.Clone(), b.Clone()
	s := min(a.Scale, b.Scale)
	a.Downscale(s)
	b.Downscale(s)
	merged := a.Clone()
	merged.Add(b)
	// merged.fit may have lowered the scale further; follow it.
	a.Downscale(merged.Scale)
	b.Downscale(merged.Scale)
	base := math.Exp2(math.Exp2(-float64(merged.Scale)))
	idx := func(m map[int32]float64) []int32 {
		out := make([]int32, 0, len(m))
		for i := range m {
			out = append(out, i)
		}
		sort.Slice(out, func(x, y int) bool { return out[x] < out[y] })
		return out
	}
	neg, pos := idx(merged.Neg), idx(merged.Pos)
	var cells []struct{ a, b float64 }
	// Negative magnitudes, largest first: bucket i holds [-base^(i+1), -base^i); the bound
	// after it is -base^i.
	for k := len(neg) - 1; k >= 0; k-- {
		i := neg[k]
		bounds = append(bounds, -math.Pow(base, float64(i)))
		cells = append(cells, struct{ a, b float64 }{a.Neg[i], b.Neg[i]})
	}
	// The zero bucket up to the smallest positive bucket's lower edge.
	lowest := 0.0
	if len(pos) > 0 {
		lowest = math.Pow(base, float64(pos[0]))
	}
	if len(bounds) == 0 || lowest > bounds[len(bounds)-1] {
		bounds = append(bounds, lowest)
	}
	cells = append(cells, struct{ a, b float64 }{a.Zero, b.Zero})
	for _, i := range pos {
		cells = append(cells, struct{ a, b float64 }{a.Pos[i], b.Pos[i]})
		if i != pos[len(pos)-1] {
			bounds = append(bounds, math.Pow(base, float64(i+1)))
		}
	}
	// cells has one more entry than bounds when every bound was appended; collapse the
	// rare duplicate (a zero bound shared with the last negative bucket).
	for len(cells) > len(bounds)+1 {
		cells[1].a += cells[0].a
		cells[1].b += cells[0].b
		cells = cells[1:]
	}
	for len(cells) < len(bounds)+1 {
		cells = append(cells, struct{ a, b float64 }{})
	}
	ca = make([]float64, len(cells))
	cb = make([]float64, len(cells))
	for i, c := range cells {
		ca[i], cb[i] = c.a, c.b
	}
	return bounds, ca, cb
}
