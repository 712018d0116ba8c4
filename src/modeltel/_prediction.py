"""One prediction, from start to end: the lifecycle every entry point shares.

``@monitor``, ``observe()``, the server routes and the ML-library hooks all go through
:class:`Prediction` (a context manager) and the four runners below (:func:`run`,
:func:`run_async`, :func:`stream`, :func:`stream_async`), with one frozen :class:`Options`.

What a prediction does, and what it costs, follows OpenTelemetry's sampling:

- always (aggregated, complete whatever the sampling): the input and output summaries
  into the sketch store (distributions), data-quality counts, the duration histogram and
  the row counter;
- only when its span is sampled: span attributes and the recorded exception;
- the per-prediction log record: every failed prediction; a successful one never when its
  span is unsampled, else at ``log_sample_rate`` (default: 0 when the span is sampled, as
  the exported span is the record; 1 without a tracing SDK, as the log is then the only one).

Every modeltel step is contained (fail-open): an exception inside modeltel is counted
(``ml.sdk.errors``, with a site name unique to the place) and logged once, and the
prediction goes on. The user's own exception is recorded and re-raised unchanged; the
user's return value is returned as the very same object.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Mapping  # isinstance on it is twice as fast as on typing.Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, AsyncIterator, Callable, Generator, Sequence

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry._logs import SeverityNumber
from opentelemetry.trace import SpanKind
from typing_extensions import TypedDict

from modeltel import _registry, _telemetry
from modeltel import _semconv as sc
from modeltel._columns import UnsupportedInput
from modeltel._identity import model_identity, type_name
from modeltel._logging import safe_json
from modeltel._columns import without_feature
from modeltel._outcomes import emit_predicted, join_columns, joinable_records, without_column
from modeltel._reference import wire_attributes
from modeltel._privacy import error_message, record_error
from modeltel._quality import check_columns, outlier_rows
from modeltel._summary import FeatureNames, InputSummary, feature_names_option, summarize_input, summarize_output
from modeltel._telemetry import contained, report_internal_error

__all__ = [
    "MISSING",
    "NO_OUTPUT",
    "ObserveArgs",
    "OptionArgs",
    "Options",
    "Prediction",
    "current_prediction",
    "default_baseline",
    "load_baseline",
    "run",
    "run_async",
    "stream",
    "stream_async",
]

#: No input was given (as opposed to an input of ``None``).
MISSING: Any = object()
#: Returned by an ``output_of`` function when a value is not a model output (an HTTP
#: response object, a stream): nothing is summarised and nothing is read.
NO_OUTPUT: Any = object()

_CURRENT: ContextVar["Prediction | None"] = ContextVar("modeltel_prediction", default=None)

# Prediction ids: 128 random bits from a private generator, so that a user's
# random.seed() cannot make ids repeat; reseeded in a forked child (gunicorn workers).
_ids = random.Random()
_sampler = random.Random()


def _reseed() -> None:
    _ids.seed()
    _sampler.seed()


_registry.register("prediction.random", fork=_reseed)

_MAX_RAW_CHARS = 4096


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


# -- options --------------------------------------------------------------------------------


class ObserveArgs(TypedDict, total=False):
    """The keyword arguments of ``observe(model, version, ...)`` (see :class:`Options`)."""

    input_arg: "str | None"
    feature_names: FeatureNames
    baseline: Any
    capture_raw: "bool | None"
    capture_error_messages: "bool | None"
    raw_sample_rate: "float | None"
    redact: "Sequence[str] | str"
    log_sample_rate: "float | None"
    flag_outliers: bool
    outcomes: "bool | str"
    id_from: "str | None"
    segment_by: "Sequence[str] | str"
    reference: "Mapping[str, float] | None"


class OptionArgs(ObserveArgs, total=False):
    """The keyword arguments of ``@monitor(...)``: the model and version are keywords too."""

    model: Any
    version: "str | None"


@dataclass(frozen=True, slots=True)
class Options:
    """What one ``@monitor(...)``, ``observe(...)`` or predict route was told.

    A new option is one field here and one key in :class:`ObserveArgs`; :meth:`create`
    checks and normalises the arguments for every entry point.
    """

    #: Model name (else the identity rule of ``modeltel._identity``).
    model: str | None = None
    #: Model version (else the identity rule).
    version: str | None = None
    #: The parameter holding the model input (``@monitor`` only).
    input_arg: str | None = None
    #: Names for unnamed columns, a private-name mapping or "hash" (``feature_names_option``).
    feature_names: Any = None
    #: A loaded :class:`modeltel.Baseline` (paths are loaded by :meth:`create`).
    baseline: Any = None
    #: Opt in to raw payloads in log records (else ``MODELTEL_CAPTURE_RAW``).
    capture_raw: bool | None = None
    #: Exception text on the span and log record (else ``MODELTEL_CAPTURE_ERROR_MESSAGES``).
    capture_error_messages: bool | None = None
    #: Share of predictions whose raw payload is logged (else ``MODELTEL_RAW_SAMPLE_RATE``).
    raw_sample_rate: float | None = None
    #: Field/column names replaced by ``[REDACTED]`` in raw payloads.
    redact: tuple[str, ...] = ()
    #: Share of sampled, successful predictions that are logged (else the env var).
    log_sample_rate: float | None = None
    #: Flag rows beyond the baseline's 0.1%/99.9% tail edges on the span.
    flag_outliers: bool = False
    #: Joinable predictions (docs/outcomes.md): ``True`` (task from the output),
    #: ``"classification"`` or ``"regression"``; every row's key and output leave the process.
    outcomes: bool | str = False
    #: The input column or field holding each row's join key (else ``<id>:<row>``).
    id_from: str | None = None
    #: Input columns or fields whose values are each row's segment (joined by ``|``).
    segment_by: tuple[str, ...] = ()
    #: Expected performance, e.g. ``{"accuracy": 0.93}`` or ``{"mae": 4.1}`` (validation).
    reference: Mapping[str, float] | None = None
    #: Name used when neither the options, the environment nor a model object name the model.
    fallback_name: str | None = None
    #: The model's own output labels (a classifier's classes), exported in clear.
    vocabulary: frozenset[str] | None = None

    @classmethod
    def create(cls, caller: str, fallback_name: str | None = None, **arguments: Any) -> "Options":
        """Options from user arguments: rates checked, sequences made tuples, a baseline
        path loaded (a bad file is logged and monitoring goes on without it)."""
        for rate in ("raw_sample_rate", "log_sample_rate"):
            value = arguments.get(rate)
            if value is not None and not (isinstance(value, (int, float)) and 0.0 <= value <= 1.0):
                raise ValueError(f"{caller}: {rate}={value!r} not in [0, 1]")
        model = arguments.get("model")
        if model is not None and not isinstance(model, str):
            raise TypeError(f"{caller}: model={model!r} must be a string")
        redact = arguments.get("redact", ())
        arguments["redact"] = (redact,) if isinstance(redact, str) else tuple(redact)
        outcomes = arguments.get("outcomes", False)
        if outcomes not in (True, False, "classification", "regression"):
            raise ValueError(f"{caller}: outcomes={outcomes!r}: expected True, 'classification' or 'regression'")
        if not outcomes and any(arguments.get(k) for k in ("id_from", "segment_by", "reference")):
            raise ValueError(f"{caller}: id_from, segment_by and reference need outcomes=True")
        segment_by = arguments.get("segment_by", ())
        arguments["segment_by"] = (segment_by,) if isinstance(segment_by, str) else tuple(segment_by)
        if "feature_names" in arguments:
            arguments["feature_names"] = feature_names_option(arguments["feature_names"])
        arguments["baseline"] = load_baseline(arguments.get("baseline"))
        try:
            return cls(fallback_name=fallback_name, **arguments)
        except TypeError:
            unknown = sorted(set(arguments) - set(cls.__dataclass_fields__))
            raise TypeError(f"{caller}: unknown option(s) {unknown}") from None


def load_baseline(baseline: Any) -> Any:
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
        _telemetry.internal_log.error(
            "modeltel: cannot load baseline %s (%s); monitoring without it", baseline, exc
        )
        report_internal_error("prediction.load_baseline", exc)
        return None


_baselines: dict[str, Any] = {}
_registry.register("prediction.default_baseline", reset=_baselines.clear)


def default_baseline() -> Any:
    """The baseline ``MODELTEL_BASELINE`` names (loaded once; ``None`` if unset or bad)."""
    path = _telemetry.default_config().baseline
    if path is None:
        return None
    baseline = _baselines.get(path, MISSING)
    if baseline is MISSING:
        baseline = _baselines[path] = load_baseline(path)
    return baseline


# -- the prediction -------------------------------------------------------------------------


class Prediction:
    """One prediction in progress: its id, model, version and span.

    A context manager: ``with Prediction(options, ...) as p:`` starts it (span, context,
    input summary) and ends it (output, metrics, log record, span end, context restored),
    recording an exception that leaves the block. Returned by ``observe()`` and
    ``modeltel.current_prediction()``. ``record_input``, ``record_output`` and
    ``set_attributes`` never raise (fail-open).
    """

    __slots__ = (
        "_id",
        "model",
        "version",
        "_options",
        "_span",
        "_handles",
        "_config",
        "_sampled",
        "_started",
        "_start",
        "_tokens",
        "_pending_input",
        "_attributes",
        "_input",
        "_output",
        "_rows",
        "_output_rows",
        "_raw_input",
        "_raw_output",
        "_capture_raw",
        "_ended",
        "_join_input",
        "_join_output",
    )

    def __init__(
        self,
        options: Options,
        model_object: Any = None,
        inputs: Any = MISSING,
        attributes: Mapping[str, Any] | None = None,
    ) -> None:
        self._id: str | None = None  # drawn when first read: an unsampled prediction may never need it
        if model_object is None and options.model and options.version:
            self.model, self.version = options.model, options.version  # what the code said
        else:
            try:
                self.model, self.version = model_identity(
                    model_object, options.model, options.version, options.fallback_name
                )
            except Exception as exc:  # noqa: BLE001 - a hostile model object must not break predict
                report_internal_error("prediction.identity", exc)
                self.model = options.model or options.fallback_name or "model"
                self.version = options.version or sc.DEFAULT_MODEL_VERSION
        self._options = options
        self._span: trace.Span | None = None
        # Taken at start, used to the end (every step after start runs only once a span is set):
        self._handles: Any = None  # the telemetry handles
        self._config: Any = None  # the configuration
        self._sampled = False
        self._started = False  # a span was started (not so under an unsampled parent)
        self._start = 0.0
        self._tokens: tuple[Any, Any] | None = None
        self._pending_input = inputs
        self._attributes = attributes
        self._input: Any = None
        self._output: Any = None
        self._rows = 0
        self._output_rows = 0
        self._raw_input: Any = MISSING
        self._raw_output: Any = MISSING
        self._capture_raw = False
        self._ended = False
        self._join_input: tuple[Any, Any] = (None, None)
        self._join_output: Any = MISSING

    @property
    def id(self) -> str:
        """The prediction's id: 32 random hex characters, the same on its span, log record and
        joinable rows."""
        if self._id is None:
            self._id = new_prediction_id()
        return self._id

    def __repr__(self) -> str:
        return f"Prediction(id={self.id!r}, model={self.model!r}, version={self.version!r})"

    def __enter__(self) -> "Prediction":
        self.start()
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        self.end(exc)

    @property
    def span(self) -> trace.Span:
        """The ``predict {model}`` span (a non-recording span when modeltel is disabled)."""
        return self._span if self._span is not None else trace.INVALID_SPAN

    @property
    def sampled(self) -> bool:
        """True when the prediction's span is recorded (sampled)."""
        return self._sampled

    # -- what the user (and the runners) call -----------------------------------------------

    def record_input(self, X: Any, *, feature_names: Sequence[str] | None = None) -> None:
        """Summarise ``X`` as the model input (rows, features, per-feature stats, sketches)."""
        if self._span is None or self._ended:
            return
        with contained("prediction.record_input"):
            summary = self._summarise_input(X, feature_names, self._config)
            if summary is not None:
                if self._sampled:
                    self._span.set_attributes(summary.span_attributes())
                self._store_input(summary)

    def record_output(self, y: Any) -> None:
        """Summarise ``y`` as the model output; may be called once per streamed chunk."""
        self.record_result(y)

    def record_result(self, result: Any, output_of: Callable[[Any], Any] | None = None) -> None:
        """Record ``output_of(result)`` (or ``result``) as an output; ``NO_OUTPUT`` skips it.
        (The runners' path: :meth:`record_output` comes here, not the other way round.)"""
        if output_of is not None:
            try:
                result = output_of(result)
            except Exception as exc:  # noqa: BLE001 - fail-open
                report_internal_error("prediction.output_of", exc)
                return
            if result is NO_OUTPUT:
                return
        if self._span is None or self._ended:
            return
        try:
            self._record_output(result)
        except Exception as exc:  # noqa: BLE001 - fail-open
            report_internal_error("prediction.record_output", exc)

    def set_attributes(self, attributes: Mapping[str, Any]) -> None:
        """Add attributes to the prediction's span (nothing when it is not sampled)."""
        if self._span is None or self._ended or not self._sampled:
            return
        with contained("prediction.set_attributes"):
            self._span.set_attributes(dict(attributes))

    def start(self) -> None:
        """Start: the span (child of the current context), the input summary, the context.

        The input is summarised before the span starts so that its attributes and the
        extra ones go in with one ``set_attributes`` call. Never raises.
        """
        config = _telemetry.default_config()
        if not config.enabled or self._span is not None:
            return
        # try/except rather than contained(): no guard object on the hot path
        try:
            telemetry = self._handles = _telemetry.current()
            self._config = config
            options = self._options
            capture = options.capture_raw if options.capture_raw is not None else config.capture_raw
            if capture:
                rate = options.raw_sample_rate
                self._capture_raw = _sampler.random() < (config.raw_sample_rate if rate is None else rate)
            summary = None
            if self._pending_input is not MISSING:
                try:
                    summary = self._summarise_input(self._pending_input, None, config)
                except Exception as exc:  # noqa: BLE001 - fail-open
                    report_internal_error("prediction.start_input", exc)
                self._pending_input = MISSING
            current = trace.get_current_span()
            parent = current.get_span_context()
            started = not (parent.is_valid and not parent.trace_flags.sampled)
            if not started:
                # An unsampled parent (a parent-based sampler decided against the request's
                # trace): the predict span would not be sampled either; none is started, and
                # the parent stays the current span (no context to attach) for the model's
                # own children. A non-recording parent (what the SDK makes of an unsampled
                # span) stands for the prediction's span as it is.
                span: trace.Span = current if type(current) is trace.NonRecordingSpan else trace.NonRecordingSpan(parent)
            else:
                # No attributes at start: an unsampled span would clean them for nothing
                # (ratio samplers do not read them); a sampled one gets them all below.
                span = telemetry.tracer.start_span(f"predict {self.model}", kind=SpanKind.INTERNAL)
            self._span = span
            self._started = started
            self._sampled = span.is_recording()
            if self._sampled:
                attributes: dict[str, Any] = {
                    sc.ATTR_MODEL_NAME: self.model,
                    sc.ATTR_MODEL_VERSION: self.version,
                    sc.ATTR_PREDICTION_ID: self.id,
                }
                if summary is not None:
                    attributes.update(summary.span_attributes())
                if self._attributes:
                    attributes.update(self._attributes)
                span.set_attributes(attributes)
            if options.vocabulary:
                _telemetry.use_vocabulary(telemetry, self.model, self.version, options.vocabulary)
            if summary is not None:
                try:
                    self._store_input(summary)
                except Exception as exc:  # noqa: BLE001 - fail-open
                    report_internal_error("prediction.store_input", exc)
            self._tokens = (
                otel_context.attach(trace.set_span_in_context(span)) if started else None,
                _CURRENT.set(self),
            )
            self._start = time.perf_counter()
        except Exception as exc:  # noqa: BLE001 - fail-open
            report_internal_error("prediction.start", exc)

    def end(self, error: BaseException | None = None) -> None:
        """End: output attributes, metrics, the log record, span end, context restored.

        ``error`` is the user's exception (``GeneratorExit``, a closed stream, is none).
        Never raises; idempotent.
        """
        span = self._span
        if span is None or self._ended:
            return
        self._ended = True
        try:
            self._finish(span, error if error is None or not isinstance(error, GeneratorExit) else None)
        except Exception as exc:  # noqa: BLE001 - fail-open
            report_internal_error("prediction.end", exc)
        finally:
            if self._started:  # the stand-in for an unsampled parent has nothing to end
                try:
                    span.end()
                except Exception as exc:  # noqa: BLE001
                    report_internal_error("prediction.span_end", exc)
            self.detach()

    def step(self) -> "_Step":
        """A context manager making this prediction current for one step of a generator."""
        return _Step(self)

    def detach(self) -> None:
        """Stop being the current prediction (generators: not current between steps)."""
        tokens, self._tokens = self._tokens, None
        if tokens is None:
            return
        try:
            _CURRENT.reset(tokens[1])
            if tokens[0] is not None:
                otel_context.detach(tokens[0])
        except Exception as exc:  # noqa: BLE001 - e.g. a token from another context
            report_internal_error("prediction.detach", exc)

    # -- internals ----------------------------------------------------------------------

    def _summarise_input(self, X: Any, feature_names: Sequence[str] | None, config: Any) -> Any:
        """The input summary, or None for an input modeltel cannot summarise (counted)."""
        names = feature_names if feature_names is not None else self._options.feature_names
        if self._capture_raw:
            self._raw_input = X
        # A key is no feature: not in the sketches, drift or quality. It is left out of the
        # summary (a pandas drop of the input copies the frame: ~180 us a call), or, when the
        # features are renamed (the key's name changes), out of the input.
        key = self._options.id_from if self._options.outcomes else None
        renamed = key is not None and isinstance(names, (str, Mapping))
        if self._options.outcomes and (self._options.id_from or self._options.segment_by):
            with contained("prediction.outcome_keys"):
                self._join_input = join_columns(X, self._options.id_from, self._options.segment_by)
            if key and renamed:
                with contained("prediction.outcome_key_column"):
                    X = without_column(X, key)
        try:
            summary = summarize_input(X, feature_names=names, config=config)
            if key and not renamed:
                with contained("prediction.outcome_key_feature"):
                    summary = InputSummary(without_feature(summary.columns, key), summary.config)
        except UnsupportedInput:
            if hasattr(X, "model_dump") and hasattr(type(X), "model_fields"):
                _pydantic_hint(self.model, X)
            _telemetry.current().unsupported.add(
                1,
                {**_telemetry.metric_attributes(self.model, self.version), sc.ATTR_INPUT_TYPE: type_name(X)},
            )
            return None
        self._input = summary
        self._rows = summary.columns.rows
        return summary

    def _store_input(self, summary: Any) -> None:
        telemetry = self._handles
        baseline = self._options.baseline
        if baseline is not None:
            _telemetry.use_baseline(telemetry, self.model, self.version, baseline)
        telemetry.store.record(self.model, self.version, sc.ROLE_INPUT, summary)
        if baseline is not None:
            self._check_quality(telemetry, baseline, summary, sc.ROLE_INPUT)

    def _check_quality(self, telemetry: Any, baseline: Any, summary: Any, role: str) -> None:
        flag = self._options.flag_outliers and role == sc.ROLE_INPUT
        for feature, check, count in check_columns(baseline, summary.columns, role=role, outliers=flag):
            telemetry.quality.add(
                count,
                {
                    **_telemetry.metric_attributes(self.model, self.version),
                    sc.ATTR_FEATURE_NAME: feature,
                    sc.ATTR_CHECK: check,
                },
            )
        if flag and self._sampled and self._span is not None:
            rows = int(outlier_rows(baseline, summary.columns, role=role).sum())
            self._span.set_attribute(sc.ATTR_OUTLIER_ROWS, rows)

    def _record_output(self, y: Any) -> None:
        telemetry = self._handles
        if self._options.outcomes:
            self._join_output = y
        if self._capture_raw:
            self._raw_output = y if self._raw_output is MISSING else _append(self._raw_output, y)
        try:
            summary = summarize_output(y, config=self._config, vocabulary=self._options.vocabulary)
        except UnsupportedInput:
            return
        self._output = summary
        self._output_rows += summary.columns.rows
        telemetry.store.record(self.model, self.version, sc.ROLE_OUTPUT, summary)
        if self._options.baseline is not None:
            self._check_quality(telemetry, self._options.baseline, summary, sc.ROLE_OUTPUT)

    def _error_config(self) -> Any:
        """The configuration the exception text rule reads: this model's option wins."""
        config = self._config
        opted = self._options.capture_error_messages
        if opted is None or opted == config.capture_error_messages:
            return config
        return config.replace(capture_error_messages=opted)

    def _finish(self, span: trace.Span, error: BaseException | None) -> None:
        duration = time.perf_counter() - self._start
        telemetry = self._handles
        attributes = _telemetry.metric_attributes(self.model, self.version)
        _telemetry.count_model_overflow(telemetry, attributes)
        if self._sampled and self._output is not None:
            output_attributes = self._output.span_attributes()
            if self._output_rows != self._rows:  # e.g. streamed, or no input recorded
                output_attributes[sc.ATTR_OUTPUT_ROWS] = self._output_rows
            if output_attributes:
                span.set_attributes(output_attributes)
        kind = None
        if error is not None:
            if self._sampled:
                kind = record_error(span, error, self._error_config())
            else:
                kind = _telemetry.error_type(error)
        elif self._rows:  # rows predicted: a failed call predicted none
            telemetry.rows.add(self._rows, self.model, self.version)
        store = telemetry.store
        if store.exports_durations:  # aggregated in the store, exported with the distributions
            store.durations.record(attributes[sc.ATTR_MODEL_NAME], attributes[sc.ATTR_MODEL_VERSION], kind, duration)
        else:  # nobody exports the store: the application's MeterProvider gets it
            telemetry.duration.record(duration, attributes if kind is None else {**attributes, sc.ATTR_ERROR_TYPE: kind})
        # a success under an unsampled parent (no span started) is never logged (_logs_success)
        logs = error is not None or (self._started and self._logs_success(span))
        joinable = None
        if self._options.outcomes and error is None and self._join_output is not MISSING:
            with contained("prediction.outcomes"):
                # A logged call's rows ride on its record; an unlogged one-row call's wait for others.
                joinable = self._joinable(coalesce=not logs) or None
        # One record can carry the joinable rows on the prediction's own log record.
        ride = joinable[0][0] if joinable is not None and len(joinable) == 1 else None
        logged = False
        if logs:
            logged = self._log(telemetry, duration, error, ride)
        if joinable is not None and not (logged and ride is not None):
            with contained("prediction.outcomes_emit"):
                emit_predicted(time.time_ns(), joinable)

    def _joinable(self, coalesce: bool) -> list[tuple[dict[str, Any], int]]:
        """The ``ml.outcome.predicted`` attributes of this call's output (``outcomes=True``);
        none when ``coalesce`` queued a one-row output's row (``_outcomes.joinable_records``)."""
        options = self._options
        keys, segments = self._join_input
        return joinable_records(
            model=self.model, version=self.version, prediction_id=self.id, output=self._join_output,
            keys=keys, segments=segments, task=options.outcomes if isinstance(options.outcomes, str) else None,
            reference=dict(options.reference) if options.reference else None,
            baseline_reference=lambda: wire_attributes(options.baseline), coalesce=coalesce,
        )

    def _logs_success(self, span: trace.Span) -> bool:
        """Whether this successful prediction gets a log record (the rule is in the docs:
        docs/semantic-conventions.md, "Which predictions are logged").

        Unsampled (a sampler decided against the span): never, the record would point to a
        trace that is never exported. Sampled: at ``log_sample_rate``, by default 0, since the
        exported span is the prediction's record and its summaries are in the metrics (but a
        prediction drawn for the opted-in raw capture is logged: the raw payload rides only
        on log records). No tracing SDK at all (an invalid span context): at
        ``log_sample_rate``, by default 1, since the log record is then the only
        per-prediction record.
        """
        rate = self._options.log_sample_rate
        if rate is None:
            rate = self._config.log_sample_rate
        if self._sampled:
            if rate is None:  # a prediction drawn for raw capture (opted in) is logged
                return self._capture_raw
        elif span.get_span_context().is_valid:
            return False
        elif rate is None:
            return True
        return rate >= 1.0 or (rate > 0.0 and _sampler.random() < rate)

    def _log(
        self,
        telemetry: _telemetry.Telemetry,
        duration: float,
        error: BaseException | None,
        joinable: dict[str, Any] | None = None,
    ) -> bool:
        """The per-prediction log record (every failed prediction; a successful one by
        :meth:`_logs_success`). The body carries what the span does not (input and output
        summaries, the error, opted-in raw payloads); the model, version, id and trace
        context are the record's attributes and trace fields."""
        config = self._config
        fields: dict[str, Any] = {sc.ATTR_PREDICTION_ID: self.id}
        if self._input is not None:
            fields["input"] = self._input.log_fields()
        if self._output is not None:
            fields["output"] = self._output.log_fields()
        if error is not None:
            fields[sc.ATTR_ERROR_TYPE] = _telemetry.error_type(error)
            message = error_message(error, self._error_config())
            if message is not None:
                fields["error.message"] = message
        if self._capture_raw:
            redact = self._options.redact or config.redact_fields
            if self._raw_input is not MISSING:
                fields[sc.ATTR_INPUT_RAW] = _raw_payload(self._raw_input, redact)
            if self._raw_output is not MISSING:
                fields[sc.ATTR_OUTPUT_RAW] = _raw_payload(self._raw_output, redact)
        level = "error" if error is not None else "info"
        otel_logs = telemetry.otel_logs_enabled()
        console = telemetry.console_log(otel_logs)
        if not otel_logs:
            if console:
                telemetry.json_log(level, sc.EVENT_PREDICTION, self._console_fields(fields, duration), None)
            return False
        # The OpenTelemetry body is the record as one JSON string: backends parse it like the
        # console line, and the OTLP encoding of one string costs a fraction of a nested map's.
        body = safe_json(fields)
        if console:
            telemetry.json_log(level, sc.EVENT_PREDICTION, self._console_fields(fields, duration), None)
        telemetry.otel_logger.emit(
            timestamp=time.time_ns(),
            context=trace.set_span_in_context(self.span),
            severity_number=SeverityNumber.ERROR if error is not None else SeverityNumber.INFO,
            severity_text=level.upper(),
            event_name=sc.EVENT_PREDICTION,
            body=body,
            # What backends filter log records by; each attribute costs microseconds. With
            # outcomes=True the joinable rows ride along (the connector reads them here).
            attributes=joinable if joinable is not None else _telemetry.model_attributes(self.model, self.version),
        )
        return True

    def _console_fields(self, fields: dict[str, Any], duration: float) -> dict[str, Any]:
        """A console line stands alone (no trace backend next to it): the fields the OTel
        record carries as attributes and trace context go into the line itself."""
        span_context = self.span.get_span_context()
        return {
            sc.ATTR_MODEL_NAME: self.model,
            sc.ATTR_MODEL_VERSION: self.version,
            **fields,
            "trace_id": "%032x" % span_context.trace_id,
            "span_id": "%016x" % span_context.span_id,
            "duration_s": round(duration, 9),
            "rows": self._rows,
        }


