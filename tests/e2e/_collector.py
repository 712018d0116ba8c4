"""Run the built otelcol-modeltel on loopback and read what it exported.

Shared by the end-to-end tests and examples/demo.py: start a collector with a config from
collector-config/ and free ports, wait for its health check, read its file exporter's JSON
lines, stop it (always, in a finally or a fixture).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

ROOT = Path(__file__).resolve().parents[2]
COLLECTOR = ROOT / "_build" / "otelcol-modeltel" / "otelcol-modeltel"
CONFIGS = ROOT / "collector-config"


def ensure_collector() -> Path:
    """The built distribution; `make collector` builds it (only if its inputs changed)."""
    subprocess.run(["make", "-s", "collector"], cwd=ROOT, check=True)
    assert COLLECTOR.is_file(), f"make collector did not produce {COLLECTOR}"
    return COLLECTOR


def strict_config(path: Path, *, alpha: float = 0.001, feature_alpha: float = 0.0002) -> Path:
    """collector-config/local.yaml with a strict ``alpha`` and ``feature_alpha`` and sequential_arl
    10^6, written to ``path``: for tests that read every one-second emit and must see no false
    alarm in any of them (the per-evaluation level bounds a rate, not "never": docs/drift-math.md
    5.4, 9.2)."""
    config = (CONFIGS / "local.yaml").read_text().replace(
        "      min_samples: ${env:MLDRIFT_MIN_SAMPLES:-0}",
        f"      min_samples: ${{env:MLDRIFT_MIN_SAMPLES:-0}}\n      alpha: {alpha:f}\n      feature_alpha: {feature_alpha:f}"
        "\n      sequential_arl: 1000000",
    )
    path.write_text(config)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Collector:
    """One otelcol-modeltel process with its own ports and output file."""

    config: Path
    workdir: Path
    env: dict[str, str] = field(default_factory=dict)
    name: str = "collector"
    proc: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        self.grpc_port = free_port()
        self.http_port = free_port()
        self.health_port = free_port()
        self.metrics_port = free_port()
        self.output = self.workdir / f"{self.name}.jsonl"
        self.log = self.workdir / f"{self.name}.log"

    @property
    def grpc_endpoint(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    @property
    def http_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def start(self, timeout: float = 30.0) -> Collector:
        env = {
            **os.environ,
            "OTELCOL_OTLP_GRPC_ENDPOINT": self.grpc_endpoint,
            "OTELCOL_OTLP_HTTP_ENDPOINT": f"127.0.0.1:{self.http_port}",
            "OTELCOL_HEALTH_ENDPOINT": f"127.0.0.1:{self.health_port}",
            "OTELCOL_METRICS_PORT": str(self.metrics_port),
            "OTELCOL_FILE_PATH": str(self.output),
            "PROMETHEUS_EXPORTER_ENDPOINT": f"127.0.0.1:{free_port()}",
            # Each collector its own file_storage directory (kept across a restart).
            "OTELCOL_STORAGE_DIR": str(self.workdir / f"{self.name}-storage"),
            **self.env,
        }
        log = open(self.log, "ab")  # noqa: SIM115 - closed with the process
        self.proc = subprocess.Popen(
            [str(COLLECTOR), "--config", str(self.config)], env=env, stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.log.read_text()[-4000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.health_port}/", timeout=1) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise TimeoutError(f"{self.name} not healthy after {timeout}s:\n{self.log.read_text()[-4000:]}")

    def stop(self, timeout: float = 15.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout)

    def own_metrics(self) -> dict[str, float]:
        """The collector's own metrics (Prometheus text on its metrics port), by series."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5) as r:
            text = r.read().decode()
        out = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                series, _, value = line.rpartition(" ")
                out[series] = float(value)
        return out

    # -- reading the file exporter's output ------------------------------------------

    @property
    def outputs(self) -> list[Path]:
        """The file exporters' files: metrics, logs, traces, the mlperformance connector's
        events (one exporter per pipeline)."""
        return [self.output, Path(f"{self.output}.logs"), Path(f"{self.output}.traces"), Path(f"{self.output}.events")]

    def lines(self) -> list[dict[str, Any]]:
        out = []
        text = "\n".join(p.read_text() for p in self.outputs if p.exists())
        for line in text.splitlines():
            line = line.strip()
            if line:
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError:  # a line being written right now
                    continue
        return out


def attrs(point: dict[str, Any]) -> dict[str, Any]:
    """OTLP JSON attributes as a plain dict."""
    out = {}
    for kv in point.get("attributes", []):
        (value,) = kv["value"].values() if kv["value"] else (None,)
        out[kv["key"]] = value
    return out


def number(point: dict[str, Any]) -> float:
    if "asInt" in point:
        return float(point["asInt"])
    v = point.get("asDouble", 0.0)
    return float(v) if not isinstance(v, str) else float(v.replace("Infinity", "inf"))


def metric_points(lines: list[dict[str, Any]], name: str) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(attributes, point) of every point of metric `name`, in the order exported."""
    for line in lines:
        for rm in line.get("resourceMetrics", []):
            for sm in rm.get("scopeMetrics", []):
                for m in sm.get("metrics", []):
                    if m.get("name") != name:
                        continue
                    body = m.get("gauge") or m.get("sum") or m.get("histogram") or m.get("exponentialHistogram") or {}
                    for p in body.get("dataPoints", []):
                        yield attrs(p), p


def latest(lines: list[dict[str, Any]], name: str, **match: str) -> dict[tuple[Any, ...], float]:
    """The last value of a gauge per attribute set, keyed by (feature, method-or-check)."""
    out: dict[tuple[Any, ...], float] = {}
    for a, p in metric_points(lines, name):
        if all(a.get(k) == v for k, v in match.items()):
            key = (a.get("ml.feature.name"), a.get("ml.drift.method") or a.get("ml.data_quality.check"))
            out[key] = number(p)
    return out


def log_records(lines: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for line in lines:
        for rl in line.get("resourceLogs", []):
            for sl in rl.get("scopeLogs", []):
                yield from sl.get("logRecords", [])


def drift_records(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """mldrift's drift log records (ml.drift.started / ml.drift.ended)."""
    return [r for r in log_records(lines) if r.get("eventName", "").startswith("ml.drift.")]
