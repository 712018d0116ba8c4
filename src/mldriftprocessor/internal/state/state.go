// Copyright The modeltel Authors
// SPDX-License-Identifier: Apache-2.0

// Package state holds the mldrift processor's state: per model+version+feature sliding
// windows of production distributions (merged across replicas), the in-band baselines,
// and the last point of every cumulative stream (to turn it into deltas). All of it sits
// behind one mutex and is bounded by a maximum number of streams and stale expiry.
package state // import "github.com/modeltel/mldriftprocessor/internal/state"

import (
	"maps"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/modeltel/mlcommon/clock"
)

// Other is the catch-all category label (docs/semantic-conventions.md).
const Other = "__other__"

// TailLabel is the label of hashed tail bucket j: the labels beyond a feature's top
// categories, counted by their keyed hash (docs/semantic-conventions.md).
func TailLabel(j int) string { return "__tail_" + strconv.Itoa(j) + "__" }

// TailIndex returns j for TailLabel(j).
func TailIndex(label string) (int, bool) {
	if !strings.HasPrefix(label, "__tail_") || !strings.HasSuffix(label, "__") || len(label) < 10 {
		return 0, false
	}
	j, err := strconv.Atoi(label[len("__tail_") : len(label)-2])
	return j, err == nil && TailLabel(j) == label
}

// alignCategories lays a reference's and a window's labels out as cells: the reference's
// top labels sorted, then its tail buckets in bucket order, then __other__, which also
// takes every production label the reference does not have; tail is the number of tail
// cells. With fold, when the window has values in __other__ (a replica that cannot fill
// the tail: another MODELTEL_HASH_KEY, an older SDK) the tail buckets are folded into
// __other__ on both sides, so that both sides have the same cells.
func alignCategories(refCats, cats map[string]float64, fold bool) (ref, prod []float64, tail int) {
	var top []string
	var tails []int
	for c := range refCats {
		if c == Other {
			continue
		}
		if j, ok := TailIndex(c); ok {
			tails = append(tails, j)
		} else {
			top = append(top, c)
		}
	}
	sort.Strings(top)
	sort.Ints(tails)
	pos := make(map[string]int, len(top)+len(tails))
	for i, c := range top {
		pos[c] = i
	}
	for i, j := range tails {
		pos[TailLabel(j)] = len(top) + i
	}
	k := len(top) + len(tails) + 1
	ref, prod = make([]float64, k), make([]float64, k)
	for c, v := range refCats {
		if i, ok := pos[c]; ok {
			ref[i] += v
		} else {
			ref[k-1] += v
		}
	}
	for c, v := range cats {
		if i, ok := pos[c]; ok {
			prod[i] += v
		} else {
			prod[k-1] += v
		}
	}
	tail = len(tails)
	if fold && tail > 0 && prod[k-1] > 0 {
		for i := len(top); i < k-1; i++ {
			ref[k-1] += ref[i]
			prod[k-1] += prod[i]
		}
		ref, prod = append(ref[:len(top)], ref[k-1]), append(prod[:len(top)], prod[k-1])
		tail = 0
	}
	return ref, prod, tail
}

// FeatureKey identifies one feature of one model version. Replicas are merged: the key
// carries no resource attribute.
type FeatureKey struct {
	Model, Version, Role, Feature string
}

// Kind of a feature's production distribution.
type Kind uint8

// Kinds of production data a feature window holds.
const (
	KindUnknown     Kind = iota // only missing counts or violations seen so far
	KindExplicit                // numeric, explicit buckets on a baseline's edges
	KindExponential             // numeric, exponential histogram (no baseline)
	KindCategorical             // category counts
)

// Drop reasons counted in the processor's telemetry.
const (
	DropMaxStreams    = "max_streams"
	DropMaxFeatures   = "max_features"
	DropOutOfOrder    = "out_of_order"
	DropBoundMismatch = "bound_mismatch"
	// DropTypeMismatch: a point of the other kind (labels for a numeric feature, or numbers
	// for a categorical one) while the window holds values of its own kind; counted as the
	// window's type_mismatch violations, never mixed into the distribution.
	DropTypeMismatch = "type_mismatch"
	// DropMaxCategories: a label beyond a slot's MaxCategories; its values count under
	// __other__ (kept in the distribution, counted as dropped labels).
	DropMaxCategories = "max_categories"
)

