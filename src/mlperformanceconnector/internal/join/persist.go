// Copyright The modeltel Authors
// SPDX-License-Identifier: Apache-2.0

package join // import "github.com/modeltel/mlperformanceconnector/internal/join"

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/gob"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"strings"
	"time"

	"go.opentelemetry.io/collector/extension/xextension/storage"

	"github.com/modeltel/mlperformanceconnector/internal/perf"
)

// Storage layout (one bbolt bucket per component with file_storage):
//
//	e\x00<model>\x00<join key>  one held key: Entry, 24 bytes little-endian; a prediction that
//	                           keeps class probabilities adds its column set (2 bytes) and
//	                           the k probabilities (8 bytes each)
//	m\x00<model>                the model's meta record (tables, aggregates, counters): a
//	                           12-byte header (magic "mlpf", format version, CRC-32C of the
//	                           gob that follows) and the gob
//
// Entries change one by one as rows arrive; a model's meta record is rewritten once per
// flush when the model changed.
const (
	prefixEntry = "e\x00"
	prefixMeta  = "m\x00"
	entrySize   = 24
)

// journal collects the storage writes since the last flush, last write per key wins.
type journal struct {
	entries map[string]*Entry // nil: delete
	models  map[string]bool
}

func newJournal() journal {
	return journal{entries: map[string]*Entry{}, models: map[string]bool{}}
}

func entryKey(model, key string) string { return prefixEntry + model + "\x00" + key }

func (j *journal) set(model, key string, e Entry) { j.entries[entryKey(model, key)] = &e }
func (j *journal) remove(model, key string)       { j.entries[entryKey(model, key)] = nil }
func (j *journal) touch(model string)             { j.models[model] = true }

// MetaEvery is how often at most a changed model's meta record (aggregates, counters) is
// rewritten by Flush(false): it holds every window slot's aggregates, tens to hundreds of
// kilobytes, too much to write per incoming batch. Held keys are written on every flush.
const MetaEvery = time.Second

// Flush returns the storage operations that bring the storage up to date with the store
// (to pass to one Client.Batch call) and forgets them: every held key that changed, and the
// meta records of changed models when force is set or MetaEvery has passed since the last
// ones were written. So a SIGKILL can lose up to MetaEvery of aggregates; the connector
// flushes with force on every emit and at shutdown.
func (s *Store) Flush(force bool) ([]*storage.Operation, error) {
	ops := make([]*storage.Operation, 0, len(s.journal.entries)+len(s.journal.models))
	for k, e := range s.journal.entries {
		if e == nil {
			ops = append(ops, storage.DeleteOperation(k))
			continue
		}
		ops = append(ops, storage.SetOperation(k, s.encodeEntry(k, *e)))
	}
	s.journal.entries = map[string]*Entry{}
	now := s.clock.Now()
	if !force && now.Sub(s.metaWritten) < MetaEvery {
		return ops, nil
	}
	for name := range s.journal.models {
		m := s.models[name]
		if m == nil {
			continue
		}
		b, err := encodeMeta(m)
		if err != nil {
			return nil, err
		}
		ops = append(ops, storage.SetOperation(prefixMeta+name, b))
	}
	s.journal.models = map[string]bool{}
	s.metaWritten = now
	return ops, nil
}

// encodeEntry is the stored form of entry e of storage key k (with the probabilities it keeps).
func (s *Store) encodeEntry(k string, e Entry) []byte {
	var probs []float64
	if e.Flags&FlagProbs != 0 {
		model, _, _ := strings.Cut(k[len(prefixEntry):], "\x00")
		if m := s.models[model]; m != nil {
			probs = m.heldProbs(e)
		}
	}
	size := entrySize
	if probs != nil {
		size += 2 + 8*len(probs)
	}
	b := make([]byte, size)
	binary.LittleEndian.PutUint64(b[0:], uint64(e.T))
	binary.LittleEndian.PutUint64(b[8:], math.Float64bits(e.V))
	binary.LittleEndian.PutUint16(b[16:], e.Class)
	binary.LittleEndian.PutUint16(b[18:], e.Ver)
	binary.LittleEndian.PutUint16(b[20:], e.Seg)
	b[22], b[23] = byte(e.Kind), e.Flags&^FlagProbs
	if probs != nil {
		b[23] |= FlagProbs
		binary.LittleEndian.PutUint16(b[24:], e.Set)
		for i, q := range probs {
			binary.LittleEndian.PutUint64(b[26+8*i:], math.Float64bits(q))
		}
	}
	return b
}

