"""One replica of a classifier with joinable predictions, run as its own process by the e2e test.

    python _classifier.py --plan plan.json --phase 1 --replica 0

Predicts the plan's rows of this replica and phase in batches through @modeltel.monitor,
sending each batch's keys, classes, scores and segments as one ml.outcome.predicted record,
then shuts the SDK down (which flushes). The "model" returns the plan's scores, so the test
knows every output exactly.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

import modeltel
from modeltel import _outcomes


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--plan", required=True)
    ap.add_argument("--phase", type=int, required=True)
    ap.add_argument("--replica", type=int, required=True)
    ap.add_argument("--batch", type=int, default=20)
    ap.add_argument("--pause", type=float, default=0.1)
    args = ap.parse_args()
    plan = json.loads(open(args.plan).read())
    rows = [r for r in plan["rows"] if r["phase"] == args.phase and r["replica"] == args.replica]
    modeltel.configure(service_name="classifier")

    @modeltel.monitor(model=plan["model"], version=plan["version"])
    def predict(scores: np.ndarray) -> np.ndarray:
        return np.column_stack([1 - scores[:, 0], scores[:, 0]])

    for start in range(0, len(rows), args.batch):
        batch = rows[start : start + args.batch]
        proba = predict(np.array([[r["score"]] for r in batch]))
        pred = modeltel.current_prediction()
        records = _outcomes.predicted_records(
            model=plan["model"], version=plan["version"], prediction_id=getattr(pred, "id", "") or "",
            keys=[r["key"] for r in batch], classes=_outcomes.labels(np.argmax(proba, axis=1)),
            scores=proba[:, 1].tolist(), segments=[r["segment"] for r in batch],
            reference={"accuracy": plan["reference_accuracy"]},
        )
        _outcomes.emit_predicted(time.time_ns(), records)
        time.sleep(args.pause)
    modeltel.shutdown()


if __name__ == "__main__":
    main()
