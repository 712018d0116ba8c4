"""What every modeltel integration shares: suppression, the served route, one observed call.

Model identity is the one rule of ``modeltel._identity`` (a name/version given in code,
then :func:`register_model`, the environment, the model object's attributes, a name from
the code or the class, a detected version).

Suppression: a prediction already in progress (``modeltel.current_prediction()``), a block
marked by :func:`suppressed_predictions` (model training, health checks) or OpenTelemetry's
own ``suppress_instrumentation`` flag turn the auto-instrumentation wrappers into plain
calls, so a pipeline calling its steps, or a model calling a sub-model, gives one span.

Every observed call is one :class:`modeltel._prediction.Prediction` run by the same
runners as ``@monitor``.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Mapping

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from modeltel import _prediction, _registry
from modeltel import _semconv as sc
from modeltel._identity import model_identity, register_model
from modeltel._prediction import NO_OUTPUT, Options, Prediction, current_prediction, default_baseline
from modeltel._telemetry import report_internal_error

__all__ = [
    "NO_OUTPUT",
    "current_prediction",
    "default_baseline",
    "model_identity",
    "predictions_suppressed",
    "register_model",
    "route_model",
    "run_observed",
    "run_observed_stream",
    "stamp_server_span",
    "suppressed_predictions",
]


# http.route -> (model, version) last seen predicting on that route, so that a request
# rejected before the model ran (FastAPI's 422) is counted for the model that route serves,
# also in zero-code mode where no route was marked. Bounded: routes come from code.
_route_models: dict[str, tuple[str, str]] = {}
_MAX_ROUTES = 1000
# One Options per model and version served (bounded: they come from code, not data),
# instead of one per request.
_options_cache: dict[tuple[str, str, Any, Any, Any], Options] = {}
_MAX_OPTIONS = 10_000


def _reset() -> None:
    _route_models.clear()
    _options_cache.clear()


_registry.register("instrumentation.routes", reset=_reset)


def route_model(route: str | None) -> tuple[str, str] | None:
    """The model last seen serving ``route``, if any."""
    return _route_models.get(route) if route else None


def remember_route_model(route: str, model: str, version: str) -> None:
    if _route_models.get(route) != (model, version) and (
        len(_route_models) < _MAX_ROUTES or route in _route_models
    ):
        _route_models[route] = (model, version)


# A key of our own in the OpenTelemetry context: set while code runs that must not count
# as predictions (fit(), score(), health and metrics endpoints).
_SUPPRESS_KEY = otel_context.create_key("modeltel-suppress-predictions")
# OpenTelemetry's own flag, set by opentelemetry.instrumentation.utils.suppress_instrumentation()
# (the key lives in the API, so reading it needs no instrumentation package).
_OTEL_SUPPRESS_KEY = getattr(otel_context, "_SUPPRESS_INSTRUMENTATION_KEY", "suppress_instrumentation")


@contextmanager
def suppressed_predictions() -> Iterator[None]:
    """Inside this block, auto-instrumented model calls produce no prediction telemetry."""
    token = otel_context.attach(otel_context.set_value(_SUPPRESS_KEY, True))
    try:
        yield
    finally:
        otel_context.detach(token)


def predictions_suppressed() -> bool:
    """True when an auto-instrumented call must pass straight through."""
    return (
        current_prediction() is not None
        or otel_context.get_value(_SUPPRESS_KEY) is True
        or bool(otel_context.get_value(_OTEL_SUPPRESS_KEY))
    )


def stamp_server_span(model: str, version: str) -> None:
    """Put the model served on the current HTTP server span (FastAPI/Flask/any server).

    Only a recording span of kind SERVER is touched; ``kind`` is read duck-typed from the
    SDK span so that this module stays on the API.
    """
    span = trace.get_current_span()
    if getattr(span, "kind", None) is SpanKind.SERVER and span.is_recording():
        span.set_attributes({sc.ATTR_MODEL_NAME: model, sc.ATTR_MODEL_VERSION: version})


def _enter_server_span(model: str, version: str) -> str | None:
    """Stamp the model on the current server span (if any) and return its ``http.route``.

    One look-up of the current span for both; ``kind`` and ``attributes`` are read
    duck-typed from the SDK span so that this module stays on the API.
    """
    span = trace.get_current_span()
    if getattr(span, "kind", None) is not SpanKind.SERVER or not span.is_recording():
        return None
    span.set_attributes({sc.ATTR_MODEL_NAME: model, sc.ATTR_MODEL_VERSION: version})
    # The SDK span's attributes, read through ``get`` (an isinstance check against the
    # Mapping ABC costs more than the look-up itself).
    get = getattr(getattr(span, "attributes", None), "get", None)
    route = get(sc.ATTR_HTTP_ROUTE) if callable(get) else None
    return route if type(route) is str else None


def options_for(
    model: str,
    version: str,
    baseline: Any = None,
    feature_names: tuple[str, ...] | None = None,
    vocabulary: frozenset[str] | None = None,
) -> Options:
    """The (cached) options of a model served by a route or hooked in a library; without a
    baseline of its own, the one ``MODELTEL_BASELINE`` names."""
    key = (model, version, id(baseline) if baseline is not None else None, feature_names, vocabulary)
    options = _options_cache.get(key)
    if options is None:
        if baseline is None:
            baseline = default_baseline()
        options = Options(
            model=model, version=version, baseline=baseline, feature_names=feature_names, vocabulary=vocabulary
        )
        if len(_options_cache) < _MAX_OPTIONS:
            _options_cache[key] = options
    return options


def _begin(
    model: str,
    version: str,
    inputs: Any,
    has_inputs: bool,
    attributes: Mapping[str, Any] | None,
    baseline: Any = None,
    feature_names: tuple[str, ...] | None = None,
    vocabulary: frozenset[str] | None = None,
) -> Prediction:
    """A prediction of ``model``; the input summary, ``attributes`` and the route go in
    with the span's own attributes (``attributes`` is read, never changed)."""
    try:
        route = _enter_server_span(model, version)
    except Exception as exc:  # noqa: BLE001 - fail-open
        report_internal_error("instrumentation.server_span", exc)
        route = None
    if route is not None:
        remember_route_model(route, model, version)
        attributes = {**attributes, sc.ATTR_HTTP_ROUTE: route} if attributes else {sc.ATTR_HTTP_ROUTE: route}
    options = options_for(model, version, baseline, feature_names, vocabulary)
    return Prediction(options, None, inputs if has_inputs else _prediction.MISSING, attributes)