func decodeEntry(b []byte) (Entry, []float64, error) {
	if len(b) < entrySize || b[22] < byte(KindPrediction) || b[22] > byte(KindMatched) {
		return Entry{}, nil, fmt.Errorf("bad entry of %d bytes", len(b))
	}
	e := Entry{
		T: int64(binary.LittleEndian.Uint64(b[0:])), V: math.Float64frombits(binary.LittleEndian.Uint64(b[8:])),
		Class: binary.LittleEndian.Uint16(b[16:]), Ver: binary.LittleEndian.Uint16(b[18:]),
		Seg: binary.LittleEndian.Uint16(b[20:]), Kind: Kind(b[22]), Flags: b[23],
	}
	withProbs := e.Flags&FlagProbs != 0
	if withProbs != (len(b) > entrySize) || (withProbs && (e.Kind != KindPrediction || len(b) < entrySize+2+8 || (len(b)-entrySize-2)%8 != 0)) {
		return Entry{}, nil, fmt.Errorf("bad entry of %d bytes", len(b))
	}
	if !withProbs {
		return e, nil, nil
	}
	e.Set = binary.LittleEndian.Uint16(b[24:])
	probs := make([]float64, (len(b)-entrySize-2)/8)
	for i := range probs {
		probs[i] = math.Float64frombits(binary.LittleEndian.Uint64(b[26+8*i:]))
	}
	if !perf.ValidProbabilities(probs) {
		return Entry{}, nil, errors.New("bad entry probabilities")
	}
	return e, probs, nil
}

// meta is what a model's meta record holds.
type meta struct {
	Classes, Versions, Segments, Sets []string
	State
}

// The meta record's header: magic, format version, CRC-32C of the gob. A record without
// it, of another version or whose checksum fails is rejected before gob reads a byte of it
// (a corrupt gob can make the decoder allocate without bound).
const (
	metaMagic   = "mlpf"
	metaVersion = 2
	metaHeader  = 12
	// maxMeta bounds a meta record (every window slot's aggregates of every version and
	// segment: hundreds of kilobytes in practice).
	maxMeta = 256 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func encodeMeta(m *Model) ([]byte, error) {
	var buf bytes.Buffer
	buf.Write(make([]byte, metaHeader))
	err := gob.NewEncoder(&buf).Encode(meta{
		Classes: m.Classes.Names, Versions: m.Versions.Names, Segments: m.Segments.Names, Sets: m.Sets.Names, State: m.State,
	})
	b := buf.Bytes()
	copy(b, metaMagic)
	binary.LittleEndian.PutUint32(b[4:], metaVersion)
	binary.LittleEndian.PutUint32(b[8:], crc32.Checksum(b[metaHeader:], castagnoli))
	return b, err
}

func decodeMeta(b []byte) (*meta, error) {
	switch {
	case len(b) < metaHeader || string(b[:4]) != metaMagic:
		return nil, errors.New("not a meta record of this connector (no header)")
	case binary.LittleEndian.Uint32(b[4:]) != metaVersion:
		return nil, fmt.Errorf("meta record of format version %d, this connector reads %d", binary.LittleEndian.Uint32(b[4:]), metaVersion)
	case len(b) > maxMeta:
		return nil, fmt.Errorf("meta record of %d bytes, more than %d", len(b), maxMeta)
	case crc32.Checksum(b[metaHeader:], castagnoli) != binary.LittleEndian.Uint32(b[8:]):
		return nil, errors.New("meta record checksum mismatch (corrupt)")
	}
	// gob is not made for adversarial input: bytes forged to carry a valid checksum can keep
	// its decoder busy for a minute (FuzzMetaGob found one). The decode gets a time budget, so
	// that even such a record is a rejection, not a stalled start.
	type decoded struct {
		md  *meta
		err error
	}
	done := make(chan decoded, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				done <- decoded{nil, fmt.Errorf("meta record: decoder panic: %v", r)}
			}
		}()
		var md meta
		err := gob.NewDecoder(io.LimitReader(bytes.NewReader(b[metaHeader:]), int64(len(b)))).Decode(&md)
		done <- decoded{&md, err}
	}()
	select {
	case d := <-done:
		return d.md, d.err
	case <-time.After(metaDecodeBudget):
		return nil, fmt.Errorf("meta record: not decoded within %s", metaDecodeBudget)
	}
}

