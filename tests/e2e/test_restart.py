"""The collector goes away during traffic: predictions do not notice, the SDK counts its drops."""

from __future__ import annotations

import statistics
import time

import pytest

from e2e._collector import latest, metric_points, number
from e2e._scenario import make_baseline, start_replica

OUTAGE_S = 5.0


@pytest.mark.timeout(300)
def test_collector_restart_during_traffic_costs_no_failed_or_slow_prediction(start_collector, tmp_path):
    """Two replicas predict for ~10 s while the collector is stopped for 5 s and restarted on
    the same ports: no prediction fails, predictions during the outage are as fast as the
    others (within their normal spread), the SDK counts the distribution points it had to
    drop and reports them to the restarted collector (ml.sketch.dropped), and drift is
    computed again from the data that arrives after the restart."""
    baseline_path = tmp_path / "baseline.json"
    make_baseline(baseline_path)
    collector = start_collector(
        MLDRIFT_WINDOW="10m", MLDRIFT_SLOT_SIZE="1s", MLDRIFT_EMIT_INTERVAL="1s", MLDRIFT_MIN_SAMPLES="200"
    )
    replicas = [
        start_replica(
            tmp_path, collector.http_endpoint, f"replica-{i}", baseline_path, seed=10 + i,
            rows=2000, batch=10, pause=0.05, export_interval=0.5,
        )
        for i in range(2)
    ]
    # The exporters give up on an export after 1 s, so the outage outlasts their retries.
    time.sleep(2.5)
    down = time.time()
    collector.stop()
    time.sleep(OUTAGE_S)
    up = time.time()
    collector.start()
    stats = [r.wait(timeout=180) for r in replicas]

    assert [s["failures"] for s in stats] == [0, 0]
    during = [d for s in stats for (t, d) in s["latencies"] if down <= t <= up]
    normal = [d for s in stats for (t, d) in s["latencies"] if t < down - 0.5 or t > up + 2.0]
    assert len(during) > 50 and len(normal) > 50, (len(during), len(normal))
    p50, p99 = statistics.median(normal), statistics.quantiles(normal, n=100)[98]
    assert statistics.median(during) <= 2 * p50 + 0.002, (statistics.median(during), p50)
    assert max(during) <= max(normal) + 0.25, (max(during), max(normal), p99)

    print(
        f"restart: {len(during)} predictions during the outage, median {statistics.median(during) * 1e3:.2f} ms "
        f"max {max(during) * 1e3:.2f} ms; others median {p50 * 1e3:.2f} ms p99 {p99 * 1e3:.2f} ms max {max(normal) * 1e3:.2f} ms"
    )
    dropped_by_sdk = sum(s["sketch_dropped_points"] for s in stats)
    assert dropped_by_sdk > 0, "the outage outlasted the exporter's retry: points were dropped and counted"
    lines = collector.lines()
    reported = sum(number(p) for _, p in metric_points(lines, "ml.sketch.dropped"))
    assert reported == dropped_by_sdk, (reported, dropped_by_sdk)
    print(f"restart: the SDK dropped and reported {dropped_by_sdk} distribution points")
    # The restarted collector's mldrift starts empty and scores the data sent since.
    assert latest(lines, "ml.drift.detected").get(("amount", None)) == 1
