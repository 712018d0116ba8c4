// Copyright The modeltel Authors
// SPDX-License-Identifier: Apache-2.0

package mldriftprocessor // import "github.com/modeltel/mldriftprocessor"

import (
	"context"
	"fmt"
	"hash/fnv"
	"math"
	"sort"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/modeltel/mldriftprocessor/internal/drift"
	"github.com/modeltel/mldriftprocessor/internal/metadata"
	"github.com/modeltel/mldriftprocessor/internal/state"
)

// driftProcessor is the state of one mldrift component, shared by its metrics and logs
// pipelines (factory.go).
type driftProcessor struct {
	cfg     *Config
	logger  *zap.Logger
	clock   state.Clock
	store   *state.Store
	version string

	mu          sync.Mutex
	nextMetrics consumer.Metrics
	nextLogs    consumer.Logs
	started     int
	cancel      context.CancelFunc
	done        chan struct{}
	release     func()

	dropped     metric.Int64Counter
	expired     metric.Int64Counter
	transitions metric.Int64Counter
	mismatches  metric.Int64Counter
	streams     metric.Int64Gauge
}

func newProcessor(set processor.Settings, cfg *Config, clock state.Clock) (*driftProcessor, error) {
	p := &driftProcessor{
		cfg:     cfg,
		logger:  set.Logger,
		clock:   clock,
		version: set.BuildInfo.Version,
		store: state.NewStore(state.Limits{
			Window: cfg.Window, SlotSize: cfg.SlotSize, StaleAfter: cfg.StaleAfter,
			MaxStreams: cfg.MaxStreams, MaxFeatures: cfg.MaxFeaturesPerModel,
			ReferenceMinSamples: float64(cfg.Thresholds.MinSamples),
		}, clock),
	}
	for _, path := range cfg.BaselineFiles {
		f, err := loadBaselineFile(path)
		if err != nil {
			return nil, err
		}
		for key, b := range fileBaselines(f) {
			if reason := p.store.SetBaseline(key, b); reason != "" {
				return nil, fmt.Errorf("baseline_files: %s: no room for feature %q (%s)", path, key.Feature, reason)
			}
		}
	}
	meter := set.MeterProvider.Meter(metadata.ScopeName)
	var errs [5]error
	p.dropped, errs[0] = meter.Int64Counter("otelcol_processor_mldrift_points_dropped",
		metric.WithDescription("Data points the processor could not use, by reason."), metric.WithUnit("{point}"))
	p.expired, errs[1] = meter.Int64Counter("otelcol_processor_mldrift_streams_expired",
		metric.WithDescription("Feature windows and cumulative streams removed after stale_after without data."), metric.WithUnit("{stream}"))
	p.transitions, errs[2] = meter.Int64Counter("otelcol_processor_mldrift_transitions",
		metric.WithDescription("Features that entered or left drift; one log record each."), metric.WithUnit("{transition}"))
	p.mismatches, errs[3] = meter.Int64Counter("otelcol_processor_mldrift_baseline_mismatches",
		metric.WithDescription("Feature windows whose baseline has other bucket bounds; not scored."), metric.WithUnit("{window}"))
	p.streams, errs[4] = meter.Int64Gauge("otelcol_processor_mldrift_streams",
		metric.WithDescription("Feature windows and cumulative streams currently held."), metric.WithUnit("{stream}"))
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return p, nil
}

func (p *driftProcessor) setMetrics(next consumer.Metrics) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.nextMetrics = next
}

func (p *driftProcessor) setLogs(next consumer.Logs) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.nextLogs = next
}

// start runs the emit ticker once, however many pipelines the component is in.
func (p *driftProcessor) start() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.started++
	if p.started > 1 {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel, p.done = cancel, make(chan struct{})
	go func() {
		defer close(p.done)
		t := time.NewTicker(p.cfg.EmitInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				p.emit(ctx)
			}
		}
	}()
}

func (p *driftProcessor) shutdown() {
	p.mu.Lock()
	p.started--
	last := p.started <= 0
	cancel, done := p.cancel, p.done
	p.mu.Unlock()
	if !last {
		return
	}
	if cancel != nil {
		cancel()
		<-done
	}
	if p.release != nil {
		p.release()
	}
}

// emit evaluates the windows and sends the results down the pipelines.
func (p *driftProcessor) emit(ctx context.Context) {
	md, ld := p.evaluate()
	p.mu.Lock()
	nm, nl := p.nextMetrics, p.nextLogs
	p.mu.Unlock()
	if nm != nil && md.DataPointCount() > 0 {
		if err := nm.ConsumeMetrics(ctx, md); err != nil {
			p.logger.Warn("mldrift: exporting drift metrics failed", zap.Error(err))
		}
	}
	if nl != nil && ld.LogRecordCount() > 0 {
		if err := nl.ConsumeLogs(ctx, ld); err != nil {
			p.logger.Warn("mldrift: exporting drift log records failed", zap.Error(err))
		}
	}
}

