// Copyright The modeltel Authors
// SPDX-License-Identifier: Apache-2.0

package mlperformanceconnector // import "github.com/modeltel/mlperformanceconnector"

import (
	_ "embed"

	"github.com/modeltel/mlcommon/componentmeta"
)

//go:embed metadata.yaml
var metadataYAML []byte

// metadata is metadata.yaml, compiled in: the one place where the connector's type, scope
// name, stability and own telemetry (newJoiner) are declared.
var metadata = componentmeta.MustParse(metadataYAML)