// Limits bound the store.
type Limits struct {
	Window, SlotSize, StaleAfter time.Duration
	MaxStreams, MaxFeatures      int
	// MaxCategories bounds a categorical feature's labels per slot (0: unbounded).
	MaxCategories int
	// ReferenceMinSamples: a feature without a baseline freezes its first full window as
	// its reference once that window holds at least this many values.
	ReferenceMinSamples float64
}

// Baseline is the reference distribution of one feature, as received in-band.
type Baseline struct {
	ID       string
	Bounds   []float64          // numeric
	Counts   []float64          // numeric
	Min, Max float64            // numeric, NaN when absent
	Cats     map[string]float64 // categorical
	// Nulls is the reference's null count; NaN when unknown (an older SDK's in-band
	// baseline, a hand-written file).
	Nulls float64
	// Pinned baselines (from files) never expire and are never evicted.
	Pinned bool
	seen   time.Time
}

// Categorical reports whether the baseline holds category counts.
func (b *Baseline) Categorical() bool { return b.Cats != nil }

// Categories returns the baseline's labels sorted, with __other__ last (always present).
func (b *Baseline) Categories() []string {
	out := make([]string, 0, len(b.Cats)+1)
	for c := range b.Cats {
		if c != Other {
			out = append(out, c)
		}
	}
	sort.Strings(out)
	return append(out, Other)
}

type slot struct {
	index      int64
	counts     []float64 // explicit buckets
	cats       map[string]float64
	values     float64 // values in the slot (all kinds)
	missing    float64
	violations map[string]float64
	min, max   float64
	exp        *Expo // exponential histograms (no baseline)
	// typeMismatch counts values that arrived as the other kind (DropTypeMismatch).
	typeMismatch float64
}

func (s *slot) reset(index int64) {
	s.index = index
	s.counts = s.counts[:0]
	clear(s.cats)
	s.values, s.missing = 0, 0
	clear(s.violations)
	s.min, s.max = math.NaN(), math.NaN()
	s.exp = nil
	s.typeMismatch = 0
}

type feature struct {
	kind       Kind
	baselineID string
	bounds     []float64
	slots      []slot
	lastSeen   time.Time
	drifted    bool
	mismatch   string // baseline id last reported as mismatching
	firstSeen  time.Time
	// ref is the frozen reference of a feature without a baseline: its first full window.
	ref *reference
	// seq is the feature's sequential (e-CUSUM) state.
	seq sequential
}

// sequential is the e-CUSUM state of one feature (docs/drift-math.md section 9).
type sequential struct {
	from  int64   // the first slot index not yet in a batch
	stat  float64 // ln of the e-detector, capped at the alarm threshold
	limit float64 // ln of the alarm threshold of the last step
	alarm bool
}

type reference struct {
	counts []float64 // explicit buckets on the window's bounds
	exp    *Expo
	// edges are the frozen equal-mass bins of an exponential reference (RefBins of them):
	// the reference and every later window are compared on these, not on the fine
	// exponential buckets, whose sparse cells make identical traffic look different.
	edges []float64
	// halves are the reference window's older and newer half on the same cells, for the
	// stability check of the frozen reference (HalvesChecked is set once it was reported).
	halves    [2]*Histogram
	checked   bool
	stability float64
	cats      map[string]float64
	min, max  float64
	missing   float64
	since     time.Time
}

type cumulative struct {
	start, last uint64
	values      []float64
	lastSeen    time.Time
}

// Store is the processor's state. Every method locks it.
type Store struct {
	mu        sync.Mutex
	limits    Limits
	clock     clock.Clock
	startedAt uint64
	features  map[FeatureKey]*feature
	perModel  map[[2]string]int
	baselines map[FeatureKey]map[string]*Baseline
	streams   map[uint64]*cumulative
}

// NewStore returns an empty store; cumulative streams that started before now are
// differenced from their first point on, those that start later are counted in full.
func NewStore(limits Limits, clk clock.Clock) *Store {
	return &Store{
		limits:    limits,
		clock:     clk,
		startedAt: uint64(clk.Now().UnixNano()),
		features:  map[FeatureKey]*feature{},
		perModel:  map[[2]string]int{},
		baselines: map[FeatureKey]map[string]*Baseline{},
		streams:   map[uint64]*cumulative{},
	}
}

func (s *Store) nSlots() int { return int(s.limits.Window / s.limits.SlotSize) }

func (s *Store) slotIndex(now time.Time) int64 { return now.UnixNano() / int64(s.limits.SlotSize) }

func (s *Store) size() int { return len(s.features) + len(s.streams) }

