// Copyright The modeltel Authors
// SPDX-License-Identifier: Apache-2.0

package mlperformanceconnector

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap/confmaptest"
	"go.opentelemetry.io/collector/connector/connectortest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/modeltel/mlcommon/clock"
	"github.com/modeltel/mlcommon/walk"
)

var t0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

// record appends one joinable log record: event, model, the row arrays and the time.
func record(ld plog.Logs, event string, at time.Time, attrs map[string]any) {
	lr := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.SetEventName(event)
	lr.SetTimestamp(pcommon.NewTimestampFromTime(at))
	require.NoError(nil, lr.Attributes().FromRaw(attrs))
}

// memStore is an in-memory storage extension (with Walk, like file_storage's client).
type memStore struct {
	component.StartFunc
	component.ShutdownFunc
	data map[string][]byte
}

type memClient struct{ s *memStore }

func (s *memStore) GetClient(context.Context, component.Kind, component.ID, string) (storage.Client, error) {
	return memClient{s}, nil
}
func (c memClient) Get(_ context.Context, k string) ([]byte, error) { return c.s.data[k], nil }
func (c memClient) Set(_ context.Context, k string, v []byte) error { c.s.data[k] = v; return nil }
func (c memClient) Delete(_ context.Context, k string) error        { delete(c.s.data, k); return nil }
func (c memClient) Close(context.Context) error                     { return nil }
func (c memClient) Batch(ctx context.Context, ops ...*storage.Operation) error {
	for _, op := range ops {
		if op.Type == storage.Delete {
			delete(c.s.data, op.Key)
		} else if op.Type == storage.Set {
			c.s.data[op.Key] = append([]byte(nil), op.Value...)
		}
	}
	return nil
}
func (c memClient) Walk(_ context.Context, fn storage.WalkFunc) error {
	keys := make([]string, 0, len(c.s.data))
	for k := range c.s.data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if _, err := fn(k, c.s.data[k]); err != nil {
			return err
		}
	}
	return nil
}

type host struct {
	ext map[component.ID]component.Component
}

func (h host) GetExtensions() map[component.ID]component.Component { return h.ext }

var storageID = component.MustNewID("file_storage")

type rig struct {
	j       *joiner
	metrics *consumertest.MetricsSink
	logs    *consumertest.LogsSink
}

func newRig(t *testing.T, cfg *Config, clk clock.Clock, disk *memStore) rig {
	set := connectortest.NewNopSettings(metadata.Type)
	j, err := newJoiner(set, cfg, clk)
	require.NoError(t, err)
	r := rig{j: j, metrics: &consumertest.MetricsSink{}, logs: &consumertest.LogsSink{}}
	j.shared.SetMetrics(r.metrics)
	j.shared.SetLogs(r.logs)
	cfg.Storage = &storageID
	require.NoError(t, j.start(context.Background(), host{map[component.ID]component.Component{storageID: disk}}))
	t.Cleanup(func() { _ = j.shutdown(context.Background()) })
	return r
}

// points returns the last emit's points of one metric as "attr=value,..." -> value.
func points(md pmetric.Metrics, name string) map[string]float64 {
	out := map[string]float64{}
	add := func(a pcommon.Map, v float64) {
		keys := []string{}
		a.Range(func(k string, v pcommon.Value) bool {
			if k != attrModelName {
				keys = append(keys, k+"="+v.AsString())
			}
			return true
		})
		sort.Strings(keys)
		out[fmt.Sprint(keys)] = v
	}
	for _, m := range walk.Metrics(md) {
		if m.Name() != name {
			continue
		}
		switch m.Type() {
		case pmetric.MetricTypeGauge:
			for _, dp := range m.Gauge().DataPoints().All() {
				add(dp.Attributes(), dp.DoubleValue())
			}
		case pmetric.MetricTypeSum:
			for _, dp := range m.Sum().DataPoints().All() {
				v := dp.DoubleValue()
				if dp.ValueType() == pmetric.NumberDataPointValueTypeInt {
					v = float64(dp.IntValue())
				}
				add(dp.Attributes(), v)
			}
		case pmetric.MetricTypeHistogram:
			for _, dp := range m.Histogram().DataPoints().All() {
				add(dp.Attributes(), float64(dp.Count()))
			}
		}
	}
	return out
}

