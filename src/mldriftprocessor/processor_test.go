// Copyright The modeltel Authors
// SPDX-License-Identifier: Apache-2.0

package mldriftprocessor

import (
	"context"
	"flag"
	"fmt"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/golden"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/pdatatest/plogtest"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/pdatatest/pmetrictest"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/modeltel/mlcommon/clock"
	"github.com/modeltel/mldriftprocessor/internal/drift"
	"github.com/modeltel/mldriftprocessor/internal/state"
)

var update = flag.Bool("update", false, "rewrite the expected golden files of testdata/ from the current output")

// t0 is the time of the golden inputs' points; the manual clock starts there.
var t0 = time.Unix(0, 1_700_000_000_000_000_000)

type harness struct {
	p     *driftProcessor
	clock *clock.Manual
	sink  *consumertest.MetricsSink
	logs  *consumertest.LogsSink
}

func newHarness(t testing.TB, cfg *Config) *harness {
	t.Helper()
	require.NoError(t, cfg.Validate())
	clk := clock.NewManual(t0)
	p, err := newProcessor(processortest.NewNopSettings(metadata.Type), cfg, clk)
	require.NoError(t, err)
	h := &harness{p: p, clock: clk, sink: new(consumertest.MetricsSink), logs: new(consumertest.LogsSink)}
	p.shared.SetMetrics(h.sink)
	p.shared.SetLogs(h.logs)
	return h
}

func (h *harness) consume(t testing.TB, md pmetric.Metrics) {
	t.Helper()
	require.NoError(t, h.p.ConsumeMetrics(context.Background(), md))
}

// testConfig is the default config with windows short enough for tests.
func testConfig() *Config {
	cfg := createDefaultConfig()
	cfg.Window, cfg.SlotSize = time.Minute, time.Second
	cfg.StaleAfter = 5 * time.Minute
	return cfg
}

// TestGolden feeds each testdata/<case>/input*.yaml in order (one second apart), checks
// that every input passed through unchanged, then calls the emit step directly and
// compares its metrics with expected.yaml and its log records with expected-logs.yaml.
func TestGolden(t *testing.T) {
	entries, err := os.ReadDir("testdata")
	require.NoError(t, err)
	var cases []string
	for _, e := range entries {
		if e.IsDir() && e.Name() != "fuzz" { // testdata/fuzz: go test -fuzz's regression corpus
			cases = append(cases, filepath.Join("testdata", e.Name()))
		}
	}
	require.NotEmpty(t, cases)
	for _, dir := range cases {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			h := newHarness(t, testConfig())
			inputs, err := filepath.Glob(filepath.Join(dir, "input*.yaml"))
			require.NoError(t, err)
			require.NotEmpty(t, inputs)
			sort.Strings(inputs)
			for _, in := range inputs {
				md, err := golden.ReadMetrics(in)
				require.NoError(t, err)
				h.consume(t, md)
				h.clock.Advance(time.Second)
			}
			passed := h.sink.AllMetrics()
			require.Len(t, passed, len(inputs))
			for i, in := range inputs {
				want, err := golden.ReadMetrics(in)
				require.NoError(t, err)
				require.NoError(t, pmetrictest.CompareMetrics(want, passed[i]), "input %s must pass through unchanged", in)
			}

			md, ld := h.p.evaluate()
			expected := filepath.Join(dir, "expected.yaml")
			expectedLogs := filepath.Join(dir, "expected-logs.yaml")
			if *update {
				require.NoError(t, golden.WriteMetrics(t, expected, md, golden.SkipMetricTimestampNormalization()))
				if ld.LogRecordCount() > 0 {
					require.NoError(t, golden.WriteLogs(t, expectedLogs, ld))
				}
				return
			}
			want, err := golden.ReadMetrics(expected)
			require.NoError(t, err)
			require.NoError(t, pmetrictest.CompareMetrics(want, md, pmetrictest.IgnoreMetricDataPointsOrder()))
			if _, err := os.Stat(expectedLogs); err == nil {
				wantLogs, err := golden.ReadLogs(expectedLogs)
				require.NoError(t, err)
				require.NoError(t, plogtest.CompareLogs(wantLogs, ld))
			} else {
				require.Zero(t, ld.LogRecordCount(), "no drift transition expected")
			}
		})
	}
}

