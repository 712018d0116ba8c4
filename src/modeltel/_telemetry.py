"""The handles modeltel emits through: tracer, instruments, log sinks, sketch store.

Instrumented code uses only the OpenTelemetry API. By default the handles come from the
global providers (API proxies, so a provider set up later by ``configure()`` or by the
application is picked up). ``modeltel.testing`` swaps in handles built from in-memory
providers for the duration of a test and restores the previous ones afterwards, so no
global OpenTelemetry state is left behind.
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from dataclasses import dataclass, field
from typing import Any, Callable

from opentelemetry import metrics, trace
from opentelemetry import _logs

from modeltel._config import Config

__all__ = ["Telemetry", "current", "swap", "default_config", "set_default_config", "report_internal_error"]

_SCOPE = "modeltel"
_VERSION = "0.1.0"

# Buckets fit for inference latencies, from sub-millisecond tabular models to slow LLM calls.
DURATION_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075,
    0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
)

_internal_log = logging.getLogger("modeltel")


@dataclass
class Telemetry:
    """Everything a prediction emits through; one immutable-ish bundle, swapped as a whole."""

    tracer: trace.Tracer
    #: The meter the instruments below come from (integrations create theirs from it too).
    meter: metrics.Meter
    duration: metrics.Histogram
    #: Rows per (model, version), read by the ``ml.prediction.rows`` observable counter: the
    #: hot path adds to a dict instead of making one more metrics API call per prediction.
    rows: "RowTotals"
    unsupported: metrics.Counter
    internal_errors: metrics.Counter
    quality: metrics.Counter
    otel_logger: _logs.Logger
    #: True when OpenTelemetry log records should be emitted (a real logger provider exists).
    otel_logs_enabled: Callable[[], bool]
    #: The JSON log sink: ``json_log(level, event, fields, rendered)`` (see ``_logging.JsonLog``).
    json_log: Callable[[str, str, dict[str, Any], "str | None"], None]
    store: Any
    extra: dict[str, Any] = field(default_factory=dict)


class RowTotals:
    """Cumulative rows per model and version, observed by ``ml.prediction.rows``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._totals: dict[tuple[str, str], int] = {}
        _ROW_TOTALS.add(self)

    def add(self, rows: int, model: str, version: str) -> None:
        key = (model, version)
        with self._lock:
            self._totals[key] = self._totals.get(key, 0) + rows

    def observe(self, options: Any = None) -> list[metrics.Observation]:
        with self._lock:
            items = list(self._totals.items())
        return [
            metrics.Observation(total, {"ml.model.name": model, "ml.model.version": version})
            for (model, version), total in items
        ]

    def reset(self) -> None:
        with self._lock:
            self._totals.clear()


# A forked worker starts counting from zero: its parent's rows are the parent's.
_ROW_TOTALS: "weakref.WeakSet[RowTotals]" = weakref.WeakSet()
os.register_at_fork(after_in_child=lambda: [totals.reset() for totals in list(_ROW_TOTALS)])


def _real_logger_provider(provider: Any) -> bool:
    from opentelemetry._logs._internal import NoOpLoggerProvider, ProxyLoggerProvider

    return not isinstance(provider, (NoOpLoggerProvider, ProxyLoggerProvider))


def _global_logs_enabled() -> bool:
    return _real_logger_provider(_logs.get_logger_provider())


def build(
    *,
    tracer_provider: Any = None,
    meter_provider: Any = None,
    logger_provider: Any = None,
    json_log: Callable[[str, str, dict[str, Any], "str | None"], None] | None = None,
    store: Any = None,
) -> Telemetry:
    """Handles from the given providers, or from the global (API proxy) ones."""
    from modeltel import _logging
    from modeltel._sketch import STORE

    tracer = (
        tracer_provider.get_tracer(_SCOPE, _VERSION)
        if tracer_provider is not None
        else trace.get_tracer(_SCOPE, _VERSION)
    )
    meter = (
        meter_provider.get_meter(_SCOPE, _VERSION)
        if meter_provider is not None
        else metrics.get_meter(_SCOPE, _VERSION)
    )
    if logger_provider is not None:
        otel_logger = logger_provider.get_logger(_SCOPE, _VERSION)
        logs_enabled: Callable[[], bool] = lambda: True  # noqa: E731 - a provider was given
    else:
        otel_logger = _logs.get_logger(_SCOPE, _VERSION)
        logs_enabled = _global_logs_enabled
    rows = RowTotals()
    meter.create_observable_counter(
        "ml.prediction.rows",
        callbacks=[rows.observe],
        unit="{row}",
        description="Rows predicted.",
    )
    return Telemetry(
        tracer=tracer,
        meter=meter,
        duration=meter.create_histogram(
            "ml.prediction.duration",
            unit="s",
            description="Duration of model predictions.",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        ),
        rows=rows,
        unsupported=meter.create_counter(
            "ml.input.unsupported",
            unit="{input}",
            description="Model inputs modeltel could not summarise; the prediction went on.",
        ),
        internal_errors=meter.create_counter(
            "ml.sdk.errors",
            unit="{error}",
            description="Errors inside modeltel that were contained (fail-open).",
        ),
        quality=meter.create_counter(
            "ml.data_quality.violations",
            unit="{value}",
            description="Input and output values that broke a check against the model's baseline.",
        ),
        otel_logger=otel_logger,
        otel_logs_enabled=logs_enabled,
        json_log=json_log or _logging.default_json_log(),
        store=store if store is not None else STORE,
    )


_lock = threading.Lock()
_current: Telemetry | None = None
_config: Config | None = None


def current() -> Telemetry:
    """The active handles, built from the global providers on first use."""
    global _current
    telemetry = _current
    if telemetry is None:
        with _lock:
            if _current is None:
                _current = build()
            telemetry = _current
    return telemetry


def swap(telemetry: Telemetry | None) -> Telemetry | None:
    """Install ``telemetry`` (``None``: rebuild from globals on next use); returns the old one."""
    global _current
    with _lock:
        previous, _current = _current, telemetry
    return previous


def default_config() -> Config:
    """The process-wide configuration: environment variables, then ``configure()`` arguments."""
    global _config
    config = _config
    if config is None:
        config = _config = Config.from_env()
    return config


def set_default_config(config: Config | None) -> Config | None:
    global _config
    previous, _config = _config, config
    return previous


_reported: set[str] = set()


def report_internal_error(where: str, exc: BaseException) -> None:
    """Count a contained modeltel error; log it once per place, never raise."""
    try:
        current().internal_errors.add(1, {"ml.sdk.error.site": where, "error.type": _qualname(exc)})
        if where not in _reported:
            _reported.add(where)
            from modeltel._privacy import describe_exception

            # Type and frames only unless opted in: the text may quote a user object.
            _internal_log.warning(
                "modeltel: contained an internal error in %s (the prediction went on): %s",
                where,
                describe_exception(exc, default_config()),
            )
    except Exception:  # noqa: BLE001 - the error reporter itself must never raise
        pass


def _qualname(exc: BaseException) -> str:
    cls = type(exc)
    module = cls.__module__
    return cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"


error_type = _qualname
