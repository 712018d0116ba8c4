// Copyright The modeltel Authors
// SPDX-License-Identifier: Apache-2.0

package mlperformanceconnector // import "github.com/modeltel/mlperformanceconnector"

import (
	"context"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/connector"
	"go.opentelemetry.io/collector/consumer"

	"github.com/modeltel/mlcommon/clock"
	"github.com/modeltel/mlcommon/lifecycle"
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
		connector.WithLogsToMetrics(createLogsToMetrics, metadata.Stability("logs_to_metrics")),
		connector.WithLogsToLogs(createLogsToLogs, metadata.Stability("logs_to_logs")),
	)
}

// instances holds the state of each mlperformance id while the collector runs.
var instances lifecycle.Registry[*joiner]

func createLogsToMetrics(_ context.Context, set connector.Settings, cfg component.Config, next consumer.Metrics) (connector.Logs, error) {
	j, err := instance(set, cfg, func(j *joiner) { j.shared.SetMetrics(next) })
	if err != nil {
		return nil, err
	}
	return &node{j: j, metrics: true}, nil
}

func createLogsToLogs(_ context.Context, set connector.Settings, cfg component.Config, next consumer.Logs) (connector.Logs, error) {
	j, err := instance(set, cfg, func(j *joiner) { j.shared.SetLogs(next) })
	if err != nil {
		return nil, err
	}
	return &node{j: j}, nil
}

// instance is the state of the component's id, made for its first connection, attached to
// one more.
func instance(set connector.Settings, cfg component.Config, attach func(*joiner)) (*joiner, error) {
	create := func() (*joiner, error) { return newJoiner(set, cfg.(*Config), clock.Real{}) }
	return instances.Get(set.ID, create, attach)
}