// eventsBy lists the rig's events so far as "<event name> <value of attribute attr>".
func eventsBy(r rig, attr string) []string {
	var out []string
	for _, ld := range r.logs.AllLogs() {
		for _, lr := range walk.LogRecords(ld) {
			value := ""
			if v, ok := lr.Attributes().Get(attr); ok {
				value = v.Str()
			}
			out = append(out, lr.EventName()+" "+value)
		}
	}
	return out
}

func last(s *consumertest.MetricsSink) pmetric.Metrics {
	all := s.AllMetrics()
	return all[len(all)-1]
}

// TestJoinAcrossRestart checks the metrics of joined rows, the unmatched counts, and that
// a connector restarted on the same storage goes on from where the first one stopped.
func TestJoinAcrossRestart(t *testing.T) {
	clk := clock.NewManual(t0)
	disk := &memStore{data: map[string][]byte{}}
	cfg := createDefaultConfig()
	cfg.TTL = time.Minute
	first := newRig(t, cfg, clk, disk)
	ld := plog.NewLogs()
	record(ld, eventPredicted, t0, map[string]any{
		attrModelName: "fraud", attrModelVersion: "3", attrKeys: []any{"a", "b", "c", "d"},
		attrPredClasses: []any{"1", "0", int64(1), "0"}, attrPredScores: []any{0.9, 0.2, 0.6, 0.4},
	})
	record(ld, eventObserved, t0.Add(5*time.Second), map[string]any{
		attrModelName: "fraud", attrKeys: []any{"a", "b", "a", "zz"}, attrLabels: []any{int64(1), "1", "1", "0"},
	})
	record(ld, eventObserved, t0, map[string]any{attrModelName: "fraud", attrKeys: []any{"a"}})                            // no labels: rejected
	record(ld, eventObserved, t0, map[string]any{attrModelName: "fraud", attrKeys: "x\x1fy", attrValues: []byte{1, 2, 3}}) // bytes of no float64: rejected
	record(ld, "something.else", t0, map[string]any{attrModelName: "fraud"})
	first.j.consume(context.Background(), ld)
	first.j.emit(context.Background())
	md := last(first.metrics)
	assert.Equal(t, map[string]float64{
		"[ml.model.version=3 ml.outcome.label=1 ml.prediction.label=0]": 1,
		"[ml.model.version=3 ml.outcome.label=1 ml.prediction.label=1]": 1,
	}, points(md, metricOutcomes))
	assert.Equal(t, map[string]float64{"[ml.model.version=3 ml.outcome.reason=duplicate]": 1}, points(md, metricUnmatched))
	assert.Equal(t, 0.5, points(md, metricAccuracy)["[ml.model.version=3]"])
	assert.Equal(t, 2.0, points(md, metricPending)["[ml.outcome.state=prediction]"])
	require.NoError(t, first.j.shutdown(context.Background()))

	second := newRig(t, cfg, clk, disk)
	ld = plog.NewLogs()
	record(ld, eventObserved, t0.Add(10*time.Second), map[string]any{
		attrModelName: "fraud", attrKeys: []any{"c", "b"}, attrLabels: []any{"1", "1"},
	})
	second.j.consume(context.Background(), ld)
	clk.Advance(2 * time.Minute)
	second.j.emit(context.Background())
	md = last(second.metrics)
	assert.Equal(t, map[string]float64{
		"[ml.model.version=3 ml.outcome.label=1 ml.prediction.label=0]": 1,
		"[ml.model.version=3 ml.outcome.label=1 ml.prediction.label=1]": 2,
	}, points(md, metricOutcomes), "the first instance's counts are kept")
	assert.Equal(t, map[string]float64{
		"[ml.model.version=3 ml.outcome.reason=duplicate]": 2,
		"[ml.model.version=3 ml.outcome.reason=expired]":   1,
		"[ml.outcome.reason=unknown_key]":                  1,
	}, points(md, metricUnmatched))
}

