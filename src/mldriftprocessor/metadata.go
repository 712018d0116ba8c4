// Copyright The modeltel Authors
// SPDX-License-Identifier: Apache-2.0

package mldriftprocessor // import "github.com/modeltel/mldriftprocessor"

import (
	_ "embed"

	"github.com/modeltel/mlcommon/componentmeta"
)

//go:embed metadata.yaml
var metadataYAML []byte

// metadata is metadata.yaml, compiled in: the one place where the processor's type, scope
// name, stability and own telemetry (newProcessor) are declared.
var metadata = componentmeta.MustParse(metadataYAML)
