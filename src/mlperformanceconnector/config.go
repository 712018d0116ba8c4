// Copyright The modeltel Authors
// SPDX-License-Identifier: Apache-2.0

package mlperformanceconnector // import "github.com/modeltel/mlperformanceconnector"

import (
	"errors"
	"fmt"
	"math"
	"time"

	"go.opentelemetry.io/collector/component"
)

// Config of the mlperformance connector. Every field has a default (createDefaultConfig).
type Config struct {
	// TTL is how long a prediction waits for its outcome, and an outcome that came first
	// for its prediction, before it is counted as expired (or unknown_key). A matched
	// key is remembered as long, to count duplicate outcomes. Default 168h (7 days).
	TTL time.Duration `mapstructure:"ttl"`

	// Models override the TTL and set the reference performance per model name.
	Models []ModelConfig `mapstructure:"models"`

	// Window is the span of prediction time the ml.performance.* gauges and the
	// degradation verdict cover: rows whose prediction was made in the last Window.
	// Default 1h.
	Window time.Duration `mapstructure:"window"`

	// Slots is the window's granularity: it slides one Window/Slots at a time. Default 60.
	Slots int `mapstructure:"slots"`

	// EmitInterval is how often metrics are emitted, TTLs swept and verdicts taken.
	// Default 60s.
	EmitInterval time.Duration `mapstructure:"emit_interval"`

	// Storage is the id of a storage extension (file_storage) that holds the state, so
	// that a restarted collector loses no pending prediction and no count. Default none:
	// the state is in memory only.
	Storage *component.ID `mapstructure:"storage"`

	// Instance names this collector in the ml.performance.instance resource attribute of
	// what it emits, so that a backend sums the additive metrics of several instances
	// (docs/deployment.md). Default: the host name.
	Instance string `mapstructure:"instance"`

	// MaxPending bounds the keys held (pending predictions, early outcomes, matched keys
	// kept for duplicate detection) across models; rows beyond it are counted as
	// max_pending. Default 1000000 (about 100 MB, see the README).
	MaxPending int `mapstructure:"max_pending"`

	// MaxModels, MaxVersions, MaxClasses and MaxSegments bound cardinality; classes,
	// versions and segments beyond them count under __other__, models beyond MaxModels
	// are dropped and counted. Defaults 100, 20, 50, 50.
	MaxModels   int `mapstructure:"max_models"`
	MaxVersions int `mapstructure:"max_versions"`
	MaxClasses  int `mapstructure:"max_classes"`
	MaxSegments int `mapstructure:"max_segments"`

	// MaxProbabilityClasses bounds the classes whose probabilities a pending multiclass
	// prediction keeps for its log loss and Brier score (ml.prediction.probabilities): 8 bytes
	// each per pending prediction (docs/outcomes.md has the bytes per class count).
	// Predictions with more classes join for accuracy and F1 only and are counted in
	// ml.performance.unscored (reason too_many_classes). Default 16.
	MaxProbabilityClasses int `mapstructure:"max_probability_classes"`

	// ScoreBins is the number of score histogram bins, uniform in logit(score) over
	// [-10, 10]; ROC AUC is computed from them and its largest binning error is emitted
	// as ml.performance.roc_auc.error_bound. Default 200.
	ScoreBins int `mapstructure:"score_bins"`

	// Degradation is the rule of ml.performance.degraded / recovered.
	Degradation Degradation `mapstructure:"degradation"`

	// BaselineFiles are modeltel baseline files (docs/baseline-format.md; the files mldrift's
	// baseline_files reads) with a performance section: their validation accuracy or MAE, label
	// counts and calibration are known from the start, for the version they name, instead of
	// from the first joinable record that carries them in-band (the SDK sends them once every
	// 30 s). The config's models: reference and calibration win over a file's; an explicit
	// in-band reference= wins over both. Default none.
	BaselineFiles []string `mapstructure:"baseline_files"`
}

// ModelConfig is the per-model part of the config.
type ModelConfig struct {
	// Name is the model name (ml.model.name).
	Name string `mapstructure:"name"`
	// TTL overrides the connector's TTL for this model.
	TTL time.Duration `mapstructure:"ttl"`
	// Accuracy (classification) or MAE (regression) is the reference the window is
	// compared with. It wins over the reference the predictions carry from their baseline
	// (ml.performance.reference.source "baseline"); an explicit in-band one (the SDK's
	// reference=) wins over it.
	Accuracy float64 `mapstructure:"accuracy"`
	MAE      float64 `mapstructure:"mae"`
	// Calibration maps the model's scores to probabilities for the estimated figures
	// (ml.performance.estimated.*), piecewise linearly, e.g. from an isotonic fit on
	// validation data. It wins over the calibration the predictions carry from their
	// baseline (ml.performance.calibration.*). Default: that one, else none (the scores are
	// taken as calibrated probabilities).
	Calibration Calibration `mapstructure:"calibration"`
}

