"""``@monitor`` and ``observe()``: one :class:`Prediction` context per predict call.

Every modeltel step here is guarded: an exception inside modeltel is counted
(``ml.sdk.errors``) and logged once, and the prediction goes on. The user's own exception
is recorded on the span and re-raised unchanged; the user's return value is returned as
the very same object.
"""

from __future__ import annotations

import inspect
import os
import random
import time
from contextvars import ContextVar
from dataclasses import dataclass
from typing import (
    Any,
    AsyncIterator,
    Callable,
    Iterator,
    Mapping,
    Sequence,
    TypeVar,
    overload,
)

import wrapt
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry._logs import SeverityNumber
from opentelemetry.trace import SpanKind

from modeltel import _telemetry
from modeltel._columns import UnsupportedInput
from modeltel._logging import safe_json
from modeltel._quality import OUTLIER_ROWS_ATTRIBUTE, check_columns, outlier_rows
from modeltel._privacy import error_message, record_error
from modeltel._summary import FeatureNames, feature_names_option, summarize_input, summarize_output
from modeltel._telemetry import error_type, report_internal_error

__all__ = ["Prediction", "current_prediction", "monitor", "observe"]

F = TypeVar("F", bound=Callable[..., Any])

_MISSING: Any = object()
_CURRENT: ContextVar["Prediction | None"] = ContextVar("modeltel_prediction", default=None)

# Prediction ids: 128 random bits from a private generator, so that a user's
# random.seed() cannot make ids repeat; reseeded in a forked child (gunicorn workers).
_ids = random.Random()
_sampler = random.Random()
os.register_at_fork(after_in_child=lambda: (_ids.seed(), _sampler.seed()))

_MAX_RAW_CHARS = 4096
_SELF_NAMES = frozenset({"self", "cls"})


def new_prediction_id() -> str:
    """A unique, cheap prediction id: 32 lower-case hex characters."""
    return "%032x" % _ids.getrandbits(128)


def current_prediction() -> "Prediction | None":
    """The prediction in progress in this thread or task, or ``None``.

    Use its ``id`` to join ground truth later::

        @modeltel.monitor(model="fraud")
        def predict(X):
            store_for_labels(modeltel.current_prediction().id, X)
            return clf.predict(X)
    """
    return _CURRENT.get()


@dataclass(frozen=True, slots=True)
class _Options:
    """What one ``@monitor(...)`` or ``observe(...)`` was told."""

    model: str | None = None
    version: str | None = None
    input_arg: str | None = None
    #: Names for unnamed columns, a private-name mapping or "hash" (feature_names_option).
    feature_names: Any = None
    baseline: Any = None
    capture_raw: bool | None = None
    raw_sample_rate: float | None = None
    redact: tuple[str, ...] = ()
    log_sample_rate: float | None = None
    #: Flag rows beyond the baseline's 0.1%/99.9% tail edges on the span.
    flag_outliers: bool = False
    #: Name used when neither the options, the environment nor a model object name the model.
    fallback_name: str = "model"