// Len returns the number of feature windows and cumulative streams held.
func (s *Store) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.size()
}

// Cumulative turns one point of a cumulative stream into a delta. ok is false when the
// point adds nothing (first point of a stream that predates the processor) or is dropped
// (reason set: out of order, or no room for a new stream). A new start time, or values
// that went down, mark a reset: the point is counted in full. Out-of-order and repeated
// points (timestamp not after the last one) are dropped so nothing is counted twice.
func (s *Store) Cumulative(id, start, ts uint64, values []float64) (delta []float64, ok bool, reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	st, found := s.streams[id]
	if !found {
		if s.size() >= s.limits.MaxStreams {
			return nil, false, DropMaxStreams
		}
		s.streams[id] = &cumulative{start: start, last: ts, values: slices.Clone(values), lastSeen: now}
		if start != 0 && start >= s.startedAt {
			return values, true, ""
		}
		return nil, false, ""
	}
	if ts <= st.last || (start != 0 && start < st.start) {
		return nil, false, DropOutOfOrder
	}
	delta = make([]float64, len(values))
	reset := start != st.start || len(values) != len(st.values)
	if !reset {
		for i := range values {
			delta[i] = values[i] - st.values[i]
			if delta[i] < 0 {
				reset = true
				break
			}
		}
	}
	if reset {
		copy(delta, values)
	}
	st.start, st.last, st.lastSeen = start, ts, now
	st.values = append(st.values[:0], values...)
	return delta, true, ""
}

// SetBaseline stores (or refreshes) an in-band baseline of one feature. Baselines are
// constant, so the latest point simply replaces the previous one with the same id.
func (s *Store) SetBaseline(key FeatureKey, b *Baseline) (reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.setBaseline(key, b)
}

func (s *Store) setBaseline(key FeatureKey, b *Baseline) (reason string) {
	now := s.clock.Now()
	ids := s.baselines[key]
	if ids == nil {
		if _, ok := s.features[key]; !ok && s.size()+len(s.baselines) >= s.limits.MaxStreams {
			return DropMaxStreams
		}
		ids = map[string]*Baseline{}
		s.baselines[key] = ids
	}
	b.seen = now
	if old := ids[b.ID]; old != nil && math.IsNaN(b.Nulls) {
		b.Nulls = old.Nulls // a re-sent in-band histogram keeps the null count sent after it
	}
	ids[b.ID] = b
	const keep = 4 // a few versions of a baseline while a rollout settles
	for len(ids) > keep {
		oldest := ""
		for id, x := range ids {
			if x.Pinned {
				continue
			}
			if oldest == "" || x.seen.Before(ids[oldest].seen) {
				oldest = id
			}
		}
		if oldest == "" {
			break
		}
		delete(ids, oldest)
	}
	return ""
}

// SetBaselineNulls records the null count of an in-band baseline that has arrived (its
// distribution comes first in the SDK's export; one that has not is set at the next one).
func (s *Store) SetBaselineNulls(key FeatureKey, id string, nulls float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if b := s.baselines[key][id]; b != nil && !b.Pinned {
		b.Nulls = nulls
	}
}

// AddBaselineCategory adds one category's count to a baseline assembled from its points.
func (s *Store) AddBaselineCategory(key FeatureKey, id, category string, count float64) (reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.baselines[key][id]
	if b == nil || !b.Categorical() {
		b = &Baseline{ID: id, Cats: map[string]float64{}, Min: math.NaN(), Max: math.NaN(), Nulls: math.NaN()}
		if r := s.setBaseline(key, b); r != "" {
			return r
		}
	}
	b.Cats[category] = count
	b.seen = s.clock.Now()
	return ""
}

// featureFor returns the feature's window, creating it within the limits.
func (s *Store) featureFor(key FeatureKey) (*feature, string) {
	f := s.features[key]
	if f != nil {
		return f, ""
	}
	model := [2]string{key.Model, key.Version}
	switch {
	case s.size() >= s.limits.MaxStreams:
		return nil, DropMaxStreams
	case s.perModel[model] >= s.limits.MaxFeatures:
		return nil, DropMaxFeatures
	}
	f = &feature{slots: make([]slot, s.nSlots()), firstSeen: s.clock.Now()}
	for i := range f.slots {
		f.slots[i].reset(-1)
	}
	s.features[key] = f
	s.perModel[model]++
	return f, ""
}

