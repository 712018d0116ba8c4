"""Drift windows survive bad requests, end to end: SDK processes -> the built collector."""

from __future__ import annotations

import time

import pytest

from e2e._collector import latest, metric_points
from e2e._scenario import make_baseline, start_replica

WINDOW = {"MLDRIFT_WINDOW": "10m", "MLDRIFT_SLOT_SIZE": "1s", "MLDRIFT_EMIT_INTERVAL": "1s"}
ROWS, BATCH = 800, 20


@pytest.mark.timeout(300)
def test_wrong_typed_values_in_5_percent_of_requests_neither_reset_the_window_nor_hide_a_shift(start_collector, tmp_path):
    """One request in 20 sends amount as a string in one row (a bad client). The collector
    counts them as type_mismatch, never turns amount categorical or resets its window (its
    sample count only grows, to every numeric value sent), and still reports amount's real
    shift (+1.5 sigma) as drift in the default calibrated mode."""
    baseline_path = tmp_path / "baseline.json"
    make_baseline(baseline_path)
    collector = start_collector(**WINDOW)
    replica = start_replica(tmp_path, collector.http_endpoint, "bad-client", baseline_path, seed=7, rows=ROWS,
                            batch=BATCH, pause=0.05, bad_every=20)
    assert replica.wait()["failures"] == 0
    bad_requests = ROWS // BATCH // 20

    def amount_samples() -> list[int]:
        return [int(p["asInt"]) for a, p in metric_points(collector.lines(), "ml.drift.sample_count")
                if a.get("ml.feature.name") == "amount"]

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not amount_samples() or amount_samples()[-1] < ROWS - bad_requests * BATCH):
        time.sleep(0.5)
    time.sleep(2.5)
    lines = collector.lines()
    samples = amount_samples()
    assert samples, "no sample count for amount"
    assert all(b >= a for a, b in zip(samples, samples[1:])), f"amount's window was reset: {samples}"
    # Every numeric value arrived: at most the bad requests' values (as the SDK reports them) are missing.
    assert ROWS - bad_requests * BATCH <= samples[-1] <= ROWS, samples[-1]
    quality = latest(lines, "ml.data_quality.rate")
    assert quality.get(("amount", "type_mismatch"), 0) > 0, quality
    detected = {f: v for (f, _), v in latest(lines, "ml.drift.detected").items()}
    assert detected.get("amount") == 1, detected
    assert detected.get("age") == 0 and detected.get("device") == 0, detected
