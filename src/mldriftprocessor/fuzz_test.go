// Copyright The modeltel Authors
// SPDX-License-Identifier: Apache-2.0

package mldriftprocessor

import (
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/golden"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

// FuzzConsumeMetrics: whatever OTLP arrives (the seeds are the golden inputs), the
// processor never panics, passes the data on unchanged and can always emit.
func FuzzConsumeMetrics(f *testing.F) {
	inputs, _ := filepath.Glob("testdata/*/input*.yaml")
	var m pmetric.ProtoMarshaler
	for _, in := range inputs {
		md, err := golden.ReadMetrics(in)
		require.NoError(f, err)
		raw, err := m.MarshalMetrics(md)
		require.NoError(f, err)
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var u pmetric.ProtoUnmarshaler
		md, err := u.UnmarshalMetrics(raw)
		if err != nil {
			return
		}
		before, err := m.MarshalMetrics(md)
		require.NoError(t, err)
		h := newHarness(t, testConfig())
		h.consume(t, md)
		h.clock.Advance(time.Second)
		h.consume(t, md)
		h.p.evaluate()
		after, err := m.MarshalMetrics(h.sink.AllMetrics()[0])
		require.NoError(t, err)
		require.Equal(t, before, after, "the input passes through unchanged")
	})
}

// FuzzHistogramMerge: splitting the same counts over replicas and calls gives the same
// merged window as sending them at once, and the scores of any window are numbers (or
// NaN only where the math says so), never a panic.
func FuzzHistogramMerge(f *testing.F) {
	f.Add(uint16(100), uint16(300), uint16(400), uint16(200), uint8(1))
	f.Add(uint16(0), uint16(0), uint16(0), uint16(1), uint8(3))
	f.Add(uint16(0), uint16(0), uint16(0), uint16(0), uint8(0))
	f.Fuzz(func(t *testing.T, a, b, c, d uint16, split uint8) {
		counts := []uint64{uint64(a), uint64(b), uint64(c), uint64(d)}
		whole := newHarness(t, testConfig())
		whole.consume(t, baselineFor("m", "x"))
		whole.consume(t, production("r0", "m", "x", counts...))
		parts := newHarness(t, testConfig())
		parts.consume(t, baselineFor("m", "x"))
		n := int(split%4) + 1
		rest := append([]uint64(nil), counts...)
		for i := 0; i < n; i++ {
			piece := make([]uint64, len(counts))
			for j := range rest {
				if i == n-1 {
					piece[j] = rest[j]
				} else {
					piece[j] = rest[j] / 2
				}
				rest[j] -= piece[j]
			}
			parts.consume(t, production(string(rune('a'+i)), "m", "x", piece...))
		}
		w1, _ := whole.p.store.Snapshot()
		w2, _ := parts.p.store.Snapshot()
		require.Equal(t, w1[0].Values, w2[0].Values)
		if w1[0].Production != nil {
			require.Equal(t, w1[0].Production.Counts, w2[0].Production.Counts)
		}
		md, _ := parts.p.evaluate()
		ms := md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics()
		for i := 0; i < ms.Len(); i++ {
			dps := ms.At(i).Gauge().DataPoints()
			for j := 0; j < dps.Len(); j++ {
				if dps.At(j).ValueType() == pmetric.NumberDataPointValueTypeDouble {
					require.False(t, math.IsNaN(dps.At(j).DoubleValue()), "NaN scores are not emitted")
				}
			}
		}
	})
}
