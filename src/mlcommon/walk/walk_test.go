// Copyright The modeltel Authors
// SPDX-License-Identifier: Apache-2.0

package walk

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

// TestMetricsYieldsEveryMetricWithItsOrigin checks the order (resource, then scope, then
// metric), the origin of each metric, that empty resources and scopes are passed over, and
// that breaking out of the loop stops the walk.
func TestMetricsYieldsEveryMetricWithItsOrigin(t *testing.T) {
	md := pmetric.NewMetrics()
	md.ResourceMetrics().AppendEmpty() // no scopes
	for _, r := range []string{"r1", "r2"} {
		rm := md.ResourceMetrics().AppendEmpty()
		rm.Resource().Attributes().PutStr("service.name", r)
		rm.ScopeMetrics().AppendEmpty() // no metrics
		for _, s := range []string{"s1", "s2"} {
			sm := rm.ScopeMetrics().AppendEmpty()
			sm.Scope().SetName(s)
			sm.Metrics().AppendEmpty().SetName(r + "/" + s + "/a")
			sm.Metrics().AppendEmpty().SetName(r + "/" + s + "/b")
		}
	}
	var got []string
	for o, m := range Metrics(md) {
		r, _ := o.Resource.Attributes().Get("service.name")
		require.Equal(t, r.Str()+"/"+o.Scope.Name(), m.Name()[:len(m.Name())-2])
		got = append(got, m.Name())
	}
	require.Equal(t, []string{"r1/s1/a", "r1/s1/b", "r1/s2/a", "r1/s2/b", "r2/s1/a", "r2/s1/b", "r2/s2/a", "r2/s2/b"}, got)

	n := 0
	for range Metrics(md) {
		n++
		if n == 3 {
			break
		}
	}
	require.Equal(t, 3, n)
}

// TestLogRecordsYieldsEveryRecordWithItsOrigin checks the same walk over log records.
func TestLogRecordsYieldsEveryRecordWithItsOrigin(t *testing.T) {
	ld := plog.NewLogs()
	for _, r := range []string{"r1", "r2"} {
		rl := ld.ResourceLogs().AppendEmpty()
		rl.Resource().Attributes().PutStr("service.name", r)
		sl := rl.ScopeLogs().AppendEmpty()
		sl.Scope().SetName("s")
		sl.LogRecords().AppendEmpty().Body().SetStr(r + "/s")
	}
	var got []string
	for o, lr := range LogRecords(ld) {
		r, _ := o.Resource.Attributes().Get("service.name")
		require.Equal(t, r.Str()+"/"+o.Scope.Name(), lr.Body().Str())
		got = append(got, lr.Body().Str())
	}
	require.Equal(t, []string{"r1/s", "r2/s"}, got)
	require.Empty(t, collect(LogRecords(plog.NewLogs())))
}

func collect(records func(func(Origin, plog.LogRecord) bool)) []plog.LogRecord {
	var out []plog.LogRecord
	for _, lr := range records {
		out = append(out, lr)
	}
	return out
}
