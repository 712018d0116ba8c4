// Copyright The modeltel Authors
// SPDX-License-Identifier: Apache-2.0

// Package componentmeta reads a collector component's metadata.yaml (the file mdatagen
// reads), compiled into the component with go:embed, so that the file is the one place its
// type, scope name, stability and own telemetry are declared: the code takes them from it
// instead of keeping a hand-written copy in step. mdatagen itself cannot be built from the
// Go module proxy this project builds from (see docs/architecture.md).
package componentmeta // import "github.com/modeltel/mlcommon/componentmeta"

import (
	"errors"
	"fmt"
	"slices"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/otel/metric"
	"go.yaml.in/yaml/v3"
)

// Metadata is a component's metadata.yaml.
type Metadata struct {
	// Type is the component's type in collector configs.
	Type component.Type
	// ScopeName is the instrumentation scope of everything the component emits.
	ScopeName string
	// Class is status.class: processor, connector, ...
	Class string
	// Warnings is status.warnings.
	Warnings []string

	stability map[string]component.StabilityLevel // by pipeline kind
	metrics   map[string]Metric                   // the telemetry section, by name
}

// Metric is one metric of the telemetry section: the component's own integer counter (a
// monotonic sum) or gauge.
type Metric struct {
	Description string
	Unit        string
	Gauge       bool
}

type file struct {
	Type      string `yaml:"type"`
	ScopeName string `yaml:"scope_name"`
	Status    struct {
		Class     string              `yaml:"class"`
		Stability map[string][]string `yaml:"stability"`
		Warnings  []string            `yaml:"warnings"`
	} `yaml:"status"`
	Telemetry struct {
		Metrics map[string]struct {
			Enabled     bool   `yaml:"enabled"`
			Description string `yaml:"description"`
			Unit        string `yaml:"unit"`
			Sum         *struct {
				ValueType string `yaml:"value_type"`
				Monotonic bool   `yaml:"monotonic"`
			} `yaml:"sum"`
			Gauge *struct {
				ValueType string `yaml:"value_type"`
			} `yaml:"gauge"`
		} `yaml:"metrics"`
	} `yaml:"telemetry"`
}

// Parse reads a metadata.yaml. Its telemetry metrics must be enabled integer gauges or
// monotonic integer sums, the only instruments Telemetry makes.
func Parse(data []byte) (*Metadata, error) {
	var f file
	if err := yaml.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("metadata.yaml: %w", err)
	}
	typ, err := component.NewType(f.Type)
	if err != nil {
		return nil, fmt.Errorf("metadata.yaml: type: %w", err)
	}
	if f.ScopeName == "" || f.Status.Class == "" {
		return nil, errors.New("metadata.yaml: scope_name and status.class are required")
	}
	md := &Metadata{Type: typ, ScopeName: f.ScopeName, Class: f.Status.Class, Warnings: f.Status.Warnings,
		stability: map[string]component.StabilityLevel{}, metrics: map[string]Metric{}}
	for level, pipelines := range f.Status.Stability {
		var sl component.StabilityLevel
		if err := sl.UnmarshalText([]byte(level)); err != nil {
			return nil, fmt.Errorf("metadata.yaml: status.stability: %w", err)
		}
		for _, p := range pipelines {
			md.stability[p] = sl
		}
	}
	for name, m := range f.Telemetry.Metrics {
		sum := m.Sum != nil && m.Gauge == nil && m.Sum.ValueType == "int" && m.Sum.Monotonic
		gauge := m.Gauge != nil && m.Sum == nil && m.Gauge.ValueType == "int"
		if !m.Enabled || !(sum || gauge) {
			return nil, fmt.Errorf("metadata.yaml: telemetry metric %s: want an enabled int gauge or monotonic int sum", name)
		}
		md.metrics[name] = Metric{Description: m.Description, Unit: m.Unit, Gauge: gauge}
	}
	return md, nil
}

// MustParse is Parse for a metadata.yaml compiled into the component: an error is a bug of
// the component, which every test that loads it reports, so it panics.
func MustParse(data []byte) *Metadata {
	md, err := Parse(data)
	if err != nil {
		panic(err)
	}
	return md
}

// Stability is the stability of the component in pipelines of kind pipeline (metrics,
// logs, logs_to_metrics, ...); StabilityLevelUndefined when metadata.yaml has none.
func (md *Metadata) Stability(pipeline string) component.StabilityLevel {
	return md.stability[pipeline]
}

// Metrics returns the telemetry section's metrics by name.
func (md *Metadata) Metrics() map[string]Metric { return md.metrics }

// Telemetry returns the maker of the component's own instruments on the meter of its
// scope, as metadata.yaml's telemetry section declares them.
func (md *Metadata) Telemetry(settings component.TelemetrySettings) *Telemetry {
	return &Telemetry{md: md, meter: settings.MeterProvider.Meter(md.ScopeName), made: map[string]bool{}}
}

// Telemetry makes a component's own instruments and collects what went wrong.
type Telemetry struct {
	md    *Metadata
	meter metric.Meter
	made  map[string]bool
	err   error
}

// Counter makes the counter name of the telemetry section (exported as otelcol_<name>).
func (t *Telemetry) Counter(name string) metric.Int64Counter {
	m := t.declared(name, false)
	c, err := t.meter.Int64Counter("otelcol_"+name, metric.WithDescription(m.Description), metric.WithUnit(m.Unit))
	t.err = errors.Join(t.err, err)
	return c
}

// Gauge makes the gauge name of the telemetry section (exported as otelcol_<name>).
func (t *Telemetry) Gauge(name string) metric.Int64Gauge {
	m := t.declared(name, true)
	g, err := t.meter.Int64Gauge("otelcol_"+name, metric.WithDescription(m.Description), metric.WithUnit(m.Unit))
	t.err = errors.Join(t.err, err)
	return g
}

// declared returns the declaration of name and records an error unless it is declared a
// gauge (or a counter, gauge false).
func (t *Telemetry) declared(name string, gauge bool) Metric {
	m, ok := t.md.metrics[name]
	switch {
	case !ok:
		t.err = errors.Join(t.err, fmt.Errorf("metadata.yaml does not declare the telemetry metric %s", name))
	case m.Gauge != gauge:
		t.err = errors.Join(t.err, fmt.Errorf("metadata.yaml declares the telemetry metric %s of another kind", name))
	}
	t.made[name] = true
	return m
}

// Err returns what went wrong, joined: an instrument metadata.yaml does not declare or
// declares of another kind, a declared metric that was not made, an instrument the meter
// refused. nil when the code and metadata.yaml agree.
func (t *Telemetry) Err() error {
	err := t.err
	var missing []string
	for name := range t.md.metrics {
		if !t.made[name] {
			missing = append(missing, name)
		}
	}
	slices.Sort(missing)
	for _, name := range missing {
		err = errors.Join(err, fmt.Errorf("metadata.yaml declares the telemetry metric %s, which the component does not make", name))
	}
	return err
}
