// Copyright The modeltel Authors
// SPDX-License-Identifier: Apache-2.0

package state

import (
	"math"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/modeltel/mlcommon/clock"
)

var t0 = time.Unix(1_700_000_000, 0)

func newStore(limits Limits) (*Store, *clock.Manual) {
	if limits.Window == 0 {
		limits = Limits{Window: time.Minute, SlotSize: time.Second, StaleAfter: time.Hour, MaxStreams: 100, MaxFeatures: 100}
	}
	c := clock.NewManual(t0)
	return NewStore(limits, c), c
}

func ns(t time.Time) uint64 { return uint64(t.UnixNano()) }

// TestCumulativeStreamsBecomeDeltas checks the differencing rules: a stream that predates
// the processor is a reference first, later points add their increase, a repeated or older
// point adds nothing and is reported out of order, and a new start time counts in full.
func TestCumulativeStreamsBecomeDeltas(t *testing.T) {
	s, _ := newStore(Limits{})
	old := t0.Add(-time.Hour)
	_, ok, reason := s.Cumulative(1, ns(old), ns(t0), []float64{10, 20})
	require.False(t, ok)
	require.Empty(t, reason)
	d, ok, _ := s.Cumulative(1, ns(old), ns(t0.Add(10*time.Second)), []float64{15, 21})
	require.True(t, ok)
	require.Equal(t, []float64{5, 1}, d)
	_, ok, reason = s.Cumulative(1, ns(old), ns(t0.Add(10*time.Second)), []float64{15, 21})
	require.False(t, ok)
	require.Equal(t, DropOutOfOrder, reason)
	_, ok, reason = s.Cumulative(1, ns(old), ns(t0.Add(5*time.Second)), []float64{12, 20})
	require.False(t, ok)
	require.Equal(t, DropOutOfOrder, reason)
	d, ok, _ = s.Cumulative(1, ns(t0.Add(20*time.Second)), ns(t0.Add(30*time.Second)), []float64{3, 4})
	require.True(t, ok)
	require.Equal(t, []float64{3, 4}, d, "a reset counts the new stream's values in full")
	d, ok, _ = s.Cumulative(1, ns(t0.Add(20*time.Second)), ns(t0.Add(40*time.Second)), []float64{1, 9})
	require.True(t, ok)
	require.Equal(t, []float64{1, 9}, d, "a decrease without a new start time is a reset too")
	d, ok, _ = s.Cumulative(2, ns(t0.Add(time.Second)), ns(t0.Add(2*time.Second)), []float64{7})
	require.True(t, ok)
	require.Equal(t, []float64{7}, d, "a stream that started after the processor counts from its first point")
}

// TestExplicitWindowsMergeAndAlignWithTheBaseline checks that counts from several calls
// are summed, min/max combined, and a baseline with the same bounds is attached.
func TestExplicitWindowsMergeAndAlignWithTheBaseline(t *testing.T) {
	s, c := newStore(Limits{})
	key := FeatureKey{"m", "1", "input", "x"}
	require.Empty(t, s.SetBaseline(key, &Baseline{ID: "b", Bounds: []float64{0, 1}, Counts: []float64{1, 1, 1}, Min: math.NaN(), Max: math.NaN()}))
	require.Empty(t, s.AddExplicit(key, "b", []float64{0, 1}, []float64{1, 2, 3}, -1, 2))
	c.Advance(5 * time.Second)
	require.Empty(t, s.AddExplicit(key, "b", []float64{0, 1}, []float64{4, 5, 6}, -3, 1))
	require.Equal(t, DropBoundMismatch, s.AddExplicit(key, "b", []float64{0, 2}, []float64{1, 1, 1}, 0, 0))
	ws, _ := s.Snapshot()
	require.Len(t, ws, 1)
	require.Equal(t, []float64{5, 7, 9}, ws[0].Production.Counts)
	require.Equal(t, -3.0, ws[0].Production.Min)
	require.Equal(t, 2.0, ws[0].Production.Max)
	require.Equal(t, 21.0, ws[0].Values)
	require.False(t, ws[0].Mismatch)
}

// TestCategoriesOutsideTheBaselineCountAsOther checks the alignment of a categorical
// window with its baseline's labels, __other__ last.
func TestCategoriesOutsideTheBaselineCountAsOther(t *testing.T) {
	s, _ := newStore(Limits{})
	key := FeatureKey{"m", "1", "input", "c"}
	require.Empty(t, s.AddBaselineCategory(key, "b", "DE", 5))
	require.Empty(t, s.AddBaselineCategory(key, "b", "FR", 3))
	require.Empty(t, s.AddBaselineCategory(key, "b", Other, 0))
	for label, n := range map[string]float64{"DE": 1, "FR": 2, "#a1b2c3": 4, Other: 1} {
		require.Empty(t, s.AddCategory(key, "b", label, n))
	}
	ws, _ := s.Snapshot()
	require.Equal(t, []float64{5, 3, 0}, ws[0].Baseline.Counts)
	require.Equal(t, []float64{1, 2, 5}, ws[0].Production.Counts)
}