// TestDegradedPerSegment checks that a segment whose accuracy falls below its in-band
// reference fires ml.performance.degraded once (edge-triggered), a healthy one does not,
// and recovery fires ml.performance.recovered.
func TestDegradedPerSegment(t *testing.T) {
	clk := clock.NewManual(t0)
	cfg := createDefaultConfig()
	r := newRig(t, cfg, clk, &memStore{data: map[string][]byte{}})
	send := func(prefix string, wrongEU bool) {
		ld := plog.NewLogs()
		var keys, classes, segs, labels []any
		for i := 0; i < 400; i++ {
			seg := []string{"eu", "us", "us", "us"}[i%4]
			keys = append(keys, fmt.Sprintf("%s%d", prefix, i))
			classes = append(classes, "1")
			segs = append(segs, seg)
			label := "1"
			if seg == "eu" && wrongEU {
				label = "0"
			}
			labels = append(labels, label)
		}
		record(ld, eventPredicted, clk.Now(), map[string]any{attrModelName: "m", attrKeys: keys, attrPredClasses: classes,
			attrSegments: segs, attrRefAccuracy: 0.95})
		record(ld, eventObserved, clk.Now(), map[string]any{attrModelName: "m", attrKeys: keys, attrLabels: labels})
		r.j.consume(context.Background(), ld)
		r.j.emit(context.Background())
	}
	events := func() []string { return eventsBy(r, attrSegment) }
	send("a", true)
	assert.Equal(t, []string{eventDegraded + " eu", eventDegraded + " "}, events(), "eu and the model as a whole")
	verdicts := points(last(r.metrics), metricVerdict)
	assert.Equal(t, 1.0, verdicts["[ml.performance.metric=accuracy ml.segment=eu]"])
	assert.Equal(t, 0.0, verdicts["[ml.performance.metric=accuracy ml.segment=us]"])
	send("b", true)
	assert.Len(t, events(), 2, "edge-triggered")
	clk.Advance(2 * time.Hour)
	send("c", false)
	assert.Equal(t, []string{eventDegraded + " eu", eventDegraded + " ", eventRecovered + " eu", eventRecovered + " "}, events())
}

// TestConfig checks the defaults, a full config and what Validate rejects.
func TestConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)
	cfg := createDefaultConfig()
	require.NoError(t, cfg.Validate())
	sub, err := cm.Sub("mlperformance/full")
	require.NoError(t, err)
	require.NoError(t, sub.Unmarshal(cfg))
	require.NoError(t, cfg.Validate())
	assert.Equal(t, 30*24*time.Hour, cfg.TTL)
	assert.Equal(t, "file_storage", cfg.Storage.String())
	assert.Equal(t, []ModelConfig{{Name: "fraud", TTL: 2160 * time.Hour, Accuracy: 0.93}}, cfg.Models)
	for name, mutate := range map[string]func(*Config){
		"ttl":        func(c *Config) { c.TTL = 0 },
		"slots":      func(c *Config) { c.Window = time.Hour + time.Second },
		"tolerance":  func(c *Config) { c.Degradation.Tolerance = 1 },
		"confidence": func(c *Config) { c.Degradation.Confidence = 0.4 },
		"model name": func(c *Config) { c.Models = []ModelConfig{{Accuracy: 0.9}} },
		"accuracy":   func(c *Config) { c.Models = []ModelConfig{{Name: "x", Accuracy: 1.5}} },
	} {
		c := createDefaultConfig()
		mutate(c)
		assert.Error(t, c.Validate(), name)
	}
}

// TestFactory checks that the factory has metadata.yaml's type and stabilities, that both
// connections of one id share one state and that only the logs->metrics one reads the logs.
func TestFactory(t *testing.T) {
	f := NewFactory()
	require.Equal(t, "mlperformance", f.Type().String())
	require.Equal(t, component.StabilityLevelAlpha, f.LogsToMetricsStability())
	require.Equal(t, component.StabilityLevelAlpha, f.LogsToLogsStability())
	set := connectortest.NewNopSettings(metadata.Type)
	cfg := f.CreateDefaultConfig()
	m, err := f.CreateLogsToMetrics(context.Background(), set, cfg, consumertest.NewNop())
	require.NoError(t, err)
	l, err := f.CreateLogsToLogs(context.Background(), set, cfg, consumertest.NewNop())
	require.NoError(t, err)
	assert.Same(t, m.(*node).j, l.(*node).j)
	require.NoError(t, m.Start(context.Background(), componenttest.NewNopHost()))
	require.NoError(t, l.Start(context.Background(), componenttest.NewNopHost()))
	ld := plog.NewLogs()
	record(ld, eventPredicted, t0, map[string]any{attrModelName: "m", attrKeys: []any{"a"}, attrPredClasses: []any{"1"}})
	require.NoError(t, l.ConsumeLogs(context.Background(), ld))
	assert.Equal(t, 0, m.(*node).j.store.Pending())
	require.NoError(t, m.ConsumeLogs(context.Background(), ld))
	assert.Equal(t, 1, m.(*node).j.store.Pending())
	require.NoError(t, m.Shutdown(context.Background()))
	require.NoError(t, l.Shutdown(context.Background()))
}

