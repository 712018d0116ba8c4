"""``instrument_flask(app)``: HTTP spans from the official OpenTelemetry Flask
instrumentation, predict spans as their children."""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from modeltel._telemetry import contained
from modeltel.instrumentation._common import suppressed_predictions
from modeltel.instrumentation._routes import (
    RouteSpec,
    flask_body_rejected,
    normalise_routes,
    spec_of,
    wrap_handler,
)
from modeltel.instrumentation._web import DEFAULT_HEALTH_PATHS, count_rejected_input, excluded_urls_for

__all__ = ["instrument_flask", "prepare_flask_app", "uninstrument_flask"]

_STATE_ATTR = "_modeltel_state"


class _State:
    def __init__(self, routes: dict[str, RouteSpec], health_paths: frozenset[str]) -> None:
        self.routes = routes
        self.health_paths = health_paths
        self.wrapped_endpoints: set[str] = set()
        #: endpoint -> the view before modeltel wrapped it (put back by uninstrument_flask).
        self.original_views: dict[str, Any] = {}
        self.hooks: list[tuple[str, Any]] = []


def _health_view(view: Any) -> Any:
    def view_without_predictions(*args: Any, **kwargs: Any) -> Any:
        with suppressed_predictions():
            return view(*args, **kwargs)

    view_without_predictions._modeltel_health = True  # type: ignore[attr-defined]
    view_without_predictions.__name__ = getattr(view, "__name__", "health")
    view_without_predictions.__wrapped__ = view  # type: ignore[attr-defined]
    return view_without_predictions


def _wrap_views(app: Any, state: _State) -> None:
    for rule in app.url_map.iter_rules():
        endpoint = rule.endpoint
        view = app.view_functions.get(endpoint)
        if view is None or endpoint in state.wrapped_endpoints:
            continue
        path = rule.rule.rstrip("/") or "/"
        spec = state.routes.get(rule.rule) or state.routes.get(path)
        if spec is not None and spec_of(view) is None:
            # Flask looks the view up in view_functions on every request.
            state.original_views[endpoint] = view
            app.view_functions[endpoint] = wrap_handler(view, spec)
            state.wrapped_endpoints.add(endpoint)
        elif path in state.health_paths and not getattr(view, "_modeltel_health", False):
            state.original_views[endpoint] = view
            app.view_functions[endpoint] = _health_view(view)
            state.wrapped_endpoints.add(endpoint)


_BAD_REQUEST = "werkzeug.exceptions.BadRequest"


def _count_bad_json(state: _State) -> None:
    """A 400 because the JSON body does not parse is a rejected input of the model the route
    serves, counted as FastAPI's 422 is (``ml.input.rejected``), not a failed prediction."""
    from flask import request

    if not flask_body_rejected():
        return
    rule = request.url_rule.rule if request.url_rule is not None else None
    spec = state.routes.get(rule) if rule is not None else None
    if spec is not None:
        model, version = spec.identity(request.endpoint or "model")
        count_rejected_input(model, version, rule, _BAD_REQUEST)
    else:
        count_rejected_input(None, None, rule, _BAD_REQUEST)


def prepare_flask_app(app: Any, routes: Mapping[str, RouteSpec] | None = None, health_paths: Iterable[str] = DEFAULT_HEALTH_PATHS) -> None:
    """Wrap the app's predict and health views (idempotent); views added later are wrapped
    before their first request."""
    state = getattr(app, _STATE_ATTR, None)
    if state is None:
        state = _State(dict(routes or {}), frozenset(p.rstrip("/") for p in health_paths))
        setattr(app, _STATE_ATTR, state)
        # A cheap check per request; it only does work when the url map changed.
        seen = [len(app.view_functions)]

        def wrap_new_views() -> None:
            if len(app.view_functions) != seen[0]:
                _wrap_views(app, state)
                seen[0] = len(app.view_functions)

        def count_rejected(response: Any) -> Any:
            if response.status_code == 400:
                with contained("flask.count_rejected"):
                    _count_bad_json(state)
            return response

        try:
            app.before_request(wrap_new_views)
            app.after_request(count_rejected)
            state.hooks = [("before", wrap_new_views), ("after", count_rejected)]
        except AssertionError:
            pass  # the app already served a request: no more hooks; views present are wrapped
    elif routes:
        state.routes.update(routes)
    _wrap_views(app, state)


def instrument_flask(
    app: Any,
    *,
    predict_routes: Iterable[str] | Mapping[str, Any] | None = None,
    model: str | None = None,
    version: str | None = None,
    baseline: Any = None,
    health_paths: Iterable[str] = DEFAULT_HEALTH_PATHS,
    excluded_urls: str | None = None,
    tracer_provider: Any = None,
    meter_provider: Any = None,
    **otel_options: Any,
) -> Any:
    """Instrument a Flask app: HTTP server spans and predict spans as their children.

    Arguments as for :func:`instrument_fastapi`; the model input of a predict route is its
    JSON body (``request.get_json()``, cached by Flask for the view). Returns ``app``::

        app = Flask(__name__)

        @app.post("/predict")
        def predict():
            return {"species": clf.predict([request.get_json()["features"]]).tolist()}

        modeltel.instrument_flask(app, predict_routes={"/predict": ("iris", "1.2.0")})
    """
    from opentelemetry.instrumentation.flask import FlaskInstrumentor

    health = tuple(health_paths)
    if not getattr(app, "_is_instrumented_by_opentelemetry", False):
        FlaskInstrumentor.instrument_app(
            app,
            excluded_urls=excluded_urls_for("flask", health, excluded_urls),
            tracer_provider=tracer_provider,
            meter_provider=meter_provider,
            **otel_options,
        )
    prepare_flask_app(app, normalise_routes(predict_routes, model, version, baseline), health)
    return app


def uninstrument_flask(app: Any) -> Any:
    """Undo :func:`instrument_flask`: the HTTP instrumentation removed, every predict and
    health view and request hook as they were. Returns ``app``."""
    from opentelemetry.instrumentation.flask import FlaskInstrumentor

    state = getattr(app, _STATE_ATTR, None)
    if state is not None:
        for endpoint, view in state.original_views.items():
            app.view_functions[endpoint] = view
        for kind, hook in state.hooks:
            funcs = (app.before_request_funcs if kind == "before" else app.after_request_funcs).get(None, [])
            if hook in funcs:
                funcs.remove(hook)
        delattr(app, _STATE_ATTR)
    if getattr(app, "_is_instrumented_by_opentelemetry", False):
        FlaskInstrumentor.uninstrument_app(app)
    return app
