"""modeltel demo: an instrumented model, its JSON logs, and a summary of its telemetry.

Run with `make demo`. With no collector configured, modeltel's embedded default writes
spans and metrics as JSON lines (here to a temporary file) and the `ml.prediction` log
records to stdout; this script prints a few log lines and then summarises what was emitted.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import Counter

import numpy as np

import modeltel

FEATURES = ["temp", "humidity", "windspeed", "hour"]


class DemandModel:
    """A tiny linear model of hourly bike demand, fitted with numpy least squares."""

    name = "bike-demand"
    version = "1.0.0"

    def __init__(self, X: np.ndarray, y: np.ndarray) -> None:
        design = np.c_[X, np.ones(len(X))]
        self.coef, *_ = np.linalg.lstsq(design, y, rcond=None)

    @modeltel.monitor(feature_names=FEATURES)
    def predict(self, X: np.ndarray) -> np.ndarray:
        X = np.atleast_2d(X)
        return np.c_[X, np.ones(len(X))] @ self.coef


def make_data(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    X = np.c_[
        rng.normal(0.5, 0.15, n),
        rng.uniform(0.2, 1.0, n),
        rng.exponential(0.2, n),
        rng.integers(0, 24, n),
    ]
    y = 300 * X[:, 0] - 100 * X[:, 1] + 5 * X[:, 3] + rng.normal(0, 10, n)
    return X, y


def main() -> int:
    rng = np.random.default_rng(7)
    telemetry_file = os.path.join(tempfile.mkdtemp(prefix="modeltel-demo-"), "telemetry.jsonl")
    modeltel.configure(service_name="bike-demand-api", exporter="console", console_path=telemetry_file)

    model = DemandModel(*make_data(rng, 2_000))
    print("== ml.prediction log records (6 predictions: single rows and batches) ==", flush=True)
    for i in range(6):
        X, _ = make_data(rng, 64 if i % 2 else 1)
        model.predict(X)
    try:
        model.predict("not a model input")  # unsupported input: counted, prediction goes on
    except Exception:
        pass
    modeltel.shutdown()

    spans, metrics = Counter(), Counter()
    with open(telemetry_file, encoding="utf-8") as f:
        for line in f:
            item = json.loads(line)
            if "resource_metrics" in item:
                for rm in item["resource_metrics"]:
                    for sm in rm["scope_metrics"]:
                        for metric in sm["metrics"]:
                            metrics[metric["name"]] += len(metric["data"]["data_points"])
            elif "context" in item:
                spans[item["name"]] += 1
    print("\n== telemetry summary ==")
    print(f"spans written to {telemetry_file}:")
    for name, count in spans.items():
        print(f"  {name:32s} {count}")
    print("metric points:")
    for name, count in sorted(metrics.items()):
        print(f"  {name:32s} {count}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