class Prediction:
    """One prediction in progress: its id, model, version and span.

    Returned by ``observe()`` and ``modeltel.current_prediction()``. ``record_input``,
    ``record_output`` and ``set_attributes`` never raise (fail-open).
    """

    __slots__ = (
        "id",
        "model",
        "version",
        "_options",
        "_span",
        "_start",
        "_tokens",
        "_input",
        "_output",
        "_rows",
        "_output_rows",
        "_raw_input",
        "_raw_output",
        "_capture_raw",
        "_feature_names",
        "_ended",
    )

    def __init__(self, options: _Options, model: str, version: str) -> None:
        self.id = new_prediction_id()
        self.model = model
        self.version = version
        self._options = options
        self._span: trace.Span | None = None
        self._start = 0.0
        self._tokens: tuple[Any, Any] | None = None
        self._input: Any = None
        self._output: Any = None
        self._rows = 0
        self._output_rows = 0
        self._raw_input: Any = _MISSING
        self._raw_output: Any = _MISSING
        self._capture_raw = False
        self._feature_names = options.feature_names
        self._ended = False

    def __repr__(self) -> str:
        return f"Prediction(id={self.id!r}, model={self.model!r}, version={self.version!r})"

    @property
    def span(self) -> trace.Span:
        """The ``predict {model}`` span (a non-recording span when modeltel is disabled)."""
        return self._span if self._span is not None else trace.INVALID_SPAN

    def record_input(self, X: Any, *, feature_names: Sequence[str] | None = None) -> None:
        """Summarise ``X`` as the model input (rows, features, per-feature stats, sketches)."""
        if self._span is None or self._ended:
            return
        try:
            self._record_input(X, feature_names)
        except Exception as exc:  # noqa: BLE001 - fail-open
            report_internal_error("record_input", exc)

    def record_output(self, y: Any) -> None:
        """Summarise ``y`` as the model output; may be called once per streamed chunk."""
        if self._span is None or self._ended:
            return
        try:
            self._record_output(y)
        except Exception as exc:  # noqa: BLE001 - fail-open
            report_internal_error("record_output", exc)

    def set_attributes(self, attributes: Mapping[str, Any]) -> None:
        """Add attributes to the prediction's span."""
        if self._span is None or self._ended:
            return
        try:
            self._span.set_attributes(dict(attributes))
        except Exception as exc:  # noqa: BLE001 - fail-open
            report_internal_error("set_attributes", exc)

    # -- internals ---------------------------------------------------------------------

    def _record_input(self, X: Any, feature_names: Sequence[str] | None) -> None:
        summary = self._summarise_input(X, feature_names)
        if summary is not None:
            assert self._span is not None
            self._span.set_attributes(summary.span_attributes())
            self._store_input(summary)

    def _summarise_input(self, X: Any, feature_names: Sequence[str] | None) -> Any:
        """The input summary, or None for an input modeltel cannot summarise (counted)."""
        names = feature_names if feature_names is not None else self._feature_names
        if self._capture_raw:
            self._raw_input = X
        try:
            summary = summarize_input(X, feature_names=names, config=_telemetry.default_config())
        except UnsupportedInput:
            _telemetry.current().unsupported.add(
                1,
                {
                    "ml.model.name": self.model,
                    "ml.model.version": self.version,
                    "ml.input.type": _type_name(X),
                },
            )
            return None
        self._input = summary
        self._rows = summary.rows
        return summary

    def _store_input(self, summary: Any) -> None:
        telemetry = _telemetry.current()
        baseline = self._options.baseline
        if baseline is not None:
            _use_baseline(telemetry, self.model, self.version, baseline)
        telemetry.store.record(self.model, self.version, "input", summary)
        if baseline is not None:
            self._check_quality(telemetry, baseline, summary, "input")

    def _check_quality(self, telemetry: Any, baseline: Any, summary: Any, role: str) -> None:
        flag = self._options.flag_outliers and role == "input"
        for feature, check, count in check_columns(baseline, summary.columns, role=role, outliers=flag):
            telemetry.quality.add(
                count,
                {
                    "ml.model.name": self.model,
                    "ml.model.version": self.version,
                    "ml.feature.name": feature,
                    "ml.data_quality.check": check,
                },
            )
        if flag and self._span is not None:
            rows = int(outlier_rows(baseline, summary.columns, role=role).sum())
            self._span.set_attribute(OUTLIER_ROWS_ATTRIBUTE, rows)

    def _record_output(self, y: Any) -> None:
        telemetry = _telemetry.current()
        if self._capture_raw:
            self._raw_output = y if self._raw_output is _MISSING else _append(self._raw_output, y)
        try:
            summary = summarize_output(y, config=_telemetry.default_config())
        except UnsupportedInput:
            return
        self._output = summary
        self._output_rows += summary.rows
        telemetry.store.record(self.model, self.version, "output", summary)
        if self._options.baseline is not None:
            self._check_quality(telemetry, self._options.baseline, summary, "output")


def _use_baseline(telemetry: Any, model: str, version: str, baseline: Any) -> None:
    """Hand the baseline to the store once per model+version (explicit buckets, in-band)."""
    seen: set[tuple[str, str, str]] = telemetry.extra.setdefault("baselines", set())
    key = (model, version, baseline.id)
    if key not in seen:
        telemetry.store.set_baseline(model, version, baseline)
        seen.add(key)
        if (baseline.model, baseline.version) != (model, version):
            _telemetry._internal_log.warning(
                "modeltel: baseline %s was made for %s %s but monitors %s %s",
                baseline.id, baseline.model, baseline.version, model, version,
            )


