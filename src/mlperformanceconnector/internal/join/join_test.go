// Copyright The modeltel Authors
// SPDX-License-Identifier: Apache-2.0

package join

import (
	"context"
	"math"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/extension/xextension/storage"

	"github.com/modeltel/mlcommon/clock"
	"github.com/modeltel/mlperformanceconnector/internal/perf"
)

var t0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func limits() Limits {
	return Limits{DefaultTTL: time.Minute, TTLs: map[string]time.Duration{"slow": time.Hour}, MaxPending: 100,
		MaxModels: 4, MaxVersions: 4, MaxClasses: 4, MaxSegments: 2, MaxProbabilityClasses: 16, Window: 10 * time.Minute, Slots: 10, Bins: perf.DefaultBins}
}

func noRef() Reference { return Reference{Accuracy: math.NaN(), MAE: math.NaN()} }

func unmatched(m *Model) map[string]uint64 {
	out := map[string]uint64{}
	for k, v := range m.Unmatched {
		out[k.Reason] += v
	}
	return out
}

// TestJoin checks every path of a key: outcome after and before its prediction, a
// duplicate outcome, a duplicate prediction, a prediction that expires and an outcome
// whose prediction never comes.
func TestJoin(t *testing.T) {
	clk := clock.NewManual(t0)
	s := NewStore(limits(), clk)
	s.AddPredictions(Predictions{Model: "m", Version: "1", Time: t0, Keys: []string{"a", "b", "c"},
		Classes: []string{"1", "0", "1"}, Scores: []float64{0.9, 0.2, 0.7}, Reference: noRef()})
	clk.Advance(30 * time.Second)
	s.AddOutcomes(Outcomes{Model: "m", Time: t0.Add(time.Second), Keys: []string{"a", "z", "a"}, Labels: []string{"1", "0", "1"}})
	s.AddOutcomes(Outcomes{Model: "m", Time: t0.Add(2 * time.Second), Keys: []string{"e"}, Labels: []string{"0"}})
	s.AddPredictions(Predictions{Model: "m", Version: "1", Time: t0.Add(3 * time.Second), Keys: []string{"e", "b"},
		Classes: []string{"1", "0"}, Scores: []float64{0.6, 0.1}, Reference: noRef()})
	m := s.Models()["m"]
	assert.Equal(t, map[string]uint64{ReasonDuplicate: 1, ReasonDuplicatePrediction: 1}, unmatched(m))
	assert.Equal(t, map[Kind]int{KindPrediction: 2, KindOutcome: 1, KindMatched: 2}, m.Counts())

	agg := m.Cum[AggKey{1, 0}]
	require.NotNil(t, agg)
	assert.Equal(t, uint64(2), agg.N)
	f := agg.Compute()
	assert.Equal(t, 0.5, f.Accuracy) // a right (1/1), e wrong (actual 0, predicted 1)
	assert.InDelta(t, (-math.Log(0.9)-math.Log(0.4))/2, f.LogLoss, 1e-12)

	clk.Advance(32 * time.Second) // predictions of t0 and the outcome of t0+1s are older than the TTL
	s.Sweep()
	assert.Equal(t, map[string]uint64{ReasonDuplicate: 1, ReasonDuplicatePrediction: 1, ReasonExpired: 2, ReasonUnknownKey: 1}, unmatched(m))
	assert.Equal(t, map[Kind]int{KindMatched: 2}, m.Counts(), "matched keys stay a TTL after their match")
	clk.Advance(30 * time.Second)
	s.Sweep()
	assert.Equal(t, 0, s.Pending())
}