// ---------------------------------------------------------------------------- builders

const bid = "b1"

var bounds = []float64{0, 1, 2}

func featureAttrsMap(m pcommon.Map, model, feature string) {
	m.PutStr(attrModelName, model)
	m.PutStr(attrModelVersion, "1")
	m.PutStr(attrFeatureName, feature)
	m.PutStr(attrFeatureRole, roleInput)
	m.PutStr(attrBaselineID, bid)
}

// metricsWith returns one resource (replica) with one metric.
func metricsWith(instance string, fill func(ms pmetric.MetricSlice)) pmetric.Metrics {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("service.instance.id", instance)
	fill(rm.ScopeMetrics().AppendEmpty().Metrics())
	return md
}

func addHistogram(ms pmetric.MetricSlice, name, model, feature string, temporality pmetric.AggregationTemporality, start, ts time.Time, counts ...uint64) {
	m := ms.AppendEmpty()
	m.SetName(name)
	h := m.SetEmptyHistogram()
	h.SetAggregationTemporality(temporality)
	dp := h.DataPoints().AppendEmpty()
	featureAttrsMap(dp.Attributes(), model, feature)
	dp.ExplicitBounds().FromRaw(bounds)
	dp.BucketCounts().FromRaw(counts)
	var n uint64
	for _, c := range counts {
		n += c
	}
	dp.SetCount(n)
	dp.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
	dp.SetTimestamp(pcommon.NewTimestampFromTime(ts))
}

func baselineFor(model string, features ...string) pmetric.Metrics {
	return metricsWith("a", func(ms pmetric.MetricSlice) {
		for _, f := range features {
			addHistogram(ms, metricBaselineValue, model, f, pmetric.AggregationTemporalityCumulative, t0.Add(-time.Hour), t0, 100, 300, 400, 200)
		}
	})
}

func production(instance, model, feature string, counts ...uint64) pmetric.Metrics {
	return metricsWith(instance, func(ms pmetric.MetricSlice) {
		addHistogram(ms, metricFeatureValue, model, feature, pmetric.AggregationTemporalityDelta, t0, t0, counts...)
	})
}

// find returns the value of the first point of metric name whose attributes include want.
func find(md pmetric.Metrics, name string, want map[string]string) (float64, bool) {
	ms := md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics()
	for i := 0; i < ms.Len(); i++ {
		m := ms.At(i)
		if m.Name() != name {
			continue
		}
		dps := m.Gauge().DataPoints()
	points:
		for j := 0; j < dps.Len(); j++ {
			dp := dps.At(j)
			for k, v := range want {
				got, ok := dp.Attributes().Get(k)
				if !ok || got.AsString() != v {
					continue points
				}
			}
			if dp.ValueType() == pmetric.NumberDataPointValueTypeInt {
				return float64(dp.IntValue()), true
			}
			return dp.DoubleValue(), true
		}
	}
	return 0, false
}

// ---------------------------------------------------------------------------- behaviour

// TestReplicasMergeAndScoresMatchTheMath checks that points of three replicas are summed
// into one window and that the emitted PSI is drift.PSI of the merged counts.
func TestReplicasMergeAndScoresMatchTheMath(t *testing.T) {
	h := newHarness(t, testConfig())
	h.consume(t, baselineFor("m", "x"))
	h.consume(t, production("a", "m", "x", 100, 50, 30, 20))
	h.consume(t, production("b", "m", "x", 150, 50, 50, 0))
	h.consume(t, production("c", "m", "x", 150, 200, 120, 30))
	md, _ := h.p.evaluate()
	n, ok := find(md, metricSampleCount, map[string]string{attrFeatureName: "x"})
	require.True(t, ok)
	require.Equal(t, 950.0, n)
	psi, ok := find(md, metricScore, map[string]string{attrFeatureName: "x", attrMethod: "psi"})
	require.True(t, ok)
	require.InDelta(t, drift.PSI([]float64{100, 300, 400, 200}, []float64{400, 300, 200, 50}, drift.Epsilon), psi, 1e-12)
}

