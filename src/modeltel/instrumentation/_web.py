"""What the FastAPI and Flask integrations share: their keyword arguments and the one body
of ``instrument_fastapi``/``instrument_flask``, the app state, health paths, rejected inputs."""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

from opentelemetry import metrics
from typing_extensions import Self, TypedDict

from modeltel import _registry, _telemetry
from modeltel import _semconv as sc
from modeltel._identity import model_identity
from modeltel._telemetry import SCOPE, VERSION, metric_attributes, report_internal_error
from modeltel.instrumentation._common import route_model, stamp_server_span

__all__ = [
    "DEFAULT_HEALTH_PATHS",
    "STATE_ATTR",
    "AppState",
    "FastAPIArgs",
    "FlaskArgs",
    "WebArgs",
    "count_rejected_input",
    "excluded_urls_for",
    "instrument_web_app",
]

#: Paths that are probes, not traffic: no HTTP span, and model calls there are not counted.
DEFAULT_HEALTH_PATHS: tuple[str, ...] = (
    "/health",
    "/healthz",
    "/livez",
    "/readyz",
    "/ready",
    "/ping",
    "/metrics",
)


class WebArgs(TypedDict, total=False):
    """The keyword arguments of ``instrument_fastapi(app, ...)`` and ``instrument_flask(app, ...)``.

    The framework's own keywords (:class:`FastAPIArgs`, :class:`FlaskArgs`) are passed on to
    OpenTelemetry's ``FastAPIInstrumentor``/``FlaskInstrumentor.instrument_app``.
    """

    #: Route paths whose handler is one prediction, e.g. ``["/predict"]``, or a mapping
    #: ``{"/predict": "iris"}`` / ``{"/predict": ("iris", "1.2.0")}`` / ``{"/predict":
    #: {"model": ..., "version": ..., "input_arg": ..., "baseline": ...}}``. Handlers
    #: decorated with ``predict_route`` need not be listed.
    predict_routes: "Iterable[str] | Mapping[str, Any] | None"
    #: The model of the listed routes that do not name one.
    model: "str | None"
    #: Its version.
    version: "str | None"
    #: A :class:`modeltel.Baseline` or the path of a saved one, for the listed routes (else
    #: ``MODELTEL_BASELINE``); it also names their model and version when ``model``/``version``
    #: do not.
    baseline: Any
    #: Probe endpoints: no HTTP span, model calls there are not counted (default
    #: ``DEFAULT_HEALTH_PATHS``).
    health_paths: "Iterable[str]"
    #: More URLs the HTTP instrumentation skips (comma-separated regexes; else
    #: ``OTEL_PYTHON_<FRAMEWORK>_EXCLUDED_URLS`` / ``OTEL_PYTHON_EXCLUDED_URLS``).
    excluded_urls: "str | None"
    #: The providers of the HTTP spans and metrics (else the global ones); the meter
    #: provider counts rejected inputs too.
    tracer_provider: Any
    meter_provider: Any


class FastAPIArgs(WebArgs, total=False):
    """:class:`WebArgs` and the keywords of OpenTelemetry's ``FastAPIInstrumentor.instrument_app``."""

    server_request_hook: Any
    client_request_hook: Any
    client_response_hook: Any
    http_capture_headers_server_request: "list[str] | None"
    http_capture_headers_server_response: "list[str] | None"
    http_capture_headers_sanitize_fields: "list[str] | None"
    #: Default ``["receive", "send"]``: no per-message ASGI spans.
    exclude_spans: "list[str] | None"


class FlaskArgs(WebArgs, total=False):
    """:class:`WebArgs` and the keywords of OpenTelemetry's ``FlaskInstrumentor.instrument_app``."""

    request_hook: Any
    response_hook: Any
    enable_commenter: bool
    commenter_options: "dict[str, Any] | None"


#: Where an instrumented app keeps its :class:`AppState`.
STATE_ATTR = "_modeltel_state"


@dataclass
class AppState:
    """What modeltel keeps on an instrumented app (``app._modeltel_state``); a bare
    ``AppState`` is the settings ``instrument_*`` hands to ``prepare_*_app``."""

    #: Path -> the model its handler serves (``predict_routes=``).
    routes: dict[str, Any] = field(default_factory=dict)
    #: Health paths, without a trailing slash.
    health_paths: frozenset[str] = frozenset(p.rstrip("/") for p in DEFAULT_HEALTH_PATHS)
    #: The app's meter provider (``meter_provider=``), for rejected inputs.
    meter_provider: Any = None

    @classmethod
    def attach(cls, app: Any, settings: "AppState | None") -> tuple[Self, bool]:
        """``app``'s state and whether it is new: made from ``settings`` (else the defaults)
        on first use, else the one there with ``settings``' routes added."""
        state = getattr(app, STATE_ATTR, None)
        if state is None:
            settings = settings or AppState()
            state = cls(dict(settings.routes), settings.health_paths, settings.meter_provider)
            setattr(app, STATE_ATTR, state)
            return state, True
        if settings is not None:
            state.routes.update(settings.routes)
        return state, False