// current returns the feature's slot for now, recycling an expired one.
func (s *Store) current(f *feature, now time.Time) *slot {
	idx := s.slotIndex(now)
	sl := &f.slots[int(idx%int64(len(f.slots)))]
	if sl.index != idx {
		sl.reset(idx)
	}
	f.lastSeen = now
	return sl
}

func numericKind(k Kind) bool { return k == KindExplicit || k == KindExponential }

// mismatched reports whether a point of kind k is of the other kind than the feature's:
// the kind of its baseline when it has one, else the kind of the values its window holds.
// Then the point is counted as a type mismatch: one bad request must not turn a numeric
// feature categorical or reset its window. A feature without a baseline whose window holds
// no value of its kind any more takes the new kind.
func (s *Store) mismatched(key FeatureKey, f *feature, k Kind, count float64, now time.Time) bool {
	for _, b := range s.baselines[key] {
		if b.Categorical() != (k == KindCategorical) {
			s.current(f, now).typeMismatch += count
			return true
		}
		return false
	}
	if f.kind == KindUnknown || numericKind(f.kind) == numericKind(k) {
		return false
	}
	cur := s.slotIndex(now)
	oldest := cur - int64(s.nSlots()) + 1
	for i := range f.slots {
		sl := &f.slots[i]
		if sl.index >= oldest && sl.index <= cur && sl.values > 0 {
			s.current(f, now).typeMismatch += count
			return true
		}
	}
	return false
}

func (f *feature) clear() {
	for i := range f.slots {
		f.slots[i].reset(-1)
	}
	f.ref = nil
	f.seq = sequential{}
}

// AddExplicit adds explicit-bucket counts (delta) of a numeric feature measured on the
// bounds of baseline id. A feature whose baseline id changes starts a new window (the
// bucket layout changed); the same id with other bounds is a malformed point.
func (s *Store) AddExplicit(key FeatureKey, id string, bounds, counts []float64, vmin, vmax float64) (reason string) {
	return s.addTyped(key, KindExplicit, id, sum(counts), func(f *feature, fresh bool) string {
		if fresh {
			f.bounds = slices.Clone(bounds)
		} else if !slices.Equal(f.bounds, bounds) {
			return DropBoundMismatch
		}
		sl := s.current(f, s.clock.Now())
		if len(sl.counts) == 0 {
			sl.counts = append(sl.counts, make([]float64, len(counts))...)
		}
		for i, c := range counts {
			sl.counts[i] += c
			sl.values += c
		}
		sl.min, sl.max = widen(sl.min, sl.max, vmin, vmax)
		return ""
	})
}

// AddExponential adds an exponential histogram (delta) of a numeric feature without a
// baseline; h is nil when only its count is known (a cumulative stream).
func (s *Store) AddExponential(key FeatureKey, h *Expo, count, vmin, vmax float64) (reason string) {
	return s.addTyped(key, KindExponential, "", count, func(f *feature, _ bool) string {
		sl := s.current(f, s.clock.Now())
		sl.values += count
		sl.min, sl.max = widen(sl.min, sl.max, vmin, vmax)
		if h != nil {
			if sl.exp == nil {
				sl.exp = NewExpo(h.Scale)
			}
			sl.exp.Add(h)
		}
		return ""
	})
}

// AddCategory adds the (delta) count of one category of a categorical feature.
func (s *Store) AddCategory(key FeatureKey, id, category string, count float64) (reason string) {
	return s.addTyped(key, KindCategorical, id, count, func(f *feature, _ bool) string {
		sl := s.current(f, s.clock.Now())
		if sl.cats == nil {
			sl.cats = map[string]float64{}
		}
		sl.values += count
		if _, ok := sl.cats[category]; !ok && s.limits.MaxCategories > 0 && len(sl.cats) >= s.limits.MaxCategories {
			sl.cats[Other] += count
			return DropMaxCategories
		}
		sl.cats[category] += count
		return ""
	})
}

// AddMissing adds the (delta) count of missing values of a feature.
func (s *Store) AddMissing(key FeatureKey, count float64) (reason string) {
	return s.add(key, func(f *feature) string {
		s.current(f, s.clock.Now()).missing += count
		return ""
	})
}

// AddViolations adds the (delta) count of a data-quality check's violations. An empty
// key.Feature is a model-level check.
func (s *Store) AddViolations(key FeatureKey, check string, count float64) (reason string) {
	return s.add(key, func(f *feature) string {
		sl := s.current(f, s.clock.Now())
		if sl.violations == nil {
			sl.violations = map[string]float64{}
		}
		sl.violations[check] += count
		return ""
	})
}