_hinted: set[str] = set()
_registry.register("prediction.hints", reset=_hinted.clear)


def _pydantic_hint(model: str, value: Any) -> None:
    """A pydantic request object as the model input (``@monitor`` on a FastAPI handler) is
    not a table: say once per model what to use instead."""
    if model in _hinted:
        return
    _hinted.add(model)
    _telemetry.internal_log.warning(
        "modeltel: the input of model %r is a pydantic model (%s), which is not summarised "
        "(counted in ml.input.unsupported); for a FastAPI or Flask handler use "
        "modeltel.instrumentation.predict_route (it reads the request body's fields), or "
        "monitor the function that receives the model's features",
        model,
        type(value).__name__,
    )


class _Step:
    """Make a prediction's span and context current for one step of a generator."""

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
                report_internal_error("prediction.step_restore", exc)


def _append(previous: Any, item: Any) -> list[Any]:
    return (previous if isinstance(previous, list) else [previous]) + [item]


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


# -- the runners: a call, a coroutine, a generator, an async generator ---------------------


def run(prediction: Prediction, call: Callable[[], Any], output_of: Callable[[Any], Any] | None = None) -> Any:
    """``call()`` as ``prediction``: its result (recorded as the output) and its exceptions
    unchanged (recorded on the prediction, then let through). Written out rather than
    ``with prediction:`` (as :func:`run_async` is): the hot path, two frames less."""
    prediction.start()
    try:
        result = call()
    except BaseException as exc:
        prediction.end(exc)
        raise
    prediction.record_result(result, output_of)
    prediction.end()
    return result


