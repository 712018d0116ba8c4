"""The sketch exporter: the store's distributions out through a stock OTLP metric exporter.

opentelemetry-sdk has no MetricProducer hook, so modeltel runs its own periodic exporter: a
daemon thread that, every ``export_interval`` seconds, takes a delta snapshot of the
:class:`~modeltel._sketch.SketchStore`, builds ``MetricsData`` from the public dataclasses of
``opentelemetry.sdk.metrics.export`` (exponential and explicit-bucket histograms, sums; delta
temporality, in-band baselines cumulative) and hands it to any ``MetricExporter`` (OTLP
gRPC/HTTP, which honour the standard ``OTEL_EXPORTER_OTLP_*`` settings, or a console or
in-memory exporter). The MeterProvider's own reader is not involved, so one prediction
never costs an OpenTelemetry call per value.

Bounded and counted once: a failed export is not retried (it may have arrived after all),
its points are dropped and counted (``dropped_points``, and the ``ml.sketch.dropped`` metric in
the next export). Predictions never wait for it. In a
forked child the thread is restarted (and the store starts empty there).
"""

from __future__ import annotations

import logging
import math
import os
import threading
import weakref
from typing import Any, Mapping

from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, LogRecordExporter
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
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from modeltel import _registry
from modeltel import _semconv as sc
from modeltel._telemetry import DURATION_BUCKETS, SCOPE, VERSION
from modeltel._sketch import STORE, CountPoint, DurationPoint, HistogramPoint, SketchStore, Snapshot

__all__ = [
    "CountingLogProcessor",
    "CountingSpanProcessor",
    "DropCounter",
    "SketchExporter",
    "duration_metric",
    "queued",
    "to_metrics_data",
]

_log = logging.getLogger("modeltel")
_SCOPE = InstrumentationScope("modeltel.sketch", VERSION)
# ml.prediction.duration keeps the scope it had as an SDK instrument (dashboards may filter on it).
_DURATION_SCOPE = InstrumentationScope(SCOPE, VERSION)
_DELTA = AggregationTemporality.DELTA
_CUMULATIVE = AggregationTemporality.CUMULATIVE


def _base(model: str, version: str, role: str, feature: str) -> dict[str, str]:
    return {
        sc.ATTR_MODEL_NAME: model,
        sc.ATTR_MODEL_VERSION: version,
        sc.ATTR_FEATURE_NAME: feature,
        sc.ATTR_FEATURE_ROLE: role,
    }


def _finite(v: float) -> Any:
    """A min/max/sum, or None (left out of the point) when withheld or undefined.

    Typed ``Any``: the SDK's point types say ``float``, and its OTLP encoder leaves a None out."""
    return v if math.isfinite(v) else None


def _explicit_point(
    attrs: dict[str, Any], p: HistogramPoint | DurationPoint, bounds: Any, start: int, now: int
) -> HistogramDataPoint:
    """An explicit-bucket point; a withheld (NaN) sum, min or max is left out."""
    return HistogramDataPoint(
        attributes=attrs,
        start_time_unix_nano=start,
        time_unix_nano=now,
        count=p.count,
        sum=_finite(p.sum),
        bucket_counts=list(p.counts),
        explicit_bounds=list(bounds),
        min=_finite(p.min),
        max=_finite(p.max),
    )


def _histogram_point(p: HistogramPoint, start: int, now: int) -> HistogramDataPoint:
    attrs = _base(p.model, p.version, p.role, p.feature)
    if p.baseline_id:
        attrs[sc.ATTR_BASELINE_ID] = p.baseline_id
    return _explicit_point(attrs, p, p.bounds, start, now)


def _count_point(p: CountPoint, start: int, now: int) -> NumberDataPoint:
    attrs = _base(p.model, p.version, p.role, p.feature)
    if p.category is not None:
        attrs[sc.ATTR_CATEGORY] = p.category
    if p.baseline_id:
        attrs[sc.ATTR_BASELINE_ID] = p.baseline_id
    return NumberDataPoint(attributes=attrs, start_time_unix_nano=start, time_unix_nano=now, value=p.value)


def _duration_point(p: DurationPoint, start: int, now: int) -> HistogramDataPoint:
    if p.model is None:  # the series beyond the cap
        attrs: dict[str, Any] = {"otel.metric.overflow": True}
    else:
        attrs = {sc.ATTR_MODEL_NAME: p.model, sc.ATTR_MODEL_VERSION: p.version}
        if p.error_type is not None:
            attrs[sc.ATTR_ERROR_TYPE] = p.error_type
    return _explicit_point(attrs, p, DURATION_BUCKETS, start, now)


