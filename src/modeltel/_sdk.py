"""``configure()``: the convenience that sets up the OpenTelemetry SDK for an application.

This is the only module of the package (with ``_export`` and the ``testing`` doubles) that
imports ``opentelemetry.sdk``; instrumented code paths use the API only. A library that
uses ``@modeltel.monitor`` never needs to call this: the application's own OpenTelemetry
set-up is used as it is.
"""

from __future__ import annotations

import atexit
import importlib.metadata
import logging
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import IO, Any

from opentelemetry import _logs, metrics, trace

from modeltel import _semconv as sc
from modeltel import _outcomes, _telemetry
from modeltel._config import Config

__all__ = ["configure", "shutdown", "force_flush"]

_log = logging.getLogger("modeltel")

#: Distributions whose versions go on the resource (``ml.library.versions``), when installed.
_ML_LIBRARIES = (
    "numpy",
    "pandas",
    "polars",
    "pyarrow",
    "scikit-learn",
    "xgboost",
    "lightgbm",
    "onnxruntime",
    "torch",
    "tensorflow",
    "transformers",
)


@dataclass
class _State:
    config: Config
    mode: str
    owned: list[Any] = field(default_factory=list)  # providers/exporters we created
    sketch_exporter: Any = None
    #: Spans and log records given up by the batch processors (``ml.sdk.dropped``).
    drops: Any = None
    #: The batch processors modeltel made, by signal (their queues are what shutdown may drop).
    processors: dict[str, Any] = field(default_factory=dict)
    stream: IO[str] | None = None
    using_application: list[str] = field(default_factory=list)


_lock = threading.Lock()
_state: _State | None = None