// TestTailBucketsAlignAndFoldIntoOther checks the cells of a baseline with tail buckets:
// top labels, the buckets in bucket order, then __other__ (Tail counts the buckets); a
// window with values in __other__ (a replica that cannot fill the tail) compares both
// sides with the buckets folded into __other__.
func TestTailBucketsAlignAndFoldIntoOther(t *testing.T) {
	s, _ := newStore(Limits{})
	key := FeatureKey{"m", "1", "input", "c"}
	for label, n := range map[string]float64{"DE": 50, "FR": 30, TailLabel(1): 7, TailLabel(0): 9, TailLabel(10): 4, Other: 0} {
		require.Empty(t, s.AddBaselineCategory(key, "b", label, n))
	}
	for label, n := range map[string]float64{"DE": 5, "FR": 2, TailLabel(0): 1, TailLabel(10): 6} {
		require.Empty(t, s.AddCategory(key, "b", label, n))
	}
	ws, _ := s.Snapshot()
	require.Equal(t, []float64{50, 30, 9, 7, 4, 0}, ws[0].Baseline.Counts)
	require.Equal(t, []float64{5, 2, 1, 0, 6, 0}, ws[0].Production.Counts)
	require.Equal(t, 3, ws[0].Tail)
	require.Empty(t, s.AddCategory(key, "b", Other, 2))
	ws, _ = s.Snapshot()
	require.Equal(t, []float64{50, 30, 20}, ws[0].Baseline.Counts)
	require.Equal(t, []float64{5, 2, 9}, ws[0].Production.Counts)
	require.Equal(t, 0, ws[0].Tail)
	for _, bad := range []string{"__tail_x__", "__tail___", "__tail_01__", "tail_1"} {
		_, ok := TailIndex(bad)
		require.False(t, ok, bad)
	}
}

// TestNewBaselineIDStartsANewWindow checks that a model that switches baselines (new
// bucket layout) does not mix counts measured on different edges.
func TestNewBaselineIDStartsANewWindow(t *testing.T) {
	s, _ := newStore(Limits{})
	key := FeatureKey{"m", "1", "input", "x"}
	require.Empty(t, s.AddExplicit(key, "b1", []float64{0}, []float64{1, 1}, 0, 0))
	require.Empty(t, s.AddExplicit(key, "b2", []float64{0, 5}, []float64{2, 2, 2}, 0, 0))
	ws, _ := s.Snapshot()
	require.Equal(t, "b2", ws[0].BaselineID)
	require.Equal(t, 6.0, ws[0].Values)
}

// TestFileBaselinesArePinned checks that pinned baselines survive stale expiry.
func TestFileBaselinesArePinned(t *testing.T) {
	s, c := newStore(Limits{Window: time.Minute, SlotSize: time.Second, StaleAfter: time.Minute, MaxStreams: 10, MaxFeatures: 10})
	key := FeatureKey{"m", "1", "input", "x"}
	require.Empty(t, s.SetBaseline(key, &Baseline{ID: "file", Bounds: []float64{0}, Counts: []float64{1, 1}, Pinned: true}))
	require.Empty(t, s.SetBaseline(key, &Baseline{ID: "inband", Bounds: []float64{0}, Counts: []float64{1, 1}}))
	c.Advance(2 * time.Minute)
	s.Snapshot()
	require.Empty(t, s.AddExplicit(key, "file", []float64{0}, []float64{3, 1}, 0, 0))
	ws, _ := s.Snapshot()
	require.NotNil(t, ws[0].Baseline, "the file baseline is still there")
	s.mu.Lock()
	defer s.mu.Unlock()
	require.NotContains(t, s.baselines[key], "inband")
}

// TestWrongTypedValuesNeverChangeTheKindOrResetTheWindow checks that a label sent for a
// numeric feature (and numbers for a categorical one) is counted as a type mismatch, keeps
// the window's values and kind, and that a feature whose window no longer holds values of
// its own kind takes the new kind.
func TestWrongTypedValuesNeverChangeTheKindOrResetTheWindow(t *testing.T) {
	s, c := newStore(Limits{})
	key := FeatureKey{"m", "1", "input", "x"}
	require.Empty(t, s.SetBaseline(key, &Baseline{ID: "b", Bounds: []float64{0, 1}, Counts: []float64{5, 5, 5}, Min: math.NaN(), Max: math.NaN()}))
	require.Empty(t, s.AddExplicit(key, "b", []float64{0, 1}, []float64{10, 20, 30}, 0, 2))
	c.Advance(time.Second)
	require.Equal(t, DropTypeMismatch, s.AddCategory(key, "b", "oops", 2))
	require.Equal(t, DropTypeMismatch, s.AddCategory(key, "", "oops", 1))
	require.Empty(t, s.AddExplicit(key, "b", []float64{0, 1}, []float64{1, 1, 1}, 0, 2))
	w, _ := s.Snapshot()
	require.Len(t, w, 1)
	require.Equal(t, KindExplicit, w[0].Kind)
	require.Equal(t, 63.0, w[0].Values)
	require.Equal(t, 3.0, w[0].TypeMismatch)
	require.Equal(t, []float64{11, 21, 31}, w[0].Production.Counts)

	cat := FeatureKey{"m", "1", "input", "c"}
	require.Empty(t, s.AddCategory(cat, "", "a", 5))
	require.Equal(t, DropTypeMismatch, s.AddExponential(cat, NewExpo(3), 1, 1, 1))

	// Without a baseline, once a feature's values leave the window it may change kind; with
	// a numeric baseline labels stay a mismatch.
	y := FeatureKey{"m", "1", "input", "y"}
	require.Empty(t, s.AddExponential(y, NewExpo(3), 1, 1, 1))
	c.Advance(2 * time.Minute)
	require.Empty(t, s.AddCategory(y, "", "label", 4))
	require.Equal(t, DropTypeMismatch, s.AddCategory(key, "", "label", 4))
	w, _ = s.Snapshot()
	byKey := map[string]Window{}
	for _, x := range w {
		byKey[x.Key.Feature] = x
	}
	require.Equal(t, KindCategorical, byKey["y"].Kind)
	require.Equal(t, 4.0, byKey["y"].Values)
	require.Equal(t, KindExplicit, byKey["x"].Kind)
	require.Equal(t, 4.0, byKey["x"].TypeMismatch)
}

