// Copyright The modeltel Authors
// SPDX-License-Identifier: Apache-2.0

package mldriftprocessor // import "github.com/modeltel/mldriftprocessor"

import (
	"errors"
	"fmt"
	"math"
	"os"
	"time"

	"go.opentelemetry.io/collector/component"

	"github.com/modeltel/mldriftprocessor/internal/baselinefile"
	"github.com/modeltel/mldriftprocessor/internal/state"

	"github.com/modeltel/mldriftprocessor/internal/drift"
)

// Config of the mldrift processor. Every field has a default (createDefaultConfig);
// the verdict defaults are those of docs/drift-math.md section 4, the same as the
// Python DriftConfig, so the collector and an offline report agree out of the box.
type Config struct {
	// Window is how much recent production data is scored, as a sliding window.
	// Default 1h: long enough to collect min_samples values at modest traffic,
	// short enough that a change shows within the hour.
	Window time.Duration `mapstructure:"window"`

	// SlotSize is the window's granularity: the window is a ring of Window/SlotSize
	// slots and data leaves it one slot at a time. Window must be a multiple of it.
	// Default 1m.
	SlotSize time.Duration `mapstructure:"slot_size"`

	// EmitInterval is how often scores, verdicts and data-quality rates are emitted
	// (and drift transitions logged). Default 60s.
	EmitInterval time.Duration `mapstructure:"emit_interval"`

	// StaleAfter removes a feature's window, its baseline and any cumulative stream that
	// received no point for this long. Default 2h (twice the default window).
	StaleAfter time.Duration `mapstructure:"stale_after"`

	// MaxStreams bounds the state: feature windows plus cumulative streams tracked.
	// Points of new streams beyond it are dropped and counted. Default 10000.
	MaxStreams int `mapstructure:"max_streams"`

	// MaxFeaturesPerModel bounds the features (inputs and outputs) tracked per model
	// and version; points of further features are dropped and counted. Default 1000.
	MaxFeaturesPerModel int `mapstructure:"max_features_per_model"`

	// MaxCategoriesPerFeature bounds the distinct labels a categorical feature's window keeps
	// per slot; the values of further labels count under __other__ (and are counted as
	// dropped, reason max_categories). Default 1024 (the SDK sends at most its
	// MODELTEL_MAX_CATEGORIES plus 16 tail buckets per feature and process).
	MaxCategoriesPerFeature int `mapstructure:"max_categories_per_feature"`

	// Thresholds are the verdict settings for every feature, unless overridden in Models.
	Thresholds Thresholds `mapstructure:"thresholds"`

	// Models override thresholds per model (optionally one version) and per feature.
	Models []ModelOverride `mapstructure:"models"`

	// BaselineFiles are baseline files (docs/baseline-format.md, as modeltel.Baseline.save
	// writes them) loaded at start and kept for the life of the collector. They apply to
	// production points tagged with the same ml.baseline.id; in-band baselines from the
	// SDK need no file. Default: none.
	BaselineFiles []string `mapstructure:"baseline_files"`

	// Storage is a storage extension (file_storage) where the windows, the frozen
	// self-references and the drift states are saved on every emit and at shutdown, and
	// restored at start, so a restarted collector scores again at its first emit. Default:
	// none (state in memory only).
	Storage *component.ID `mapstructure:"storage"`
}

