// Copyright The modeltel Authors
// SPDX-License-Identifier: Apache-2.0

package mlperformanceconnector

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/storage/filestorage"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/connector/connectortest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/extension/extensiontest"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/modeltel/mlperformanceconnector/internal/join"
	"github.com/modeltel/mlperformanceconnector/internal/metadata"
	"github.com/modeltel/mlperformanceconnector/internal/perf"
)

const benchBatch = 1000

// batches returns n pairs of record batches: benchBatch joinable predictions (class,
// score, one of five segments) and their outcomes, keys like the SDK's (32 hex chars + row
// index); batch b is predicted b minutes before now modulo the hour, so that the window's
// 60 slots all hold aggregates (the size of the meta record written once a second).
func batches(n int) (preds, outs []plog.Logs) {
	now := time.Now()
	for b := 0; b < n; b++ {
		keys, classes, scores, segs, labels := []any{}, []any{}, []any{}, []any{}, []any{}
		for i := 0; i < benchBatch; i++ {
			keys = append(keys, fmt.Sprintf("%032x:%d", b, i))
			classes = append(classes, fmt.Sprint(i%2))
			scores = append(scores, float64(i%100)/100)
			segs = append(segs, []any{"eu", "us", "apac", "latam", "mena"}[i%5])
			labels = append(labels, fmt.Sprint((i/3)%2))
		}
		p, o := plog.NewLogs(), plog.NewLogs()
		at := now.Add(-time.Duration(b%60) * time.Minute)
		record(p, eventPredicted, at, map[string]any{attrModelName: "fraud", attrModelVersion: "3.1.0",
			attrKeys: keys, attrPredClasses: classes, attrPredScores: scores, attrSegments: segs})
		record(o, eventObserved, at, map[string]any{attrModelName: "fraud", attrKeys: keys, attrLabels: labels})
		preds, outs = append(preds, p), append(outs, o)
	}
	return preds, outs
}

// fileStorage starts a real file_storage extension (bbolt, fsync off: its default) in dir.
func fileStorage(b testing.TB, dir string) component.Component {
	f := filestorage.NewFactory()
	cfg := f.CreateDefaultConfig().(*filestorage.Config)
	cfg.Directory = dir
	ext, err := f.Create(context.Background(), extensiontest.NewNopSettings(f.Type()), cfg)
	require.NoError(b, err)
	require.NoError(b, ext.Start(context.Background(), host{}))
	b.Cleanup(func() { _ = ext.Shutdown(context.Background()) })
	return ext
}

func benchJoiner(b testing.TB, withStorage bool) *joiner {
	cfg := createDefaultConfig()
	cfg.MaxPending = 10_000_000
	j, err := newJoiner(connectortest.NewNopSettings(metadata.Type), cfg, join.RealClock{})
	require.NoError(b, err)
	j.setMetrics(consumertest.NewNop())
	h := host{map[component.ID]component.Component{}}
	if withStorage {
		cfg.Storage = &storageID
		h.ext[storageID] = fileStorage(b, b.TempDir())
	}
	require.NoError(b, j.start(context.Background(), h))
	b.Cleanup(func() { _ = j.shutdown(context.Background()) })
	return j
}

// BenchmarkJoin joins batches of 1,000 predictions and their 1,000 outcomes, in memory and
// written through to file_storage (held keys every batch, aggregates once a second, on the
// real clock); reports outcomes joined per second (one goroutine: the connector's work is
// under one mutex, so this is per core).
func BenchmarkJoin(b *testing.B) {
	for _, withStorage := range []bool{false, true} {
		name := "memory"
		if withStorage {
			name = "file_storage"
		}
		b.Run(name, func(b *testing.B) {
			j := benchJoiner(b, withStorage)
			preds, outs := batches(b.N)
			ctx := context.Background()
			b.ResetTimer()
			began := time.Now()
			for i := 0; i < b.N; i++ {
				j.consume(ctx, preds[i])
				j.consume(ctx, outs[i])
			}
			b.ReportMetric(float64(b.N*benchBatch)/time.Since(began).Seconds(), "outcomes/s")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// TestBytesPerPending measures the heap and the file_storage bytes per pending prediction
// (run by `make mlperformance-bench` with MLPERF_MEASURE=1; it prints the figures).
func TestBytesPerPending(t *testing.T) {
	if os.Getenv("MLPERF_MEASURE") == "" {
		t.Skip("a measurement, not a test: MLPERF_MEASURE=1")
	}
	const n = 200_000
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	s := join.NewStore(join.Limits{DefaultTTL: time.Hour, MaxPending: n, MaxModels: 1, MaxVersions: 1, MaxClasses: 4,
		MaxSegments: 4, Window: time.Hour, Slots: 60, Bins: perf.DefaultBins}, join.NewManualClock(t0))
	for b := 0; b < n; b += benchBatch {
		// Fresh key strings per batch, as the connector gets them from each OTLP request.
		keys := make([]string, benchBatch)
		classes := make([]string, benchBatch)
		scores := make([]float64, benchBatch)
		for i := range keys {
			keys[i] = fmt.Sprintf("%032x:%d", b/benchBatch, i)
			classes[i] = []string{"0", "1"}[i%2]
			scores[i] = float64(i%100) / 100
		}
		s.AddPredictions(join.Predictions{Model: "fraud", Version: "3.1.0", Time: t0, Keys: keys,
			Classes: classes, Scores: scores, Reference: join.Reference{}})
		_, err := s.Flush(true)
		require.NoError(t, err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	require.Equal(t, n, s.Pending())
	heap := float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / n
	runtime.KeepAlive(s)

	dir := t.TempDir()
	j := benchJoiner(t, false)
	cfg := *j.cfg
	cfg.Storage = &storageID
	js, err := newJoiner(connectortest.NewNopSettings(metadata.Type), &cfg, join.NewManualClock(t0))
	require.NoError(t, err)
	require.NoError(t, js.start(context.Background(), host{map[component.ID]component.Component{storageID: fileStorage(t, dir)}}))
	preds, _ := batches(n / benchBatch)
	for _, p := range preds {
		js.consume(context.Background(), p)
	}
	require.NoError(t, js.shutdown(context.Background()))
	var disk int64
	require.NoError(t, filepath.Walk(dir, func(_ string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			disk += info.Size()
		}
		return err
	}))
	fmt.Printf("bytes per pending prediction: heap %.1f B, file_storage %.1f B (%d pending, 42-char keys)\n",
		heap, float64(disk)/n, n)
}
