// Copyright The modeltel Authors
// SPDX-License-Identifier: Apache-2.0

package mlperformanceconnector

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/modeltel/mlcommon/clock"
)

// testdata/baseline_fraud.json is modeltel.Baseline.save's file of a miscalibrated binary
// model (positive rate 0.8 x score), validation accuracy 0.7655.
const baselinePath = "testdata/baseline_fraud.json"

// TestBaselineFilesFromTheFirstRecord checks that a baseline file gives the version its
// reference, calibration and label counts before any record carries them in-band: the very
// first window (records without ml.performance.* attributes) has the file's reference, an
// estimate through the file's calibration, label drift, and a degraded verdict.
func TestBaselineFilesFromTheFirstRecord(t *testing.T) {
	b, err := loadBaseline(baselinePath)
	require.NoError(t, err)
	cfg := createDefaultConfig()
	cfg.BaselineFiles = []string{baselinePath}
	require.NoError(t, cfg.Validate())
	r := newRig(t, cfg, clock.NewManual(t0), &memStore{data: map[string][]byte{}})
	var keys, classes, scores, labels []any
	var estimated float64
	for i := 0; i < 300; i++ {
		s := 0.55 + 0.4*float64(i)/300
		keys, classes, scores, labels = append(keys, fmt.Sprint(i)), append(classes, "1"), append(scores, s), append(labels, "0")
		estimated += b.Calibration.Apply(s) / 300
	}
	ld := plog.NewLogs()
	record(ld, eventPredicted, t0, map[string]any{attrModelName: "fraud", attrModelVersion: "3.1.0", attrKeys: keys,
		attrPredClasses: classes, attrPredScores: scores})
	record(ld, eventObserved, t0, map[string]any{attrModelName: "fraud", attrKeys: keys, attrLabels: labels})
	r.j.consume(context.Background(), ld)
	r.j.emit(context.Background())
	md := last(r.metrics)
	assert.Equal(t, 0.7655, pointOf(t, md, metricReference, "fraud"))
	assert.InDelta(t, estimated, pointOf(t, md, metricEstAccuracy, "fraud"), 1e-12)
	// Every actual label is 0: the distance is the baseline's share of 1.
	assert.InDelta(t, b.Labels["1"]/(b.Labels["0"]+b.Labels["1"]), pointOf(t, md, metricLabelDriftDist, "fraud"), 1e-12)
	assert.Equal(t, []string{eventDegraded + " fraud"}, eventsBy(r, attrModelName))
}

// TestBaselineFilesPrecedence checks that the config's models: reference wins over a file's.
func TestBaselineFilesPrecedence(t *testing.T) {
	cfg := createDefaultConfig()
	cfg.BaselineFiles = []string{baselinePath}
	cfg.Models = []ModelConfig{{Name: "fraud", Accuracy: 0.5}}
	r := newRig(t, cfg, clock.NewManual(t0), &memStore{data: map[string][]byte{}})
	ld := plog.NewLogs()
	record(ld, eventPredicted, t0, map[string]any{attrModelName: "fraud", attrModelVersion: "3.1.0", attrKeys: "a",
		attrPredClasses: "1", attrPredScores: []any{0.7}})
	record(ld, eventObserved, t0, map[string]any{attrModelName: "fraud", attrKeys: "a", attrLabels: "1"})
	r.j.consume(context.Background(), ld)
	r.j.emit(context.Background())
	assert.Equal(t, 0.5, pointOf(t, last(r.metrics), metricReference, "fraud"))
}

// TestBadBaselineFiles checks that a file the connector cannot use fails the config with an
// error that names the file and the reason.
func TestBadBaselineFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(text), 0o600))
		return p
	}
	good, err := os.ReadFile(baselinePath)
	require.NoError(t, err)
	for name, tc := range map[string]struct {
		paths []string
		want  string
	}{
		"missing":        {[]string{filepath.Join(dir, "nope.json")}, "no such file"},
		"not json":       {[]string{write("a.json", "{")}, "not valid JSON"},
		"newer format":   {[]string{write("b.json", `{"schema_version": 9, "model": "m", "performance": {}}`)}, "schema_version 9"},
		"no performance": {[]string{write("c.json", `{"schema_version": 1, "model": "m"}`)}, "no performance section"},
		"bad accuracy":   {[]string{write("d.json", `{"schema_version": 1, "model": "m", "performance": {"metrics": {"accuracy": 2}}}`)}, "accuracy 2"},
		"bad calibration": {[]string{write("e.json", `{"schema_version": 1, "model": "m", "performance": {"calibration": {"scores": [0.5, 0.1], "probabilities": [0.2, 0.3]}}}`)},
			"scores must ascend"},
		"twice": {[]string{baselinePath, write("f.json", string(good))}, "both model \"fraud\" version \"3.1.0\""},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := createDefaultConfig()
			cfg.BaselineFiles = tc.paths
			err := cfg.Validate()
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.Contains(t, err.Error(), "baseline_files")
		})
	}
}