// TestMarshalRestoreKeepsWindowsAndReferences checks that a store restored from Marshal
// gives the same windows (counts, kinds, the frozen self-reference) as the original.
func TestMarshalRestoreKeepsWindowsAndReferences(t *testing.T) {
	limits := Limits{Window: time.Minute, SlotSize: time.Second, StaleAfter: time.Hour, MaxStreams: 100, MaxFeatures: 100, ReferenceMinSamples: 10}
	c := clock.NewManual(t0)
	s := NewStore(limits, c)
	x := FeatureKey{"m", "1", "input", "x"}
	e := NewExpo(3)
	e.Pos[30] = 40
	e.Pos[31] = 60
	require.Empty(t, s.AddExponential(x, e, 100, 10, 20))
	require.Empty(t, s.AddCategory(FeatureKey{"m", "1", "input", "c"}, "", "a", 7))
	c.Advance(59 * time.Second)
	before, _ := s.Snapshot() // freezes x's reference
	require.NotNil(t, before[1].Baseline)
	data, err := s.Marshal()
	require.NoError(t, err)

	s2 := NewStore(limits, c)
	n, err := s2.Restore(data)
	require.NoError(t, err)
	require.Equal(t, 2, n)
	after, _ := s2.Snapshot()
	require.Equal(t, before[1].Values, after[1].Values)
	require.Equal(t, before[1].Baseline, after[1].Baseline)
	require.Equal(t, before[1].ReferenceSince, after[1].ReferenceSince)
	require.Equal(t, before[0].Values, after[0].Values)
	require.Equal(t, KindCategorical, after[0].Kind)
}

// TestCategoriesPerSlotAreBounded checks that a slot keeps at most MaxCategories labels:
// the values of further labels count under __other__ (reported as max_categories), so a
// stream of ever new labels cannot grow a window without bound.
func TestCategoriesPerSlotAreBounded(t *testing.T) {
	s, _ := newStore(Limits{Window: time.Minute, SlotSize: time.Second, StaleAfter: time.Hour, MaxStreams: 10, MaxFeatures: 10, MaxCategories: 3})
	key := FeatureKey{"m", "1", "input", "c"}
	var dropped int
	for i := range 100 {
		if s.AddCategory(key, "", "#label"+strconv.Itoa(i), 1) == DropMaxCategories {
			dropped++
		}
	}
	require.Empty(t, s.AddCategory(key, "", "#label1", 2), "a label the slot holds is still counted as itself")
	require.Equal(t, 97, dropped)
	f := s.features[key]
	sl := s.current(f, s.clock.Now())
	require.Len(t, sl.cats, 4)
	require.Equal(t, 97.0, sl.cats[Other])
	require.Equal(t, 3.0, sl.cats["#label1"])
	require.Equal(t, 102.0, sl.values)
}

// TestWidenTakesInKnownBounds checks that a range takes in the known bounds of another and
// that NaN (an unknown bound) never replaces a known one.
func TestWidenTakesInKnownBounds(t *testing.T) {
	nan := math.NaN()
	for _, c := range []struct{ lo, hi, vmin, vmax, wantLo, wantHi float64 }{
		{nan, nan, 1, 2, 1, 2},
		{1, 2, nan, nan, 1, 2},
		{1, 2, 0, 3, 0, 3},
		{0, 3, 1, 2, 0, 3},
		{1, 2, -1, nan, -1, 2},
		{nan, nan, nan, nan, nan, nan},
	} {
		lo, hi := widen(c.lo, c.hi, c.vmin, c.vmax)
		for _, got := range [][2]float64{{lo, c.wantLo}, {hi, c.wantHi}} {
			if math.IsNaN(got[1]) {
				require.True(t, math.IsNaN(got[0]), "%+v", c)
			} else {
				require.Equal(t, got[1], got[0], "%+v", c)
			}
		}
	}
}
