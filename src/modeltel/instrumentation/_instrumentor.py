"""``ModeltelInstrumentor``: the zero-code entry point.

``opentelemetry-instrument python app.py`` finds it through the ``opentelemetry_instrumentor``
entry point (name ``modeltel``; ``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=modeltel`` turns it
off) and calls ``instrument()`` after the OpenTelemetry SDK is configured. It then:

- patches the ML libraries (see ``_ml``) as they are imported;
- hooks FastAPI and Flask apps as they start serving: health/metrics paths are not counted
  as predictions, FastAPI's 422s are counted as rejected inputs of the model the route
  serves (the HTTP spans come from the official FastAPI/Flask instrumentors, which
  ``opentelemetry-instrument`` loads as well);
- starts modeltel's distribution export on the SDK the distro configured
  (``modeltel.configure()`` uses the application's providers when there are some).
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any, Collection, Iterable

import wrapt
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]

from modeltel import _telemetry
from modeltel._telemetry import is_real_provider, report_internal_error
from modeltel.instrumentation import _ml

__all__ = ["ModeltelInstrumentor"]

_log = logging.getLogger("modeltel")


class _WebHooks:
    """Class-level hooks on FastAPI/Flask, installed on import, removed on uninstrument."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.active = False
        self.registered = False
        self.patches: list[tuple[Any, str, Any]] = []

    def _fastapi(self, module: Any) -> None:
        from fastapi.applications import FastAPI

        from modeltel.instrumentation._fastapi import prepare_fastapi_app

        def build_middleware_stack(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
            if self.active:
                try:
                    prepare_fastapi_app(instance)
                except Exception as exc:  # noqa: BLE001 - the app must start regardless
                    report_internal_error("instrumentor.fastapi_app", exc)
            return wrapped(*args, **kwargs)

        self._patch(FastAPI, "build_middleware_stack", build_middleware_stack)

    def _flask(self, module: Any) -> None:
        from flask import Flask

        from modeltel.instrumentation._flask import prepare_flask_app
        from modeltel.instrumentation._web import STATE_ATTR

        def wsgi_app(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
            if self.active and getattr(instance, STATE_ATTR, None) is None:
                try:
                    prepare_flask_app(instance)
                except Exception as exc:  # noqa: BLE001
                    report_internal_error("instrumentor.flask_app", exc)
            return wrapped(*args, **kwargs)

        self._patch(Flask, "wsgi_app", wsgi_app)

    def _patch(self, owner: Any, name: str, wrapper: Any) -> None:
        with self.lock:
            if not self.active or any(o is owner and n == name for o, n, _ in self.patches):
                return
            original = owner.__dict__[name]
            setattr(owner, name, wrapt.FunctionWrapper(original, wrapper))
            self.patches.append((owner, name, original))

    def install(self) -> None:
        self.active = True
        if not self.registered:
            self.registered = True
            wrapt.register_post_import_hook(self._fastapi, "fastapi.applications")
            wrapt.register_post_import_hook(self._flask, "flask")
        else:
            import sys

            if "fastapi.applications" in sys.modules:
                self._fastapi(sys.modules["fastapi.applications"])
            if "flask" in sys.modules:
                self._flask(sys.modules["flask"])

    def remove(self) -> None:
        with self.lock:
            self.active = False
            while self.patches:
                owner, name, original = self.patches.pop()
                setattr(owner, name, original)


_web_hooks = _WebHooks()
# The telemetry handles in place before instrument(tracer_provider=...), put back by uninstrument().
_provided: list[Any] = []


class ModeltelInstrumentor(BaseInstrumentor):
    """Auto-instrumentation of ML libraries and model servers.

    Zero-code: ``opentelemetry-instrument python app.py`` (or ``opentelemetry-instrument
    gunicorn ...`` / ``... uvicorn ...``). In code::

        from modeltel.instrumentation import ModeltelInstrumentor

        ModeltelInstrumentor().instrument()            # every supported library present
        ModeltelInstrumentor().instrument(libraries=["sklearn", "xgboost"])
        ModeltelInstrumentor().uninstrument()          # everything restored

    Keyword arguments of ``instrument()``: ``tracer_provider``, ``meter_provider`` (and
    ``logger_provider``): the providers predictions go through (default: the global ones);
    ``libraries`` (default all of ``sklearn``,
    ``xgboost``, ``lightgbm``, ``onnxruntime``, ``torch``), ``web`` (default True: FastAPI and
    Flask hooks), ``configure`` (default True: start modeltel's distribution export when an
    OpenTelemetry SDK is already set up, as under ``opentelemetry-instrument``).
    """

    def instrumentation_dependencies(self) -> Collection[str]:
        # Every library is optional: present means instrumented, absent means skipped.
        return ()

    def _instrument(self, **kwargs: Any) -> None:
        tracer_provider = kwargs.get("tracer_provider")
        meter_provider = kwargs.get("meter_provider")
        if tracer_provider is not None or meter_provider is not None:
            # As the contrib instrumentors do: predictions go through the given providers
            # (the global ones for what is not given) until uninstrument().
            _provided.append(
                _telemetry.swap(
                    _telemetry.build(
                        tracer_provider=tracer_provider,
                        meter_provider=meter_provider,
                        logger_provider=kwargs.get("logger_provider"),
                    )
                )
            )
        libraries: Iterable[str] | None = kwargs.get("libraries")
        _ml.instrument_libraries(libraries)
        if kwargs.get("web", True):
            _web_hooks.install()
        if kwargs.get("configure", True):
            _configure_on_application_sdk()

    def _uninstrument(self, **kwargs: Any) -> None:
        _ml.uninstrument_libraries()
        _web_hooks.remove()
        while _provided:
            _telemetry.swap(_provided.pop())

    @staticmethod
    def instrument_app(app: Any, **options: Any) -> Any:
        """``instrument_fastapi`` or ``instrument_flask``, by the type of ``app``."""
        module = type(app).__module__.split(".", 1)[0]
        if module == "fastapi" or any(c.__module__.startswith("fastapi") for c in type(app).__mro__):
            from modeltel.instrumentation._fastapi import instrument_fastapi

            return instrument_fastapi(app, **options)
        from modeltel.instrumentation._flask import instrument_flask

        return instrument_flask(app, **options)


def _exporter_for_application() -> str:
    """The exporter of modeltel's distributions under ``opentelemetry-instrument``:
    ``MODELTEL_EXPORTER``, else the one the distro uses for metrics (``OTEL_METRICS_EXPORTER``:
    ``console`` and ``none`` are followed, so a console set-up sends nothing over OTLP),
    else OTLP."""
    explicit = os.environ.get("MODELTEL_EXPORTER")
    if explicit:
        return explicit
    metrics_exporter = os.environ.get("OTEL_METRICS_EXPORTER", "otlp").split(",")[0].strip().lower()
    if metrics_exporter in {"console", "none"}:
        return metrics_exporter
    return "otlp"


def _configure_on_application_sdk() -> None:
    """Under ``opentelemetry-instrument`` the distro has installed SDK providers; modeltel's
    ``configure()`` then adds only what is its own (the distribution export)."""
    from opentelemetry import trace

    if not is_real_provider(trace.get_tracer_provider()):
        return  # no SDK: a library or a test; nothing to attach to
    try:
        import modeltel

        modeltel.configure(exporter=_exporter_for_application())
    except Exception as exc:  # noqa: BLE001 - never break the application's start
        _log.warning("modeltel: could not start the distribution export: %r", exc)