def _load_baseline(baseline: Any) -> Any:
    """A Baseline object, or the one saved at a path; a bad file is logged, not raised.

    Monitoring goes on without a baseline (exponential histograms, no schema checks) so
    that a missing file cannot take a model server down; the error says which file and why.
    """
    if baseline is None or not isinstance(baseline, (str, os.PathLike)):
        return baseline
    from modeltel._baseline import Baseline

    try:
        return Baseline.load(baseline)
    except Exception as exc:  # noqa: BLE001 - fail-open, but loudly
        _telemetry._internal_log.error(
            "modeltel: cannot load baseline %s (%s); monitoring without it", baseline, exc
        )
        report_internal_error("load_baseline", exc)
        return None


def _append(previous: Any, item: Any) -> list[Any]:
    return (previous if isinstance(previous, list) else [previous]) + [item]


def _type_name(obj: Any) -> str:
    cls = type(obj)
    module = cls.__module__.split(".")[0]
    return cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"


def _resolve_identity(options: _Options, model_object: Any) -> tuple[str, str]:
    """Model name and version: explicit, then env vars, then the model object, then defaults."""
    config = _telemetry.default_config()
    name = options.model or config.model_name
    version = options.version or config.model_version
    if model_object is not None and (name is None or version is None):
        if name is None:
            name = _first_str_attr(model_object, ("model_name", "name")) or type(
                model_object
            ).__name__
        if version is None:
            version = _first_str_attr(model_object, ("model_version", "version", "__version__"))
    return name or options.fallback_name, version or "unknown"


def _first_str_attr(obj: Any, names: Sequence[str]) -> str | None:
    for attr in names:
        value = getattr(obj, attr, None)
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            text = str(value)
            if text:
                return text
    return None


_metric_attributes: dict[tuple[str, str], dict[str, str]] = {}


def _base_attributes(model: str, version: str) -> dict[str, str]:
    key = (model, version)
    attributes = _metric_attributes.get(key)
    if attributes is None:
        attributes = {"ml.model.name": model, "ml.model.version": version}
        if len(_metric_attributes) < 10_000:  # bounded: model names come from code, not data
            _metric_attributes[key] = attributes
    return attributes


def _begin(
    options: _Options, model_object: Any, X: Any = _MISSING, extra: Mapping[str, Any] | None = None
) -> Prediction:
    """Start a prediction: input summary, span, context, contextvar. Never raises.

    The input is summarised before the span starts so that its attributes, and ``extra``
    ones, go in with the span's own (one attribute-cleaning pass instead of one per
    ``set_attribute``).
    """
    config = _telemetry.default_config()
    try:
        model, version = _resolve_identity(options, model_object)
    except Exception as exc:  # noqa: BLE001 - a hostile model object must not break predict
        report_internal_error("resolve_identity", exc)
        model, version = options.model or options.fallback_name, options.version or "unknown"
    prediction = Prediction(options, model, version)
    if not config.enabled:
        return prediction
    try:
        telemetry = _telemetry.current()
        capture = options.capture_raw if options.capture_raw is not None else config.capture_raw
        if capture:
            rate = (
                options.raw_sample_rate
                if options.raw_sample_rate is not None
                else config.raw_sample_rate
            )
            prediction._capture_raw = _sampler.random() < rate
        attributes = {
            "ml.model.name": model,
            "ml.model.version": version,
            "ml.prediction.id": prediction.id,
        }
        summary = None
        if X is not _MISSING:
            try:
                summary = prediction._summarise_input(X, None)
            except Exception as exc:  # noqa: BLE001 - fail-open
                report_internal_error("record_input", exc)
            if summary is not None:
                attributes.update(summary.span_attributes())
        if extra:
            attributes.update(extra)
        span = telemetry.tracer.start_span(
            f"predict {model}", kind=SpanKind.INTERNAL, attributes=attributes
        )
        prediction._span = span
        if summary is not None:
            try:
                prediction._store_input(summary)
            except Exception as exc:  # noqa: BLE001 - fail-open
                report_internal_error("record_input", exc)
        prediction._tokens = (
            otel_context.attach(trace.set_span_in_context(span)),
            _CURRENT.set(prediction),
        )
        prediction._start = time.perf_counter()
    except Exception as exc:  # noqa: BLE001 - fail-open
        report_internal_error("begin", exc)
    return prediction


