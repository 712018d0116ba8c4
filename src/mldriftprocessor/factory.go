// Copyright The modeltel Authors
// SPDX-License-Identifier: Apache-2.0

package mldriftprocessor // import "github.com/modeltel/mldriftprocessor"

import (
	"context"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/processor"

	"github.com/modeltel/mlcommon/clock"
	"github.com/modeltel/mlcommon/lifecycle"
)

// NewFactory returns the factory of the mldrift processor.
//
// One mldrift component (one id in the config) is one state, shared by the metrics
// pipeline it reads and, when it is also placed in a logs pipeline, that pipeline, where
// its drift log records go (the logs passing through are left unchanged).
func NewFactory() processor.Factory {
	return processor.NewFactory(
		metadata.Type,
		func() component.Config { return createDefaultConfig() },
		processor.WithMetrics(createMetrics, metadata.Stability("metrics")),
		processor.WithLogs(createLogs, metadata.Stability("logs")),
	)
}

// instances holds the state of each mldrift id while the collector runs.
var instances lifecycle.Registry[*driftProcessor]

func createMetrics(_ context.Context, set processor.Settings, cfg component.Config, next consumer.Metrics) (processor.Metrics, error) {
	p, err := instance(set, cfg, func(p *driftProcessor) { p.shared.SetMetrics(next) })
	if err != nil {
		return nil, err
	}
	return p, nil
}

func createLogs(_ context.Context, set processor.Settings, cfg component.Config, next consumer.Logs) (processor.Logs, error) {
	p, err := instance(set, cfg, func(p *driftProcessor) { p.shared.SetLogs(next) })
	if err != nil {
		return nil, err
	}
	return p, nil
}

// instance is the state of the component's id, made for its first pipeline, attached to one
// more.
func instance(set processor.Settings, cfg component.Config, attach func(*driftProcessor)) (*driftProcessor, error) {
	create := func() (*driftProcessor, error) { return newProcessor(set, cfg.(*Config), clock.Real{}) }
	return instances.Get(set.ID, create, attach)
}
