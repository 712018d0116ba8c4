// Copyright The modeltel Authors
// SPDX-License-Identifier: Apache-2.0

// Package join holds the pending predictions and outcomes of every model, matches them
// by join key, and keeps the performance aggregates of the matched rows. The state is
// written through to a storage client (the collector's storage extension) as it
// changes: one entry per pending key, one meta record per model; Restore reads it back.
package join // import "github.com/modeltel/mlperformanceconnector/internal/join"

import (
	"math"
	"strconv"
	"time"

	"github.com/modeltel/mlcommon/clock"
	"github.com/modeltel/mlperformanceconnector/internal/perf"
)

// Kind is what a held key is waiting for.
type Kind uint8

const (
	// KindPrediction is a prediction waiting for its outcome.
	KindPrediction Kind = 1
	// KindOutcome is an outcome that arrived before its prediction.
	KindOutcome Kind = 2
	// KindMatched is a joined key, kept until its TTL to count duplicate outcomes.
	KindMatched Kind = 3
)

// Entry flags: which output or actual the entry carries.
const (
	FlagClass uint8 = 1 << iota
	FlagScore
	FlagValue
	// FlagProbs: a prediction that keeps every class's probability (row Row of the model's
	// slab of column set Set, probs.go).
	FlagProbs
)

// Entry is one held key: 32 bytes plus the map's key string (and, with FlagProbs, 8 bytes
// per class in a slab).
type Entry struct {
	// T is the prediction time (KindPrediction), the time the outcome was observed
	// (KindOutcome) or the time the matched key is forgotten (KindMatched), in unix ns.
	T int64
	// V is the positive-class score or the regression value (prediction), or the
	// actual value (outcome of a regression).
	V float64
	// Class is the predicted class (prediction) or the actual class (outcome), an
	// index into the model's class table.
	Class uint16
	Ver   uint16
	Seg   uint16
	Kind  Kind
	Flags uint8
	// Set and Row locate a prediction's class probabilities (FlagProbs).
	Set uint16
	Row uint32
}

// Reasons an outcome or a prediction did not join.
const (
	ReasonExpired             = "expired"
	ReasonUnknownKey          = "unknown_key"
	ReasonDuplicate           = "duplicate"
	ReasonDuplicatePrediction = "duplicate_prediction"
	ReasonMismatched          = "mismatched"
	ReasonMaxPending          = "max_pending"
)

// Reasons a classified prediction's class probabilities were not kept (its row still joins
// for accuracy and F1, not for log loss and Brier): counted in State.Unscored.
const (
	ReasonTooManyClasses       = "too_many_classes"
	ReasonTooManyClassSets     = "too_many_class_sets"
	ReasonInvalidProbabilities = "invalid_probabilities"
)

// Limits bound the state and set the TTLs and windows.
type Limits struct {
	// TTL is how long a prediction waits for its outcome (and an outcome for its
	// prediction), per model name; DefaultTTL for the others.
	DefaultTTL time.Duration
	TTLs       map[string]time.Duration
	// MaxPending bounds the held keys (all kinds, all models).
	MaxPending int
	// MaxModels, MaxVersions, MaxClasses and MaxSegments bound the label tables per
	// model; labels beyond them count under "__other__".
	MaxModels, MaxVersions, MaxClasses, MaxSegments int
	// MaxProbabilityClasses bounds the classes whose probabilities a pending prediction keeps
	// (8 bytes each); predictions with more are held without them.
	MaxProbabilityClasses int
	// Window is the span of prediction time the windowed figures cover, in Slots slots.
	Window time.Duration
	Slots  int
	Bins   perf.Bins
	// Calibrations map scores to probabilities per model name for the estimated figures
	// (none: the scores are taken as calibrated).
	Calibrations map[string]perf.Calibration
}

// AggKey names one aggregate: a version and a segment (AllSegments for the model as a
// whole).
type AggKey struct{ Ver, Seg uint16 }

// AllSegments is the Seg of aggregates and verdicts over every segment of a version.
const AllSegments uint16 = math.MaxUint16

// Reference is the expected performance of a version, from its baseline's validation
// data (in-band) or the config; NaN when unknown.
type Reference struct {
	Accuracy float64
	MAE      float64
}

// DelayBounds are the label delay histogram's bounds in seconds.
var DelayBounds = []float64{1, 10, 60, 600, 3600, 21600, 86400, 604800, 2592000}