// ---------------------------------------------------------------------------- ingest

func (p *driftProcessor) drop(reason string, n int) {
	if reason != "" && n > 0 {
		p.dropped.Add(context.Background(), int64(n), metric.WithAttributes(attribute.String("reason", reason)))
	}
}

// ingest reads the distribution metrics of md into the state; md itself is not changed.
func (p *driftProcessor) ingest(md pmetric.Metrics) {
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		rm := rms.At(i)
		sms := rm.ScopeMetrics()
		for j := 0; j < sms.Len(); j++ {
			sm := sms.At(j)
			ms := sm.Metrics()
			for k := 0; k < ms.Len(); k++ {
				m := ms.At(k)
				switch m.Name() {
				case metricFeatureValue, metricCategoryCount, metricMissing, metricBaselineValue,
					metricBaselineCategories, metricViolations:
					p.ingestMetric(rm.Resource(), sm.Scope(), m)
				}
			}
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
		return p.store.SetBaseline(key, &state.Baseline{ID: id, Bounds: bounds, Counts: counts, Min: vmin, Max: vmax})
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

// ---------------------------------------------------------------------------- evaluate

type output struct {
	now                                    pcommon.Timestamp
	score, threshold, detected, samples    pmetric.NumberDataPointSlice
	datasetDetected, datasetShare, quality pmetric.NumberDataPointSlice
	logs                                   plog.LogRecordSlice
}

func newGauge(sm pmetric.ScopeMetrics, name, unit, desc string) pmetric.NumberDataPointSlice {
	m := sm.Metrics().AppendEmpty()
	m.SetName(name)
	m.SetUnit(unit)
	m.SetDescription(desc)
	return m.SetEmptyGauge().DataPoints()
}

func featureAttrs(dst pcommon.Map, key state.FeatureKey) {
	dst.PutStr(attrModelName, key.Model)
	dst.PutStr(attrModelVersion, key.Version)
	if key.Feature != "" {
		dst.PutStr(attrFeatureName, key.Feature)
		dst.PutStr(attrFeatureRole, key.Role)
	}
}

func (o *output) gauge(s pmetric.NumberDataPointSlice, key state.FeatureKey, v float64) pmetric.NumberDataPoint {
	dp := s.AppendEmpty()
	dp.SetTimestamp(o.now)
	dp.SetDoubleValue(v)
	featureAttrs(dp.Attributes(), key)
	return dp
}

func (o *output) intGauge(s pmetric.NumberDataPointSlice, key state.FeatureKey, v int64) pmetric.NumberDataPoint {
	dp := s.AppendEmpty()
	dp.SetTimestamp(o.now)
	dp.SetIntValue(v)
	featureAttrs(dp.Attributes(), key)
	return dp
}

// evaluate scores every window now and returns the metrics and log records to emit.
// Tests call it directly with a manual clock.
func (p *driftProcessor) evaluate() (pmetric.Metrics, plog.Logs) {
	windows, expired := p.store.Snapshot()
	if expired > 0 {
		p.expired.Add(context.Background(), int64(expired))
	}
	p.streams.Record(context.Background(), int64(p.store.Len()))

	md := pmetric.NewMetrics()
	sm := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty()
	sm.Scope().SetName(metadata.ScopeName)
	sm.Scope().SetVersion(p.version)
	ld := plog.NewLogs()
	sl := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty()
	sl.Scope().SetName(metadata.ScopeName)
	sl.Scope().SetVersion(p.version)
	o := &output{
		now:             pcommon.NewTimestampFromTime(p.clock.Now()),
		score:           newGauge(sm, metricScore, "1", "Drift score of a feature's window against its baseline, per method (docs/drift-math.md)."),
		threshold:       newGauge(sm, metricThreshold, "1", "The threshold (or alpha) the score of the same method is compared with."),
		detected:        newGauge(sm, metricDetected, "1", "1 when the feature drifts in this window, 0 when it does not; absent below min_samples."),
		samples:         newGauge(sm, metricSampleCount, "{value}", "Values of the feature in the window, across every replica."),
		datasetDetected: newGauge(sm, metricDatasetDrift, "1", "1 when at least dataset_drift_share of the model's scored input features drift."),
		datasetShare:    newGauge(sm, metricDatasetShare, "1", "Share of the model's scored input features that drift."),
		quality:         newGauge(sm, metricQualityRate, "1", "Share of the window's values that fail a data-quality check."),
		logs:            sl.LogRecords(),
	}
	for start := 0; start < len(windows); {
		end := start
		for end < len(windows) && windows[end].Key.Model == windows[start].Key.Model && windows[end].Key.Version == windows[start].Key.Version {
			end++
		}
		p.evaluateModel(o, windows[start:end])
		start = end
	}
	// Drop empty metrics so exporters see only what carries data.
	sm.Metrics().RemoveIf(func(m pmetric.Metric) bool { return m.Gauge().DataPoints().Len() == 0 })
	return md, ld
}

func (p *driftProcessor) evaluateModel(o *output, windows []state.Window) {
	model, version := windows[0].Key.Model, windows[0].Key.Version
	modelKey := state.FeatureKey{Model: model, Version: version}
	var features []drift.Feature
	var scored []int
	rows := 0.0 // the model's rows: the largest value+missing count of an input feature
	for i, w := range windows {
		if w.Key.Feature != "" && w.Key.Role == roleInput {
			rows = math.Max(rows, w.Values+w.Missing)
		}
		if w.Mismatch && p.store.ReportMismatch(w.Key, w.BaselineID) {
			p.mismatches.Add(context.Background(), 1)
			p.logger.Warn("mldrift: the baseline's bucket bounds do not match the production histogram; feature not scored",
				zap.String(attrModelName, model), zap.String(attrModelVersion, version),
				zap.String(attrFeatureName, w.Key.Feature), zap.String(attrBaselineID, w.BaselineID))
		}
		if w.Production == nil || w.Baseline == nil {
			continue
		}
		features = append(features, drift.Feature{
			Categorical: w.Kind == state.KindCategorical,
			Output:      w.Key.Role == roleOutput,
			Reference:   drift.Histogram(*w.Baseline),
			Production:  drift.Histogram(*w.Production),
			Thresholds:  p.cfg.forFeature(model, version, w.Key.Feature).drift(),
		})
		scored = append(scored, i)
	}
	results := drift.Evaluate(features)
	byWindow := map[int]int{}
	for j, i := range scored {
		byWindow[i] = j
	}
	for i, w := range windows {
		p.emitQuality(o, w, rows)
		if w.Key.Feature == "" {
			continue
		}
		if w.Kind != state.KindUnknown || w.Missing > 0 {
			o.intGauge(o.samples, w.Key, int64(w.Values))
		}
		j, ok := byWindow[i]
		if !ok {
			continue
		}
		r := results[j]
		methods := make([]string, 0, len(r.Scores))
		for m := range r.Scores {
			methods = append(methods, m)
		}
		sort.Strings(methods)
		for _, m := range methods {
			if v := r.Scores[m]; !math.IsNaN(v) {
				o.gauge(o.score, w.Key, v).Attributes().PutStr(attrMethod, m)
			}
			if lim, ok := r.Limits[m]; ok {
				o.gauge(o.threshold, w.Key, lim).Attributes().PutStr(attrMethod, m)
			}
		}
		if r.Verdict == drift.VerdictInsufficientData {
			continue
		}
		drifted := r.Verdict == drift.VerdictDrift
		v := int64(0)
		if drifted {
			v = 1
		}
		o.intGauge(o.detected, w.Key, v)
		if p.store.Transition(w.Key, drifted) {
			p.logTransition(o, w, features[j], r, drifted)
		}
	}
	verdict, drifted, evaluated := drift.Dataset(features, results, p.cfg.forModel(model, version).DatasetDriftShare)
	if verdict != drift.VerdictInsufficientData {
		v := int64(0)
		if verdict == drift.VerdictDrift {
			v = 1
		}
		o.intGauge(o.datasetDetected, modelKey, v)
		o.gauge(o.datasetShare, modelKey, float64(drifted)/float64(evaluated))
	}
}

// emitQuality writes the data-quality rates of one window. The SDK's violation counters
// (exact, from raw values) win; the rates derived from the distributions fill in the checks
// they do not report (an SDK without a baseline, or another producer).
func (p *driftProcessor) emitQuality(o *output, w state.Window, modelRows float64) {
	rate := func(check string, n, total float64) {
		if total > 0 {
			o.gauge(o.quality, w.Key, n/total).Attributes().PutStr(attrCheck, check)
		}
	}
	total := w.Values + w.Missing
	checks := make([]string, 0, len(w.Violations))
	for c := range w.Violations {
		checks = append(checks, c)
	}
	sort.Strings(checks)
	for _, c := range checks {
		// A feature's checks are rates over its values; model-level ones, and a feature
		// absent from the input (no values of its own), over the model's rows.
		denominator := total
		if w.Key.Feature == "" || denominator <= 0 {
			denominator = modelRows
		}
		rate(c, w.Violations[c], denominator)
	}
	reported := func(c string) bool { _, ok := w.Violations[c]; return ok }
	if w.Key.Feature != "" && w.Kind != state.KindUnknown && !reported(checkNull) {
		rate(checkNull, w.Missing, total)
	}
	if w.Production != nil && w.Baseline != nil && w.ReferenceSince.IsZero() {
		// Production mass where the baseline has none: values beyond the reference's
		// range (numeric) or labels never seen in training (categorical, mostly __other__).
		outside := 0.0
		for i, c := range w.Baseline.Counts {
			if c == 0 {
				outside += w.Production.Counts[i]
			}
		}
		check := checkOutOfRange
		if w.Kind == state.KindCategorical {
			check = checkUnseenCategory
		}
		if !reported(check) {
			rate(check, outside, w.Values)
		}
	}
}

func (p *driftProcessor) logTransition(o *output, w state.Window, f drift.Feature, r drift.Result, drifted bool) {
	reason := r.Primary
	severity, text, event, verb := plog.SeverityNumberInfo, "INFO", eventDriftEnded, "left drift"
	if drifted {
		reason = r.Reasons[0]
		severity, text, event, verb = plog.SeverityNumberWarn, "WARN", eventDriftStarted, "entered drift"
	}
	state := "no_drift"
	if drifted {
		state = "drift"
	}
	p.transitions.Add(context.Background(), 1, metric.WithAttributes(attribute.String("state", state)))
	against := "its baseline " + w.BaselineID
	if !w.ReferenceSince.IsZero() {
		against = "its first full window (no baseline; frozen at " + w.ReferenceSince.UTC().Format(time.RFC3339) + ")"
	}
	body := fmt.Sprintf("feature %s (%s) of model %s version %s %s: %s %.4g vs threshold %.4g over the last %s (%d values) against %s",
		w.Key.Feature, w.Key.Role, w.Key.Model, w.Key.Version, verb, reason.Method, reason.Score, reason.Threshold,
		p.cfg.Window, int64(f.Production.Total()), against)
	lr := o.logs.AppendEmpty()
	lr.SetTimestamp(o.now)
	lr.SetObservedTimestamp(o.now)
	lr.SetSeverityNumber(severity)
	lr.SetSeverityText(text)
	lr.SetEventName(event)
	lr.Body().SetStr(body)
	a := lr.Attributes()
	featureAttrs(a, w.Key)
	a.PutStr(attrMethod, reason.Method)
	a.PutDouble(attrScore, reason.Score)
	a.PutDouble(attrThreshold, reason.Threshold)
	a.PutDouble(attrWindow, p.cfg.Window.Seconds())
	a.PutInt(attrSampleCount, int64(f.Production.Total()))
	if drifted {
		p.logger.Warn(body)
	} else {
		p.logger.Info(body)
	}
}

// ---------------------------------------------------------------------------- components

type metricsProcessor struct{ *driftProcessor }

func (m *metricsProcessor) Start(context.Context, component.Host) error { m.start(); return nil }
func (m *metricsProcessor) Shutdown(context.Context) error              { m.shutdown(); return nil }
func (m *metricsProcessor) Capabilities() consumer.Capabilities {
	return consumer.Capabilities{MutatesData: false}
}

// ConsumeMetrics reads the distributions and passes md on unchanged.
func (m *metricsProcessor) ConsumeMetrics(ctx context.Context, md pmetric.Metrics) error {
	m.ingest(md)
	m.mu.Lock()
	next := m.nextMetrics
	m.mu.Unlock()
	return next.ConsumeMetrics(ctx, md)
}

type logsProcessor struct{ *driftProcessor }

func (l *logsProcessor) Start(context.Context, component.Host) error { l.start(); return nil }
func (l *logsProcessor) Shutdown(context.Context) error              { l.shutdown(); return nil }
func (l *logsProcessor) Capabilities() consumer.Capabilities {
	return consumer.Capabilities{MutatesData: false}
}

// ConsumeLogs passes ld on unchanged: the logs pipeline is only where drift records go.
func (l *logsProcessor) ConsumeLogs(ctx context.Context, ld plog.Logs) error {
	l.mu.Lock()
	next := l.nextLogs
	l.mu.Unlock()
	return next.ConsumeLogs(ctx, ld)
}
