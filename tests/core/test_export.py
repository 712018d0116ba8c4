"""SketchExporter end to end: the real OTLP/HTTP metric exporter against a local capture server.

The capture server (tests/backends/_capture.py) listens on 127.0.0.1 and decodes every request
(``ExportMetricsServiceRequest``); the tests check names, attributes, temporality, buckets.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from typing import Iterator

import numpy as np
import pandas as pd
import pytest
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.sdk.metrics._internal.exponential_histogram.mapping.logarithm_mapping import LogarithmMapping
from opentelemetry.sdk.resources import Resource

from modeltel._columns import OTHER, hash_label
from modeltel._config import Config
from modeltel._export import SketchExporter, to_metrics_data
from modeltel._sketch import SketchStore
from modeltel._summary import summarize_input, summarize_output
from _fork import in_child
from _baseline_standin import Baseline, FeatureBaseline
from backends._capture import OtlpCapture
from backends._procs import free_port

CFG = Config()
DELTA, CUMULATIVE = 1, 2  # AggregationTemporality in the protobuf


class Capture(OtlpCapture):
    """The OTLP/HTTP capture server on loopback, read as the metric exports it received."""

    @property
    def url(self) -> str:
        return self.endpoint + "/v1/metrics"

    @property
    def exports(self) -> list[ExportMetricsServiceRequest]:
        return [r.message for r in self.by_path("/v1/metrics")]

    def metrics(self, index: int = -1) -> dict[str, list]:
        """name -> [Metric, ...] of one export."""
        out: dict[str, list] = {}
        for rm in self.exports[index].resource_metrics:
            for sm in rm.scope_metrics:
                for m in sm.metrics:
                    out.setdefault(m.name, []).append(m)
        return out


@pytest.fixture
def capture() -> Iterator[Capture]:
    with Capture(free_port()) as cap:
        yield cap


def attrs(point) -> dict[str, str]:
    return {kv.key: kv.value.string_value for kv in point.attributes}


def _exporter(capture: Capture, store: SketchStore, interval: float = 60.0) -> SketchExporter:
    return SketchExporter(
        OTLPMetricExporter(endpoint=capture.url, timeout=5),
        resource=Resource.create({"service.name": "fraud-api"}),
        store=store,
        interval=interval,
    )


def _wait(predicate, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def test_distributions_arrive_as_otlp_with_names_attributes_temporality_and_buckets(capture):
    """Exponential histograms, category counts, missing counts: delta, with every ml.* attribute."""
    rng = np.random.default_rng(1)
    x = rng.lognormal(1.0, 1.0, size=500)
    store = SketchStore()
    frame = pd.DataFrame({"amount": x, "city": ["paris"] * 300 + ["rome"] * 199 + [None]})
    store.record("fraud", "3.1", "input", summarize_input(frame, config=CFG))
    store.record("fraud", "3.1", "output", summarize_output(np.array([0, 1, 1]), config=CFG))
    exporter = _exporter(capture, store)
    assert exporter.force_flush() is True
    assert len(capture.exports) == 1
    request = capture.exports[0]
    resource = {kv.key: kv.value.string_value for kv in request.resource_metrics[0].resource.attributes}
    assert resource["service.name"] == "fraud-api"
    metrics = capture.metrics()
    assert set(metrics) == {"ml.feature.value", "ml.feature.category.count", "ml.feature.missing"}

    (value,) = metrics["ml.feature.value"]
    assert value.unit == "1" and value.exponential_histogram.aggregation_temporality == DELTA
    (p,) = value.exponential_histogram.data_points
    assert attrs(p) == {
        "ml.model.name": "fraud",
        "ml.model.version": "3.1",
        "ml.feature.name": "amount",
        "ml.feature.role": "input",
    }
    assert p.count == 500 and p.sum == pytest.approx(x.sum())
    assert not p.HasField("min") and not p.HasField("max")  # each would be a real value
    assert p.time_unix_nano >= p.start_time_unix_nano > 0
    # buckets as a value-by-value count with the SDK's mapping at the exported scale
    mapping = LogarithmMapping(p.scale)
    expected = Counter(mapping.map_to_index(float(v)) for v in x)
    got = {p.positive.offset + i: n for i, n in enumerate(p.positive.bucket_counts) if n}
    assert got == dict(expected) and len(p.positive.bucket_counts) <= CFG.max_histogram_buckets

    (cats,) = metrics["ml.feature.category.count"]
    assert cats.sum.aggregation_temporality == DELTA and cats.sum.is_monotonic
    by_label = {(attrs(d)["ml.feature.name"], attrs(d)["ml.feature.category"]): d.as_int for d in cats.sum.data_points}
    assert by_label == {
        ("city", hash_label("paris")): 300,
        ("city", hash_label("rome")): 199,
        ("prediction", "1"): 2,
        ("prediction", "0"): 1,
    }
    assert {attrs(d)["ml.feature.role"] for d in cats.sum.data_points if attrs(d)["ml.feature.name"] == "prediction"} == {"output"}
    (missing,) = metrics["ml.feature.missing"]
    assert [(attrs(d)["ml.feature.name"], d.as_int) for d in missing.sum.data_points] == [("city", 1)]


def test_with_a_baseline_explicit_buckets_and_in_band_baseline_points_arrive(capture):
    """With a baseline: explicit buckets on its edges (delta) and the baseline itself (cumulative)."""
    store = SketchStore()
    baseline = Baseline(
        "sha256:abc", "fraud", "3.1",
        {
            "amount": FeatureBaseline("amount", "numeric", [10.0, 100.0], [5, 90, 5], min=1.0, max=500.0, mean=50.0, count=100),
            "city": FeatureBaseline("city", "categorical", counts=[60, 30, 10], categories=["paris", "rome"]),
        },
        created_at="2026-01-02T03:04:05+00:00",
    )
    store.set_baseline("fraud", "3.1", baseline)
    frame = pd.DataFrame({"amount": [5.0, 10.0, 50.0, 100.0, 1000.0], "city": ["paris", "oslo", "rome", "rome", "lima"]})
    store.record("fraud", "3.1", "input", summarize_input(frame, config=CFG))
    assert _exporter(capture, store).force_flush()
    metrics = capture.metrics()

    (value,) = metrics["ml.feature.value"]
    assert value.WhichOneof("data") == "histogram" and value.histogram.aggregation_temporality == DELTA
    (h,) = value.histogram.data_points
    assert list(h.explicit_bounds) == [10.0, 100.0]
    assert list(h.bucket_counts) == [2, 2, 1]  # (-inf,10]: 5,10 | (10,100]: 50,100 | (100,inf): 1000
    assert attrs(h)["ml.baseline.id"] == "sha256:abc" and h.count == 5 and not h.HasField("sum")  # 5 values: too few for a sum

    (cats,) = metrics["ml.feature.category.count"]
    assert {attrs(d)["ml.feature.category"]: d.as_int for d in cats.sum.data_points} == {"paris": 1, "rome": 2, OTHER: 2}

    (base,) = metrics["ml.baseline.feature.value"]
    assert base.histogram.aggregation_temporality == CUMULATIVE
    (b,) = base.histogram.data_points
    assert list(b.bucket_counts) == [5, 90, 5] and list(b.explicit_bounds) == [10.0, 100.0]
    assert attrs(b)["ml.baseline.id"] == "sha256:abc" and b.count == 100 and b.sum == 5000.0
    assert b.start_time_unix_nano == 1767323045 * 10**9  # the baseline's creation time
    (bcats,) = metrics["ml.baseline.feature.category.count"]
    assert bcats.sum.aggregation_temporality == CUMULATIVE
    assert {attrs(d)["ml.feature.category"]: d.as_int for d in bcats.sum.data_points} == {"paris": 60, "rome": 30, OTHER: 10}


def test_standard_otlp_endpoint_variable_is_honoured(capture, monkeypatch):
    """An OTLPMetricExporter built with no arguments sends where OTEL_EXPORTER_OTLP_METRICS_ENDPOINT says."""
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", capture.url)
    store = SketchStore()
    store.record("m", "1", "input", summarize_input(np.ones((3, 1)), config=CFG))
    exporter = SketchExporter(OTLPMetricExporter(), resource=Resource.create({}), store=store, interval=60)
    assert exporter.force_flush()
    assert set(capture.metrics()) == {"ml.feature.value"}


def test_a_failed_export_is_not_retried_its_points_are_dropped_counted_once_and_reported(capture):
    """A refused export: exactly one request (a retry of a delta could deliver it twice), the
    points are counted as dropped once and reported with the next export."""
    store = SketchStore()
    store.record("m", "1", "input", summarize_input(np.ones((4, 3)), config=CFG))
    exporter = _exporter(capture, store)
    capture.statuses = [400]  # not retryable inside the OTLP exporter itself
    assert exporter.force_flush() is False
    assert len(capture.exports) == 1
    assert exporter.dropped_points == 3 and exporter.failed_exports == 1 and exporter.delivered_points == 0

    store.record("m", "1", "input", summarize_input(np.ones((2, 1)), config=CFG))
    assert exporter.force_flush() is True
    metrics = capture.metrics()
    (dropped,) = metrics["ml.sketch.dropped"]
    assert [(attrs(d), d.as_int) for d in dropped.sum.data_points] == [({"ml.sdk.drop.reason": "export_failed"}, 3)]
    assert exporter.dropped_points == 3  # reported, not double counted
    assert exporter.force_flush() is True and len(capture.exports) == 2  # nothing new: no request


def test_a_timed_out_export_is_sent_once_never_again(capture):
    """An export the collector does not answer in time (frozen) is given up and not re-sent:
    when the collector wakes up it holds one copy of the delta, not two."""
    store = SketchStore()
    store.record("m", "1", "input", summarize_input(np.ones((40, 1)), config=CFG))
    exporter = SketchExporter(
        OTLPMetricExporter(endpoint=capture.url, timeout=0.5),
        resource=Resource.create({}), store=store, interval=60,
    )
    capture.hold = threading.Event()
    try:
        assert exporter.force_flush(timeout_millis=500) is False
    finally:
        capture.hold.set()
    time.sleep(0.3)
    capture.hold = None
    assert len(capture.exports) == 1 and exporter.exports == 1
    assert sum(p.count for p in _exp_points(capture, 0)) == 40
    # counted as dropped, but apart: sent and unanswered, it may have arrived (here it did)
    assert exporter.dropped_values == exporter.unanswered_values == 40


def test_the_periodic_thread_exports_and_shutdown_sends_the_rest(capture):
    """The daemon thread exports on its interval; shutdown stops it and exports what is left."""
    store = SketchStore()
    exporter = _exporter(capture, store, interval=0.1)
    exporter.start()
    try:
        store.record("m", "1", "input", summarize_input(np.ones((5, 1)), config=CFG))
        assert _wait(lambda: len(capture.exports) >= 1)
    finally:
        store.record("m", "1", "input", summarize_input({"late": 2.0}, config=CFG))
        exporter.shutdown()
    assert exporter._thread is not None and not exporter._thread.is_alive()
    names = {attrs(p)["ml.feature.name"] for r in range(len(capture.exports)) for p in _exp_points(capture, r)}
    assert names == {"f0", "late"}
    assert exporter.force_flush() is False  # shut down: no more exports


def _exp_points(capture: Capture, index: int) -> list:
    return [p for m in capture.metrics(index).get("ml.feature.value", []) for p in m.exponential_histogram.data_points]


def test_nothing_recorded_means_no_request(capture):
    """An empty snapshot (no data, no baseline) sends nothing and counts as success."""
    exporter = _exporter(capture, SketchStore())
    assert exporter.force_flush() is True and capture.exports == []


def test_recording_goes_on_while_an_export_is_stuck(capture):
    """A prediction never waits for the exporter: record() completes while a request hangs."""
    store = SketchStore()
    store.record("m", "1", "input", summarize_input(np.ones((4, 2)), config=CFG))
    exporter = _exporter(capture, store)
    capture.hold = threading.Event()
    flusher = threading.Thread(target=exporter.force_flush)
    flusher.start()
    try:
        assert capture.arrived.wait(15)  # the export is now blocked inside the server
        for _ in range(3):
            store.record("m", "1", "input", summarize_input(np.ones((1000, 2)), config=CFG))
            store.record("m", "1", "input", summarize_input({"f0": 1.0, "f1": 2.0}, config=CFG))
        assert not capture.hold.is_set() and flusher.is_alive()  # recorded while the export hangs
    finally:
        capture.hold.set()
        flusher.join(30)
    capture.hold = None
    assert exporter.force_flush()
    assert {p.count for p in _exp_points(capture, -1)} == {3003}


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_the_exporter_thread_restarts_in_a_forked_child(capture):
    """A pre-fork server's worker exports its own distributions (the thread restarts after fork)."""
    store = SketchStore()
    exporter = _exporter(capture, store, interval=0.1)
    exporter.start()
    try:

        def child() -> dict:
            alive = exporter._thread is not None and exporter._thread.is_alive()
            done = exporter.succeeded_exports
            store.record("child-model", "1", "input", summarize_input(np.ones((3, 1)), config=CFG))
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and exporter.succeeded_exports == done:
                time.sleep(0.05)  # until the child's own thread has exported successfully
            return {"thread_alive": alive}

        report = in_child(child)
        assert report == {"thread_alive": True}

        def child_data_arrived() -> bool:
            return any(
                attrs(p)["ml.model.name"] == "child-model" for r in range(len(capture.exports)) for p in _exp_points(capture, r)
            )

        assert _wait(child_data_arrived)
    finally:
        exporter.shutdown()


