// Copyright The modeltel Authors
// SPDX-License-Identifier: Apache-2.0

package mldriftprocessor

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/modeltel/mlcommon/clock"
	"github.com/modeltel/mldriftprocessor/internal/state"
)

// A realistic export: one replica, one model, 24-bucket histograms (the baseline builder's
// 23 edges) for the numeric features, plus a missing-count point each.
const benchFeatures = 50

var benchBounds = func() []float64 {
	b := make([]float64, 23)
	for i := range b {
		b[i] = float64(i)
	}
	return b
}()

func benchExport(instance string, ts time.Time) pmetric.Metrics {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("service.instance.id", instance)
	ms := rm.ScopeMetrics().AppendEmpty().Metrics()
	h := ms.AppendEmpty()
	h.SetName(metricFeatureValue)
	hist := h.SetEmptyHistogram()
	hist.SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
	missing := ms.AppendEmpty()
	missing.SetName(metricMissing)
	sum := missing.SetEmptySum()
	sum.SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
	counts := make([]uint64, len(benchBounds)+1)
	for i := range counts {
		counts[i] = uint64(10 + i)
	}
	for f := 0; f < benchFeatures; f++ {
		name := fmt.Sprintf("f%d", f)
		dp := hist.DataPoints().AppendEmpty()
		featureAttrsMap(dp.Attributes(), "bench", name)
		dp.ExplicitBounds().FromRaw(benchBounds)
		dp.BucketCounts().FromRaw(counts)
		dp.SetMin(-1)
		dp.SetMax(30)
		dp.SetTimestamp(pcommon.NewTimestampFromTime(ts))
		mp := sum.DataPoints().AppendEmpty()
		featureAttrsMap(mp.Attributes(), "bench", name)
		mp.SetIntValue(3)
		mp.SetTimestamp(pcommon.NewTimestampFromTime(ts))
	}
	return md
}

// BenchmarkConsume measures ingest throughput in data points per second (pass-through
// to a no-op consumer included).
func BenchmarkConsume(b *testing.B) {
	h := newHarness(b, testConfig())
	h.p.shared.SetMetrics(consumertest.NewNop())
	md := benchExport("a", t0)
	points := md.DataPointCount()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := h.p.ConsumeMetrics(context.Background(), md); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(points*b.N)/b.Elapsed().Seconds(), "points/s")
}

// BenchmarkConsumePeer is the peer of BenchmarkConsume measured in the same run: encoding
// the same export as OTLP protobuf, the work any exporter of the pipeline does with it.
func BenchmarkConsumePeer(b *testing.B) {
	var m pmetric.ProtoMarshaler
	md := benchExport("a", t0)
	points := md.DataPointCount()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := m.MarshalMetrics(md); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(points*b.N)/b.Elapsed().Seconds(), "points/s")
}

// BenchmarkEvaluate measures one emit over 1000 scored numeric features (20 models).
func BenchmarkEvaluate(b *testing.B) {
	h := newHarness(b, testConfig())
	for m := 0; m < 20; m++ {
		model := fmt.Sprintf("m%d", m)
		for f := 0; f < benchFeatures; f++ {
			name := fmt.Sprintf("f%d", f)
			h.consume(b, metricsWith("a", func(ms pmetric.MetricSlice) {
				addHistogram(ms, metricBaselineValue, model, name, pmetric.AggregationTemporalityCumulative, t0, t0, 100, 300, 400, 200)
				addHistogram(ms, metricFeatureValue, model, name, pmetric.AggregationTemporalityDelta, t0, t0, 300, 300, 300, 300)
			}))
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		h.p.evaluate()
	}
	b.ReportMetric(float64(20*benchFeatures*b.N)/b.Elapsed().Seconds(), "features/s")
}

// BenchmarkBytesPerStream measures the heap held per feature window with the default
// window (1h of 1m slots) once every slot has data on 24 buckets: the worst case.
func BenchmarkBytesPerStream(b *testing.B) {
	const streams = 2000
	for i := 0; i < b.N; i++ {
		cfg := createDefaultConfig()
		cfg.MaxStreams = 2 * streams
		cfg.MaxFeaturesPerModel = streams
		clk := clock.NewManual(t0)
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		p, err := newProcessor(processortest.NewNopSettings(metadata.Type), cfg, clk)
		if err != nil {
			b.Fatal(err)
		}
		counts := make([]float64, len(benchBounds)+1)
		for s := 0; s < 60; s++ { // fill every slot of the hour
			for f := 0; f < streams; f++ {
				key := state.FeatureKey{Model: "bench", Version: "1", Role: roleInput, Feature: fmt.Sprintf("f%d", f)}
				p.store.AddExplicit(key, bid, benchBounds, counts, 0, 1)
				p.store.AddMissing(key, 1)
			}
			clk.Advance(time.Minute)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/streams, "bytes/stream")
		runtime.KeepAlive(p)
	}
}
