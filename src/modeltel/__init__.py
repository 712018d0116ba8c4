"""modeltel: OpenTelemetry instrumentation for model inference.

One decorator on a predict function gives every prediction a trace span, metrics and a
structured JSON log record; distributions of inputs and outputs leave the process as OTLP
histograms for drift and data-quality checks in the collector.

    import modeltel

    @modeltel.monitor(model="fraud", version="3.1.0")
    def predict(X):
        return clf.predict_proba(X)[:, 1]
"""

from modeltel._baseline import Baseline, BaselineError, FeatureBaseline
from modeltel._config import Config, ConfigError
from modeltel._drift import DriftConfig
from modeltel._monitor import Prediction, current_prediction, monitor, observe
from modeltel._outcome_metrics import PerformanceReport, performance_report
from modeltel._outcomes import record_outcome, record_outcomes
from modeltel._report import DriftReport, drift_report
from modeltel._sdk import configure, force_flush, shutdown
from modeltel._telemetry import VERSION as _VERSION
from modeltel.instrumentation import (
    instrument_fastapi,
    instrument_flask,
    uninstrument_fastapi,
    uninstrument_flask,
)

__version__ = _VERSION

__all__ = [
    "Baseline",
    "BaselineError",
    "Config",
    "ConfigError",
    "DriftConfig",
    "DriftReport",
    "FeatureBaseline",
    "PerformanceReport",
    "Prediction",
    "configure",
    "current_prediction",
    "drift_report",
    "force_flush",
    "instrument_fastapi",
    "instrument_flask",
    "monitor",
    "observe",
    "performance_report",
    "record_outcome",
    "record_outcomes",
    "shutdown",
    "uninstrument_fastapi",
    "uninstrument_flask",
]
