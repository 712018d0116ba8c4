// Copyright The modeltel Authors
// SPDX-License-Identifier: Apache-2.0

// Multivariate: the model-level verdict over a baseline's projection features
// (__projection_<k>__, docs/drift-math.md section 8), as a gauge and edge-triggered records.

package mldriftprocessor // import "github.com/modeltel/mldriftprocessor"

import (
	"fmt"
	"strings"

	"github.com/modeltel/mldriftprocessor/internal/drift"
	"github.com/modeltel/mldriftprocessor/internal/state"
)

// isProjection reports whether an input feature is one of a baseline's multivariate projections.
func isProjection(name string) bool {
	return strings.HasPrefix(name, projectionFeaturePrefix) && strings.HasSuffix(name, "__")
}

// emitMultivariate writes the model's multivariate verdict: ml.drift.multivariate.detected,
// and one ml.drift.started / ml.drift.ended record (ml.drift.scope = multivariate) when the
// model enters or leaves multivariate drift. The previous verdict is derived from the
// projections' own edge-trigger states before this evaluation (Window.Drifted: in drift when
// any was), which the storage extension keeps, so a restart does not log the same start twice. The projections were scored in the model's one
// Holm family by drift.Evaluate, so the verdict's false alarms are inside the model's alpha.
func (p *driftProcessor) emitMultivariate(o *output, modelKey state.FeatureKey, windows []state.Window, scored []int, features []drift.Feature, results []drift.Result) {
	verdict, drifted, ok := drift.Multivariate(features, results)
	if !ok || verdict == drift.VerdictInsufficientData {
		return
	}
	isDrift := verdict == drift.VerdictDrift
	v := int64(0)
	if isDrift {
		v = 1
	}
	o.intGauge(o.multivariate, modelKey, v)
	was := false // over the projections scored now: one without data keeps its old state
	for j, f := range features {
		was = was || (f.Projection && results[j].Verdict != drift.VerdictInsufficientData && windows[scored[j]].Drifted)
	}
	if was == isDrift {
		return
	}
	names := make([]string, 0, len(drifted))
	values := 0.0
	for _, f := range features {
		if f.Projection {
			values = max(values, f.Production.Total())
		}
	}
	for _, j := range drifted {
		names = append(names, windows[scored[j]].Key.Feature)
	}
	verb := "left multivariate drift: no projection drifts"
	if isDrift {
		verb = "entered multivariate drift: the joint distribution of its numeric inputs moved (" + strings.Join(names, ", ") + ")"
	}
	body := fmt.Sprintf("model %s version %s %s over the last %s (%d rows)", modelKey.Model, modelKey.Version, verb, p.cfg.Window, countInt(values))
	a := p.driftRecord(o, modelKey, isDrift, body)
	a.PutStr(attrScope, scopeMultivariate)
	a.PutDouble(attrWindow, p.cfg.Window.Seconds())
	a.PutInt(attrSampleCount, countInt(values))
	if len(names) > 0 {
		a.PutStr(attrReason, strings.Join(names, ","))
	}
}