// add calls fn with the feature of key under the lock, creating it within the limits; it
// returns fn's reason to drop the point, or why there is no room for the feature.
func (s *Store) add(key FeatureKey, fn func(*feature) string) (reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, reason := s.featureFor(key)
	if f == nil {
		return reason
	}
	return fn(f)
}

// addTyped is add for a point of kind k on baseline id ("" for none) holding count values:
// a point of the other type than the feature's is dropped (mismatched), and a feature whose
// kind or baseline id changes starts a new window, fresh for fn.
func (s *Store) addTyped(key FeatureKey, k Kind, id string, count float64, fn func(f *feature, fresh bool) string) (reason string) {
	return s.add(key, func(f *feature) string {
		if s.mismatched(key, f, k, count, s.clock.Now()) {
			return DropTypeMismatch
		}
		fresh := f.kind != k || f.baselineID != id
		if fresh {
			if f.kind != KindUnknown {
				f.clear()
			}
			f.kind, f.baselineID, f.bounds = k, id, nil
		}
		return fn(f, fresh)
	})
}

// Window is one feature's merged window at emit time.
type Window struct {
	Key        FeatureKey
	Kind       Kind
	BaselineID string
	Values     float64 // values in the window
	Missing    float64
	// TypeMismatch is the values that arrived as the other kind (not in the distribution).
	TypeMismatch float64
	Violations   map[string]float64
	// Production is the window's histogram aligned with Baseline (explicit buckets, or
	// the baseline's categories then __other__); nil without a usable baseline.
	Production *Histogram
	Baseline   *Histogram
	// Mismatch is set when the baseline of BaselineID has other bounds than the window.
	Mismatch bool
	// BaselineNulls is the reference's null count (NaN when unknown).
	BaselineNulls float64
	// Tail is how many categorical cells before __other__ are hashed tail buckets.
	Tail    int
	Drifted bool // the edge-trigger state before this evaluation
	// ReferenceSince is set when the feature has no baseline and is compared with its own
	// first full window, frozen at that time.
	ReferenceSince time.Time
	// ReferenceHalves are the frozen reference's older and newer half (until the processor
	// has checked them: SetReferenceStability); ReferenceStability that check's p-value
	// (NaN before it, or with a baseline).
	ReferenceHalves    [2]*Histogram
	ReferenceStability float64
	// Batch is the sequential batch: the completed slots not yet tested (Sequential),
	// on the same cells as Production; nil when there are none or nothing to align them
	// with. Sequential, SequentialLimit (its last threshold) and SequentialAlarm are the
	// e-CUSUM state before this evaluation, in logs.
	Batch                       *Batch
	Sequential, SequentialLimit float64
	SequentialAlarm             bool
}

// Batch is the data of one sequential step of a feature.
type Batch struct {
	Production      *Histogram
	Values, Missing float64
	Violations      map[string]float64
	Tail            int // as Window.Tail
	// End is the slot index the next batch starts at once this one is tested.
	End int64
}

// Histogram mirrors drift.Histogram so this package does not depend on the math.
type Histogram struct {
	Bounds, Counts []float64
	Min, Max       float64
}

// Snapshot merges every feature's live slots and returns the windows sorted by key. It
// also expires stale features, baselines and cumulative streams; expired counts them.
// A window also carries the feature's sequential batch (Batch): the completed slots not
// yet in a batch, on the same cells as the window.
func (s *Store) Snapshot() (windows []Window, expired int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	expired = s.expire(now)
	cur := s.slotIndex(now)
	oldest := cur - int64(s.nSlots()) + 1
	for key, f := range s.features {
		w := s.window(key, f, oldest, cur, now, true)
		w.Sequential, w.SequentialLimit, w.SequentialAlarm = f.seq.stat, f.seq.limit, f.seq.alarm
		if lo := max(f.seq.from, oldest); lo < cur {
			if b := s.window(key, f, lo, cur-1, now, false); b.Production != nil && b.Baseline != nil {
				w.Batch = &Batch{Production: b.Production, Values: b.Values, Missing: b.Missing,
					Violations: b.Violations, Tail: b.Tail, End: cur}
			}
		}
		windows = append(windows, w)
	}
	sort.Slice(windows, func(i, j int) bool { return less(windows[i].Key, windows[j].Key) })
	return windows, expired
}

