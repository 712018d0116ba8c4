// Copyright The modeltel Authors
// SPDX-License-Identifier: Apache-2.0

package mlperformanceconnector // import "github.com/modeltel/mlperformanceconnector"

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"

	"github.com/modeltel/mlcommon/baseline"
	"github.com/modeltel/mlperformanceconnector/internal/join"
	"github.com/modeltel/mlperformanceconnector/internal/perf"
)

// baselineFile is the part of a modeltel baseline file (docs/baseline-format.md, as
// modeltel.Baseline.save writes it; the same files mldrift's baseline_files reads) that the
// connector uses: the model, the version and the optional performance section (the
// validation performance, label counts and calibration, what the SDK otherwise sends
// in-band every 30 s).
type baselineFile struct {
	baseline.Header
	Performance *struct {
		Task          string             `json:"task"`
		PositiveClass string             `json:"positive_class"`
		Metrics       map[string]float64 `json:"metrics"`
		Labels        map[string]float64 `json:"labels"`
		Calibration   *struct {
			Scores        []float64 `json:"scores"`
			Probabilities []float64 `json:"probabilities"`
		} `json:"calibration"`
	} `json:"performance"`
}

// loadBaseline reads one baseline file into what the join store takes; every error names
// the file and what is wrong. A file without a performance section is an error: it has no
// reference to give.
func loadBaseline(path string) (join.Baseline, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return join.Baseline{}, fmt.Errorf("baseline_files: %w", err)
	}
	var f baselineFile
	if err := json.Unmarshal(data, &f); err != nil {
		return join.Baseline{}, fmt.Errorf("baseline_files: %s: not valid JSON: %w", path, err)
	}
	bad := func(why string) (join.Baseline, error) {
		return join.Baseline{}, fmt.Errorf("baseline_files: %s: %s", path, why)
	}
	if err := f.Check(); err != nil {
		return bad(err.Error())
	}
	if f.Performance == nil {
		return bad("no performance section (build it with Baseline.from_data(..., predictions=, targets=))")
	}
	p := f.Performance
	b := join.Baseline{Model: f.Model, Version: f.Version, Positive: p.PositiveClass,
		Reference: join.Reference{Accuracy: math.NaN(), MAE: math.NaN()}, Labels: p.Labels}
	if v, ok := p.Metrics["accuracy"]; ok {
		if !(v >= 0 && v <= 1) {
			return bad(fmt.Sprintf("performance.metrics.accuracy %g is not in [0, 1]", v))
		}
		b.Reference.Accuracy = v
	}
	if v, ok := p.Metrics["mae"]; ok {
		if !(v >= 0) || math.IsInf(v, 0) {
			return bad(fmt.Sprintf("performance.metrics.mae %g is not a finite non-negative number", v))
		}
		b.Reference.MAE = v
	}
	for label, c := range p.Labels {
		if !(c >= 0) || math.IsInf(c, 0) {
			return bad(fmt.Sprintf("performance.labels[%q] = %g is not a count", label, c))
		}
	}
	if c := p.Calibration; c != nil && len(c.Scores) > 0 {
		cal := Calibration{Scores: c.Scores, Probabilities: c.Probabilities}
		if err := cal.validate(); err != nil {
			return bad("performance." + err.Error())
		}
		b.Calibration = perf.Calibration{Scores: c.Scores, Probabilities: c.Probabilities}
	}
	if math.IsNaN(b.Reference.Accuracy) && math.IsNaN(b.Reference.MAE) && len(b.Calibration.Scores) == 0 && len(b.Labels) == 0 {
		return bad("the performance section holds no accuracy, mae, labels or calibration")
	}
	return b, nil
}

// loadBaselines reads every file of baseline_files; two files of one model and version are
// an error (which one would win is not obvious).
func loadBaselines(paths []string) ([]join.Baseline, error) {
	out := make([]join.Baseline, 0, len(paths))
	seen := map[[2]string]string{}
	var errs []error
	for _, path := range paths {
		b, err := loadBaseline(path)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		key := [2]string{b.Model, b.Version}
		if other, dup := seen[key]; dup {
			errs = append(errs, fmt.Errorf("baseline_files: %s and %s are both model %q version %q", other, path, b.Model, b.Version))
			continue
		}
		seen[key] = path
		out = append(out, b)
	}
	return out, errors.Join(errs...)
}
