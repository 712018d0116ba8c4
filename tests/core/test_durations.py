"""ml.prediction.duration aggregated in modeltel's store and exported with the distributions."""

from __future__ import annotations

import math

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    InMemoryMetricReader,
    MetricExporter,
    MetricExportResult,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider

import modeltel
from modeltel import _telemetry
from modeltel._export import SketchExporter
from modeltel._sketch import MAX_DURATION_SERIES, SketchStore
from modeltel.testing import capture


class InMemoryMetricExporter(MetricExporter):
    """Keeps every MetricsData it is given (the SDK ships a reader, not an exporter)."""

    def __init__(self) -> None:
        super().__init__()
        self.exported: list = []

    def export(self, metrics_data, timeout_millis: float = 10_000, **kwargs) -> MetricExportResult:
        self.exported.append(metrics_data)
        return MetricExportResult.SUCCESS

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs) -> None:
        pass


def _exported(exporter: InMemoryMetricExporter) -> list[tuple[str, object, object]]:
    """(scope name, metric, point) of every ml.prediction.duration point exported."""
    return [
        (sm.scope.name, m, p)
        for data in exporter.exported
        for rm in data.resource_metrics
        for sm in rm.scope_metrics
        for m in sm.metrics
        if m.name == "ml.prediction.duration"
        for p in m.data.data_points
    ]


@pytest.fixture
def exported_store():
    """A store exported by a SketchExporter to an in-memory exporter, swapped in as the
    telemetry's store (as configure() does), restored afterwards."""
    store = SketchStore()
    exporter = InMemoryMetricExporter()
    sketch = SketchExporter(exporter, resource=Resource.create({"service.name": "t"}), store=store, interval=3600)
    reader = InMemoryMetricReader()
    telemetry = _telemetry.build(
        tracer_provider=TracerProvider(), meter_provider=MeterProvider(metric_readers=[reader]), store=store
    )
    previous = _telemetry.swap(telemetry)
    try:
        yield sketch, exporter, reader
    finally:
        _telemetry.swap(previous)


def test_durations_leave_with_the_sketch_exporter_not_the_meter_provider(exported_store):
    """Same name, unit, attributes, buckets and scope as the former SDK instrument; cumulative
    by default; the MeterProvider records nothing per call."""
    sketch, exporter, reader = exported_store

    @modeltel.monitor(model="m", version="1")
    def predict(X):
        if X[0] < 0:
            raise ValueError("negative")
        return 1.0

    for _ in range(12):
        predict([1.0])
    with pytest.raises(ValueError):
        predict([-1.0])
    sketch.force_flush()
    predict([1.0])
    sketch.force_flush()
    points = _exported(exporter)
    assert {scope for scope, _, _ in points} == {"modeltel"}
    assert {m.unit for _, m, _ in points} == {"s"}
    assert {m.data.aggregation_temporality for _, m, _ in points} == {AggregationTemporality.CUMULATIVE}
    ok = [p for _, _, p in points if "error.type" not in p.attributes]
    failed = [p for _, _, p in points if "error.type" in p.attributes]
    assert [p.count for p in ok] == [12, 13]  # cumulative: the second export carries all
    assert ok[0].start_time_unix_nano == ok[1].start_time_unix_nano
    assert dict(ok[0].attributes) == {"ml.model.name": "m", "ml.model.version": "1"}
    assert dict(failed[0].attributes)["error.type"] == "ValueError"
    assert list(ok[0].explicit_bounds) == list(_telemetry.DURATION_BUCKETS)
    assert sum(ok[1].bucket_counts) == 13 and len(ok[1].bucket_counts) == len(_telemetry.DURATION_BUCKETS) + 1
    assert 0 < ok[1].min <= ok[1].max < ok[1].sum
    # privacy: one failed call, fewer than MODELTEL_MIN_AGGREGATE_COUNT (10): no sum/min/max
    assert failed[0].count == 1 and failed[0].sum is None and failed[0].min is None and failed[0].max is None
    data = reader.get_metrics_data()
    names = {m.name for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics} if data else set()
    assert "ml.prediction.duration" not in names


def test_delta_preference_makes_the_durations_delta(exported_store, monkeypatch):
    """OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE=delta: each export holds the calls since
    the previous one, as the stock OTLP exporter would make the SDK histogram."""
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "delta")
    _, _, reader = exported_store
    store = _telemetry.current().store
    exporter = InMemoryMetricExporter()
    sketch = SketchExporter(exporter, resource=Resource.create({}), store=store, interval=3600)

    @modeltel.monitor(model="m", version="1")
    def predict(X):
        return 1.0

    for _ in range(3):
        predict([1.0])
    sketch.force_flush()
    predict([1.0])
    sketch.force_flush()
    sketch.force_flush()  # nothing since: no point
    points = _exported(exporter)
    assert [p.count for _, _, p in points] == [3, 1]
    assert {m.data.aggregation_temporality for _, m, _ in points} == {AggregationTemporality.DELTA}


def test_without_a_sketch_exporter_the_duration_goes_through_the_meter_provider():
    """Nobody exports the store (no configure(): the application's own SDK only): the
    duration is an SDK histogram of the application's MeterProvider, as before."""
    reader = InMemoryMetricReader()
    telemetry = _telemetry.build(
        tracer_provider=TracerProvider(), meter_provider=MeterProvider(metric_readers=[reader]), store=SketchStore()
    )
    previous = _telemetry.swap(telemetry)
    try:
        @modeltel.monitor(model="m", version="1")
        def predict(X):
            return 1.0

        predict([1.0])
        predict([1.0])
    finally:
        _telemetry.swap(previous)
    data = reader.get_metrics_data()
    (point,) = [
        p for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics
        if m.name == "ml.prediction.duration" for p in m.data.data_points
    ]
    assert point.count == 2
    assert dict(point.attributes) == {"ml.model.name": "m", "ml.model.version": "1"}


def test_capture_shows_the_store_durations_as_metric_points():
    """testing.capture() reads ml.prediction.duration from the store, cumulative, without
    draining the distributions."""
    @modeltel.monitor(model="m", version="1")
    def predict(X):
        return 1.0

    with capture() as cap:
        for _ in range(10):
            predict([1.0])
        (first,) = cap.metric_points("ml.prediction.duration")
        predict([1.0])
        (second,) = cap.metric_points("ml.prediction.duration")
        names = {m.name for rm in cap.distributions().resource_metrics for sm in rm.scope_metrics for m in sm.metrics}
    assert (first.count, second.count) == (10, 11)
    assert first.sum > 0 and math.isfinite(first.max)
    assert {"ml.feature.value", "ml.prediction.duration"} <= names


def test_duration_series_are_bounded():
    """Beyond MAX_DURATION_SERIES series, calls share one overflow series (otel.metric.overflow)."""
    store = SketchStore()
    for i in range(MAX_DURATION_SERIES + 5):
        store.record_duration("m", "1", f"E{i}", 0.001)
    points = store.snapshot_durations().durations
    assert len(points) == MAX_DURATION_SERIES + 1
    (overflow,) = [p for p in points if p.model is None]
    assert overflow.count == 5
