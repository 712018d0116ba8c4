"""How long `modeltel drift report` takes on a CSV, next to reading the same CSV with pandas.

The peer, measured in the same run over the same file, is the floor of any report on it:
``pandas.read_csv`` in the same chunks, doing nothing with them. modeltel's cases: the report
(drift, data quality), the report with predictions and targets (performance too), and the
report split by day (``--time-column ts --every 1d``). Each case runs ``--repeat`` times,
interleaved; the median is shown with its ratio to the floor.

    .venv/bin/python bench/bench_report.py [--rows 500000] [--repeat 3]

Prints a table and writes JSON (bench/results/report.json).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from click.testing import CliRunner

from modeltel.cli import main

ROOT = Path(__file__).resolve().parents[1]
CHUNK = 100_000


def make(rows: int, rng: np.random.Generator, shift: float) -> pd.DataFrame:
    data = {f"x{i}": rng.normal(shift if i < 2 else 0.0, 1.0, rows) for i in range(8)}
    data["city"] = rng.choice(["a", "b", "c", "d", "e"], rows)
    data["plan"] = rng.choice(["free", "pro", "team"], rows, p=[0.6, 0.3, 0.1])
    frame = pd.DataFrame(data)
    frame["score"] = 1 / (1 + np.exp(-frame.x0))
    frame["label"] = (frame.x0 + rng.normal(0, 1, rows) > 0).astype(int)
    frame["ts"] = pd.Timestamp("2026-01-01") + pd.to_timedelta(np.arange(rows) * (30 * 86400 / rows), unit="s")
    return frame


def run(args: list[str]) -> float:
    start = time.perf_counter()
    r = CliRunner().invoke(main, args)
    elapsed = time.perf_counter() - start
    if r.exit_code not in (0, 1):
        raise RuntimeError(r.output)
    return elapsed


def main_() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=500_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "report.json"))
    opts = ap.parse_args()
    rng = np.random.default_rng(0)
    tmp = Path(tempfile.mkdtemp(prefix="modeltel-bench-report-"))
    train, prod = tmp / "train.csv", tmp / "prod.csv"
    make(100_000, rng, 0.0).to_csv(train, index=False)
    frame = make(opts.rows, rng, 0.3)
    frame = frame.astype({"x5": object})
    frame.loc[frame.sample(frac=0.01, random_state=1).index, "x5"] = "n.a."  # 1% text in a numeric column
    frame.to_csv(prod, index=False)
    size_mb = prod.stat().st_size / 1e6
    b = tmp / "b.json"
    run(["baseline", "create", str(train), "--model", "m", "--version", "1", "--prediction-col", "score",
         "--target-col", "label", "--exclude", "ts", "-o", str(b)])
    base = ["drift", "report", "--baseline", str(b), "--data", str(prod), "--chunk-size", str(CHUNK), "-o", str(tmp / "r.html")]

    def read_floor() -> float:
        start = time.perf_counter()
        with pd.read_csv(prod, chunksize=CHUNK) as reader:
            for _ in reader:
                pass
        return time.perf_counter() - start

    cases = {
        "pandas.read_csv, chunks of 100k (the floor)": read_floor,
        "drift report": lambda: run(base),
        "drift report + predictions and targets": lambda: run([*base, "--prediction-col", "score", "--target-col", "label"]),
        "drift report --time-column ts --every 1d (30 periods)": lambda: run([*base, "--time-column", "ts", "--every", "1d"]),
    }
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(opts.repeat):
        for name, fn in cases.items():
            times[name].append(fn())
    floor = statistics.median(times[next(iter(cases))])
    print(f"{opts.rows:,} rows x 14 columns, {size_mb:.0f} MB CSV; median of {opts.repeat} interleaved runs")
    print(f"{'case':58s} {'seconds':>8s} {'rows/s':>10s} {'x floor':>8s}")
    results = []
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"{name:58s} {med:8.2f} {opts.rows / med:10,.0f} {med / floor:8.2f}")
        results.append({"case": name, "seconds": med, "runs": ts, "rows_per_s": opts.rows / med, "x_floor": med / floor})
    out = Path(opts.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"rows": opts.rows, "csv_mb": size_mb, "results": results}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main_())
