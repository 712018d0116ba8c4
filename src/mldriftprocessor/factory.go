// Copyright The modeltel Authors
// SPDX-License-Identifier: Apache-2.0

package mldriftprocessor // import "github.com/modeltel/mldriftprocessor"

import (
	"context"
	"sync"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/processor"

	"github.com/modeltel/mlcommon/clock"
	"github.com/modeltel/mldriftprocessor/internal/metadata"
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
		processor.WithMetrics(createMetrics, metadata.MetricsStability),
		processor.WithLogs(createLogs, metadata.LogsStability),
	)
}

// instances maps a component id to its shared state while the collector runs.
var instances = struct {
	sync.Mutex
	byID map[component.ID]*driftProcessor
}{byID: map[component.ID]*driftProcessor{}}

func shared(set processor.Settings, cfg *Config) (*driftProcessor, error) {
	instances.Lock()
	defer instances.Unlock()
	if p, ok := instances.byID[set.ID]; ok {
		return p, nil
	}
	p, err := newProcessor(set, cfg, clock.Real{})
	if err != nil {
		return nil, err
	}
	p.release = func() {
		instances.Lock()
		defer instances.Unlock()
		delete(instances.byID, set.ID)
	}
	instances.byID[set.ID] = p
	return p, nil
}

func createMetrics(_ context.Context, set processor.Settings, cfg component.Config, next consumer.Metrics) (processor.Metrics, error) {
	p, err := shared(set, cfg.(*Config))
	if err != nil {
		return nil, err
	}
	p.setMetrics(next)
	return &metricsProcessor{p}, nil
}

func createLogs(_ context.Context, set processor.Settings, cfg component.Config, next consumer.Logs) (processor.Logs, error) {
	p, err := shared(set, cfg.(*Config))
	if err != nil {
		return nil, err
	}
	p.setLogs(next)
	return &logsProcessor{p}, nil
}