// TestDriftLogsAreEdgeTriggered checks one WARN record on entering drift, none while the
// feature stays drifted, and one INFO record when it leaves drift.
func TestDriftLogsAreEdgeTriggered(t *testing.T) {
	cfg := testConfig()
	cfg.Thresholds.SequentialARL = 0 // the window's edges (sequential_test.go has the rule's)
	h := newHarness(t, cfg)
	h.consume(t, baselineFor("m", "x"))
	h.consume(t, production("a", "m", "x", 400, 300, 200, 100))
	_, ld := h.p.evaluate()
	require.Equal(t, 1, ld.LogRecordCount())
	lr := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0)
	require.Equal(t, plog.SeverityNumberWarn, lr.SeverityNumber())
	require.Equal(t, eventDriftStarted, lr.EventName())
	method, _ := lr.Attributes().Get(attrMethod)
	require.Equal(t, "rank_sum_qvalue", method.Str())
	reason, _ := lr.Attributes().Get(attrReason)
	require.Equal(t, "rank_sum,chi2_contingency", reason.Str())
	window, _ := lr.Attributes().Get(attrWindow)
	require.Equal(t, 60.0, window.Double())

	h.clock.Advance(10 * time.Second)
	h.consume(t, production("a", "m", "x", 400, 300, 200, 100))
	_, ld = h.p.evaluate()
	require.Zero(t, ld.LogRecordCount(), "still drifting: no new record")

	// The drifted data leaves the one-minute window; in-distribution data replaces it.
	h.clock.Advance(time.Minute)
	h.consume(t, baselineFor("m", "x"))
	h.consume(t, production("a", "m", "x", 100, 300, 400, 200))
	md, ld := h.p.evaluate()
	require.Equal(t, 1, ld.LogRecordCount())
	lr = ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0)
	require.Equal(t, plog.SeverityNumberInfo, lr.SeverityNumber())
	require.Equal(t, eventDriftEnded, lr.EventName())
	detected, ok := find(md, metricDetected, map[string]string{attrFeatureName: "x"})
	require.True(t, ok)
	require.Zero(t, detected)
}

// TestWindowSlides checks that data older than the window no longer counts.
func TestWindowSlides(t *testing.T) {
	h := newHarness(t, testConfig())
	h.consume(t, baselineFor("m", "x"))
	h.consume(t, production("a", "m", "x", 100, 100, 100, 100))
	h.clock.Advance(30 * time.Second)
	h.consume(t, production("a", "m", "x", 10, 10, 10, 10))
	md, _ := h.p.evaluate()
	n, _ := find(md, metricSampleCount, map[string]string{attrFeatureName: "x"})
	require.Equal(t, 440.0, n)
	h.clock.Advance(31 * time.Second) // the first batch's slot is now older than one minute
	md, _ = h.p.evaluate()
	n, _ = find(md, metricSampleCount, map[string]string{attrFeatureName: "x"})
	require.Equal(t, 40.0, n)
}

// TestStaleStreamsExpire checks that a feature without data for stale_after is removed.
func TestStaleStreamsExpire(t *testing.T) {
	h := newHarness(t, testConfig())
	h.consume(t, production("a", "m", "x", 1, 2, 3, 4))
	require.Equal(t, 1, h.p.store.Len())
	h.clock.Advance(4 * time.Minute)
	h.p.evaluate()
	require.Equal(t, 1, h.p.store.Len())
	h.clock.Advance(2 * time.Minute)
	md, _ := h.p.evaluate()
	require.Equal(t, 0, h.p.store.Len())
	_, ok := find(md, metricSampleCount, map[string]string{attrFeatureName: "x"})
	require.False(t, ok)
}

