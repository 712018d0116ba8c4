"""Every shipped pipeline file survives its own shutdown under traffic.

The collector is started with the file, two SDK processes send spans, metrics and logs to
it, and it gets SIGTERM while they do: it must exit 0, promptly, without a panic. Backends
that these files push to are pointed at closed loopback ports (their exporters' queues then
hold data at shutdown, the hardest case). Until each pipeline had its own file exporter,
local.yaml panicked here in 3 of 3 runs (a nil writer in the shared file exporter).

Not run: datadog.yaml (its exporter is not in this build, see test_datadog.py) and
prometheus-remote-write.yaml (needs the full build, `make collector-full`).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from e2e._collector import CONFIGS, Collector, free_port

pytestmark = pytest.mark.e2e

TRAFFIC = Path(__file__).with_name("_traffic_app.py")
CONFIG_FILES = [
    "local.yaml",
    "gateway.yaml",
    "outcomes.yaml",
    "agent.yaml",
    "jaeger.yaml",
    "prometheus.yaml",
    "honeycomb.yaml",
    "datadog-agent.yaml",
]


def _backend_env(tmp_path: Path) -> dict[str, str]:
    closed = f"127.0.0.1:{free_port()}"
    return {
        "OTELCOL_STORAGE_DIR": str(tmp_path),
        "MLDRIFT_EMIT_INTERVAL": "1s",
        "MLDRIFT_GATEWAY_0": closed,
        "MLDRIFT_GATEWAY_1": f"127.0.0.1:{free_port()}",
        "JAEGER_OTLP_ENDPOINT": closed,
        "JAEGER_OTLP_INSECURE": "true",
        "HONEYCOMB_API_ENDPOINT": f"http://{closed}",
        "HONEYCOMB_API_KEY": "test",
        "DD_AGENT_OTLP_ENDPOINT": f"http://{closed}",
    }


@pytest.mark.parametrize("config", CONFIG_FILES)
def test_sigterm_under_traffic_exits_cleanly(collector_bin: Path, tmp_path: Path, config: str) -> None:
    """SIGTERM while two SDK processes export: exit code 0 within 15 s, no panic in the log,
    every line of the file outputs (if any) one JSON object."""
    collector = Collector(CONFIGS / config, tmp_path, env=_backend_env(tmp_path)).start()
    env = {
        **os.environ,
        "OTEL_EXPORTER_OTLP_ENDPOINT": collector.http_endpoint,
        "MODELTEL_EXPORT_INTERVAL": "0.2",
        "OTEL_BSP_SCHEDULE_DELAY": "50",
        "OTEL_BLRP_SCHEDULE_DELAY": "50",
        "OTEL_METRIC_EXPORT_INTERVAL": "200",
        "MODELTEL_SHUTDOWN_TIMEOUT": "2",
        "MODELTEL_EXPORTER": "otlp",
    }
    apps = [
        subprocess.Popen(
            [sys.executable, str(TRAFFIC), "4", "300"],
            env=env, stdout=open(tmp_path / f"app{i}.out", "w"), stderr=subprocess.STDOUT,  # noqa: SIM115
        )
        for i in range(2)
    ]
    try:
        time.sleep(2.5)
        assert collector.proc is not None
        collector.proc.send_signal(signal.SIGTERM)
        started = time.monotonic()
        code = collector.proc.wait(30)
        took = time.monotonic() - started
    finally:
        for app in apps:
            app.wait(60)
        collector.stop()
    log = collector.log.read_text()
    assert "panic" not in log, log[log.find("panic") - 500 :][:3000]
    assert code == 0, log[-3000:]
    assert took < 15, took
    for path in collector.outputs:
        if path.exists():
            for line in path.read_text().splitlines():
                json.loads(line)  # one object per line
