"""What every modeltel integration shares: model identity, suppression, one observed call.

Identity precedence (the same for every library): a name/version given to
:func:`register_model`, then ``MODELTEL_MODEL_NAME`` / ``MODELTEL_MODEL_VERSION``, then the
model object's ``model_name``/``name`` and ``model_version``/``version``/``__version__``
attributes, then a name derived from the class (version ``unknown``).

Suppression: a prediction already in progress (``modeltel.current_prediction()``), a block
marked by :func:`suppressed_predictions` (model training, health checks) or OpenTelemetry's
own ``suppress_instrumentation`` flag turn the auto-instrumentation wrappers into plain
calls, so a pipeline calling its steps, or a model calling a sub-model, gives one span.
"""

from __future__ import annotations

import sys
import threading
import weakref
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Mapping

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from modeltel import _telemetry
from modeltel._monitor import (
    _MISSING,
    NO_OUTPUT,
    Prediction,
    _begin,
    _detach,
    _end,
    _Options,
    _record_chunk,
    current_prediction,
    stream,
    stream_async,
)
from modeltel._telemetry import report_internal_error

__all__ = [
    "register_model",
    "model_identity",
    "suppressed_predictions",
    "predictions_suppressed",
    "run_observed",
    "run_observed_stream",
    "stamp_server_span",
    "NO_OUTPUT",
    "route_model",
]


# http.route -> (model, version) last seen predicting on that route, so that a request
# rejected before the model ran (FastAPI's 422) is counted for the model that route serves,
# also in zero-code mode where no route was marked. Bounded: routes come from code.
_route_models: dict[str, tuple[str, str]] = {}
_MAX_ROUTES = 1000


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

_registry_lock = threading.Lock()
_registry: "weakref.WeakKeyDictionary[Any, tuple[str | None, str | None]]" = weakref.WeakKeyDictionary()
# Objects that cannot be weakly referenced are kept by id with a strong reference, bounded.
_strong_registry: dict[int, tuple[Any, str | None, str | None]] = {}
_MAX_STRONG = 1024


def register_model(model: Any, name: str | None = None, version: str | None = None) -> Any:
    """Give a model object the name and version its automatic predict spans carry.

    Returns ``model`` so it can be used inline::

        clf = modeltel.instrumentation.register_model(joblib.load("fraud.pkl"), "fraud", "3.1.0")
        clf.predict(X)   # span "predict fraud", ml.model.version 3.1.0 (auto-instrumented)
    """
    with _registry_lock:
        try:
            _registry[model] = (name, version)
        except TypeError:  # not weak-referenceable (e.g. some C extension objects)
            if len(_strong_registry) < _MAX_STRONG or id(model) in _strong_registry:
                _strong_registry[id(model)] = (model, name, version)
    return model


def _registered(model: Any) -> tuple[str | None, str | None]:
    try:
        found = _registry.get(model)
    except TypeError:
        found = None
    if found is not None:
        return found
    strong = _strong_registry.get(id(model))
    if strong is not None and strong[0] is model:
        return strong[1], strong[2]
    return None, None


def _str_attr(obj: Any, names: tuple[str, ...]) -> str | None:
    for attr in names:
        try:
            value = getattr(obj, attr, None)
        except Exception:  # noqa: BLE001 - a property that raises is no name
            continue
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            text = str(value)
            if text:
                return text
    return None


def explicit_identity(model: Any) -> tuple[str | None, str | None]:
    """Name and version from the registry, the environment or the object's attributes;
    ``None`` where none of them says (no class-name or ``unknown`` fallback)."""
    name, version = _registered(model)
    config = _telemetry.default_config()
    name = name or config.model_name or _str_attr(model, ("model_name", "name"))
    version = version or config.model_version or _str_attr(
        model, ("model_version", "version", "__version__")
    )
    return name, version


def model_identity(model: Any, default_name: str | None = None) -> tuple[str, str]:
    """The (name, version) of ``model`` by the precedence in the module docstring."""
    name, version = explicit_identity(model)
    return name or default_name or type(model).__name__, version or "unknown"


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
        span.set_attributes({"ml.model.name": model, "ml.model.version": version})


