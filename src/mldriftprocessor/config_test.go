// Copyright The modeltel Authors
// SPDX-License-Identifier: Apache-2.0

package mldriftprocessor

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"
)

func loadConfig(t *testing.T, name string) (*Config, error) {
	t.Helper()
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)
	sub, err := cm.Sub(component.NewIDWithName(metadata.Type, name).String())
	require.NoError(t, err)
	cfg := createDefaultConfig()
	require.NoError(t, sub.Unmarshal(cfg))
	return cfg, confmap.Validate(cfg)
}

// TestDefaultsAreTheDriftMathDefaults checks that an empty mldrift block is valid and
// uses the verdict defaults of docs/drift-math.md sections 4 and 5 (calibrated mode).
func TestDefaultsAreTheDriftMathDefaults(t *testing.T) {
	cfg, err := loadConfig(t, "")
	require.NoError(t, err)
	require.Equal(t, createDefaultConfig(), cfg)
	require.Equal(t, Thresholds{
		MinSamples: 0, PSIThreshold: 0.2, KSAlpha: 0.05, WassersteinThreshold: 0.1, Chi2Alpha: 0.05,
		Chi2MaxRows: 1000, JSThreshold: 0.1, DatasetDriftShare: 0.5, Mode: "calibrated", AdaptiveAlpha: 0.01, Epsilon: 1e-4,
		Alpha: 0.05, FeatureAlpha: 0.01, EffectFloor: 0.5, MinExpected: 5, SequentialARL: 1000,
	}, cfg.Thresholds)
	require.Equal(t, 50, cfg.Thresholds.minSamples(), "calibrated mode gives verdicts from 50 values on")
	fixed := cfg.Thresholds
	fixed.Mode = "fixed"
	require.Equal(t, 500, fixed.minSamples())
	require.Equal(t, time.Hour, cfg.Window)
}

// TestOverridesApplyPerModelVersionAndFeature checks the layering: defaults, then the
// model (and version) block, then the feature block.
func TestOverridesApplyPerModelVersionAndFeature(t *testing.T) {
	cfg, err := loadConfig(t, "custom")
	require.NoError(t, err)
	require.Equal(t, 30*time.Second, cfg.SlotSize)
	other := cfg.forFeature("churn", "1", "amount")
	require.Equal(t, 0.25, other.PSIThreshold)
	require.Equal(t, "adaptive", other.Mode)
	require.Equal(t, 0.1, other.JSThreshold)
	wrongVersion := cfg.forFeature("fraud", "3.0.0", "amount")
	require.Equal(t, 0.25, wrongVersion.PSIThreshold)
	model := cfg.forFeature("fraud", "3.1.0", "country")
	require.Equal(t, 0.2, model.JSThreshold)
	require.Equal(t, 0.25, model.PSIThreshold)
	feature := cfg.forFeature("fraud", "3.1.0", "amount")
	require.Equal(t, 0.4, feature.PSIThreshold)
	require.Equal(t, 0.2, feature.JSThreshold)
	require.Equal(t, 1000, feature.MinSamples)
}

// TestInvalidConfigsAreRejected checks Validate's errors name the offending setting.
func TestInvalidConfigsAreRejected(t *testing.T) {
	for name, want := range map[string]string{
		"bad_window":            "multiple of slot_size",
		"bad_mode":              "mode must be",
		"bad_alpha":             "ks_alpha must be in (0, 1)",
		"missing_baseline_file": "baseline_files",
	} {
		_, err := loadConfig(t, name)
		require.ErrorContains(t, err, want, name)
	}
}