// window merges the feature's slots lo..hi (indexes) and aligns them with its baseline or
// frozen self-reference; freeze lets a full window become the self-reference.
func (s *Store) window(key FeatureKey, f *feature, lo, hi int64, now time.Time, freeze bool) Window {
	w := Window{Key: key, Kind: f.kind, BaselineID: f.baselineID, Drifted: f.drifted, BaselineNulls: math.NaN(), ReferenceStability: math.NaN()}
	var counts []float64
	var exp *Expo
	cats := map[string]float64{}
	vmin, vmax := math.NaN(), math.NaN()
	for i := range f.slots {
		sl := &f.slots[i]
		if sl.index < lo || sl.index > hi {
			continue
		}
		w.Values += sl.values
		w.Missing += sl.missing
		w.TypeMismatch += sl.typeMismatch
		for c, v := range sl.violations {
			if w.Violations == nil {
				w.Violations = map[string]float64{}
			}
			w.Violations[c] += v
		}
		if len(sl.counts) > 0 {
			if counts == nil {
				counts = make([]float64, len(sl.counts))
			}
			for j, c := range sl.counts {
				counts[j] += c
			}
		}
		for c, v := range sl.cats {
			cats[c] += v
		}
		if sl.exp != nil {
			if exp == nil {
				exp = NewExpo(sl.exp.Scale)
			}
			exp.Add(sl.exp)
		}
		vmin, vmax = widen(vmin, vmax, sl.min, sl.max)
	}
	b := s.baselines[key][f.baselineID]
	if f.baselineID == "" && f.kind != KindUnknown {
		if freeze || f.ref != nil {
			s.compareWithReference(f, &w, counts, exp, cats, vmin, vmax, now)
		}
		return w
	}
	switch {
	case b == nil || w.Values <= 0:
	case f.kind == KindExplicit && !b.Categorical():
		if !slices.Equal(b.Bounds, f.bounds) || len(b.Counts) != len(f.bounds)+1 {
			w.Mismatch = true
			break
		}
		w.Baseline = &Histogram{Bounds: b.Bounds, Counts: b.Counts, Min: b.Min, Max: b.Max}
		w.Production = &Histogram{Bounds: f.bounds, Counts: counts, Min: vmin, Max: vmax}
		w.BaselineNulls = b.Nulls
	case f.kind == KindCategorical && b.Categorical():
		ref, prod, tail := alignCategories(b.Cats, cats, true)
		w.Tail = tail
		w.Baseline = &Histogram{Counts: ref, Min: math.NaN(), Max: math.NaN()}
		w.Production = &Histogram{Counts: prod, Min: math.NaN(), Max: math.NaN()}
		w.BaselineNulls = b.Nulls
	default:
		w.Mismatch = true
	}
	return w
}

// compareWithReference scores a feature without a baseline against its own first full
// window: frozen once the feature was seen for a whole window and that window holds
// ReferenceMinSamples values.
func (s *Store) compareWithReference(f *feature, w *Window, counts []float64, exp *Expo, cats map[string]float64, vmin, vmax float64, now time.Time) {
	if w.Values <= 0 || (f.kind == KindExponential && exp == nil) || (f.kind == KindExplicit && counts == nil) {
		return
	}
	if f.ref == nil {
		// The window covers whole slots: it is full once the first slot is its oldest.
		if now.Sub(f.firstSeen) < s.limits.Window-s.limits.SlotSize || w.Values < s.limits.ReferenceMinSamples {
			return
		}
		f.ref = &reference{min: vmin, max: vmax, missing: w.Missing, since: now, stability: math.NaN()}
		switch f.kind {
		case KindExplicit:
			f.ref.counts = slices.Clone(counts)
		case KindExponential:
			f.ref.exp = exp.Clone()
			bounds, c, _ := Explicit(exp, exp)
			f.ref.edges = quantileEdges(bounds, c)
		default:
			f.ref.cats = maps.Clone(cats)
		}
		f.ref.halves = s.halves(f, now)
		// Batches must be disjoint from the reference: they start at the next slot.
		f.seq = sequential{from: s.slotIndex(now) + 1}
	}
	w.ReferenceStability = f.ref.stability
	if !f.ref.checked {
		w.ReferenceHalves = f.ref.halves
	}
	w.ReferenceSince = f.ref.since
	w.BaselineNulls = f.ref.missing
	if f.kind == KindExplicit {
		w.Baseline = &Histogram{Bounds: f.bounds, Counts: f.ref.counts, Min: f.ref.min, Max: f.ref.max}
		w.Production = &Histogram{Bounds: f.bounds, Counts: counts, Min: vmin, Max: vmax}
		return
	}
	if f.kind == KindExponential {
		bounds, ref, prod := Explicit(f.ref.exp, exp)
		edges := f.ref.edges
		w.Baseline = &Histogram{Bounds: edges, Counts: rebin(bounds, ref, edges), Min: f.ref.min, Max: f.ref.max}
		w.Production = &Histogram{Bounds: edges, Counts: rebin(bounds, prod, edges), Min: vmin, Max: vmax}
		return
	}
	// The reference's labels and tail buckets, then __other__ for every label it never saw
	// (and its own __other__, if the SDK sent one): with the tail buckets, what the
	// unseen_category rule tests. A label new to the reference is evidence, not a foreign
	// replica: no folding.
	ref, prod, tail := alignCategories(f.ref.cats, cats, false)
	w.Tail = tail
	w.Baseline = &Histogram{Counts: ref, Min: math.NaN(), Max: math.NaN()}
	w.Production = &Histogram{Counts: prod, Min: math.NaN(), Max: math.NaN()}
}