def _end(prediction: Prediction, error: BaseException | None = None) -> None:
    """Finish a prediction: metrics, log record, span end, context restored. Never raises."""
    span = prediction._span
    if span is None or prediction._ended:
        return
    prediction._ended = True
    try:
        duration = time.perf_counter() - prediction._start
        telemetry = _telemetry.current()
        attributes = _base_attributes(prediction.model, prediction.version)
        if prediction._output is not None:
            output_attributes = prediction._output.span_attributes()
            if prediction._output_rows != prediction._rows:  # e.g. streamed, or no input recorded
                output_attributes["ml.output.rows"] = prediction._output_rows
            if output_attributes:
                span.set_attributes(output_attributes)
        failed = error is not None and not isinstance(error, GeneratorExit)
        if failed:
            assert error is not None
            kind = record_error(span, error, _telemetry.default_config())
            telemetry.duration.record(duration, {**attributes, "error.type": kind})
        else:
            telemetry.duration.record(duration, attributes)
        if prediction._rows and not failed:  # rows predicted: a failed call predicted none
            telemetry.rows.add(prediction._rows, prediction.model, prediction.version)
        _log(prediction, telemetry, duration, error if failed else None)
    except Exception as exc:  # noqa: BLE001 - fail-open
        report_internal_error("end", exc)
    finally:
        try:
            span.end()
        except Exception as exc:  # noqa: BLE001
            report_internal_error("span_end", exc)
        _restore(prediction)


def _restore(prediction: Prediction) -> None:
    tokens, prediction._tokens = prediction._tokens, None
    if tokens is None:
        return
    try:
        _CURRENT.reset(tokens[1])
        otel_context.detach(tokens[0])
    except Exception as exc:  # noqa: BLE001 - e.g. a token from another context
        report_internal_error("restore_context", exc)


def _log(
    prediction: Prediction,
    telemetry: _telemetry.Telemetry,
    duration: float,
    error: BaseException | None,
) -> None:
    config = _telemetry.default_config()
    rate = prediction._options.log_sample_rate
    rate = config.log_sample_rate if rate is None else rate
    if error is None and rate < 1.0 and _sampler.random() >= rate:
        return
    span_context = prediction.span.get_span_context()
    fields: dict[str, Any] = {
        "ml.model.name": prediction.model,
        "ml.model.version": prediction.version,
        "ml.prediction.id": prediction.id,
        "trace_id": "%032x" % span_context.trace_id,
        "span_id": "%016x" % span_context.span_id,
        "duration_s": round(duration, 9),
        "rows": prediction._rows,
    }
    if prediction._input is not None:
        fields["input"] = prediction._input.log_fields()
    if prediction._output is not None:
        fields["output"] = prediction._output.log_fields()
    if error is not None:
        fields["error.type"] = error_type(error)
        message = error_message(error, config)
        if message is not None:
            fields["error.message"] = message
    if prediction._capture_raw:
        redact = prediction._options.redact or config.redact_fields
        if prediction._raw_input is not _MISSING:
            fields["ml.input.raw"] = _raw_payload(prediction._raw_input, redact)
        if prediction._raw_output is not _MISSING:
            fields["ml.output.raw"] = _raw_payload(prediction._raw_output, redact)
    level = "error" if error is not None else "info"
    if not telemetry.otel_logs_enabled():
        telemetry.json_log(level, "ml.prediction", fields, None)
        return
    # The OpenTelemetry body is the record as one JSON string: backends parse it like the
    # console line, and the OTLP encoding of one string costs a fraction of a nested map's.
    # Rendered once, it is also the console line's (the private pipeline splices it).
    body = safe_json(fields)
    telemetry.json_log(level, "ml.prediction", fields, body)
    telemetry.otel_logger.emit(
        timestamp=time.time_ns(),
        context=trace.set_span_in_context(prediction.span),
        severity_number=SeverityNumber.ERROR if error is not None else SeverityNumber.INFO,
        severity_text=level.upper(),
        event_name="ml.prediction",
        body=body,
        # What backends filter log records by; the prediction id is in the body (and on the
        # span the record's trace context points to): each attribute costs microseconds.
        attributes=_base_attributes(prediction.model, prediction.version),
    )


def _raw_payload(value: Any, redact: Sequence[str]) -> Any:
    """The opted-in raw payload, JSON-safe, named fields redacted, size bounded."""
    import json

    plain = _plain(value)
    if redact:
        plain = _redacted(plain, frozenset(redact))
    text = safe_json(plain)
    if len(text) > _MAX_RAW_CHARS:
        return {"truncated": True, "json": text[:_MAX_RAW_CHARS]}
    return json.loads(text)