// Thresholds are the verdict settings of docs/drift-math.md section 4.
type Thresholds struct {
	// MinSamples: a window with fewer production values (nulls included) is reported
	// (sample count and scores) with no verdict. Default 0: the mode's own, 50 in
	// calibrated mode, 500 in fixed and adaptive. Without a baseline a feature freezes its
	// first full window as its reference once it holds max(MinSamples, 500) values.
	MinSamples int `mapstructure:"min_samples"`
	// PSIThreshold: a numeric feature drifts when PSI >= this. Default 0.2.
	PSIThreshold float64 `mapstructure:"psi_threshold"`
	// KSAlpha: a numeric feature drifts when its Benjamini-Hochberg adjusted KS p-value
	// is below this and the normalised Wasserstein distance reaches WassersteinThreshold.
	// Default 0.05.
	KSAlpha float64 `mapstructure:"ks_alpha"`
	// WassersteinThreshold is the effect-size gate of the KS rule. Default 0.1.
	WassersteinThreshold float64 `mapstructure:"wasserstein_threshold"`
	// Chi2Alpha: a categorical feature with fewer than Chi2MaxRows values drifts when its
	// adjusted chi-squared p-value is below this. Default 0.05.
	Chi2Alpha float64 `mapstructure:"chi2_alpha"`
	// Chi2MaxRows: at or above this window size categorical features use Jensen-Shannon.
	// Default 1000.
	Chi2MaxRows int `mapstructure:"chi2_max_rows"`
	// JSThreshold: a categorical feature drifts when the Jensen-Shannon distance >= this.
	// Default 0.1.
	JSThreshold float64 `mapstructure:"js_threshold"`
	// DatasetDriftShare: a model's inputs drift as a whole when at least this share of
	// its scored input features drift (model level only). Default 0.5.
	DatasetDriftShare float64 `mapstructure:"dataset_drift_share"`
	// Mode is "calibrated" (two-sample tests with a per-model false-alarm rate, Holm over
	// every feature and rule, and an effect-size floor: docs/drift-math.md section 5),
	// "fixed" (the thresholds above) or "adaptive" (PSI and Jensen-Shannon thresholds
	// replaced by sample-size-aware critical values). Default "calibrated".
	Mode string `mapstructure:"mode"`
	// Alpha (calibrated, model level) is the family-wise false-alarm rate of one model in
	// one evaluation. Default 0.05.
	Alpha float64 `mapstructure:"alpha"`
	// FeatureAlpha (calibrated, model level) caps the family level at FeatureAlpha times
	// the number of features, so a model with few features stays at this per feature.
	// Default 0.01.
	FeatureAlpha float64 `mapstructure:"feature_alpha"`
	// EffectFloor (calibrated) scales the effect-size floor EffectFloor * n_eff^-1/4
	// (n_eff = N*M/(N+M)). Default 0.5.
	EffectFloor float64 `mapstructure:"effect_floor"`
	// MinExpected (calibrated) is the expected count each merged cell of the chi-squared
	// test reaches on both sides. Default 5.
	MinExpected float64 `mapstructure:"min_expected"`
	// SequentialARL (calibrated, model level) turns on the sequential rule (docs/drift-math.md
	// section 9): every emit, the data that arrived since the previous one (completed slots,
	// at least min_samples rows) is tested against the reference and an e-CUSUM per feature
	// adds the evidence up across emits, so a change shows before a whole window holds it.
	// The value is the average run length to a false alarm of the model, in such batches, that
	// the rule guarantees at the least. 0 turns the rule off. Default 1000.
	SequentialARL float64 `mapstructure:"sequential_arl"`
	// AdaptiveAlpha is the per-feature false-alarm target of adaptive mode. Default 0.01.
	AdaptiveAlpha float64 `mapstructure:"adaptive_alpha"`
	// Epsilon floors empty proportions in PSI and chi-squared. Default 1e-4.
	Epsilon float64 `mapstructure:"epsilon"`
}