// RefBins is the number of equal-mass bins a frozen exponential self-reference is cut into
// (like a baseline's 20 quantile bins).
const RefBins = 20

// quantileEdges picks, among a histogram's bounds, the first bound at which its cumulative
// count reaches k/RefBins of the total, for k = 1..RefBins-1 (deduplicated).
func quantileEdges(bounds, counts []float64) []float64 {
	total := sum(counts)
	var edges []float64
	cum := 0.0
	k := 1
	for i, b := range bounds {
		cum += counts[i]
		for k < RefBins && cum >= total*float64(k)/RefBins {
			if len(edges) == 0 || edges[len(edges)-1] < b {
				edges = append(edges, b)
			}
			k++
		}
	}
	return edges
}

// rebin adds a histogram's buckets into the buckets of edges: each bucket goes to the one
// holding its upper bound (exact when edges are among bounds; the same for any two
// histograms rebinned from the same bounds).
func rebin(bounds, counts, edges []float64) []float64 {
	out := make([]float64, len(edges)+1)
	for i, c := range counts {
		if c == 0 {
			continue
		}
		j := len(edges)
		if i < len(bounds) {
			j = sort.SearchFloat64s(edges, bounds[i])
		}
		out[j] += c
	}
	return out
}

// halves returns the window's older and newer half as two histograms on the reference's
// cells (edges, bounds or labels), for the stability check of a reference being frozen.
func (s *Store) halves(f *feature, now time.Time) [2]*Histogram {
	cur := s.slotIndex(now)
	n := int64(s.nSlots())
	oldest := cur - n + 1
	mid := oldest + n/2
	var counts [2][]float64
	var exps [2]*Expo
	var cats [2]map[string]float64
	for i := range f.slots {
		sl := &f.slots[i]
		if sl.index < oldest || sl.index > cur {
			continue
		}
		h := 0
		if sl.index >= mid {
			h = 1
		}
		if len(sl.counts) > 0 {
			if counts[h] == nil {
				counts[h] = make([]float64, len(sl.counts))
			}
			for j, c := range sl.counts {
				counts[h][j] += c
			}
		}
		if sl.exp != nil {
			if exps[h] == nil {
				exps[h] = NewExpo(sl.exp.Scale)
			}
			exps[h].Add(sl.exp)
		}
		for c, v := range sl.cats {
			if cats[h] == nil {
				cats[h] = map[string]float64{}
			}
			cats[h][c] += v
		}
	}
	var out [2]*Histogram
	switch f.kind {
	case KindExplicit:
		if counts[0] == nil || counts[1] == nil {
			return out
		}
		out[0] = &Histogram{Bounds: f.bounds, Counts: counts[0], Min: math.NaN(), Max: math.NaN()}
		out[1] = &Histogram{Bounds: f.bounds, Counts: counts[1], Min: math.NaN(), Max: math.NaN()}
	case KindExponential:
		if exps[0] == nil || exps[1] == nil {
			return out
		}
		bounds, a, b := Explicit(exps[0], exps[1])
		edges := f.ref.edges
		out[0] = &Histogram{Bounds: edges, Counts: rebin(bounds, a, edges), Min: math.NaN(), Max: math.NaN()}
		out[1] = &Histogram{Bounds: edges, Counts: rebin(bounds, b, edges), Min: math.NaN(), Max: math.NaN()}
	default:
		if cats[0] == nil || cats[1] == nil {
			return out
		}
		labels := make([]string, 0, len(f.ref.cats))
		for c := range f.ref.cats {
			labels = append(labels, c)
		}
		sort.Strings(labels)
		a, b := make([]float64, len(labels)), make([]float64, len(labels))
		for i, c := range labels {
			a[i], b[i] = cats[0][c], cats[1][c]
		}
		out[0] = &Histogram{Counts: a, Min: math.NaN(), Max: math.NaN()}
		out[1] = &Histogram{Counts: b, Min: math.NaN(), Max: math.NaN()}
	}
	return out
}

