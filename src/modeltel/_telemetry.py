"""The handles modeltel emits through: tracer, instruments, log sinks, sketch store.

Instrumented code uses only the OpenTelemetry API. By default the handles come from the
global providers (API proxies, so a provider set up later by ``configure()`` or by the
application is picked up). ``modeltel.testing`` swaps in handles built from in-memory
providers for the duration of a test and restores the previous ones afterwards, so no
global OpenTelemetry state is left behind.
"""

from __future__ import annotations

import importlib.metadata
import logging
import threading
import weakref
from dataclasses import dataclass, field
from typing import Any, Callable

import structlog
from opentelemetry import _logs, metrics, trace

from modeltel import _registry
from modeltel import _semconv as sc
from modeltel._config import Config, ConfigError

__all__ = [
    "SCOPE",
    "VERSION",
    "Telemetry",
    "contained",
    "current",
    "default_config",
    "error_type",
    "is_real_provider",
    "count_model_overflow",
    "metric_attributes",
    "model_attributes",
    "report_internal_error",
    "set_default_config",
    "swap",
]


def _package_version() -> str:
    try:
        return importlib.metadata.version("modeltel")
    except importlib.metadata.PackageNotFoundError:  # run from a source tree, not installed
        return "0.0.0"


#: The instrumentation scope of everything modeltel emits, and the package's version (read
#: from the installed distribution's metadata, the one place it is defined: pyproject.toml).
SCOPE = "modeltel"
VERSION = _package_version()

#: Upper-inclusive bucket bounds of ``ml.prediction.duration`` (seconds, ``(b[i-1], b[i]]``
#: as in OpenTelemetry): from sub-millisecond tabular models to slow LLM calls. The store
#: (``_sketch.Durations``) and the SDK histogram (no sketch exporter) both bin on them.
DURATION_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075,
    0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
)

internal_log = logging.getLogger("modeltel")

#: The counters of :class:`Telemetry`, by field: metric name, unit, description (created in :func:`build`).
_COUNTERS: dict[str, tuple[str, str, str]] = {
    "unsupported": (sc.METRIC_UNSUPPORTED, "{input}", "Model inputs modeltel could not summarise; the prediction went on."),
    "internal_errors": (sc.METRIC_SDK_ERRORS, "{error}", "Errors inside modeltel that were contained (fail-open)."),
    "overflow": (sc.METRIC_SDK_OVERFLOW, "{item}", "Metric series not created because a cap was hit (kind model: beyond MODELTEL_MAX_MODELS)."),
    "quality": (sc.METRIC_VIOLATIONS, "{value}", "Input and output values that broke a check against the model's baseline."),
}


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
    #: ``ml.sdk.overflow``: predictions whose metric series went to the overflow model.
    overflow: metrics.Counter
    otel_logger: _logs.Logger
    #: True when OpenTelemetry log records should be emitted (a real logger provider exists).
    otel_logs_enabled: Callable[[], bool]
    #: The JSON log sink: ``json_log(level, event, fields, rendered)`` (see ``_logging.JsonLog``).
    json_log: Callable[[str, str, dict[str, Any], "str | None"], None]
    store: Any
    #: True: every logged prediction also goes to ``json_log`` (``modeltel.testing``);
    #: None: by the configuration (see :meth:`console_log`).
    json_always: bool | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def console_log(self, otel_logs: bool) -> bool:
        """Whether a logged prediction also goes to the JSON sink (one path per destination):
        when asked (``MODELTEL_LOG_CONSOLE=true``/``false`` decides); else when the
        application configured structlog (its own log pipeline is a destination of its
        own); else only when no OpenTelemetry log pipeline takes the record, the exporter
        is not ``none`` and something is set up at all: with nothing configured (no
        ``configure()``, no OpenTelemetry SDK, as in a notebook or a script) modeltel stays
        quiet and says once where telemetry goes instead of printing a line per call."""
        if self.json_always is not None:
            return self.json_always
        config = default_config()
        if config.log_console is not None:
            return config.log_console
        if structlog.is_configured():
            return True
        if otel_logs or config.resolved_exporter() == "none":
            return False
        if not _anything_configured():
            _say_once_where_telemetry_goes()
            return False
        return True


