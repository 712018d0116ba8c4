"""End to end: a multiclass classifier's log loss and Brier score through the real collector.

A process predicts a 4-class model through ``@modeltel.monitor(outcomes=True, id_from=...)``
(every class's probability per row leaves as ``ml.prediction.probabilities``); a label process
sends a third of the outcomes before the predictions and the rest after a collector restart
(SIGTERM), while the predictions wait in file_storage with their probabilities. The connector's
log loss and Brier score equal scikit-learn's on the joined rows to 1e-9.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest
from sklearn import metrics

from e2e._collector import metric_points, number

CLASSES = ["0", "1", "2", "3"]
ROWS = 600

PREDICT = """
import json, sys, numpy as np, pandas as pd, modeltel
plan = json.load(open(sys.argv[1]))
modeltel.configure(service_name="mode-api")
proba = np.array(plan["proba"])
predict = modeltel.monitor(model="mode", version="1", outcomes=True, id_from="key")(
    lambda X: proba[X["row"].to_numpy()])
for start in range(0, len(plan["keys"]), 50):
    predict(pd.DataFrame({"key": plan["keys"][start:start + 50], "row": range(start, min(start + 50, len(plan["keys"])))}))
modeltel.shutdown()
"""

LABELS = """
import json, sys, modeltel
plan = json.load(open(sys.argv[1]))
part = slice(None, len(plan["keys"]) // 3) if sys.argv[2] == "early" else slice(len(plan["keys"]) // 3, None)
modeltel.configure(service_name="labels")
modeltel.record_outcomes(plan["keys"][part], plan["actual"][part], model="mode")
modeltel.shutdown()
"""


def run(code: str, endpoint: str, *args: str) -> None:
    env = {**os.environ, "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
           "MODELTEL_EXPORTER": "otlp", "OTEL_BLRP_SCHEDULE_DELAY": "200", "MODELTEL_HASH_KEY": "e2e-multiclass"}
    subprocess.run([sys.executable, "-c", code, *args], env=env, check=True, stdout=subprocess.DEVNULL, timeout=120)


def model_points(lines: list[dict], name: str, model: str = "mode") -> list[float]:
    """The values of a metric's points for a model as a whole (no ml.segment), in export order."""
    return [number(p) for a, p in metric_points(lines, name)
            if a.get("ml.model.name") == model and "ml.segment" not in a]


@pytest.mark.e2e
@pytest.mark.timeout(180)
def test_multiclass_log_loss_and_brier_across_a_restart(start_collector, tmp_path):
    rng = np.random.default_rng(7)
    logits = rng.normal(0, 1.5, (ROWS, len(CLASSES)))
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    actual = [str(rng.choice(len(CLASSES), p=row)) for row in proba]
    keys = [f"ride-{i}" for i in range(ROWS)]
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"proba": proba.tolist(), "actual": actual, "keys": keys}))

    collector = start_collector("outcomes.yaml", OTELCOL_STORAGE_DIR=str(tmp_path / "storage"),
                                MLPERF_EMIT_INTERVAL="1s", MLPERF_TTL="10m")
    run(LABELS, collector.http_endpoint, str(plan), "early")  # outcomes before their predictions
    run(PREDICT, collector.http_endpoint, str(plan))
    collector.stop()  # SIGTERM: two thirds of the predictions wait with their probabilities
    collector.start()
    run(LABELS, collector.http_endpoint, str(plan), "late")

    want_log_loss = metrics.log_loss(actual, proba, labels=CLASSES)
    want_brier = metrics.brier_score_loss(actual, proba, labels=CLASSES)
    deadline = time.monotonic() + 60
    while True:
        lines = collector.lines()
        counts = model_points(lines, "ml.performance.log_loss.count")
        if (counts and counts[-1] == ROWS) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert counts and counts[-1] == ROWS, counts[-3:]
    assert model_points(lines, "ml.performance.log_loss")[-1] == pytest.approx(want_log_loss, abs=1e-9)
    assert model_points(lines, "ml.performance.brier")[-1] == pytest.approx(want_brier, abs=1e-9)
    sums = model_points(lines, "ml.performance.log_loss.sum")[-1], model_points(lines, "ml.performance.brier.sum")[-1]
    assert sums[0] / ROWS == pytest.approx(want_log_loss, abs=1e-9)
    assert sums[1] / ROWS == pytest.approx(want_brier, abs=1e-9)
    accuracy = metrics.accuracy_score(actual, [str(i) for i in np.argmax(proba, axis=1)])
    assert model_points(lines, "ml.performance.accuracy")[-1] == pytest.approx(accuracy, abs=1e-12)
