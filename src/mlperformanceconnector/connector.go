// Copyright The modeltel Authors
// SPDX-License-Identifier: Apache-2.0

package mlperformanceconnector // import "github.com/modeltel/mlperformanceconnector"

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/connector"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/modeltel/mlcommon/clock"
	"github.com/modeltel/mlcommon/lifecycle"
	"github.com/modeltel/mlcommon/walk"

	"github.com/modeltel/mlperformanceconnector/internal/join"
	"github.com/modeltel/mlperformanceconnector/internal/perf"
)

// joiner is the state of one mlperformance component, shared by its logs->metrics and
// logs->logs connections (factory.go).
type joiner struct {
	cfg      *Config
	id       component.ID
	logger   *zap.Logger
	clock    clock.Clock
	instance string
	z        float64
	refs     map[string]join.Reference

	shared lifecycle.Shared // the next consumers, the first Start and the last Shutdown

	mu     sync.Mutex // guards the store and the storage client
	store  *join.Store
	client storage.Client

	baselines []join.Baseline
	// own is the connector's own telemetry (metadata.yaml's telemetry section).
	own struct{ recordsRejected, stateRejected metric.Int64Counter }
}

func newJoiner(set connector.Settings, cfg *Config, clk clock.Clock) (*joiner, error) {
	instance := cfg.Instance
	if instance == "" {
		instance, _ = os.Hostname()
	}
	ttls := map[string]time.Duration{}
	refs := map[string]join.Reference{}
	calibrations := map[string]perf.Calibration{}
	for _, m := range cfg.Models {
		if len(m.Calibration.Scores) > 0 {
			calibrations[m.Name] = perf.Calibration{Scores: m.Calibration.Scores, Probabilities: m.Calibration.Probabilities}
		}
		if m.TTL > 0 {
			ttls[m.Name] = m.TTL
		}
		r := join.Reference{Accuracy: math.NaN(), MAE: math.NaN()}
		if m.Accuracy > 0 {
			r.Accuracy = m.Accuracy
		}
		if m.MAE > 0 {
			r.MAE = m.MAE
		}
		refs[m.Name] = r
	}
	baselines, err := loadBaselines(cfg.BaselineFiles)
	if err != nil {
		return nil, err
	}
	for i, b := range baselines { // the config's reference wins over a file's
		if r, ok := refs[b.Model]; ok {
			if !math.IsNaN(r.Accuracy) {
				baselines[i].Reference.Accuracy = r.Accuracy
			}
			if !math.IsNaN(r.MAE) {
				baselines[i].Reference.MAE = r.MAE
			}
		}
	}
	j := &joiner{
		cfg: cfg, baselines: baselines, id: set.ID, logger: set.Logger, clock: clk, instance: instance, refs: refs,
		z: math.Sqrt2 * math.Erfinv(2*cfg.Degradation.Confidence-1),
		store: join.NewStore(join.Limits{
			DefaultTTL: cfg.TTL, TTLs: ttls, MaxPending: cfg.MaxPending, MaxModels: cfg.MaxModels,
			MaxVersions: cfg.MaxVersions, MaxClasses: cfg.MaxClasses, MaxSegments: cfg.MaxSegments,
			MaxProbabilityClasses: cfg.MaxProbabilityClasses,
			Window:                cfg.Window, Slots: cfg.Slots, Bins: perf.Bins{Count: cfg.ScoreBins, Limit: perf.DefaultBins.Limit},
			Calibrations: calibrations,
		}, clk),
	}
	tel := metadata.Telemetry(set.TelemetrySettings)
	j.own.recordsRejected = tel.Counter("connector_mlperformance_records_rejected")
	j.own.stateRejected = tel.Counter("connector_mlperformance_state_rejected")
	return j, tel.Err()
}

// start opens the storage and restores the state, then runs the emit loop; once, however
// many connections the component has.
func (j *joiner) start(ctx context.Context, host component.Host) error {
	return j.shared.Start(func() error { return j.open(ctx, host) }, j.cfg.EmitInterval, j.emit)
}

