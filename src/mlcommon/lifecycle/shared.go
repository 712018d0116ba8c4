// Copyright The modeltel Authors
// SPDX-License-Identifier: Apache-2.0

package lifecycle // import "github.com/modeltel/mlcommon/lifecycle"

import (
	"context"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.uber.org/zap"
)

// Registry holds, while the collector runs, the one state of each component id that the
// component's pipelines (a connector's connections) share. The zero value is empty.
type Registry[T comparable] struct {
	mu   sync.Mutex
	byID map[component.ID]T
}

// Get returns the state of id, made by create for the first pipeline, after attach has
// connected it to one more pipeline (given it that pipeline's next consumer).
func (r *Registry[T]) Get(id component.ID, create func() (T, error), attach func(T)) (T, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	v, ok := r.byID[id]
	if !ok {
		var err error
		if v, err = create(); err != nil {
			return v, err
		}
		if r.byID == nil {
			r.byID = map[component.ID]T{}
		}
		r.byID[id] = v
	}
	attach(v)
	return v, nil
}

// Delete forgets the state of id when it is v (the state of a component made outside the
// registry, as tests do, is not there).
func (r *Registry[T]) Delete(id component.ID, v T) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.byID[id] == v {
		delete(r.byID, id)
	}
}

// Len is the number of component ids with a state.
func (r *Registry[T]) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.byID)
}

// Shared is what the pipelines of one component share besides its own state: the next
// consumers of its metrics and logs pipelines, set as the pipelines are built, and its life:
// the first Start opens the component and starts its emit loop, the last Shutdown stops the
// loop (waiting for an emit in progress) and closes it. The zero value is ready to use.
type Shared struct {
	mu      sync.Mutex
	metrics consumer.Metrics
	logs    consumer.Logs
	started int
	loop    *Loop
}

// SetMetrics sets the next consumer of the component's metrics pipeline.
func (s *Shared) SetMetrics(next consumer.Metrics) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.metrics = next
}

// SetLogs sets the next consumer of the component's logs pipeline.
func (s *Shared) SetLogs(next consumer.Logs) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.logs = next
}

// Next returns the next consumers of the component's metrics and logs pipelines; nil for a
// pipeline the component is not in.
func (s *Shared) Next() (consumer.Metrics, consumer.Logs) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.metrics, s.logs
}

// Start, the first time only, calls open and then calls emit every interval until the last
// Shutdown. An error of open is returned and no loop runs.
func (s *Shared) Start(open func() error, interval time.Duration, emit func(context.Context)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.started++
	if s.started > 1 {
		return nil
	}
	if err := open(); err != nil {
		return err
	}
	s.loop = StartLoop(interval, emit)
	return nil
}

// Shutdown, at the last of the pipelines that started the component, stops the emit loop,
// waiting for an emit in progress, and then returns what close returns.
func (s *Shared) Shutdown(close func() error) error {
	s.mu.Lock()
	s.started--
	if s.started > 0 {
		s.mu.Unlock()
		return nil
	}
	loop := s.loop
	s.loop = nil
	s.mu.Unlock()
	loop.Stop()
	return close()
}

// Send sends what an emit made down the component's pipelines: md to the metrics pipeline
// and ld to the logs pipeline, each when it holds data and the component is in that
// pipeline. A failure is logged: the emit loop has no caller to return it to.
func (s *Shared) Send(ctx context.Context, logger *zap.Logger, md pmetric.Metrics, ld plog.Logs) {
	metrics, logs := s.Next()
	if metrics != nil && md.DataPointCount() > 0 {
		if err := metrics.ConsumeMetrics(ctx, md); err != nil {
			logger.Warn("sending the emitted metrics down the pipeline failed", zap.Error(err))
		}
	}
	if logs != nil && ld.LogRecordCount() > 0 {
		if err := logs.ConsumeLogs(ctx, ld); err != nil {
			logger.Warn("sending the emitted log records down the pipeline failed", zap.Error(err))
		}
	}
}