// Model is the state of one model name.
type Model struct {
	Name     string
	ttl      time.Duration
	entries  map[string]Entry
	Classes  *Table
	Versions *Table
	Segments *Table
	// Sets are the column sets of class probabilities (ml.prediction.probability_classes,
	// joined by U+001F); slabs hold the pending rows' probabilities per set.
	Sets       *Table
	slabs      map[uint16]*slab
	setColumns map[uint16][]uint16
	State
}

// State is what a model keeps besides its held keys and label tables; it is the model's
// meta record in the storage (persist.go) as it is.
type State struct {
	// Positive is the class a score is the probability of.
	Positive uint16
	// Cum are the cumulative aggregates per version and segment; Slots the aggregates
	// of the window's slots (slot = prediction time / slot width).
	Cum   map[AggKey]*perf.Agg
	Slots map[SlotKey]*perf.Agg
	// Unmatched counts per version, segment and reason.
	Unmatched map[ReasonKey]uint64
	// Unscored counts predictions whose class probabilities were not kept, per version,
	// segment and reason (ReasonTooManyClasses, ...).
	Unscored map[ReasonKey]uint64
	// Delay is the label delay histogram per version (len(DelayBounds)+1 counts).
	Delay map[uint16][]uint64
	// Refs are the in-band references per version.
	Refs map[uint16]Reference
	// Calibrations are the in-band calibrations per version (from the baseline's
	// validation data), used when the config gives the model none.
	Calibrations map[uint16]perf.Calibration
	// LabelRefs are the in-band label distributions (the baseline's targets) per version.
	LabelRefs map[uint16]map[string]float64
	// Degraded holds the verdict per version and segment (true: degraded).
	Degraded map[AggKey]bool
	// Start is when the model was first seen (unix ns): the start of its cumulative
	// metrics, kept across restarts.
	Start int64
}

// SlotKey names one window slot's aggregate.
type SlotKey struct {
	Ver, Seg uint16
	Slot     int64
}

// ReasonKey names one unmatched counter.
type ReasonKey struct {
	Ver, Seg uint16
	Reason   string
}

// Store is the join state of every model. It is not safe for concurrent use: the
// connector guards it with one mutex.
type Store struct {
	limits  Limits
	clock   clock.Clock
	models  map[string]*Model
	pending int
	journal journal
	// metaWritten is when Flush last wrote the models' meta records.
	metaWritten time.Time
	// Dropped counts rows rejected before they reached a model (max_models).
	Dropped uint64
}

// NewStore returns an empty store.
func NewStore(l Limits, clk clock.Clock) *Store {
	return &Store{limits: l, clock: clk, models: map[string]*Model{}, journal: newJournal()}
}

// Pending is the number of held keys.
func (s *Store) Pending() int { return s.pending }

// Models returns the models, for emitting.
func (s *Store) Models() map[string]*Model { return s.models }

func (s *Store) model(name string) *Model {
	if m, ok := s.models[name]; ok {
		return m
	}
	if len(s.models) >= s.limits.MaxModels {
		return nil
	}
	m := s.newModel(name)
	m.Start = s.clock.Now().UnixNano()
	s.models[name] = m
	s.journal.touch(name)
	return m
}

func (s *Store) newModel(name string) *Model {
	ttl, ok := s.limits.TTLs[name]
	if !ok {
		ttl = s.limits.DefaultTTL
	}
	m := &Model{
		Name: name, ttl: ttl, entries: map[string]Entry{},
		Classes: NewTable(s.limits.MaxClasses), Versions: NewTable(s.limits.MaxVersions),
		Segments: NewTable(s.limits.MaxSegments), Sets: NewTable(s.limits.MaxVersions),
		slabs: map[uint16]*slab{}, setColumns: map[uint16][]uint16{},
		State: State{
			Cum: map[AggKey]*perf.Agg{}, Slots: map[SlotKey]*perf.Agg{},
			Unmatched: map[ReasonKey]uint64{}, Unscored: map[ReasonKey]uint64{}, Delay: map[uint16][]uint64{},
			Refs: map[uint16]Reference{}, Degraded: map[AggKey]bool{},
			Calibrations: map[uint16]perf.Calibration{}, LabelRefs: map[uint16]map[string]float64{},
		},
	}
	m.Positive, _ = m.Classes.Intern("1")
	return m
}

