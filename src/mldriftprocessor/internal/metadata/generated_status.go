// Copyright The modeltel Authors
// SPDX-License-Identifier: Apache-2.0

// Package metadata holds what mdatagen generates from metadata.yaml. The Go module proxy
// this project builds from does not serve cmd/mdatagen, so this file is kept by hand in
// the shape mdatagen writes; keep it in step with metadata.yaml.
package metadata // import "github.com/modeltel/mldriftprocessor/internal/metadata"

import (
	"go.opentelemetry.io/collector/component"
)

var (
	// Type is the processor's type in collector configs.
	Type = component.MustNewType("mldrift")
	// ScopeName is the instrumentation scope of everything the processor emits.
	ScopeName = "github.com/modeltel/mldriftprocessor"
)

const (
	// MetricsStability is the stability of the metrics pipeline support.
	MetricsStability = component.StabilityLevelAlpha
	// LogsStability is the stability of the logs pipeline support (drift log records).
	LogsStability = component.StabilityLevelAlpha
)
