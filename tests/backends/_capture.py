"""A local HTTP capture server standing in for SaaS OTLP intake endpoints.

Honeycomb and Datadog cannot be reached from a test machine, so the collector is pointed at
these servers instead and the tests assert on exactly what would have left the host: the
path, the headers (API keys from the environment), and the decoded payloads.

`OtlpCapture` speaks OTLP/HTTP (protobuf or JSON, gzip or not) as Honeycomb's and the
Datadog Agent's OTLP intakes do, and decodes every request into the OTLP protobuf messages.

It runs in a thread of the test process, on 127.0.0.1 and a port that can be re-bound after
`stop()` so that an outage is a real closed port, not an error status.
"""

from __future__ import annotations

import gzip
import threading
import zlib
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

__all__ = ["CapturedRequest", "OtlpCapture", "attributes", "any_value", "decompress"]


def decompress(body: bytes, encoding: str) -> bytes:
    """Undo the Content-Encoding the collector's exporters use (gzip, deflate, zstd)."""
    encoding = (encoding or "").strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding == "deflate":
        return zlib.decompress(body)
    if encoding == "zstd":
        import zstandard  # only needed if an exporter picks zstd

        return zstandard.ZstdDecompressor().decompressobj().decompress(body)
    raise ValueError(f"unsupported Content-Encoding {encoding!r}")


@dataclass
class CapturedRequest:
    method: str
    path: str
    headers: dict[str, str]  # lower-cased names
    body: bytes  # decompressed
    message: Any = None  # decoded OTLP request, for OtlpCapture
    received_at: float = 0.0


@dataclass
class _Server:
    """A ThreadingHTTPServer on a fixed loopback port that can be stopped and started again."""

    port: int
    handler_factory: Callable[[], type[BaseHTTPRequestHandler]]
    _httpd: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    def start(self) -> None:
        ThreadingHTTPServer.allow_reuse_address = True
        self._httpd = ThreadingHTTPServer(("127.0.0.1", self.port), self.handler_factory())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    @property
    def running(self) -> bool:
        return self._httpd is not None


_OTLP_PATHS = {
    "/v1/traces": trace_service_pb2.ExportTraceServiceRequest,
    "/v1/metrics": metrics_service_pb2.ExportMetricsServiceRequest,
    "/v1/logs": logs_service_pb2.ExportLogsServiceRequest,
}
_OTLP_RESPONSES = {
    "/v1/traces": trace_service_pb2.ExportTraceServiceResponse,
    "/v1/metrics": metrics_service_pb2.ExportMetricsServiceResponse,
    "/v1/logs": logs_service_pb2.ExportLogsServiceResponse,
}


@dataclass
class OtlpCapture:
    """An OTLP/HTTP receiver that records every request, decoded."""

    port: int
    requests: list[CapturedRequest] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    #: HTTP statuses to answer with, in order (an exporter's retry path); then 200.
    statuses: list[int] = field(default_factory=list)
    #: While set to an unset Event, every request waits for it (a stuck backend).
    hold: threading.Event | None = None
    #: Set whenever a request has been recorded.
    arrived: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: _Server | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "OtlpCapture":
        capture = self

        def factory() -> type[BaseHTTPRequestHandler]:
            class Handler(BaseHTTPRequestHandler):
                protocol_version = "HTTP/1.1"

                def log_message(self, *args: Any) -> None:  # keep pytest output clean
                    pass

                def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                    capture._handle(self)

            return Handler

        self._server = _Server(self.port, factory)
        self._server.start()
        return self

    def __enter__(self) -> "OtlpCapture":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        if self.hold is not None:
            self.hold.set()  # release held requests, or shutdown would wait for them
        if self._server is not None:
            self._server.stop()

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        import time

        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length)
        headers = {k.lower(): v for k, v in h.headers.items()}
        path = h.path.split("?", 1)[0]
        request_type = _OTLP_PATHS.get(path)
        if request_type is None:
            self._reply(h, 404, b"unknown path", "text/plain")
            with self._lock:
                self.errors.append(f"unexpected path {path}")
            return
        try:
            body = decompress(raw, headers.get("content-encoding", ""))
            message = request_type()
            if headers.get("content-type", "").startswith("application/json"):
                json_format.Parse(body.decode(), message)
            else:
                message.ParseFromString(body)
        except Exception as exc:  # a malformed request is a test failure, recorded
            with self._lock:
                self.errors.append(f"{path}: {exc!r}")
            self._reply(h, 400, str(exc).encode(), "text/plain")
            return
        with self._lock:
            self.requests.append(
                CapturedRequest("POST", path, headers, body, message, received_at=time.time())
            )
            status = self.statuses.pop(0) if self.statuses else 200
        self.arrived.set()
        if self.hold is not None:
            self.hold.wait(30)
        if status != 200:
            self._reply(h, status, b"scripted failure", "text/plain")
            return
        self._reply(h, 200, _OTLP_RESPONSES[path]().SerializeToString(), "application/x-protobuf")

    @staticmethod
    def _reply(h: BaseHTTPRequestHandler, status: int, body: bytes, ctype: str) -> None:
        h.send_response(status)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    # --- reading what arrived -------------------------------------------------------------
    def by_path(self, path: str) -> list[CapturedRequest]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def _items(self, path: str, resources: str, scopes: str, items: str) -> list[tuple[dict[str, Any], Any]]:
        """(resource attributes, item) for every item of one signal's resource -> scope -> item lists."""
        out = []
        for req in self.by_path(path):
            for r in getattr(req.message, resources):
                res = attributes(r.resource.attributes)
                for scope in getattr(r, scopes):
                    out.extend((res, item) for item in getattr(scope, items))
        return out

    def spans(self) -> list[tuple[dict[str, Any], Any]]:
        """(resource attributes, span) for every span received."""
        return self._items("/v1/traces", "resource_spans", "scope_spans", "spans")

    def metric_points(self) -> list[tuple[dict[str, Any], str, Any]]:
        """(resource attributes, metric name, data point) for every point received."""
        out = []
        for res, metric in self._items("/v1/metrics", "resource_metrics", "scope_metrics", "metrics"):
            kind = metric.WhichOneof("data")
            if kind is not None:
                out.extend((res, metric.name, point) for point in getattr(metric, kind).data_points)
        return out

    def log_records(self) -> list[tuple[dict[str, Any], Any]]:
        """(resource attributes, log record) for every record received."""
        return self._items("/v1/logs", "resource_logs", "scope_logs", "log_records")


def any_value(v: Any) -> Any:
    kind = v.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [any_value(x) for x in v.array_value.values]
    if kind == "kvlist_value":
        return attributes(v.kvlist_value.values)
    return getattr(v, kind)


def attributes(kvs: Any) -> dict[str, Any]:
    return {kv.key: any_value(kv.value) for kv in kvs}