// TestMaxStreamsAndFeaturesAreBounded checks that streams beyond max_streams and
// features beyond max_features_per_model are dropped and counted, and the rest kept.
func TestMaxStreamsAndFeaturesAreBounded(t *testing.T) {
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	cfg := testConfig()
	cfg.MaxStreams, cfg.MaxFeaturesPerModel = 3, 2
	set := processortest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = tel.NewTelemetrySettings()
	p, err := newProcessor(set, cfg, clock.NewManual(t0))
	require.NoError(t, err)
	p.shared.SetMetrics(consumertest.NewNop())
	for _, f := range []string{"a", "b", "c"} { // c: third feature of model m
		require.NoError(t, p.ConsumeMetrics(context.Background(), production("i", "m", f, 1, 1, 1, 1)))
	}
	for _, model := range []string{"n", "o"} { // o: fourth stream
		require.NoError(t, p.ConsumeMetrics(context.Background(), production("i", model, "a", 1, 1, 1, 1)))
	}
	require.Equal(t, 3, p.store.Len())
	got, err := tel.GetMetric("otelcol_processor_mldrift_points_dropped")
	require.NoError(t, err)
	byReason := map[string]int64{}
	for _, dp := range got.Data.(metricdata.Sum[int64]).DataPoints {
		reason, _ := dp.Attributes.Value("reason")
		byReason[reason.AsString()] += dp.Value
	}
	require.Equal(t, map[string]int64{state.DropMaxFeatures: 1, state.DropMaxStreams: 1}, byReason)
}

// exponential returns one replica's delta exponential histogram of values (scale 3).
func exponential(model, feature string, values []float64) pmetric.Metrics {
	return exponentialAt(3, model, feature, values)
}

// exponentialAt is exponential at another scale (the SDK picks the largest scale at which
// 160 buckets cover the data: 7 for values between 60 and 140).
func exponentialAt(scale int32, model, feature string, values []float64) pmetric.Metrics {
	return metricsWith("a", func(ms pmetric.MetricSlice) {
		m := ms.AppendEmpty()
		m.SetName(metricFeatureValue)
		eh := m.SetEmptyExponentialHistogram()
		eh.SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
		dp := eh.DataPoints().AppendEmpty()
		dp.Attributes().PutStr(attrModelName, model)
		dp.Attributes().PutStr(attrModelVersion, "1")
		dp.Attributes().PutStr(attrFeatureName, feature)
		dp.Attributes().PutStr(attrFeatureRole, roleInput)
		dp.SetScale(scale)
		buckets := map[int32]uint64{}
		lo, hi := int32(math.MaxInt32), int32(math.MinInt32)
		vmin, vmax := math.Inf(1), math.Inf(-1)
		for _, v := range values {
			i := int32(math.Ceil(math.Log2(v)*math.Exp2(float64(scale)))) - 1
			buckets[i]++
			lo, hi = min(lo, i), max(hi, i)
			vmin, vmax = math.Min(vmin, v), math.Max(vmax, v)
		}
		counts := make([]uint64, hi-lo+1)
		for i, c := range buckets {
			counts[i-lo] = c
		}
		dp.Positive().SetOffset(lo)
		dp.Positive().BucketCounts().FromRaw(counts)
		dp.SetCount(uint64(len(values)))
		dp.SetMin(vmin)
		dp.SetMax(vmax)
	})
}

func around(center float64, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = center + float64(i%50) // 50 distinct values over a range of 50
	}
	return out
}

// TestWithoutBaselineTheFirstFullWindowIsTheReference checks numeric features sent as
// exponential histograms (no baseline): no score until the feature was seen for a whole
// window with min_samples values; then that window is frozen as the reference, data like it
// does not drift, and data that moved does.
func TestWithoutBaselineTheFirstFullWindowIsTheReference(t *testing.T) {
	h := newHarness(t, testConfig())
	h.consume(t, exponential("m", "x", around(100, 600)))
	md, _ := h.p.evaluate()
	n, _ := find(md, metricSampleCount, map[string]string{attrFeatureName: "x"})
	require.Equal(t, 600.0, n)
	_, scored := find(md, metricScore, map[string]string{attrFeatureName: "x", attrMethod: "psi"})
	require.False(t, scored, "no reference yet")

	h.clock.Advance(time.Minute - time.Second) // seen for a whole window: frozen now
	md, _ = h.p.evaluate()
	psi, scored := find(md, metricScore, map[string]string{attrFeatureName: "x", attrMethod: "psi"})
	require.True(t, scored)
	require.Zero(t, psi, "the reference compared with itself")

	h.clock.Advance(2 * time.Second) // the reference data left the window
	h.consume(t, exponential("m", "x", around(100, 600)))
	md, ld := h.p.evaluate()
	detected, _ := find(md, metricDetected, map[string]string{attrFeatureName: "x"})
	require.Zero(t, detected)
	require.Zero(t, ld.LogRecordCount())

	h.clock.Advance(time.Minute)
	h.consume(t, exponential("m", "x", around(400, 600)))
	md, ld = h.p.evaluate()
	detected, _ = find(md, metricDetected, map[string]string{attrFeatureName: "x"})
	require.Equal(t, 1.0, detected)
	require.Equal(t, 1, ld.LogRecordCount())
}