def _library_versions() -> list[str]:
    versions = []
    for name in _ML_LIBRARIES:
        try:
            versions.append(f"{name}=={importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def _resource(service_name: str | None, attributes: dict[str, Any] | None) -> Any:
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource

    values: dict[str, Any] = {sc.ATTR_LIBRARY_VERSIONS: _library_versions()}
    values.update(attributes or {})
    if service_name:
        values[SERVICE_NAME] = service_name
    return Resource.create(values)


def _protocol(signal: str) -> str:
    value = os.environ.get(f"OTEL_EXPORTER_OTLP_{signal}_PROTOCOL") or os.environ.get(
        "OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"
    )
    value = value.strip().lower()
    if value not in {"grpc", "http/protobuf"}:
        raise ValueError(
            f"OTEL_EXPORTER_OTLP_PROTOCOL={value!r}: modeltel supports 'grpc' and 'http/protobuf'"
        )
    return value


def _otlp_exporter(signal: str) -> Any:
    """A stock OTLP exporter for ``signal``; it reads the standard OTEL_EXPORTER_OTLP_* vars."""
    grpc = _protocol(signal) == "grpc"
    if signal == "TRACES":
        if grpc:
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpans
            return GrpcSpans()
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpans
        return HttpSpans()
    if signal == "METRICS":
        if grpc:
            from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter as GrpcMetrics
            return GrpcMetrics()
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter as HttpMetrics
        return HttpMetrics()
    if grpc:
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter as GrpcLogs
        return GrpcLogs()
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as HttpLogs
    return HttpLogs()


def _console_metric_exporter(stream: IO[str]) -> Any:
    from opentelemetry.sdk.metrics.export import ConsoleMetricExporter

    return ConsoleMetricExporter(out=stream, formatter=lambda m: m.to_json(indent=None) + "\n")


def _is_proxy(provider: Any) -> bool:
    # The API's placeholders until an application installs a real provider.
    return not _telemetry.is_real_provider(provider)


def configure(
    *,
    service_name: str | None = None,
    exporter: str | None = None,
    console_path: str | None = None,
    resource_attributes: dict[str, Any] | None = None,
    **settings: Any,
) -> None:
    """Set up tracing, metrics and logs export for an application; idempotent.

    Args:
        service_name: ``service.name`` of the resource (else ``OTEL_SERVICE_NAME``).
        exporter: ``"otlp"`` (OTLP over ``OTEL_EXPORTER_OTLP_PROTOCOL``, default
            ``http/protobuf``; endpoint and headers from the standard ``OTEL_EXPORTER_OTLP_*``
            variables), ``"console"`` (JSON lines to stdout or ``console_path``) or ``"none"``.
            Default: ``MODELTEL_EXPORTER``, else ``otlp`` when an OTLP endpoint is set,
            else ``console``.
        console_path: file for the console exporter's JSON lines (``MODELTEL_CONSOLE_PATH``).
        resource_attributes: more resource attributes.
        **settings: any other :class:`modeltel.Config` field (``log_sample_rate=0.1``, ...).

    If the application already installed OpenTelemetry providers, modeltel uses them and
    logs that it does; only the missing ones are set up. Calling ``configure()`` again
    does nothing (it logs that it was already configured).

    Example::

        modeltel.configure(service_name="fraud-api")
    """
    global _state
    with _lock:
        if _state is not None:
            _log.info("modeltel.configure(): already configured; keeping the first set-up")
            return
        config = Config.from_env(exporter=exporter, console_path=console_path, **settings)
        _telemetry.set_default_config(config)
        mode = config.resolved_exporter()
        state = _State(config=config, mode=mode)
        if mode != "none":
            _set_up(state, service_name, resource_attributes)
        _state = state
    atexit.register(shutdown)


def _set_up(state: _State, service_name: str | None, attributes: dict[str, Any] | None) -> None:
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import ConsoleSpanExporter

    from modeltel._export import CountingLogProcessor, CountingSpanProcessor, DropCounter, SketchExporter

    resource = _resource(service_name, attributes)
    console = state.mode == "console"
    if console:
        path = state.config.console_path
        state.stream = open(path, "a", buffering=1, encoding="utf-8") if path else sys.stdout

    state.drops = DropCounter()
    # shutdown_on_exit=False: modeltel's own exit hook shuts the providers down within
    # MODELTEL_SHUTDOWN_TIMEOUT; the SDK's hooks would each wait for the collector.
    if _is_proxy(trace.get_tracer_provider()):
        tracer_provider = TracerProvider(resource=resource, shutdown_on_exit=False)
        span_exporter = (
            ConsoleSpanExporter(out=state.stream or sys.stdout, formatter=lambda s: s.to_json(indent=None) + "\n")
            if console
            else _otlp_exporter("TRACES")
        )
        state.processors["spans"] = CountingSpanProcessor(span_exporter, state.drops)
        tracer_provider.add_span_processor(state.processors["spans"])
        trace.set_tracer_provider(tracer_provider)
        state.owned.append(tracer_provider)
    else:
        state.using_application.append("tracer provider")

    if _is_proxy(metrics.get_meter_provider()):
        reader = PeriodicExportingMetricReader(
            _console_metric_exporter(state.stream or sys.stdout) if console else _otlp_exporter("METRICS")
        )
        meter_provider = MeterProvider(resource=resource, metric_readers=[reader], shutdown_on_exit=False)
        metrics.set_meter_provider(meter_provider)
        state.owned.append(meter_provider)
    else:
        state.using_application.append("meter provider")

    # Console mode: modeltel's structlog JSON lines are the logs; OTLP mode also sends them
    # as OpenTelemetry log records.
    if not console:
        if _is_proxy(_logs.get_logger_provider()):
            logger_provider = LoggerProvider(resource=resource, shutdown_on_exit=False)
            state.processors["logs"] = CountingLogProcessor(_otlp_exporter("LOGS"), state.drops)
            logger_provider.add_log_record_processor(state.processors["logs"])
            _logs.set_logger_provider(logger_provider)
            state.owned.append(logger_provider)
        else:
            state.using_application.append("logger provider")

    state.sketch_exporter = SketchExporter(
        _console_metric_exporter(state.stream or sys.stdout) if console else _otlp_exporter("METRICS"),
        resource=resource,
        interval=state.config.export_interval,
    )
    state.sketch_exporter.start()
    metrics.get_meter("modeltel.sdk").create_observable_counter(
        sc.METRIC_SDK_DROPPED,
        callbacks=[state.drops.observe],
        unit="{item}",
        description="Spans and log records given up by the export queues (full, failed, shut down).",
    )

    if state.using_application:
        _log.info(
            "modeltel.configure(): using the application's %s",
            ", ".join(state.using_application),
        )


def force_flush(timeout_millis: int = 10_000) -> bool:
    """Export everything buffered now (joinable rows, distributions, spans, metrics, logs)."""
    _outcomes.flush_rows()
    state = _state
    if state is None:
        return True
    ok = True
    if state.sketch_exporter is not None:
        ok = bool(state.sketch_exporter.force_flush(timeout_millis)) and ok
    for provider in state.owned:
        try:
            ok = bool(provider.force_flush(timeout_millis)) and ok
        except Exception as exc:  # noqa: BLE001
            _log.warning("modeltel: flush of %s failed: %r", type(provider).__name__, exc)
            ok = False
    return ok


def shutdown(timeout: float | None = None) -> None:
    """Flush and stop what ``configure()`` started, within ``timeout`` seconds; idempotent.

    ``timeout`` defaults to ``MODELTEL_SHUTDOWN_TIMEOUT`` (5 s). Whatever the collector does
    (unreachable, refusing, 503/429, frozen), this returns by then: the flush runs on a
    daemon thread, and what it has not sent by the limit is dropped and logged (with the
    counts of every drop of the process's life). The exit hook is this function.
    """
    global _state
    with _lock:
        state, _state = _state, None
    if state is None:
        return
    limit = state.config.shutdown_timeout if timeout is None else float(timeout)
    started = time.monotonic()
    worker = threading.Thread(target=_shutdown_all, args=(state, limit), name="modeltel-shutdown", daemon=True)
    worker.start()
    worker.join(limit)
    finished = not worker.is_alive()
    _report_drops(state, finished, time.monotonic() - started)
    if finished and state.stream is not None and state.stream is not sys.stdout:
        state.stream.close()


def _shutdown_all(state: _State, limit: float) -> None:
    millis = limit * 1000
    try:
        _outcomes.flush_rows()  # into the log queue, before the providers shut down
    except Exception as exc:  # noqa: BLE001
        _log.warning("modeltel: sending the waiting joinable rows failed: %r", exc)
    if state.sketch_exporter is not None:
        try:
            state.sketch_exporter.shutdown(timeout_millis=millis)
        except Exception as exc:  # noqa: BLE001
            _log.warning("modeltel: shutdown of the sketch exporter failed: %r", exc)
    for provider in state.owned:
        try:
            provider.shutdown()
        except Exception as exc:  # noqa: BLE001
            _log.warning("modeltel: shutdown of %s failed: %r", type(provider).__name__, exc)


def _report_drops(state: _State, finished: bool, elapsed: float) -> None:
    """One log line on the way out: what was given up over the process's life, and why."""
    from modeltel._export import queued

    if state.drops is None:
        return
    left = {signal: queued(p) + p.counting_exporter.in_flight for signal, p in state.processors.items()}
    sketch = state.sketch_exporter
    if not finished:
        for signal, n in left.items():
            state.drops.add(signal, "shutdown", n)
        if sketch is not None:
            sketch.abandon()
    parts = [f"{signal} {reason}: {n}" for (signal, reason), n in sorted(state.drops.counts().items())]
    if sketch is not None:
        by_reason = sorted(sketch.dropped_values_by_reason.items())
        parts.extend(f"distribution values {reason}: {n}" for reason, n in by_reason if n)
    if not finished:
        _log.warning(
            "modeltel: shutdown gave up after %.1f s (MODELTEL_SHUTDOWN_TIMEOUT); telemetry not yet "
            "sent is dropped. Dropped over the process's life: %s",
            elapsed, "; ".join(parts) or "nothing else",
        )
    elif parts:
        _log.warning("modeltel: telemetry dropped over the process's life: %s", "; ".join(parts))