// Predictions is one joinable prediction record: rows of one model version.
type Predictions struct {
	Model, Version string
	Time           time.Time
	Keys           []string
	// Classes (classification), Scores (positive-class probability, optional with
	// Classes) or Values (regression), one per key.
	Classes  []string
	Scores   []float64
	Values   []float64
	Segments []string
	// Probabilities are every class's probability per row, row-major (len(Keys) rows of
	// len(ProbClasses) values), ProbClasses the class of each column (optional, classifiers).
	Probabilities []float64
	ProbClasses   []string
	// Positive is the class Scores are the probability of ("" = "1").
	Positive  string
	Reference Reference
	// Calibration is the baseline's, in-band (empty: none sent).
	Calibration perf.Calibration
	// Labels are the counts of the baseline's actual labels, in-band (nil: none sent).
	Labels map[string]float64
}

// Outcomes is one ground-truth record.
type Outcomes struct {
	Model  string
	Time   time.Time
	Keys   []string
	Labels []string
	Values []float64
}

// Baseline is what a model version's baseline says of its performance on validation data:
// the reference, the calibration and the label counts, from a baseline file (baseline_files)
// or in-band on the predictions.
type Baseline struct {
	Model, Version string
	// Positive is the class scores are the probability of ("" = leave as it is).
	Positive    string
	Reference   Reference
	Calibration perf.Calibration
	Labels      map[string]float64
}

// UseBaseline makes a version's baseline known before any of its predictions arrive; false
// when the model finds no room (max_models).
func (s *Store) UseBaseline(b Baseline) bool {
	m := s.model(b.Model)
	if m == nil {
		return false
	}
	ver, _ := m.Versions.Intern(b.Version)
	m.useBaseline(ver, b)
	s.journal.touch(m.Name)
	return true
}

// useBaseline records what of b is set (NaN references, an empty calibration or no labels
// leave the version's as they are).
func (m *Model) useBaseline(ver uint16, b Baseline) {
	if b.Positive != "" && b.Positive != m.Classes.Names[m.Positive] {
		m.Positive, _ = m.Classes.Intern(b.Positive)
	}
	if !math.IsNaN(b.Reference.Accuracy) || !math.IsNaN(b.Reference.MAE) {
		m.Refs[ver] = b.Reference
	}
	if len(b.Calibration.Scores) > 0 {
		m.Calibrations[ver] = b.Calibration
	}
	if len(b.Labels) > 0 {
		m.LabelRefs[ver] = b.Labels
	}
}

// AddPredictions holds or joins every row; rows whose arrays are shorter than Keys are
// counted as mismatched.
func (s *Store) AddPredictions(p Predictions) {
	m := s.model(p.Model)
	if m == nil {
		s.Dropped += uint64(len(p.Keys))
		return
	}
	ver, _ := m.Versions.Intern(p.Version)
	m.useBaseline(ver, Baseline{Positive: p.Positive, Reference: p.Reference, Calibration: p.Calibration, Labels: p.Labels})
	// The config's calibration is explicit and wins; else the version's baseline's.
	calibration, configured := s.limits.Calibrations[m.Name]
	if !configured {
		calibration = m.Calibrations[ver]
	}
	t := p.Time.UnixNano()
	k := len(p.ProbClasses)
	set, probReason := uint16(0), ""
	switch {
	case k == 0 || len(p.Probabilities) != k*len(p.Keys) || len(p.Classes) != len(p.Keys):
		k = 0
	case k > s.limits.MaxProbabilityClasses:
		probReason = ReasonTooManyClasses
	default:
		var ok bool
		if set, ok = m.probSet(p.ProbClasses); !ok {
			probReason = ReasonTooManyClassSets
		}
	}
	for i, key := range p.Keys {
		e := Entry{T: t, Ver: ver, Kind: KindPrediction}
		if i < len(p.Segments) {
			e.Seg, _ = m.Segments.Intern(p.Segments[i])
		}
		var probs []float64
		if k > 0 {
			reason := probReason
			if reason == "" {
				probs = p.Probabilities[i*k : (i+1)*k]
				if !perf.ValidProbabilities(probs) {
					probs, reason = nil, ReasonInvalidProbabilities
				}
			}
			if reason != "" {
				m.Unscored[ReasonKey{ver, e.Seg, reason}]++
			}
		}
		if !m.read(&e, i, p.Values, p.Classes) {
			continue
		}
		if e.Flags == FlagClass && i < len(p.Scores) {
			e.V, e.Flags = p.Scores[i], e.Flags|FlagScore
			score, positive := e.V, e.Class == m.Positive
			prob := calibration.Apply(score)
			s.aggs(m, AggKey{ver, e.Seg}, t, func(a *perf.Agg) { a.AddEstimate(s.limits.Bins, score, prob, positive) })
		}
		held, ok := m.entries[key]
		switch {
		case !ok:
			if probs != nil {
				m.holdProbs(&e, set, probs)
			}
			if !s.hold(m, key, e) {
				m.releaseProbs(e)
			}
		case held.Kind == KindOutcome:
			if probs != nil {
				e.Set, e.Flags = set, e.Flags|FlagProbs
			}
			s.join(m, key, e, held, held.T, probs)
		default:
			m.Unmatched[ReasonKey{ver, e.Seg, ReasonDuplicatePrediction}]++
		}
	}
	s.journal.touch(m.Name)
}