// ThresholdOverrides is a partial Thresholds: only the fields that are set apply.
type ThresholdOverrides struct {
	MinSamples           *int     `mapstructure:"min_samples"`
	PSIThreshold         *float64 `mapstructure:"psi_threshold"`
	KSAlpha              *float64 `mapstructure:"ks_alpha"`
	WassersteinThreshold *float64 `mapstructure:"wasserstein_threshold"`
	Chi2Alpha            *float64 `mapstructure:"chi2_alpha"`
	Chi2MaxRows          *int     `mapstructure:"chi2_max_rows"`
	JSThreshold          *float64 `mapstructure:"js_threshold"`
	DatasetDriftShare    *float64 `mapstructure:"dataset_drift_share"`
	Mode                 *string  `mapstructure:"mode"`
	AdaptiveAlpha        *float64 `mapstructure:"adaptive_alpha"`
	Epsilon              *float64 `mapstructure:"epsilon"`
	Alpha                *float64 `mapstructure:"alpha"`
	FeatureAlpha         *float64 `mapstructure:"feature_alpha"`
	EffectFloor          *float64 `mapstructure:"effect_floor"`
	MinExpected          *float64 `mapstructure:"min_expected"`
	SequentialARL        *float64 `mapstructure:"sequential_arl"`
}

// ModelOverride overrides thresholds for one model (all versions, or one).
type ModelOverride struct {
	// Name is the model's ml.model.name. Required.
	Name string `mapstructure:"name"`
	// Version limits the override to one ml.model.version; empty means every version.
	Version string `mapstructure:"version"`
	// Thresholds for every feature of the model.
	Thresholds ThresholdOverrides `mapstructure:"thresholds"`
	// Features override thresholds per ml.feature.name (inputs and outputs alike).
	Features map[string]ThresholdOverrides `mapstructure:"features"`
}

func defaultThresholds() Thresholds {
	d := drift.DefaultThresholds()
	return Thresholds{
		MinSamples:           0,
		PSIThreshold:         d.PSIThreshold,
		KSAlpha:              d.KSAlpha,
		WassersteinThreshold: d.WassersteinThreshold,
		Chi2Alpha:            d.Chi2Alpha,
		Chi2MaxRows:          int(d.Chi2MaxRows),
		JSThreshold:          d.JSThreshold,
		DatasetDriftShare:    0.5,
		Mode:                 "calibrated",
		AdaptiveAlpha:        d.AdaptiveAlpha,
		Epsilon:              d.Epsilon,
		Alpha:                d.Alpha,
		FeatureAlpha:         d.FeatureAlpha,
		EffectFloor:          d.EffectFloor,
		MinExpected:          d.MinExpected,
		SequentialARL:        drift.DefaultSequentialARL,
	}
}

func createDefaultConfig() *Config {
	return &Config{
		Window:                  time.Hour,
		SlotSize:                time.Minute,
		EmitInterval:            time.Minute,
		StaleAfter:              2 * time.Hour,
		MaxStreams:              10000,
		MaxFeaturesPerModel:     1000,
		MaxCategoriesPerFeature: 1024,
		Thresholds:              defaultThresholds(),
	}
}

// maxSlots bounds the ring so that a tiny slot size cannot blow up memory per feature.
const maxSlots = 1440

// Validate checks the configuration.
func (cfg *Config) Validate() error {
	var errs []error
	switch {
	case cfg.Window <= 0:
		errs = append(errs, errors.New("window must be positive"))
	case cfg.SlotSize <= 0:
		errs = append(errs, errors.New("slot_size must be positive"))
	case cfg.Window%cfg.SlotSize != 0:
		errs = append(errs, fmt.Errorf("window (%s) must be a multiple of slot_size (%s)", cfg.Window, cfg.SlotSize))
	case cfg.Window/cfg.SlotSize > maxSlots:
		errs = append(errs, fmt.Errorf("window/slot_size must be at most %d slots, got %d", maxSlots, cfg.Window/cfg.SlotSize))
	}
	if cfg.EmitInterval <= 0 {
		errs = append(errs, errors.New("emit_interval must be positive"))
	}
	if cfg.StaleAfter <= 0 {
		errs = append(errs, errors.New("stale_after must be positive"))
	}
	if cfg.MaxStreams <= 0 {
		errs = append(errs, errors.New("max_streams must be positive"))
	}
	if cfg.MaxFeaturesPerModel <= 0 {
		errs = append(errs, errors.New("max_features_per_model must be positive"))
	}
	if cfg.MaxCategoriesPerFeature <= 0 {
		errs = append(errs, errors.New("max_categories_per_feature must be positive"))
	}
	for _, path := range cfg.BaselineFiles {
		if _, err := loadBaselineFile(path); err != nil {
			errs = append(errs, err)
		}
	}
	if err := cfg.Thresholds.validate(); err != nil {
		errs = append(errs, fmt.Errorf("thresholds: %w", err))
	}
	for i, m := range cfg.Models {
		if m.Name == "" {
			errs = append(errs, fmt.Errorf("models[%d]: name is required", i))
			continue
		}
		t := cfg.Thresholds.apply(m.Thresholds)
		if err := t.validate(); err != nil {
			errs = append(errs, fmt.Errorf("models[%d] (%s): %w", i, m.Name, err))
		}
		for f, o := range m.Features {
			if err := t.apply(o).validate(); err != nil {
				errs = append(errs, fmt.Errorf("models[%d] (%s) feature %q: %w", i, m.Name, f, err))
			}
		}
	}
	return errors.Join(errs...)
}