// metaDecodeBudget bounds the decoding of one meta record (a real one takes milliseconds).
var metaDecodeBudget = 5 * time.Second

// Rejected is what Restore could not use: the records and the reasons, for the caller to
// count and log. A model whose meta record is rejected starts clean: its held keys are
// dropped too (they index its tables).
type Rejected struct {
	Records int
	Reasons []string
}

func (r *Rejected) add(n int, why string) {
	r.Records += n
	if len(r.Reasons) < 10 {
		r.Reasons = append(r.Reasons, why)
	}
}

type restoredEntry struct {
	key   string
	e     Entry
	probs []float64
}

// Restore loads what Flush wrote, through the storage's Walk. A record that cannot be
// decoded or is inconsistent with its model (a corrupt, truncated or foreign-version state)
// is rejected and reported, never a panic; only an error of the storage itself is returned.
func (s *Store) Restore(ctx context.Context, w storage.Walker) (Rejected, error) {
	var rej Rejected
	metas := map[string]*meta{}
	entries := map[string][]restoredEntry{}
	err := w.Walk(ctx, func(key string, value []byte) ([]*storage.Operation, error) {
		switch {
		case strings.HasPrefix(key, prefixEntry):
			model, jk, ok := strings.Cut(key[len(prefixEntry):], "\x00")
			e, probs, derr := decodeEntry(value)
			if !ok || derr != nil {
				rej.add(1, fmt.Sprintf("entry %q: %v", key, derr))
				return nil, nil
			}
			entries[model] = append(entries[model], restoredEntry{jk, e, probs})
		case strings.HasPrefix(key, prefixMeta):
			md, derr := decodeMeta(value)
			if derr == nil {
				derr = s.checkMeta(md)
			}
			if derr != nil {
				rej.add(1, fmt.Sprintf("model %q: %v", key[len(prefixMeta):], derr))
				return nil, nil
			}
			metas[key[len(prefixMeta):]] = md
		default:
			rej.add(1, fmt.Sprintf("unknown record %q", key))
		}
		return nil, nil
	})
	if err != nil {
		return rej, err
	}
	for name, md := range metas {
		if len(s.models) >= s.limits.MaxModels {
			rej.add(1+len(entries[name]), fmt.Sprintf("model %q: beyond max_models", name))
			delete(entries, name)
			continue
		}
		m := s.restoredModel(name)
		m.Classes.restore(md.Classes)
		m.Versions.restore(md.Versions)
		m.Segments.restore(md.Segments)
		m.Sets.restore(md.Sets)
		m.Positive, m.Start = md.Positive, md.Start
		// gob leaves an empty map nil: keep the model's own empty one then.
		fill(&m.Cum, md.Cum)
		fill(&m.Slots, md.Slots)
		fill(&m.Unmatched, md.Unmatched)
		fill(&m.Unscored, md.Unscored)
		fill(&m.Delay, md.Delay)
		fill(&m.Refs, md.Refs)
		fill(&m.Degraded, md.Degraded)
		fill(&m.Calibrations, md.Calibrations)
		fill(&m.LabelRefs, md.LabelRefs)
	}
	for name, list := range entries {
		m := s.models[name]
		if m == nil {
			rej.add(len(list), fmt.Sprintf("model %q: %d held keys without a usable meta record", name, len(list)))
			continue
		}
		bad := 0
		for _, r := range list {
			e := r.e
			if !m.entryFits(e) || s.pending >= s.limits.MaxPending {
				bad++
				continue
			}
			if r.probs != nil {
				e.Flags &^= FlagProbs
				m.holdProbs(&e, r.e.Set, r.probs)
				if e.Flags&FlagProbs == 0 {
					bad++
					continue
				}
			}
			if old, held := m.entries[r.key]; held {
				m.releaseProbs(old)
			} else {
				s.pending++
			}
			m.entries[r.key] = e
		}
		if bad > 0 {
			rej.add(bad, fmt.Sprintf("model %q: %d held keys that do not fit its tables", name, bad))
		}
	}
	return rej, nil
}

