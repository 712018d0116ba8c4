"""Hand-built OTLP requests with known, countable content.

The outage test must count exactly what was sent and what arrived, so it does not go through
an SDK's batching and sampling: each request here carries spans with unique ids and gauge
points with a unique `seq` attribute, posted straight to the collector's OTLP/HTTP receiver.
"""

from __future__ import annotations

import os
import time

import requests
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.logs.v1 import logs_pb2
from opentelemetry.proto.metrics.v1 import metrics_pb2
from opentelemetry.proto.resource.v1 import resource_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

__all__ = ["post", "trace_request", "gauge_request", "log_request"]


def _kv(key: str, value: str | int) -> common_pb2.KeyValue:
    if isinstance(value, int):
        return common_pb2.KeyValue(key=key, value=common_pb2.AnyValue(int_value=value))
    return common_pb2.KeyValue(key=key, value=common_pb2.AnyValue(string_value=value))


def _resource(service: str) -> resource_pb2.Resource:
    return resource_pb2.Resource(attributes=[_kv("service.name", service)])


def trace_request(service: str, trace_id: bytes, first_seq: int, count: int) -> trace_service_pb2.ExportTraceServiceRequest:
    """`count` spans in one trace, span ids derived from their sequence numbers (unique)."""
    now = time.time_ns()
    spans = []
    for seq in range(first_seq, first_seq + count):
        spans.append(
            trace_pb2.Span(
                trace_id=trace_id,
                span_id=(seq + 1).to_bytes(8, "big"),
                name="predict outage-model",
                kind=trace_pb2.Span.SPAN_KIND_INTERNAL,
                start_time_unix_nano=now - 1_000_000,
                end_time_unix_nano=now,
                attributes=[_kv("ml.model.name", "outage-model"), _kv("seq", seq)],
            )
        )
    return trace_service_pb2.ExportTraceServiceRequest(
        resource_spans=[
            trace_pb2.ResourceSpans(
                resource=_resource(service),
                scope_spans=[trace_pb2.ScopeSpans(scope=common_pb2.InstrumentationScope(name="outage-test"), spans=spans)],
            )
        ]
    )


def gauge_request(service: str, first_seq: int, count: int) -> metrics_service_pb2.ExportMetricsServiceRequest:
    """`count` points of one gauge, each with a unique `seq` attribute (so none merge)."""
    now = time.time_ns()
    points = [
        metrics_pb2.NumberDataPoint(time_unix_nano=now, as_double=float(seq), attributes=[_kv("seq", seq)])
        for seq in range(first_seq, first_seq + count)
    ]
    metric = metrics_pb2.Metric(name="outage.test.value", unit="1", gauge=metrics_pb2.Gauge(data_points=points))
    return metrics_service_pb2.ExportMetricsServiceRequest(
        resource_metrics=[
            metrics_pb2.ResourceMetrics(
                resource=_resource(service),
                scope_metrics=[metrics_pb2.ScopeMetrics(scope=common_pb2.InstrumentationScope(name="outage-test"), metrics=[metric])],
            )
        ]
    )


def log_request(service: str, first_seq: int, count: int) -> logs_service_pb2.ExportLogsServiceRequest:
    now = time.time_ns()
    records = [
        logs_pb2.LogRecord(
            time_unix_nano=now,
            severity_number=logs_pb2.SEVERITY_NUMBER_INFO,
            severity_text="INFO",
            body=common_pb2.AnyValue(string_value=f"outage log {seq}"),
            attributes=[_kv("seq", seq)],
        )
        for seq in range(first_seq, first_seq + count)
    ]
    return logs_service_pb2.ExportLogsServiceRequest(
        resource_logs=[
            logs_pb2.ResourceLogs(
                resource=_resource(service),
                scope_logs=[logs_pb2.ScopeLogs(scope=common_pb2.InstrumentationScope(name="outage-test"), log_records=records)],
            )
        ]
    )


_PATHS = {
    trace_service_pb2.ExportTraceServiceRequest: "/v1/traces",
    metrics_service_pb2.ExportMetricsServiceRequest: "/v1/metrics",
    logs_service_pb2.ExportLogsServiceRequest: "/v1/logs",
}


def post(http_endpoint: str, message: object) -> None:
    """POST one OTLP request to a collector's OTLP/HTTP receiver; raises unless accepted."""
    path = _PATHS[type(message)]
    r = requests.post(
        f"http://{http_endpoint}{path}",
        data=message.SerializeToString(),  # type: ignore[attr-defined]
        headers={"Content-Type": "application/x-protobuf"},
        timeout=10,
    )
    r.raise_for_status()


def random_trace_id() -> bytes:
    return os.urandom(16)