func (t Thresholds) validate() error {
	var errs []error
	if t.MinSamples < 0 {
		errs = append(errs, errors.New("min_samples must be >= 0 (0: the mode's default)"))
	}
	if t.Chi2MaxRows < 1 {
		errs = append(errs, errors.New("chi2_max_rows must be at least 1"))
	}
	for _, p := range []struct {
		name string
		v    float64
	}{{"ks_alpha", t.KSAlpha}, {"chi2_alpha", t.Chi2Alpha}, {"adaptive_alpha", t.AdaptiveAlpha}, {"epsilon", t.Epsilon}, {"alpha", t.Alpha}, {"feature_alpha", t.FeatureAlpha}} {
		if !(p.v > 0 && p.v < 1) {
			errs = append(errs, fmt.Errorf("%s must be in (0, 1), got %g", p.name, p.v))
		}
	}
	for _, p := range []struct {
		name string
		v    float64
	}{{"psi_threshold", t.PSIThreshold}, {"wasserstein_threshold", t.WassersteinThreshold}, {"js_threshold", t.JSThreshold}, {"effect_floor", t.EffectFloor}} {
		if !(p.v >= 0) {
			errs = append(errs, fmt.Errorf("%s must be >= 0, got %g", p.name, p.v))
		}
	}
	if !(t.DatasetDriftShare > 0 && t.DatasetDriftShare <= 1) {
		errs = append(errs, fmt.Errorf("dataset_drift_share must be in (0, 1], got %g", t.DatasetDriftShare))
	}
	if !(t.SequentialARL == 0 || t.SequentialARL > 1) {
		errs = append(errs, fmt.Errorf("sequential_arl must be 0 (off) or > 1, got %g", t.SequentialARL))
	}
	if !(t.MinExpected > 0) {
		errs = append(errs, fmt.Errorf("min_expected must be > 0, got %g", t.MinExpected))
	}
	if t.Mode != "calibrated" && t.Mode != "fixed" && t.Mode != "adaptive" {
		errs = append(errs, fmt.Errorf(`mode must be "calibrated", "fixed" or "adaptive", got %q`, t.Mode))
	}
	return errors.Join(errs...)
}

// apply returns t with the set fields of o.
func (t Thresholds) apply(o ThresholdOverrides) Thresholds {
	setI := func(dst *int, v *int) {
		if v != nil {
			*dst = *v
		}
	}
	setF := func(dst *float64, v *float64) {
		if v != nil {
			*dst = *v
		}
	}
	setI(&t.MinSamples, o.MinSamples)
	setF(&t.PSIThreshold, o.PSIThreshold)
	setF(&t.KSAlpha, o.KSAlpha)
	setF(&t.WassersteinThreshold, o.WassersteinThreshold)
	setF(&t.Chi2Alpha, o.Chi2Alpha)
	setI(&t.Chi2MaxRows, o.Chi2MaxRows)
	setF(&t.JSThreshold, o.JSThreshold)
	setF(&t.DatasetDriftShare, o.DatasetDriftShare)
	if o.Mode != nil {
		t.Mode = *o.Mode
	}
	setF(&t.AdaptiveAlpha, o.AdaptiveAlpha)
	setF(&t.Epsilon, o.Epsilon)
	setF(&t.Alpha, o.Alpha)
	setF(&t.FeatureAlpha, o.FeatureAlpha)
	setF(&t.EffectFloor, o.EffectFloor)
	setF(&t.MinExpected, o.MinExpected)
	setF(&t.SequentialARL, o.SequentialARL)
	return t
}