def duration_metric(snapshot: Snapshot) -> Metric | None:
    """``ml.prediction.duration`` of a snapshot: the histogram the SDK instrument made before
    (same name, unit, attributes and buckets), cumulative unless the snapshot is delta."""
    if not snapshot.durations:
        return None
    delta = snapshot.durations_delta
    now = snapshot.time_unix_nano
    return Metric(
        name=sc.METRIC_DURATION,
        description="Duration of model predictions.",
        unit="s",
        data=Histogram(
            data_points=[
                _duration_point(p, snapshot.start_time_unix_nano if delta else p.start_time_unix_nano, now)
                for p in snapshot.durations
            ],
            aggregation_temporality=_DELTA if delta else _CUMULATIVE,
        ),
    )


def _counter(name: str, description: str, unit: str, points: list[NumberDataPoint], temporality: AggregationTemporality) -> Metric:
    """A monotonic sum: the category, missing, overflow and dropped counts."""
    return Metric(
        name=name,
        description=description,
        unit=unit,
        data=Sum(data_points=points, aggregation_temporality=temporality, is_monotonic=True),
    )


def _histogram(name: str, description: str, points: list[HistogramDataPoint], temporality: AggregationTemporality) -> Metric:
    """An explicit-bucket histogram of values (unit 1): on a baseline's edges, or the baseline itself."""
    return Metric(
        name=name,
        description=description,
        unit="1",
        data=Histogram(data_points=points, aggregation_temporality=temporality),
    )


def to_metrics_data(
    snapshot: Snapshot,
    *,
    resource: Resource,
    dropped: Mapping[str, int] | None = None,
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
                sum=_finite(p.sum),
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
                name=sc.METRIC_FEATURE_VALUE,
                description="Distribution of a numeric feature's finite values (no baseline).",
                unit="1",
                data=ExponentialHistogram(data_points=points, aggregation_temporality=_DELTA),
            )
        )
    if snapshot.explicit:
        metrics.append(_histogram(
            sc.METRIC_FEATURE_VALUE, "Distribution of a numeric feature's finite values on the baseline's edges.",
            [_histogram_point(p, start, now) for p in snapshot.explicit], _DELTA,
        ))
    if snapshot.categories:
        metrics.append(_counter(
            sc.METRIC_CATEGORY_COUNT, "Values per category of a categorical feature.", "{value}",
            [_count_point(p, start, now) for p in snapshot.categories], _DELTA,
        ))
    if snapshot.missing:
        metrics.append(_counter(
            sc.METRIC_MISSING, "Values that were None/NaN.", "{value}",
            [_count_point(p, start, now) for p in snapshot.missing], _DELTA,
        ))
    if snapshot.baseline_histograms:
        metrics.append(_histogram(
            sc.METRIC_BASELINE_VALUE, "The baseline (reference) distribution of a numeric feature or output.",
            [_histogram_point(p, p.start_time_unix_nano, now) for p in snapshot.baseline_histograms], _CUMULATIVE,
        ))
    if snapshot.baseline_categories:
        metrics.append(_counter(
            sc.METRIC_BASELINE_CATEGORIES, "The baseline (reference) counts per category.", "{value}",
            [_count_point(p, p.start_time_unix_nano, now) for p in snapshot.baseline_categories], _CUMULATIVE,
        ))
    if snapshot.baseline_missing:  # after the baseline's distributions: the collector attaches it to them
        metrics.append(_counter(
            sc.METRIC_BASELINE_MISSING, "The baseline's (reference's) null values per feature.", "{value}",
            [_count_point(p, p.start_time_unix_nano, now) for p in snapshot.baseline_missing], _CUMULATIVE,
        ))
    if snapshot.overflow:
        overflow_points = []
        for o in snapshot.overflow:
            attrs = {sc.ATTR_OVERFLOW_KIND: o.kind}
            if o.model:
                attrs.update({sc.ATTR_MODEL_NAME: o.model, sc.ATTR_MODEL_VERSION: o.version, sc.ATTR_FEATURE_ROLE: o.role})
            overflow_points.append(NumberDataPoint(attributes=attrs, start_time_unix_nano=start, time_unix_nano=now, value=o.value))
        metrics.append(_counter(
            sc.METRIC_SKETCH_OVERFLOW, "Features, strings, columns or streams not tracked because a cap was hit.",
            "{item}", overflow_points, _DELTA,
        ))
    if dropped:
        metrics.append(_counter(
            sc.METRIC_SKETCH_DROPPED, "Distribution data points dropped after a failed export.", "{point}",
            [
                NumberDataPoint(attributes={sc.ATTR_SDK_DROP_REASON: reason}, start_time_unix_nano=start, time_unix_nano=now, value=n)
                for reason, n in sorted(dropped.items())
            ],
            _DELTA,
        ))
    scopes = [ScopeMetrics(scope=_SCOPE, metrics=metrics, schema_url="")] if metrics else []
    duration = duration_metric(snapshot)
    if duration is not None:
        scopes.append(ScopeMetrics(scope=_DURATION_SCOPE, metrics=[duration], schema_url=""))
    if not scopes:
        return MetricsData(resource_metrics=[])
    return MetricsData(resource_metrics=[ResourceMetrics(resource=resource, scope_metrics=scopes, schema_url="")])


