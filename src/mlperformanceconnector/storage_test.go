// Copyright The modeltel Authors
// SPDX-License-Identifier: Apache-2.0

package mlperformanceconnector

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/connector/connectortest"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/collector/pdata/plog"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/modeltel/mlcommon/clock"
)

// TestCorruptStateInFileStorage writes a damaged meta record into a real file_storage (bbolt)
// next to a good model's state: the connector starts within a second, counts and logs the
// rejection, starts that model clean, and keeps the other model's pending predictions.
func TestCorruptStateInFileStorage(t *testing.T) {
	dir := t.TempDir()
	ext := fileStorage(t, dir)
	h := host{map[component.ID]component.Component{storageID: ext}}
	cfg := createDefaultConfig()
	cfg.Storage = &storageID
	first, err := newJoiner(connectortest.NewNopSettings(metadata.Type), cfg, clock.NewManual(t0))
	require.NoError(t, err)
	require.NoError(t, first.start(context.Background(), h))
	ld := plog.NewLogs()
	for _, model := range []string{"good", "bad"} {
		record(ld, eventPredicted, t0, map[string]any{attrModelName: model, attrKeys: "a\x1fb", attrPredClasses: "1\x1f0",
			attrPredScores: []any{0.9, 0.2}})
	}
	first.consume(context.Background(), ld)
	require.NoError(t, first.shutdown(context.Background()))

	client, err := ext.(storage.Extension).GetClient(context.Background(), component.KindConnector, first.id, "")
	require.NoError(t, err)
	meta, err := client.Get(context.Background(), "m\x00bad")
	require.NoError(t, err)
	require.NotEmpty(t, meta)
	require.NoError(t, client.Set(context.Background(), "m\x00bad", meta[:len(meta)/2])) // truncated
	require.NoError(t, client.Close(context.Background()))

	core, logs := observer.New(zap.WarnLevel)
	set := connectortest.NewNopSettings(metadata.Type)
	set.ID = first.id // the same component on the same storage
	set.Logger = zap.New(core)
	reader := sdkmetric.NewManualReader()
	set.MeterProvider = sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	second, err := newJoiner(set, cfg, clock.NewManual(t0))
	require.NoError(t, err)
	began := time.Now()
	require.NoError(t, second.start(context.Background(), h))
	t.Cleanup(func() { _ = second.shutdown(context.Background()) })
	assert.Less(t, time.Since(began), time.Second)
	assert.Equal(t, 2, second.store.Pending(), "the good model's two predictions, none of the bad one's")
	assert.NotContains(t, second.store.Models(), "bad")
	require.Equal(t, 1, logs.FilterMessageSnippet("rejected").Len())
	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(context.Background(), &rm))
	var rejected int64
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name == "otelcol_connector_mlperformance_state_rejected" {
				for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
					rejected += dp.Value
				}
			}
		}
	}
	assert.Equal(t, int64(3), rejected, "the bad model's meta record and its two held keys")
}
