"""Predict routes: an HTTP handler whose request body is the model input.

``predict_route`` (a decorator) and the ``predict_routes=`` lists of ``instrument_fastapi``
/ ``instrument_flask`` both end here: the handler runs as one prediction (span
``predict {model}``, child of the HTTP server span), the request body is summarised as the
model input and the handler's return value as the output.

The body is never read a second time: under FastAPI it is the argument FastAPI already
parsed (a pydantic model, a dict or a list of records); under Flask it is
``request.get_json()``, which Flask caches for the view. Responses the handler builds
itself (``StreamingResponse``, a Flask ``Response``) are passed on untouched and unread.
"""

from __future__ import annotations

import inspect
import sys
from dataclasses import dataclass
from typing import Any, Callable, Mapping, TypeVar, overload

import wrapt

from modeltel import _registry, _telemetry
from modeltel._prediction import load_baseline
from modeltel._telemetry import report_internal_error
from modeltel.instrumentation._common import (
    NO_OUTPUT,
    current_prediction,
    default_baseline,
    model_identity,
    run_observed,
    run_observed_stream,
)

__all__ = ["RouteSpec", "flask_body_rejected", "predict_route", "wrap_handler", "spec_of", "to_model_input"]

F = TypeVar("F", bound=Callable[..., Any])

#: Largest JSON request body (bytes) a Flask predict route summarises.
_MAX_FLASK_BODY = 16 * 1024 * 1024
_RESPONSE_MODULES = frozenset({"starlette", "fastapi", "flask", "werkzeug"})


@dataclass(frozen=True)
class RouteSpec:
    """Which model a predict route serves and where its input is."""

    model: str | None = None
    version: str | None = None
    input_arg: str | None = None
    #: A loaded :class:`modeltel.Baseline` (else ``MODELTEL_BASELINE``'s).
    baseline: Any = None

    def identity(self, fallback: str) -> tuple[str, str]:
        """The model and version this route serves: the identity rule, with the route's
        baseline (else ``MODELTEL_BASELINE``'s) naming them when nothing explicit does."""
        baseline = self.baseline if self.baseline is not None else default_baseline()
        return model_identity(None, self.model, self.version, fallback, baseline=baseline)


class _PredictRoute(wrapt.FunctionWrapper):
    """A handler wrapped as a predict route; ``_self_spec`` says for which model."""

    _self_spec: RouteSpec


def spec_of(handler: Any) -> RouteSpec | None:
    """The :class:`RouteSpec` of a wrapped handler, or ``None``."""
    if type(handler) is _PredictRoute:
        return handler._self_spec
    return None


def _pydantic_dump(value: Any) -> Any:
    dump = getattr(value, "model_dump", None)
    if callable(dump) and type(value).__module__ != "builtins":
        return dump()
    return value


def to_model_input(value: Any) -> Any:
    """A request body as a model input: pydantic models become dicts, ``{"instances": [...]}``
    style envelopes (one key holding a list) their list, dicts and lists stay as they are."""
    if type(value) is dict and len(value) != 1:  # a plain record: nothing to unwrap
        return value
    value = _pydantic_dump(value)
    if isinstance(value, list) and value and hasattr(value[0], "model_dump"):
        value = [_pydantic_dump(item) for item in value]
    if isinstance(value, dict) and len(value) == 1:
        (inner,) = value.values()
        inner = _pydantic_dump(inner)
        if isinstance(inner, list):
            if inner and hasattr(inner[0], "model_dump"):
                inner = [_pydantic_dump(item) for item in inner]
            return inner
    return value


# type -> whether its values are request bodies; bounded: the types come from code.
_body_types: dict[type, bool] = {dict: True, list: True}
_MAX_BODY_TYPES = 1000


def _reset_body_types() -> None:
    _body_types.clear()
    _body_types.update({dict: True, list: True})


_registry.register("routes.body_types", reset=_reset_body_types)


def _is_body(value: Any) -> bool:
    """A dict, a list or a pydantic model (decided once per type)."""
    cls = type(value)
    known = _body_types.get(cls)
    if known is None:
        known = isinstance(value, (dict, list)) or (hasattr(value, "model_dump") and hasattr(cls, "model_fields"))
        if len(_body_types) < _MAX_BODY_TYPES:
            _body_types[cls] = known
    return known


#: What :func:`_flask_body` returns for a body that says it is JSON and does not parse.
_REJECTED: Any = object()
#: A Flask body not looked at yet.
_UNREAD: Any = object()


def _flask_body() -> Any:
    """The current Flask request's JSON body, read once for the whole request: ``None``
    without a Flask request or a bounded JSON body, ``_REJECTED`` for JSON that does not
    parse (the view will answer 400 before any model runs: a rejected input, as FastAPI's
    422, not a failed prediction)."""
    flask = sys.modules.get("flask")
    if flask is None or not flask.has_request_context():
        return None
    request = flask.request
    length = request.content_length
    # Only a JSON body of known, bounded size: a chunked upload is left for the view to stream.
    if not request.is_json or length is None or length > _MAX_FLASK_BODY:
        return None
    # Cached by Flask: the view's own get_json() does not read the body again.
    body = request.get_json(silent=True)
    return _REJECTED if body is None and length else body