def _count_points(data: MetricsData) -> int:
    return sum(
        len(m.data.data_points)
        for rm in data.resource_metrics
        for sm in rm.scope_metrics
        for m in sm.metrics
    )


def _count_values(snapshot: Snapshot) -> int:
    """Feature values in a snapshot's ``ml.feature.value`` points (the accounting unit)."""
    return sum(p.count for p in snapshot.exponential) + sum(p.count for p in snapshot.explicit)


_EXPORTERS: "weakref.WeakSet[SketchExporter]" = weakref.WeakSet()


def _prefers_delta_histograms() -> bool:
    """``OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE``: ``delta`` and ``lowmemory`` make
    histograms delta in the stock OTLP exporters; the default is cumulative."""
    preference = os.environ.get("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "cumulative")
    return preference.strip().lower() in ("delta", "lowmemory")


class SketchExporter:
    """Every ``interval`` seconds: ``store.collect()`` -> MetricsData -> ``exporter.export``.

    ``dropped_points`` counts data points given up after a failed export (not retried);
    ``exports`` and ``failed_exports`` count attempts.
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
        #: Data points given up after a failed export (never retried: see _export_once).
        self.dropped_points = 0
        #: Data points of exports the exporter confirmed.
        self.delivered_points = 0
        #: Feature values in the ``ml.feature.value`` points delivered / dropped (accounting:
        #: delivered + dropped = values recorded).
        self.delivered_values = 0
        self.dropped_values = 0
        self._dropped_unreported: dict[str, int] = {}
        self._watch = _AnswerWatch(exporter)
        #: Of ``dropped_values``: those of exports sent but not answered in time (they may
        #: have arrived: a frozen collector reads them later).
        self.unanswered_values = 0
        #: Of ``dropped_values``, by reason (``export_failed``, ``unanswered``, ``shutdown``).
        self.dropped_values_by_reason: dict[str, int] = {}
        # The export in flight (points, values) and whether shutdown gave up on it: once
        # abandoned, a late answer is ignored, so nothing is counted both dropped and delivered.
        self._account_lock = threading.Lock()
        self._in_flight: tuple[int, int] | None = None
        self._abandoned = False
        self.exports = 0
        self.failed_exports = 0
        self.succeeded_exports = 0
        # ml.prediction.duration leaves with the distributions, with the temporality the
        # stock OTLP exporter would have given the SDK histogram (cumulative unless the
        # standard preference asks for delta).
        self._durations_delta = _prefers_delta_histograms()
        store.exports_durations = True
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
            with self._account_lock:
                if self._abandoned:
                    return False
                try:
                    snapshot = self._store.collect(durations_delta=self._durations_delta)
                    data = to_metrics_data(snapshot, resource=self._resource, dropped=self._dropped_unreported)
                except Exception as exc:  # noqa: BLE001
                    _log.warning("modeltel: building distribution metrics failed: %r", exc)
                    return False
                if not data.resource_metrics:
                    return True
                n, values = _count_points(data), _count_values(snapshot)
                self._in_flight = (n, values)
            # One attempt, never a retry of the same delta: an export that timed out may still
            # have arrived (a frozen collector reads it later), and a second copy would count
            # its values twice. The stock OTLP exporters already retry what certainly did not
            # arrive (connection refused, 429, 503) within their timeout.
            self.exports += 1
            self._watch.unanswered = False
            try:
                result = self._exporter.export(data, timeout_millis=timeout_millis)
            except Exception as exc:  # noqa: BLE001
                _log.debug("modeltel: sketch export raised %r", exc)
                result = MetricExportResult.FAILURE
            with self._account_lock:
                self._in_flight = None
                if self._abandoned:  # counted as dropped ("shutdown") by abandon()
                    return False
                if result is MetricExportResult.SUCCESS:
                    self._dropped_unreported = {}
                    self.succeeded_exports += 1
                    self.delivered_points += n
                    self.delivered_values += values
                    return True
                self.failed_exports += 1
                reason = "unanswered" if self._watch.unanswered else "export_failed"
                self._drop(reason, n, values)
                # the dropped count of this export travels with the next one
                self._dropped_unreported[reason] = self._dropped_unreported.get(reason, 0) + n
            _log.warning("modeltel: distribution export failed (%s); dropped %d data points", reason, n)
            return False

    def _drop(self, reason: str, points: int, values: int) -> None:
        self.dropped_points += points
        self.dropped_values += values
        self.dropped_values_by_reason[reason] = self.dropped_values_by_reason.get(reason, 0) + values
        if reason == "unanswered":
            self.unanswered_values += values

    def abandon(self) -> int:
        """Shutdown gave up: the export in flight and what the store still holds are counted as
        dropped (reason ``shutdown``), and whatever happens to them later is ignored (a late
        answer is neither delivered nor dropped twice). Returns the data points dropped."""
        with self._account_lock:
            if self._abandoned:
                return 0
            self._abandoned = True
            points, values = self._in_flight or (0, 0)
            self._in_flight = None
            try:
                snapshot = self._store.collect()
                points += _count_points(to_metrics_data(snapshot, resource=self._resource))
                values += _count_values(snapshot)
            except Exception as exc:  # noqa: BLE001 - never raise out of modeltel
                _log.debug("modeltel: collecting the store at shutdown failed: %r", exc)
            self._drop("shutdown", points, values)
            return points

    def _after_fork_in_child(self) -> None:
        self._export_lock = threading.Lock()
        self._account_lock = threading.Lock()
        was_running = self._thread is not None and not self._shutdown
        self._thread = None
        if was_running:
            self.start()


def _restart_in_child() -> None:
    for exporter in list(_EXPORTERS):
        exporter._after_fork_in_child()


_registry.register("export.sketch_exporters", fork=_restart_in_child)


# --------------------------------------------------------------------------------------
# Spans and logs: every item the SDK's batch processors give up on is counted.
#
# The SDK's BatchSpanProcessor/BatchLogRecordProcessor drop the oldest item when their queue
# is full and ignore a failed export; neither is counted unless its internal metrics are
# switched on (and failed exports never are). modeltel counts both, plus what is still queued
# when shutdown gives up, in ``ml.sdk.dropped`` (observable, cumulative: a count that could not
# be sent during an outage arrives with the first export after it).


class DropCounter:
    """Spans and log records given up, by signal and reason (``ml.sdk.dropped``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, str], int] = {}
        #: Items handed to an exporter that answered success, by signal.
        self.delivered: dict[str, int] = {}

    def add(self, signal: str, reason: str, n: int) -> None:
        if n <= 0:
            return
        with self._lock:
            key = (signal, reason)
            self._counts[key] = self._counts.get(key, 0) + n

    def add_delivered(self, signal: str, n: int) -> None:
        with self._lock:
            self.delivered[signal] = self.delivered.get(signal, 0) + n

    def counts(self) -> dict[tuple[str, str], int]:
        with self._lock:
            return dict(self._counts)

    def observe(self, options: object = None) -> list[object]:
        from opentelemetry.metrics import Observation

        return [
            Observation(n, {sc.ATTR_SDK_SIGNAL: signal, sc.ATTR_SDK_DROP_REASON: reason})
            for (signal, reason), n in self.counts().items()
        ]


