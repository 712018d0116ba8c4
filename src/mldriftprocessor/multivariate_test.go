// Copyright The modeltel Authors
// SPDX-License-Identifier: Apache-2.0

package mldriftprocessor

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/modeltel/mlcommon/walk"
)

// multivariateLogs returns the records of ld with ml.drift.scope = multivariate.
func multivariateLogs(ld plog.Logs) []plog.LogRecord {
	var out []plog.LogRecord
	for _, lr := range walk.LogRecords(ld) {
		if v, ok := lr.Attributes().Get(attrScope); ok && v.Str() == scopeMultivariate {
			out = append(out, lr)
		}
	}
	return out
}

// sendModel sends the baseline of model m's features, then a production window of each
// with the baseline's counts, except for the feature drifting (none when ""), whose
// variance collapsed.
func (h *harness) sendModel(t *testing.T, features []string, drifting string) {
	t.Helper()
	h.consume(t, baselineFor("m", features...))
	for _, f := range features {
		counts := []uint64{100, 300, 400, 200} // baselineFor's
		if f == drifting {
			counts = []uint64{20, 480, 480, 20}
		}
		h.consume(t, production("r1", "m", f, counts...))
	}
}

// TestMultivariateVerdictIsModelLevelAndEdgeTriggered checks that a drifting projection
// feature (__projection_1__) makes the model's ml.drift.multivariate.detected 1 with one
// WARN ml.drift.started record (scope multivariate, the projection as the reason) while the
// other inputs are unchanged and the dataset verdict leaves projections out; the record is
// not repeated while the drift lasts, and an INFO ml.drift.ended follows once it is gone.
func TestMultivariateVerdictIsModelLevelAndEdgeTriggered(t *testing.T) {
	h := newHarness(t, testConfig())
	features := []string{"a", "b", "__projection_0__", "__projection_1__"}
	h.sendModel(t, features, "__projection_1__")
	md, ld := h.p.evaluate()
	v, ok := find(md, metricMultivariate, map[string]string{attrModelName: "m"})
	require.True(t, ok)
	require.Equal(t, 1.0, v)
	ds, ok := find(md, metricDatasetShare, map[string]string{attrModelName: "m"})
	require.True(t, ok)
	require.Zero(t, ds, "projections do not count towards the dataset share")
	recs := multivariateLogs(ld)
	require.Len(t, recs, 1)
	require.Equal(t, eventDriftStarted, recs[0].EventName())
	require.Equal(t, plog.SeverityNumberWarn, recs[0].SeverityNumber())
	reason, _ := recs[0].Attributes().Get(attrReason)
	require.Equal(t, "__projection_1__", reason.Str())
	_, hasFeature := recs[0].Attributes().Get(attrFeatureName)
	require.False(t, hasFeature, "a model-level record")

	h.clock.Advance(10 * time.Second)
	h.consume(t, production("r1", "m", "__projection_1__", 20, 480, 480, 20))
	_, ld = h.p.evaluate()
	require.Empty(t, multivariateLogs(ld), "still drifting: no new record")

	h.clock.Advance(time.Minute)
	h.sendModel(t, features, "")
	md, ld = h.p.evaluate()
	v, _ = find(md, metricMultivariate, map[string]string{attrModelName: "m"})
	require.Zero(t, v)
	recs = multivariateLogs(ld)
	require.Len(t, recs, 1)
	require.Equal(t, eventDriftEnded, recs[0].EventName())
}

// TestNoProjectionsNoMultivariateVerdict checks that a model without projection features
// gets no multivariate gauge.
func TestNoProjectionsNoMultivariateVerdict(t *testing.T) {
	h := newHarness(t, testConfig())
	h.consume(t, baselineFor("m", "x"))
	h.consume(t, production("r1", "m", "x", 400, 300, 200, 100))
	md, _ := h.p.evaluate()
	_, ok := find(md, metricMultivariate, map[string]string{attrModelName: "m"})
	require.False(t, ok)
}

// TestMultivariateStateSurvivesRestart checks that a processor restored from the saved state
// of a model in multivariate drift does not log a second ml.drift.started (the verdict's edge
// state is the projections' own, which the state keeps), and logs ml.drift.ended once the
// drift is gone.
func TestMultivariateStateSurvivesRestart(t *testing.T) {
	h := newHarness(t, testConfig())
	features := []string{"a", "__projection_0__", "__projection_1__"}
	h.sendModel(t, features, "__projection_1__")
	_, ld := h.p.evaluate()
	require.Len(t, multivariateLogs(ld), 1)
	restarted := restartedHarness(t, h)
	restarted.consume(t, baselineFor("m", features...))
	md, ld := restarted.p.evaluate()
	v, ok := find(md, metricMultivariate, map[string]string{attrModelName: "m"})
	require.True(t, ok)
	require.Equal(t, 1.0, v)
	require.Empty(t, multivariateLogs(ld), "still in multivariate drift after the restart: no second record")

	restarted.clock.Advance(time.Minute)
	restarted.sendModel(t, features, "")
	_, ld = restarted.p.evaluate()
	recs := multivariateLogs(ld)
	require.Len(t, recs, 1)
	require.Equal(t, eventDriftEnded, recs[0].EventName())
}
