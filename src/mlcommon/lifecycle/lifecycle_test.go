// Copyright The modeltel Authors
// SPDX-License-Identifier: Apache-2.0

package lifecycle

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
)

func TestLoopCallsOnItsIntervalAndStopWaits(t *testing.T) {
	var calls atomic.Int64
	var inCall atomic.Bool
	l := StartLoop(5*time.Millisecond, func(ctx context.Context) {
		inCall.Store(true)
		calls.Add(1)
		time.Sleep(time.Millisecond)
		inCall.Store(false)
	})
	deadline := time.Now().Add(5 * time.Second)
	for calls.Load() < 3 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	l.Stop()
	if calls.Load() < 3 {
		t.Fatalf("%d calls in 5 s at a 5 ms interval", calls.Load())
	}
	if inCall.Load() {
		t.Fatal("Stop returned while a call was running")
	}
	after := calls.Load()
	time.Sleep(20 * time.Millisecond)
	if calls.Load() != after {
		t.Fatal("the loop kept calling after Stop")
	}
	var none *Loop
	none.Stop() // a component that never started stops cleanly
}

func TestStorageClientNamesAMissingExtension(t *testing.T) {
	id := component.MustNewID("file_storage")
	_, err := StorageClient(context.Background(), componenttest.NewNopHost(), id, component.KindProcessor, component.MustNewID("mldrift"))
	if err == nil || !strings.Contains(err.Error(), "file_storage") {
		t.Fatalf("err = %v, want one naming file_storage", err)
	}
}
