"""``instrument_fastapi(app)``: HTTP spans from the official OpenTelemetry FastAPI
instrumentation, predict spans as their children, 422s counted as rejected inputs."""

from __future__ import annotations

import contextlib
import inspect
from dataclasses import dataclass, field
from typing import Any, Mapping

from typing_extensions import Unpack

from modeltel._telemetry import report_internal_error
from modeltel.instrumentation._common import flush_all, suppressed_predictions
from modeltel.instrumentation._routes import RouteSpec, spec_of, wrap_handler
from modeltel.instrumentation._web import (
    STATE_ATTR,
    AppState,
    FastAPIArgs,
    count_rejected_input,
    instrument_web_app,
)

__all__ = ["instrument_fastapi", "prepare_fastapi_app", "uninstrument_fastapi"]

_VALIDATION_ERROR = "fastapi.exceptions.RequestValidationError"


@dataclass
class _State(AppState):
    handler_wrapped: bool = False
    middleware_added: bool = False
    lifespan_wrapped: bool = False
    #: What was replaced, to be put back by uninstrument_fastapi: (route, original call),
    #: the validation handler before ours (None: FastAPI's default), the lifespan.
    wrapped_calls: list[tuple[Any, Any]] = field(default_factory=list)
    original_validation_handler: Any = None
    original_lifespan: Any = None


