// Copyright The modeltel Authors
// SPDX-License-Identifier: Apache-2.0

package join

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/gob"
	"fmt"
	"hash/crc32"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/modeltel/mlcommon/clock"
)

// savedState is the storage of two models, "m" (binary, segments, an early outcome, a joined
// key) and "mc" (multiclass predictions pending with their probabilities).
func savedState(t *testing.T) memStorage {
	s := NewStore(limits(), clock.NewManual(t0))
	s.AddPredictions(Predictions{Model: "m", Version: "2", Time: t0, Keys: []string{"a", "b", "c"},
		Classes: []string{"1", "0", "1"}, Scores: []float64{0.9, 0.2, 0.7}, Segments: []string{"eu", "us", "eu"}, Reference: noRef()})
	s.AddOutcomes(Outcomes{Model: "m", Time: t0, Keys: []string{"a", "early"}, Labels: []string{"1", "0"}})
	s.AddPredictions(Predictions{Model: "mc", Version: "1", Time: t0, Keys: []string{"x", "y"}, Classes: []string{"2", "0"},
		Probabilities: []float64{0.1, 0.2, 0.7, 0.5, 0.3, 0.2}, ProbClasses: []string{"0", "1", "2"}, Reference: noRef()})
	ops, err := s.Flush(true)
	require.NoError(t, err)
	disk := memStorage{}
	require.NoError(t, disk.Batch(context.Background(), ops...))
	return disk
}

// restoreWithin restores disk into a fresh store, failing the test when it takes longer than
// a second (a stall) or panics.
func restoreWithin(t *testing.T, disk memStorage) (*Store, Rejected) {
	type result struct {
		s   *Store
		rej Rejected
		err error
	}
	done := make(chan result, 1)
	go func() {
		s := NewStore(limits(), clock.NewManual(t0))
		rej, err := s.Restore(context.Background(), disk)
		done <- result{s, rej, err}
	}()
	select {
	case r := <-done:
		require.NoError(t, r.err)
		return r.s, r.rej
	case <-time.After(time.Second):
		t.Fatal("restore did not finish within 1 s")
		return nil, Rejected{}
	}
}

// withHeader frames a gob as a meta record of format version v with a valid checksum.
func withHeader(v uint32, body []byte) []byte {
	b := make([]byte, metaHeader, metaHeader+len(body))
	copy(b, metaMagic)
	binary.LittleEndian.PutUint32(b[4:], v)
	binary.LittleEndian.PutUint32(b[8:], crc32.Checksum(body, castagnoli))
	return append(b, body...)
}

func gobOf(t *testing.T, v any) []byte {
	var buf bytes.Buffer
	require.NoError(t, gob.NewEncoder(&buf).Encode(v))
	return buf.Bytes()
}