def flask_body_rejected() -> bool:
    """True when the current Flask request says it is JSON but its body does not parse."""
    return _flask_body() is _REJECTED


def _not_body(param: inspect.Parameter) -> bool:
    """A FastAPI parameter that is a dependency, query, header, ... (anything but a body)."""
    markers = [param.default]
    annotation = param.annotation
    if getattr(annotation, "__metadata__", None):  # Annotated[T, Depends(...)]
        markers.extend(annotation.__metadata__)
    for marker in markers:
        cls = type(marker)
        if cls.__module__.startswith("fastapi.") and cls.__name__ != "Body":
            return True
    return False


def _body_names(signature: inspect.Signature | None) -> tuple[str, ...] | None:
    if signature is None:
        return None
    return tuple(name for name, param in signature.parameters.items() if not _not_body(param))


def _input_position(spec: RouteSpec, signature: inspect.Signature | None) -> int | None:
    """Where ``spec.input_arg`` stands among the handler's positional parameters."""
    names = list(signature.parameters) if signature is not None else []
    return names.index(spec.input_arg) if spec.input_arg in names else None


def _find_input(
    spec: RouteSpec,
    input_position: int | None,
    body_names: tuple[str, ...] | None,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    flask_body: Any = _UNREAD,
) -> Any:
    if spec.input_arg is not None:
        if spec.input_arg in kwargs:
            return to_model_input(kwargs[spec.input_arg])
        if input_position is not None and input_position < len(args):
            return to_model_input(args[input_position])
        return None
    # Positional arguments (Flask path values, direct calls), then keyword arguments that
    # are not dependencies or query/header/path parameters (FastAPI passes keywords).
    for value in args:
        if _is_body(value):
            return to_model_input(value)
    for name, value in kwargs.items():
        if (body_names is None or name in body_names) and _is_body(value):
            return to_model_input(value)
    if flask_body is _UNREAD:
        flask_body = _flask_body()
    return None if flask_body is _REJECTED else flask_body


def _json_response(result: Any) -> Any:
    """The JSON a framework response object carries when it is already in memory (Flask's
    ``jsonify``, Starlette's ``JSONResponse``), else ``NO_OUTPUT``: a stream or a file
    response is never read."""
    if getattr(result, "is_streamed", True) is False and getattr(result, "is_json", False):
        return result.get_json(silent=True)  # Flask/werkzeug: the body built by jsonify
    if type(result).__name__ in {"JSONResponse", "ORJSONResponse", "UJSONResponse"}:
        body = getattr(result, "body", None)
        if isinstance(body, (bytes, bytearray)) and len(body) <= _MAX_FLASK_BODY:
            import json

            return json.loads(body)
    return NO_OUTPUT


def _route_output(result: Any) -> Any:
    if type(result) is dict or type(result) is list:  # what a handler returns most often
        return to_model_input(result)
    if isinstance(result, tuple) and result:
        result = result[0]  # Flask's (body, status[, headers])
    if type(result).__module__.split(".", 1)[0] in _RESPONSE_MODULES:
        result = _json_response(result)
        if result is NO_OUTPUT or result is None:
            return NO_OUTPUT
    return to_model_input(result) if _is_body(result) else result