class _AnswerWatch:
    """Whether an OTLP/HTTP exporter's last request was sent and went unanswered (a read timeout).

    Such an export may have arrived after all (a frozen collector reads it when it wakes), so
    its items are counted as dropped with the reason ``unanswered``, apart from those that
    certainly did not arrive (``export_failed``: refused, an error status). The stock exporter
    says neither, so its transport's ``request`` is wrapped (opentelemetry-exporter-otlp-proto-http
    1.45); other exporters (gRPC, console) never report ``unanswered``.
    """

    def __init__(self, exporter: object) -> None:
        self.unanswered = False
        transport = getattr(getattr(exporter, "_client", None), "_transport", None)
        request = getattr(transport, "request", None)
        if not callable(request):
            return

        def watched(*args: Any, **kwargs: Any) -> Any:
            result = request(*args, **kwargs)
            error = getattr(result, "error", None)
            self.unanswered = error is not None and "ReadTimeout" in type(error).__name__
            return result

        try:
            transport.request = watched  # type: ignore[union-attr]
        except Exception:  # noqa: BLE001 - a transport that refuses: no classification
            pass


class CountingExporter:
    """Wraps a span or log exporter: a failed export's items are counted as dropped."""

    def __init__(self, exporter: object, signal: str, counter: DropCounter) -> None:
        self._exporter = exporter
        self._signal = signal
        self._counter = counter
        self._watch = _AnswerWatch(exporter)
        #: Items of the export in progress (lost uncounted if the process ends meanwhile).
        self.in_flight = 0

    def export(self, batch: object) -> object:
        n = len(batch)  # type: ignore[arg-type]
        self.in_flight = n
        self._watch.unanswered = False
        try:
            result = self._exporter.export(batch)  # type: ignore[attr-defined]
        except Exception as exc:  # noqa: BLE001 - counted, never raised into the SDK's thread
            _log.debug("modeltel: %s export raised %r", self._signal, exc)
            result = None
        finally:
            self.in_flight = 0
        if result is not None and getattr(result, "name", "") == "SUCCESS":
            self._counter.add_delivered(self._signal, n)
        else:
            self._counter.add(self._signal, "unanswered" if self._watch.unanswered else "export_failed", n)
        return result

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: object) -> None:
        try:
            self._exporter.shutdown()  # type: ignore[attr-defined]
        except Exception as exc:  # noqa: BLE001
            _log.debug("modeltel: %s exporter shutdown raised %r", self._signal, exc)

    def force_flush(self, timeout_millis: float = 30_000) -> bool:
        flush = getattr(self._exporter, "force_flush", None)
        return bool(flush(timeout_millis)) if callable(flush) else True


