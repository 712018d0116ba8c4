"""The sketch exporter: the store's distributions out through a stock OTLP metric exporter.

opentelemetry-sdk has no MetricProducer hook, so modeltel runs its own periodic exporter: a
daemon thread that, every ``export_interval`` seconds, takes a delta snapshot of the
:class:`~modeltel._sketch.SketchStore`, builds ``MetricsData`` from the public dataclasses of
``opentelemetry.sdk.metrics.export`` (exponential and explicit-bucket histograms, sums; delta
temporality, in-band baselines cumulative) and hands it to any ``MetricExporter`` (OTLP
gRPC/HTTP, which honour the standard ``OTEL_EXPORTER_OTLP_*`` settings, or a console or
in-memory exporter). The MeterProvider's own reader is not involved, so one prediction
never costs an OpenTelemetry call per value.

Bounded: a failed export is retried once, then dropped and counted (``dropped_points``, and
the ``ml.sketch.dropped`` metric in the next export). Predictions never wait for it. In a
forked child the thread is restarted (and the store starts empty there).
"""

from __future__ import annotations

import logging
import math
import os
import threading
import weakref

from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    Buckets,
    ExponentialHistogram,
    ExponentialHistogramDataPoint,
    Histogram,
    HistogramDataPoint,
    Metric,
    MetricExporter,
    MetricExportResult,
    MetricsData,
    NumberDataPoint,
    ResourceMetrics,
    ScopeMetrics,
    Sum,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from modeltel._sketch import STORE, CountPoint, HistogramPoint, SketchStore, Snapshot

__all__ = ["SketchExporter", "to_metrics_data"]

_log = logging.getLogger("modeltel")
_SCOPE = InstrumentationScope("modeltel.sketch", "0.1.0")
_DELTA = AggregationTemporality.DELTA
_CUMULATIVE = AggregationTemporality.CUMULATIVE


def _base(model: str, version: str, role: str, feature: str) -> dict[str, str]:
    return {
        "ml.model.name": model,
        "ml.model.version": version,
        "ml.feature.name": feature,
        "ml.feature.role": role,
    }


def _finite(v: float, default: float = 0.0) -> float:
    return v if math.isfinite(v) else default


def _histogram_point(p: HistogramPoint, start: int, now: int) -> HistogramDataPoint:
    attrs = _base(p.model, p.version, p.role, p.feature)
    if p.baseline_id:
        attrs["ml.baseline.id"] = p.baseline_id
    return HistogramDataPoint(
        attributes=attrs,
        start_time_unix_nano=start,
        time_unix_nano=now,
        count=p.count,
        sum=p.sum,
        bucket_counts=list(p.counts),
        explicit_bounds=list(p.bounds),
        min=_finite(p.min),
        max=_finite(p.max),
    )


def _count_point(p: CountPoint, start: int, now: int) -> NumberDataPoint:
    attrs = _base(p.model, p.version, p.role, p.feature)
    if p.category is not None:
        attrs["ml.feature.category"] = p.category
    if p.baseline_id:
        attrs["ml.baseline.id"] = p.baseline_id
    return NumberDataPoint(attributes=attrs, start_time_unix_nano=start, time_unix_nano=now, value=p.value)


def _counter(name: str, description: str, unit: str, points: list[NumberDataPoint], temporality: AggregationTemporality) -> Metric:
    """A monotonic sum: the category, missing, overflow and dropped counts."""
    return Metric(
        name=name,
        description=description,
        unit=unit,
        data=Sum(data_points=points, aggregation_temporality=temporality, is_monotonic=True),
    )


def to_metrics_data(
    snapshot: Snapshot,
    *,
    resource: Resource,
    dropped: int = 0,
) -> MetricsData:
    """The OTLP form of a snapshot (names: docs/semantic-conventions.md)."""
    start, now = snapshot.start_time_unix_nano, snapshot.time_unix_nano
    metrics: list[Metric] = []

    if snapshot.exponential:
        points = [
            ExponentialHistogramDataPoint(
                attributes=_base(p.model, p.version, p.role, p.feature),
                start_time_unix_nano=start,
                time_unix_nano=now,
                count=p.count,
                sum=p.sum,
                scale=p.scale,
                zero_count=p.zero_count,
                positive=Buckets(offset=p.positive_offset, bucket_counts=list(p.positive)),
                negative=Buckets(offset=p.negative_offset, bucket_counts=list(p.negative)),
                flags=0,
                min=_finite(p.min),
                max=_finite(p.max),
            )
            for p in snapshot.exponential
        ]
        metrics.append(
            Metric(
                name="ml.feature.value",
                description="Distribution of a numeric feature's finite values (no baseline).",
                unit="1",
                data=ExponentialHistogram(data_points=points, aggregation_temporality=_DELTA),
            )
        )
    if snapshot.explicit:
        metrics.append(
            Metric(
                name="ml.feature.value",
                description="Distribution of a numeric feature's finite values on the baseline's edges.",
                unit="1",
                data=Histogram(
                    data_points=[_histogram_point(p, start, now) for p in snapshot.explicit],
                    aggregation_temporality=_DELTA,
                ),
            )
        )
    if snapshot.categories:
        metrics.append(_counter(
            "ml.feature.category.count", "Values per category of a categorical feature.", "{value}",
            [_count_point(p, start, now) for p in snapshot.categories], _DELTA,
        ))
    if snapshot.missing:
        metrics.append(_counter(
            "ml.feature.missing", "Values that were None/NaN.", "{value}",
            [_count_point(p, start, now) for p in snapshot.missing], _DELTA,
        ))
    if snapshot.baseline_histograms:
        metrics.append(
            Metric(
                name="ml.baseline.feature.value",
                description="The baseline (reference) distribution of a numeric feature or output.",
                unit="1",
                data=Histogram(
                    data_points=[_histogram_point(p, p.start_time_unix_nano, now) for p in snapshot.baseline_histograms],
                    aggregation_temporality=_CUMULATIVE,
                ),
            )
        )
    if snapshot.baseline_categories:
        metrics.append(_counter(
            "ml.baseline.feature.category.count", "The baseline (reference) counts per category.", "{value}",
            [_count_point(p, p.start_time_unix_nano, now) for p in snapshot.baseline_categories], _CUMULATIVE,
        ))
    if snapshot.overflow:
        points = []
        for o in snapshot.overflow:
            attrs = {"ml.overflow.kind": o.kind}
            if o.model:
                attrs.update({"ml.model.name": o.model, "ml.model.version": o.version, "ml.feature.role": o.role})
            points.append(NumberDataPoint(attributes=attrs, start_time_unix_nano=start, time_unix_nano=now, value=o.value))
        metrics.append(_counter(
            "ml.sketch.overflow", "Features, strings, columns or streams not tracked because a cap was hit.",
            "{item}", points, _DELTA,
        ))
    if dropped:
        metrics.append(_counter(
            "ml.sketch.dropped", "Distribution data points dropped after a failed export (retried once).", "{point}",
            [NumberDataPoint(attributes={}, start_time_unix_nano=start, time_unix_nano=now, value=dropped)], _DELTA,
        ))
    if not metrics:
        return MetricsData(resource_metrics=[])
    return MetricsData(
        resource_metrics=[
            ResourceMetrics(
                resource=resource,
                scope_metrics=[ScopeMetrics(scope=_SCOPE, metrics=metrics, schema_url="")],
                schema_url="",
            )
        ]
    )