// TestRegressionAndSegments checks regression rows and per-segment aggregates, with
// segments beyond the cap counted under __other__.
func TestRegressionAndSegments(t *testing.T) {
	s := NewStore(limits(), clock.NewManual(t0))
	s.AddPredictions(Predictions{Model: "r", Time: t0, Keys: []string{"1", "2", "3", "4"},
		Values: []float64{10, 20, 30, 40}, Segments: []string{"eu", "us", "apac", "latam"}, Reference: noRef()})
	s.AddOutcomes(Outcomes{Model: "r", Time: t0, Keys: []string{"1", "2", "3", "4"}, Values: []float64{11, 18, 30, 44}})
	m := s.Models()["r"]
	assert.Equal(t, []string{"", "eu", "us", Other}, m.Segments.Names)
	assert.Equal(t, uint64(2), m.Segments.Overflow, "apac and latam counted under __other__")
	other, _ := m.Segments.Intern(Other)
	assert.Equal(t, uint64(2), m.Cum[AggKey{0, other}].N)
	w := s.Window(m)[AggKey{0, AllSegments}]
	assert.InDelta(t, (1.0+2+0+4)/4, w.Compute().MAE, 1e-12)
	assert.InDelta(t, (-1.0+2+0-4)/4, w.Compute().Bias, 1e-12)
}

// TestWindowByPredictionTime checks that the window follows the prediction's time: a
// label arriving late for an old prediction counts in the cumulative figures only.
func TestWindowByPredictionTime(t *testing.T) {
	clk := clock.NewManual(t0)
	l := limits()
	l.DefaultTTL = time.Hour
	s := NewStore(l, clk)
	s.AddPredictions(Predictions{Model: "m", Time: t0, Keys: []string{"old"}, Classes: []string{"1"}, Reference: noRef()})
	clk.Advance(20 * time.Minute)
	s.AddPredictions(Predictions{Model: "m", Time: clk.Now(), Keys: []string{"new"}, Classes: []string{"1"}, Reference: noRef()})
	s.AddOutcomes(Outcomes{Model: "m", Time: clk.Now(), Keys: []string{"old", "new"}, Labels: []string{"0", "1"}})
	m := s.Models()["m"]
	assert.Equal(t, 0.5, m.Cum[AggKey{0, 0}].Compute().Accuracy)
	assert.Equal(t, 1.0, s.Window(m)[AggKey{0, AllSegments}].Compute().Accuracy)
}

// TestBounds checks max_pending and max_models: rows beyond them are counted.
func TestBounds(t *testing.T) {
	l := limits()
	l.MaxPending, l.MaxModels = 2, 1
	s := NewStore(l, clock.NewManual(t0))
	s.AddPredictions(Predictions{Model: "m", Time: t0, Keys: []string{"a", "b", "c"}, Classes: []string{"1", "1", "1"}, Reference: noRef()})
	s.AddPredictions(Predictions{Model: "other", Time: t0, Keys: []string{"a"}, Classes: []string{"1"}, Reference: noRef()})
	assert.Equal(t, 2, s.Pending())
	assert.Equal(t, map[string]uint64{ReasonMaxPending: 1}, unmatched(s.Models()["m"]))
	assert.Equal(t, uint64(1), s.Dropped)
}

// memStorage is an in-memory storage client with Walk, standing in for file_storage's.
type memStorage map[string][]byte

func (m memStorage) Batch(_ context.Context, ops ...*storage.Operation) error {
	for _, op := range ops {
		switch op.Type {
		case storage.Set:
			m[op.Key] = append([]byte(nil), op.Value...)
		case storage.Delete:
			delete(m, op.Key)
		}
	}
	return nil
}

func (m memStorage) Walk(_ context.Context, fn storage.WalkFunc) error {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if _, err := fn(k, m[k]); err != nil {
			return err
		}
	}
	return nil
}