// AddOutcomes joins or holds every row.
func (s *Store) AddOutcomes(o Outcomes) {
	m := s.model(o.Model)
	if m == nil {
		s.Dropped += uint64(len(o.Keys))
		return
	}
	t := o.Time.UnixNano()
	for i, key := range o.Keys {
		e := Entry{T: t, Kind: KindOutcome}
		if !m.read(&e, i, o.Values, o.Labels) {
			continue
		}
		held, ok := m.entries[key]
		switch {
		case !ok:
			s.hold(m, key, e)
		case held.Kind == KindPrediction:
			s.join(m, key, held, e, t, m.heldProbs(held))
			m.releaseProbs(held)
		default:
			m.Unmatched[ReasonKey{held.Ver, held.Seg, ReasonDuplicate}]++
		}
	}
	s.journal.touch(m.Name)
}

// read sets row i's number (values) or else its class (labels) on e; a row that has neither
// (its arrays are shorter than the keys) is counted as mismatched and read is false.
func (m *Model) read(e *Entry, i int, values []float64, labels []string) bool {
	switch {
	case i < len(values):
		e.V, e.Flags = values[i], FlagValue
	case i < len(labels):
		e.Class, _ = m.Classes.Intern(labels[i])
		e.Flags = FlagClass
	default:
		m.Unmatched[ReasonKey{e.Ver, e.Seg, ReasonMismatched}]++
		return false
	}
	return true
}

func (s *Store) hold(m *Model, key string, e Entry) bool {
	if s.pending >= s.limits.MaxPending {
		m.Unmatched[ReasonKey{e.Ver, e.Seg, ReasonMaxPending}]++
		return false
	}
	s.pending++
	m.entries[key] = e
	s.journal.set(m.Name, key, e)
	return true
}

// join adds the matched pair to the aggregates and keeps the key as matched; probs are the
// prediction's class probabilities (column set pred.Set), nil when it has none.
func (s *Store) join(m *Model, key string, pred, out Entry, observed int64, probs []float64) {
	k := AggKey{pred.Ver, pred.Seg}
	// An actual sent as a number for a classifier is the class of that name (1.0 -> "1"),
	// a label for a regressor is its number, so that the sender need not know the task.
	switch {
	case pred.Flags&FlagClass != 0 && out.Flags == FlagValue && !math.IsNaN(out.V):
		out.Class, _ = m.Classes.Intern(NumberLabel(out.V))
		out.Flags = FlagClass
	case pred.Flags == FlagValue && out.Flags == FlagClass:
		if v, err := strconv.ParseFloat(m.Classes.Name(out.Class), 64); err == nil {
			out.V, out.Flags = v, FlagValue
		}
	}
	switch {
	case pred.Flags&FlagValue != 0 && out.Flags&FlagValue != 0:
		s.aggs(m, k, pred.T, func(a *perf.Agg) { a.AddValue(pred.V, out.V) })
	case pred.Flags&FlagClass != 0 && out.Flags&FlagClass != 0:
		s.aggs(m, k, pred.T, func(a *perf.Agg) {
			a.AddClass(out.Class, pred.Class)
			if pred.Flags&FlagScore != 0 {
				a.AddScore(s.limits.Bins, pred.V, out.Class == m.Positive)
			}
			if probs != nil {
				a.AddProbabilities(probs, m.column(pred.Set, out.Class))
			}
		})
	default:
		m.Unmatched[ReasonKey{pred.Ver, pred.Seg, ReasonMismatched}]++
	}
	delay := float64(observed-pred.T) / 1e9
	h := m.Delay[pred.Ver]
	if h == nil {
		h = make([]uint64, len(DelayBounds)+1)
		m.Delay[pred.Ver] = h
	}
	i := 0
	for i < len(DelayBounds) && delay > DelayBounds[i] {
		i++
	}
	h[i]++
	if _, held := m.entries[key]; !held {
		if s.pending >= s.limits.MaxPending {
			return // joined, but no room to remember the key for duplicates
		}
		s.pending++
	}
	done := Entry{T: s.clock.Now().Add(m.ttl).UnixNano(), Ver: pred.Ver, Seg: pred.Seg, Kind: KindMatched}
	m.entries[key] = done
	s.journal.set(m.Name, key, done)
}

