"""Drift across replicas, end to end: SDK processes -> the built collector -> file output."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from e2e._collector import drift_records, latest, metric_points
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

    # The in-band baseline carries no training min/max (single training values, docs/privacy.md):
    # the collector's reference is the baseline's histogram without them.
    reference = {name: dataclasses.replace(h, min=None, max=None) for name, h in baseline.histograms().items()}
    expected = _drift.evaluate(
        reference,
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


@pytest.mark.timeout(180)
def test_null_rate_rising_from_0_to_5_percent_is_drift_with_an_in_band_baseline(start_collector, tmp_path):
    """A baseline without nulls, sent in-band only (no baseline file on the collector); one
    replica sends amount as None in every 20th row (5%) and nothing else changes: the SDK
    sends the baseline's null counts (ml.baseline.feature.missing), so the collector's
    null_rate rule runs and flags amount with reason null_rate, and only amount."""
    baseline_path = tmp_path / "baseline.json"
    baseline = make_baseline(baseline_path)
    assert baseline.features["amount"].null_count == 0
    collector = start_collector(MLDRIFT_WINDOW="10m", MLDRIFT_SLOT_SIZE="1s", MLDRIFT_EMIT_INTERVAL="1s")
    replica = start_replica(tmp_path, collector.http_endpoint, "nulls", baseline_path, seed=5, rows=1000, drift=False,
                            batch=50, null_every=20)
    assert replica.wait()["failures"] == 0
    wait_for(lambda: latest(collector.lines(), "ml.drift.sample_count").get(("amount", None)) == 950, 60,
             "amount's window to hold all 950 values (and 50 nulls)")
    time.sleep(2.5)
    lines = collector.lines()
    scores = latest(lines, "ml.drift.score")
    assert scores[("amount", "null_rate_pvalue")] < 1e-6
    detected = {f: v for (f, _), v in latest(lines, "ml.drift.detected").items()}
    assert detected["amount"] == 1 and detected["age"] == 0 and detected["country"] == 0, detected
    (record,) = [r for r in drift_records(lines) if r.get("severityText") == "WARN"]
    reason = next(a["value"]["stringValue"] for a in record["attributes"] if a["key"] == "ml.drift.reason")
    assert "null_rate" in reason


@pytest.mark.timeout(180)
def test_a_move_among_rare_labels_is_drift_through_the_hashed_tail_buckets(start_collector, tmp_path, monkeypatch):
    """A 2,000-label feature (city) whose rows beyond its 32 top labels move onto 20 rare ones,
    the top labels' shares unchanged: the baseline (built, like the SDK, with the deployment's
    MODELTEL_HASH_KEY) and the SDK count the rare labels in hashed tail buckets, in-band and in
    production, never in clear; the collector flags city (chi2_contingency over the buckets)
    and nothing else."""
    key = "e2e-tail-buckets-key"
    monkeypatch.setenv("MODELTEL_HASH_KEY", key)  # the replica inherits it
    baseline_path = tmp_path / "baseline.json"
    script = ("import sys; from pathlib import Path; from e2e._scenario import make_baseline; "
              "make_baseline(Path(sys.argv[1]), city=2000)")
    subprocess.run([sys.executable, "-c", script, str(baseline_path)], check=True, cwd=Path(__file__).parents[1],
                   env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])})
    city = json.loads(baseline_path.read_text())["features"][-1]
    assert city["name"] == "city" and len(city["tail"]["counts"]) == 16
    collector = start_collector(MLDRIFT_WINDOW="10m", MLDRIFT_SLOT_SIZE="1s", MLDRIFT_EMIT_INTERVAL="1s")
    replica = start_replica(tmp_path, collector.http_endpoint, "tail", baseline_path, seed=8, rows=2000, drift=False,
                            batch=100, city=2000, city_move=True)
    assert replica.wait()["failures"] == 0
    wait_for(lambda: latest(collector.lines(), "ml.drift.sample_count").get(("city", None)) == 2000, 60,
             "city's window to hold all 2000 rows")
    time.sleep(2.5)
    lines = collector.lines()
    sent = {a["ml.feature.category"] for a, _ in metric_points(lines, "ml.feature.category.count") if a.get("ml.feature.name") == "city"}
    inband = {a["ml.feature.category"] for a, _ in metric_points(lines, "ml.baseline.feature.category.count")
              if a.get("ml.feature.name") == "city"}
    assert {f"__tail_{j}__" for j in range(16)} <= inband and "__other__" not in sent
    assert sent and all(c.startswith("__tail_") or c in city["categories"] for c in sent), sent
    scores = latest(lines, "ml.drift.score")
    assert scores[("city", "chi2_contingency_pvalue")] < 1e-6
    detected = {f: v for (f, _), v in latest(lines, "ml.drift.detected").items()}
    assert detected["city"] == 1 and all(v == 0 for f, v in detected.items() if f != "city"), detected
