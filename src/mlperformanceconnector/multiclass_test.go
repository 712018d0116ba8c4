// Copyright The modeltel Authors
// SPDX-License-Identifier: Apache-2.0

package mlperformanceconnector

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/modeltel/mlcommon/clock"
)

// multiclassVector is tests/vectors/performance/multiclass_probabilities.json (scikit-learn).
type multiclassVector struct {
	Columns []string `json:"probability_classes"`
	Rows    struct {
		Actual        []string    `json:"actual"`
		Predicted     []string    `json:"predicted"`
		Probabilities [][]float64 `json:"probabilities"`
	} `json:"rows"`
	Expected struct {
		Accuracy float64 `json:"accuracy"`
		LogLoss  float64 `json:"log_loss"`
		Brier    float64 `json:"brier"`
	} `json:"expected"`
}

func packFloats(rows [][]float64) []byte {
	var b []byte
	for _, row := range rows {
		for _, q := range row {
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(q))
		}
	}
	return b
}

// TestMulticlassLogLossAndBrier sends the shared multiclass vector in the SDK's packed form
// (every class's probability per row), a third of the outcomes before their predictions, with a
// restart on the same storage while two thirds of the predictions are still pending with their
// probabilities: the connector's log loss, Brier score and accuracy equal scikit-learn's to
// 1e-9, and the additive sums over ml.performance.log_loss.count give the same figure.
func TestMulticlassLogLossAndBrier(t *testing.T) {
	raw, err := os.ReadFile("../../tests/vectors/performance/multiclass_probabilities.json")
	require.NoError(t, err)
	var v multiclassVector
	require.NoError(t, json.Unmarshal(raw, &v))
	n := len(v.Rows.Actual)
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("%032x:%d", i/100, i%100)
	}
	clk := clock.NewManual(t0)
	disk := &memStore{data: map[string][]byte{}}
	cfg := createDefaultConfig()
	cfg.TTL = time.Hour
	first := newRig(t, cfg, clk, disk)
	early := n / 3
	ld := plog.NewLogs()
	record(ld, eventObserved, t0, map[string]any{attrModelName: "mode", attrKeys: strings.Join(keys[:early], "\x1f"),
		attrLabels: strings.Join(v.Rows.Actual[:early], "\x1f")})
	record(ld, eventPredicted, t0, map[string]any{attrModelName: "mode", attrModelVersion: "1",
		attrKeys: strings.Join(keys, "\x1f"), attrPredClasses: strings.Join(v.Rows.Predicted, "\x1f"),
		attrPredProbs: packFloats(v.Rows.Probabilities), attrProbClasses: strings.Join(v.Columns, "\x1f")})
	first.j.consume(context.Background(), ld)
	require.Equal(t, n, first.j.store.Pending())
	require.NoError(t, first.j.shutdown(context.Background()))

	second := newRig(t, cfg, clk, disk)
	ld = plog.NewLogs()
	record(ld, eventObserved, t0.Add(time.Minute), map[string]any{attrModelName: "mode",
		attrKeys: strings.Join(keys[early:], "\x1f"), attrLabels: strings.Join(v.Rows.Actual[early:], "\x1f")})
	second.j.consume(context.Background(), ld)
	second.j.emit(context.Background())
	md := last(second.metrics)
	id := "[ml.model.version=1]"
	assert.InDelta(t, v.Expected.Accuracy, points(md, metricAccuracy)[id], 1e-12)
	assert.InDelta(t, v.Expected.Accuracy*float64(n), points(md, metricCorrect)[id], 1e-9, "correct rows: sum/sum gives accuracy")
	assert.InDelta(t, v.Expected.LogLoss, points(md, metricLogLoss)[id], 1e-9)
	assert.InDelta(t, v.Expected.Brier, points(md, metricBrier)[id], 1e-9)
	count := points(md, metricLogLossCount)[id]
	assert.Equal(t, float64(n), count)
	assert.InDelta(t, v.Expected.LogLoss, points(md, metricLogLossSum)[id]/count, 1e-9)
	assert.InDelta(t, v.Expected.Brier, points(md, metricBrierSum)[id]/count, 1e-9)
	assert.Empty(t, points(md, metricUnscored))
}

// TestProbabilitiesBeyondTheCap checks that predictions with more classes than
// max_probability_classes, or with a probability outside [0, 1], join for accuracy without
// their probabilities and are counted in ml.performance.unscored.
func TestProbabilitiesBeyondTheCap(t *testing.T) {
	cfg := createDefaultConfig()
	cfg.MaxProbabilityClasses = 3
	r := newRig(t, cfg, clock.NewManual(t0), &memStore{data: map[string][]byte{}})
	ld := plog.NewLogs()
	record(ld, eventPredicted, t0, map[string]any{attrModelName: "wide", attrKeys: "a\x1fb", attrPredClasses: "0\x1f3",
		attrPredProbs: packFloats([][]float64{{0.7, 0.1, 0.1, 0.1}, {0.1, 0.1, 0.1, 0.7}}), attrProbClasses: "0\x1f1\x1f2\x1f3"})
	record(ld, eventPredicted, t0, map[string]any{attrModelName: "bad", attrKeys: "a\x1fb", attrPredClasses: "0\x1f1",
		attrPredProbs: packFloats([][]float64{{0.7, 0.2, 0.1}, {0.1, 1.5, -0.6}}), attrProbClasses: "0\x1f1\x1f2"})
	record(ld, eventPredicted, t0, map[string]any{attrModelName: "short", attrKeys: "a\x1fb", attrPredClasses: "0\x1f1",
		attrPredProbs: packFloats([][]float64{{0.7, 0.2, 0.1}}), attrProbClasses: "0\x1f1\x1f2"}) // 3 values for 2 rows: rejected
	for _, model := range []string{"wide", "bad", "short"} {
		record(ld, eventObserved, t0, map[string]any{attrModelName: model, attrKeys: "a\x1fb", attrLabels: "0\x1f1"})
	}
	r.j.consume(context.Background(), ld)
	r.j.emit(context.Background())
	md := last(r.metrics)
	unscored := points(md, metricUnscored)
	assert.Equal(t, map[string]float64{"[ml.outcome.reason=invalid_probabilities]": 1, "[ml.outcome.reason=too_many_classes]": 2}, unscored)
	logLoss := points(md, metricLogLoss)
	assert.Len(t, logLoss, 1, "only the valid row of model bad has a log loss")
	assert.InDelta(t, -math.Log(0.7), logLoss["[]"], 1e-12)
}
