"""`make demo` end to end: examples/demo.py with the built collector."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from e2e._collector import ROOT, ensure_collector


def _table(out: str, title: str) -> dict[str, str]:
    """feature -> verdict of the drift table printed under `title`."""
    section = out.split(f"== {title}", 1)[1].split("\n\n", 1)[0]
    rows = {}
    for line in section.splitlines()[2:]:
        parts = line.split()
        if parts:
            rows[parts[0]] = " ".join(parts[-3:]) if parts[-1] == "values" else parts[-1]
    return rows


@pytest.mark.timeout(300)
def test_demo_flags_the_injected_drift_and_stops_what_it_started():
    """The demo serves a model under traffic, injects drift on temp and weather midway, and
    prints the collector's per-feature drift table: nothing drifts before, exactly the
    injected inputs drift after (the prediction, which depends on temp, may too), a WARN
    record for each; it writes the offline HTML report of the same window, which flags the same
    inputs, and prints its path and the next steps; the collector it started is gone when it returns."""
    ensure_collector()
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "demo.py")], capture_output=True, text=True, timeout=240, cwd=ROOT,
    )
    out = result.stdout
    assert result.returncode == 0, out[-3000:] + result.stderr[-3000:]
    before, after = _table(out, "after phase 1"), _table(out, "after phase 2")
    assert set(before) >= {"temp", "humidity", "windspeed", "hour", "weather"}
    assert "DRIFT" not in before.values(), before
    inputs = {f: v for f, v in after.items() if f not in ("prediction", "multivariate")}
    assert {f for f, v in inputs.items() if v == "DRIFT"} == {"temp", "weather"}, after
    # temp moved: so did the joint distribution of the numeric inputs (the baseline's projections)
    assert after.get("multivariate") == "DRIFT", after
    warned = re.findall(r"^WARN\s+feature (\S+) \(input\)", out, re.M)
    assert sorted(warned) == ["temp", "weather"]
    # Phase 3, concept drift: bike-busy's inputs stay ok, its accuracy falls below the
    # baseline's while the estimate (blind to concept drift) does not, and degraded fires.
    busy = _table(out, "after phase 3 (inputs)")
    assert set(busy) >= {"temp", "weather"} and set(busy.values()) == {"ok"}, busy
    figures = dict(re.findall(r"^(ml\.performance\.[a-z.]+)\s+([0-9.]+)$", out, re.M))
    accuracy, estimated, reference = (float(figures[f"ml.performance.{n}"]) for n in ("accuracy", "estimated.accuracy", "reference"))
    assert accuracy < 0.6 < 0.9 < min(estimated, reference), figures
    assert re.search(r"^WARN\s+model bike-busy 1\.0\.0: accuracy [0-9.]+ .* is worse than its reference", out, re.M)
    # The offline report of the same window: written where the demo says, holding the drifted features.
    path = Path(re.search(r"^report:\s+(\S+)", out, re.M).group(1))
    page = path.read_text()
    assert page.startswith("<!DOCTYPE html>")
    drifted = set(re.findall(r'<tr data-feature="([^"]+)" data-verdict="drift"', page))
    assert drifted - {"prediction"} == {"temp", "weather"}, drifted
    assert "next steps:" in out and path.as_uri() in out and "make demo-stack" in out
    # Labelled log lines, not raw JSON records.
    assert not [line for line in out.splitlines() if line.startswith("{")]
    pid = int(re.search(r"collector pid (\d+)", out).group(1))
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


@pytest.mark.timeout(300)
def test_demo_stack_keeps_prometheus_with_the_alert_rules_until_ctrl_c():
    """`demo.py --stack`: after the demo, a real Prometheus scrapes the collector with the shipped
    alert rules; the printed URL answers, the drift verdict of temp is in Prometheus, the
    MLFeatureDrift rule is loaded, and Ctrl-C (SIGINT) stops the demo, the collector and Prometheus."""
    import json
    import shutil
    import signal
    import time
    import urllib.parse
    import urllib.request

    if shutil.which("prometheus") is None:
        pytest.skip("prometheus not on PATH (make test installs it via mk/backends.mk)")
    ensure_collector()
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "examples" / "demo.py"), "--stack"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT,
    )
    out = []
    try:
        for line in proc.stdout:
            out.append(line)
            if line.startswith("== the stack keeps running"):
                break
        text = "".join(out)
        url = re.search(r"Prometheus (http://127\.0\.0\.1:\d+)", text).group(1)
        prom_pid = int(re.search(r"prometheus pid (\d+)", text).group(1))
        collector_pid = int(re.search(r"collector pid (\d+)", text).group(1))

        def query(expr: str) -> list:
            q = urllib.parse.urlencode({"query": expr})
            with urllib.request.urlopen(f"{url}/api/v1/query?{q}", timeout=5) as r:
                return json.load(r)["data"]["result"]

        deadline = time.monotonic() + 60
        detected = []
        while time.monotonic() < deadline and not detected:
            detected = query('ml_drift_detected_ratio{ml_model_name="bike-demand", ml_feature_name="temp"} == 1')
            time.sleep(1)
        assert detected, "temp's drift verdict never reached Prometheus"
        with urllib.request.urlopen(f"{url}/api/v1/rules", timeout=5) as r:
            rules = [rule["name"] for g in json.load(r)["data"]["groups"] for rule in g["rules"]]
        assert "MLFeatureDrift" in rules
    finally:
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, "".join(out)[-2000:] + rest[-2000:]
    assert "stopping" in rest
    for pid in (prom_pid, collector_pid):
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