// TestRestore checks that a store rebuilt from what Flush wrote holds the same pending
// keys, tables, aggregates and counters, and goes on joining as the original would.
func TestRestore(t *testing.T) {
	clk := clock.NewManual(t0)
	disk := memStorage{}
	flush := func(s *Store) {
		ops, err := s.Flush(true)
		require.NoError(t, err)
		require.NoError(t, disk.Batch(context.Background(), ops...))
	}
	s := NewStore(limits(), clk)
	s.AddPredictions(Predictions{Model: "m", Version: "2", Time: t0, Keys: []string{"a", "b", "c"},
		Classes: []string{"1", "0", "1"}, Scores: []float64{0.9, 0.2, 0.7}, Segments: []string{"eu", "us", "eu"}, Reference: noRef()})
	s.AddOutcomes(Outcomes{Model: "m", Time: t0, Keys: []string{"a", "early"}, Labels: []string{"1", "0"}})
	flush(s)
	clk.Advance(30 * time.Second)
	s.AddOutcomes(Outcomes{Model: "m", Time: clk.Now(), Keys: []string{"b"}, Labels: []string{"1"}})
	flush(s)

	r := NewStore(limits(), clk)
	skipped, err := r.Restore(context.Background(), disk)
	require.NoError(t, err)
	assert.Zero(t, skipped)
	assert.Equal(t, s.Pending(), r.Pending())
	sm, rm := s.Models()["m"], r.Models()["m"]
	assert.Equal(t, sm.Counts(), rm.Counts())
	assert.Equal(t, sm.entries, rm.entries)
	assert.Equal(t, sm.Classes.Names, rm.Classes.Names)
	assert.Equal(t, sm.Cum, rm.Cum)
	assert.Equal(t, sm.Start, rm.Start)

	for _, st := range []*Store{s, r} {
		st.AddOutcomes(Outcomes{Model: "m", Time: clk.Now(), Keys: []string{"c", "a"}, Labels: []string{"0", "1"}})
		st.AddPredictions(Predictions{Model: "m", Version: "2", Time: clk.Now(), Keys: []string{"early"},
			Classes: []string{"0"}, Scores: []float64{0.4}, Reference: noRef()})
	}
	assert.Equal(t, unmatched(sm), unmatched(rm))
	assert.Equal(t, sm.Cum, rm.Cum)
	assert.Equal(t, uint64(4), rm.Cum[AggKey{1, 1}].N+rm.Cum[AggKey{1, 2}].N+rm.Cum[AggKey{1, 0}].N)
}

// TestLabelsAndValuesCoerced checks that a numeric actual joins a classifier's prediction as
// the class of that name, and a label joins a regressor's as its number.
func TestLabelsAndValuesCoerced(t *testing.T) {
	s := NewStore(limits(), clock.NewManual(t0))
	s.AddPredictions(Predictions{Model: "c", Time: t0, Keys: []string{"a", "b"}, Classes: []string{"1", "0"}, Reference: noRef()})
	s.AddOutcomes(Outcomes{Model: "c", Time: t0, Keys: []string{"a", "b"}, Values: []float64{1.0, 1.0}})
	s.AddPredictions(Predictions{Model: "r", Time: t0, Keys: []string{"a"}, Values: []float64{2.5}, Reference: noRef()})
	s.AddOutcomes(Outcomes{Model: "r", Time: t0, Keys: []string{"a"}, Labels: []string{"2"}})
	assert.Equal(t, 0.5, s.Models()["c"].Cum[AggKey{0, 0}].Compute().Accuracy)
	assert.Equal(t, 0.5, s.Models()["r"].Cum[AggKey{0, 0}].Compute().MAE)
	assert.Equal(t, "1", NumberLabel(1.0))
	assert.Equal(t, "0.25", NumberLabel(0.25))
}

// FuzzRestore reads arbitrary storage records back: a corrupt record is skipped, never a panic.
func FuzzRestore(f *testing.F) {
	s := NewStore(limits(), clock.NewManual(t0))
	s.AddPredictions(Predictions{Model: "m", Time: t0, Keys: []string{"a"}, Classes: []string{"1"}, Scores: []float64{0.5}, Reference: noRef()})
	ops, _ := s.Flush(true)
	for _, op := range ops {
		f.Add(op.Key, op.Value)
	}
	f.Add("e\x00m", []byte{1, 2})
	f.Fuzz(func(t *testing.T, key string, value []byte) {
		r := NewStore(limits(), clock.NewManual(t0))
		_, err := r.Restore(context.Background(), memStorage{key: value})
		require.NoError(t, err)
	})
}