def _enter_server_span(model: str, version: str) -> str | None:
    """Stamp the model on the current server span (if any) and return its ``http.route``.

    One look-up of the current span for both; ``kind`` and ``attributes`` are read
    duck-typed from the SDK span so that this module stays on the API.
    """
    span = trace.get_current_span()
    if getattr(span, "kind", None) is not SpanKind.SERVER or not span.is_recording():
        return None
    span.set_attributes({"ml.model.name": model, "ml.model.version": version})
    attributes = getattr(span, "attributes", None)
    route = attributes.get("http.route") if isinstance(attributes, Mapping) else None
    return route if isinstance(route, str) else None


# One _Options per model and version served (bounded: they come from code, not data),
# instead of one per request.
_options_cache: dict[tuple[str, str], _Options] = {}


def _options_for(model: str, version: str) -> _Options:
    options = _options_cache.get((model, version))
    if options is None:
        options = _Options(model=model, version=version)
        if len(_options_cache) < 10_000:
            _options_cache[(model, version)] = options
    return options


def _begin_observed(
    model: str, version: str, inputs: Any, has_inputs: bool, attributes: Mapping[str, Any] | None
) -> Prediction:
    """Start the prediction; the input summary, ``attributes`` and the route go in with the
    span's own attributes. ``_begin`` contains its own failures."""
    extra = dict(attributes) if attributes else {}
    try:
        route = _enter_server_span(model, version)
        if route is not None:
            extra["http.route"] = route
            remember_route_model(route, model, version)
    except Exception as exc:  # noqa: BLE001 - fail-open: the model still runs
        report_internal_error("instrumentation_enter", exc)
    return _begin(_options_for(model, version), None, inputs if has_inputs else _MISSING, extra)


def run_observed_stream(
    model: str,
    version: str,
    make: Callable[[], Any],
    *,
    is_async: bool,
    inputs: Any = None,
    has_inputs: bool = True,
    output_of: Callable[[Any], Any] | None = None,
) -> Any:
    """A (sync or async) generator from ``make()`` as one prediction of ``model``: the span
    starts at the first step and ends with the stream, each item is a streamed output.

    The span's parent is the context of this call (the HTTP request's), not that of the
    first step: a server may iterate the stream after the request's context is detached
    (Flask does, outside ``stream_with_context``).
    """
    parent = otel_context.get_current()

    def begin() -> Prediction:
        token = otel_context.attach(parent)
        try:
            prediction = _begin_observed(model, version, inputs, has_inputs, None)
            _detach(prediction)  # before the parent's token: contexts are restored in order
        finally:
            otel_context.detach(token)
        return prediction

    if is_async:
        return stream_async(begin, make, output_of)
    return stream(begin, make, output_of)


def _finish(prediction: Prediction, result: Any, output_of: Callable[[Any], Any] | None) -> None:
    _record_chunk(prediction, result, output_of)
    _end(prediction)


def run_observed(
    model: str,
    version: str,
    call: Callable[[], Any],
    *,
    inputs: Any = None,
    has_inputs: bool = True,
    attributes: Mapping[str, Any] | None = None,
    output_of: Callable[[Any], Any] | None = None,
) -> Any:
    """Run ``call()`` as one prediction of ``model``; its result and exceptions unchanged.

    ``inputs`` is summarised before the call (when ``has_inputs``), the result (or
    ``output_of(result)``) after it. Any failure inside modeltel is contained.
    """
    prediction = _begin_observed(model, version, inputs, has_inputs, attributes)
    try:
        result = call()
    except BaseException as exc:
        _end(prediction, exc)
        raise
    _finish(prediction, result, output_of)
    return result


async def run_observed_async(
    model: str,
    version: str,
    call: Callable[[], Any],
    *,
    inputs: Any = None,
    has_inputs: bool = True,
    attributes: Mapping[str, Any] | None = None,
    output_of: Callable[[Any], Any] | None = None,
) -> Any:
    """:func:`run_observed` for a coroutine function ``call``."""
    prediction = _begin_observed(model, version, inputs, has_inputs, attributes)
    try:
        result = await call()
    except BaseException as exc:
        _end(prediction, exc)
        raise
    _finish(prediction, result, output_of)
    return result


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
        report_internal_error("flush", exc)
    for provider in (trace.get_tracer_provider(), metrics.get_meter_provider(), _logs.get_logger_provider()):
        flush = getattr(provider, "force_flush", None)
        if callable(flush):
            try:
                flush(timeout_millis)
            except Exception as exc:  # noqa: BLE001
                report_internal_error("flush", exc)


def module_loaded(name: str) -> Any:
    """The module ``name`` if it is already imported (never imports it)."""
    return sys.modules.get(name)