func (s *Store) aggs(m *Model, k AggKey, predTime int64, add func(*perf.Agg)) {
	c := m.Cum[k]
	if c == nil {
		c = perf.NewAgg(s.limits.Bins)
		m.Cum[k] = c
	}
	add(c)
	slot := predTime / s.slotWidth()
	if slot < s.firstSlot() {
		return // older than the window: counted in the cumulative figures only
	}
	sk := SlotKey{k.Ver, k.Seg, slot}
	a := m.Slots[sk]
	if a == nil {
		a = perf.NewAgg(s.limits.Bins)
		m.Slots[sk] = a
	}
	add(a)
}

func (s *Store) slotWidth() int64 {
	w := int64(s.limits.Window) / int64(s.limits.Slots)
	if w <= 0 {
		w = 1
	}
	return w
}

func (s *Store) firstSlot() int64 {
	return s.clock.Now().Add(-s.limits.Window).UnixNano()/s.slotWidth() + 1
}

// Sweep forgets what outlived its TTL, counting expired predictions and outcomes whose
// prediction never came (unknown_key), and drops window slots that left the window.
func (s *Store) Sweep() {
	now := s.clock.Now().UnixNano()
	first := s.firstSlot()
	for _, m := range s.models {
		ttl := int64(m.ttl)
		changed := false
		for key, e := range m.entries {
			var gone bool
			switch e.Kind {
			case KindPrediction:
				if gone = e.T+ttl < now; gone {
					m.Unmatched[ReasonKey{e.Ver, e.Seg, ReasonExpired}]++
					m.releaseProbs(e)
				}
			case KindOutcome:
				if gone = e.T+ttl < now; gone {
					m.Unmatched[ReasonKey{0, 0, ReasonUnknownKey}]++
				}
			default:
				gone = e.T < now
			}
			if gone {
				delete(m.entries, key)
				s.pending--
				s.journal.remove(m.Name, key)
				changed = true
			}
		}
		for k := range m.Slots {
			if k.Slot < first {
				delete(m.Slots, k)
				changed = true
			}
		}
		if changed {
			s.journal.touch(m.Name)
		}
	}
}

// Window returns the aggregates of the window per version and segment, plus per
// version over all segments (Seg = AllSegments; the only one for rows without a segment).
func (s *Store) Window(m *Model) map[AggKey]*perf.Agg {
	first := s.firstSlot()
	out := map[AggKey]*perf.Agg{}
	add := func(k AggKey, a *perf.Agg) {
		w := out[k]
		if w == nil {
			w = perf.NewAgg(s.limits.Bins)
			out[k] = w
		}
		w.Merge(a)
	}
	for k, a := range m.Slots {
		if k.Slot < first {
			continue
		}
		if k.Seg != 0 { // rows without a segment count for the version as a whole only
			add(AggKey{k.Ver, k.Seg}, a)
		}
		add(AggKey{k.Ver, AllSegments}, a)
	}
	return out
}

// Counts returns the held keys of a model by kind.
func (m *Model) Counts() map[Kind]int {
	out := map[Kind]int{}
	for _, e := range m.entries {
		out[e.Kind]++
	}
	return out
}

// Touch marks a model's meta record (aggregates, counters, verdicts) for the next Flush.
func (s *Store) Touch(model string) { s.journal.touch(model) }

// NumberLabel is the class label of a number: integers in decimal, others in the shortest
// form that reads back the same (the SDK's rule, modeltel._outcomes.labels).
func NumberLabel(d float64) string {
	if d == math.Trunc(d) && math.Abs(d) < 1<<53 {
		return strconv.FormatInt(int64(d), 10)
	}
	return strconv.FormatFloat(d, 'g', -1, 64)
}
