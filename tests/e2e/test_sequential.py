"""The sequential drift rule end to end: SDK replicas -> the built collector with file_storage."""

from __future__ import annotations

import time

import pytest

from e2e._collector import CONFIGS, drift_records, metric_points, number
from e2e._scenario import make_baseline, start_replica


def _storage_config(tmp_path, storage, baseline) -> str:
    config = (CONFIGS / "local.yaml").read_text()
    config = config.replace("extensions:\n  health_check:", f"extensions:\n  file_storage/mldrift:\n    directory: {storage}\n  health_check:", 1)
    config = config.replace("  extensions: [health_check]", "  extensions: [health_check, file_storage/mldrift]", 1)
    config = config.replace("    emit_interval: ${env:MLDRIFT_EMIT_INTERVAL:-60s}", "    emit_interval: ${env:MLDRIFT_EMIT_INTERVAL:-60s}\n    storage: file_storage/mldrift\n"
                            f"    baseline_files: [{baseline}]", 1)
    path = tmp_path / "sequential.yaml"
    path.write_text(config)
    return str(path)


def _sequential(lines, since_ns: int = 0, metric: str = "ml.drift.score") -> list[float]:
    return [number(p) for a, p in metric_points(lines, metric)
            if a.get("ml.feature.name") == "amount" and a.get("ml.drift.method") == "sequential"
            and int(p["timeUnixNano"]) > since_ns]


@pytest.mark.timeout(300)
def test_sequential_alarm_is_reported_and_its_state_survives_a_restart(start_collector, tmp_path):
    """A replica with a baseline sends shifted traffic to a collector with a 10-minute window
    and one-second emits: amount's e-CUSUM reaches its alarm threshold (ml.drift.score and
    ml.drift.threshold with ml.drift.method = sequential) and amount drifts. The collector gets SIGTERM and starts again on the same file_storage: its first emits report
    the e-CUSUM value it had before the restart (the statistic, its threshold and the alarm were
    restored, not started from nothing), amount is still drift, and no second
    ml.drift.started is logged for it."""
    baseline_path = tmp_path / "baseline.json"
    make_baseline(baseline_path)
    storage = tmp_path / "storage"
    storage.mkdir()
    collector = start_collector(_storage_config(tmp_path, storage, baseline_path), MLDRIFT_WINDOW="10m", MLDRIFT_SLOT_SIZE="1s",
                                MLDRIFT_EMIT_INTERVAL="1s")
    shifted = start_replica(tmp_path, collector.http_endpoint, "shifted", baseline_path, seed=41, rows=600,
                            batch=20, pause=0.02, drift=True)
    assert shifted.wait(timeout=120)["failures"] == 0
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not _sequential(collector.lines()):
        time.sleep(0.5)
    time.sleep(3)  # every completed slot tested: the e-CUSUM no longer moves
    lines = collector.lines()
    started = [r for r in drift_records(lines) if r.get("eventName") == "ml.drift.started"]
    assert any(a["value"]["stringValue"] == "amount" for r in started for a in r["attributes"]
               if a["key"] == "ml.feature.name"), started
    before, threshold = _sequential(lines), _sequential(lines, metric="ml.drift.threshold")
    assert before and threshold and before[-1] >= threshold[-1] > 1000, (before[-3:], threshold[-3:])

    collector.stop()  # SIGTERM: the state is saved at shutdown
    restarted_ns = time.time_ns()
    collector.start()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not _sequential(collector.lines(), restarted_ns):
        time.sleep(0.5)
    after = collector.lines()
    restored = _sequential(after, restarted_ns)
    assert restored and restored[0] == before[-1], (before[-3:], restored[:3])
    detected = [int(p["asInt"]) for a, p in metric_points(after, "ml.drift.detected")
                if a.get("ml.feature.name") == "amount" and int(p["timeUnixNano"]) > restarted_ns]
    assert detected and detected[0] == 1, detected
    again = [r for r in drift_records(after) if r.get("eventName") == "ml.drift.started"
             and int(r.get("timeUnixNano", 0)) > restarted_ns]
    assert not again, again