class _Admission:
    """Lets an item into a batch processor's queue, or counts it as dropped: exactly.

    The SDK's BatchProcessor appends to a bounded deque that silently pushes out its oldest
    item when full, and rejects everything once shut down; there is no hook to count either.
    So a full queue is checked here, under one lock for every producer: only the export
    thread takes items out concurrently (which can only make room), so an item let in is
    never pushed out, and an item refused is counted once. A full queue drops the newest item
    (the SDK would drop the oldest): the count is what matters, and the SDK's warning per
    dropped item is skipped.
    """

    def __init__(self, processor: object, signal: str, counter: DropCounter) -> None:
        self._lock = threading.Lock()
        self._batch = getattr(processor, "_batch_processor", None)
        self._queue = getattr(self._batch, "_queue", None)
        self._signal = signal
        self._counter = counter
        _ADMISSIONS.add(self)

    def admit(self, enqueue: Any, item: Any) -> None:
        queue = self._queue
        if queue is None:  # an SDK whose internals differ: no exact count, still fail-open
            enqueue(item)
            return
        with self._lock:
            if getattr(self._batch, "_shutdown", False):
                self._counter.add(self._signal, "shutdown", 1)
            elif queue.maxlen is not None and len(queue) >= queue.maxlen:
                self._counter.add(self._signal, "queue_full", 1)
            else:
                enqueue(item)

    def _after_fork(self) -> None:
        self._lock = threading.Lock()  # a producer thread of the parent may have held it


_ADMISSIONS: "weakref.WeakSet[_Admission]" = weakref.WeakSet()


def _admissions_after_fork() -> None:
    for admission in list(_ADMISSIONS):
        admission._after_fork()


_registry.register("export.admissions", fork=_admissions_after_fork)


def queued(processor: object) -> int:
    """Items still in a batch processor's queue (what a shutdown that gives up drops)."""
    batch = getattr(processor, "_batch_processor", None)
    queue = getattr(batch, "_queue", None)
    return len(queue) if queue is not None else 0


class _Counting:
    """What both counting processors add to the SDK's batch processor (the next class in their
    MRO): the exporter wrapped in a :class:`CountingExporter` and an :class:`_Admission` to the
    queue, both counting for ``signal``."""

    signal: str

    def __init__(self, exporter: SpanExporter | LogRecordExporter, counter: DropCounter) -> None:
        self.counting_exporter = CountingExporter(exporter, self.signal, counter)
        super().__init__(self.counting_exporter)  # type: ignore[call-arg]
        self._admission = _Admission(self, self.signal, counter)


class CountingSpanProcessor(_Counting, BatchSpanProcessor):
    """A BatchSpanProcessor whose dropped spans are counted (queue full, failed export, shut)."""

    signal = "spans"

    def on_end(self, span: ReadableSpan) -> None:
        if span.context is None or not span.context.trace_flags.sampled:
            return
        self._admission.admit(super().on_end, span)


class CountingLogProcessor(_Counting, BatchLogRecordProcessor):
    """A BatchLogRecordProcessor whose dropped records are counted (queue full, failed export, shut)."""

    signal = "logs"

    def on_emit(self, log_record: Any) -> None:
        self._admission.admit(super().on_emit, log_record)
