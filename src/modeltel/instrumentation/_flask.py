"""``instrument_flask(app)``: HTTP spans from the official OpenTelemetry Flask
instrumentation, predict spans as their children."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from typing_extensions import Unpack

from modeltel._telemetry import contained
from modeltel.instrumentation._common import suppressed_predictions
from modeltel.instrumentation._routes import flask_body_rejected, spec_of, wrap_handler
from modeltel.instrumentation._web import (
    STATE_ATTR,
    AppState,
    FlaskArgs,
    count_rejected_input,
    instrument_web_app,
)

__all__ = ["instrument_flask", "prepare_flask_app", "uninstrument_flask"]



@dataclass
class _State(AppState):
    wrapped_endpoints: set[str] = field(default_factory=set)
    #: endpoint -> the view before modeltel wrapped it (put back by uninstrument_flask).
    original_views: dict[str, Any] = field(default_factory=dict)
    hooks: list[tuple[str, Any]] = field(default_factory=list)


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
    count_rejected_input(spec, request.endpoint or "model", rule, _BAD_REQUEST, state.meter_provider)


def prepare_flask_app(app: Any, settings: AppState | None = None) -> None:
    """Wrap the app's predict and health views (idempotent); views added later are wrapped
    before their first request. ``settings``: ``instrument_flask``'s (none in zero-code mode)."""
    state, new = _State.attach(app, settings)
    if new:
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
    _wrap_views(app, state)


def instrument_flask(app: Any, **options: Unpack[FlaskArgs]) -> Any:
    """Instrument a Flask app: HTTP server spans and predict spans as their children.

    Arguments as for :func:`instrument_fastapi` (:class:`modeltel.instrumentation._web.WebArgs`),
    and the keywords of ``FlaskInstrumentor.instrument_app``; the model input of a predict
    route is its JSON body (``request.get_json()``, cached by Flask for the view). Returns
    ``app``::

        app = Flask(__name__)

        @app.post("/predict")
        def predict():
            return {"species": clf.predict([request.get_json()["features"]]).tolist()}

        modeltel.instrument_flask(app, predict_routes={"/predict": ("iris", "1.2.0")})
    """
    from opentelemetry.instrumentation.flask import FlaskInstrumentor

    return instrument_web_app(app, "flask", FlaskInstrumentor, prepare_flask_app, options)


def uninstrument_flask(app: Any) -> Any:
    """Undo :func:`instrument_flask`: the HTTP instrumentation removed, every predict and
    health view and request hook as they were. Returns ``app``."""
    from opentelemetry.instrumentation.flask import FlaskInstrumentor

    state = getattr(app, STATE_ATTR, None)
    if state is not None:
        for endpoint, view in state.original_views.items():
            app.view_functions[endpoint] = view
        for kind, hook in state.hooks:
            funcs = (app.before_request_funcs if kind == "before" else app.after_request_funcs).get(None, [])
            if hook in funcs:
                funcs.remove(hook)
        delattr(app, STATE_ATTR)
    if getattr(app, "_is_instrumented_by_opentelemetry", False):
        FlaskInstrumentor.uninstrument_app(app)
    return app
