"""Every metric, attribute and log-event name the SDK writes, defined once.

The Go processor's ``semconv.go`` holds the names it reads and writes; the constants shared
with it carry the same values here (a test compares the two files). Every name is
registered in docs/semantic-conventions.md.
"""

from __future__ import annotations

from typing import Final

# -- shared with src/mldriftprocessor/semconv.go -------------------------------------------
METRIC_FEATURE_VALUE: Final = "ml.feature.value"
METRIC_CATEGORY_COUNT: Final = "ml.feature.category.count"
METRIC_MISSING: Final = "ml.feature.missing"
METRIC_BASELINE_VALUE: Final = "ml.baseline.feature.value"
METRIC_BASELINE_CATEGORIES: Final = "ml.baseline.feature.category.count"
METRIC_BASELINE_MISSING: Final = "ml.baseline.feature.missing"
METRIC_VIOLATIONS: Final = "ml.data_quality.violations"

ATTR_MODEL_NAME: Final = "ml.model.name"
ATTR_MODEL_VERSION: Final = "ml.model.version"
ATTR_FEATURE_NAME: Final = "ml.feature.name"
ATTR_FEATURE_ROLE: Final = "ml.feature.role"
ATTR_CATEGORY: Final = "ml.feature.category"
ATTR_BASELINE_ID: Final = "ml.baseline.id"
ATTR_CHECK: Final = "ml.data_quality.check"

CHECK_NULL: Final = "null"
CHECK_OUT_OF_RANGE: Final = "out_of_range"
CHECK_UNSEEN_CATEGORY: Final = "unseen_category"
CHECK_TYPE_MISMATCH: Final = "type_mismatch"
ROLE_INPUT: Final = "input"
ROLE_OUTPUT: Final = "output"
DEFAULT_MODEL_VERSION: Final = "unknown"
#: Input features named ``__projection_<i>__`` are a baseline's multivariate projections.
PROJECTION_FEATURE_PREFIX: Final = "__projection_"

# -- written by the SDK only -----------------------------------------------------------------
METRIC_DURATION: Final = "ml.prediction.duration"
METRIC_ROWS: Final = "ml.prediction.rows"
METRIC_UNSUPPORTED: Final = "ml.input.unsupported"
METRIC_REJECTED: Final = "ml.input.rejected"
METRIC_SDK_ERRORS: Final = "ml.sdk.errors"
METRIC_SKETCH_OVERFLOW: Final = "ml.sketch.overflow"
METRIC_SKETCH_DROPPED: Final = "ml.sketch.dropped"
METRIC_SDK_DROPPED: Final = "ml.sdk.dropped"
METRIC_SDK_OVERFLOW: Final = "ml.sdk.overflow"

ATTR_PREDICTION_ID: Final = "ml.prediction.id"
ATTR_INPUT_ROWS: Final = "ml.input.rows"
ATTR_INPUT_FEATURES: Final = "ml.input.features"
ATTR_INPUT_TYPE: Final = "ml.input.type"
ATTR_INPUT_RAW: Final = "ml.input.raw"
ATTR_OUTPUT_ROWS: Final = "ml.output.rows"
ATTR_OUTPUT_RAW: Final = "ml.output.raw"
ATTR_OUTPUT_MEAN: Final = "ml.output.value.mean"
ATTR_OUTLIER_ROWS: Final = "ml.data_quality.outlier_rows"
ATTR_MODEL_METHOD: Final = "ml.model.method"
ATTR_MODEL_LIBRARY: Final = "ml.model.library"
ATTR_LIBRARY_VERSIONS: Final = "ml.library.versions"
ATTR_OVERFLOW_KIND: Final = "ml.overflow.kind"
ATTR_SDK_SIGNAL: Final = "ml.sdk.signal"
ATTR_SDK_DROP_REASON: Final = "ml.sdk.drop.reason"
#: The model name and version every metric series beyond ``MODELTEL_MAX_MODELS`` is folded into.
OVERFLOW_MODEL: Final = "__overflow__"
ATTR_SDK_ERROR_SITE: Final = "ml.sdk.error.site"

EVENT_PREDICTION: Final = "ml.prediction"

# -- shared with src/mlperformanceconnector/semconv.go (outcomes; tests/outcomes compares) ----
EVENT_OUTCOME_PREDICTED: Final = "ml.outcome.predicted"
EVENT_OUTCOME_OBSERVED: Final = "ml.outcome.observed"
ATTR_OUTCOME_KEYS: Final = "ml.outcome.keys"
ATTR_PREDICTION_CLASSES: Final = "ml.prediction.classes"
ATTR_PREDICTION_SCORES: Final = "ml.prediction.scores"
ATTR_PREDICTION_VALUES: Final = "ml.prediction.values"
ATTR_PREDICTION_PROBABILITIES: Final = "ml.prediction.probabilities"
ATTR_PREDICTION_PROBABILITY_CLASSES: Final = "ml.prediction.probability_classes"
ATTR_OUTCOME_SEGMENTS: Final = "ml.outcome.segments"
ATTR_OUTCOME_POSITIVE_CLASS: Final = "ml.outcome.positive_class"
ATTR_OUTCOME_LABELS: Final = "ml.outcome.labels"
ATTR_OUTCOME_VALUES: Final = "ml.outcome.values"
ATTR_REFERENCE_ACCURACY: Final = "ml.performance.reference.accuracy"
ATTR_REFERENCE_MAE: Final = "ml.performance.reference.mae"
ATTR_REFERENCE_SOURCE: Final = "ml.performance.reference.source"
REFERENCE_SOURCE_BASELINE: Final = "baseline"
ATTR_CALIBRATION_SCORES: Final = "ml.performance.calibration.scores"
ATTR_CALIBRATION_PROBABILITIES: Final = "ml.performance.calibration.probabilities"
ATTR_REFERENCE_LABELS: Final = "ml.performance.reference.labels"
ATTR_REFERENCE_LABEL_COUNTS: Final = "ml.performance.reference.label_counts"
ATTR_OUTCOME_PARTITION: Final = "ml.outcome.partition"

# -- OpenTelemetry's own -----------------------------------------------------------------------
ATTR_ERROR_TYPE: Final = "error.type"
ATTR_HTTP_ROUTE: Final = "http.route"
ATTR_SERVICE_NAME: Final = "service.name"
