"""One replica of a classifier with joinable predictions, run as its own process by the e2e test.

    python _classifier.py --plan plan.json --phase 1 --replica 0

Predicts the plan's rows of this replica and phase in batches through
@modeltel.monitor(outcomes=True, id_from="key", segment_by="segment"): each batch's keys,
classes, scores and segments leave as joinable rows of its log record. Then the SDK shuts
down (which flushes). The "model" returns the plan's scores, so the test knows every output.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import pandas as pd

import modeltel


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

    def model(X: pd.DataFrame) -> np.ndarray:
        scores = X["x"].to_numpy()
        return np.column_stack([1 - scores, scores])

    # No reference=: the reference accuracy and the calibration come from the baselines.
    predict = modeltel.monitor(model=plan["model"], version=plan["version"], outcomes=True, id_from="key",
                               segment_by="segment", baseline=plan["baseline"])(model)
    predict_churn = modeltel.monitor(model="churn", version="1", outcomes=True, id_from="key",
                                     segment_by="segment", baseline=plan["churn_baseline"])(model)
    churn = [r for r in plan["churn"] if r["phase"] == args.phase and r["replica"] == args.replica]

    def frame(batch: list[dict]) -> pd.DataFrame:
        return pd.DataFrame({"key": [r["key"] for r in batch], "segment": [r["segment"] for r in batch],
                             "x": [r["score"] for r in batch]})

    for n, start in enumerate(range(0, len(rows), args.batch)):
        predict(frame(rows[start : start + args.batch]))
        predict_churn(frame(churn[n * args.batch // 2 : (n + 1) * args.batch // 2]))
        time.sleep(args.pause)
    modeltel.shutdown()


if __name__ == "__main__":
    main()
