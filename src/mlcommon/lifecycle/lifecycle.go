// Copyright The modeltel Authors
// SPDX-License-Identifier: Apache-2.0

// Package lifecycle holds what the life of modeltel's collector components shares: the
// registry of the one state each component id shares across its pipelines, what those
// pipelines share (their next consumers, the first Start and the last Shutdown), the emit
// loop that runs on an interval until the component stops, and the client of the storage
// extension their state is saved through.
package lifecycle // import "github.com/modeltel/mlcommon/lifecycle"

import (
	"context"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension/xextension/storage"
)

// Loop calls a function on an interval, on a goroutine of its own, until Stop.
type Loop struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// StartLoop calls fn(ctx) every interval until Stop; ctx is cancelled by Stop.
func StartLoop(interval time.Duration, fn func(context.Context)) *Loop {
	ctx, cancel := context.WithCancel(context.Background())
	l := &Loop{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(l.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				fn(ctx)
			}
		}
	}()
	return l
}

// Stop cancels the loop and waits for a call in progress to return. A nil loop is a no-op.
func (l *Loop) Stop() {
	if l == nil {
		return
	}
	l.cancel()
	<-l.done
}

// StorageClient is the client of the storage extension `extension` for the component
// `owner` of kind `kind`: an error names the extension when it is missing, is not a storage
// extension, or refuses the client.
func StorageClient(ctx context.Context, host component.Host, extension component.ID, kind component.Kind, owner component.ID) (storage.Client, error) {
	ext, ok := host.GetExtensions()[extension]
	if !ok {
		return nil, fmt.Errorf("storage extension %s not found", extension)
	}
	se, ok := ext.(storage.Extension)
	if !ok {
		return nil, fmt.Errorf("extension %s is not a storage extension", extension)
	}
	client, err := se.GetClient(ctx, kind, owner, "")
	if err != nil {
		return nil, fmt.Errorf("storage %s: %w", extension, err)
	}
	return client, nil
}
