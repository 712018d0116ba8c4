// Copyright The modeltel Authors
// SPDX-License-Identifier: Apache-2.0

// Package metadata holds what mdatagen generates from metadata.yaml. The Go module proxy
// this project builds from does not serve cmd/mdatagen, so this file is kept by hand in
// the shape mdatagen writes; keep it in step with metadata.yaml.
package metadata // import "github.com/modeltel/mlperformanceconnector/internal/metadata"

import (
	"go.opentelemetry.io/collector/component"
)

var (
	// Type is the connector's type in collector configs.
	Type = component.MustNewType("mlperformance")
	// ScopeName is the instrumentation scope of everything the connector emits.
	ScopeName = "github.com/modeltel/mlperformanceconnector"
)

const (
	// LogsToMetricsStability is the stability of the logs -> metrics connection.
	LogsToMetricsStability = component.StabilityLevelAlpha
	// LogsToLogsStability is the stability of the logs -> logs connection (events).
	LogsToLogsStability = component.StabilityLevelAlpha
)