// entryFits reports whether a restored entry's indexes are within the model's tables.
func (m *Model) entryFits(e Entry) bool {
	fits := func(i uint16, t *Table) bool { return int(i) < len(t.Names) }
	return fits(e.Class, m.Classes) && fits(e.Ver, m.Versions) && fits(e.Seg, m.Segments) &&
		(e.Flags&FlagProbs == 0 || fits(e.Set, m.Sets))
}

// checkMeta rejects a decoded meta record that the store could not use without indexing out
// of range later: tables beyond their caps or with repeated labels, aggregates whose histograms
// have another number of slots, delay histograms of another length.
func (s *Store) checkMeta(md *meta) error {
	l := s.limits
	for _, t := range []struct {
		name  string
		names []string
		max   int
	}{{"classes", md.Classes, l.MaxClasses}, {"versions", md.Versions, l.MaxVersions},
		{"segments", md.Segments, l.MaxSegments}, {"class sets", md.Sets, l.MaxVersions}} {
		if len(t.names) == 0 || t.names[0] != "" || len(t.names) > t.max+2 {
			return fmt.Errorf("%s table of %d labels (cap %d)", t.name, len(t.names), t.max)
		}
		seen := make(map[string]bool, len(t.names))
		for _, n := range t.names {
			if seen[n] {
				return fmt.Errorf("%s table repeats %q", t.name, n)
			}
			seen[n] = true
		}
	}
	if int(md.Positive) >= len(md.Classes) {
		return errors.New("positive class out of range")
	}
	size := l.Bins.Size()
	check := func(a *perf.Agg) error {
		switch {
		case a == nil:
			return errors.New("empty aggregate")
		case len(a.Pos) != size || len(a.Neg) != size:
			return fmt.Errorf("score histograms of %d slots, want %d", len(a.Pos), size)
		case len(a.ScoreSum) != 0 && len(a.ScoreSum) != size, len(a.EPos) != 0 && len(a.EPos) != size,
			len(a.ENeg) != len(a.EPos), len(a.Residuals) != 0 && len(a.Residuals) != len(perf.ResidualBounds)+1:
			return errors.New("aggregate histograms of the wrong size")
		}
		if a.Confusion == nil {
			a.Confusion = map[uint32]uint64{}
		}
		return nil
	}
	for _, a := range md.Cum {
		if err := check(a); err != nil {
			return err
		}
	}
	for _, a := range md.Slots {
		if err := check(a); err != nil {
			return err
		}
	}
	for _, h := range md.Delay {
		if len(h) != len(DelayBounds)+1 {
			return fmt.Errorf("delay histogram of %d buckets", len(h))
		}
	}
	for _, c := range md.Calibrations {
		if len(c.Scores) != len(c.Probabilities) {
			return errors.New("calibration of mismatched lengths")
		}
	}
	return nil
}

func fill[K comparable, V any](dst *map[K]V, src map[K]V) {
	if src != nil {
		*dst = src
	}
}

func (s *Store) restoredModel(name string) *Model {
	if m, ok := s.models[name]; ok {
		return m
	}
	m := s.newModel(name)
	s.models[name] = m
	return m
}