def test_to_metrics_data_is_empty_for_an_empty_snapshot():
    """No points at all: MetricsData with no resource metrics (the exporter then sends nothing)."""
    data = to_metrics_data(SketchStore().collect(), resource=Resource.create({}))
    assert list(data.resource_metrics) == []


def test_the_otlp_grpc_exporter_delivers_the_same_distributions():
    """The stock OTLP/gRPC metric exporter against a loopback gRPC MetricsService gets them too."""
    from concurrent import futures

    import grpc
    from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter as GrpcExporter
    from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc

    received: list[ExportMetricsServiceRequest] = []

    class Service(metrics_service_pb2_grpc.MetricsServiceServicer):
        def Export(self, request, context):  # noqa: N802 - gRPC API
            received.append(request)
            return metrics_service_pb2.ExportMetricsServiceResponse()

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(Service(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        store = SketchStore()
        values = np.array([[0.5, -2.0], [1.5, 0.0], [3.0, 4.0]])
        store.record("m", "1", "input", summarize_input(values, config=CFG))
        exporter = SketchExporter(
            GrpcExporter(endpoint=f"127.0.0.1:{port}", insecure=True, timeout=5),
            resource=Resource.create({}), store=store, interval=60,
        )
        assert exporter.force_flush()
        exporter.shutdown()
    finally:
        server.stop(None)
    (request,) = received
    (metric,) = request.resource_metrics[0].scope_metrics[0].metrics
    assert metric.name == "ml.feature.value" and metric.exponential_histogram.aggregation_temporality == DELTA
    points = {attrs(p)["ml.feature.name"]: p for p in metric.exponential_histogram.data_points}
    assert points["f0"].count == 3 and sum(points["f0"].positive.bucket_counts) == 3
    assert points["f1"].zero_count == 1 and sum(points["f1"].negative.bucket_counts) == 1
    assert sum(points["f1"].positive.bucket_counts) == 1


def test_overflow_counts_arrive_as_ml_sketch_overflow(capture):
    """Features beyond max_features and cut strings are exported as ml.sketch.overflow by kind."""
    cfg = Config(max_features=2, max_string_length=4)
    store = SketchStore()
    store.record("m", "1", "input", summarize_input(pd.DataFrame({"a": ["longer-than-4"], "b": [1.0], "c": [2.0]}), config=cfg))
    assert _exporter(capture, store).force_flush()
    (overflow,) = capture.metrics()["ml.sketch.overflow"]
    assert overflow.sum.aggregation_temporality == DELTA and overflow.unit == "{item}"
    kinds = {attrs(d)["ml.overflow.kind"]: d.as_int for d in overflow.sum.data_points}
    assert kinds == {"feature": 1, "string": 1}
    assert {attrs(d)["ml.model.name"] for d in overflow.sum.data_points} == {"m"}