def _plain(value: Any) -> Any:
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict) and hasattr(value, "columns"):  # pandas DataFrame
        return to_dict(orient="records")
    to_dicts = getattr(value, "to_dicts", None)
    if callable(to_dicts):  # polars DataFrame
        return to_dicts()
    to_pylist = getattr(value, "to_pylist", None)
    if callable(to_pylist):  # pyarrow Table
        return to_pylist()
    tolist = getattr(value, "tolist", None)
    if callable(tolist):  # numpy arrays, pandas Series
        return tolist()
    return value


def _redacted(value: Any, names: frozenset[str]) -> Any:
    if isinstance(value, dict):
        return {k: ("[REDACTED]" if k in names else _redacted(v, names)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_redacted(v, names) for v in value]
    return value


# -- the decorator -----------------------------------------------------------------------


def _input_position(func: Callable[..., Any], input_arg: str | None) -> int | None:
    """Position of ``input_arg`` among the call's positional arguments (self/cls excluded)."""
    if input_arg is None:
        return 0
    target = getattr(func, "__func__", func)
    try:
        parameters = list(inspect.signature(target).parameters.values())
    except (TypeError, ValueError):
        return None
    if parameters and parameters[0].name in _SELF_NAMES:
        parameters = parameters[1:]
    names = [p.name for p in parameters]
    if input_arg not in names:
        raise ValueError(
            f"modeltel.monitor: input_arg={input_arg!r} is not a parameter of "
            f"{getattr(target, '__qualname__', target)!r}; parameters are {names}"
        )
    kind = parameters[names.index(input_arg)].kind
    if kind is inspect.Parameter.KEYWORD_ONLY:
        return None
    return names.index(input_arg)


def _select_input(
    options: _Options, position: int | None, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    if options.input_arg is not None and options.input_arg in kwargs:
        return kwargs[options.input_arg]
    if position is not None and position < len(args):
        return args[position]
    if options.input_arg is None and kwargs:
        return next(iter(kwargs.values()))
    return _MISSING


def _model_object(instance: Any) -> Any:
    # A classmethod's "instance" is the class; a model class can carry name/version too.
    return instance


@overload
def monitor(func: F, /) -> F: ...
@overload
def monitor(
    *,
    model: str | None = None,
    version: str | None = None,
    input_arg: str | None = None,
    feature_names: FeatureNames = None,
    baseline: Any = None,
    capture_raw: bool | None = None,
    raw_sample_rate: float | None = None,
    redact: Sequence[str] = (),
    log_sample_rate: float | None = None,
    flag_outliers: bool = False,
) -> Callable[[F], F]: ...
def monitor(
    func: Any = None,
    /,
    *,
    model: str | None = None,
    version: str | None = None,
    input_arg: str | None = None,
    feature_names: FeatureNames = None,
    baseline: Any = None,
    capture_raw: bool | None = None,
    raw_sample_rate: float | None = None,
    redact: Sequence[str] = (),
    log_sample_rate: float | None = None,
    flag_outliers: bool = False,
) -> Any:
    """Monitor a predict function: a span, metrics and a JSON log record per call.

    Works on plain functions, ``async def`` functions, methods (instance, class, static)
    and generators or async generators (each yielded item is a streamed output). The
    model input is the first positional argument after ``self``/``cls``, or the argument
    named by ``input_arg``. Name, signature, docstring and ``inspect`` results of the
    function survive.

    Args:
        model: model name; else ``MODELTEL_MODEL_NAME``, the model object's ``model_name``
            or ``name`` attribute or class name, or the function name.
        version: model version; else ``MODELTEL_MODEL_VERSION``, the model object's
            ``model_version``/``version``/``__version__``, or ``"unknown"``.
        input_arg: the parameter holding the model input.
        feature_names: names for inputs without column names (numpy arrays, lists); or,
            for inputs whose keys are data (a bag of words, ids), ``"hash"`` to send every
            feature name as a keyed hash, or a mapping ``{key: exported name}`` (keys not in
            it are hashed).
        baseline: a :class:`modeltel.Baseline` or the path of a saved one: numeric
            features are then exported on its bin edges, categoricals on its categories,
            the baseline itself in-band, and inputs are checked against its schema
            (``ml.data_quality.violations``). A file that cannot be loaded is logged as an
            error and monitoring goes on without it.
        capture_raw: opt in to raw input/output payloads in log records (sampled).
        raw_sample_rate: share of predictions whose raw payload is logged.
        redact: field/column names replaced by ``[REDACTED]`` in raw payloads.
        log_sample_rate: share of successful predictions that are logged.
        flag_outliers: with a baseline, count the input rows beyond its 0.1%/99.9% tail
            edges on the span (``ml.data_quality.outlier_rows``).

    Example::

        @modeltel.monitor(model="fraud", version="3.1.0")
        def predict(X):
            return clf.predict_proba(X)[:, 1]
    """
    if raw_sample_rate is not None and not 0.0 <= raw_sample_rate <= 1.0:
        raise ValueError(f"modeltel.monitor: raw_sample_rate={raw_sample_rate!r} not in [0, 1]")
    if log_sample_rate is not None and not 0.0 <= log_sample_rate <= 1.0:
        raise ValueError(f"modeltel.monitor: log_sample_rate={log_sample_rate!r} not in [0, 1]")
    if isinstance(redact, str):
        redact = (redact,)

    def decorate(function: F) -> F:
        if not callable(function) and not isinstance(function, (classmethod, staticmethod)):
            raise TypeError(f"modeltel.monitor: {function!r} is not callable")
        target = getattr(function, "__func__", function)
        options = _Options(
            model=model,
            version=version,
            input_arg=input_arg,
            feature_names=feature_names_option(feature_names),
            baseline=_load_baseline(baseline),
            capture_raw=capture_raw,
            raw_sample_rate=raw_sample_rate,
            redact=tuple(redact),
            log_sample_rate=log_sample_rate,
            flag_outliers=flag_outliers,
            fallback_name=getattr(target, "__name__", "model"),
        )
        position = _input_position(target, input_arg)
        run = _runner_for(target)

        @wrapt.decorator
        def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            if not _telemetry.default_config().enabled:
                return wrapped(*args, **kwargs)
            return run(options, position, wrapped, instance, args, kwargs)

        return wrapper(function)  # type: ignore[no-any-return]

    if func is None:
        return decorate
    return decorate(func)


def _start(
    options: _Options, position: int | None, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Prediction:
    return _begin(options, _model_object(instance), _select_input(options, position, args, kwargs))


def _call_sync(options: _Options, position: int | None, wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    prediction = _start(options, position, instance, args, kwargs)
    try:
        result = wrapped(*args, **kwargs)
    except BaseException as exc:
        _end(prediction, exc)
        raise
    prediction.record_output(result)
    _end(prediction)
    return result


async def _call_async(options: _Options, position: int | None, wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    prediction = _start(options, position, instance, args, kwargs)
    try:
        result = await wrapped(*args, **kwargs)
    except BaseException as exc:
        _end(prediction, exc)
        raise
    prediction.record_output(result)
    _end(prediction)
    return result


def _call_generator(options: _Options, position: int | None, wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Iterator[Any]:
    return stream(lambda: _start(options, position, instance, args, kwargs), lambda: wrapped(*args, **kwargs))


def _call_async_generator(options: _Options, position: int | None, wrapped: Any, instance: Any, args: Any, kwargs: Any) -> AsyncIterator[Any]:
    return stream_async(lambda: _start(options, position, instance, args, kwargs), lambda: wrapped(*args, **kwargs))


def stream(
    begin: Callable[[], Prediction],
    make: Callable[[], Iterator[Any]],
    output_of: Callable[[Any], Any] | None = None,
) -> Iterator[Any]:
    """A generator as one prediction: ``begin()`` at the first step, each yielded item a
    streamed output (``output_of(item)`` when given; ``NO_OUTPUT`` skips it), the end when
    the generator is done, fails or is closed.

    Each step of the user's generator runs with the prediction's span current; the span is
    not left attached while the consumer holds the generator. ``send()`` and ``throw()``
    are forwarded.
    """
    prediction = begin()
    _detach(prediction)
    generator = make()
    step: Callable[[Any], Any] = generator.send
    value: Any = None
    try:
        while True:
            with _active(prediction):
                try:
                    item = step(value)
                except StopIteration as stop:
                    _end(prediction)
                    return stop.value
            _record_chunk(prediction, item, output_of)
            try:
                value = yield item
                step = generator.send
            except GeneratorExit:
                generator.close()
                raise
            except BaseException as thrown:  # forwarded into the user's generator
                step, value = generator.throw, thrown
    except BaseException as exc:
        _end(prediction, exc)
        raise


async def stream_async(
    begin: Callable[[], Prediction],
    make: Callable[[], AsyncIterator[Any]],
    output_of: Callable[[Any], Any] | None = None,
) -> AsyncIterator[Any]:
    """:func:`stream` for an async generator."""
    prediction = begin()
    _detach(prediction)
    generator: Any = make()
    step: Callable[[Any], Any] = generator.asend
    value: Any = None
    try:
        while True:
            with _active(prediction):
                try:
                    item = await step(value)
                except StopAsyncIteration:
                    _end(prediction)
                    return
            _record_chunk(prediction, item, output_of)
            try:
                value = yield item
                step = generator.asend
            except GeneratorExit:
                await generator.aclose()
                raise
            except BaseException as thrown:
                step, value = generator.athrow, thrown
    except BaseException as exc:
        _end(prediction, exc)
        raise


#: Returned by an ``output_of`` function when a value is not a model output (an HTTP
#: response object, a stream): nothing is summarised and nothing is read.
NO_OUTPUT: Any = object()


def _record_chunk(prediction: Prediction, item: Any, output_of: Callable[[Any], Any] | None) -> None:
    if output_of is None:
        prediction.record_output(item)
        return
    try:
        output = output_of(item)
    except Exception as exc:  # noqa: BLE001 - fail-open
        report_internal_error("record_output", exc)
        return
    if output is not NO_OUTPUT:
        prediction.record_output(output)


def _detach(prediction: Prediction) -> None:
    """Generators: the span must not stay current in the consumer between steps."""
    _restore(prediction)


class _active:
    """Make the prediction's span and context current for one step of a generator."""

    __slots__ = ("_prediction", "_tokens")

    def __init__(self, prediction: Prediction) -> None:
        self._prediction = prediction
        self._tokens: tuple[Any, Any] | None = None

    def __enter__(self) -> None:
        prediction = self._prediction
        if prediction._span is not None and not prediction._ended:
            self._tokens = (
                otel_context.attach(trace.set_span_in_context(prediction._span)),
                _CURRENT.set(prediction),
            )

    def __exit__(self, *exc_info: Any) -> None:
        tokens, self._tokens = self._tokens, None
        if tokens is not None:
            try:
                _CURRENT.reset(tokens[1])
                otel_context.detach(tokens[0])
            except Exception as exc:  # noqa: BLE001
                report_internal_error("restore_context", exc)


def _runner_for(function: Callable[..., Any]) -> Callable[..., Any]:
    if inspect.isasyncgenfunction(function):
        return _call_async_generator
    if inspect.iscoroutinefunction(function):
        return _call_async
    if inspect.isgeneratorfunction(function):
        return _call_generator
    return _call_sync


# -- the context manager -----------------------------------------------------------------


class observe:
    """Monitor code that is not one function, as a sync or async context manager.

    Example::

        with modeltel.observe(model="fraud", version="3.1.0") as p:
            p.record_input(X)
            y = clf.predict(X)
            p.record_output(y)

    An exception inside the block is recorded on the span and re-raised unchanged.
    ``model`` may also be a model object whose ``name``/``version`` attributes are used.
    """

    __slots__ = ("_options", "_model_object", "_prediction")

    def __init__(
        self,
        model: Any = None,
        version: str | None = None,
        *,
        feature_names: FeatureNames = None,
        baseline: Any = None,
        capture_raw: bool | None = None,
        raw_sample_rate: float | None = None,
        redact: Sequence[str] = (),
        log_sample_rate: float | None = None,
        flag_outliers: bool = False,
    ) -> None:
        model_object = None if model is None or isinstance(model, str) else model
        self._model_object = model_object
        self._options = _Options(
            model=model if isinstance(model, str) else None,
            version=version,
            feature_names=feature_names_option(feature_names),
            baseline=_load_baseline(baseline),
            capture_raw=capture_raw,
            raw_sample_rate=raw_sample_rate,
            redact=(redact,) if isinstance(redact, str) else tuple(redact),
            log_sample_rate=log_sample_rate,
            flag_outliers=flag_outliers,
        )
        self._prediction: Prediction | None = None

    def __enter__(self) -> Prediction:
        self._prediction = _begin(self._options, self._model_object)
        return self._prediction

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        if self._prediction is not None:
            _end(self._prediction, exc)

    async def __aenter__(self) -> Prediction:
        return self.__enter__()

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        self.__exit__(exc_type, exc, tb)