def wrap_handler(handler: Callable[..., Any], spec: RouteSpec) -> Callable[..., Any]:
    """``handler`` wrapped as a predict route (idempotent)."""
    if spec_of(handler) is not None:
        return handler
    signature: inspect.Signature | None
    try:
        # String annotations (``from __future__ import annotations``) resolved as FastAPI does.
        signature = inspect.signature(handler, eval_str=True)
    except Exception:  # noqa: BLE001 - an unresolvable annotation: fall back to the raw one
        try:
            signature = inspect.signature(handler)
        except (TypeError, ValueError):
            signature = None
    # Per-route constants, worked out once here rather than on every request.
    body_names = _body_names(signature)
    input_position = _input_position(spec, signature)
    fallback = getattr(handler, "__name__", "model")
    is_async = inspect.iscoroutinefunction(handler)
    is_stream = inspect.isgeneratorfunction(handler) or inspect.isasyncgenfunction(handler)
    # (configuration, (model, version)): the route's identity changes only with the
    # configuration (MODELTEL_MODEL_NAME, MODELTEL_BASELINE, ...); one tuple, swapped whole.
    identity: list[Any] = [(None, None)]

    def prepare(
        config: Any, args: tuple[Any, ...], kwargs: dict[str, Any], flask_body: Any = _UNREAD
    ) -> tuple[str, str, Any, bool]:
        known = identity[0]
        if known[0] is not config:
            known = identity[0] = (config, spec.identity(fallback))
        model, version = known[1]
        try:
            inputs = _find_input(spec, input_position, body_names, args, kwargs, flask_body)
        except Exception as exc:  # noqa: BLE001 - fail-open
            report_internal_error("routes.find_input", exc)
            inputs = None
        return model, version, inputs, inputs is not None

    if is_stream:
        # A streaming handler (FastAPI streams what it yields as JSON Lines or server-sent
        # events): the prediction lasts as long as the stream, each item is an output row.
        stream_is_async = inspect.isasyncgenfunction(handler)

        def stream_wrapper(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
            config = _telemetry.default_config()
            if not config.enabled or current_prediction() is not None:
                return wrapped(*args, **kwargs)
            model, version, inputs, has_inputs = prepare(config, args, kwargs)
            return run_observed_stream(
                model, version, lambda: wrapped(*args, **kwargs), is_async=stream_is_async,
                inputs=inputs, has_inputs=has_inputs, output_of=_route_output, baseline=spec.baseline,
            )

        wrapper: Callable[..., Any] = stream_wrapper
    elif is_async:

        async def async_wrapper(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
            config = _telemetry.default_config()
            if not config.enabled or current_prediction() is not None:
                return await wrapped(*args, **kwargs)
            model, version, inputs, has_inputs = prepare(config, args, kwargs)
            return await run_observed(
                model, version, lambda: wrapped(*args, **kwargs), is_async=True,
                inputs=inputs, has_inputs=has_inputs, output_of=_route_output, baseline=spec.baseline,
            )

        wrapper = async_wrapper
    else:

        def sync_wrapper(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
            config = _telemetry.default_config()
            if not config.enabled or current_prediction() is not None:
                return wrapped(*args, **kwargs)
            flask_body = _flask_body()
            if flask_body is _REJECTED:  # counted by the app's after_request hook
                return wrapped(*args, **kwargs)
            model, version, inputs, has_inputs = prepare(config, args, kwargs, flask_body)
            return run_observed(
                model, version, lambda: wrapped(*args, **kwargs),
                inputs=inputs, has_inputs=has_inputs, output_of=_route_output, baseline=spec.baseline,
            )

        wrapper = sync_wrapper
    wrapped = _PredictRoute(handler, wrapper)
    wrapped._self_spec = spec
    return wrapped


@overload
def predict_route(func: F) -> F: ...
@overload
def predict_route(
    *,
    model: str | None = None,
    version: str | None = None,
    input_arg: str | None = None,
    baseline: Any = None,
) -> Callable[[F], F]: ...


def predict_route(
    func: Any = None,
    *,
    model: str | None = None,
    version: str | None = None,
    input_arg: str | None = None,
    baseline: Any = None,
) -> Any:
    """Mark a FastAPI or Flask handler as a predict route of ``model``.

    Put it under the framework's route decorator::

        @app.post("/predict")
        @modeltel.instrumentation.predict_route(model="iris", version="1.2.0")
        def predict(request: IrisRequest) -> dict:
            return {"species": int(clf.predict([list(request.model_dump().values())])[0])}

    The request body (the first argument that is a pydantic model, a dict or a list, or
    ``input_arg``; under Flask the JSON body) is summarised as the model input, the
    returned value as the output (a ``jsonify``/``JSONResponse`` body is read, a stream
    never); model calls inside the handler add no spans of their own. ``baseline``: a
    :class:`modeltel.Baseline` or the path of a saved one (else ``MODELTEL_BASELINE``),
    which also names the model and version when ``model``/``version`` are not given.
    """
    spec = RouteSpec(model, version, input_arg, load_baseline(baseline))

    def decorate(handler: F) -> F:
        return wrap_handler(handler, spec)  # type: ignore[return-value]

    return decorate if func is None else decorate(func)


def spec_from(value: Any, model: str | None, version: str | None, baseline: Any = None) -> RouteSpec:
    """A :class:`RouteSpec` from a ``predict_routes`` mapping value."""
    if isinstance(value, RouteSpec):
        return value
    if isinstance(value, str):
        return RouteSpec(value, version, None, baseline)
    if isinstance(value, tuple) and len(value) == 2:
        return RouteSpec(value[0], value[1], None, baseline)
    if isinstance(value, Mapping):
        return RouteSpec(
            value.get("model", model),
            value.get("version", version),
            value.get("input_arg"),
            load_baseline(value["baseline"]) if "baseline" in value else baseline,
        )
    return RouteSpec(model, version, None, baseline)


def normalise_routes(
    routes: Any, model: str | None, version: str | None, baseline: Any = None
) -> dict[str, RouteSpec]:
    """``predict_routes=`` (paths, or a mapping path -> model / (model, version) / dict);
    ``baseline`` (a Baseline or a path) for the routes that do not name their own."""
    if routes is None:
        return {}
    baseline = load_baseline(baseline)
    if isinstance(routes, str):
        routes = [routes]
    if isinstance(routes, Mapping):
        return {path: spec_from(value, model, version, baseline) for path, value in routes.items()}
    return {path: RouteSpec(model, version, None, baseline) for path in routes}
