// Copyright The modeltel Authors
// SPDX-License-Identifier: Apache-2.0

package mldriftprocessor // import "github.com/modeltel/mldriftprocessor"

import (
	"context"
	"fmt"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/modeltel/mlcommon/clock"
	"github.com/modeltel/mlcommon/lifecycle"

	"github.com/modeltel/mldriftprocessor/internal/drift"
	"github.com/modeltel/mldriftprocessor/internal/state"
)

// driftProcessor is the state of one mldrift component, and the component itself in both
// its metrics and its logs pipelines (factory.go).
type driftProcessor struct {
	cfg     *Config
	logger  *zap.Logger
	clock   clock.Clock
	store   *state.Store
	version string
	shared  lifecycle.Shared // the next consumers, the first Start and the last Shutdown

	// own is the processor's own telemetry (metadata.yaml's telemetry section).
	own struct {
		baselineMismatches, pointsDropped, streamsExpired, transitions metric.Int64Counter
		streams                                                        metric.Int64Gauge
	}
	id     component.ID
	client storage.Client // the storage extension's client, when configured
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
	tel := metadata.Telemetry(set.TelemetrySettings)
	p.own.baselineMismatches = tel.Counter("processor_mldrift_baseline_mismatches")
	p.own.pointsDropped = tel.Counter("processor_mldrift_points_dropped")
	p.own.streams = tel.Gauge("processor_mldrift_streams")
	p.own.streamsExpired = tel.Counter("processor_mldrift_streams_expired")
	p.own.transitions = tel.Counter("processor_mldrift_transitions")
	if err := tel.Err(); err != nil {
		return nil, err
	}
	return p, nil
}

// Start restores the state saved in the storage extension (when configured) and runs the
// emit loop; once, however many pipelines the component is in.
func (p *driftProcessor) Start(_ context.Context, host component.Host) error {
	return p.shared.Start(func() error { return p.openStorage(host) }, p.cfg.EmitInterval, p.emit)
}

// stateKey is the storage key of the processor's saved state.
const stateKey = "mldrift_state"

func (p *driftProcessor) openStorage(host component.Host) error {
	if p.cfg.Storage == nil {
		return nil
	}
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

// Shutdown, after the last pipeline, stops the emit loop, saves the state and forgets the
// component's id.
func (p *driftProcessor) Shutdown(context.Context) error {
	return p.shared.Shutdown(func() error {
		if p.client != nil {
			p.save(context.Background())
			_ = p.client.Close(context.Background())
			p.client = nil
		}
		instances.Delete(p.id, p)
		return nil
	})
}

// emit evaluates the windows and sends the results down the pipelines.
func (p *driftProcessor) emit(ctx context.Context) {
	md, ld := p.evaluate()
	p.save(ctx)
	p.shared.Send(ctx, p.logger, md, ld)
}

func (p *driftProcessor) Capabilities() consumer.Capabilities {
	return consumer.Capabilities{MutatesData: false}
}

// ConsumeMetrics reads the distributions and passes md on unchanged.
func (p *driftProcessor) ConsumeMetrics(ctx context.Context, md pmetric.Metrics) error {
	p.ingest(md)
	next, _ := p.shared.Next()
	return next.ConsumeMetrics(ctx, md)
}

// ConsumeLogs passes ld on unchanged: the logs pipeline is only where drift records go.
func (p *driftProcessor) ConsumeLogs(ctx context.Context, ld plog.Logs) error {
	_, next := p.shared.Next()
	return next.ConsumeLogs(ctx, ld)
}
