"""Fixtures for the backend tests: the built collector, Jaeger, Prometheus, capture servers.

Every server is a real process (or, for SaaS intakes, a real HTTP server in this process) on
127.0.0.1 with a free port, started per test and stopped in a `finally`. Missing binaries are
an error, never a skip: `make test` builds them first (mk/backends.mk, `test-prereqs::`).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests
import yaml

from ._capture import OtlpCapture
from ._procs import BUILD, REPO, Proc, Started, free_port, wait_until

CONFIGS = REPO / "collector-config"
HERE = Path(__file__).resolve().parent

pytestmark = pytest.mark.e2e


def _need(path: Path | str | None, how: str) -> Path:
    if path is None or not Path(path).exists():
        pytest.fail(f"missing {path}: {how}", pytrace=False)
    return Path(path)


@pytest.fixture(scope="session")
def collector_bin() -> Path:
    override = os.environ.get("OTELCOL_MODELTEL_BIN")  # to test another build of the distribution
    return _need(override or BUILD / "otelcol-modeltel" / "otelcol-modeltel", "build it with `make collector`")


@pytest.fixture(scope="session")
def jaeger_bin() -> Path:
    return _need(BUILD / "bin" / "jaeger", "build it with `make jaeger` (mk/backends.mk)")


@pytest.fixture(scope="session")
def prometheus_bin() -> Path:
    return _need(shutil.which("prometheus"), "install Debian's prometheus package (`make prometheus`)")


@pytest.fixture(scope="session")
def promtool_bin() -> Path:
    return _need(shutil.which("promtool"), "install Debian's prometheus package (`make prometheus`)")


# --- the collector ---------------------------------------------------------------------------


@dataclass
class Collector:
    """otelcol-modeltel running one or more of collector-config/*.yaml (merged in order)."""

    proc: Proc
    env: dict[str, str]
    storage_dir: Path

    @property
    def otlp_grpc(self) -> str:
        return self.env["OTELCOL_OTLP_GRPC_ENDPOINT"]

    @property
    def otlp_http(self) -> str:
        return self.env["OTELCOL_OTLP_HTTP_ENDPOINT"]

    @property
    def prometheus_endpoint(self) -> str:
        return self.env["PROMETHEUS_EXPORTER_ENDPOINT"]

    def own_metrics(self) -> str:
        """The collector's own Prometheus metrics (queue sizes, sent/failed counts)."""
        return requests.get(f"http://127.0.0.1:{self.env['OTELCOL_METRICS_PORT']}/metrics", timeout=5).text

    def own_metric(self, name: str, **labels: str) -> float:
        total = 0.0
        for line in self.own_metrics().splitlines():
            if not line.startswith(name + "{") and not line.startswith(name + " "):
                continue
            if all(f'{k}="{v}"' in line for k, v in labels.items()):
                total += float(line.rsplit(" ", 1)[1])
        return total


def collector_env(tmp: Path, **extra: str) -> dict[str, str]:
    """Environment for collector-config/*.yaml: every port free, storage under `tmp`."""
    storage = tmp / "collector-storage"
    storage.mkdir(parents=True, exist_ok=True)
    env = {
        "OTELCOL_OTLP_GRPC_ENDPOINT": f"127.0.0.1:{free_port()}",
        "OTELCOL_OTLP_HTTP_ENDPOINT": f"127.0.0.1:{free_port()}",
        "OTELCOL_HEALTH_ENDPOINT": f"127.0.0.1:{free_port()}",
        "OTELCOL_METRICS_PORT": str(free_port()),
        "OTELCOL_STORAGE_DIR": str(storage),
        "PROMETHEUS_EXPORTER_ENDPOINT": f"127.0.0.1:{free_port()}",
    }
    env.update(extra)
    return env


@pytest.fixture
def start_collector(collector_bin: Path, tmp_path: Path) -> Iterator[Any]:
    """Factory: start_collector(["jaeger.yaml"], **env) -> Collector, stopped at teardown."""
    started = Started()

    def start(configs: list[str | Path], env: dict[str, str] | None = None, name: str = "collector",
              binary: Path | None = None) -> Collector:
        env = dict(env or collector_env(tmp_path))
        argv: list[str] = [str(binary or collector_bin)]
        for c in configs:
            path = Path(c) if Path(c).is_absolute() else CONFIGS / c
            argv += ["--config", str(path)]
        proc = started.start(Proc(
            name, argv, tmp_path, env=env,
            ready_url=f"http://{env['OTELCOL_HEALTH_ENDPOINT']}/",
        ))
        return Collector(proc, env, Path(env["OTELCOL_STORAGE_DIR"]))

    with started:
        yield start


# --- Jaeger ----------------------------------------------------------------------------------


@dataclass
class Jaeger:
    proc: Proc
    otlp_grpc: str
    otlp_http: str
    query: str

    def services(self) -> list[str]:
        r = requests.get(f"http://{self.query}/api/services", timeout=5)
        r.raise_for_status()
        return r.json()["data"] or []

    def traces(self, service: str, tags: dict[str, str] | None = None, limit: int = 1000,
               lookback: str = "1h") -> list[dict[str, Any]]:
        params: dict[str, Any] = {"service": service, "limit": limit, "lookback": lookback}
        if tags:
            params["tags"] = json.dumps(tags)
        r = requests.get(f"http://{self.query}/api/traces", params=params, timeout=10)
        r.raise_for_status()
        return r.json()["data"] or []


@pytest.fixture
def jaeger(jaeger_bin: Path, tmp_path: Path) -> Iterator[Jaeger]:
    """A real Jaeger v2 with in-memory storage: OTLP in, query API out, on free loopback ports."""
    env = {
        "JAEGER_OTLP_GRPC": f"127.0.0.1:{free_port()}",
        "JAEGER_OTLP_HTTP": f"127.0.0.1:{free_port()}",
        "JAEGER_QUERY_HTTP": f"127.0.0.1:{free_port()}",
        "JAEGER_QUERY_GRPC": f"127.0.0.1:{free_port()}",
    }
    proc = Proc(
        "jaeger", [jaeger_bin, "--config", HERE / "configs" / "jaeger-server.yaml"], tmp_path,
        env=env, ready_url=f"http://{env['JAEGER_QUERY_HTTP']}/api/services",
    )
    try:
        proc.start(timeout=60)
        yield Jaeger(proc, env["JAEGER_OTLP_GRPC"], env["JAEGER_OTLP_HTTP"], env["JAEGER_QUERY_HTTP"])
    finally:
        proc.stop()


# --- Prometheus ------------------------------------------------------------------------------


@dataclass
class Prometheus:
    proc: Proc
    address: str
    config_path: Path

    def query(self, promql: str) -> list[dict[str, Any]]:
        r = requests.get(f"http://{self.address}/api/v1/query", params={"query": promql}, timeout=10)
        body = r.json()
        if body.get("status") != "success":
            raise AssertionError(f"PromQL {promql!r} failed: {body}")
        return body["data"]["result"]

    def metric_names(self) -> set[str]:
        r = requests.get(f"http://{self.address}/api/v1/label/__name__/values", timeout=10)
        return set(r.json()["data"])

    def rules(self) -> list[dict[str, Any]]:
        r = requests.get(f"http://{self.address}/api/v1/rules", timeout=10)
        return [rule for g in r.json()["data"]["groups"] for rule in g["rules"]]

    def targets_up(self) -> bool:
        r = requests.get(f"http://{self.address}/api/v1/targets", timeout=10)
        active = r.json()["data"]["activeTargets"]
        return bool(active) and all(t["health"] == "up" for t in active)


@pytest.fixture
def start_prometheus(prometheus_bin: Path, tmp_path: Path) -> Iterator[Any]:
    """Factory: start_prometheus(scrape_targets=[...], rule_files=[...]) -> Prometheus.

    A real Prometheus from Debian's package, as a plain process (not the system service) with
    a temporary config and TSDB, scraping every second and evaluating rules every second; the
    remote-write receiver is on so that the remote-write pipeline can push into it.
    """
    started = Started()

    def start(scrape_targets: list[str] = (), rule_files: list[Path] = ()) -> Prometheus:  # type: ignore[assignment]
        address = f"127.0.0.1:{free_port()}"
        config: dict[str, Any] = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(p) for p in rule_files],
            "scrape_configs": [],
        }
        if scrape_targets:
            config["scrape_configs"].append(
                {"job_name": "otelcol-modeltel", "honor_labels": True,
                 "static_configs": [{"targets": list(scrape_targets)}]}
            )
        n = len(started.procs)
        config_path = tmp_path / f"prometheus-{n}.yml"
        config_path.write_text(yaml.safe_dump(config))
        proc = started.start(Proc(
            f"prometheus-{n}",
            [prometheus_bin, f"--config.file={config_path}", f"--storage.tsdb.path={tmp_path / f'tsdb-{n}'}",
             f"--web.listen-address={address}", "--web.enable-remote-write-receiver",
             "--web.enable-lifecycle"],
            tmp_path, ready_url=f"http://{address}/-/ready",
        ))
        return Prometheus(proc, address, config_path)

    with started:
        yield start


# --- the instrumented model ------------------------------------------------------------------


@dataclass
class ModelApp:
    """tests/backends/model_app.py under a real uvicorn, exporting OTLP to a collector."""

    proc: Proc
    url: str

    def predict(self, rows: list[list[float | None]], fail: bool = False) -> requests.Response:
        return requests.post(f"{self.url}/predict", json={"rows": rows, "fail": fail}, timeout=30)

    def flush(self) -> None:
        requests.post(f"{self.url}/flush", timeout=60).raise_for_status()


@pytest.fixture
def start_model_app(tmp_path: Path) -> Iterator[Any]:
    """Factory: start_model_app(collector) -> ModelApp sending OTLP/HTTP to that collector."""
    started = Started()

    def start(collector: "Collector", **env: str) -> ModelApp:
        port = free_port()
        app_env = {
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://{collector.otlp_http}",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            "OTEL_METRIC_EXPORT_INTERVAL": "1000",
            "OTEL_BSP_SCHEDULE_DELAY": "200",
            "OTEL_BLRP_SCHEDULE_DELAY": "200",
            "MODELTEL_EXPORTER": "otlp",
            "MODELTEL_EXPORT_INTERVAL": "1",
            "MODELTEL_LOG_SAMPLE_RATE": "1",
            **env,
        }
        proc = started.start(Proc(
            f"model-app-{len(started.procs)}",
            [sys.executable, "-m", "uvicorn", "--app-dir", str(HERE), "model_app:app",
             "--host", "127.0.0.1", "--port", str(port)],
            tmp_path, env=app_env, ready_url=f"http://127.0.0.1:{port}/health",
        ), timeout=90)
        return ModelApp(proc, f"http://127.0.0.1:{port}")

    with started:
        yield start


# --- capture servers -------------------------------------------------------------------------


@pytest.fixture
def otlp_capture() -> Iterator[OtlpCapture]:
    with OtlpCapture(free_port()) as cap:
        yield cap


__all__ = ["Collector", "Jaeger", "Prometheus", "collector_env", "wait_until", "time", "os"]


def send_traffic(app: ModelApp, requests_: int = 30, rows: int = 100, amount_factor: float = 3.0,
                 fail_every: int = 5, null_every: int = 10, seed: int = 1) -> dict[str, int]:
    """Production traffic: `amount` scaled by `amount_factor` (drift), `age` and `score` as in
    training; every `fail_every`-th request makes the model raise, every `null_every`-th
    carries a null age. Returns what was sent, to compare with what arrives."""
    from ._fraud_data import training_data

    X = training_data(requests_ * rows, seed=seed)
    X[:, 0] *= amount_factor
    sent = {"requests": 0, "failed": 0, "rows": 0, "rows_failed": 0}
    for i in range(requests_):
        batch: list[list[float | None]] = X[i * rows:(i + 1) * rows].tolist()
        if null_every and i % null_every == 0:
            batch[0][1] = None
        fail = bool(fail_every) and i % fail_every == fail_every - 1
        r = app.predict(batch, fail=fail)
        assert r.status_code == (500 if fail else 200), r.text
        sent["requests"] += 1
        sent["failed"] += int(fail)
        sent["rows"] += 0 if fail else len(batch)
        sent["rows_failed"] += len(batch) if fail else 0
    return sent
