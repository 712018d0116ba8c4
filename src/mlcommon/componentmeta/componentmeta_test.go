// Copyright The modeltel Authors
// SPDX-License-Identifier: Apache-2.0

package componentmeta

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

const demo = `type: demo
scope_name: example.com/demo
status:
  class: processor
  stability:
    alpha: [metrics, logs]
    beta: [traces]
  warnings: [Statefulness]
telemetry:
  metrics:
    processor_demo_dropped:
      enabled: true
      description: Points dropped.
      unit: "{point}"
      sum:
        value_type: int
        monotonic: true
    processor_demo_held:
      enabled: true
      description: Streams held.
      unit: "{stream}"
      gauge:
        value_type: int
`

// TestParseReadsStatusAndTelemetry checks every field read from a metadata.yaml.
func TestParseReadsStatusAndTelemetry(t *testing.T) {
	md := MustParse([]byte(demo))
	require.Equal(t, component.MustNewType("demo"), md.Type)
	require.Equal(t, "example.com/demo", md.ScopeName)
	require.Equal(t, "processor", md.Class)
	require.Equal(t, []string{"Statefulness"}, md.Warnings)
	require.Equal(t, component.StabilityLevelAlpha, md.Stability("metrics"))
	require.Equal(t, component.StabilityLevelAlpha, md.Stability("logs"))
	require.Equal(t, component.StabilityLevelBeta, md.Stability("traces"))
	require.Equal(t, component.StabilityLevelUndefined, md.Stability("profiles"))
	require.Equal(t, map[string]Metric{
		"processor_demo_dropped": {Description: "Points dropped.", Unit: "{point}"},
		"processor_demo_held":    {Description: "Streams held.", Unit: "{stream}", Gauge: true},
	}, md.Metrics())
}

// TestParseRefusesWhatTheCodeCannotBe checks that a metadata.yaml declaring what Telemetry
// cannot make, or without its identity, is an error that names the problem.
func TestParseRefusesWhatTheCodeCannotBe(t *testing.T) {
	for name, c := range map[string]struct{ from, to, want string }{
		"bad type":      {"type: demo", "type: 'no spaces'", "type"},
		"no scope":      {"scope_name: example.com/demo", "scope_name: ''", "scope_name"},
		"bad stability": {"beta: [traces]", "gamma: [traces]", "stability"},
		"disabled":      {"      enabled: true\n      description: Points", "      enabled: false\n      description: Points", "processor_demo_dropped"},
		"double sum":    {"        value_type: int\n        monotonic: true", "        value_type: double\n        monotonic: true", "processor_demo_dropped"},
		"not monotonic": {"monotonic: true", "monotonic: false", "processor_demo_dropped"},
	} {
		doc := strings.Replace(demo, c.from, c.to, 1)
		require.NotEqual(t, demo, doc, name)
		_, err := Parse([]byte(doc))
		require.ErrorContains(t, err, c.want, name)
	}
	require.Panics(t, func() { MustParse([]byte("type: [")) })
}

// TestTelemetryMakesTheDeclaredInstruments checks that the instruments are exported with the
// otelcol_ prefix and metadata.yaml's description and unit.
func TestTelemetryMakesTheDeclaredInstruments(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	settings := componenttest.NewNopTelemetrySettings()
	settings.MeterProvider = sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	tel := MustParse([]byte(demo)).Telemetry(settings)
	tel.Counter("processor_demo_dropped").Add(context.Background(), 3)
	tel.Gauge("processor_demo_held").Record(context.Background(), 7)
	require.NoError(t, tel.Err())

	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(context.Background(), &rm))
	require.Equal(t, "example.com/demo", rm.ScopeMetrics[0].Scope.Name)
	got := map[string]metricdata.Metrics{}
	for _, m := range rm.ScopeMetrics[0].Metrics {
		got[m.Name] = m
	}
	dropped, held := got["otelcol_processor_demo_dropped"], got["otelcol_processor_demo_held"]
	require.Equal(t, "Points dropped.", dropped.Description)
	require.Equal(t, "{point}", dropped.Unit)
	require.Equal(t, int64(3), dropped.Data.(metricdata.Sum[int64]).DataPoints[0].Value)
	require.True(t, dropped.Data.(metricdata.Sum[int64]).IsMonotonic)
	require.Equal(t, "Streams held.", held.Description)
	require.Equal(t, int64(7), held.Data.(metricdata.Gauge[int64]).DataPoints[0].Value)
}

// TestTelemetryErrIsEveryDisagreement checks that Err names an instrument not declared, one
// of the other kind and a declared metric not made; and is nil when code and file agree.
func TestTelemetryErrIsEveryDisagreement(t *testing.T) {
	md := MustParse([]byte(demo))
	tel := md.Telemetry(componenttest.NewNopTelemetrySettings())
	tel.Gauge("processor_demo_dropped") // declared a counter
	tel.Counter("processor_demo_new")   // not declared
	err := tel.Err()
	require.ErrorContains(t, err, "processor_demo_dropped of another kind")
	require.ErrorContains(t, err, "does not declare the telemetry metric processor_demo_new")
	require.ErrorContains(t, err, "processor_demo_held, which the component does not make")
}
