// Copyright The modeltel Authors
// SPDX-License-Identifier: Apache-2.0

// Ingest: the SDK's distribution metrics and in-band baselines into the state (processor.go
// passes the data on unchanged).

package mldriftprocessor // import "github.com/modeltel/mldriftprocessor"

import (
	"context"
	"hash/fnv"
	"math"
	"sort"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/modeltel/mlcommon/walk"
	"github.com/modeltel/mldriftprocessor/internal/state"
)

func (p *driftProcessor) drop(reason string, n int) {
	if reason != "" && n > 0 {
		p.own.pointsDropped.Add(context.Background(), int64(n), metric.WithAttributes(attribute.String("reason", reason)))
	}
}

// ingest reads the distribution metrics of md into the state; md itself is not changed.
func (p *driftProcessor) ingest(md pmetric.Metrics) {
	for origin, m := range walk.Metrics(md) {
		switch m.Name() {
		case metricFeatureValue, metricCategoryCount, metricMissing, metricBaselineValue,
			metricBaselineCategories, metricBaselineMissing, metricViolations:
			p.ingestMetric(origin.Resource, origin.Scope, m)
		}
	}
}

const (
	dropMalformed = "malformed"
)

// featureKey reads the identity attributes of a point; ok is false when they are missing.
func featureKey(attrs pcommon.Map, needFeature bool) (state.FeatureKey, bool) {
	get := func(k string) string {
		if v, ok := attrs.Get(k); ok {
			return v.AsString()
		}
		return ""
	}
	key := state.FeatureKey{
		Model: get(attrModelName), Version: get(attrModelVersion),
		Role: get(attrFeatureRole), Feature: get(attrFeatureName),
	}
	if key.Version == "" {
		key.Version = defaultModelVersion
	}
	if key.Role == "" {
		key.Role = roleInput
	}
	if key.Model == "" || (needFeature && key.Feature == "") || (key.Role != roleInput && key.Role != roleOutput) {
		return key, false
	}
	return key, true
}

func str(attrs pcommon.Map, k string) string {
	if v, ok := attrs.Get(k); ok {
		return v.AsString()
	}
	return ""
}

// streamID hashes what identifies a stream: resource, scope, metric name, point attributes.
func streamID(res pcommon.Resource, scope pcommon.InstrumentationScope, name string, attrs pcommon.Map) uint64 {
	h := fnv.New64a()
	write := func(s string) { _, _ = h.Write([]byte(s)); _, _ = h.Write([]byte{0}) }
	writeMap := func(m pcommon.Map) {
		keys := make([]string, 0, m.Len())
		m.Range(func(k string, _ pcommon.Value) bool { keys = append(keys, k); return true })
		sort.Strings(keys)
		for _, k := range keys {
			v, _ := m.Get(k)
			write(k)
			write(v.AsString())
		}
		write("\x01")
	}
	writeMap(res.Attributes())
	write(scope.Name())
	write(scope.Version())
	write(name)
	writeMap(attrs)
	return h.Sum64()
}

func pointValue(dp pmetric.NumberDataPoint) float64 {
	if dp.ValueType() == pmetric.NumberDataPointValueTypeInt {
		return float64(dp.IntValue())
	}
	return dp.DoubleValue()
}

func validCount(x float64) bool { return x >= 0 && !math.IsInf(x, 0) && !math.IsNaN(x) }

// delta returns the delta of a point's values: as is for delta temporality, differenced
// per stream for cumulative. ok is false when nothing is to be added.
func (p *driftProcessor) delta(cumulative bool, id func() uint64, start, ts pcommon.Timestamp, values []float64) ([]float64, bool) {
	if !cumulative {
		return values, true
	}
	d, ok, reason := p.store.Cumulative(id(), uint64(start), uint64(ts), values)
	p.drop(reason, 1)
	return d, ok
}

func (p *driftProcessor) ingestMetric(res pcommon.Resource, scope pcommon.InstrumentationScope, m pmetric.Metric) {
	name := m.Name()
	switch m.Type() {
	case pmetric.MetricTypeHistogram:
		if name != metricFeatureValue && name != metricBaselineValue {
			p.drop(dropMalformed, m.Histogram().DataPoints().Len())
			return
		}
		h := m.Histogram()
		cumulative := h.AggregationTemporality() == pmetric.AggregationTemporalityCumulative
		dps := h.DataPoints()
		for i := 0; i < dps.Len(); i++ {
			p.drop(p.ingestHistogram(res, scope, name, cumulative, dps.At(i)), 1)
		}
	case pmetric.MetricTypeExponentialHistogram:
		eh := m.ExponentialHistogram()
		if name != metricFeatureValue {
			p.drop(dropMalformed, eh.DataPoints().Len())
			return
		}
		cumulative := eh.AggregationTemporality() == pmetric.AggregationTemporalityCumulative
		dps := eh.DataPoints()
		for i := 0; i < dps.Len(); i++ {
			dp := dps.At(i)
			key, ok := featureKey(dp.Attributes(), true)
			count := float64(dp.Count())
			if !ok {
				p.drop(dropMalformed, 1)
				continue
			}
			vals, ok := p.delta(cumulative, func() uint64 { return streamID(res, scope, name, dp.Attributes()) }, dp.StartTimestamp(), dp.Timestamp(), []float64{count})
			if !ok {
				continue
			}
			vmin, vmax := math.NaN(), math.NaN()
			var h *state.Expo
			if !cumulative {
				// Only delta points carry this interval's buckets (and min/max); a cumulative
				// exponential stream contributes its count.
				if dp.HasMin() {
					vmin = dp.Min()
				}
				if dp.HasMax() {
					vmax = dp.Max()
				}
				h = expo(dp)
				if h == nil {
					p.drop(dropMalformed, 1)
					continue
				}
			}
			p.drop(p.store.AddExponential(key, h, vals[0], vmin, vmax), 1)
		}
	case pmetric.MetricTypeSum:
		s := m.Sum()
		if name == metricFeatureValue || name == metricBaselineValue {
			p.drop(dropMalformed, s.DataPoints().Len())
			return
		}
		cumulative := s.AggregationTemporality() == pmetric.AggregationTemporalityCumulative
		dps := s.DataPoints()
		for i := 0; i < dps.Len(); i++ {
			p.drop(p.ingestSum(res, scope, name, cumulative, dps.At(i)), 1)
		}
	case pmetric.MetricTypeGauge:
		p.drop(dropMalformed, m.Gauge().DataPoints().Len())
	case pmetric.MetricTypeSummary:
		p.drop(dropMalformed, m.Summary().DataPoints().Len())
	default: // a metric without data: nothing to count
	}
}

