"""Evidently's default data-drift test on the windows bench/drift_eval.py wrote.

Runs inside _build/bench-venv (Evidently is never installed in the test virtualenv):

    _build/bench-venv/bin/python bench/drift_evidently_runner.py jobs.json results.json

For each job: the reference parquet and a parquet of windows (column ``_trial``); for each
window ``Report([DataDriftPreset()])`` with Evidently's defaults (method chosen by Evidently:
for a 5,000-row reference, normed Wasserstein >= 0.1 on numeric columns and Jensen-Shannon
>= 0.1 on categorical ones; dataset drift when >= 50% of the columns drift).
"""

from __future__ import annotations

import json
import sys
import time

import pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently import __version__ as evidently_version
from evidently.presets import DataDriftPreset


def drifted(metric: dict) -> bool:
    method = metric["config"]["method"]
    value, threshold = metric["value"], metric["config"]["threshold"]
    # p-value tests drift below the threshold; distances at or above it.
    return value < threshold if "p_value" in method else value >= threshold


def main() -> None:
    jobs = json.loads(open(sys.argv[1]).read())
    out = []
    for job in jobs:
        ref = pd.read_parquet(job["ref"])
        windows = pd.read_parquet(job["windows"])
        cols = job["columns"]
        cats = [c for c in job["categorical"] if c in cols]
        definition = DataDefinition(numerical_columns=[c for c in cols if c not in cats], categorical_columns=cats)
        ref_ds = Dataset.from_pandas(ref[cols], data_definition=definition)
        flags, dataset, methods = [], [], set()
        per_feature: dict[str, list[bool]] = {}
        t0 = time.perf_counter()
        groups = list(windows.groupby("_trial"))
        for _, w in groups:
            result = Report([DataDriftPreset(columns=cols)]).run(
                Dataset.from_pandas(w[cols].reset_index(drop=True), data_definition=definition), ref_ds
            )
            per_col = [m for m in result.dict()["metrics"] if m["config"]["type"].endswith("ValueDrift")]
            methods.update(m["config"]["method"] for m in per_col)
            f = [drifted(m) for m in per_col]
            for m, flag in zip(per_col, f):
                per_feature.setdefault(m["config"]["column"], []).append(flag)
            flags.extend(f)
            dataset.append(sum(f) >= 0.5 * len(f))
        out.append(
            {
                "key": job["key"],
                "feature_rate": sum(flags) / len(flags),
                "dataset_rate": sum(dataset) / len(dataset),
                "seconds_per_window": (time.perf_counter() - t0) / len(groups),
                "methods": sorted(methods),
                "per_feature": {k: sum(v) / len(v) for k, v in per_feature.items()},
                "version": evidently_version,
            }
        )
        print(f"evidently job {job['key']}: {out[-1]['feature_rate']:.3f}", file=sys.stderr, flush=True)
    open(sys.argv[2], "w").write(json.dumps(out))


if __name__ == "__main__":
    main()