// TestPackedForm checks that the SDK's packed per-row attributes (texts joined by U+001F,
// little-endian float64 bytes) read like plain arrays.
func TestPackedForm(t *testing.T) {
	clk := clock.NewManual(t0)
	r := newRig(t, createDefaultConfig(), clk, &memStore{data: map[string][]byte{}})
	scores := make([]byte, 16)
	binary.LittleEndian.PutUint64(scores, math.Float64bits(0.75))
	binary.LittleEndian.PutUint64(scores[8:], math.Float64bits(0.25))
	ld := plog.NewLogs()
	record(ld, eventPredicted, t0, map[string]any{attrModelName: "m", attrKeys: "a\x1fb", attrPredClasses: "1\x1f0",
		attrPredScores: scores, attrSegments: "eu\x1fus"})
	record(ld, eventObserved, t0, map[string]any{attrModelName: "m", attrKeys: "b\x1fa", attrLabels: "1\x1f1"})
	// The SDK's ml.prediction record with joinable rows counts; one without keys is not ours.
	record(ld, eventPrediction, t0, map[string]any{attrModelName: "m", attrKeys: "c", attrPredClasses: "1", attrSegments: "eu"})
	record(ld, eventPrediction, t0, map[string]any{attrModelName: "m"})
	record(ld, eventObserved, t0, map[string]any{attrModelName: "m", attrKeys: "c", attrLabels: "1"})
	r.j.consume(context.Background(), ld)
	r.j.emit(context.Background())
	md := last(r.metrics)
	assert.InDelta(t, 2.0/3, points(md, metricAccuracy)["[]"], 1e-12)
	assert.InDelta(t, (-math.Log(0.75)-math.Log(0.25))/2, points(md, metricLogLoss)["[]"], 1e-12)
	assert.Equal(t, 1.0, points(md, metricAccuracy)["[ml.segment=eu]"])
	assert.Equal(t, 2.0, points(md, metricSampleCount)["[ml.segment=eu]"])
}

// TestRegressionDegradedAgainstConfiguredMAE checks the regression rule: a window whose MAE
// is above the configured reference (with confidence) fires degraded; back under, recovered.
func TestRegressionDegradedAgainstConfiguredMAE(t *testing.T) {
	clk := clock.NewManual(t0)
	cfg := createDefaultConfig()
	cfg.Models = []ModelConfig{{Name: "price", MAE: 1.0}}
	r := newRig(t, cfg, clk, &memStore{data: map[string][]byte{}})
	send := func(prefix string, errSize float64) {
		var keys, preds, actuals []any
		for i := 0; i < 300; i++ {
			keys = append(keys, fmt.Sprintf("%s%d", prefix, i))
			preds = append(preds, 100.0+errSize*float64(1-2*(i%2)))
			actuals = append(actuals, 100.0)
		}
		ld := plog.NewLogs()
		record(ld, eventPredicted, clk.Now(), map[string]any{attrModelName: "price", attrKeys: keys, attrPredValues: preds})
		record(ld, eventObserved, clk.Now(), map[string]any{attrModelName: "price", attrKeys: keys, attrValues: actuals})
		r.j.consume(context.Background(), ld)
		r.j.emit(context.Background())
	}
	names := func() []string { return eventsBy(r, attrMetric) }
	send("a", 0.9) // MAE 0.9 < 1.05: fine
	assert.Empty(t, names())
	assert.InDelta(t, 0.9, points(last(r.metrics), metricMAE)["[]"], 1e-12)
	assert.Equal(t, 300.0, points(last(r.metrics), metricResidual)["[]"], "every residual counted")
	clk.Advance(2 * time.Hour)
	send("b", 2.0) // MAE 2: degraded
	assert.Equal(t, []string{eventDegraded + " mae"}, names())
	clk.Advance(2 * time.Hour)
	send("c", 0.5)
	assert.Equal(t, []string{eventDegraded + " mae", eventRecovered + " mae"}, names())
}