// expo converts an exponential histogram point; nil when it is malformed.
func expo(dp pmetric.ExponentialHistogramDataPoint) *state.Expo {
	if dp.Scale() < -10 || dp.Scale() > 20 {
		return nil
	}
	h := state.NewExpo(dp.Scale())
	h.Zero = float64(dp.ZeroCount())
	total := h.Zero
	for _, side := range []struct {
		b   pmetric.ExponentialHistogramDataPointBuckets
		dst map[int32]float64
	}{{dp.Positive(), h.Pos}, {dp.Negative(), h.Neg}} {
		off := int64(side.b.Offset())
		for i, c := range side.b.BucketCounts().AsRaw() {
			idx := off + int64(i)
			if idx > math.MaxInt32 || idx < math.MinInt32 {
				return nil
			}
			if c > 0 {
				side.dst[int32(idx)] += float64(c)
				total += float64(c)
			}
		}
	}
	if total != float64(dp.Count()) {
		return nil
	}
	h.Add(state.NewExpo(h.Scale)) // bound the bucket span (downscale if needed)
	return h
}

// ingestHistogram reads one explicit-bucket point; it returns a drop reason or "".
func (p *driftProcessor) ingestHistogram(res pcommon.Resource, scope pcommon.InstrumentationScope, name string, cumulative bool, dp pmetric.HistogramDataPoint) string {
	attrs := dp.Attributes()
	key, ok := featureKey(attrs, true)
	id := str(attrs, attrBaselineID)
	bounds := dp.ExplicitBounds().AsRaw()
	raw := dp.BucketCounts().AsRaw()
	if !ok || len(raw) != len(bounds)+1 || (id == "" && name == metricBaselineValue) {
		return dropMalformed
	}
	for i, b := range bounds {
		if math.IsNaN(b) || math.IsInf(b, 0) || (i > 0 && b <= bounds[i-1]) {
			return dropMalformed
		}
	}
	counts := make([]float64, len(raw))
	for i, c := range raw {
		counts[i] = float64(c)
	}
	vmin, vmax := math.NaN(), math.NaN()
	if dp.HasMin() {
		vmin = dp.Min()
	}
	if dp.HasMax() {
		vmax = dp.Max()
	}
	if name == metricBaselineValue {
		// In-band baselines are constant cumulative points: the latest one is the baseline.
		return p.store.SetBaseline(key, &state.Baseline{ID: id, Bounds: bounds, Counts: counts, Min: vmin, Max: vmax, Nulls: math.NaN()})
	}
	counts, ok = p.delta(cumulative, func() uint64 { return streamID(res, scope, name, attrs) }, dp.StartTimestamp(), dp.Timestamp(), counts)
	if !ok {
		return ""
	}
	if cumulative {
		// min/max of a cumulative point cover its whole history, not this delta.
		vmin, vmax = math.NaN(), math.NaN()
	}
	return p.store.AddExplicit(key, id, bounds, counts, vmin, vmax)
}

// ingestSum reads one point of a counter; it returns a drop reason or "".
func (p *driftProcessor) ingestSum(res pcommon.Resource, scope pcommon.InstrumentationScope, name string, cumulative bool, dp pmetric.NumberDataPoint) string {
	attrs := dp.Attributes()
	v := pointValue(dp)
	key, ok := featureKey(attrs, name != metricViolations)
	if !ok || !validCount(v) {
		return dropMalformed
	}
	id, category, check := str(attrs, attrBaselineID), str(attrs, attrCategory), str(attrs, attrCheck)
	switch name {
	case metricBaselineCategories:
		if id == "" || category == "" {
			return dropMalformed
		}
		return p.store.AddBaselineCategory(key, id, category, v)
	case metricBaselineMissing:
		if id == "" {
			return dropMalformed
		}
		p.store.SetBaselineNulls(key, id, v)
		return ""
	case metricCategoryCount:
		if category == "" {
			return dropMalformed
		}
	case metricViolations:
		if check == "" {
			return dropMalformed
		}
	}
	vals, ok := p.delta(cumulative, func() uint64 { return streamID(res, scope, name, attrs) }, dp.StartTimestamp(), dp.Timestamp(), []float64{v})
	if !ok {
		return ""
	}
	switch name {
	case metricCategoryCount:
		return p.store.AddCategory(key, id, category, vals[0])
	case metricMissing:
		return p.store.AddMissing(key, vals[0])
	default:
		return p.store.AddViolations(key, check, vals[0])
	}
}
