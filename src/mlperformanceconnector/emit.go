// Copyright The modeltel Authors
// SPDX-License-Identifier: Apache-2.0

package mlperformanceconnector // import "github.com/modeltel/mlperformanceconnector"

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"math"
	"slices"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.uber.org/zap"

	"github.com/modeltel/mlcommon/walk"
	"github.com/modeltel/mlperformanceconnector/internal/join"
	"github.com/modeltel/mlperformanceconnector/internal/perf"
)

// emit sweeps the TTLs, builds the metrics and the verdict events, writes the state and
// sends both downstream. Tests call it directly.
func (j *joiner) emit(ctx context.Context) {
	j.mu.Lock()
	j.store.Sweep()
	md, events := j.build()
	if err := j.flush(ctx, true); err != nil {
		j.logger.Warn("mlperformance: writing the join state to storage failed; it stays in memory", zap.Error(err))
	}
	j.mu.Unlock()
	for _, lr := range walk.LogRecords(events) {
		j.logger.Info("mlperformance: "+lr.Body().Str(), zap.String("event", lr.EventName()))
	}
	j.shared.Send(ctx, j.logger, md, events)
}

// builder appends the points of one emit.
type builder struct {
	sm    pmetric.ScopeMetrics
	byKey map[string]pmetric.Metric
	start pcommon.Timestamp
	now   pcommon.Timestamp
}

func (b *builder) metric(name, unit string, kind pmetric.MetricType, monotonic bool) pmetric.Metric {
	if m, ok := b.byKey[name]; ok {
		return m
	}
	m := b.sm.Metrics().AppendEmpty()
	m.SetName(name)
	m.SetUnit(unit)
	switch kind {
	case pmetric.MetricTypeSum:
		m.SetEmptySum().SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
		m.Sum().SetIsMonotonic(monotonic)
	case pmetric.MetricTypeHistogram:
		m.SetEmptyHistogram().SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	default:
		m.SetEmptyGauge()
	}
	b.byKey[name] = m
	return m
}

func (b *builder) sumInt(name, unit string, v uint64, attrs func(pcommon.Map)) {
	dp := b.metric(name, unit, pmetric.MetricTypeSum, true).Sum().DataPoints().AppendEmpty()
	dp.SetStartTimestamp(b.start)
	dp.SetTimestamp(b.now)
	dp.SetIntValue(int64(v))
	attrs(dp.Attributes())
}

func (b *builder) sumDouble(name string, monotonic bool, v float64, attrs func(pcommon.Map)) {
	dp := b.metric(name, "1", pmetric.MetricTypeSum, monotonic).Sum().DataPoints().AppendEmpty()
	dp.SetStartTimestamp(b.start)
	dp.SetTimestamp(b.now)
	dp.SetDoubleValue(v)
	attrs(dp.Attributes())
}

func (b *builder) gauge(name, unit string, v float64, attrs func(pcommon.Map)) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return
	}
	dp := b.metric(name, unit, pmetric.MetricTypeGauge, false).Gauge().DataPoints().AppendEmpty()
	dp.SetTimestamp(b.now)
	dp.SetDoubleValue(v)
	attrs(dp.Attributes())
}

func (b *builder) histogram(name, unit string, bounds []float64, counts []uint64, attrs func(pcommon.Map)) {
	dp := b.metric(name, unit, pmetric.MetricTypeHistogram, false).Histogram().DataPoints().AppendEmpty()
	dp.SetStartTimestamp(b.start)
	dp.SetTimestamp(b.now)
	dp.ExplicitBounds().FromRaw(bounds)
	var n uint64
	for _, c := range counts {
		n += c
	}
	dp.BucketCounts().FromRaw(counts)
	dp.SetCount(n)
	attrs(dp.Attributes())
}

// build makes the metrics of every model and the events of verdicts that changed; call
// with mu held.
func (j *joiner) build() (pmetric.Metrics, plog.Logs) {
	md := pmetric.NewMetrics()
	events := plog.NewLogs()
	now := pcommon.NewTimestampFromTime(j.clock.Now())
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr(attrInstance, j.instance)
	sm := rm.ScopeMetrics().AppendEmpty()
	sm.Scope().SetName(metadata.ScopeName)
	rl := events.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr(attrInstance, j.instance)
	esl := rl.ScopeLogs().AppendEmpty()
	esl.Scope().SetName(metadata.ScopeName)

	models := j.store.Models()
	names := slices.Sorted(maps.Keys(models))
	bounds := perf.Bins{Count: j.cfg.ScoreBins, Limit: perf.DefaultBins.Limit}.Bounds()
	b := &builder{sm: sm, byKey: map[string]pmetric.Metric{}, now: now}
	for _, name := range names {
		m := models[name]
		b.start = pcommon.Timestamp(m.Start)
		j.verdicts(esl, m, now)
		j.buildModel(b, m, bounds)
	}
	return md, events
}

