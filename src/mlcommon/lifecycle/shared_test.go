// Copyright The modeltel Authors
// SPDX-License-Identifier: Apache-2.0

package lifecycle

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

type state struct{ attached []string }

// TestRegistryMakesOneStatePerIDAndForgetsOnlyItsOwn checks that the pipelines of one id
// get one state, made once and attached to each pipeline; that another id gets its own;
// that an error of create is returned and leaves nothing behind; and that Delete forgets a
// state only when it is the one registered.
func TestRegistryMakesOneStatePerIDAndForgetsOnlyItsOwn(t *testing.T) {
	var r Registry[*state]
	made := 0
	create := func() (*state, error) { made++; return &state{}, nil }
	attach := func(name string) func(*state) { return func(s *state) { s.attached = append(s.attached, name) } }
	a, b := component.MustNewID("mldrift"), component.MustNewIDWithName("mldrift", "b")

	metrics, err := r.Get(a, create, attach("metrics"))
	require.NoError(t, err)
	logs, err := r.Get(a, create, attach("logs"))
	require.NoError(t, err)
	require.Same(t, metrics, logs)
	require.Equal(t, []string{"metrics", "logs"}, metrics.attached)
	other, err := r.Get(b, create, attach("metrics"))
	require.NoError(t, err)
	require.NotSame(t, metrics, other)
	require.Equal(t, 2, made)

	_, err = r.Get(component.MustNewIDWithName("mldrift", "bad"), func() (*state, error) { return nil, errors.New("bad config") }, attach("x"))
	require.EqualError(t, err, "bad config")
	require.Equal(t, 2, r.Len())

	r.Delete(a, &state{}) // not the registered one
	require.Equal(t, 2, r.Len())
	r.Delete(a, metrics)
	require.Equal(t, 1, r.Len())
	again, err := r.Get(a, create, attach("metrics"))
	require.NoError(t, err)
	require.NotSame(t, metrics, again, "a deleted id starts with a new state")
}

// TestSharedOpensOnceAndClosesAfterTheLastShutdown checks that the first of two Starts
// opens the component and starts its loop, the second does neither, the first Shutdown
// closes nothing and the last one stops the loop before close runs.
func TestSharedOpensOnceAndClosesAfterTheLastShutdown(t *testing.T) {
	var s Shared
	var opened, closed int
	var emits atomic.Int64
	open := func() error { opened++; return nil }
	emit := func(context.Context) { emits.Add(1) }
	require.NoError(t, s.Start(open, time.Millisecond, emit))
	require.NoError(t, s.Start(open, time.Millisecond, emit))
	require.Equal(t, 1, opened)
	require.Eventually(t, func() bool { return emits.Load() > 0 }, 5*time.Second, time.Millisecond)

	closeFn := func() error { closed++; return errors.New("closed") }
	require.NoError(t, s.Shutdown(closeFn))
	require.Zero(t, closed, "one pipeline still runs")
	require.EqualError(t, s.Shutdown(closeFn), "closed")
	require.Equal(t, 1, closed)
	after := emits.Load()
	time.Sleep(10 * time.Millisecond)
	require.Equal(t, after, emits.Load(), "no emit after the last Shutdown")
}

// TestSharedStartReturnsTheErrorOfOpen checks that a component that fails to open runs no
// loop and still shuts down cleanly.
func TestSharedStartReturnsTheErrorOfOpen(t *testing.T) {
	var s Shared
	var emits atomic.Int64
	err := s.Start(func() error { return errors.New("no storage") }, time.Millisecond, func(context.Context) { emits.Add(1) })
	require.EqualError(t, err, "no storage")
	time.Sleep(10 * time.Millisecond)
	require.Zero(t, emits.Load())
	require.NoError(t, s.Shutdown(func() error { return nil }))
}

// TestSendSendsWhatHoldsDataToThePipelinesThereAre checks that Send skips empty batches
// and missing pipelines, and logs a pipeline's failure instead of returning it.
func TestSendSendsWhatHoldsDataToThePipelinesThereAre(t *testing.T) {
	md := pmetric.NewMetrics()
	md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty().Metrics().AppendEmpty().SetEmptyGauge().DataPoints().AppendEmpty()
	ld := plog.NewLogs()
	ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	core, logged := observer.New(zap.WarnLevel)
	logger := zap.New(core)
	ctx := context.Background()

	var s Shared
	s.Send(ctx, logger, md, ld) // in no pipeline yet: nothing to send to

	metrics, logs := new(consumertest.MetricsSink), new(consumertest.LogsSink)
	s.SetMetrics(metrics)
	s.SetLogs(logs)
	s.Send(ctx, logger, pmetric.NewMetrics(), plog.NewLogs())
	require.Empty(t, metrics.AllMetrics(), "an empty batch is not sent")
	require.Empty(t, logs.AllLogs())
	s.Send(ctx, logger, md, ld)
	require.Len(t, metrics.AllMetrics(), 1)
	require.Len(t, logs.AllLogs(), 1)
	require.Zero(t, logged.Len())

	s.SetMetrics(consumertest.NewErr(errors.New("exporter down")))
	s.Send(ctx, logger, md, ld)
	require.Len(t, logs.AllLogs(), 2, "the logs pipeline still gets its batch")
	require.Equal(t, 1, logged.Len())
	require.Contains(t, logged.All()[0].Message, "metrics")
}
