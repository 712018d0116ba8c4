// Copyright The modeltel Authors
// SPDX-License-Identifier: Apache-2.0

package baselinefile

import (
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

// TestParseRejectsBrokenFiles checks that each inconsistency is an error, not a panic.
func TestParseRejectsBrokenFiles(t *testing.T) {
	for name, doc := range map[string]string{
		"not json":          `{`,
		"schema":            `{"schema_version": 2, "id": "a", "model": "m"}`,
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
			} else {
				require.Len(t, ft.Cats(), len(ft.Categories)+1)
			}
		}
	})
}
