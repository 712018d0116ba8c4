"""Wide inputs and the sketch store's memory per model x feature.

    .venv/bin/python bench/bench_wide.py [--repeat 5]

1. Per-call time of summarising a 2-row input and output of W columns (W = 10^3, 10^5, 10^6;
   at most MODELTEL_MAX_FEATURES = 256 are tracked, the rest counted) against one numpy pass
   over the same array (``arr.sum()``), the peer in the same run: the cost must not grow with
   W beyond that pass.
2. RSS added by the sketch store for M models x F features (one batch each, then a collect),
   per model x feature, against the RSS of the same values held as one float64 array.
Writes bench/results/wide.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import numpy as np

from modeltel._config import Config
from modeltel._sketch import SketchStore
from modeltel._summary import summarize_input, summarize_output

HERE = Path(__file__).resolve().parent


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _median_us(fn, repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1e6)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    cfg = Config()
    wide = []
    print(f"{'width':>9s} {'input us':>10s} {'output us':>10s} {'numpy sum us':>13s}")
    for width in (1_000, 100_000, 1_000_000):
        arr = np.random.default_rng(0).normal(size=(2, width))

        def inp() -> None:
            s = summarize_input(arr, config=cfg)
            s.log_fields()
            s.span_attributes()

        def out() -> None:
            s = summarize_output(arr, config=cfg)
            s.log_fields()
            s.span_attributes()

        row = {
            "width": width,
            "input_us": _median_us(inp, args.repeat),
            "output_us": _median_us(out, args.repeat),
            "numpy_sum_us": _median_us(arr.sum, args.repeat),
        }
        wide.append(row)
        print(f"{width:9d} {row['input_us']:10.1f} {row['output_us']:10.1f} {row['numpy_sum_us']:13.1f}")

    models, features = 100, 50
    batch = np.random.default_rng(1).normal(size=(64, features))
    summary = summarize_input(batch, config=cfg)
    before = _rss_mb()
    store = SketchStore()
    for m in range(models):
        store.record(f"model-{m}", "1", "input", summary)
    store.collect()
    for m in range(models):  # the sticky state after a collect, and a second window
        store.record(f"model-{m}", "1", "input", summary)
    after = _rss_mb()
    per = (after - before) * 2**20 / (models * features)
    held = np.zeros((models, features, 64))
    print(f"store: {models} models x {features} features: +{after - before:.1f} MB RSS, "
          f"{per / 1024:.1f} KiB per model x feature (64 values each; the raw values as float64: "
          f"{held.nbytes / (models * features) / 1024:.1f} KiB)")
    results = HERE / "results"
    results.mkdir(exist_ok=True)
    (results / "wide.json").write_text(json.dumps({"wide": wide, "store_bytes_per_model_feature": per}, indent=2))


if __name__ == "__main__":
    main()
