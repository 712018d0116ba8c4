"""Pieces shared by the FastAPI and Flask integrations: health paths, rejected inputs."""

from __future__ import annotations

import os
import re
import threading
from typing import Any, Iterable

from opentelemetry import metrics

from modeltel import _registry, _telemetry
from modeltel import _semconv as sc
from modeltel._identity import model_identity
from modeltel._telemetry import SCOPE, VERSION, metric_attributes, report_internal_error
from modeltel.instrumentation._common import route_model, stamp_server_span

__all__ = ["DEFAULT_HEALTH_PATHS", "excluded_urls_for", "count_rejected_input"]

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
    model: str | None, version: str | None, route: str | None, error_type: str, meter_provider: Any = None
) -> None:
    """Count one input rejected by request validation, for the model the route serves."""
    try:
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
