// Copyright The modeltel Authors
// SPDX-License-Identifier: Apache-2.0

package join // import "github.com/modeltel/mlperformanceconnector/internal/join"

import "strings"

// A multiclass prediction's log loss and Brier score need the probability of the class that
// turns out to be the actual one, which is unknown until the outcome comes: a pending
// prediction keeps every class's probability, as float64 (float32 or quantised values would
// move log loss by ~1e-8 and break equality with scikit-learn). They live in a slab per
// column set (the record's ml.prediction.probability_classes): rows of k float64 in chunks,
// so a held row costs 8k bytes plus the Entry's Row and Set, and nothing for models without
// probabilities. Limits.MaxProbabilityClasses bounds k (docs/outcomes.md has the bytes per k).

// slabChunk is the rows per chunk: chunks are never copied when the slab grows.
const slabChunk = 4096

// slab holds rows of width float64s; released rows are reused.
type slab struct {
	width  int
	chunks [][]float64
	free   []uint32
	next   uint32
}

func newSlab(width int) *slab { return &slab{width: width} }

// put copies probs (width values) into a row and returns the row.
func (s *slab) put(probs []float64) uint32 {
	var row uint32
	if n := len(s.free); n > 0 {
		row, s.free = s.free[n-1], s.free[:n-1]
	} else {
		row = s.next
		s.next++
		if int(row/slabChunk) == len(s.chunks) {
			s.chunks = append(s.chunks, make([]float64, slabChunk*s.width))
		}
	}
	copy(s.get(row), probs)
	return row
}

// get returns the row's values (a view into the slab).
func (s *slab) get(row uint32) []float64 {
	c, off := row/slabChunk, int(row%slabChunk)*s.width
	return s.chunks[c][off : off+s.width : off+s.width]
}

// release makes the row free for reuse.
func (s *slab) release(row uint32) { s.free = append(s.free, row) }

// probSet returns the index of the column set named by classes (interned in the model's Sets
// table, so persisted with its meta record) and false when the table is full.
func (m *Model) probSet(classes []string) (uint16, bool) {
	idx, overflow := m.Sets.Intern(strings.Join(classes, "\x1f"))
	return idx, !overflow
}

// columns returns the class index of each column of set (the model's class table).
func (m *Model) columns(set uint16) []uint16 {
	if cols, ok := m.setColumns[set]; ok {
		return cols
	}
	names := strings.Split(m.Sets.Name(set), "\x1f")
	cols := make([]uint16, len(names))
	for i, n := range names {
		cols[i], _ = m.Classes.Intern(n)
	}
	m.setColumns[set] = cols
	return cols
}

// column returns the column of class in set, -1 when the set has none for it.
func (m *Model) column(set, class uint16) int {
	for i, c := range m.columns(set) {
		if c == class {
			return i
		}
	}
	return -1
}

// heldProbs returns the probabilities a held prediction keeps (nil: none).
func (m *Model) heldProbs(e Entry) []float64 {
	if e.Flags&FlagProbs == 0 {
		return nil
	}
	if s := m.slabs[e.Set]; s != nil {
		return s.get(e.Row)
	}
	return nil
}

// releaseProbs frees a held prediction's probabilities (when it joins or expires).
func (m *Model) releaseProbs(e Entry) {
	if e.Flags&FlagProbs == 0 {
		return
	}
	if s := m.slabs[e.Set]; s != nil {
		s.release(e.Row)
	}
}

// holdProbs keeps probs for an entry of set, setting its Row and flag.
func (m *Model) holdProbs(e *Entry, set uint16, probs []float64) {
	s := m.slabs[set]
	if s == nil {
		s = newSlab(len(probs))
		m.slabs[set] = s
	}
	if s.width != len(probs) {
		return // a set has one width; restored rows of another are dropped (counted there)
	}
	e.Set, e.Row, e.Flags = set, s.put(probs), e.Flags|FlagProbs
}
