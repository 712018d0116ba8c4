// Copyright The modeltel Authors
// SPDX-License-Identifier: Apache-2.0

package state // import "github.com/modeltel/mldriftprocessor/internal/state"

import (
	"bytes"
	"encoding/gob"
	"fmt"
	"time"
)

// persistVersion is bumped when the encoding below changes; older data is ignored.
const persistVersion = 1

type persistedSlot struct {
	Index                  int64
	Counts                 []float64
	Cats                   map[string]float64
	Values, Missing        float64
	Violations             map[string]float64
	Min, Max, TypeMismatch float64
	Exp                    *Expo
}

type persistedRef struct {
	Counts            []float64
	Exp               *Expo
	Edges             []float64
	Halves            []Histogram // none, or the two halves
	Checked           bool
	Stability         float64
	Cats              map[string]float64
	Min, Max, Missing float64
	Since             time.Time
}

type persistedFeature struct {
	Key                 FeatureKey
	Kind                Kind
	BaselineID          string
	Bounds              []float64
	Slots               []persistedSlot
	LastSeen, FirstSeen time.Time
	Drifted             bool
	Ref                 *persistedRef
	// Seq is the sequential state (absent in data saved before it existed: a fresh start).
	Seq *persistedSeq
}

type persistedSeq struct {
	From        int64
	Stat, Limit float64
	Alarm       bool
}

type persisted struct {
	Version  int
	SlotSize time.Duration
	Features []persistedFeature
}

// Marshal encodes the feature windows, frozen self-references, edge-trigger states and
// sequential statistics, so that a restarted collector scores again at its first emit.
// Baselines are not kept: in-band ones are re-sent with every export and files are read
// at start.
func (s *Store) Marshal() ([]byte, error) {
	s.mu.Lock()
	p := persisted{Version: persistVersion, SlotSize: s.limits.SlotSize}
	for key, f := range s.features {
		pf := persistedFeature{Key: key, Kind: f.kind, BaselineID: f.baselineID, Bounds: f.bounds,
			LastSeen: f.lastSeen, FirstSeen: f.firstSeen, Drifted: f.drifted}
		for i := range f.slots {
			sl := &f.slots[i]
			if sl.index < 0 {
				continue
			}
			pf.Slots = append(pf.Slots, persistedSlot{Index: sl.index, Counts: sl.counts, Cats: sl.cats, Values: sl.values,
				Missing: sl.missing, Violations: sl.violations, Min: sl.min, Max: sl.max, TypeMismatch: sl.typeMismatch, Exp: sl.exp})
		}
		pf.Seq = &persistedSeq{From: f.seq.from, Stat: f.seq.stat, Limit: f.seq.limit, Alarm: f.seq.alarm}
		if r := f.ref; r != nil {
			pf.Ref = &persistedRef{Counts: r.counts, Exp: r.exp, Edges: r.edges, Checked: r.checked,
				Stability: r.stability, Cats: r.cats, Min: r.min, Max: r.max, Missing: r.missing, Since: r.since}
			if r.halves[0] != nil && r.halves[1] != nil {
				pf.Ref.Halves = []Histogram{*r.halves[0], *r.halves[1]}
			}
		}
		p.Features = append(p.Features, pf)
	}
	var buf bytes.Buffer
	err := gob.NewEncoder(&buf).Encode(p)
	s.mu.Unlock()
	return buf.Bytes(), err
}

// Restore loads what Marshal wrote, within the store's limits; slots that are no longer in
// the window are dropped by the next snapshot as usual. Data of another version or slot
// size is ignored (restored reports false).
func (s *Store) Restore(data []byte) (restored int, err error) {
	if len(data) == 0 {
		return 0, nil
	}
	var p persisted
	if err := gob.NewDecoder(bytes.NewReader(data)).Decode(&p); err != nil {
		return 0, fmt.Errorf("decoding the saved state: %w", err)
	}
	if p.Version != persistVersion || p.SlotSize != s.limits.SlotSize {
		return 0, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, pf := range p.Features {
		f, reason := s.featureFor(pf.Key)
		if f == nil {
			return restored, fmt.Errorf("no room for restored feature %v (%s)", pf.Key, reason)
		}
		f.kind, f.baselineID, f.bounds = pf.Kind, pf.BaselineID, pf.Bounds
		f.lastSeen, f.firstSeen, f.drifted = pf.LastSeen, pf.FirstSeen, pf.Drifted
		n := int64(len(f.slots))
		for _, ps := range pf.Slots {
			sl := &f.slots[int(((ps.Index%n)+n)%n)]
			if ps.Index < sl.index {
				continue
			}
			*sl = slot{index: ps.Index, counts: ps.Counts, cats: ps.Cats, values: ps.Values, missing: ps.Missing,
				violations: ps.Violations, min: ps.Min, max: ps.Max, exp: ps.Exp, typeMismatch: ps.TypeMismatch}
		}
		if r := pf.Ref; r != nil {
			f.ref = &reference{counts: r.Counts, exp: r.Exp, edges: r.Edges, checked: r.Checked,
				stability: r.Stability, cats: r.Cats, min: r.Min, max: r.Max, missing: r.Missing, since: r.Since}
			if len(r.Halves) == 2 {
				f.ref.halves = [2]*Histogram{&r.Halves[0], &r.Halves[1]}
			}
		}
		if q := pf.Seq; q != nil {
			f.seq = sequential{from: q.From, stat: q.Stat, limit: q.Limit, alarm: q.Alarm}
		}
		restored++
	}
	return restored, nil
}
