// Copyright The modeltel Authors
// SPDX-License-Identifier: Apache-2.0

// Emit: every window scored on the emit interval, as ml.drift.* and ml.data_quality.* gauges.

package mldriftprocessor // import "github.com/modeltel/mldriftprocessor"

import (
	"context"
	"math"
	"sort"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.uber.org/zap"

	"github.com/modeltel/mldriftprocessor/internal/drift"
	"github.com/modeltel/mldriftprocessor/internal/state"
)

type output struct {
	now                                    pcommon.Timestamp
	score, threshold, detected, samples    pmetric.NumberDataPointSlice
	datasetDetected, datasetShare, quality pmetric.NumberDataPointSlice
	multivariate                           pmetric.NumberDataPointSlice
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

// point appends a gauge point for key at the emit time; gauge and intGauge set its value.
func (o *output) point(s pmetric.NumberDataPointSlice, key state.FeatureKey) pmetric.NumberDataPoint {
	dp := s.AppendEmpty()
	dp.SetTimestamp(o.now)
	featureAttrs(dp.Attributes(), key)
	return dp
}

func (o *output) gauge(s pmetric.NumberDataPointSlice, key state.FeatureKey, v float64) pmetric.NumberDataPoint {
	dp := o.point(s, key)
	dp.SetDoubleValue(v)
	return dp
}

func (o *output) intGauge(s pmetric.NumberDataPointSlice, key state.FeatureKey, v int64) pmetric.NumberDataPoint {
	dp := o.point(s, key)
	dp.SetIntValue(v)
	return dp
}

// driftFeature is the math's view of a window's data against the window's reference: the
// window's own production histogram, nulls, violations and tail buckets, or those of its
// sequential batch. Nulls: the reference's are NaN when the baseline does not say (no
// null-rate rule then); the SDK's out_of_range count (values beyond the baseline's training
// min/max) is known only with a baseline, and only from the SDK.
func (p *driftProcessor) driftFeature(w state.Window, prod *state.Histogram, missing float64, violations map[string]float64, tail int) drift.Feature {
	model, version := w.Key.Model, w.Key.Version
	_, outside := violations[checkOutOfRange]
	return drift.Feature{
		Categorical:       w.Kind == state.KindCategorical,
		Output:            w.Key.Role == roleOutput,
		Reference:         drift.Histogram(*w.Baseline),
		Production:        drift.Histogram(*prod),
		ReferenceNulls:    w.BaselineNulls,
		ProductionNulls:   missing,
		ProductionOutside: violations[checkOutOfRange],
		OutsideKnown:      outside && w.BaselineID != "",
		Tail:              tail,
		Thresholds:        p.cfg.forFeature(model, version, w.Key.Feature).drift(p.cfg.forModel(model, version)),
		Projection:        w.Key.Role == roleInput && isProjection(w.Key.Feature),
	}
}

// countInt turns a count held as a float64 into an int64, saturating: counts near 2^64
// (a uint64 bucket count of 2^64-1) must not wrap to a negative sample count.
func countInt(x float64) int64 {
	switch {
	case !(x > 0):
		return 0
	case x >= math.MaxInt64:
		return math.MaxInt64
	default:
		return int64(x)
	}
}

// evaluate scores every window now and returns the metrics and log records to emit.
// Tests call it directly with a manual clock.
func (p *driftProcessor) evaluate() (pmetric.Metrics, plog.Logs) {
	windows, expired := p.store.Snapshot()
	if expired > 0 {
		p.own.streamsExpired.Add(context.Background(), int64(expired))
	}
	p.own.streams.Record(context.Background(), int64(p.store.Len()))

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
		multivariate:    newGauge(sm, metricMultivariate, "1", "1 when a multivariate projection of the model's inputs drifts (docs/drift-math.md section 8)."),
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
			p.own.baselineMismatches.Add(context.Background(), 1)
			p.logger.Warn("mldrift: the baseline's bucket bounds do not match the production histogram; feature not scored",
				zap.String(attrModelName, model), zap.String(attrModelVersion, version),
				zap.String(attrFeatureName, w.Key.Feature), zap.String(attrBaselineID, w.BaselineID))
		}
		if h := w.ReferenceHalves; h[0] != nil && h[1] != nil {
			windows[i].ReferenceStability = p.checkReference(w)
		}
		if w.Production == nil || w.Baseline == nil {
			continue
		}
		features = append(features, p.driftFeature(w, w.Production, w.Missing, w.Violations, w.Tail))
		scored = append(scored, i)
	}
	results := drift.Evaluate(features)
	byWindow := map[int]int{}
	for j, i := range scored {
		byWindow[i] = j
	}
	steps := p.sequentialSteps(windows, func(i int) bool {
		j, ok := byWindow[i]
		return ok && results[j].Verdict == drift.VerdictDrift
	})
	for i, w := range windows {
		p.emitQuality(o, w, rows)
		if w.Key.Feature == "" {
			continue
		}
		if w.Kind != state.KindUnknown || w.Missing > 0 {
			o.intGauge(o.samples, w.Key, countInt(w.Values))
		}
		j, ok := byWindow[i]
		if !ok {
			continue
		}
		r := results[j]
		if s, ok := steps[i]; ok {
			applySequential(&r, s)
		}
		if !math.IsNaN(w.ReferenceStability) {
			r.Scores[methodReferenceStability] = w.ReferenceStability
		}
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
	p.emitMultivariate(o, modelKey, windows, scored, features, results)
}

// checkReference tests a self-reference being frozen (no baseline) for drift inside itself:
// its older half against its newer half, with the rank-sum and chi-squared rules of the
// calibrated mode (Bonferroni over the two). A reference that was already drifting is
// reported (a warning here, the p-value as the reference_stability_pvalue score on every
// emit), not silently trusted.
func (p *driftProcessor) checkReference(w state.Window) float64 {
	a, b := drift.Histogram(*w.ReferenceHalves[0]), drift.Histogram(*w.ReferenceHalves[1])
	t := p.cfg.forFeature(w.Key.Model, w.Key.Version, w.Key.Feature).drift(p.cfg.forModel(w.Key.Model, w.Key.Version))
	categorical := w.Kind == state.KindCategorical
	pv, _, _ := drift.Chi2TwoSample(a.Counts, b.Counts, !categorical, t.MinExpected)
	if !categorical {
		pv = math.Min(1, 2*math.Min(pv, drift.RankSumPValue(a.Counts, b.Counts)))
	}
	p.store.SetReferenceStability(w.Key, pv)
	if pv < t.FeatureAlpha {
		p.logger.Warn("mldrift: no baseline, and the first full window frozen as the reference was itself drifting (its two halves differ); drift is measured against a moving reference",
			zap.String(attrModelName, w.Key.Model), zap.String(attrModelVersion, w.Key.Version),
			zap.String(attrFeatureName, w.Key.Feature), zap.Float64("p_value", pv))
	}
	return pv
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
	if w.TypeMismatch > 0 && !reported(checkTypeMismatch) {
		rate(checkTypeMismatch, w.TypeMismatch, total+w.TypeMismatch)
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
