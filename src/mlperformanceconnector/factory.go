// Copyright The modeltel Authors
// SPDX-License-Identifier: Apache-2.0

package mlperformanceconnector // import "github.com/modeltel/mlperformanceconnector"

import (
	"context"
	"sync"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/connector"
	"go.opentelemetry.io/collector/consumer"

	"github.com/modeltel/mlcommon/clock"
	"github.com/modeltel/mlperformanceconnector/internal/metadata"
)

// NewFactory returns the factory of the mlperformance connector.
//
// One mlperformance component (one id in the config) is one join state. Used as the
// exporter of a logs pipeline and the receiver of a metrics pipeline, it turns joinable
// predictions and outcomes into performance metrics; also the receiver of a logs
// pipeline, it sends its ml.performance.degraded / recovered events there.
func NewFactory() connector.Factory {
	return connector.NewFactory(
		metadata.Type,
		func() component.Config { return createDefaultConfig() },
		connector.WithLogsToMetrics(createLogsToMetrics, metadata.LogsToMetricsStability),
		connector.WithLogsToLogs(createLogsToLogs, metadata.LogsToLogsStability),
	)
}

// instances maps a component id to its shared state while the collector runs.
var instances = struct {
	sync.Mutex
	byID map[component.ID]*joiner
}{byID: map[component.ID]*joiner{}}

func shared(set connector.Settings, cfg *Config) (*joiner, error) {
	instances.Lock()
	defer instances.Unlock()
	if j, ok := instances.byID[set.ID]; ok {
		return j, nil
	}
	j, err := newJoiner(set, cfg, clock.Real{})
	if err != nil {
		return nil, err
	}
	j.release = func() {
		instances.Lock()
		defer instances.Unlock()
		delete(instances.byID, set.ID)
	}
	instances.byID[set.ID] = j
	return j, nil
}

func createLogsToMetrics(_ context.Context, set connector.Settings, cfg component.Config, next consumer.Metrics) (connector.Logs, error) {
	j, err := shared(set, cfg.(*Config))
	if err != nil {
		return nil, err
	}
	j.setMetrics(next)
	return &node{j: j, metrics: true}, nil
}

func createLogsToLogs(_ context.Context, set connector.Settings, cfg component.Config, next consumer.Logs) (connector.Logs, error) {
	j, err := shared(set, cfg.(*Config))
	if err != nil {
		return nil, err
	}
	j.setLogs(next)
	return &node{j: j}, nil
}
