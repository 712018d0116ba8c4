// Copyright The modeltel Authors
// SPDX-License-Identifier: Apache-2.0

package join // import "github.com/modeltel/mlperformanceconnector/internal/join"

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/gob"
	"fmt"
	"math"
	"strings"
	"time"

	"go.opentelemetry.io/collector/extension/xextension/storage"
)

// Storage layout (one bbolt bucket per component with file_storage):
//
//	e\x00<model>\x00<join key>  one held key: Entry, 24 bytes little-endian
//	m\x00<model>                the model's meta record (tables, aggregates, counters), gob
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
		ops = append(ops, storage.SetOperation(k, encodeEntry(*e)))
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

func encodeEntry(e Entry) []byte {
	b := make([]byte, entrySize)
	binary.LittleEndian.PutUint64(b[0:], uint64(e.T))
	binary.LittleEndian.PutUint64(b[8:], math.Float64bits(e.V))
	binary.LittleEndian.PutUint16(b[16:], e.Class)
	binary.LittleEndian.PutUint16(b[18:], e.Ver)
	binary.LittleEndian.PutUint16(b[20:], e.Seg)
	b[22], b[23] = byte(e.Kind), e.Flags
	return b
}

func decodeEntry(b []byte) (Entry, error) {
	if len(b) != entrySize || b[22] < byte(KindPrediction) || b[22] > byte(KindMatched) {
		return Entry{}, fmt.Errorf("bad entry of %d bytes", len(b))
	}
	return Entry{
		T: int64(binary.LittleEndian.Uint64(b[0:])), V: math.Float64frombits(binary.LittleEndian.Uint64(b[8:])),
		Class: binary.LittleEndian.Uint16(b[16:]), Ver: binary.LittleEndian.Uint16(b[18:]),
		Seg: binary.LittleEndian.Uint16(b[20:]), Kind: Kind(b[22]), Flags: b[23],
	}, nil
}

// meta is what a model's meta record holds.
type meta struct {
	Classes, Versions, Segments []string
	State
}

func encodeMeta(m *Model) ([]byte, error) {
	var buf bytes.Buffer
	err := gob.NewEncoder(&buf).Encode(meta{
		Classes: m.Classes.Names, Versions: m.Versions.Names, Segments: m.Segments.Names, State: m.State,
	})
	return buf.Bytes(), err
}

// Restore loads what Flush wrote, through the storage's Walk. Records that cannot be
// decoded are skipped and counted in the returned number.
func (s *Store) Restore(ctx context.Context, w storage.Walker) (skipped int, err error) {
	err = w.Walk(ctx, func(key string, value []byte) ([]*storage.Operation, error) {
		switch {
		case strings.HasPrefix(key, prefixEntry):
			model, jk, ok := strings.Cut(key[len(prefixEntry):], "\x00")
			e, derr := decodeEntry(value)
			if !ok || derr != nil {
				skipped++
				return nil, nil
			}
			m := s.restoredModel(model)
			if _, held := m.entries[jk]; !held {
				s.pending++
			}
			m.entries[jk] = e
		case strings.HasPrefix(key, prefixMeta):
			var md meta
			if derr := gob.NewDecoder(bytes.NewReader(value)).Decode(&md); derr != nil {
				skipped++
				return nil, nil
			}
			m := s.restoredModel(key[len(prefixMeta):])
			m.Classes.restore(md.Classes)
			m.Versions.restore(md.Versions)
			m.Segments.restore(md.Segments)
			m.Positive, m.Start = md.Positive, md.Start
			// gob leaves an empty map nil: keep the model's own empty one then.
			fill(&m.Cum, md.Cum)
			fill(&m.Slots, md.Slots)
			fill(&m.Unmatched, md.Unmatched)
			fill(&m.Delay, md.Delay)
			fill(&m.Refs, md.Refs)
			fill(&m.Degraded, md.Degraded)
			fill(&m.Calibrations, md.Calibrations)
			fill(&m.LabelRefs, md.LabelRefs)
		default:
			skipped++
		}
		return nil, nil
	})
	return skipped, err
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