class RowTotals:
    """Cumulative rows per model and version, observed by ``ml.prediction.rows``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._totals: dict[tuple[str, str], int] = {}
        _ROW_TOTALS.add(self)

    def add(self, rows: int, model: str, version: str) -> None:
        attributes = metric_attributes(model, version)  # bounded: the overflow pair beyond the cap
        key = (attributes[sc.ATTR_MODEL_NAME], attributes[sc.ATTR_MODEL_VERSION])
        with self._lock:
            self._totals[key] = self._totals.get(key, 0) + rows

    def observe(self, options: Any = None) -> list[metrics.Observation]:
        with self._lock:
            items = list(self._totals.items())
        return [
            metrics.Observation(total, model_attributes(model, version))
            for (model, version), total in items
        ]

    def reset(self) -> None:
        with self._lock:
            self._totals.clear()


# A forked worker starts counting from zero: its parent's rows are the parent's.
_ROW_TOTALS: "weakref.WeakSet[RowTotals]" = weakref.WeakSet()


def _reset_row_totals() -> None:
    for totals in list(_ROW_TOTALS):
        totals.reset()


_registry.register("telemetry.rows", fork=_reset_row_totals)

_PLACEHOLDER_PROVIDERS = frozenset(
    {
        "ProxyTracerProvider",
        "NoOpTracerProvider",
        "_ProxyMeterProvider",
        "NoOpMeterProvider",
        "ProxyLoggerProvider",
        "NoOpLoggerProvider",
    }
)


def is_real_provider(provider: Any) -> bool:
    """False for the API's placeholders (proxy and no-op providers) until an application
    or ``configure()`` installs a real (SDK) provider; read by type name so that this stays
    on the API."""
    return type(provider).__name__ not in _PLACEHOLDER_PROVIDERS


def _global_logs_enabled() -> bool:
    return is_real_provider(_logs.get_logger_provider())


def _anything_configured() -> bool:
    """True once ``configure()`` or the application installed any OpenTelemetry SDK provider."""
    return (
        is_real_provider(trace.get_tracer_provider())
        or is_real_provider(metrics.get_meter_provider())
        or is_real_provider(_logs.get_logger_provider())
    )


_QUIET_NOTICE = (
    "modeltel: nothing is configured, so monitored predictions are not exported or printed; "
    "call modeltel.configure() to export them (OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set, "
    "else JSON lines to stdout), set MODELTEL_LOG_CONSOLE=true to print each prediction's "
    "record, or use modeltel.testing.capture() to look at what would be sent"
)
_notices: set[str] = set()


def _say_once_where_telemetry_goes() -> None:
    if "quiet" not in _notices:
        _notices.add("quiet")
        internal_log.warning(_QUIET_NOTICE)


_model_attributes: dict[tuple[str, str], dict[str, str]] = {}
_MAX_MODELS = 10_000


def model_attributes(model: str, version: str) -> dict[str, str]:
    """``{ml.model.name, ml.model.version}``, one shared dict per model (do not mutate)."""
    key = (model, version)
    attributes = _model_attributes.get(key)
    if attributes is None:
        attributes = {sc.ATTR_MODEL_NAME: model, sc.ATTR_MODEL_VERSION: version}
        if len(_model_attributes) < _MAX_MODELS:  # bounded: model names come from code, not data
            _model_attributes[key] = attributes
    return attributes


_metric_models: dict[tuple[str, str], dict[str, str]] = {}
_metric_lock = threading.Lock()
_OVERFLOW_ATTRIBUTES = {sc.ATTR_MODEL_NAME: sc.OVERFLOW_MODEL, sc.ATTR_MODEL_VERSION: sc.OVERFLOW_MODEL}


def metric_attributes(model: str, version: str) -> dict[str, str]:
    """``{ml.model.name, ml.model.version}`` for a metric series, capped (do not mutate).

    The first ``MODELTEL_MAX_MODELS`` pairs get series of their own; every later pair is
    folded into ``__overflow__`` (OpenTelemetry's overflow pattern; each such prediction is
    counted in ``ml.sdk.overflow``). A dict lookup on the hot path once a pair is known.
    """
    key = (model, version)
    attributes = _metric_models.get(key)
    if attributes is not None:
        return attributes
    with _metric_lock:
        attributes = _metric_models.get(key)
        if attributes is None:
            if len(_metric_models) >= default_config().max_models:
                attributes = _OVERFLOW_ATTRIBUTES
            else:
                attributes = _metric_models[key] = {sc.ATTR_MODEL_NAME: model, sc.ATTR_MODEL_VERSION: version}
    return attributes


def count_model_overflow(telemetry: "Telemetry", attributes: dict[str, str]) -> None:
    """One prediction recorded under the overflow model: counted in ``ml.sdk.overflow``."""
    if attributes is _OVERFLOW_ATTRIBUTES:
        telemetry.overflow.add(1, _MODEL_OVERFLOW)


_MODEL_OVERFLOW = {sc.ATTR_OVERFLOW_KIND: "model"}


def use_vocabulary(telemetry: "Telemetry", model: str, version: str, labels: frozenset[str]) -> None:
    """Hand the model's output labels to the store once per model+version."""
    seen: dict[tuple[str, str], frozenset[str]] = telemetry.extra.setdefault("vocabularies", {})
    key = (model, version)
    if seen.get(key) is not labels:
        telemetry.store.set_vocabulary(model, version, labels)
        seen[key] = labels


