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
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/modeltel/mlcommon/clock"
	"github.com/modeltel/mlperformanceconnector/internal/join"
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
	j, err := newJoiner(connectortest.NewNopSettings(metadata.Type), cfg, clock.Real{})
	require.NoError(b, err)
	j.shared.SetMetrics(consumertest.NewNop())
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

// TestBytesPerPending measures the heap and the file_storage bytes per pending prediction, for
// a binary classifier (class and score) and for multiclass ones that keep k class
// probabilities (run by `make mlperformance-bench` with MLPERF_MEASURE=1; it prints the
// figures).
func TestBytesPerPending(t *testing.T) {
	if os.Getenv("MLPERF_MEASURE") == "" {
		t.Skip("a measurement, not a test: MLPERF_MEASURE=1")
	}
	for _, k := range []int{0, 3, 10, 16} {
		heap, disk := bytesPerPending(t, k)
		what := "binary (class + score)"
		if k > 0 {
			what = fmt.Sprintf("multiclass, %d class probabilities", k)
		}
		fmt.Printf("bytes per pending prediction, %s: heap %.1f B, file_storage %.1f B (%d pending, 42-char keys)\n",
			what, heap, disk, pendingMeasured)
	}
}

const pendingMeasured = 200_000

// pendingBatch is batch b of benchBatch predictions (keys like the SDK's), binary or with k
// class probabilities.
func pendingBatch(b, k int) join.Predictions {
	p := join.Predictions{Model: "fraud", Version: "3.1.0", Time: t0, Reference: join.Reference{}}
	for i := 0; i < benchBatch; i++ {
		// Fresh key strings per batch, as the connector gets them from each OTLP request.
		p.Keys = append(p.Keys, fmt.Sprintf("%032x:%d", b, i))
		if k == 0 {
			p.Classes = append(p.Classes, []string{"0", "1"}[i%2])
			p.Scores = append(p.Scores, float64(i%100)/100)
			continue
		}
		p.Classes = append(p.Classes, fmt.Sprint(i%k))
		for c := 0; c < k; c++ {
			p.Probabilities = append(p.Probabilities, float64((i+c)%k)/float64(k*(k-1)/2))
		}
	}
	for c := 0; c < k; c++ {
		p.ProbClasses = append(p.ProbClasses, fmt.Sprint(c))
	}
	return p
}

func bytesPerPending(t *testing.T, k int) (heap, disk float64) {
	n := pendingMeasured
	limits := join.Limits{DefaultTTL: time.Hour, MaxPending: n, MaxModels: 1, MaxVersions: 1, MaxClasses: 20,
		MaxSegments: 4, MaxProbabilityClasses: 16, Window: time.Hour, Slots: 60, Bins: perf.DefaultBins}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	s := join.NewStore(limits, clock.NewManual(t0))
	for b := 0; b < n/benchBatch; b++ {
		s.AddPredictions(pendingBatch(b, k))
		_, err := s.Flush(true)
		require.NoError(t, err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	require.Equal(t, n, s.Pending())
	heap = float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(n)
	runtime.KeepAlive(s)

	dir := t.TempDir()
	client, err := fileStorage(t, dir).(storage.Extension).GetClient(context.Background(), component.KindConnector, component.MustNewID("mlperformance"), "")
	require.NoError(t, err)
	s = join.NewStore(limits, clock.NewManual(t0))
	for b := 0; b < n/benchBatch; b++ {
		s.AddPredictions(pendingBatch(b, k))
		ops, err := s.Flush(true)
		require.NoError(t, err)
		require.NoError(t, client.Batch(context.Background(), ops...))
	}
	require.NoError(t, client.Close(context.Background()))
	var size int64
	require.NoError(t, filepath.Walk(dir, func(_ string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			size += info.Size()
		}
		return err
	}))
	return heap, float64(size) / float64(n)
}