// ident returns a function that puts the model, version and segment attributes.
func ident(m *join.Model, ver, seg uint16, extra func(pcommon.Map)) func(pcommon.Map) {
	return func(a pcommon.Map) {
		a.PutStr(attrModelName, m.Name)
		if v := m.Versions.Name(ver); v != "" {
			a.PutStr(attrModelVersion, v)
		}
		if seg != join.AllSegments {
			if s := m.Segments.Name(seg); s != "" {
				a.PutStr(attrSegment, s)
			}
		}
		if extra != nil {
			extra(a)
		}
	}
}

// sortedKeys returns the keys of in by version, then segment.
func sortedKeys[V any](in map[join.AggKey]V) []join.AggKey {
	return slices.SortedFunc(maps.Keys(in), func(x, y join.AggKey) int {
		return cmp.Or(cmp.Compare(x.Ver, y.Ver), cmp.Compare(x.Seg, y.Seg))
	})
}

func (j *joiner) buildModel(b *builder, m *join.Model, bounds []float64) {
	for _, k := range sortedKeys(m.Cum) {
		a := m.Cum[k]
		for _, pair := range slices.Sorted(maps.Keys(a.Confusion)) {
			actual, predicted := m.Classes.Name(uint16(pair>>16)), m.Classes.Name(uint16(pair))
			b.sumInt(metricOutcomes, "{outcome}", a.Confusion[pair], ident(m, k.Ver, k.Seg, func(at pcommon.Map) {
				at.PutStr(attrActual, actual)
				at.PutStr(attrPredicted, predicted)
			}))
		}
		if a.Reg > 0 {
			b.sumInt(metricOutcomes, "{outcome}", a.Reg, ident(m, k.Ver, k.Seg, nil))
			b.sumDouble(metricAbsErrSum, true, a.AbsErr, ident(m, k.Ver, k.Seg, nil))
			b.sumDouble(metricSqErrSum, true, a.SqErr, ident(m, k.Ver, k.Seg, nil))
			b.sumDouble(metricErrSum, false, a.Err, ident(m, k.Ver, k.Seg, nil))
			b.sumDouble(metricActualSum, false, a.Y, ident(m, k.Ver, k.Seg, nil))
			b.sumDouble(metricActualSqSum, true, a.Y2, ident(m, k.Ver, k.Seg, nil))
			b.sumDouble(metricAPESum, true, a.APE, ident(m, k.Ver, k.Seg, nil))
			if len(a.Residuals) == len(perf.ResidualBounds)+1 {
				b.histogram(metricResidual, "1", perf.ResidualBounds, a.Residuals, ident(m, k.Ver, k.Seg, nil))
			}
		}
		if n := a.Scored + a.Probed; n > 0 {
			b.sumInt(metricLogLossCount, "{row}", n, ident(m, k.Ver, k.Seg, nil))
			b.sumDouble(metricLogLossSum, true, a.LogLoss, ident(m, k.Ver, k.Seg, nil))
			b.sumDouble(metricBrierSum, true, a.Brier, ident(m, k.Ver, k.Seg, nil))
		}
		if a.Scored > 0 {
			for _, positive := range []bool{true, false} {
				counts := a.Neg
				if positive {
					counts = a.Pos
				}
				b.histogram(metricScore, "1", bounds, counts, ident(m, k.Ver, k.Seg, func(at pcommon.Map) { at.PutBool(attrPositive, positive) }))
			}
		}
	}
	for _, rk := range sortedReasons(m.Unmatched) {
		reason := rk.Reason
		b.sumInt(metricUnmatched, "{row}", m.Unmatched[rk], ident(m, rk.Ver, rk.Seg, func(at pcommon.Map) { at.PutStr(attrReason, reason) }))
	}
	for _, rk := range sortedReasons(m.Unscored) {
		reason := rk.Reason
		b.sumInt(metricUnscored, "{row}", m.Unscored[rk], ident(m, rk.Ver, rk.Seg, func(at pcommon.Map) { at.PutStr(attrReason, reason) }))
	}
	for _, v := range slices.Sorted(maps.Keys(m.Delay)) {
		b.histogram(metricDelay, "s", join.DelayBounds, m.Delay[v], ident(m, v, join.AllSegments, nil))
	}
	counts := m.Counts()
	for _, s := range []struct {
		kind  join.Kind
		state string
	}{{join.KindPrediction, statePrediction}, {join.KindOutcome, stateOutcome}, {join.KindMatched, stateMatched}} {
		state := s.state
		b.gauge(metricPending, "{key}", float64(counts[s.kind]), ident(m, 0, join.AllSegments, func(at pcommon.Map) { at.PutStr(attrState, state) }))
	}

	window := j.store.Window(m)
	for _, k := range sortedKeys(window) {
		j.windowGauges(b, m, k, window[k])
	}
}

