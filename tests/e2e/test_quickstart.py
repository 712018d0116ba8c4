"""docs/quickstart.md, "From training data to a dashboard": every block, in order, against the
real collector (built by `make collector`) and Debian's Prometheus. The only change to the
blocks is the ports: the default ones (4318, 8889, 9090) become free loopback ports."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from e2e._collector import ROOT, ensure_collector, free_port

SECTION = "## From training data to a dashboard"


def _blocks() -> list[tuple[str, str]]:
    text = (ROOT / "docs" / "quickstart.md").read_text()
    section = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```(\w+)\n(.*?)```", section, flags=re.S)


def _wait_http(url: str, proc: subprocess.Popen, log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"{url} not up after {timeout} s:\n{log.read_text()[-3000:]}")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.mark.e2e
@pytest.mark.timeout(300)
def test_quickstart_production_path_runs_as_written(tmp_path):
    """Baseline (Python and CLI), collector, Prometheus with the shipped rules, the monitored
    predict function, then: Prometheus holds a drift verdict of 1 for age and channel (the
    shifted features) and 0 for amount, the MLFeatureDrift rule is loaded, and the offline
    report of the same week exits 1 with --fail-on-drift."""
    if shutil.which("prometheus") is None:
        pytest.skip("prometheus not on PATH (make test installs it via mk/backends.mk)")
    ensure_collector()
    blocks = _blocks()
    assert [lang for lang, _ in blocks] == ["python", "sh", "sh", "yaml", "sh", "sh", "python", "sh"]
    otlp, scrape, prom = free_port(), free_port(), free_port()
    ports = {"localhost:4318": f"127.0.0.1:{otlp}", "localhost:8889": f"127.0.0.1:{scrape}",
             "localhost:9090": f"127.0.0.1:{prom}"}

    def swap(text: str) -> str:
        for old, new in ports.items():
            text = text.replace(old, new)
        return text

    (tmp_path / "collector-config").symlink_to(ROOT / "collector-config")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    env.pop("MODELTEL_EXPORTER", None)
    collector_env = {
        **env,
        "OTELCOL_OTLP_HTTP_ENDPOINT": f"127.0.0.1:{otlp}",
        "OTELCOL_OTLP_GRPC_ENDPOINT": f"127.0.0.1:{free_port()}",
        "OTELCOL_HEALTH_ENDPOINT": f"127.0.0.1:{(health := free_port())}",
        "OTELCOL_METRICS_PORT": str(free_port()),
        "OTELCOL_FILE_PATH": str(tmp_path / "collector.jsonl"),
        "PROMETHEUS_EXPORTER_ENDPOINT": f"127.0.0.1:{scrape}",
    }
    background: list[subprocess.Popen] = []
    outputs: list[str] = []
    try:
        for i, (lang, code) in enumerate(blocks):
            code = swap(code)
            if lang == "yaml":
                (tmp_path / "prometheus.yml").write_text(code)
                continue
            if lang == "python":
                script = tmp_path / f"block{i}.py"
                script.write_text(code)
                r = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env,
                                   capture_output=True, text=True, timeout=120)
                assert r.returncode == 0, f"{code}\n{r.stderr[-3000:]}"
                continue
            if "otelcol-modeltel --config" in code or code.lstrip().startswith("prometheus "):
                # A long-running server: in the background (the collector from the checkout).
                is_collector = "otelcol-modeltel" in code
                log = tmp_path / f"block{i}.log"
                with open(log, "wb") as f:
                    proc = subprocess.Popen(["bash", "-ec", code], cwd=ROOT if is_collector else tmp_path,
                                            env=collector_env if is_collector else env, stdout=f,
                                            stderr=subprocess.STDOUT, start_new_session=True)
                background.append(proc)
                _wait_http(f"http://127.0.0.1:{health}/" if is_collector else f"http://127.0.0.1:{prom}/-/ready", proc, log)
                continue
            exports = re.findall(r"^export (\w+)=(\S+)$", code, flags=re.M)
            if exports:
                env.update(exports)
                continue
            r = subprocess.run(["bash", "-ec", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
            assert r.returncode == 0, f"{code}\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}"
            outputs.append(r.stdout + r.stderr)

        def query(expr: str) -> dict[str, float]:
            q = urllib.parse.urlencode({"query": expr})
            with urllib.request.urlopen(f"http://127.0.0.1:{prom}/api/v1/query?{q}", timeout=5) as r:
                result = json.load(r)["data"]["result"]
            return {s["metric"].get("ml_feature_name", ""): float(s["value"][1]) for s in result}

        # The verdicts of the scrape whose window holds the whole week (2,000 values per feature):
        # windows scored while the week was still arriving are smaller and may read otherwise.
        deadline = time.monotonic() + 90
        detected: dict[str, float] = {}
        counts: dict[str, float] = {}
        while time.monotonic() < deadline:
            counts = query('ml_drift_sample_count{ml_model_name="fraud", ml_feature_role="input"}')
            detected = query('ml_drift_detected_ratio{ml_model_name="fraud", ml_feature_role="input"}')
            if counts and min(counts.values()) >= 2000 and set(detected) == set(counts):
                break
            time.sleep(1)
        assert counts and min(counts.values()) >= 2000, counts
        # the baseline's multivariate projections (__projection_<k>__) are input features too
        named = {k: v for k, v in detected.items() if not k.startswith("__projection_")}
        assert named == {"age": 1.0, "channel": 1.0, "amount": 0.0}, detected
        with urllib.request.urlopen(f"http://127.0.0.1:{prom}/api/v1/rules", timeout=5) as r:
            rules = {rule["name"] for g in json.load(r)["data"]["groups"] for rule in g["rules"]}
        assert "MLFeatureDrift" in rules
    finally:
        for proc in reversed(background):
            _stop(proc)
    assert "wrote baselines/fraud-3.1.0.json" in outputs[0]
    assert "the data drifted (exit code 1)" in outputs[-1], outputs[-1]
    assert (tmp_path / "drift.html").read_text().count('data-feature="channel"') >= 2


@pytest.mark.e2e
@pytest.mark.timeout(300)
def test_make_install_collector_puts_it_on_path_under_a_prefix(tmp_path):
    """`make install-collector PREFIX=...` installs the built distribution as PREFIX/bin/otelcol-modeltel,
    the name docs/backends.md calls; it runs and lists the mldrift processor."""
    ensure_collector()
    r = subprocess.run(["make", "-s", "install-collector", f"PREFIX={tmp_path}"], cwd=ROOT, capture_output=True,
                       text=True, timeout=240)
    assert r.returncode == 0, r.stderr
    binary = tmp_path / "bin" / "otelcol-modeltel"
    assert binary.is_file() and os.access(binary, os.X_OK)
    components = subprocess.run(["otelcol-modeltel", "components"], capture_output=True, text=True, timeout=60,
                                env={**os.environ, "PATH": f"{binary.parent}:{os.environ['PATH']}"})
    assert components.returncode == 0 and "mldrift" in components.stdout
