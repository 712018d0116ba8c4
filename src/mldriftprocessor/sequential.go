// Copyright The modeltel Authors
// SPDX-License-Identifier: Apache-2.0

// Sequential rule: the batches that arrived since the previous emit, tested against the
// reference and added up across emits by one e-CUSUM per feature (docs/drift-math.md 9).

package mldriftprocessor // import "github.com/modeltel/mldriftprocessor"

import (
	"math"

	"github.com/modeltel/mldriftprocessor/internal/drift"
	"github.com/modeltel/mldriftprocessor/internal/state"
)

// seqStep is one feature's sequential state after this emit.
type seqStep struct {
	stat, threshold float64 // ln of the e-detector and of its alarm threshold (of the last step)
	alarm           bool
}

// sequentialSteps tests the model's ready batches (calibrated features, sequential_arl > 0,
// a reference of at least SequentialMinReference values, batches of at least min_samples
// rows) as one family and advances each tested feature's e-CUSUM;
// windowDrift(i) is window i's verdict without this rule. It returns the state of every
// window with one (by window index).
func (p *driftProcessor) sequentialSteps(windows []state.Window, windowDrift func(int) bool) map[int]seqStep {
	model, version := windows[0].Key.Model, windows[0].Key.Version
	modelTh := p.cfg.forModel(model, version)
	out := map[int]seqStep{}
	var features []drift.Feature
	var idx []int
	for i, w := range windows {
		if w.SequentialLimit > 0 { // tested before: the state is reported on every emit
			out[i] = seqStep{stat: w.Sequential, threshold: w.SequentialLimit, alarm: w.SequentialAlarm}
		}
		// Projections feed the model's multivariate verdict, not per-feature alarms.
		projection := w.Key.Role == roleInput && isProjection(w.Key.Feature)
		calibrated := p.cfg.forFeature(model, version, w.Key.Feature).Mode == "calibrated"
		if w.Batch == nil || w.Baseline == nil || w.Key.Feature == "" || projection || !calibrated || modelTh.SequentialARL <= 0 ||
			drift.Histogram(*w.Baseline).Total() < drift.SequentialMinReference {
			continue
		}
		b := w.Batch
		features = append(features, p.driftFeature(w, b.Production, b.Missing, b.Violations, b.Tail))
		idx = append(idx, i)
	}
	if len(features) == 0 {
		return out
	}
	results := drift.Evaluate(features)
	tested := 0
	for _, r := range results {
		if r.Verdict != drift.VerdictInsufficientData {
			tested++
		}
	}
	threshold := drift.SequentialThreshold(modelTh.SequentialARL, tested)
	for j, r := range results {
		if r.Verdict == drift.VerdictInsufficientData {
			continue // too few rows yet: the batch grows until the next emit
		}
		w := windows[idx[j]]
		logE, inDrift := drift.BatchLogEValue(r.Tests), windowDrift(idx[j])
		stat, alarm := p.store.Sequential(w.Key, w.Batch.End, threshold, func(stat float64, alarm bool) (float64, bool) {
			return drift.CUSUMStep(stat, alarm, logE, threshold, inDrift)
		})
		out[idx[j]] = seqStep{stat: stat, threshold: threshold, alarm: alarm}
	}
	return out
}

// applySequential adds the sequential rule to a feature's window result: its e-detector
// value and threshold as scores, and drift while its alarm is on.
func applySequential(r *drift.Result, s seqStep) {
	r.Scores[drift.RuleSequential] = math.Exp(s.stat)
	r.Limits[drift.RuleSequential] = math.Exp(s.threshold)
	if !s.alarm || r.Verdict == drift.VerdictInsufficientData {
		return
	}
	r.Reasons = append(r.Reasons, drift.Reason{Method: drift.RuleSequential, Score: math.Exp(s.stat),
		Threshold: math.Exp(s.threshold), Rule: drift.RuleSequential})
	r.Verdict = drift.VerdictDrift
}
