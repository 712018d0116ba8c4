"""2x10^5 model+version pairs in one process, against the real collector.

Before the series cap, 10^5 pairs took the process from 55 to 561 MB and at 2x10^5 the metrics
request was over the collector's limit, so no point of any model arrived. Now: every metric
export is accepted (no export failure logged), the first MODELTEL_MAX_MODELS pairs have
series of their own and the rest arrive as one ``__overflow__`` series with the overflow
counted, RSS grows by less than 50 MB (about 10 MB measured, bench/bench_cardinality.py), and
a model that comes after the spike gets distributions once the spike's streams expired.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from e2e._collector import metric_points

pytestmark = pytest.mark.e2e

APP = Path(__file__).with_name("_cardinality_app.py")
PAIRS = 200_000


def test_a_spike_of_200000_model_versions_stays_bounded_and_every_export_arrives(start_collector, tmp_path: Path) -> None:
    collector = start_collector("local.yaml", name="cardinality")
    env = {
        **os.environ,
        "OTEL_EXPORTER_OTLP_ENDPOINT": collector.http_endpoint,
        "MODELTEL_EXPORTER": "otlp",
        "MODELTEL_LOG_SAMPLE_RATE": "0",
        "MODELTEL_LOG_CONSOLE": "false",
        "OTEL_TRACES_SAMPLER": "always_off",
        "MODELTEL_STREAM_TTL": "1",
        "MODELTEL_EXPORT_INTERVAL": "60",
        "OTEL_METRIC_EXPORT_INTERVAL": "60000",
    }
    out = subprocess.run([sys.executable, str(APP), str(PAIRS)], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "Failed to export" not in out.stderr and "dropped" not in out.stderr, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["rss_after_mb"] - result["rss_before_mb"] < 50, result

    time.sleep(1.5)  # the collector's batch processor writes what it holds
    lines = collector.lines()
    series = {(a["ml.model.name"], a["ml.model.version"]) for a, _ in metric_points(lines, "ml.prediction.duration")}
    assert ("__overflow__", "__overflow__") in series and len(series) == 500 + 1
    # cumulative: the latest point counts every prediction folded into the overflow model
    overflow = max(int(p["asInt"]) for _, p in metric_points(lines, "ml.sdk.overflow"))
    assert overflow == 1 + PAIRS + 1 - 500  # warm-up + spike + late, minus the 500 with series
    assert "late" in {a["ml.model.name"] for a, _ in metric_points(lines, "ml.feature.value")}