async def run_async(
    prediction: Prediction, call: Callable[[], Any], output_of: Callable[[Any], Any] | None = None
) -> Any:
    """:func:`run` for a coroutine function ``call``."""
    with prediction:
        result = await call()
        prediction.record_result(result, output_of)
    return result


def _begin_stream(begin: Callable[[], Prediction], parent: Any) -> Prediction:
    """Start the stream's prediction in ``parent`` (the context of the call that made the
    stream, not that of the first step), then leave it not current between steps."""
    token = otel_context.attach(parent) if parent is not None else None
    try:
        prediction = begin()
        prediction.start()
        prediction.detach()  # before the parent's token: contexts are restored in order
    finally:
        if token is not None:
            otel_context.detach(token)
    return prediction


def stream(
    begin: Callable[[], Prediction],
    make: Callable[[], Generator[Any, Any, Any]],
    output_of: Callable[[Any], Any] | None = None,
    parent: Any = None,
) -> Generator[Any, Any, Any]:
    """A generator as one prediction: ``begin()`` at the first step (in ``parent``, a
    context, when given), each yielded item a streamed output (``output_of(item)`` when
    given; ``NO_OUTPUT`` skips it), the end when the generator is done, fails or is closed.

    Each step of the user's generator runs with the prediction's span current; the span is
    not left attached while the consumer holds the generator. ``send()``, ``throw()`` and
    ``close()`` are forwarded (by ``yield from``).
    """
    prediction = _begin_stream(begin, parent)
    with prediction:  # started already; its exit ends it (a close is no error)
        return (yield from _Steps(prediction, make(), output_of))


