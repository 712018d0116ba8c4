// Copyright The modeltel Authors
// SPDX-License-Identifier: Apache-2.0

package metadata // import "github.com/modeltel/mldriftprocessor/internal/metadata"

import (
	"errors"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/otel/metric"
)

// Meter is the meter of the processor's own telemetry.
func Meter(settings component.TelemetrySettings) metric.Meter {
	return settings.MeterProvider.Meter(ScopeName)
}

// TelemetryBuilder holds the instruments of metadata.yaml's telemetry section, in the shape
// mdatagen generates (names prefixed with otelcol_).
type TelemetryBuilder struct {
	// ProcessorMldriftBaselineMismatches counts feature windows whose baseline has other bounds.
	ProcessorMldriftBaselineMismatches metric.Int64Counter
	// ProcessorMldriftPointsDropped counts data points the processor could not use, by reason.
	ProcessorMldriftPointsDropped metric.Int64Counter
	// ProcessorMldriftStreams is the number of feature windows and cumulative streams held.
	ProcessorMldriftStreams metric.Int64Gauge
	// ProcessorMldriftStreamsExpired counts windows and streams removed after stale_after.
	ProcessorMldriftStreamsExpired metric.Int64Counter
	// ProcessorMldriftTransitions counts features entering or leaving drift.
	ProcessorMldriftTransitions metric.Int64Counter
}

// NewTelemetryBuilder creates every instrument of metadata.yaml's telemetry section.
func NewTelemetryBuilder(settings component.TelemetrySettings) (*TelemetryBuilder, error) {
	meter := Meter(settings)
	b := &TelemetryBuilder{}
	var err, errs error
	b.ProcessorMldriftBaselineMismatches, err = meter.Int64Counter("otelcol_processor_mldrift_baseline_mismatches",
		metric.WithDescription("Feature windows whose baseline has other bucket bounds; not scored. [alpha]"), metric.WithUnit("{window}"))
	errs = errors.Join(errs, err)
	b.ProcessorMldriftPointsDropped, err = meter.Int64Counter("otelcol_processor_mldrift_points_dropped",
		metric.WithDescription("Data points the processor could not use, by reason. [alpha]"), metric.WithUnit("{point}"))
	errs = errors.Join(errs, err)
	b.ProcessorMldriftStreams, err = meter.Int64Gauge("otelcol_processor_mldrift_streams",
		metric.WithDescription("Feature windows and cumulative streams currently held. [alpha]"), metric.WithUnit("{stream}"))
	errs = errors.Join(errs, err)
	b.ProcessorMldriftStreamsExpired, err = meter.Int64Counter("otelcol_processor_mldrift_streams_expired",
		metric.WithDescription("Feature windows and cumulative streams removed after stale_after without data. [alpha]"), metric.WithUnit("{stream}"))
	errs = errors.Join(errs, err)
	b.ProcessorMldriftTransitions, err = meter.Int64Counter("otelcol_processor_mldrift_transitions",
		metric.WithDescription("Features that entered or left drift; one log record each. [alpha]"), metric.WithUnit("{transition}"))
	errs = errors.Join(errs, err)
	return b, errs
}
