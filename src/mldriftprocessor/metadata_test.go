// Copyright The modeltel Authors
// SPDX-License-Identifier: Apache-2.0

package mldriftprocessor

import (
	"os"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/modeltel/mldriftprocessor/internal/metadata"
)

type metadataFile struct {
	Type      string `yaml:"type"`
	ScopeName string `yaml:"scope_name"`
	Status    struct {
		Class     string              `yaml:"class"`
		Stability map[string][]string `yaml:"stability"`
		Warnings  []string            `yaml:"warnings"`
	} `yaml:"status"`
	Telemetry struct {
		Metrics map[string]struct {
			Unit  string         `yaml:"unit"`
			Sum   map[string]any `yaml:"sum"`
			Gauge map[string]any `yaml:"gauge"`
		} `yaml:"metrics"`
	} `yaml:"telemetry"`
}

// TestMetadataTelemetry checks that metadata.yaml tells the truth: its type, scope and
// stability are those of internal/metadata, and its telemetry section lists exactly the
// instruments the processor creates (TelemetryBuilder), with the same kind.
func TestMetadataTelemetry(t *testing.T) {
	raw, err := os.ReadFile("metadata.yaml")
	require.NoError(t, err)
	var md metadataFile
	require.NoError(t, yaml.Unmarshal(raw, &md))
	require.Equal(t, metadata.Type.String(), md.Type)
	require.Equal(t, metadata.ScopeName, md.ScopeName)
	require.Equal(t, "processor", md.Status.Class)
	require.Equal(t, map[string][]string{"alpha": {"metrics", "logs"}}, md.Status.Stability)
	require.Equal(t, metadata.MetricsStability.String(), "Alpha")
	require.Equal(t, metadata.LogsStability.String(), "Alpha")
	require.Equal(t, []string{"Statefulness"}, md.Status.Warnings)

	snake := regexp.MustCompile(`([a-z0-9])([A-Z])`)
	created := map[string]string{}
	typ := reflect.TypeOf(metadata.TelemetryBuilder{})
	for i := 0; i < typ.NumField(); i++ {
		f := typ.Field(i)
		name := strings.ToLower(snake.ReplaceAllString(f.Name, "${1}_${2}"))
		kind := "sum"
		if strings.Contains(f.Type.String(), "Gauge") {
			kind = "gauge"
		}
		created[name] = kind
	}
	declared := map[string]string{}
	for name, m := range md.Telemetry.Metrics {
		switch {
		case m.Sum != nil:
			declared[name] = "sum"
		case m.Gauge != nil:
			declared[name] = "gauge"
		}
	}
	names := func(m map[string]string) []string {
		out := make([]string, 0, len(m))
		for k := range m {
			out = append(out, k)
		}
		sort.Strings(out)
		return out
	}
	require.Equal(t, names(declared), names(created))
	require.Equal(t, declared, created)
}
