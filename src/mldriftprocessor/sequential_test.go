// Copyright The modeltel Authors
// SPDX-License-Identifier: Apache-2.0

package mldriftprocessor

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/modeltel/mldriftprocessor/internal/drift"
)

// shiftedStream feeds one feature 60 in-distribution values a second for 30 s, then 60
// shifted values a second, emitting every second, until the first ml.drift.started record
// (at most 60 s of shifted data). It returns the second after the shift of that record
// (-1: none) and its reasons.
func shiftedStream(t *testing.T, h *harness) (int, string) {
	h.consume(t, baselineFor("m", "x"))
	for s := -30; s < 60; s++ {
		if s < 0 {
			h.consume(t, production("a", "m", "x", 6, 18, 24, 12))
		} else {
			h.consume(t, production("a", "m", "x", 12, 24, 18, 6))
		}
		h.clock.Advance(time.Second)
		_, ld := h.p.evaluate()
		if ld.LogRecordCount() > 0 {
			lr := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0)
			require.Equal(t, eventDriftStarted, lr.EventName())
			require.GreaterOrEqual(t, s, 0, "no false alarm on in-distribution data")
			reason, _ := lr.Attributes().Get(attrReason)
			return s, reason.Str()
		}
	}
	return -1, ""
}

// restartedHarness is a new processor (default test config) restored from h's saved state at
// h's time, as after a collector restart.
func restartedHarness(t *testing.T, h *harness) *harness {
	data, err := h.p.store.Marshal()
	require.NoError(t, err)
	restarted := newHarness(t, testConfig())
	restarted.clock.Advance(h.clock.Now().Sub(t0))
	_, err = restarted.p.store.Restore(data)
	require.NoError(t, err)
	return restarted
}

func sequentialRun(t *testing.T, arl float64) (int, string) {
	cfg := testConfig()
	cfg.Thresholds.SequentialARL = arl
	return shiftedStream(t, newHarness(t, cfg))
}

// TestSequentialDetectsBeforeTheWindow: on the same stream, the sequential rule reports a
// shift after a few one-second batches, while the one-minute window needs more of the
// shifted data before its own rules fire; the record names the sequential rule.
func TestSequentialDetectsBeforeTheWindow(t *testing.T) {
	withRule, reason := sequentialRun(t, 1000)
	windowOnly, windowReason := sequentialRun(t, 0)
	require.GreaterOrEqual(t, withRule, 0)
	require.Greater(t, windowOnly, withRule, "window-only detection at %d s", windowOnly)
	require.Equal(t, drift.RuleSequential, reason)
	require.NotContains(t, windowReason, drift.RuleSequential)
	t.Logf("detected after %d s with the sequential rule, %d s with the window alone", withRule, windowOnly)
}

// TestSequentialStateSurvivesRestart: the e-CUSUM statistic, its alarm and the position of
// the next batch are saved with the rest of the state; a processor restored from it keeps
// the alarm (no second ml.drift.started), reports the same statistic and does not test the
// batches it already tested again.
func TestSequentialStateSurvivesRestart(t *testing.T) {
	h := newHarness(t, testConfig())
	s, reason := shiftedStream(t, h)
	require.GreaterOrEqual(t, s, 0)
	require.Equal(t, drift.RuleSequential, reason)
	windows, _ := h.p.store.Snapshot()
	require.True(t, windows[0].SequentialAlarm)
	before := windows[0].Sequential
	restarted := restartedHarness(t, h)
	restarted.consume(t, baselineFor("m", "x"))
	windows, _ = restarted.p.store.Snapshot()
	w := windows[0]
	require.True(t, w.SequentialAlarm)
	require.Equal(t, before, w.Sequential)
	require.Nil(t, w.Batch, "every completed slot was tested before the restart")

	restarted.consume(t, production("a", "m", "x", 12, 24, 18, 6))
	restarted.clock.Advance(time.Second)
	md, ld := restarted.p.evaluate()
	require.Zero(t, ld.LogRecordCount(), "still in drift: no second started record")
	detected, ok := find(md, metricDetected, map[string]string{attrFeatureName: "x"})
	require.True(t, ok)
	require.Equal(t, 1.0, detected)
	_, ok = find(md, metricScore, map[string]string{attrFeatureName: "x", attrMethod: drift.RuleSequential})
	require.True(t, ok)
}

// TestSequentialNeedsAReferenceOf1000Values: against a 100-value baseline the window still
// decides, but the sequential rule stays out (no score, no reason): a small reference's own
// sampling error would be found again by every batch (docs/drift-math.md 9.2).
func TestSequentialNeedsAReferenceOf1000Values(t *testing.T) {
	h := newHarness(t, testConfig())
	h.consume(t, metricsWith("a", func(ms pmetric.MetricSlice) {
		addHistogram(ms, metricBaselineValue, "m", "x", pmetric.AggregationTemporalityCumulative, t0.Add(-time.Hour), t0, 10, 30, 40, 20)
	}))
	var md pmetric.Metrics
	for s := 0; s < 5; s++ {
		h.consume(t, production("a", "m", "x", 12, 24, 18, 6))
		h.clock.Advance(time.Second)
		md, _ = h.p.evaluate()
	}
	_, ok := find(md, metricScore, map[string]string{attrFeatureName: "x", attrMethod: "rank_sum_pvalue"})
	require.True(t, ok, "the window is scored")
	_, ok = find(md, metricScore, map[string]string{attrFeatureName: "x", attrMethod: drift.RuleSequential})
	require.False(t, ok)
}