def _count_points(data: MetricsData) -> int:
    return sum(
        len(m.data.data_points)
        for rm in data.resource_metrics
        for sm in rm.scope_metrics
        for m in sm.metrics
    )


_EXPORTERS: "weakref.WeakSet[SketchExporter]" = weakref.WeakSet()


class SketchExporter:
    """Every ``interval`` seconds: ``store.collect()`` -> MetricsData -> ``exporter.export``.

    ``dropped_points`` counts data points given up after a failed export and its one retry;
    ``exports`` and ``failed_exports`` count attempts (for the lead's self-telemetry).
    """

    def __init__(
        self,
        exporter: MetricExporter,
        *,
        resource: Resource,
        store: SketchStore = STORE,
        interval: float,
        timeout_millis: float = 10_000,
    ) -> None:
        self._exporter = exporter
        self._resource = resource
        self._store = store
        self._interval = float(interval)
        self._timeout_millis = timeout_millis
        self._export_lock = threading.Lock()  # one export at a time (thread vs force_flush)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._shutdown = False
        #: Data points given up after a failed export and its retry.
        self.dropped_points = 0
        self._dropped_unreported = 0
        self.exports = 0
        self.failed_exports = 0
        self.succeeded_exports = 0
        _EXPORTERS.add(self)

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        """Start the periodic thread (idempotent)."""
        if self._shutdown or (self._thread is not None and self._thread.is_alive()):
            return
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="modeltel-sketch-exporter", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        stop = self._stop
        while not stop.wait(self._interval):
            self._export_once(self._timeout_millis)

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        """Collect and export now; True when the export succeeded (or there was nothing)."""
        if self._shutdown:
            return False
        return self._export_once(timeout_millis)

    def shutdown(self, timeout_millis: float = 10_000) -> None:
        """Stop the thread, export what is left, shut the exporter down; idempotent."""
        if self._shutdown:
            return
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=timeout_millis / 1000)
        self._export_once(timeout_millis)
        self._shutdown = True
        try:
            self._exporter.shutdown()
        except Exception as exc:  # noqa: BLE001 - never raise out of modeltel
            _log.warning("modeltel: sketch exporter shutdown failed: %r", exc)

    # -- one export --------------------------------------------------------------------

    def _export_once(self, timeout_millis: float) -> bool:
        with self._export_lock:
            try:
                snapshot = self._store.collect()
                data = to_metrics_data(snapshot, resource=self._resource, dropped=self._dropped_unreported)
            except Exception as exc:  # noqa: BLE001
                _log.warning("modeltel: building distribution metrics failed: %r", exc)
                return False
            if not data.resource_metrics:
                return True
            for attempt in (1, 2):  # one retry, then give up: bounded
                self.exports += 1
                try:
                    result = self._exporter.export(data, timeout_millis=timeout_millis)
                except Exception as exc:  # noqa: BLE001
                    _log.debug("modeltel: sketch export attempt %d raised %r", attempt, exc)
                    result = MetricExportResult.FAILURE
                if result is MetricExportResult.SUCCESS:
                    self._dropped_unreported = 0
                    self.succeeded_exports += 1
                    return True
                self.failed_exports += 1
            n = _count_points(data)
            self.dropped_points += n
            # the dropped count of this export travels with the next one
            self._dropped_unreported += n
            _log.warning("modeltel: distribution export failed twice; dropped %d data points", n)
            return False

    def _after_fork_in_child(self) -> None:
        self._export_lock = threading.Lock()
        was_running = self._thread is not None and not self._shutdown
        self._thread = None
        if was_running:
            self.start()


def _restart_in_child() -> None:
    for exporter in list(_EXPORTERS):
        exporter._after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_restart_in_child)