// TestRestoreRejectsCorruptState damages the stored state in every way a disk, a crash or an
// older build can (truncated and bit-flipped meta records and entries, another format
// version, a record of the pre-header format, a well-formed record inconsistent with the
// config): each case finishes within a second without an error or a panic, counts what it
// rejected, starts that model clean (no held key that would index missing tables) and
// restores the other model as it was.
func TestRestoreRejectsCorruptState(t *testing.T) {
	good := savedState(t)
	clean, rej := restoreWithin(t, good)
	require.Zero(t, rej.Records)
	require.Equal(t, 6, clean.Pending())
	meta := good[prefixMeta+"m"]
	legacy := gobOf(t, meta) // any gob without the header
	wrongBins := func() []byte {
		md, err := decodeMeta(meta)
		require.NoError(t, err)
		for k, a := range md.Cum {
			b := *a
			b.Pos = b.Pos[:10]
			md.Cum[k] = &b
		}
		return withHeader(metaVersion, gobOf(t, md))
	}()
	type damage struct {
		name string
		key  string
		val  []byte
	}
	cases := []damage{
		{"meta of another format version", prefixMeta + "m", withHeader(metaVersion+1, meta[metaHeader:])},
		{"meta without header (older build)", prefixMeta + "m", legacy},
		{"meta empty", prefixMeta + "m", nil},
		{"meta whose histograms do not fit score_bins", prefixMeta + "m", wrongBins},
		{"meta of a gob of something else", prefixMeta + "m", withHeader(metaVersion, gobOf(t, map[string]int{"x": 1}))},
		{"meta of random bytes", prefixMeta + "m", bytes.Repeat([]byte{0xff, 0x13, 0x80}, 4000)},
	}
	for _, n := range []int{1, 4, 11, 12, 13, 40, len(meta) / 2, len(meta) - 1} {
		cases = append(cases, damage{fmt.Sprintf("meta truncated to %d bytes", n), prefixMeta + "m", meta[:n]})
	}
	for _, at := range []int{0, 5, 9, 12, 20, len(meta) / 3, len(meta) - 1} {
		b := append([]byte(nil), meta...)
		b[at] ^= 0x5a
		cases = append(cases, damage{fmt.Sprintf("meta with byte %d flipped", at), prefixMeta + "m", b})
	}
	// A checksum made to fit corrupt gob bytes: the gob decoder itself must fail, not stall.
	for _, at := range []int{metaHeader, metaHeader + 3, metaHeader + 30, len(meta) / 2} {
		body := append([]byte(nil), meta[metaHeader:]...)
		body[at-metaHeader] ^= 0xff
		cases = append(cases, damage{fmt.Sprintf("meta gob byte %d flipped, checksum fixed", at), prefixMeta + "m", withHeader(metaVersion, body)})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			disk := memStorage{}
			for k, v := range good {
				disk[k] = v
			}
			disk[tc.key] = tc.val
			s, rej := restoreWithin(t, disk)
			m := s.Models()["m"]
			if rej.Records == 0 { // a flip the gob shrugged off (e.g. in a padding byte) must restore whole
				require.NotNil(t, m)
				assert.Equal(t, clean.Models()["m"].entries, m.entries)
				return
			}
			assert.NotEmpty(t, rej.Reasons)
			assert.Nil(t, m, "the model of a rejected meta record starts clean")
			assert.Equal(t, clean.Models()["mc"].entries, s.Models()["mc"].entries, "the other model is restored")
			assert.Equal(t, 2, s.Pending())
			// It goes on working: new rows of the clean model join.
			s.AddPredictions(Predictions{Model: "m", Time: t0, Keys: []string{"n"}, Classes: []string{"1"}, Scores: []float64{0.8}, Reference: noRef()})
			s.AddOutcomes(Outcomes{Model: "m", Time: t0, Keys: []string{"n"}, Labels: []string{"1"}})
			assert.Equal(t, 1.0, s.Models()["m"].Cum[AggKey{0, 0}].Compute().Accuracy)
		})
	}

	entryCases := map[string][]byte{
		"entry truncated":                   good[prefixEntry+"mc\x00x"][:30],
		"entry with a probability above 1":  func() []byte { b := append([]byte(nil), good[prefixEntry+"mc\x00x"]...); b[26+7] = 0x40; return b }(),
		"entry of an unknown kind":          append([]byte{}, make([]byte, entrySize)...),
		"entry with a version beyond table": func() []byte { b := append([]byte(nil), good[prefixEntry+"m\x00b"]...); b[18] = 99; return b }(),
	}
	for name, val := range entryCases {
		t.Run(name, func(t *testing.T) {
			disk := memStorage{}
			for k, v := range good {
				disk[k] = v
			}
			key := prefixEntry + "mc\x00x"
			if name == "entry with a version beyond table" {
				key = prefixEntry + "m\x00b"
			}
			disk[key] = val
			s, rej := restoreWithin(t, disk)
			assert.Equal(t, 1, rej.Records)
			assert.Equal(t, 5, s.Pending(), "only the damaged key is lost")
		})
	}
}

