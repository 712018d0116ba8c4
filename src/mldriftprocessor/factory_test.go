// Copyright The modeltel Authors
// SPDX-License-Identifier: Apache-2.0

package mldriftprocessor

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/processor/processortest"
)

// TestOneComponentSharesStateAcrossItsMetricsAndLogsPipelines checks that the factory has
// metadata.yaml's type and stabilities, and that the metrics and logs instances of one
// mldrift id are one state: metrics pass through to the metrics pipeline, drift log records
// go to the logs pipeline, logs pass through unchanged, and the state is released when both
// are shut down.
func TestOneComponentSharesStateAcrossItsMetricsAndLogsPipelines(t *testing.T) {
	ctx := context.Background()
	f := NewFactory()
	require.Equal(t, "mldrift", f.Type().String())
	require.Equal(t, component.StabilityLevelAlpha, f.MetricsStability(), "metadata.yaml's stability")
	require.Equal(t, component.StabilityLevelAlpha, f.LogsStability())
	cfg := f.CreateDefaultConfig().(*Config)
	require.NoError(t, componenttest.CheckConfigStruct(cfg))
	set := processortest.NewNopSettings(metadata.Type)
	metricsSink, logsSink := new(consumertest.MetricsSink), new(consumertest.LogsSink)
	mp, err := f.CreateMetrics(ctx, set, cfg, metricsSink)
	require.NoError(t, err)
	lp, err := f.CreateLogs(ctx, set, cfg, logsSink)
	require.NoError(t, err)
	require.Same(t, mp, lp)
	require.False(t, mp.Capabilities().MutatesData)

	host := componenttest.NewNopHost()
	require.NoError(t, mp.Start(ctx, host))
	require.NoError(t, lp.Start(ctx, host))

	require.NoError(t, mp.ConsumeMetrics(ctx, baselineFor("m", "x")))
	require.NoError(t, mp.ConsumeMetrics(ctx, production("a", "m", "x", 400, 300, 200, 100)))
	incoming := plog.NewLogs()
	incoming.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty().Body().SetStr("app log")
	require.NoError(t, lp.ConsumeLogs(ctx, incoming))
	mp.(*driftProcessor).emit(ctx)

	require.Len(t, metricsSink.AllMetrics(), 3, "two inputs passed through, one emit")
	require.Len(t, logsSink.AllLogs(), 2, "the app's logs, then the drift record")
	require.Equal(t, "app log", logsSink.AllLogs()[0].ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).Body().Str())
	record := logsSink.AllLogs()[1].ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0)
	require.Equal(t, plog.SeverityNumberWarn, record.SeverityNumber())

	require.NoError(t, mp.Shutdown(ctx))
	require.Equal(t, 1, instances.Len(), "still used by the logs pipeline")
	require.NoError(t, lp.Shutdown(ctx))
	require.Zero(t, instances.Len())
}
