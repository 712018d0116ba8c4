// Copyright The modeltel Authors
// SPDX-License-Identifier: Apache-2.0

// Package walk iterates over the records of a pdata batch (every metric, every log record)
// with the resource and scope each came in, so that no component nests the three loops
// itself.
package walk // import "github.com/modeltel/mlcommon/walk"

import (
	"iter"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

// Origin is where a record came from: its resource and its instrumentation scope.
type Origin struct {
	Resource pcommon.Resource
	Scope    pcommon.InstrumentationScope
}

// Metrics yields every metric of md with its origin.
func Metrics(md pmetric.Metrics) iter.Seq2[Origin, pmetric.Metric] {
	return nested(md.ResourceMetrics(), pmetric.ResourceMetrics.Resource, pmetric.ResourceMetrics.ScopeMetrics,
		pmetric.ScopeMetrics.Scope, pmetric.ScopeMetrics.Metrics)
}

// LogRecords yields every log record of ld with its origin.
func LogRecords(ld plog.Logs) iter.Seq2[Origin, plog.LogRecord] {
	return nested(ld.ResourceLogs(), plog.ResourceLogs.Resource, plog.ResourceLogs.ScopeLogs,
		plog.ScopeLogs.Scope, plog.ScopeLogs.LogRecords)
}

// slice is a pdata slice of T.
type slice[T any] interface {
	Len() int
	At(i int) T
}

// nested yields the items of every scope of every resource, given a resource's resource
// and scopes and a scope's scope and items (the accessors of the pdata types).
func nested[R, S, X any, RS slice[R], SS slice[S], XS slice[X]](
	resources RS,
	resource func(R) pcommon.Resource, scopes func(R) SS,
	scope func(S) pcommon.InstrumentationScope, items func(S) XS,
) iter.Seq2[Origin, X] {
	return func(yield func(Origin, X) bool) {
		for i := range resources.Len() {
			r := resources.At(i)
			ss := scopes(r)
			for j := range ss.Len() {
				s := ss.At(j)
				origin, xs := Origin{resource(r), scope(s)}, items(s)
				for k := range xs.Len() {
					if !yield(origin, xs.At(k)) {
						return
					}
				}
			}
		}
	}
}
