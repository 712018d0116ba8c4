// Copyright The modeltel Authors
// SPDX-License-Identifier: Apache-2.0

package mlperformanceconnector

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/connector/connectortest"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/modeltel/mlcommon/clock"
)

// FuzzIngest feeds joinable records with arbitrary packed keys, labels and score bytes: the
// connector must never panic, and what it holds stays within max_pending.
func FuzzIngest(f *testing.F) {
	f.Add("a\x1fb", "1\x1f0", []byte{0, 0, 0, 0, 0, 0, 0xf0, 0x3f}, "b\x1fa", "1\x1f1")
	f.Add("", "", []byte{1, 2, 3}, "\x1f\x1f", "x")
	f.Add("k", "1", []byte{}, "k", "")
	f.Fuzz(func(t *testing.T, keys, classes string, scores []byte, outKeys, labels string) {
		cfg := createDefaultConfig()
		cfg.MaxPending = 64
		j, err := newJoiner(connectortest.NewNopSettings(metadata.Type), cfg, clock.NewManual(t0))
		require.NoError(t, err)
		ld := plog.NewLogs()
		record(ld, eventPredicted, t0, map[string]any{attrModelName: "m", attrKeys: keys, attrPredClasses: classes, attrPredScores: scores})
		record(ld, eventPrediction, t0, map[string]any{attrModelName: "m", attrKeys: keys, attrPredValues: scores})
		record(ld, eventObserved, t0, map[string]any{attrModelName: "m", attrKeys: outKeys, attrLabels: labels})
		record(ld, eventObserved, t0, map[string]any{attrModelName: "m", attrKeys: outKeys, attrValues: scores})
		j.consume(context.Background(), ld)
		j.emit(context.Background())
		require.LessOrEqual(t, j.store.Pending(), cfg.MaxPending)
	})
}