// TestBaselineReferenceAndCalibration checks what the baseline's validation data brings
// in-band: its calibration drives the estimate (and survives a restart), its reference
// judges the window, and the config's reference and calibration win over the baseline's.
func TestBaselineReferenceAndCalibration(t *testing.T) {
	floats64 := func(v ...float64) []byte {
		b := make([]byte, 8*len(v))
		for i, x := range v {
			binary.LittleEndian.PutUint64(b[8*i:], math.Float64bits(x))
		}
		return b
	}
	send := func(r rig, model, prefix string, label string) {
		var keys, classes, scores, labels []any
		for i := 0; i < 200; i++ {
			keys = append(keys, fmt.Sprintf("%s%d", prefix, i))
			classes = append(classes, "1")
			scores = append(scores, 0.8)
			labels = append(labels, label)
		}
		ld := plog.NewLogs()
		// The baseline says: a score of 0.8 is right 70% of the time (0.5 -> 0.4, 0.9 -> 0.8); accuracy 0.9.
		record(ld, eventPredicted, t0, map[string]any{attrModelName: model, attrModelVersion: "1", attrKeys: keys,
			attrPredClasses: classes, attrPredScores: scores, attrRefAccuracy: 0.9, attrRefSource: refSourceBaseline,
			attrCalScores: floats64(0.1, 0.5, 0.9), attrCalProbs: floats64(0.0, 0.4, 0.8),
			attrRefLabels: "0\x1f1", attrRefLabelCounts: floats64(30, 70)})
		record(ld, eventObserved, t0, map[string]any{attrModelName: model, attrKeys: keys, attrLabels: labels})
		r.j.consume(context.Background(), ld)
		r.j.emit(context.Background())
	}
	clk := clock.NewManual(t0)
	disk := &memStore{data: map[string][]byte{}}
	cfg := createDefaultConfig()
	cfg.Models = []ModelConfig{{Name: "configured", Accuracy: 0.5, Calibration: Calibration{Scores: []float64{0, 1}, Probabilities: []float64{1, 1}}}}
	r := newRig(t, cfg, clk, disk)
	send(r, "fraud", "a", "1") // accuracy 1.0: not degraded against 0.9
	send(r, "configured", "a", "1")
	md := last(r.metrics)
	assert.InDelta(t, 0.7, pointOf(t, md, metricEstAccuracy, "fraud"), 1e-12, "the baseline's calibration: 0.8 -> 0.7")
	assert.Equal(t, 0.9, pointOf(t, md, metricReference, "fraud"))
	// Label drift: every actual label is 1 against the baseline's 70%.
	assert.InDelta(t, 0.3, pointOf(t, md, metricLabelDriftDist, "fraud"), 1e-12)
	assert.Less(t, pointOf(t, md, metricLabelDriftP, "fraud"), 1e-10)
	assert.Empty(t, eventsBy(r, attrModelName))
	require.NoError(t, r.j.shutdown(context.Background()))

	second := newRig(t, cfg, clk, disk)
	ld := plog.NewLogs() // predictions without in-band calibration: the restored one applies
	record(ld, eventPredicted, t0, map[string]any{attrModelName: "fraud", attrModelVersion: "1", attrKeys: []any{"z"},
		attrPredClasses: []any{"1"}, attrPredScores: []any{0.8}})
	second.j.consume(context.Background(), ld)
	send(second, "fraud", "b", "0") // 200 wrong of 400: degraded against the baseline's 0.9
	md = last(second.metrics)
	assert.InDelta(t, 0.7, pointOf(t, md, metricEstAccuracy, "fraud"), 1e-12)
	assert.Equal(t, []string{eventDegraded + " fraud"}, eventsBy(second, attrModelName))

	// "configured": the config's accuracy (0.5) and calibration (everything positive) win.
	assert.Equal(t, 0.5, pointOf(t, md, metricReference, "configured"))
	assert.Equal(t, 1.0, pointOf(t, md, metricEstAccuracy, "configured"))
}

// pointOf returns the value of the one model-level point of a metric for a model.
func pointOf(t *testing.T, md pmetric.Metrics, metric, model string) float64 {
	var out []float64
	ms := md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics()
	for i := 0; i < ms.Len(); i++ {
		if m := ms.At(i); m.Name() == metric {
			for p := 0; p < m.Gauge().DataPoints().Len(); p++ {
				dp := m.Gauge().DataPoints().At(p)
				if v, _ := dp.Attributes().Get(attrModelName); v.Str() == model {
					if _, seg := dp.Attributes().Get(attrSegment); !seg {
						out = append(out, dp.DoubleValue())
					}
				}
			}
		}
	}
	require.Len(t, out, 1, metric)
	return out[0]
}