// TestConcurrentConsumeAndEmit checks that replicas' exports arriving on several
// goroutines while the emit step runs lose nothing (run under -race to check locking).
func TestConcurrentConsumeAndEmit(t *testing.T) {
	h := newHarness(t, testConfig())
	h.consume(t, baselineFor("m", "x"))
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 50; i++ {
			h.p.evaluate()
		}
	}()
	errs := make(chan error, 4)
	for r := 0; r < 4; r++ {
		go func(r int) {
			var err error
			for i := 0; i < 100 && err == nil; i++ {
				err = h.p.ConsumeMetrics(context.Background(), production(fmt.Sprint(r), "m", "x", 1, 1, 1, 1))
			}
			errs <- err
		}(r)
	}
	for r := 0; r < 4; r++ {
		require.NoError(t, <-errs)
	}
	<-done
	md, _ := h.p.evaluate()
	n, _ := find(md, metricSampleCount, map[string]string{attrFeatureName: "x"})
	require.Equal(t, 4*100*4.0, n)
}

// selfReferenced sends first, a feature's points without ml.baseline.id, and checks that its
// first full window is scored against itself (PSI 0); then it sends later, once that window
// has become the reference, and returns that emit.
func selfReferenced(t *testing.T, feature string, first, later pmetric.Metrics) (pmetric.Metrics, plog.Logs) {
	t.Helper()
	h := newHarness(t, testConfig())
	h.consume(t, first)
	h.clock.Advance(59 * time.Second)
	md, _ := h.p.evaluate()
	psi, scored := find(md, metricScore, map[string]string{attrFeatureName: feature, attrMethod: "psi"})
	require.True(t, scored)
	require.Zero(t, psi)
	h.clock.Advance(2 * time.Second)
	h.consume(t, later)
	return h.p.evaluate()
}

// TestCategoricalWithoutBaselineUsesItsFirstWindow checks that category counts without
// ml.baseline.id are compared with the feature's own first full window, labels that
// appear later included.
func TestCategoricalWithoutBaselineUsesItsFirstWindow(t *testing.T) {
	counts := func(values map[string]int64) pmetric.Metrics {
		return metricsWith("a", func(ms pmetric.MetricSlice) {
			m := ms.AppendEmpty()
			m.SetName(metricCategoryCount)
			s := m.SetEmptySum()
			s.SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
			for label, n := range values {
				dp := s.DataPoints().AppendEmpty()
				dp.Attributes().PutStr(attrModelName, "m")
				dp.Attributes().PutStr(attrModelVersion, "1")
				dp.Attributes().PutStr(attrFeatureName, "c")
				dp.Attributes().PutStr(attrFeatureRole, roleInput)
				dp.Attributes().PutStr(attrCategory, label)
				dp.SetIntValue(n)
			}
		})
	}
	md, ld := selfReferenced(t, "c", counts(map[string]int64{"a": 400, "b": 200}), counts(map[string]int64{"a": 100, "b": 200, "new": 300}))
	detected, _ := find(md, metricDetected, map[string]string{attrFeatureName: "c"})
	require.Equal(t, 1.0, detected)
	require.Equal(t, 1, ld.LogRecordCount())
	lr := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0)
	require.Contains(t, lr.Body().Str(), "first full window")
	reason, _ := lr.Attributes().Get(attrReason)
	require.Contains(t, reason.Str(), "unseen_category", "a label the reference never saw is in the last (__other__) cell")
}