// SetReferenceStability records the p-value of the frozen reference's stability check
// (its older half against its newer half); reported with every later window.
func (s *Store) SetReferenceStability(key FeatureKey, p float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f := s.features[key]; f != nil && f.ref != nil {
		f.ref.stability, f.ref.checked = p, true
	}
}

func less(a, b FeatureKey) bool {
	if a.Model != b.Model {
		return a.Model < b.Model
	}
	if a.Version != b.Version {
		return a.Version < b.Version
	}
	if a.Role != b.Role {
		return a.Role < b.Role
	}
	return a.Feature < b.Feature
}

// Transition records a feature's verdict and reports whether it changed (entered or left
// drift) since the last call.
func (s *Store) Transition(key FeatureKey, drifted bool) bool {
	return withFeature(s, key, func(f *feature) bool { return changed(&f.drifted, drifted) })
}

// Sequential records one sequential step of a feature: its batch up to slot end
// (exclusive) was tested and step advanced its e-CUSUM (drift.CUSUMStep) against the log
// threshold limit; the next batch starts at end. It returns the new statistic and alarm.
func (s *Store) Sequential(key FeatureKey, end int64, limit float64, step func(stat float64, alarm bool) (float64, bool)) (float64, bool) {
	seq := withFeature(s, key, func(f *feature) sequential {
		f.seq.stat, f.seq.alarm = step(f.seq.stat, f.seq.alarm)
		f.seq.from, f.seq.limit = end, limit
		return f.seq
	})
	return seq.stat, seq.alarm
}

// ReportMismatch returns true the first time a feature's window is found not to match
// its baseline id's bounds, so that it is reported once rather than every interval.
func (s *Store) ReportMismatch(key FeatureKey, id string) bool {
	return withFeature(s, key, func(f *feature) bool { return changed(&f.mismatch, id) })
}

// withFeature returns fn of the feature of key, under the lock; the zero value when the
// feature is not tracked.
func withFeature[R any](s *Store, key FeatureKey, fn func(*feature) R) R {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.features[key]
	if f == nil {
		var zero R
		return zero
	}
	return fn(f)
}

// changed sets *field to v and reports whether that changed it.
func changed[T comparable](field *T, v T) bool {
	if *field == v {
		return false
	}
	*field = v
	return true
}

func (s *Store) expire(now time.Time) int {
	n := 0
	limit := now.Add(-s.limits.StaleAfter)
	for key, f := range s.features {
		if f.lastSeen.Before(limit) {
			delete(s.features, key)
			model := [2]string{key.Model, key.Version}
			if s.perModel[model]--; s.perModel[model] <= 0 {
				delete(s.perModel, model)
			}
			n++
		}
	}
	for key, ids := range s.baselines {
		for id, b := range ids {
			if !b.Pinned && b.seen.Before(limit) {
				delete(ids, id)
			}
		}
		if len(ids) == 0 {
			delete(s.baselines, key)
		}
	}
	for id, st := range s.streams {
		if st.lastSeen.Before(limit) {
			delete(s.streams, id)
			n++
		}
	}
	return n
}

// widen returns the range [lo, hi] widened to take in [vmin, vmax]; NaN is an unknown bound
// (none yet, or not sent), which the other side's bound replaces.
func widen(lo, hi, vmin, vmax float64) (float64, float64) {
	switch {
	case math.IsNaN(vmin): // nothing to take in on this side
	case math.IsNaN(lo) || vmin < lo:
		lo = vmin
	}
	switch {
	case math.IsNaN(vmax):
	case math.IsNaN(hi) || vmax > hi:
		hi = vmax
	}
	return lo, hi
}

func sum(xs []float64) float64 {
	t := 0.0
	for _, x := range xs {
		t += x
	}
	return t
}