func (j *joiner) open(ctx context.Context, host component.Host) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.cfg.Storage != nil {
		if err := j.openStorage(ctx, host); err != nil {
			return err
		}
	}
	for _, b := range j.baselines { // after the restore: the files are the explicit config
		if !j.store.UseBaseline(b) {
			j.logger.Warn("mlperformance: no room for the model of a baseline file (max_models)", zap.String("model", b.Model))
		}
	}
	return nil
}

func (j *joiner) openStorage(ctx context.Context, host component.Host) error {
	client, err := lifecycle.StorageClient(ctx, host, *j.cfg.Storage, component.KindConnector, j.id)
	if err != nil {
		return err
	}
	walker, ok := client.(storage.Walker)
	if !ok {
		_ = client.Close(ctx)
		return fmt.Errorf("storage %s cannot list its keys (storage.Walker); use file_storage", j.cfg.Storage)
	}
	began := time.Now()
	rejected, err := j.store.Restore(ctx, walker)
	if err != nil {
		_ = client.Close(ctx)
		return fmt.Errorf("storage %s: restoring the join state: %w", j.cfg.Storage, err)
	}
	if rejected.Records > 0 {
		// A corrupt, truncated or foreign-version record: what it held starts clean.
		j.own.stateRejected.Add(ctx, int64(rejected.Records))
		j.logger.Warn("mlperformance: stored state that could not be used was rejected; those models start clean",
			zap.Int("records", rejected.Records), zap.Strings("reasons", rejected.Reasons))
	}
	j.logger.Info("mlperformance: join state restored", zap.Int("pending", j.store.Pending()),
		zap.Int("models", len(j.store.Models())), zap.Duration("took", time.Since(began)))
	j.client = client
	return nil
}

// shutdown, after the last connection stops, stops the emit loop, writes the state, closes
// the storage and forgets the component's id.
func (j *joiner) shutdown(ctx context.Context) error {
	return j.shared.Shutdown(func() error {
		j.mu.Lock()
		defer j.mu.Unlock()
		var err error
		if j.client != nil {
			err = errors.Join(j.flush(ctx, true), j.client.Close(ctx))
			j.client = nil
		}
		instances.Delete(j.id, j)
		return err
	})
}

// flush writes what changed to the storage in one batch (the models' aggregates too when
// force is set, else at most once per join.MetaEvery); call with mu held.
func (j *joiner) flush(ctx context.Context, force bool) error {
	ops, err := j.store.Flush(force)
	if err != nil || j.client == nil || len(ops) == 0 {
		return err
	}
	return j.client.Batch(ctx, ops...)
}

// consume reads joinable predictions and outcomes and joins them.
func (j *joiner) consume(ctx context.Context, ld plog.Logs) {
	j.mu.Lock()
	defer j.mu.Unlock()
	rejected := 0
	now := j.clock.Now()
	for origin, lr := range walk.LogRecords(ld) {
		if !j.ingest(origin.Resource.Attributes(), lr, now) {
			rejected++
		}
	}
	if rejected > 0 {
		j.own.recordsRejected.Add(ctx, int64(rejected))
	}
	if err := j.flush(ctx, false); err != nil {
		j.logger.Warn("mlperformance: writing the join state to storage failed; it stays in memory", zap.Error(err))
	}
}

// node is one connection of the connector. Only one connection reads the logs: the
// logs->metrics one when the component has it, else the logs->logs one.
type node struct {
	j       *joiner
	metrics bool
}

func (n *node) Start(ctx context.Context, host component.Host) error { return n.j.start(ctx, host) }
func (n *node) Shutdown(ctx context.Context) error                   { return n.j.shutdown(ctx) }

func (n *node) Capabilities() consumer.Capabilities { return consumer.Capabilities{MutatesData: false} }

func (n *node) ConsumeLogs(ctx context.Context, ld plog.Logs) error {
	next, _ := n.j.shared.Next()
	if n.metrics || next == nil {
		n.j.consume(ctx, ld)
	}
	return nil
}
