"""End to end: the connector reads baseline files, so a reference is there from the first record.

The real collector runs collector-config/outcomes.yaml with ``MLPERF_BASELINE_FILES`` naming a
baseline saved by ``modeltel.Baseline.from_data(..., predictions=, targets=)``; the predicting
process passes no baseline and no ``reference=``, so nothing of the baseline travels in-band.
The first window's reference is the file's validation accuracy, its estimate goes through the
file's calibration, and ``ml.performance.degraded`` fires against that reference.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

import modeltel
from e2e._collector import attrs, log_records
from outcomes.test_e2e_multiclass import model_points

PREDICT = """
import sys, numpy as np, pandas as pd, modeltel
modeltel.configure(service_name="fraud-api")
predict = modeltel.monitor(model="fraud", version="3.1.0", outcomes=True, id_from="key")(
    lambda X: np.column_stack([1 - X["x"].to_numpy(), X["x"].to_numpy()]))
scores = 0.55 + 0.4 * np.arange(300) / 300
for start in range(0, 300, 50):
    predict(pd.DataFrame({"key": [f"k{i}" for i in range(start, start + 50)], "x": scores[start:start + 50]}))
modeltel.record_outcomes([f"k{i}" for i in range(300)], [0] * 300, model="fraud")  # all wrong
modeltel.shutdown()
"""


@pytest.mark.e2e
@pytest.mark.timeout(120)
def test_reference_and_calibration_from_a_baseline_file(start_collector, tmp_path):
    rng = np.random.default_rng(16)
    s = 1 / (1 + np.exp(-rng.normal(0, 2.5, 2000)))
    y = (rng.random(2000) < 0.8 * s).astype(int)  # miscalibrated: positive 0.8 x score
    path = tmp_path / "fraud-3.1.0.json"
    baseline = modeltel.Baseline.from_data(pd.DataFrame({"x": s}), model="fraud", version="3.1.0",
                                           predictions=np.column_stack([1 - s, s]), targets=y)
    baseline.save(path)
    reference = baseline.performance["metrics"]["accuracy"]
    cal = baseline.performance["calibration"]
    scores = 0.55 + 0.4 * np.arange(300) / 300
    estimated = float(np.mean(np.interp(scores, cal["scores"], cal["probabilities"])))

    collector = start_collector("outcomes.yaml", OTELCOL_STORAGE_DIR=str(tmp_path / "storage"),
                                MLPERF_EMIT_INTERVAL="1s", MLPERF_BASELINE_FILES=json.dumps([str(path)]))
    env = {**os.environ, "OTEL_EXPORTER_OTLP_ENDPOINT": collector.http_endpoint, "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
           "MODELTEL_EXPORTER": "otlp", "OTEL_BLRP_SCHEDULE_DELAY": "200", "MODELTEL_HASH_KEY": "e2e-baseline-files"}
    subprocess.run([sys.executable, "-c", PREDICT], env=env, check=True, stdout=subprocess.DEVNULL, timeout=60)

    deadline = time.monotonic() + 30
    while True:
        lines = collector.lines()
        counts = model_points(lines, "ml.performance.sample_count", "fraud")
        events = [r for r in log_records(lines) if r.get("eventName") == "ml.performance.degraded"]
        if (counts and counts[-1] == 300 and events) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert counts and counts[-1] == 300, counts[-3:]
    refs = model_points(lines, "ml.performance.reference", "fraud")
    assert refs and all(r == pytest.approx(reference, abs=1e-12) for r in refs), refs  # from the first window on
    assert model_points(lines, "ml.performance.estimated.accuracy", "fraud")[-1] == pytest.approx(estimated, abs=1e-9)
    assert events, "degraded against the file's reference"
    assert float(attrs(events[0])["ml.performance.reference"]) == pytest.approx(reference, abs=1e-12)