// sortedReasons returns the keys of counts by reason, then version, then segment.
func sortedReasons(counts map[join.ReasonKey]uint64) []join.ReasonKey {
	return slices.SortedFunc(maps.Keys(counts), func(x, y join.ReasonKey) int {
		return cmp.Or(cmp.Compare(x.Reason, y.Reason), cmp.Compare(x.Ver, y.Ver), cmp.Compare(x.Seg, y.Seg))
	})
}

func (j *joiner) windowGauges(b *builder, m *join.Model, k join.AggKey, a *perf.Agg) {
	f := a.Compute()
	id := ident(m, k.Ver, k.Seg, nil)
	if a.N > 0 {
		b.gauge(metricSampleCount, "{row}", float64(a.N), id)
	}
	b.gauge(metricAccuracy, "1", f.Accuracy, id)
	if cls := a.N - a.Reg; cls > 0 {
		// Additive across instances where accuracy is not: a backend whose formulas aggregate
		// before they divide (Datadog) combines gateways as sum(correct) / sum(sample_count).
		var correct uint64
		for pair, c := range a.Confusion {
			if pair>>16 == pair&0xffff {
				correct += c
			}
		}
		b.gauge(metricCorrect, "{row}", float64(correct), id)
	}
	classes := func(class string, c perf.ClassScore) {
		withClass := ident(m, k.Ver, k.Seg, func(at pcommon.Map) { at.PutStr(attrClass, class) })
		b.gauge(metricPrecision, "1", c.Precision, withClass)
		b.gauge(metricRecall, "1", c.Recall, withClass)
		b.gauge(metricF1, "1", c.F1, withClass)
	}
	for _, c := range f.Classes {
		classes(m.Classes.Name(c.Class), c)
	}
	if len(f.Classes) > 0 {
		classes(classMacro, f.Macro)
	}
	est := a.Estimated()
	b.gauge(metricEstSampleCount, "{row}", float64(a.EstN), id)
	b.gauge(metricEstAccuracy, "1", est.Accuracy, id)
	b.gauge(metricEstF1, "1", est.F1Macro, ident(m, k.Ver, k.Seg, func(at pcommon.Map) { at.PutStr(attrClass, classMacro) }))
	b.gauge(metricEstROCAUC, "1", est.ROCAUC, id)
	b.gauge(metricROCAUC, "1", f.ROCAUC, id)
	b.gauge(metricAUCError, "1", f.AUCError, id)
	b.gauge(metricPRAUC, "1", f.PRAUC, id)
	b.gauge(metricPRError, "1", f.PRError, id)
	if n := a.Scored + a.Probed; n > 0 {
		// The weight of log loss and Brier when a backend combines instances (docs/outcomes.md).
		b.gauge(metricLogLossSampleCount, "{row}", float64(n), id)
	}
	b.gauge(metricLogLoss, "1", f.LogLoss, id)
	b.gauge(metricBrier, "1", f.Brier, id)
	b.gauge(metricCalibrationError, "1", f.CalibrationError, id)
	b.gauge(metricMAPE, "1", f.MAPE, id)
	b.gauge(metricMAE, "1", f.MAE, id)
	b.gauge(metricRMSE, "1", f.RMSE, id)
	b.gauge(metricBias, "1", f.Bias, id)
	b.gauge(metricR2, "1", f.R2, id)
	if ref := m.LabelRefs[k.Ver]; len(ref) > 0 && a.N > a.Reg {
		actual := map[string]float64{}
		for pair, c := range a.Confusion {
			actual[m.Classes.Name(uint16(pair>>16))] += float64(c)
		}
		p, d := perf.LabelDrift(ref, actual)
		b.gauge(metricLabelDriftP, "1", p, id)
		b.gauge(metricLabelDriftDist, "1", d, id)
	}
	if name, ref := j.reference(m, k.Ver, a); !math.IsNaN(ref) {
		withMetric := ident(m, k.Ver, k.Seg, func(at pcommon.Map) { at.PutStr(attrMetric, name) })
		b.gauge(metricReference, "1", ref, withMetric)
		if a.N >= uint64(j.cfg.Degradation.MinSamples) {
			verdict := 0.0
			if m.Degraded[k] {
				verdict = 1
			}
			b.gauge(metricVerdict, "1", verdict, withMetric)
		}
	}
}

