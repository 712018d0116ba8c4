"""Real servers on loopback for the server tests: start, wait, stop gracefully, read OTLP.

Each server is a separate process exporting over OTLP/HTTP to ``OtlpCapture`` (a real
receiver in the test process decoding the protobuf payloads); nothing is mocked.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import httpx

from backends._capture import OtlpCapture, any_value, attributes

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
BIN = Path(sys.executable).parent

SERVER = 2  # SpanKind SERVER in OTLP protobuf
INTERNAL = 1
STATUS_ERROR = 2


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(condition: Callable[[], Any], timeout: float = 30.0, interval: float = 0.1) -> Any:
    """Poll ``condition`` until it returns something truthy (returned) or time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            return value
        time.sleep(interval)


def otel_env(capture: OtlpCapture, **extra: str) -> dict[str, str]:
    """A clean environment exporting everything to ``capture`` quickly."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "MODELTEL_"))}
    env.update(
        OTEL_EXPORTER_OTLP_ENDPOINT=capture.endpoint,
        OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf",
        OTEL_BSP_SCHEDULE_DELAY="200",
        OTEL_BLRP_SCHEDULE_DELAY="200",
        OTEL_METRIC_EXPORT_INTERVAL="500",
        MODELTEL_EXPORT_INTERVAL="0.5",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


@dataclass
class Server:
    """A server process on 127.0.0.1:port, stopped with SIGTERM (graceful) in ``stop``."""

    argv: list[str]
    env: dict[str, str]
    port: int
    log_dir: Path
    cwd: Path = REPO
    proc: subprocess.Popen[bytes] | None = None
    returncode: int | None = None
    _logs: list[Any] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, ready_path: str = "/health", timeout: float = 90.0) -> "Server":
        out = open(self.log_dir / f"server-{self.port}.out", "wb")
        err = open(self.log_dir / f"server-{self.port}.err", "wb")
        self._logs = [out, err]
        self.proc = subprocess.Popen(self.argv, env=self.env, cwd=self.cwd, stdout=out, stderr=err)

        def ready() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.stderr()}")
            try:
                return httpx.get(self.url + ready_path, timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        if not wait_until(ready, timeout=timeout, interval=0.2):
            self.stop()
            raise RuntimeError(f"server not ready after {timeout}s:\n{self.stderr()}")
        return self

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM and wait: the server's graceful shutdown (flush) path."""
        if self.proc is not None and self.returncode is None:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(timeout=10)
            self.returncode = self.proc.returncode
        for f in self._logs:
            f.close()
        self._logs = []
        return self.returncode

    def stderr(self) -> str:
        path = self.log_dir / f"server-{self.port}.err"
        return path.read_text(errors="replace")[-6000:] if path.exists() else ""

    def stdout(self) -> str:
        path = self.log_dir / f"server-{self.port}.out"
        return path.read_text(errors="replace") if path.exists() else ""


def traceparent() -> tuple[str, str]:
    """A fresh W3C traceparent header and its trace id (hex), to find a request's spans."""
    trace_id = secrets.token_hex(16)
    return f"00-{trace_id}-{secrets.token_hex(8)}-01", trace_id


@dataclass
class SpanView:
    name: str
    kind: int
    trace_id: str
    span_id: str
    parent_span_id: str
    attributes: dict[str, Any]
    status_code: int
    resource: dict[str, Any]
    events: list[str]


def http_status(span: "SpanView") -> Any:
    """The response status of an HTTP server span (stable or pre-stable semconv name)."""
    return span.attributes.get("http.response.status_code", span.attributes.get("http.status_code"))


def spans(capture: OtlpCapture) -> list[SpanView]:
    return [
        SpanView(
            name=s.name,
            kind=s.kind,
            trace_id=s.trace_id.hex(),
            span_id=s.span_id.hex(),
            parent_span_id=s.parent_span_id.hex(),
            attributes=attributes(s.attributes),
            status_code=s.status.code,
            resource=res,
            events=[e.name for e in s.events],
        )
        for res, s in capture.spans()
    ]


def spans_of_trace(capture: OtlpCapture, trace_id: str) -> list[SpanView]:
    return [s for s in spans(capture) if s.trace_id == trace_id]


def log_records(capture: OtlpCapture) -> list[dict[str, Any]]:
    out = []
    for req in capture.by_path("/v1/logs"):
        for rl in req.message.resource_logs:
            for sl in rl.scope_logs:
                for r in sl.log_records:
                    out.append(
                        {
                            "event_name": r.event_name,
                            "severity_number": r.severity_number,
                            "trace_id": r.trace_id.hex(),
                            "attributes": attributes(r.attributes),
                            # modeltel's record: the body is the record as one JSON string
                            "body": any_value(r.body),
                        }
                    )
    return out


def metric_points(capture: OtlpCapture, name: str) -> list[tuple[dict[str, Any], Any]]:
    """(attributes, point) of every point of metric ``name`` received."""
    out = []
    for _, metric_name, point in capture.metric_points():
        if metric_name == name:
            out.append((attributes(point.attributes), point))
    return out


def train_iris_model(path: Path) -> Path:
    """A real scikit-learn model, trained here, saved where the server loads it."""
    import joblib
    from sklearn.datasets import load_iris
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = load_iris(return_X_y=True)
    model = make_pipeline(StandardScaler(), RandomForestClassifier(n_estimators=10, random_state=0)).fit(X, y)
    joblib.dump(model, path)
    return path


FLOWER = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}
