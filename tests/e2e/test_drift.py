"""Drift across replicas, end to end: SDK processes -> the built collector -> file output."""

from __future__ import annotations

import math
import time

import pytest

from e2e._collector import drift_records, latest
from e2e._scenario import DRIFTING, STABLE, make_baseline, merged_production, start_replica
from modeltel import _drift

# Short windows so a test run sees several emits; min_samples above one replica's rows so
# a verdict needs the merged data of all three.
WINDOW = {"MLDRIFT_WINDOW": "10m", "MLDRIFT_SLOT_SIZE": "1s", "MLDRIFT_EMIT_INTERVAL": "1s", "MLDRIFT_MIN_SAMPLES": "1000"}
ROWS = 400


def wait_for(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@pytest.mark.timeout(300)
def test_three_replicas_flag_exactly_the_drifted_features_with_the_python_scores(start_collector, tmp_path):
    """Three SDK replicas (400 rows each, below min_samples=1000 alone) drift on amount and
    country only: the collector flags exactly those, its scores equal modeltel._drift on the
    merged rows of all three to 1e-9, and it logs one WARN record per drifted feature."""
    baseline_path = tmp_path / "baseline.json"
    baseline = make_baseline(baseline_path)
    collector = start_collector(**WINDOW)
    replicas = [
        start_replica(tmp_path, collector.http_endpoint, f"replica-{i}", baseline_path, seed=i, rows=ROWS)
        for i in range(3)
    ]
    stats = [r.wait() for r in replicas]
    assert all(s["failures"] == 0 for s in stats)

    features = DRIFTING | STABLE | {"prediction"}
    wait_for(
        lambda: all(latest(collector.lines(), "ml.drift.sample_count").get((f, None)) == 3 * ROWS for f in features),
        60, "every feature's merged window to hold all 3 x 400 rows",
    )
    time.sleep(2.5)  # two more emits over the complete window
    lines = collector.lines()

    detected = {f: v for (f, _), v in latest(lines, "ml.drift.detected").items()}
    assert {f for f, v in detected.items() if v == 1} == DRIFTING
    assert {f for f, v in detected.items() if v == 0} == STABLE | {"prediction"}

    expected = _drift.evaluate(
        baseline.histograms(),
        merged_production(baseline, [r.rows() for r in replicas]),
        _drift.DriftConfig(min_samples=1000),
        outputs=["prediction"],
    )
    got = latest(lines, "ml.drift.score")
    assert sorted(fd.name for fd in expected.features) == sorted(features)
    compared = 0
    for fd in expected.features:
        assert fd.verdict == ("drift" if fd.name in DRIFTING else "no_drift"), fd
        for method, want in fd.scores.items():
            value = got.get((fd.name, method))
            assert value is not None, f"no ml.drift.score for {fd.name}/{method}"
            if math.isinf(want):
                assert value == want
            else:
                assert abs(value - want) <= 1e-9 * max(1.0, abs(want)), (fd.name, method, value, want)
            compared += 1
    assert compared == sum(len(fd.scores) for fd in expected.features) >= 25  # 29: 7 per numeric, 4 per categorical

    records = drift_records(lines)
    warn = [r for r in records if r.get("severityText") == "WARN"]
    flagged = sorted(next(a["value"]["stringValue"] for a in r["attributes"] if a["key"] == "ml.feature.name") for r in warn)
    assert flagged == sorted(DRIFTING), records
    assert all(r.get("eventName") == "ml.drift.started" for r in warn)
    assert not [r for r in records if r.get("severityText") != "WARN"], "no feature left drift"
