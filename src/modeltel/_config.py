"""Configuration: one frozen dataclass, every ``MODELTEL_*`` environment variable read here.

Precedence: explicit arguments win over environment variables, environment variables over
the defaults documented on each field.
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, TypeVar

__all__ = ["Config", "ConfigError"]


N = TypeVar("N", int, float)


class ConfigError(ValueError):
    """A configuration value (argument or environment variable) is invalid."""


def _parse_bool(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off", ""}:
        return False
    raise ConfigError(f"{name}={raw!r}: expected true/false")


def _number(convert: Callable[[str], N], accept: Callable[[N], bool], expected: str) -> Callable[[str, str], N]:
    """A parser of a number that ``accept`` admits; anything else is a ConfigError naming the variable."""

    def parse(name: str, raw: str) -> N:
        try:
            value = convert(raw)
        except ValueError:
            raise ConfigError(f"{name}={raw!r}: expected {expected}") from None
        if not accept(value):  # NaN fails every comparison, so it is never accepted
            raise ConfigError(f"{name}={raw!r}: expected {expected}")
        return value

    return parse


_parse_rate = _number(float, lambda v: 0.0 <= v <= 1.0, "a number between 0 and 1")
_parse_positive_int = _number(int, lambda v: v > 0, "a positive integer")
_parse_positive_float = _number(float, lambda v: v > 0 and not math.isinf(v), "a positive number")


def _parse_list(name: str, raw: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def _parse_exporter(name: str, raw: str) -> str:
    value = raw.strip().lower()
    if value not in {"otlp", "console", "none"}:
        raise ConfigError(f"{name}={raw!r}: expected one of otlp, console, none")
    return value


def _parse_str(name: str, raw: str) -> str | None:
    return raw.strip() or None


def _env(env_var: str, parse: Any, default: Any) -> Any:
    """Field metadata: which env var sets it and how it is parsed."""
    return field(default=default, metadata={"env": env_var, "parse": parse})


@dataclass(frozen=True, slots=True)
class Config:
    """Everything modeltel can be told, with its environment variable and default.

    Build it with :meth:`Config.from_env`, which applies environment variables and then the
    explicit overrides. Unknown or invalid values raise :class:`ConfigError` with the name
    of the setting, so a typo is a clear error, not a silent default.
    """

    #: ``MODELTEL_ENABLED`` (default true; false also when ``OTEL_SDK_DISABLED=true``): false
    #: turns every decorator, route and hook into a pass-through that builds nothing.
    enabled: bool = _env("MODELTEL_ENABLED", _parse_bool, True)
    #: ``MODELTEL_MODEL_NAME``: the model name when neither ``model=`` nor the model object says.
    model_name: str | None = _env("MODELTEL_MODEL_NAME", _parse_str, None)
    #: ``MODELTEL_MODEL_VERSION``: the model version when neither ``version=`` nor the model says.
    model_version: str | None = _env("MODELTEL_MODEL_VERSION", _parse_str, None)
    #: ``MODELTEL_EXPORTER`` (default: ``otlp`` when ``OTEL_EXPORTER_OTLP_ENDPOINT`` or a
    #: signal-specific endpoint is set, else ``console``): where ``configure()`` sends telemetry.
    exporter: str | None = _env("MODELTEL_EXPORTER", _parse_exporter, None)
    #: ``MODELTEL_CONSOLE_PATH`` (default stdout): a file for the console exporter's JSON lines.
    console_path: str | None = _env("MODELTEL_CONSOLE_PATH", _parse_str, None)
    #: ``MODELTEL_LOG_SAMPLE_RATE``: share of successful predictions that get an
    #: ``ml.prediction`` log record; failed predictions and rejected inputs always do. Default
    #: (unset): 0 for a prediction whose span is sampled (the exported span is its record;
    #: its summaries are in the metrics), 1 when no tracing SDK is set up (the log record is
    #: the only per-prediction record). ``1`` logs every successful prediction (the earlier
    #: default).
    log_sample_rate: float | None = _env("MODELTEL_LOG_SAMPLE_RATE", _parse_rate, None)
    #: ``MODELTEL_BASELINE``: the path of a saved baseline for the models of the server routes
    #: and the ML-library hooks (zero-code) that are given none; it also names the model and
    #: version when nothing else does.
    baseline: str | None = _env("MODELTEL_BASELINE", _parse_str, None)
    #: ``MODELTEL_LOG_CONSOLE`` (default: only when no OpenTelemetry log pipeline is set up,
    #: the exporter is not ``none`` and something is configured; with nothing configured at
    #: all, one notice instead of a line per call): true also writes each logged prediction
    #: as a JSON line to stdout (or the application's structlog) beside its OpenTelemetry
    #: log record; false never does.
    log_console: bool | None = _env("MODELTEL_LOG_CONSOLE", _parse_bool, None)
    #: ``MODELTEL_CAPTURE_RAW`` (default false): opt-in to raw input/output payloads in logs.
    capture_raw: bool = _env("MODELTEL_CAPTURE_RAW", _parse_bool, False)
    #: ``MODELTEL_RAW_SAMPLE_RATE`` (default 0.01): share of predictions whose raw payload is
    #: logged when raw capture is on.
    raw_sample_rate: float = _env("MODELTEL_RAW_SAMPLE_RATE", _parse_rate, 0.01)
    #: ``MODELTEL_REDACT_FIELDS`` (comma-separated, default none): fields replaced by
    #: ``[REDACTED]`` in raw payloads.
    redact_fields: tuple[str, ...] = _env("MODELTEL_REDACT_FIELDS", _parse_list, ())
    #: ``MODELTEL_MAX_FEATURES`` (default 256): features tracked per model and role; the rest
    #: are counted as overflow.
    max_features: int = _env("MODELTEL_MAX_FEATURES", _parse_positive_int, 256)
    #: ``MODELTEL_MAX_CATEGORIES`` (default 32): categories tracked per feature; the rest go to
    #: ``__other__``.
    max_categories: int = _env("MODELTEL_MAX_CATEGORIES", _parse_positive_int, 32)
    #: ``MODELTEL_MAX_STRING_LENGTH`` (default 64): longer strings (names, categories) are cut.
    max_string_length: int = _env("MODELTEL_MAX_STRING_LENGTH", _parse_positive_int, 64)
    #: ``MODELTEL_MAX_HISTOGRAM_BUCKETS`` (default 160): buckets of each exponential histogram.
    max_histogram_buckets: int = _env("MODELTEL_MAX_HISTOGRAM_BUCKETS", _parse_positive_int, 160)
    #: ``MODELTEL_EXPORT_INTERVAL`` seconds (default 10): how often distributions are exported.
    export_interval: float = _env("MODELTEL_EXPORT_INTERVAL", _parse_positive_float, 10.0)
    #: ``MODELTEL_HASH_CATEGORIES`` (default true): category labels that are not in a
    #: baseline leave the process as short hashes, so raw strings never do unless opted out.
    hash_categories: bool = _env("MODELTEL_HASH_CATEGORIES", _parse_bool, True)
    #: ``MODELTEL_OUTCOME_PARTITIONS`` (default 1): joinable predictions and outcomes are split
    #: into one log record per ``crc32(key) % partitions``, tagged ``ml.outcome.partition``, so
    #: a gateway tier's loadbalancing exporter routes a key's prediction and outcome to the
    #: same collector (docs/outcomes.md). Every sender of a model must use the same value.
    outcome_partitions: int = _env("MODELTEL_OUTCOME_PARTITIONS", _parse_positive_int, 1)
    #: ``MODELTEL_HASH_KEY`` (default: a random key per process): the secret that keys the
    #: category and feature-name hashes (BLAKE2b). Give every replica of a deployment the same
    #: key so that their hashed labels match on the collector; without one, hashes differ
    #: between processes (and restarts) and cannot be reversed by trying candidate values.
    hash_key: str | None = _env("MODELTEL_HASH_KEY", _parse_str, None)
    #: ``MODELTEL_CAPTURE_ERROR_MESSAGES`` (default false): exception text (which often quotes
    #: the input) on spans and logs; by default only the exception type leaves the process.
    capture_error_messages: bool = _env("MODELTEL_CAPTURE_ERROR_MESSAGES", _parse_bool, False)
    #: ``MODELTEL_MIN_AGGREGATE_COUNT`` (default 10): a mean or histogram sum that covers fewer
    #: values than this is withheld (it would come too close to the values themselves), and
    #: such a histogram is coarsened to power-of-two buckets. Min and max are never sent.
    min_aggregate_count: int = _env("MODELTEL_MIN_AGGREGATE_COUNT", _parse_positive_int, 10)
    #: ``MODELTEL_MAX_MODELS`` (default 500): distinct model+version pairs with metric series
    #: of their own (duration, rows, quality, ...); predictions of any pair beyond it are
    #: recorded under ``ml.model.name = ml.model.version = "__overflow__"`` and counted in
    #: ``ml.sdk.overflow``, so a spike of model names cannot grow the SDK's aggregations (and
    #: every export) without bound. Spans and logs keep the real names.
    max_models: int = _env("MODELTEL_MAX_MODELS", _parse_positive_int, 500)
    #: ``MODELTEL_STREAM_TTL`` seconds (default 300): a model's distribution stream that
    #: nothing was recorded into for this long frees its slot (the store holds 256).
    stream_ttl: float = _env("MODELTEL_STREAM_TTL", _parse_positive_float, 300.0)
    #: ``MODELTEL_SHUTDOWN_TIMEOUT`` seconds (default 5): the longest ``shutdown()`` (and the
    #: exit hook) may take, whatever the collector does; what is left is dropped and logged.
    shutdown_timeout: float = _env("MODELTEL_SHUTDOWN_TIMEOUT", _parse_positive_float, 5.0)

    def __post_init__(self) -> None:
        # Explicit arguments get the same checks as environment variables.
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            parse = f.metadata["parse"]
            if parse is _parse_rate and not (isinstance(value, (int, float)) and 0.0 <= value <= 1.0):
                raise ConfigError(f"{f.name}={value!r}: expected a number between 0 and 1")
            if parse in (_parse_positive_int, _parse_positive_float) and not (
                isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0
            ):
                raise ConfigError(f"{f.name}={value!r}: expected a positive number")
            if parse is _parse_exporter and value not in {"otlp", "console", "none"}:
                raise ConfigError(f"{f.name}={value!r}: expected one of otlp, console, none")

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        errors: list[ConfigError] | None = None,
        **overrides: Any,
    ) -> "Config":
        """Defaults, then ``MODELTEL_*`` environment variables, then ``overrides``.

        An invalid environment variable raises :class:`ConfigError`; with ``errors`` given,
        it is appended there instead and the setting keeps its default (the prediction path
        uses this: a typo in the environment must not break a model server).
        """
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        names = {f.name for f in dataclasses.fields(cls)}
        for f in dataclasses.fields(cls):
            raw = environ.get(f.metadata["env"])
            if raw is not None:
                try:
                    values[f.name] = f.metadata["parse"](f.metadata["env"], raw)
                except ConfigError as error:
                    if errors is None:
                        raise
                    errors.append(error)
        if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
            values["enabled"] = False
        for key, value in overrides.items():
            if key not in names:
                raise ConfigError(f"unknown modeltel setting {key!r}")
            if value is not None:
                values[key] = value
        return cls(**values)

    def replace(self, **changes: Any) -> "Config":
        """A copy with ``changes`` applied (``None`` values are ignored)."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    def resolved_exporter(self, environ: Mapping[str, str] | None = None) -> str:
        """The exporter ``configure()`` uses: explicit, else OTLP if an endpoint is set."""
        if self.exporter is not None:
            return self.exporter
        environ = os.environ if environ is None else environ
        endpoint_vars = (
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
            "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
        )
        return "otlp" if any(environ.get(v) for v in endpoint_vars) else "console"
