// Copyright The modeltel Authors
// SPDX-License-Identifier: Apache-2.0

package mlperformanceconnector // import "github.com/modeltel/mlperformanceconnector"

import (
	"encoding/binary"
	"math"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/modeltel/mlperformanceconnector/internal/join"
	"github.com/modeltel/mlperformanceconnector/internal/perf"
)

// ingest reads one log record: a joinable prediction record (ml.outcome.predicted) or an
// outcome record (ml.outcome.observed); any other record is ignored. It returns false
// for a record of ours that cannot be read (counted as rejected).
func (j *joiner) ingest(res pcommon.Map, lr plog.LogRecord, now time.Time) bool {
	attrs := lr.Attributes()
	event := lr.EventName()
	if event == "" {
		if v, ok := attrs.Get(attrEventNameLegacy); ok {
			event = v.Str()
		}
	}
	if event == eventPrediction {
		// The SDK's own prediction record carries the joinable rows when it is sent anyway
		// (one log record per call instead of two); without keys it is not ours.
		if _, ok := attrs.Get(attrKeys); !ok {
			return true
		}
		event = eventPredicted
	}
	if event != eventPredicted && event != eventObserved {
		return true
	}
	model := str(attrs, res, attrModelName)
	keys, ok := strs(attrs, attrKeys)
	if model == "" || !ok || len(keys) == 0 {
		return false
	}
	t := now
	if ts := lr.Timestamp(); ts != 0 {
		t = ts.AsTime()
	} else if ts := lr.ObservedTimestamp(); ts != 0 {
		t = ts.AsTime()
	}
	n := len(keys)
	fits := func(got int, present bool) bool { return !present || got == n }
	if event == eventObserved {
		labels, hasLabels := strs(attrs, attrLabels)
		values, hasValues := floats(attrs, attrValues)
		if !fits(len(labels), hasLabels) || !fits(len(values), hasValues) || (!hasLabels && !hasValues) {
			return false
		}
		j.store.AddOutcomes(join.Outcomes{Model: model, Time: t, Keys: keys, Labels: labels, Values: values})
		return true
	}
	classes, hasClasses := strs(attrs, attrPredClasses)
	scores, hasScores := floats(attrs, attrPredScores)
	values, hasValues := floats(attrs, attrPredValues)
	segments, hasSegments := strs(attrs, attrSegments)
	probClasses, hasProbs := strs(attrs, attrProbClasses)
	probs, _ := floats(attrs, attrPredProbs)
	if !fits(len(classes), hasClasses) || !fits(len(scores), hasScores) || !fits(len(values), hasValues) ||
		!fits(len(segments), hasSegments) || (!hasClasses && !hasValues) ||
		(hasProbs && (!hasClasses || len(probClasses) == 0 || len(probs) != n*len(probClasses))) {
		return false
	}
	ref := join.Reference{Accuracy: math.NaN(), MAE: math.NaN()}
	configured, hasConfig := j.refs[model]
	if hasConfig {
		ref = configured
	}
	// An explicit in-band reference (the decorator's reference=) wins over the config; the
	// config wins over one taken from the baseline's validation data (source "baseline").
	fromBaseline := false
	if v, ok := attrs.Get(attrRefSource); ok && v.Str() == refSourceBaseline {
		fromBaseline = true
	}
	if v, ok := attrs.Get(attrRefAccuracy); ok && v.Type() == pcommon.ValueTypeDouble && !(fromBaseline && hasConfig && !math.IsNaN(configured.Accuracy)) {
		ref.Accuracy = v.Double()
	}
	if v, ok := attrs.Get(attrRefMAE); ok && v.Type() == pcommon.ValueTypeDouble && !(fromBaseline && hasConfig && !math.IsNaN(configured.MAE)) {
		ref.MAE = v.Double()
	}
	version := str(attrs, res, attrModelVersion)
	j.store.AddPredictions(join.Predictions{
		Model: model, Version: version, Time: t, Keys: keys, Classes: classes, Scores: scores,
		Values: values, Segments: segments, Probabilities: probs, ProbClasses: probClasses, Positive: str(attrs, res, attrPositiveClass), Reference: ref,
		Calibration: calibration(attrs), Labels: labelCounts(attrs),
	})
	return true
}