class _ModeltelMiddleware:
    """Pure ASGI (no BaseHTTPMiddleware: streaming and contextvars stay intact).

    Model calls made while serving a health or metrics path are not predictions; listed
    predict routes added after ``instrument_fastapi()`` are wrapped before the first request.
    """

    def __init__(self, app: Any, state: "_State") -> None:
        self.app = app
        self.state = state
        self.routes_checked = False

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope.get("type") != "http":
            await self.app(scope, receive, send)
            return
        if not self.routes_checked:
            self.routes_checked = True
            if self.state.routes and scope.get("app") is not None:
                try:
                    _wrap_routes(scope["app"], self.state.routes, self.state)
                except Exception as exc:  # noqa: BLE001 - fail-open
                    report_internal_error("fastapi.wrap_routes", exc)
        if scope.get("path", "").rstrip("/") in self.state.health_paths:
            with suppressed_predictions():
                await self.app(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _matchable_routes(app: Any) -> list[tuple[str, Any]]:
    """(full path, route objects that may hold the dependant) for every route of the app,
    including those added with include_router (nested under router nodes in FastAPI >= 0.137)."""
    from fastapi import routing

    iter_contexts = getattr(routing, "iter_route_contexts", None)
    if iter_contexts is None:
        return [(getattr(route, "path", ""), [route]) for route in app.router.routes]
    out = []
    for context in iter_contexts(app.router.routes):
        candidates = [getattr(context, "original_route", None), getattr(context, "_effective_route", None), getattr(context, "route", None)]
        out.append((context.path, [c for c in candidates if c is not None]))
    return out


def _wrap_routes(app: Any, routes: Mapping[str, RouteSpec], state: "_State | None" = None) -> None:
    for path, candidates in _matchable_routes(app):
        spec = routes.get(path)
        if spec is None:
            continue
        for route in candidates:
            dependant = getattr(route, "dependant", None)
            if dependant is None or getattr(dependant, "call", None) is None:
                continue
            if spec_of(dependant.call) is None:
                # FastAPI calls dependant.call at request time; the wrapper keeps the
                # function's signature and sync/async nature, so the handler built for the
                # route at definition time stays valid.
                if state is not None:
                    state.wrapped_calls.append((dependant, dependant.call))
                dependant.call = wrap_handler(dependant.call, spec)


def _spec_for_request(app: Any, request: Any) -> RouteSpec | None:
    route = request.scope.get("route")
    for candidate in (getattr(route, "endpoint", None), getattr(getattr(route, "dependant", None), "call", None)):
        spec = spec_of(candidate)
        if spec is not None:
            return spec
    state = getattr(app, STATE_ATTR, None)
    path = getattr(route, "path", None)
    if state is not None and path in state.routes:
        return state.routes[path]
    return None


def _wrap_validation_handler(app: Any, state: "_State") -> None:
    from fastapi.exception_handlers import request_validation_exception_handler
    from fastapi.exceptions import RequestValidationError

    state.original_validation_handler = app.exception_handlers.get(RequestValidationError)
    original = state.original_validation_handler or request_validation_exception_handler
    if getattr(original, "_modeltel", False):
        return

    async def handler(request: Any, exc: Any) -> Any:
        try:
            meter_provider = getattr(getattr(app, STATE_ATTR, None), "meter_provider", None)
            spec = _spec_for_request(app, request)
            route = getattr(request.scope.get("route"), "path", None)
            name = getattr(request.scope.get("endpoint"), "__name__", "model")
            count_rejected_input(spec, name, route, _VALIDATION_ERROR, meter_provider)
        except Exception as error:  # noqa: BLE001 - fail-open
            report_internal_error("fastapi.validation", error)
        result = original(request, exc)
        if inspect.isawaitable(result):
            result = await result
        return result

    handler._modeltel = True  # type: ignore[attr-defined]
    app.exception_handlers[RequestValidationError] = handler


def _wrap_lifespan(app: Any, state: "_State") -> None:
    router = app.router
    original = state.original_lifespan = router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(asgi_app: Any) -> Any:
        async with original(asgi_app) as state:
            yield state
        # After the application's own shutdown: export what is buffered. uvicorn re-raises
        # SIGTERM once shut down, so atexit handlers would never run.
        flush_all()

    router.lifespan_context = lifespan


def prepare_fastapi_app(app: Any, settings: AppState | None = None) -> None:
    """Install modeltel's pieces on ``app`` (idempotent); used by ``instrument_fastapi`` and,
    in zero-code mode (no ``settings``), when the app builds its middleware stack."""
    state, _ = _State.attach(app, settings)
    if state.routes:
        _wrap_routes(app, state.routes, state)
    if not state.handler_wrapped:
        _wrap_validation_handler(app, state)
        state.handler_wrapped = True
    if not state.lifespan_wrapped:
        _wrap_lifespan(app, state)
        state.lifespan_wrapped = True
    if not state.middleware_added and getattr(app, "middleware_stack", None) is None:
        from starlette.middleware import Middleware

        app.user_middleware.insert(0, Middleware(_ModeltelMiddleware, state=state))
        state.middleware_added = True


def instrument_fastapi(app: Any, **options: Unpack[FastAPIArgs]) -> Any:
    """Instrument a FastAPI app: HTTP server spans, predict spans, rejected inputs.

    Args:
        app: the ``fastapi.FastAPI`` application (routes may be added before or after).
        predict_routes: route paths whose handler is one prediction, e.g. ``["/predict"]``,
            or a mapping ``{"/predict": "iris"}`` / ``{"/predict": ("iris", "1.2.0")}``.
            Handlers decorated with :func:`predict_route` need not be listed.
        model, version: the model of the listed routes that do not name one.
        baseline: a :class:`modeltel.Baseline` or the path of a saved one, for the listed
            routes (else ``MODELTEL_BASELINE``); it also names their model and version
            when ``model``/``version`` do not.
        health_paths: probe endpoints: no HTTP span, model calls there are not counted.
        excluded_urls: more URLs the HTTP instrumentation skips (comma-separated regexes).
        tracer_provider, meter_provider, and the other keywords of
            ``FastAPIInstrumentor.instrument_app`` (:class:`modeltel.instrumentation._web.FastAPIArgs`):
            passed on to it (``exclude_spans`` defaults to ``["receive", "send"]``: no
            per-message ASGI spans).

    Returns ``app``. Example::

        app = FastAPI()

        @app.post("/predict")
        def predict(request: IrisRequest) -> dict: ...

        modeltel.instrument_fastapi(app, predict_routes={"/predict": ("iris", "1.2.0")})
    """
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    # The ASGI instrumentation's per-message "http receive"/"http send" spans triple the
    # span count of every request for little insight; off unless asked for.
    options.setdefault("exclude_spans", ["receive", "send"])
    return instrument_web_app(app, "fastapi", FastAPIInstrumentor, prepare_fastapi_app, options)


def uninstrument_fastapi(app: Any) -> Any:
    """Undo :func:`instrument_fastapi`: the HTTP instrumentation removed, every predict
    route, the validation handler, the lifespan and the middleware list as they were.
    Returns ``app``; an app that was not instrumented is left alone."""
    from fastapi.exceptions import RequestValidationError
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    state = getattr(app, STATE_ATTR, None)
    if state is not None:
        for dependant, call in reversed(state.wrapped_calls):
            dependant.call = call
        if state.handler_wrapped:
            if state.original_validation_handler is None:
                app.exception_handlers.pop(RequestValidationError, None)
            else:
                app.exception_handlers[RequestValidationError] = state.original_validation_handler
        if state.original_lifespan is not None:
            app.router.lifespan_context = state.original_lifespan
        app.user_middleware[:] = [m for m in app.user_middleware if getattr(m, "cls", None) is not _ModeltelMiddleware]
        delattr(app, STATE_ATTR)
    if getattr(app, "_is_instrumented_by_opentelemetry", False):
        FastAPIInstrumentor.uninstrument_app(app)  # rebuilds the middleware stack
    elif state is not None and getattr(app, "middleware_stack", None) is not None:
        app.middleware_stack = app.build_middleware_stack()
    return app
