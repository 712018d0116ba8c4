"""Evidently's DataDriftPreset, with its defaults, on the windows bench/drift_eval.py wrote.

Runs inside _build/bench-venv (Evidently is never installed in the test virtualenv):

    _build/bench-venv/bin/python bench/drift_evidently_runner.py jobs.json results.json

Each job names a parquet of references and a parquet of windows, both with a ``_trial``
column (window i is compared with reference i, the same pair bench/drift_eval.py scored).
For each pair ``Report([DataDriftPreset()])`` runs with Evidently's defaults: Evidently
chooses the method per column from the reference size and column type (for <= 1,000
reference rows KS p < 0.05 on numeric and chi-squared p < 0.05 on categorical columns; above,
normed Wasserstein >= 0.1 and Jensen-Shannon >= 0.1). The result is one list of per-column
flags per window, in the job's column order.
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
        refs = pd.read_parquet(job["refs"])
        windows = pd.read_parquet(job["windows"])
        cols = job["columns"]
        cats = [c for c in job["categorical"] if c in cols]
        definition = DataDefinition(numerical_columns=[c for c in cols if c not in cats], categorical_columns=cats)
        flags: list[list[bool]] = []
        methods: set[str] = set()
        t0 = time.perf_counter()
        ref_groups = dict(list(refs.groupby("_trial")))
        for trial, w in windows.groupby("_trial"):
            ref_ds = Dataset.from_pandas(ref_groups[trial][cols].reset_index(drop=True), data_definition=definition)
            cur_ds = Dataset.from_pandas(w[cols].reset_index(drop=True), data_definition=definition)
            result = Report([DataDriftPreset(columns=cols)]).run(cur_ds, ref_ds)
            per_col = {
                m["config"]["column"]: m for m in result.dict()["metrics"] if m["config"]["type"].endswith("ValueDrift")
            }
            methods.update(m["config"]["method"] for m in per_col.values())
            flags.append([bool(drifted(per_col[c])) if c in per_col else False for c in cols])
        out.append(
            {
                "key": job["key"],
                "flags": flags,
                "seconds_per_window": (time.perf_counter() - t0) / max(len(flags), 1),
                "methods": sorted(methods),
                "version": evidently_version,
            }
        )
        print(f"evidently job {job['key']} done", file=sys.stderr, flush=True)
    open(sys.argv[2], "w").write(json.dumps(out))


if __name__ == "__main__":
    main()