def run_observed_stream(
    model: str,
    version: str,
    make: Callable[[], Any],
    *,
    is_async: bool,
    inputs: Any = None,
    has_inputs: bool = True,
    output_of: Callable[[Any], Any] | None = None,
    baseline: Any = None,
) -> Any:
    """A (sync or async) generator from ``make()`` as one prediction of ``model``: the span
    starts at the first step and ends with the stream, each item is a streamed output.

    The span's parent is the context of this call (the HTTP request's), not that of the
    first step: a server may iterate the stream after the request's context is detached
    (Flask does, outside ``stream_with_context``).
    """
    parent = otel_context.get_current()

    def begin() -> Prediction:
        return _begin(model, version, inputs, has_inputs, None, baseline)

    if is_async:
        return _prediction.stream_async(begin, make, output_of, parent)
    return _prediction.stream(begin, make, output_of, parent)


def run_observed(
    model: str,
    version: str,
    call: Callable[[], Any],
    *,
    is_async: bool = False,
    inputs: Any = None,
    has_inputs: bool = True,
    attributes: Mapping[str, Any] | None = None,
    output_of: Callable[[Any], Any] | None = None,
    baseline: Any = None,
    feature_names: tuple[str, ...] | None = None,
    vocabulary: frozenset[str] | None = None,
) -> Any:
    """Run ``call()`` as one prediction of ``model``; its result and exceptions unchanged.
    With ``is_async``, ``call`` is a coroutine function and this returns the awaitable.

    ``inputs`` is summarised before the call (when ``has_inputs``), the result (or
    ``output_of(result)``) after it. Any failure inside modeltel is contained.
    """
    prediction = _begin(model, version, inputs, has_inputs, attributes, baseline, feature_names, vocabulary)
    if is_async:
        return _prediction.run_async(prediction, call, output_of)
    return _prediction.run(prediction, call, output_of)


def flush_all(timeout_millis: int = 10_000) -> None:
    """Export everything buffered: modeltel's own pipeline and the global providers.

    Servers call this on graceful shutdown, because a server that re-raises SIGTERM after
    shutting down (uvicorn does) exits without running ``atexit`` handlers.
    """
    from opentelemetry import _logs, metrics

    import modeltel

    try:
        modeltel.force_flush(timeout_millis)
    except Exception as exc:  # noqa: BLE001
        report_internal_error("instrumentation.flush_modeltel", exc)
    for provider in (trace.get_tracer_provider(), metrics.get_meter_provider(), _logs.get_logger_provider()):
        flush = getattr(provider, "force_flush", None)
        if callable(flush):
            try:
                flush(timeout_millis)
            except Exception as exc:  # noqa: BLE001
                report_internal_error("instrumentation.flush_provider", exc)


def module_loaded(name: str) -> Any:
    """The module ``name`` if it is already imported (never imports it)."""
    return sys.modules.get(name)
