"""An OTLP/HTTP endpoint whose behaviour a test switches while an SDK process exports to it.

Modes: ``ok`` (200, and what the request carried is counted as accepted), ``503`` and
``429`` (that status, nothing accepted), ``hang`` (never answers: the request is read and then
held until the mode changes, when the connection is closed without an answer; nothing
accepted). A closed port ("refusing") is :meth:`StandIn.stop` (which also closes the open keep-alive
connections) / :meth:`StandIn.start`.

Counted per accepted request: spans (and their ids, to find duplicates), log records, and the
values of ``ml.feature.value`` points (the sum of their counts).
"""

from __future__ import annotations

import socket
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

_TYPES = {
    "/v1/traces": (trace_service_pb2.ExportTraceServiceRequest, trace_service_pb2.ExportTraceServiceResponse),
    "/v1/metrics": (metrics_service_pb2.ExportMetricsServiceRequest, metrics_service_pb2.ExportMetricsServiceResponse),
    "/v1/logs": (logs_service_pb2.ExportLogsServiceRequest, logs_service_pb2.ExportLogsServiceResponse),
}


class StandIn:
    def __init__(self, port: int) -> None:
        self.port = port
        self.mode = "ok"
        self._changed = threading.Condition()
        self._lock = threading.Lock()
        self.span_ids: Counter[bytes] = Counter()
        self.logs = 0
        self.values = 0
        self.answered: Counter[str] = Counter()
        self._httpd: ThreadingHTTPServer | None = None
        # open client connections: a stopped stand-in closes them too (a keep-alive
        # connection would otherwise go on being served after the port is closed)
        self._connections: set[Any] = set()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def set_mode(self, mode: str) -> None:
        with self._changed:
            self.mode = mode
            self._changed.notify_all()

    def start(self) -> "StandIn":
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def setup(self) -> None:
                super().setup()
                with standin._lock:
                    standin._connections.add(self.connection)

            def finish(self) -> None:
                with standin._lock:
                    standin._connections.discard(self.connection)
                super().finish()

            def do_POST(self) -> None:  # noqa: N802
                standin._handle(self)

        ThreadingHTTPServer.allow_reuse_address = True
        self._httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.set_mode("ok")  # release held requests
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        with self._lock:
            connections, self._connections = list(self._connections), set()
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        body = h.rfile.read(int(h.headers.get("Content-Length") or 0))
        path = h.path.split("?", 1)[0]
        request_type, response_type = _TYPES[path]
        mode = self.mode
        if mode == "hang":
            with self._changed:
                self._changed.wait_for(lambda: self.mode != "hang", timeout=60)
            self.answered["hang"] += 1
            h.close_connection = True
            return  # no answer at all
        if mode in ("503", "429"):
            self.answered[mode] += 1
            h.send_response(int(mode))
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        message = request_type()
        message.ParseFromString(body)
        self._count(path, message)
        self.answered["ok"] += 1
        data = response_type().SerializeToString()
        h.send_response(200)
        h.send_header("Content-Type", "application/x-protobuf")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    def _count(self, path: str, message: Any) -> None:
        with self._lock:
            if path == "/v1/traces":
                for rs in message.resource_spans:
                    for ss in rs.scope_spans:
                        self.span_ids.update(s.span_id for s in ss.spans)
            elif path == "/v1/logs":
                self.logs += sum(len(sl.log_records) for rl in message.resource_logs for sl in rl.scope_logs)
            else:
                for rm in message.resource_metrics:
                    for sm in rm.scope_metrics:
                        for m in sm.metrics:
                            if m.name != "ml.feature.value":
                                continue
                            kind = m.WhichOneof("data")
                            self.values += sum(p.count for p in getattr(m, kind).data_points)
