// Copyright The modeltel Authors
// SPDX-License-Identifier: Apache-2.0

// Package baseline holds what every collector component that reads modeltel baseline files
// (docs/baseline-format.md, as modeltel.Baseline.save writes them) shares: the header that
// says which model a file describes, and the schema versions they read.
package baseline // import "github.com/modeltel/mlcommon/baseline"

import (
	"errors"
	"fmt"
)

// SchemaVersion is the newest baseline format the components read; they read 1 to it.
const SchemaVersion = 2

// Header is the part of a baseline file that identifies it. A component's own file type
// embeds it, so that encoding/json reads these fields at the top level of the file.
type Header struct {
	SchemaVersion int    `json:"schema_version"`
	ID            string `json:"id"`
	Model         string `json:"model"`
	Version       string `json:"version"`
}

// Check says what is wrong with the header: a schema_version not read here, or no model.
func (h Header) Check() error {
	switch {
	case h.SchemaVersion < 1 || h.SchemaVersion > SchemaVersion:
		return fmt.Errorf("schema_version %d is not supported (want 1 to %d)", h.SchemaVersion, SchemaVersion)
	case h.Model == "":
		return errors.New("no model")
	}
	return nil
}