// Calibration is a piecewise-linear map from score to probability: ascending scores and
// their probabilities, of the same length.
type Calibration struct {
	Scores        []float64 `mapstructure:"scores"`
	Probabilities []float64 `mapstructure:"probabilities"`
}

func (c Calibration) validate() error {
	if len(c.Scores) != len(c.Probabilities) {
		return fmt.Errorf("calibration: %d scores and %d probabilities", len(c.Scores), len(c.Probabilities))
	}
	for i, p := range c.Probabilities {
		if p < 0 || p > 1 || (i > 0 && c.Scores[i] < c.Scores[i-1]) {
			return errors.New("calibration: scores must ascend and probabilities be in [0, 1]")
		}
	}
	return nil
}

// Degradation decides when a window's performance is worse than its reference.
type Degradation struct {
	// Tolerance is the relative drop allowed: a classifier is degraded when even the
	// upper end of its accuracy interval is below reference*(1-Tolerance); a regressor
	// when even the lower end of its MAE interval is above reference*(1+Tolerance).
	// Default 0.05.
	Tolerance float64 `mapstructure:"tolerance"`
	// Confidence of the one-sided interval (Wilson for accuracy, normal for MAE).
	// Default 0.95.
	Confidence float64 `mapstructure:"confidence"`
	// MinSamples: a window with fewer joined rows gets no verdict. Default 100.
	MinSamples int `mapstructure:"min_samples"`
}

func createDefaultConfig() *Config {
	return &Config{
		TTL: 7 * 24 * time.Hour, Window: time.Hour, Slots: 60, EmitInterval: time.Minute,
		MaxPending: 1_000_000, MaxModels: 100, MaxVersions: 20, MaxClasses: 50, MaxSegments: 50,
		MaxProbabilityClasses: 16, ScoreBins: 200,
		Degradation: Degradation{Tolerance: 0.05, Confidence: 0.95, MinSamples: 100},
	}
}

// Validate checks the config.
func (c *Config) Validate() error {
	var errs []error
	positive := func(name string, d time.Duration) {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("%s must be positive, got %s", name, d))
		}
	}
	positive("ttl", c.TTL)
	positive("window", c.Window)
	positive("emit_interval", c.EmitInterval)
	for name, v := range map[string]int{
		"slots": c.Slots, "max_pending": c.MaxPending, "max_models": c.MaxModels,
		"max_versions": c.MaxVersions, "max_classes": c.MaxClasses, "max_segments": c.MaxSegments,
		"score_bins": c.ScoreBins, "degradation.min_samples": c.Degradation.MinSamples,
		"max_probability_classes": c.MaxProbabilityClasses,
	} {
		if v <= 0 {
			errs = append(errs, fmt.Errorf("%s must be positive, got %d", name, v))
		}
	}
	if c.MaxClasses > math.MaxUint16-2 || c.MaxVersions > math.MaxUint16-2 || c.MaxSegments > math.MaxUint16-2 {
		errs = append(errs, errors.New("max_classes, max_versions and max_segments must be below 65533"))
	}
	if c.Slots > 0 && c.Window > 0 && c.Window%time.Duration(c.Slots) != 0 {
		errs = append(errs, fmt.Errorf("window %s is not a multiple of slots (%d)", c.Window, c.Slots))
	}
	if t := c.Degradation.Tolerance; t < 0 || t >= 1 {
		errs = append(errs, fmt.Errorf("degradation.tolerance must be in [0, 1), got %g", t))
	}
	if cf := c.Degradation.Confidence; cf <= 0.5 || cf >= 1 {
		errs = append(errs, fmt.Errorf("degradation.confidence must be in (0.5, 1), got %g", cf))
	}
	if _, err := loadBaselines(c.BaselineFiles); err != nil {
		errs = append(errs, err)
	}
	seen := map[string]bool{}
	for i, m := range c.Models {
		switch {
		case m.Name == "":
			errs = append(errs, fmt.Errorf("models[%d]: name is required", i))
		case seen[m.Name]:
			errs = append(errs, fmt.Errorf("models[%d]: model %q is listed twice", i, m.Name))
		case m.TTL < 0 || m.Accuracy < 0 || m.Accuracy > 1 || m.MAE < 0:
			errs = append(errs, fmt.Errorf("models[%d] (%s): ttl and mae must not be negative, accuracy in [0, 1]", i, m.Name))
		default:
			if err := m.Calibration.validate(); err != nil {
				errs = append(errs, fmt.Errorf("models[%d] (%s): %w", i, m.Name, err))
			}
		}
		seen[m.Name] = true
	}
	return errors.Join(errs...)
}
