// Copyright The modeltel Authors
// SPDX-License-Identifier: Apache-2.0

package drift

import (
	"math/rand"
	"testing"

	"github.com/stretchr/testify/require"
)

// sequential computes the vector's sequential method (spec 9): the log e-values of a list
// of p-values, or a stream of batches' rules through the per-feature e-CUSUMs (per step
// and feature: the statistic, then the alarm as 1 or 0).
func (v vector) sequential() []float64 {
	var out []float64
	if v.Method == "sequential_evalue" {
		for _, p := range floats(v.Params["pvalues"]) {
			out = append(out, LogEValue(p))
		}
		return out
	}
	type cusum struct {
		stat  float64
		alarm bool
	}
	state := map[int]*cusum{}
	for _, rawStep := range v.Params["steps"].([]any) {
		step := rawStep.([]any)
		threshold := SequentialThreshold(v.param("arl", 0), len(step))
		for i, rawFeature := range step {
			feature := rawFeature.(map[string]any)
			var tests []RuleTest
			for _, rawRule := range feature["rules"].([]any) {
				r := floats(rawRule)
				tests = append(tests, RuleTest{PValue: r[0], Effect: r[1], Floor: r[2]})
			}
			c := state[i]
			if c == nil {
				c = &cusum{}
				state[i] = c
			}
			c.stat, c.alarm = CUSUMStep(c.stat, c.alarm, BatchLogEValue(tests), threshold, feature["window"].(float64) == 1)
			a := 0.0
			if c.alarm {
				a = 1
			}
			out = append(out, c.stat, a)
		}
	}
	return out
}

// TestCUSUMAverageRunLength checks the e-CUSUM's guarantee on valid p-values (uniform,
// independent): the average run length to a false alarm is at least the arl it is set for.
func TestCUSUMAverageRunLength(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	const arl, runs = 50.0, 400
	threshold := SequentialThreshold(arl, 1)
	total := 0
	for r := 0; r < runs; r++ {
		stat, alarm := 0.0, false
		n := 0
		for !alarm && n < 100000 {
			stat, alarm = CUSUMStep(stat, alarm, LogEValue(rng.Float64()), threshold, false)
			n++
		}
		total += n
	}
	require.GreaterOrEqual(t, float64(total)/runs, arl)
}

// TestCUSUMAlarmStartsAndEnds: strong evidence raises the alarm within a few batches; it
// holds while the window still drifts and ends at the first batch without evidence after.
func TestCUSUMAlarmStartsAndEnds(t *testing.T) {
	threshold := SequentialThreshold(1000, 10)
	stat, alarm := 0.0, false
	steps := 0
	for !alarm {
		stat, alarm = CUSUMStep(stat, alarm, BatchLogEValue([]RuleTest{{PValue: 1e-4, Effect: 1, Floor: 0.1}}), threshold, false)
		steps++
	}
	require.LessOrEqual(t, steps, 4)
	require.Equal(t, threshold, stat)
	// Below the effect floor a tiny p-value is no evidence.
	require.Equal(t, 0.0, BatchLogEValue([]RuleTest{{PValue: 1e-9, Effect: 0.01, Floor: 0.1}}))
	stat, alarm = CUSUMStep(stat, alarm, LogEValue(1), threshold, true)
	require.True(t, alarm, "the window still drifts")
	require.Less(t, stat, threshold)
	stat, alarm = CUSUMStep(stat, alarm, LogEValue(1), threshold, false)
	require.False(t, alarm)
	require.Zero(t, stat, "the CUSUM restarts")
}