// reference returns the metric a window is judged by (accuracy for classifiers, mae for
// regressors) and its reference, NaN when there is none.
func (j *joiner) reference(m *join.Model, ver uint16, a *perf.Agg) (string, float64) {
	r, ok := m.Refs[ver]
	if !ok {
		r, ok = j.refs[m.Name]
	}
	if a.Reg > 0 && a.Reg == a.N {
		if !ok {
			return metricNameMAE, math.NaN()
		}
		return metricNameMAE, r.MAE
	}
	if !ok {
		return metricNameAccuracy, math.NaN()
	}
	return metricNameAccuracy, r.Accuracy
}

// verdicts decides, per version and segment (and per version over all segments),
// whether the window's performance is degraded against its reference, and appends an
// event for every verdict that changed (edge-triggered).
func (j *joiner) verdicts(sl plog.ScopeLogs, m *join.Model, now pcommon.Timestamp) {
	window := j.store.Window(m)
	d := j.cfg.Degradation
	for _, k := range sortedKeys(window) {
		a := window[k]
		name, ref := j.reference(m, k.Ver, a)
		if math.IsNaN(ref) || a.N < uint64(d.MinSamples) {
			continue
		}
		f := a.Compute()
		var value, lo, hi, limit float64
		var degraded, recovered bool
		n := float64(a.N)
		if name == metricNameMAE {
			n = float64(a.Reg)
			value, limit = f.MAE, ref*(1+d.Tolerance)
			lo, hi = perf.MeanInterval(a.AbsErr, a.SqErr, n, j.z)
			degraded, recovered = lo > limit, hi <= limit
		} else {
			n = float64(a.N - a.Reg)
			value, limit = f.Accuracy, ref*(1-d.Tolerance)
			lo, hi = perf.Wilson(f.Accuracy*n, n, j.z)
			degraded, recovered = hi < limit, lo >= limit
		}
		was := m.Degraded[k]
		var event string
		switch {
		case !was && degraded:
			event = eventDegraded
		case was && recovered:
			event = eventRecovered
		default:
			continue
		}
		m.Degraded[k] = event == eventDegraded
		j.store.Touch(m.Name)
		lr := sl.LogRecords().AppendEmpty()
		lr.SetEventName(event)
		lr.SetTimestamp(now)
		lr.SetObservedTimestamp(now)
		where := "model " + m.Name
		if v := m.Versions.Name(k.Ver); v != "" {
			where += " " + v
		}
		if k.Seg != join.AllSegments && m.Segments.Name(k.Seg) != "" {
			where += ", segment " + m.Segments.Name(k.Seg)
		}
		if event == eventDegraded {
			lr.SetSeverityNumber(plog.SeverityNumberWarn)
			lr.SetSeverityText("WARN")
			lr.Body().SetStr(fmt.Sprintf("%s: %s %.4f (interval %.4f-%.4f, %d rows) is worse than its reference %.4f", where, name, value, lo, hi, int(n), ref))
		} else {
			lr.SetSeverityNumber(plog.SeverityNumberInfo)
			lr.SetSeverityText("INFO")
			lr.Body().SetStr(fmt.Sprintf("%s: %s %.4f (interval %.4f-%.4f, %d rows) is back within its reference %.4f", where, name, value, lo, hi, int(n), ref))
		}
		ident(m, k.Ver, k.Seg, func(at pcommon.Map) {
			at.PutStr(attrMetric, name)
			at.PutDouble(attrValue, value)
			at.PutDouble(attrRefValue, ref)
			at.PutDouble(attrLower, lo)
			at.PutDouble(attrUpper, hi)
			at.PutInt(attrSampleCount, int64(n))
		})(lr.Attributes())
	}
}
