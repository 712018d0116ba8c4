// Copyright The modeltel Authors
// SPDX-License-Identifier: Apache-2.0

package mldriftprocessor // import "github.com/modeltel/mldriftprocessor"

// Names read and written by the processor; every one is registered in
// docs/semantic-conventions.md.
const (
	// Read: distribution metrics and in-band baselines from the SDK.
	metricFeatureValue       = "ml.feature.value"
	metricCategoryCount      = "ml.feature.category.count"
	metricMissing            = "ml.feature.missing"
	metricBaselineValue      = "ml.baseline.feature.value"
	metricBaselineCategories = "ml.baseline.feature.category.count"
	metricBaselineMissing    = "ml.baseline.feature.missing"
	metricViolations         = "ml.data_quality.violations"

	attrModelName    = "ml.model.name"
	attrModelVersion = "ml.model.version"
	attrFeatureName  = "ml.feature.name"
	attrFeatureRole  = "ml.feature.role"
	attrCategory     = "ml.feature.category"
	attrBaselineID   = "ml.baseline.id"
	attrCheck        = "ml.data_quality.check"

	// Written: the processor's output.
	metricScore        = "ml.drift.score"
	metricThreshold    = "ml.drift.threshold"
	metricDetected     = "ml.drift.detected"
	metricSampleCount  = "ml.drift.sample_count"
	metricDatasetDrift = "ml.drift.dataset.detected"
	metricDatasetShare = "ml.drift.dataset.share"
	metricQualityRate  = "ml.data_quality.rate"
	attrMethod         = "ml.drift.method"
	attrScore          = "ml.drift.score"
	attrThreshold      = "ml.drift.threshold"
	attrWindow         = "ml.drift.window"
	attrSampleCount    = "ml.drift.sample_count"
	attrReason         = "ml.drift.reason"
	// methodReferenceStability: without a baseline, the p-value of the frozen reference's
	// older half against its newer half.
	methodReferenceStability = "reference_stability_pvalue"
	eventDriftStarted        = "ml.drift.started"
	eventDriftEnded          = "ml.drift.ended"
	checkNull                = "null"
	checkOutOfRange          = "out_of_range"
	checkUnseenCategory      = "unseen_category"
	checkTypeMismatch        = "type_mismatch"
	roleInput                = "input"
	roleOutput               = "output"
	defaultModelVersion      = "unknown"

	// projectionFeaturePrefix starts the reserved input feature names __projection_<k>__ of
	// a baseline's multivariate projections (docs/drift-math.md section 8).
	projectionFeaturePrefix = "__projection_"
	// The model-level multivariate verdict: a gauge, and ml.drift.started/ended records
	// with ml.drift.scope = multivariate.
	metricMultivariate = "ml.drift.multivariate.detected"
	attrScope          = "ml.drift.scope"
	scopeMultivariate  = "multivariate"
)
