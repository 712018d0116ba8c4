"""Drift windows survive bad requests, end to end: SDK processes -> the built collector."""

from __future__ import annotations

import time

import pytest

from e2e._collector import CONFIGS, drift_records, latest, metric_points, strict_config
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


@pytest.mark.timeout(540)
def test_without_baseline_identical_traffic_for_30_windows_raises_no_drift_and_a_shift_is_reported(
    start_collector, tmp_path, monkeypatch
):
    """Two SDK replicas without a baseline (exponential histograms) serve identical traffic for
    more than 30 one-second windows after the reference froze: no ml.drift.started record.
    Then the same two replicas' traffic shifts (amount +1.5 sigma, country shares): reported.

    alpha is 10^-5 here: the rounds give 30 to 80 evaluations (more on a loaded machine, whose
    windows hold fewer values), and at the default 0.05 a run would end with a false alarm in up
    to 1 - 0.95^35 = 83% of runs by design (the per-evaluation level bounds the rate per window,
    not over the life of a stream: the expected number of windows to a false alarm is >= 1/alpha,
    docs/drift-math.md 5.4). At 0.001 that bound is still 3-8% of runs, and this test failed in 2
    of about 17 runs; at 10^-5 it is below 0.1%, while the shift below scores q < 10^-60, far
    inside the level. sequential_arl 10^6 for the same reason (the
    sequential rule's ~100 half-second batches against an ARL of 1000 batches would alarm in up
    to 10% of runs, 9.2). The replicas share MODELTEL_HASH_KEY, as
    replicas must for their hashed labels (every label without a baseline) to be the same."""
    monkeypatch.setenv("MODELTEL_HASH_KEY", "e2e-shared-key")
    path = strict_config(tmp_path / "no-baseline.yaml", alpha=1e-5, feature_alpha=2e-6)
    collector = start_collector(path, MLDRIFT_WINDOW="1s", MLDRIFT_SLOT_SIZE="500ms", MLDRIFT_EMIT_INTERVAL="1s")
    # Rounds of the same two replicas until 30 windows were evaluated: on a loaded machine a
    # window can miss its values (an export that slips past the 1 s window), so the number of
    # windows one round yields is not fixed; the count of evaluations is what the test needs.
    def evaluated() -> list[dict]:
        return [p for a, p in metric_points(collector.lines(), "ml.drift.detected") if a.get("ml.feature.name") == "amount"]

    deadline = time.monotonic() + 240
    rounds = 0
    while len(evaluated()) < 30 and time.monotonic() < deadline:
        same = [start_replica(tmp_path, collector.http_endpoint, f"same-{i}", None, seed=10 + i + 2 * rounds,
                              rows=16000, batch=40, pause=0.1, drift=False) for i in range(2)]
        for r in same:
            assert r.wait(timeout=300)["failures"] == 0
        rounds += 1
    lines = collector.lines()
    stability = latest(lines, "ml.drift.score")
    assert len(evaluated()) >= 30, f"only {len(evaluated())} evaluations of amount against its frozen reference in {rounds} rounds"
    assert ("amount", "reference_stability_pvalue") in stability
    started = [r for r in drift_records(lines) if r.get("eventName") == "ml.drift.started"]
    assert not started, [(r.get("attributes"), r.get("body")) for r in started]

    shifted = [start_replica(tmp_path, collector.http_endpoint, f"shifted-{i}", None, seed=20 + i, rows=4000,
                             batch=40, pause=0.1, drift=True) for i in range(2)]
    for r in shifted:
        assert r.wait(timeout=120)["failures"] == 0
    time.sleep(3)
    started = [r for r in drift_records(collector.lines()) if r.get("eventName") == "ml.drift.started"]
    flagged = {next(a["value"]["stringValue"] for a in r["attributes"] if a["key"] == "ml.feature.name") for r in started}
    assert "amount" in flagged, flagged


@pytest.mark.timeout(300)
def test_without_baseline_a_restarted_collector_with_file_storage_reports_drift_at_its_first_emit(
    start_collector, tmp_path, monkeypatch
):
    """No baseline: the frozen self-reference and the window live in file_storage. After a
    shift is reported, the collector gets SIGTERM and starts again: its first emit with data
    already says amount drifts (without storage it would need a whole new window to freeze a
    reference first, and that reference would be the shifted data)."""
    monkeypatch.setenv("MODELTEL_HASH_KEY", "e2e-shared-key")
    storage = tmp_path / "storage"
    storage.mkdir()
    config = (CONFIGS / "local.yaml").read_text()
    config = config.replace("extensions:\n  health_check:", f"extensions:\n  file_storage/mldrift:\n    directory: {storage}\n  health_check:", 1)
    config = config.replace("  extensions: [health_check]", "  extensions: [health_check, file_storage/mldrift]", 1)
    config = config.replace("    emit_interval: ${env:MLDRIFT_EMIT_INTERVAL:-60s}", "    emit_interval: ${env:MLDRIFT_EMIT_INTERVAL:-60s}\n    storage: file_storage/mldrift", 1)
    path = tmp_path / "storage.yaml"
    path.write_text(config)
    collector = start_collector(path, MLDRIFT_WINDOW="6s", MLDRIFT_SLOT_SIZE="1s", MLDRIFT_EMIT_INTERVAL="1s")

    def amount(lines, metric):
        return [a.get("ml.drift.method") for a, _ in metric_points(lines, metric) if a.get("ml.feature.name") == "amount"]

    same = start_replica(tmp_path, collector.http_endpoint, "same", None, seed=30, rows=4000, batch=40, pause=0.08, drift=False)
    assert same.wait(timeout=120)["failures"] == 0
    assert "reference_stability_pvalue" in amount(collector.lines(), "ml.drift.score"), "the reference froze"
    shifted = start_replica(tmp_path, collector.http_endpoint, "shifted", None, seed=31, rows=1500, batch=40, pause=0.05, drift=True)
    assert shifted.wait(timeout=120)["failures"] == 0
    time.sleep(2)
    assert latest(collector.lines(), "ml.drift.detected").get(("amount", None)) == 1

    collector.stop()  # SIGTERM: the state is saved at shutdown
    restarted_ns = time.time_ns()
    collector.start()
    more = start_replica(tmp_path, collector.http_endpoint, "after", None, seed=32, rows=200, batch=40, pause=0.05, drift=True)
    assert more.wait(timeout=60)["failures"] == 0
    deadline = time.monotonic() + 20
    detected = []
    while time.monotonic() < deadline and not detected:
        detected = [int(p["asInt"]) for a, p in metric_points(collector.lines(), "ml.drift.detected")
                    if a.get("ml.feature.name") == "amount" and int(p["timeUnixNano"]) > restarted_ns]
        time.sleep(0.5)
    assert detected and detected[0] == 1, detected
