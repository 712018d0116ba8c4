// Copyright The modeltel Authors
// SPDX-License-Identifier: Apache-2.0

package baseline

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestHeaderIsReadFromTheTopLevelOfAnEmbeddingFile checks that a file type embedding
// Header reads its fields from the top level of the JSON, next to the file's own.
func TestHeaderIsReadFromTheTopLevelOfAnEmbeddingFile(t *testing.T) {
	var f struct {
		Header
		Features []string `json:"features"`
	}
	doc := `{"schema_version": 2, "id": "abc", "model": "fraud", "version": "3.1.0", "features": ["amount"]}`
	require.NoError(t, json.Unmarshal([]byte(doc), &f))
	require.Equal(t, Header{SchemaVersion: 2, ID: "abc", Model: "fraud", Version: "3.1.0"}, f.Header)
	require.Equal(t, []string{"amount"}, f.Features)
	require.NoError(t, f.Check())
}

// TestCheckNamesWhatIsWrong checks every schema version read and the errors of a header
// that cannot be used.
func TestCheckNamesWhatIsWrong(t *testing.T) {
	for v := 1; v <= SchemaVersion; v++ {
		require.NoError(t, Header{SchemaVersion: v, Model: "m"}.Check())
	}
	for _, c := range []struct {
		h    Header
		want string
	}{
		{Header{Model: "m"}, "schema_version 0 is not supported (want 1 to 2)"},
		{Header{SchemaVersion: SchemaVersion + 1, Model: "m"}, "schema_version 3 is not supported (want 1 to 2)"},
		{Header{SchemaVersion: 1}, "no model"},
	} {
		require.EqualError(t, c.h.Check(), c.want)
	}
}