def use_baseline(telemetry: "Telemetry", model: str, version: str, baseline: Any) -> None:
    """Hand the baseline to the store once per model+version (explicit buckets, in-band)."""
    seen: set[tuple[str, str, str]] = telemetry.extra.setdefault("baselines", set())
    key = (model, version, baseline.id)
    if key not in seen:
        config = default_config()
        secret = config.hash_key
        telemetry.store.set_baseline(model, version, baseline, secret, int(config.min_aggregate_count))
        seen.add(key)
        tables = (getattr(baseline, "features", None) or {}, getattr(baseline, "predictions", None) or {})
        foreign = [str(name) for table in tables for name, fb in table.items()
                   if getattr(fb, "tail_counts", None) and not fb.tail_usable(secret)]
        if foreign:
            internal_log.warning(
                "modeltel: baseline %s hashed the rare labels of %s with another MODELTEL_HASH_KEY: "
                "they are compared as one __other__ cell (build the baseline with the key production uses)",
                baseline.id, ", ".join(sorted(foreign)[:5]),
            )
        if (baseline.model, baseline.version) != (model, version):
            internal_log.warning(
                "modeltel: baseline %s was made for %s %s but monitors %s %s",
                baseline.id, baseline.model, baseline.version, model, version,
            )


def build(
    *,
    tracer_provider: Any = None,
    meter_provider: Any = None,
    logger_provider: Any = None,
    json_log: Callable[[str, str, dict[str, Any], "str | None"], None] | None = None,
    store: Any = None,
    json_always: bool | None = None,
) -> Telemetry:
    """Handles from the given providers, or from the global (API proxy) ones."""
    from modeltel import _logging
    from modeltel._sketch import STORE

    tracer = (
        tracer_provider.get_tracer(SCOPE, VERSION)
        if tracer_provider is not None
        else trace.get_tracer(SCOPE, VERSION)
    )
    meter = (
        meter_provider.get_meter(SCOPE, VERSION)
        if meter_provider is not None
        else metrics.get_meter(SCOPE, VERSION)
    )
    if logger_provider is not None:
        otel_logger = logger_provider.get_logger(SCOPE, VERSION)
        logs_enabled: Callable[[], bool] = lambda: True  # noqa: E731 - a provider was given
    else:
        otel_logger = _logs.get_logger(SCOPE, VERSION)
        logs_enabled = _global_logs_enabled
    rows = RowTotals()
    meter.create_observable_counter(
        sc.METRIC_ROWS,
        callbacks=[rows.observe],
        unit="{row}",
        description="Rows predicted.",
    )
    duration = meter.create_histogram(
        sc.METRIC_DURATION,
        unit="s",
        description="Duration of model predictions.",
        explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
    )
    counters: dict[str, Any] = {
        name: meter.create_counter(metric, unit=unit, description=description)
        for name, (metric, unit, description) in _COUNTERS.items()
    }
    return Telemetry(
        tracer=tracer,
        meter=meter,
        duration=duration,
        rows=rows,
        **counters,
        otel_logger=otel_logger,
        otel_logs_enabled=logs_enabled,
        json_log=json_log or _logging.default_json_log(),
        store=store if store is not None else STORE,
        json_always=json_always,
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
    """The process-wide configuration: environment variables, then ``configure()`` arguments.

    Never raises: an invalid environment variable is logged once (as an error, with its
    name) and left at its default; the result is cached, so a prediction never parses it
    again.
    """
    global _config
    config = _config
    if config is None:
        errors: list[ConfigError] = []
        config = Config.from_env(errors=errors)
        for error in errors:
            internal_log.error("modeltel: %s; using the default instead", error)
        _config = config
    return config


def set_default_config(config: Config | None) -> Config | None:
    global _config
    previous, _config = _config, config
    return previous


_reported: set[str] = set()


class contained:
    """The one containment guard (fail-open): ``with contained("site"):`` swallows an
    ``Exception`` raised inside, counts it (``ml.sdk.errors`` by ``ml.sdk.error.site``) and
    logs it once per site. Each place has a site name of its own (a test checks they are
    unique), so a count says where it happened."""

    __slots__ = ("site",)

    def __init__(self, site: str) -> None:
        self.site = site

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> bool:
        if exc is None or not isinstance(exc, Exception):
            return False
        report_internal_error(self.site, exc)
        return True


def report_internal_error(where: str, exc: BaseException) -> None:
    """Count a contained modeltel error; log it once per place, never raise."""
    try:
        current().internal_errors.add(
            1, {sc.ATTR_SDK_ERROR_SITE: where, sc.ATTR_ERROR_TYPE: error_type(exc)}
        )
        if where not in _reported:
            _reported.add(where)
            from modeltel._privacy import describe_exception

            # Type and frames only unless opted in: the text may quote a user object.
            internal_log.warning(
                "modeltel: contained an internal error in %s (the prediction went on): %s",
                where,
                describe_exception(exc, default_config()),
            )
    except Exception:  # noqa: BLE001 - the error reporter itself must never raise
        pass


def error_type(exc: BaseException) -> str:
    """The ``error.type`` of an exception: its qualified name (module for non-builtins)."""
    from modeltel._identity import type_name

    return type_name(exc)


def _reset() -> None:
    _reported.clear()
    _notices.clear()
    _model_attributes.clear()
    _metric_models.clear()


_registry.register("telemetry", reset=_reset)