// calibration reads an in-band calibration (the baseline's score -> observed positive rate
// points); one that is malformed (lengths differ, scores not ascending, a probability
// outside [0, 1]) is ignored: the scores are then taken as calibrated.
func calibration(attrs pcommon.Map) perf.Calibration {
	scores, ok := floats(attrs, attrCalScores)
	probs, _ := floats(attrs, attrCalProbs)
	if !ok || len(scores) == 0 || len(scores) != len(probs) {
		return perf.Calibration{}
	}
	for i, p := range probs {
		if !(p >= 0 && p <= 1) || math.IsNaN(scores[i]) || (i > 0 && !(scores[i] >= scores[i-1])) {
			return perf.Calibration{}
		}
	}
	return perf.Calibration{Scores: scores, Probabilities: probs}
}

// labelCounts reads an in-band label distribution (labels and their counts, of one length,
// counts finite and not negative); nil when absent or malformed.
func labelCounts(attrs pcommon.Map) map[string]float64 {
	labels, ok := strs(attrs, attrRefLabels)
	counts, _ := floats(attrs, attrRefLabelCounts)
	if !ok || len(labels) == 0 || len(labels) != len(counts) {
		return nil
	}
	out := make(map[string]float64, len(labels))
	for i, l := range labels {
		if !(counts[i] >= 0) || math.IsInf(counts[i], 0) {
			return nil
		}
		out[l] += counts[i]
	}
	return out
}

// str returns a string attribute of the record, else of the resource.
func str(attrs, res pcommon.Map, name string) string {
	if v, ok := attrs.Get(name); ok {
		return label(v)
	}
	if v, ok := res.Get(name); ok {
		return label(v)
	}
	return ""
}

// separator joins the texts of a packed per-row attribute (the SDK's form).
const separator = "\x1f"

// strs reads a per-row attribute as labels: an array, or one string of texts joined by
// U+001F (the SDK's packed form); present is false when it is absent or neither.
func strs(attrs pcommon.Map, name string) (out []string, present bool) {
	v, ok := attrs.Get(name)
	if !ok {
		return nil, false
	}
	if v.Type() == pcommon.ValueTypeStr {
		return strings.Split(v.Str(), separator), true
	}
	if v.Type() != pcommon.ValueTypeSlice {
		return nil, false
	}
	s := v.Slice()
	out = make([]string, s.Len())
	for i := range out {
		out[i] = label(s.At(i))
	}
	return out, true
}

// floats reads a per-row attribute of numbers: an array (a value that is not a number is
// NaN), or bytes of little-endian float64 (the SDK's packed form; a length that is not a
// multiple of 8 reads as nothing, and the record is rejected).
func floats(attrs pcommon.Map, name string) (out []float64, present bool) {
	v, ok := attrs.Get(name)
	if !ok {
		return nil, false
	}
	if v.Type() == pcommon.ValueTypeBytes {
		b := v.Bytes().AsRaw()
		if len(b)%8 != 0 {
			return nil, true
		}
		out = make([]float64, len(b)/8)
		for i := range out {
			out[i] = math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:]))
		}
		return out, true
	}
	if v.Type() != pcommon.ValueTypeSlice {
		return nil, false
	}
	s := v.Slice()
	out = make([]float64, s.Len())
	for i := range out {
		switch e := s.At(i); e.Type() {
		case pcommon.ValueTypeDouble:
			out[i] = e.Double()
		case pcommon.ValueTypeInt:
			out[i] = float64(e.Int())
		default:
			out[i] = math.NaN()
		}
	}
	return out, true
}

// label is the text of a class label or key: integers (and integral doubles) in decimal,
// booleans as 1 and 0, the same rule as the SDK's (modeltel._outcomes.labels).
func label(v pcommon.Value) string {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return v.Str()
	case pcommon.ValueTypeInt:
		return strconv.FormatInt(v.Int(), 10)
	case pcommon.ValueTypeDouble:
		return join.NumberLabel(v.Double())
	case pcommon.ValueTypeBool:
		if v.Bool() {
			return "1"
		}
		return "0"
	default:
		return v.AsString()
	}
}