def instrument_web_app(
    app: Any,
    framework: str,
    instrumentor: Any,
    prepare: Callable[[Any, AppState], None],
    options: Mapping[str, Any],
) -> Any:
    """The body of ``instrument_fastapi``/``instrument_flask``: OpenTelemetry's
    ``instrumentor`` on ``app`` (unless it is instrumented already) with the options that are
    not modeltel's own, then ``prepare(app, settings)`` (routes, health paths, meter provider)."""
    from modeltel.instrumentation._routes import normalise_routes

    otel_options = dict(options)
    routes = otel_options.pop("predict_routes", None)
    model = otel_options.pop("model", None)
    version = otel_options.pop("version", None)
    baseline = otel_options.pop("baseline", None)
    health = tuple(otel_options.pop("health_paths", DEFAULT_HEALTH_PATHS))
    excluded_urls = excluded_urls_for(framework, health, otel_options.pop("excluded_urls", None))
    if not getattr(app, "_is_instrumented_by_opentelemetry", False):
        instrumentor.instrument_app(app, excluded_urls=excluded_urls, **otel_options)
    settings = AppState(
        normalise_routes(routes, model, version, baseline),
        frozenset(p.rstrip("/") for p in health),
        otel_options.get("meter_provider"),
    )
    prepare(app, settings)
    return app


def excluded_urls_for(framework: str, health_paths: Iterable[str], excluded_urls: str | None) -> str:
    """The ``excluded_urls`` string for the OpenTelemetry instrumentation: the caller's (or
    ``OTEL_PYTHON_<FRAMEWORK>_EXCLUDED_URLS`` / ``OTEL_PYTHON_EXCLUDED_URLS``) plus one
    anchored regex per health path (matched against the full URL, commas separate)."""
    if excluded_urls is None:
        excluded_urls = os.environ.get(f"OTEL_PYTHON_{framework.upper()}_EXCLUDED_URLS") or os.environ.get(
            "OTEL_PYTHON_EXCLUDED_URLS", ""
        )
    parts = [part for part in excluded_urls.split(",") if part.strip()]
    parts += [re.escape(path.rstrip("/")) + r"/?(\?.*)?$" for path in health_paths]
    return ",".join(parts)


_lock = threading.Lock()
_counters: dict[int, Any] = {}
_registry.register("instrumentation.rejected_counters", reset=_counters.clear)


def _rejected_counter(meter_provider: Any = None) -> Any:
    # The app's meter provider if instrument_fastapi() was given one, else modeltel's meter
    # (modeltel.testing swaps in its own), else the global one; one counter per meter.
    meter = (
        meter_provider.get_meter(SCOPE, VERSION)
        if meter_provider is not None
        else getattr(_telemetry.current(), "meter", None)
    )
    key = id(meter) if meter is not None else 0
    counter = _counters.get(key)
    if counter is None:
        with _lock:
            counter = _counters.get(key)
            if counter is None:
                meter = meter or metrics.get_meter(SCOPE, VERSION)
                counter = meter.create_counter(
                    sc.METRIC_REJECTED,
                    unit="{input}",
                    description="Requests to a predict route rejected before the model ran "
                    "(e.g. FastAPI request validation, HTTP 422).",
                )
                _counters[key] = counter
    return counter


def count_rejected_input(
    spec: Any, fallback_name: str, route: str | None, error_type: str, meter_provider: Any = None
) -> None:
    """Count one input rejected by request validation, for the model the route serves: the
    route's ``RouteSpec`` (``spec.identity(fallback_name)``), else the model last seen
    predicting on ``route``."""
    try:
        model, version = spec.identity(fallback_name) if spec is not None else (None, None)
        if model is None:
            known = route_model(route)
            if known is not None:
                model, version = known
        model, version = model_identity(None, model, version, default_name="unknown")
        stamp_server_span(model, version)
        _rejected_counter(meter_provider).add(
            1,
            {**metric_attributes(model, version), sc.ATTR_ERROR_TYPE: error_type},
        )
    except Exception as exc:  # noqa: BLE001 - fail-open
        report_internal_error("web.count_rejected_input", exc)
