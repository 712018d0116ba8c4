"""`make demo` end to end: examples/demo.py with the built collector."""

from __future__ import annotations

import os
import re
import subprocess
import sys

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
    record for each; the collector it started is gone when it returns."""
    ensure_collector()
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "demo.py")], capture_output=True, text=True, timeout=240, cwd=ROOT,
    )
    out = result.stdout
    assert result.returncode == 0, out[-3000:] + result.stderr[-3000:]
    before, after = _table(out, "after phase 1"), _table(out, "after phase 2")
    assert set(before) >= {"temp", "humidity", "windspeed", "hour", "weather"}
    assert "DRIFT" not in before.values(), before
    inputs = {f: v for f, v in after.items() if f != "prediction"}
    assert {f for f, v in inputs.items() if v == "DRIFT"} == {"temp", "weather"}, after
    warned = re.findall(r"^WARN\s+feature (\S+) \(input\)", out, re.M)
    assert sorted(warned) == ["temp", "weather"]
    pid = int(re.search(r"collector pid (\d+)", out).group(1))
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
