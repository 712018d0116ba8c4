// Copyright The modeltel Authors
// SPDX-License-Identifier: Apache-2.0

package mldriftprocessor // import "github.com/modeltel/mldriftprocessor"

import (
	"context"
	"fmt"
	"sync"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/processor"
	"go.uber.org/zap"

	"github.com/modeltel/mlcommon/clock"
	"github.com/modeltel/mlcommon/lifecycle"

	"github.com/modeltel/mldriftprocessor/internal/drift"
	"github.com/modeltel/mldriftprocessor/internal/metadata"
	"github.com/modeltel/mldriftprocessor/internal/state"
)

// driftProcessor is the state of one mldrift component, shared by its metrics and logs
// pipelines (factory.go).
type driftProcessor struct {
	cfg     *Config
	logger  *zap.Logger
	clock   clock.Clock
	store   *state.Store
	version string

	mu          sync.Mutex
	nextMetrics consumer.Metrics
	nextLogs    consumer.Logs
	started     int
	loop        *lifecycle.Loop // the emit loop, while started
	release     func()

	telemetry *metadata.TelemetryBuilder // the processor's own metrics (metadata.yaml)
	id        component.ID
	client    storage.Client // the storage extension's client, when configured
}

func newProcessor(set processor.Settings, cfg *Config, clk clock.Clock) (*driftProcessor, error) {
	p := &driftProcessor{
		id:      set.ID,
		cfg:     cfg,
		logger:  set.Logger,
		clock:   clk,
		version: set.BuildInfo.Version,
		store: state.NewStore(state.Limits{
			Window: cfg.Window, SlotSize: cfg.SlotSize, StaleAfter: cfg.StaleAfter,
			MaxStreams: cfg.MaxStreams, MaxFeatures: cfg.MaxFeaturesPerModel, MaxCategories: cfg.MaxCategoriesPerFeature,
			ReferenceMinSamples: float64(max(cfg.Thresholds.MinSamples, drift.DefaultMinSamplesFixed)),
		}, clk),
	}
	for _, path := range cfg.BaselineFiles {
		f, err := loadBaselineFile(path)
		if err != nil {
			return nil, err
		}
		for key, b := range fileBaselines(f) {
			if reason := p.store.SetBaseline(key, b); reason != "" {
				return nil, fmt.Errorf("baseline_files: %s: no room for feature %q (%s)", path, key.Feature, reason)
			}
		}
	}
	tel, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	p.telemetry = tel
	return p, nil
}

func (p *driftProcessor) setMetrics(next consumer.Metrics) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.nextMetrics = next
}

func (p *driftProcessor) setLogs(next consumer.Logs) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.nextLogs = next
}

// start runs the emit ticker once, however many pipelines the component is in, after
// restoring the state saved in the storage extension (when configured).
func (p *driftProcessor) start(host component.Host) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.started++
	if p.started > 1 {
		return nil
	}
	if p.cfg.Storage != nil {
		if err := p.openStorage(host); err != nil {
			return err
		}
	}
	p.loop = lifecycle.StartLoop(p.cfg.EmitInterval, p.emit)
	return nil
}

// stateKey is the storage key of the processor's saved state.
const stateKey = "mldrift_state"

func (p *driftProcessor) openStorage(host component.Host) error {
	client, err := lifecycle.StorageClient(context.Background(), host, *p.cfg.Storage, component.KindProcessor, p.id)
	if err != nil {
		return err
	}
	data, err := client.Get(context.Background(), stateKey)
	if err != nil {
		_ = client.Close(context.Background())
		return fmt.Errorf("storage %s: %w", p.cfg.Storage, err)
	}
	n, err := p.store.Restore(data)
	if err != nil {
		// A state that cannot be read must not keep the collector from starting.
		p.logger.Warn("mldrift: the saved state could not be restored; starting empty", zap.Error(err))
	}
	p.logger.Info("mldrift: state restored", zap.Int("features", n))
	p.client = client
	return nil
}

// save writes the state to the storage extension (each emit and at shutdown).
func (p *driftProcessor) save(ctx context.Context) {
	if p.client == nil {
		return
	}
	data, err := p.store.Marshal()
	if err == nil {
		err = p.client.Set(ctx, stateKey, data)
	}
	if err != nil {
		p.logger.Warn("mldrift: saving the state failed", zap.Error(err))
	}
}

func (p *driftProcessor) shutdown() {
	p.mu.Lock()
	p.started--
	last := p.started <= 0
	loop := p.loop
	if last {
		p.loop = nil
	}
	p.mu.Unlock()
	if !last {
		return
	}
	loop.Stop()
	if p.client != nil {
		p.save(context.Background())
		_ = p.client.Close(context.Background())
		p.client = nil
	}
	if p.release != nil {
		p.release()
	}
}

// emit evaluates the windows and sends the results down the pipelines.
func (p *driftProcessor) emit(ctx context.Context) {
	md, ld := p.evaluate()
	p.save(ctx)
	p.mu.Lock()
	nm, nl := p.nextMetrics, p.nextLogs
	p.mu.Unlock()
	if nm != nil && md.DataPointCount() > 0 {
		if err := nm.ConsumeMetrics(ctx, md); err != nil {
			p.logger.Warn("mldrift: exporting drift metrics failed", zap.Error(err))
		}
	}
	if nl != nil && ld.LogRecordCount() > 0 {
		if err := nl.ConsumeLogs(ctx, ld); err != nil {
			p.logger.Warn("mldrift: exporting drift log records failed", zap.Error(err))
		}
	}
}

type metricsProcessor struct{ *driftProcessor }

func (m *metricsProcessor) Start(_ context.Context, host component.Host) error { return m.start(host) }
func (m *metricsProcessor) Shutdown(context.Context) error                     { m.shutdown(); return nil }
func (m *metricsProcessor) Capabilities() consumer.Capabilities {
	return consumer.Capabilities{MutatesData: false}
}

// ConsumeMetrics reads the distributions and passes md on unchanged.
func (m *metricsProcessor) ConsumeMetrics(ctx context.Context, md pmetric.Metrics) error {
	m.ingest(md)
	m.mu.Lock()
	next := m.nextMetrics
	m.mu.Unlock()
	return next.ConsumeMetrics(ctx, md)
}

type logsProcessor struct{ *driftProcessor }

func (l *logsProcessor) Start(_ context.Context, host component.Host) error { return l.start(host) }
func (l *logsProcessor) Shutdown(context.Context) error                     { l.shutdown(); return nil }
func (l *logsProcessor) Capabilities() consumer.Capabilities {
	return consumer.Capabilities{MutatesData: false}
}

// ConsumeLogs passes ld on unchanged: the logs pipeline is only where drift records go.
func (l *logsProcessor) ConsumeLogs(ctx context.Context, ld plog.Logs) error {
	l.mu.Lock()
	next := l.nextLogs
	l.mu.Unlock()
	return next.ConsumeLogs(ctx, ld)
}