// TestRestoredProbabilitiesJoin checks that multiclass predictions restored with their
// probabilities score their outcomes: log loss and Brier of the restored rows.
func TestRestoredProbabilitiesJoin(t *testing.T) {
	s, rej := restoreWithin(t, savedState(t))
	require.Zero(t, rej.Records)
	s.AddOutcomes(Outcomes{Model: "mc", Time: t0, Keys: []string{"x", "y"}, Labels: []string{"2", "1"}})
	a := s.Models()["mc"].Cum[AggKey{1, 0}]
	require.NotNil(t, a)
	assert.Equal(t, uint64(2), a.Probed)
	f := a.Compute()
	assert.InDelta(t, -(math.Log(0.7)+math.Log(0.3))/2, f.LogLoss, 1e-12)
	assert.InDelta(t, ((0.01+0.04+0.09)+(0.25+0.49+0.04))/2, f.Brier, 1e-12)
}

// FuzzMetaGob gives arbitrary bytes a valid header and checksum, so that the gob decoder and
// the consistency checks behind them see them: a record is used whole or rejected, never a panic.
func FuzzMetaGob(f *testing.F) {
	s := NewStore(limits(), clock.NewManual(t0))
	s.AddPredictions(Predictions{Model: "m", Time: t0, Keys: []string{"a"}, Classes: []string{"1"}, Scores: []float64{0.5}, Reference: noRef()})
	s.AddPredictions(Predictions{Model: "m", Time: t0, Keys: []string{"x"}, Classes: []string{"2"},
		Probabilities: []float64{0.1, 0.2, 0.7}, ProbClasses: []string{"0", "1", "2"}, Reference: noRef()})
	ops, _ := s.Flush(true)
	for _, op := range ops {
		if op.Key == prefixMeta+"m" {
			f.Add(op.Value[metaHeader:])
		}
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r := NewStore(limits(), clock.NewManual(t0))
		_, err := r.Restore(context.Background(), memStorage{prefixMeta + "m": withHeader(metaVersion, body)})
		require.NoError(t, err)
		r.AddPredictions(Predictions{Model: "m", Time: t0, Keys: []string{"n"}, Classes: []string{"1"}, Scores: []float64{0.8}, Reference: noRef()})
		r.AddOutcomes(Outcomes{Model: "m", Time: t0, Keys: []string{"n", "x"}, Labels: []string{"1", "2"}})
		r.Sweep()
		for _, m := range r.Models() {
			for _, a := range r.Window(m) {
				a.Compute()
				a.Estimated()
			}
		}
	})
}

// TestForgedMetaWithinBudget feeds a meta record that FuzzMetaGob found (one byte of a real
// record's gob zeroed, the checksum made to fit): gob's decoder spends a minute on it; the
// start rejects it within the decode budget instead of stalling.
func TestForgedMetaWithinBudget(t *testing.T) {
	s := NewStore(limits(), clock.NewManual(t0))
	s.AddPredictions(Predictions{Model: "m", Time: t0, Keys: []string{"a"}, Classes: []string{"1"}, Scores: []float64{0.5}, Reference: noRef()})
	ops, err := s.Flush(true)
	require.NoError(t, err)
	var body []byte
	for _, op := range ops {
		if op.Key == prefixMeta+"m" {
			body = append([]byte(nil), op.Value[metaHeader:]...)
		}
	}
	require.Greater(t, len(body), 2200)
	body[2200] = 0
	defer func(d time.Duration) { metaDecodeBudget = d }(metaDecodeBudget)
	metaDecodeBudget = 100 * time.Millisecond
	r, rej := restoreWithin(t, memStorage{prefixMeta + "m": withHeader(metaVersion, body)})
	assert.Equal(t, 1, rej.Records)
	assert.Contains(t, fmt.Sprint(rej.Reasons), "not decoded within")
	assert.Empty(t, r.Models())
}
