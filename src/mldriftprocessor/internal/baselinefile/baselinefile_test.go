// Copyright The modeltel Authors
// SPDX-License-Identifier: Apache-2.0

package baselinefile

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

const valid = `{"schema_version": 1, "id": "abc", "model": "fraud", "version": "3.1.0",
 "features": [
  {"name": "amount", "kind": "numeric", "edges": [0, 1, 2], "counts": [1, 2, 3, 4], "min": -1, "max": 3},
  {"name": "country", "kind": "categorical", "categories": ["DE", "FR"], "counts": [5, 3, 0]}],
 "predictions": [{"name": "prediction", "kind": "numeric", "edges": [0.5], "counts": [7, 3], "min": null, "max": null}],
 "targets": []}`

// TestParseReadsFeaturesAndPredictions checks a file as Baseline.save writes it.
func TestParseReadsFeaturesAndPredictions(t *testing.T) {
	f, err := Parse([]byte(valid))
	require.NoError(t, err)
	require.Equal(t, "abc", f.ID)
	require.Len(t, f.Features, 2)
	require.Equal(t, map[string]float64{"DE": 5, "FR": 3, Other: 0}, f.Features[1].Cats())
	require.Nil(t, f.Predictions[0].Min)
}

// TestParseReadsTailBuckets checks that a categorical feature's tail buckets take what its
// __other__ count holds, and that tail counts that do not add up to it are refused.
func TestParseReadsTailBuckets(t *testing.T) {
	doc := `{"schema_version": 1, "id": "abc", "model": "m", "features": [{"name": "city", "kind": "categorical",
	  "categories": ["paris"], "counts": [5, 4], "tail": {"key_id": "k", "counts": [1, 0, 3]}}]}`
	f, err := Parse([]byte(doc))
	require.NoError(t, err)
	require.Equal(t, map[string]float64{"paris": 5, "__tail_0__": 1, "__tail_1__": 0, "__tail_2__": 3, Other: 0}, f.Features[0].Cats())
	for name, bad := range map[string]string{
		"sum":      `"counts": [5, 4], "tail": {"key_id": "k", "counts": [1, 2]}`,
		"empty":    `"counts": [5, 4], "tail": {"key_id": "k", "counts": []}`,
		"negative": `"counts": [5, 4], "tail": {"key_id": "k", "counts": [5, -1]}`,
	} {
		doc := `{"schema_version": 1, "id": "a", "model": "m", "features": [{"name": "c", "kind": "categorical", "categories": ["x"], ` + bad + `}]}`
		_, err := Parse([]byte(doc))
		require.Error(t, err, name)
	}
}

// TestParseRejectsBrokenFiles checks that each inconsistency is an error, not a panic.
func TestParseRejectsBrokenFiles(t *testing.T) {
	for name, doc := range map[string]string{
		"not json":          `{`,
		"schema":            `{"schema_version": 3, "id": "a", "model": "m"}`,
		"projection kind":   `{"schema_version": 2, "id": "a", "model": "m", "projection": {"features": [{"name": "__projection_0__", "kind": "categorical", "categories": [], "counts": [1]}]}}`,
		"no id":             `{"schema_version": 1, "model": "m"}`,
		"counts vs edges":   `{"schema_version": 1, "id": "a", "model": "m", "features": [{"name": "x", "kind": "numeric", "edges": [0, 1], "counts": [1, 2]}]}`,
		"unsorted edges":    `{"schema_version": 1, "id": "a", "model": "m", "features": [{"name": "x", "kind": "numeric", "edges": [1, 0], "counts": [1, 2, 3]}]}`,
		"negative count":    `{"schema_version": 1, "id": "a", "model": "m", "features": [{"name": "x", "kind": "numeric", "edges": [], "counts": [-1]}]}`,
		"reserved category": `{"schema_version": 1, "id": "a", "model": "m", "features": [{"name": "c", "kind": "categorical", "categories": ["__other__"], "counts": [1, 2]}]}`,
		"kind":              `{"schema_version": 1, "id": "a", "model": "m", "features": [{"name": "c", "kind": "text", "counts": []}]}`,
	} {
		_, err := Parse([]byte(doc))
		require.Error(t, err, name)
	}
}

// FuzzParse: any input is either a checked baseline or an error, never a panic, and a
// parsed feature's counts always fit its edges or categories.
func FuzzParse(f *testing.F) {
	f.Add([]byte(valid))
	f.Add([]byte(`{"schema_version": 1, "id": "a", "model": "m", "features": [{"name": "x", "kind": "numeric", "edges": [], "counts": [1]}]}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse(data)
		if err != nil {
			return
		}
		for _, ft := range append(file.Features, file.Predictions...) {
			if ft.Kind == "numeric" {
				require.Len(t, ft.Counts, len(ft.Edges)+1)
			} else if ft.Tail == nil {
				require.Len(t, ft.Cats(), len(ft.Categories)+1)
			} else {
				require.Len(t, ft.Cats(), len(ft.Categories)+1+len(ft.Tail.Counts))
			}
		}
	})
}

// TestParseReadsBothFormats checks a schema_version 1 file written by modeltel before
// projections existed (the Python tests' fixture) and a version 2 file: its projections'
// reference histograms become input features named __projection_<k>__.
func TestParseReadsBothFormats(t *testing.T) {
	data, err := os.ReadFile("../../../../tests/drift/data/baseline_v1.json")
	require.NoError(t, err)
	old, err := Parse(data)
	require.NoError(t, err)
	require.Equal(t, 1, old.SchemaVersion)
	require.Len(t, old.Features, 4)
	v2 := `{"schema_version": 2, "id": "b", "model": "m", "version": "1",
	 "features": [{"name": "a", "kind": "numeric", "edges": [0], "counts": [1, 1]}],
	 "projection": {"columns": ["a", "b"], "features": [
	  {"name": "__projection_0__", "kind": "numeric", "edges": [0, 1], "counts": [3, 4, 5], "null_count": 2}]}}`
	f, err := Parse([]byte(v2))
	require.NoError(t, err)
	require.Len(t, f.Features, 2)
	require.Equal(t, "__projection_0__", f.Features[1].Name)
	require.Equal(t, 2.0, *f.Features[1].NullCount)
}
