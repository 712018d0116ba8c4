// Copyright The modeltel Authors
// SPDX-License-Identifier: Apache-2.0

package drift

import "math"

// RuleSequential is the sequential rule (spec 9): an e-CUSUM over the disjoint batches
// of a feature, reported as a reason and as the "sequential" score.
const RuleSequential = "sequential"

// DefaultSequentialARL is the average run length to a false alarm, in batches, that the
// sequential rule is set for by default (Python's DEFAULT_ARL).
const DefaultSequentialARL = 1000

// SequentialMinReference is the smallest reference (values) a feature's sequential rule
// runs against (spec 9.2): every batch is compared with the same reference sample, and a small
// one's own sampling error is found again and again as the batches add up (measured: four
// false alarms in 600 batches against a 100-row reference at an ARL of 1000, none at 1,000 and
// 5,000 rows). Python's SEQUENTIAL_MIN_REFERENCE.
const SequentialMinReference = 1000

// minPValue keeps the calibrator finite: a p-value that underflowed to 0 counts as 1e-300.
const minPValue = 1e-300

// LogEValue is the natural log of the mixture calibrator's e-value of p (spec 9.1):
// E(p) = integral over k in (0, 1) of k p^(k-1) = (e^u - 1 - u) / u^2 with u = -ln p,
// so E(1) = 1/2 and E(p) ~ 1 / (p ln^2 p) for small p.
func LogEValue(p float64) float64 {
	p = math.Min(math.Max(p, minPValue), 1)
	u := -math.Log(p)
	if u < 0.01 {
		// Series sum_{k>=0} u^k / (k+2)! (the closed form cancels near u = 0).
		term, acc := 0.5, 0.0
		for k := 0; k < 9; k++ {
			acc += term
			term *= u / float64(k+3)
		}
		return math.Log(acc)
	}
	return u + math.Log1p(-(1+u)*math.Exp(-u)) - 2*math.Log(u)
}

// BatchLogEValue is the log e-value of one feature's batch (spec 9.1): the calibrated
// Bonferroni p-value over its rules, min(1, k * min p); at most log 1 = 0 when the rule
// with the smallest p-value is below its effect floor (no evidence of a relevant change).
func BatchLogEValue(tests []RuleTest) float64 {
	if len(tests) == 0 {
		return 0
	}
	best := 0
	for j, t := range tests {
		if t.PValue < tests[best].PValue {
			best = j
		}
	}
	e := LogEValue(math.Min(1, float64(len(tests))*tests[best].PValue))
	if tests[best].Effect < tests[best].Floor {
		e = math.Min(e, 0)
	}
	return e
}

// SequentialThreshold is the log alarm threshold ln(arl * features) of spec 9.2: the
// per-feature e-CUSUMs of a model with that many features in the batch evaluation raise
// a false alarm after arl batches on average at the least.
func SequentialThreshold(arl float64, features int) float64 {
	return math.Log(arl * float64(max(features, 1)))
}

// CUSUMStep advances a log e-CUSUM (spec 9.2): raw = max(stat, 0) + logE. The alarm
// starts when raw reaches threshold. It ends, and the CUSUM restarts from 0, at the first
// step that brings no evidence (logE <= 0) while the window verdict (windowDrift, without
// this rule) is not drift: the sequential rule reports a change early, the window says when
// it is over. The statistic is capped at threshold.
func CUSUMStep(stat float64, alarm bool, logE, threshold float64, windowDrift bool) (float64, bool) {
	raw := math.Max(stat, 0) + logE
	switch {
	case raw >= threshold:
		alarm = true
	case alarm && logE <= 0 && !windowDrift:
		alarm, raw = false, 0
	}
	return math.Min(raw, threshold), alarm
}