// TestExplicitWithoutBaselineIDUsesItsFirstWindow checks explicit-bucket histograms sent
// without ml.baseline.id (another producer's fixed buckets): compared with the feature's
// first full window on the same bounds.
func TestExplicitWithoutBaselineIDUsesItsFirstWindow(t *testing.T) {
	unlabelled := func(counts ...uint64) pmetric.Metrics {
		md := production("a", "m", "x", counts...)
		dp := md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(0).Histogram().DataPoints().At(0)
		dp.Attributes().Remove(attrBaselineID)
		return md
	}
	md, ld := selfReferenced(t, "x", unlabelled(100, 300, 400, 200), unlabelled(400, 300, 200, 100))
	got, _ := find(md, metricScore, map[string]string{attrFeatureName: "x", attrMethod: "psi"})
	require.InDelta(t, drift.PSI([]float64{100, 300, 400, 200}, []float64{400, 300, 200, 100}, drift.Epsilon), got, 1e-12)
	require.Equal(t, 1, ld.LogRecordCount())
}

// normalValues returns n values of a normal(mean, sd) distribution (positive for the test's
// exponential histograms).
func normalValues(rng *rand.Rand, n int, mean, sd float64) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = mean + sd*rng.NormFloat64()
	}
	return out
}

// TestWithoutBaselineIdenticalTrafficNeverDriftsAndAShiftDoes feeds a feature without a
// baseline the same distribution for 40 windows after its reference froze: the frozen
// reference (scale 7: ~150 fine buckets) is cut into RefBins equal-mass bins, so no window
// drifts and PSI stays small (on the fine buckets it is ~0.4);
// then a +1 sigma shift is drift. The reference's stability p-value is reported.
func TestWithoutBaselineIdenticalTrafficNeverDriftsAndAShiftDoes(t *testing.T) {
	h := newHarness(t, testConfig())
	rng := rand.New(rand.NewSource(3))
	// One window (60 s of 1 s slots): 600 values at 0, 20 and 40 s, evaluated at 59 s; the
	// next window starts a second later with no overlap.
	feed := func(mean float64) {
		for s := 0; s < 3; s++ {
			h.consume(t, exponentialAt(7, "m", "x", normalValues(rng, 200, mean, 10)))
			h.clock.Advance(20 * time.Second)
		}
		h.clock.Advance(-time.Second)
	}
	next := func() { h.clock.Advance(time.Second) }
	feed(100)
	md, _ := h.p.evaluate() // first full window: frozen now
	stability, ok := find(md, metricScore, map[string]string{attrFeatureName: "x", attrMethod: methodReferenceStability})
	require.True(t, ok, "the frozen reference's stability is reported")
	require.Greater(t, stability, 0.01)
	drifted, maxPSI := 0, 0.0
	for i := 0; i < 40; i++ {
		next()
		feed(100)
		md, ld := h.p.evaluate()
		d, ok := find(md, metricDetected, map[string]string{attrFeatureName: "x"})
		require.True(t, ok)
		psi, _ := find(md, metricScore, map[string]string{attrFeatureName: "x", attrMethod: "psi"})
		maxPSI = math.Max(maxPSI, psi)
		drifted += int(d)
		require.Zero(t, ld.LogRecordCount())
	}
	require.Zero(t, drifted, "identical traffic, 40 windows")
	require.Less(t, maxPSI, 0.15, "20 equal-mass bins: PSI ~ (1/600+1/600)*19 ~ 0.06 under no drift")
	next()
	feed(110)
	md, ld := h.p.evaluate()
	d, _ := find(md, metricDetected, map[string]string{attrFeatureName: "x"})
	require.Equal(t, 1.0, d, "a +1 sigma shift")
	require.Equal(t, 1, ld.LogRecordCount())
}

