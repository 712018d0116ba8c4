"""Test doubles: capture what modeltel emits, in memory, for your own tests.

Example::

    from modeltel.testing import capture

    def test_predict_is_monitored():
        with capture() as cap:
            predict(X)
        (span,) = cap.spans
        assert span.name == "predict fraud"
        assert span.attributes["ml.input.rows"] == len(X)
        assert cap.metric_points("ml.prediction.duration")[0].count == 1

Every logged prediction is in ``cap.logs`` (the console JSON line's fields) whatever the
exporter; by default that is every failed prediction (``capture(log_sample_rate=1.0)`` logs
every one, as ``MODELTEL_LOG_SAMPLE_RATE=1`` does in production).

Nothing global is changed: modeltel's own handles are swapped for ones built from
in-memory providers and restored when the block ends. The global OpenTelemetry providers
and structlog configuration are left as they were.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from modeltel import _outcomes, _registry, _telemetry
from modeltel._config import Config
from modeltel._export import duration_metric
from modeltel._semconv import METRIC_DURATION

__all__ = ["Capture", "capture"]


class Capture:
    """What modeltel emitted inside a :func:`capture` block."""

    def __init__(self, *, tracer_provider: TracerProvider | None = None) -> None:
        from modeltel._sketch import SketchStore

        self.resource = Resource.create({"service.name": "modeltel-test"})
        self._spans = InMemorySpanExporter()
        self.tracer_provider = tracer_provider or TracerProvider(resource=self.resource)
        if hasattr(self.tracer_provider, "add_span_processor"):  # not the API's no-op provider
            self.tracer_provider.add_span_processor(SimpleSpanProcessor(self._spans))
        self._metrics = InMemoryMetricReader()
        self.meter_provider = MeterProvider(resource=self.resource, metric_readers=[self._metrics])
        self._otel_logs = InMemoryLogRecordExporter()
        self.logger_provider = LoggerProvider(resource=self.resource)
        self.logger_provider.add_log_record_processor(SimpleLogRecordProcessor(self._otel_logs))
        #: The JSON log records, as the event dicts structlog would render.
        self.logs: list[dict[str, Any]] = []
        #: modeltel's sketch store for this block (distributions of inputs and outputs, and
        #: ``ml.prediction.duration``, as under ``configure()``).
        self.store = SketchStore()
        self.store.exports_durations = True
        #: The block's telemetry (set by :func:`capture`).
        self.telemetry: Any = None

    def _json_log(self, level: str, event: str, fields: dict[str, Any], rendered: str | None = None) -> None:
        self.logs.append({"event": event, "level": level, **fields})

    @property
    def spans(self) -> list[ReadableSpan]:
        """Finished spans, in the order they ended."""
        return list(self._spans.get_finished_spans())

    @property
    def otel_logs(self) -> list[Any]:
        """OpenTelemetry log records (``ReadableLogRecord``) emitted through the logs API
        (the joinable rows of one-row calls still waiting are sent first)."""
        if self.telemetry is not None:
            _outcomes.flush_rows(self.telemetry)
        return list(self._otel_logs.get_finished_logs())

    def metric_points(self, name: str) -> list[Any]:
        """Data points of the metric ``name`` collected so far (cumulative): the metrics
        API's, and ``ml.prediction.duration``, which modeltel aggregates in its store."""
        points: list[Any] = []
        if name == METRIC_DURATION:
            metric = duration_metric(self.store.snapshot_durations())
            if metric is not None:
                points.extend(metric.data.data_points)
        data = self._metrics.get_metrics_data()
        if data is None:
            return points
        for resource_metrics in data.resource_metrics:
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    if metric.name == name:
                        points.extend(metric.data.data_points)
        return points

    def distributions(self) -> Any:
        """The distribution metrics (``MetricsData``) the sketch exporter would send now."""
        from modeltel._export import to_metrics_data

        return to_metrics_data(self.store.collect(), resource=self.resource)


@contextmanager
def capture(
    config: Config | None = None, *, tracer_provider: TracerProvider | None = None, **settings: Any
) -> Iterator[Capture]:
    """Capture spans, metrics, log records and distributions emitted inside the block.

    ``config`` or ``settings`` (any :class:`modeltel.Config` field) replace the
    configuration for the block, e.g. ``capture(log_sample_rate=0.0)``; ``tracer_provider``
    is a provider of your own (e.g. with a sampler) that the captured spans go through, or
    the API's ``NoOpTracerProvider()`` to see what happens without a tracing SDK.

    The log rule is the production one: by default a successful prediction whose span is
    sampled gets no ``ml.prediction`` log record (the span is its record); use
    ``capture(log_sample_rate=1.0)`` to look at the record every prediction would get.
    """
    cap = Capture(tracer_provider=tracer_provider)
    telemetry = _telemetry.build(
        tracer_provider=cap.tracer_provider,
        meter_provider=cap.meter_provider,
        logger_provider=cap.logger_provider,
        json_log=cap._json_log,
        store=cap.store,
        json_always=True,
    )
    if config is None:
        config = Config.from_env(**settings)
    elif settings:
        config = config.replace(**settings)
    # Every test starts from a clean process state (caches, once-only warnings, ...).
    _registry.reset()
    cap.telemetry = telemetry
    previous = _telemetry.swap(telemetry)
    previous_config = _telemetry.set_default_config(config)
    try:
        yield cap
    finally:
        _outcomes.flush_rows(telemetry)
        _telemetry.swap(previous)
        _telemetry.set_default_config(previous_config)
        _registry.reset()
        if hasattr(cap.tracer_provider, "shutdown"):
            cap.tracer_provider.shutdown()
        cap.logger_provider.shutdown()