class _Steps:
    """The user's generator, each step run as one step of ``prediction`` and each item
    recorded; ``yield from`` forwards ``send``, ``throw`` and ``close`` to it."""

    __slots__ = ("_prediction", "_generator", "_output_of")

    def __init__(self, prediction: Prediction, generator: Any, output_of: Callable[[Any], Any] | None) -> None:
        self._prediction = prediction
        self._generator = generator
        self._output_of = output_of

    def __iter__(self) -> "_Steps":
        return self

    def __next__(self) -> Any:
        return self.send(None)

    def send(self, value: Any) -> Any:
        return self._step(self._generator.send, value)

    def throw(self, *exc_info: Any) -> Any:
        # ``yield from`` passes (type, value, traceback); one argument is the modern form
        exc = exc_info[1] if len(exc_info) > 1 and exc_info[1] is not None else exc_info[0]
        return self._step(self._generator.throw, exc)

    def close(self) -> None:
        self._generator.close()

    def _step(self, step: Callable[..., Any], *args: Any) -> Any:
        with self._prediction.step():
            item = step(*args)  # StopIteration ends the ``yield from`` with the return value
        self._prediction.record_result(item, self._output_of)
        return item


async def stream_async(
    begin: Callable[[], Prediction],
    make: Callable[[], AsyncIterator[Any]],
    output_of: Callable[[Any], Any] | None = None,
    parent: Any = None,
) -> AsyncIterator[Any]:
    """:func:`stream` for an async generator (no ``yield from`` there: the forwarding of
    ``asend``, ``athrow`` and ``aclose`` is written out)."""
    prediction = _begin_stream(begin, parent)
    generator: Any = make()
    step: Callable[[Any], Any] = generator.asend
    value: Any = None
    with prediction:  # started already; its exit ends it (a close is no error)
        while True:
            with prediction.step():
                try:
                    item = await step(value)
                except StopAsyncIteration:
                    return
            prediction.record_result(item, output_of)
            try:
                value = yield item
                step = generator.asend
            except GeneratorExit:
                await generator.aclose()
                raise
            except BaseException as thrown:  # noqa: BLE001 - forwarded into the user's generator
                step, value = generator.athrow, thrown