// forModel returns the model-level thresholds of model+version.
func (cfg *Config) forModel(model, version string) Thresholds {
	t := cfg.Thresholds
	for _, m := range cfg.Models {
		if m.Name == model && (m.Version == "" || m.Version == version) {
			t = t.apply(m.Thresholds)
		}
	}
	return t
}

// forFeature returns the thresholds of one feature of model+version.
func (cfg *Config) forFeature(model, version, feature string) Thresholds {
	t := cfg.forModel(model, version)
	for _, m := range cfg.Models {
		if m.Name == model && (m.Version == "" || m.Version == version) {
			if o, ok := m.Features[feature]; ok {
				t = t.apply(o)
			}
		}
	}
	return t
}

// minSamples resolves min_samples 0 to the mode's default.
func (t Thresholds) minSamples() int {
	switch {
	case t.MinSamples > 0:
		return t.MinSamples
	case t.Mode == "calibrated":
		return drift.DefaultMinSamplesCalibrated
	default:
		return drift.DefaultMinSamplesFixed
	}
}

// drift returns the math's thresholds of one feature; alpha and feature_alpha come from
// the model's level (model), as they are one setting of the model's family.
func (t Thresholds) drift(model Thresholds) drift.Thresholds {
	return drift.Thresholds{
		MinSamples:           float64(t.minSamples()),
		PSIThreshold:         t.PSIThreshold,
		KSAlpha:              t.KSAlpha,
		WassersteinThreshold: t.WassersteinThreshold,
		Chi2Alpha:            t.Chi2Alpha,
		Chi2MaxRows:          float64(t.Chi2MaxRows),
		JSThreshold:          t.JSThreshold,
		Adaptive:             t.Mode == "adaptive",
		AdaptiveAlpha:        t.AdaptiveAlpha,
		Epsilon:              t.Epsilon,
		Calibrated:           t.Mode == "calibrated",
		Alpha:                model.Alpha,
		FeatureAlpha:         model.FeatureAlpha,
		EffectFloor:          t.EffectFloor,
		MinExpected:          t.MinExpected,
	}
}

func loadBaselineFile(path string) (*baselinefile.File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("baseline_files: %w", err)
	}
	f, err := baselinefile.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("baseline_files: %s: %w", path, err)
	}
	return f, nil
}

// fileBaselines turns a baseline file into the store's baselines, by feature.
func fileBaselines(f *baselinefile.File) map[state.FeatureKey]*state.Baseline {
	out := map[state.FeatureKey]*state.Baseline{}
	for role, group := range map[string][]baselinefile.Feature{roleInput: f.Features, roleOutput: f.Predictions} {
		for _, ft := range group {
			key := state.FeatureKey{Model: f.Model, Version: f.Version, Role: role, Feature: ft.Name}
			b := &state.Baseline{ID: f.ID, Min: math.NaN(), Max: math.NaN(), Nulls: math.NaN(), Pinned: true}
			if ft.NullCount != nil {
				b.Nulls = *ft.NullCount
			}
			if ft.Kind == "numeric" {
				b.Bounds, b.Counts = ft.Edges, ft.Counts
				if ft.Min != nil {
					b.Min = *ft.Min
				}
				if ft.Max != nil {
					b.Max = *ft.Max
				}
			} else {
				b.Cats = ft.Cats()
			}
			out[key] = b
		}
	}
	return out
}