// TestWithoutBaselineADriftingFirstWindowIsReported checks that a reference frozen while
// its data moved (the second half shifted) is said to be drifting: a small stability
// p-value and the log record naming it.
func TestWithoutBaselineADriftingFirstWindowIsReported(t *testing.T) {
	h := newHarness(t, testConfig())
	rng := rand.New(rand.NewSource(4))
	for s := 0; s < 4; s++ {
		mean := 100.0
		if s >= 2 {
			mean = 115
		}
		h.consume(t, exponential("m", "x", normalValues(rng, 300, mean, 10)))
		h.clock.Advance(15 * time.Second)
	}
	md, _ := h.p.evaluate()
	stability, ok := find(md, metricScore, map[string]string{attrFeatureName: "x", attrMethod: methodReferenceStability})
	require.True(t, ok)
	require.Less(t, stability, 1e-6)
	h.consume(t, exponential("m", "x", normalValues(rng, 1200, 140, 10)))
	h.clock.Advance(time.Minute)
	h.consume(t, exponential("m", "x", normalValues(rng, 1200, 140, 10)))
	_, ld := h.p.evaluate()
	require.Equal(t, 1, ld.LogRecordCount())
	body := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).Body().Str()
	require.Contains(t, body, "which was itself drifting")
}

// TestHugeCountsNeverComeOutNegative checks that a bucket count of 2^64-1 gives a positive
// (saturated) sample count, not a wrapped negative number.
func TestHugeCountsNeverComeOutNegative(t *testing.T) {
	h := newHarness(t, testConfig())
	h.consume(t, baselineFor("m", "x"))
	h.consume(t, production("a", "m", "x", math.MaxUint64, 300, 200, 100))
	md, _ := h.p.evaluate()
	n, ok := find(md, metricSampleCount, map[string]string{attrFeatureName: "x"})
	require.True(t, ok)
	require.Equal(t, float64(math.MaxInt64), n)
}

func addSum(ms pmetric.MetricSlice, name, model, feature string, temporality pmetric.AggregationTemporality, v int64) {
	m := ms.AppendEmpty()
	m.SetName(name)
	s := m.SetEmptySum()
	s.SetAggregationTemporality(temporality)
	s.SetIsMonotonic(true)
	dp := s.DataPoints().AppendEmpty()
	featureAttrsMap(dp.Attributes(), model, feature)
	dp.SetIntValue(v)
	dp.SetStartTimestamp(pcommon.NewTimestampFromTime(t0.Add(-time.Hour)))
	dp.SetTimestamp(pcommon.NewTimestampFromTime(t0))
}

// TestInBandBaselineNullCountRunsTheNullRateRule checks that the null count an SDK sends
// with its in-band baseline (ml.baseline.feature.missing, after the distribution) makes
// the null_rate rule run: a window with 5% nulls against a baseline with none is drift
// with reason null_rate, the baseline's re-sent histogram keeps the count, and without
// the count the rule does not run at all.
func TestInBandBaselineNullCountRunsTheNullRateRule(t *testing.T) {
	for _, withCount := range []bool{true, false} {
		h := newHarness(t, testConfig())
		for range 2 { // the SDK re-sends its in-band baseline on every export
			h.consume(t, metricsWith("a", func(ms pmetric.MetricSlice) {
				addHistogram(ms, metricBaselineValue, "m", "x", pmetric.AggregationTemporalityCumulative, t0.Add(-time.Hour), t0, 1000, 3000, 4000, 2000)
				if withCount {
					addSum(ms, metricBaselineMissing, "m", "x", pmetric.AggregationTemporalityCumulative, 0)
				}
			}))
		}
		h.consume(t, production("a", "m", "x", 100, 300, 400, 200))
		h.consume(t, metricsWith("a", func(ms pmetric.MetricSlice) {
			addSum(ms, metricMissing, "m", "x", pmetric.AggregationTemporalityDelta, 53)
		}))
		md, _ := h.p.evaluate()
		p, ok := find(md, metricScore, map[string]string{attrFeatureName: "x", attrMethod: "null_rate_pvalue"})
		detected, _ := find(md, metricDetected, map[string]string{attrFeatureName: "x"})
		if !withCount {
			require.False(t, ok, "no reference null count: no null_rate rule")
			require.Equal(t, 0.0, detected)
			continue
		}
		require.True(t, ok)
		require.Less(t, p, 1e-10)
		require.Equal(t, 1.0, detected)
	}
}
