// Copyright The modeltel Authors
// SPDX-License-Identifier: Apache-2.0

package join // import "github.com/modeltel/mlperformanceconnector/internal/join"

import "github.com/modeltel/mlcommon/clock"

// The connector's clock is the shared one (github.com/modeltel/mlcommon/clock): the real clock
// in the collector, a manual one in tests.
type (
	Clock       = clock.Clock
	RealClock   = clock.Real
	ManualClock = clock.Manual
)

// NewManualClock returns a clock stopped at t.
var NewManualClock = clock.NewManual
