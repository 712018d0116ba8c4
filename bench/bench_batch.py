"""Batch summarisation throughput, and the single-row summary + sketch cost.

Measured in the same run, on the same data:
  np.histogram/column   one np.histogram per column of the 100,000 x 20 float64 array (the peer:
                        a histogram per feature is what a sketch of each feature has to do)
  modeltel numpy        summarize_input(X) + its statistics + SketchStore.record (exponential histograms)
  modeltel pandas       the same from a pandas DataFrame of the same values
  modeltel baseline     the same with a baseline set (explicit buckets on its edges)
  real baseline +/- projections   Baseline.from_data on 20,000 of the rows, with its 32
                        multivariate projections (8 principal components, 24 pairwise axes:
                        every row projected and binned, docs/drift-math.md section 8) and
                        without (projections=False): the projections' cost per row
  whylogs               why.log(df) on the same frame (in its own virtualenv, _build/whylogs-venv,
                        so its pins never touch ours; skipped with the reason if it is not there)
  1M row-major          1,000,000 x 20 row-major (C-order) array: modeltel against the per-column
                        np.histogram peer on the same array (target <= 2x)
and for one 20-feature row: summary + sketch (dict, numpy row and one-row pandas DataFrame, the
usual FastAPI pattern; target: the DataFrame within 3x of the dict) next to one bare
OpenTelemetry SDK span (BatchSpanProcessor, discarding exporter) measured in the same run.

Prints a table and writes JSON (bench/results/batch.json).

    .venv/bin/python bench/bench_batch.py [--rows 100000] [--features 20] [--repeat 7]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from modeltel._baseline import Baseline
from modeltel._config import Config
from modeltel._sketch import SketchStore
from modeltel._summary import summarize_input

ROOT = Path(__file__).resolve().parent.parent
WHYLOGS_PY = ROOT / "_build" / "whylogs-venv" / "bin" / "python"


def timings(fn: Callable[[], Any], repeat: int) -> dict[str, float]:
    fn()  # warm-up
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return {"min_s": min(samples), "median_s": statistics.median(samples)}


def per_call_us(fn: Callable[[], Any], calls: int, repeat: int) -> dict[str, float]:
    for _ in range(min(2000, calls)):
        fn()
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        samples.append((time.perf_counter() - t0) / calls * 1e6)
    return {"min_us": min(samples), "median_us": statistics.median(samples)}


class Discard(SpanExporter):
    def export(self, spans: Sequence[Any]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


@dataclass
class _FB:
    name: str
    kind: str
    edges: list[float]
    counts: list[int]
    categories: list[str] = field(default_factory=list)
    min: float = 0.0
    max: float = 0.0
    mean: float = 0.0
    std: float = 0.0
    count: int = 0


@dataclass
class _Baseline:
    id: str
    model: str
    version: str
    features: dict[str, _FB]
    predictions: dict[str, _FB] = field(default_factory=dict)


def _baseline(x: np.ndarray) -> _Baseline:
    feats = {}
    for j in range(x.shape[1]):
        edges = np.quantile(x[:, j], np.linspace(0, 1, 11)[1:-1]).tolist()
        counts = np.bincount(np.searchsorted(edges, x[:, j], side="left"), minlength=len(edges) + 1).tolist()
        feats[f"f{j}"] = _FB(f"f{j}", "numeric", edges, counts, count=x.shape[0])
    return _Baseline("bench", "bench", "1", feats)


WHYLOGS_SCRIPT = textwrap.dedent(
    """
    import json, statistics, sys, time, warnings
    warnings.filterwarnings("ignore")
    import numpy as np, pandas as pd
    import whylogs as why
    rows, features, repeat = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    x = np.random.default_rng(0).normal(size=(rows, features))
    df = pd.DataFrame(x, columns=[f"f{j}" for j in range(features)])
    why.log(df.head(100))  # warm-up (imports, first-use set-up)
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter(); why.log(df); samples.append(time.perf_counter() - t0)
    row = {f"f{j}": float(x[0, j]) for j in range(features)}
    from whylogs.core import DatasetProfile
    prof = DatasetProfile()
    for _ in range(200): prof.track(row=row)
    t0 = time.perf_counter()
    n = 2000
    for _ in range(n): prof.track(row=row)
    row_us = (time.perf_counter() - t0) / n * 1e6
    import whylogs
    print(json.dumps({"min_s": min(samples), "median_s": statistics.median(samples),
                      "track_row_us": row_us, "version": whylogs.__version__}))
    """
)


def run_whylogs(rows: int, features: int, repeat: int) -> dict[str, Any]:
    if not WHYLOGS_PY.exists():
        return {"skipped": f"{WHYLOGS_PY} not found (make bench-whylogs builds it)"}
    out = subprocess.run(
        [str(WHYLOGS_PY), "-c", WHYLOGS_SCRIPT, str(rows), str(features), str(min(repeat, 3))],
        capture_output=True, text=True, timeout=900,
    )
    if out.returncode != 0:
        return {"skipped": "whylogs failed: " + out.stderr.strip().splitlines()[-1] if out.stderr.strip() else "no output"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--features", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--calls", type=int, default=20_000)
    ap.add_argument("--no-whylogs", action="store_true")
    ap.add_argument("--big-rows", type=int, default=1_000_000, help="rows of the row-major case (0: skip)")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "batch.json"))
    args = ap.parse_args()

    cfg = Config()
    x = np.random.default_rng(0).normal(size=(args.rows, args.features))
    df = pd.DataFrame(x, columns=[f"f{j}" for j in range(args.features)])
    values = x.size

    def modeltel_numpy(store: SketchStore = SketchStore()) -> None:
        s = summarize_input(x, config=cfg)
        s.stats()
        store.record("bench", "1", "input", s)

    def summary_only() -> None:
        summarize_input(x, config=cfg).stats()

    def modeltel_pandas(store: SketchStore = SketchStore()) -> None:
        s = summarize_input(df, config=cfg)
        store.record("bench", "1", "input", s)

    with_baseline = SketchStore()
    with_baseline.set_baseline("bench", "1", _baseline(x))

    def modeltel_baseline() -> None:
        store = with_baseline
        store.record("bench", "1", "input", summarize_input(x, config=cfg))

    def per_column(a: np.ndarray) -> None:
        for j in range(a.shape[1]):
            np.histogram(a[:, j])

    train = pd.DataFrame(x[:20_000], columns=[f"f{j}" for j in range(args.features)])
    real = {flag: Baseline.from_data(train, model="bench", version="1", projections=flag) for flag in (False, True)}
    real_stores = {}
    for flag, b in real.items():
        real_stores[flag] = SketchStore()
        real_stores[flag].set_baseline("bench", "1", b)
    projections = len(real[True].projection.names) if real[True].projection is not None else 0

    def real_baseline(flag: bool) -> Callable[[], None]:
        def run() -> None:
            real_stores[flag].record("bench", "1", "input", summarize_input(x, config=cfg))
            real_stores[flag].collect()  # keep the store's deltas from piling up
        return run

    batch: dict[str, dict[str, float]] = {}
    # interleave the peer and ours so that machine load hits both alike
    for _ in range(2):
        for name, fn in (
            ("np.histogram per column", lambda: per_column(x)),
            ("modeltel numpy (summary + sketch)", modeltel_numpy),
            ("modeltel summary only", summary_only),
            ("modeltel pandas (summary + sketch)", modeltel_pandas),
            ("modeltel with baseline (explicit buckets)", modeltel_baseline),
            ("real baseline, no projections", real_baseline(False)),
            (f"real baseline + {projections} projections", real_baseline(True)),
        ):
            t = timings(fn, args.repeat)
            prev = batch.get(name)
            batch[name] = t if prev is None else {k: min(prev[k], t[k]) for k in t}

    big: dict[str, dict[str, float]] = {}
    if args.big_rows:
        xb = np.random.default_rng(1).normal(size=(args.big_rows, args.features))  # C order: row-major
        big_store = SketchStore()

        def big_modeltel() -> None:
            big_store.record("bench", "1", "input", summarize_input(xb, config=cfg))

        for _ in range(2):
            for name, fn in (("np.histogram per column", lambda: per_column(xb)), ("modeltel summary + sketch", big_modeltel)):
                t = timings(fn, max(3, args.repeat // 2))
                prev = big.get(name)
                big[name] = t if prev is None else {k: min(prev[k], t[k]) for k in t}
        del xb

    whylogs = {"skipped": "--no-whylogs"} if args.no_whylogs else run_whylogs(args.rows, args.features, args.repeat)

    # single row: summary + sketch for one 20-feature record, next to one bare SDK span
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(Discard()))
    tracer = provider.get_tracer("bench")
    row_dict = {f"f{j}": float(x[0, j]) for j in range(args.features)}
    row_np = x[0].copy()
    row_frame = pd.DataFrame([row_dict])
    store = SketchStore()

    def bare_span() -> None:
        with tracer.start_as_current_span("predict bench"):
            pass

    def row_dict_fn() -> None:
        store.record("bench", "1", "input", summarize_input(row_dict, config=cfg))

    def row_np_fn() -> None:
        store.record("bench", "1", "input", summarize_input(row_np, config=cfg))

    def row_real(flag: bool) -> Callable[[], None]:
        def run() -> None:
            real_stores[flag].record("bench", "1", "input", summarize_input(row_dict, config=cfg))
        return run

    single = {
        "bare OTel SDK span": per_call_us(bare_span, args.calls, 5),
        "summary + sketch, dict row": per_call_us(row_dict_fn, args.calls, 5),
        "summary + sketch, numpy row": per_call_us(row_np_fn, args.calls, 5),
        "summary only, dict row": per_call_us(lambda: summarize_input(row_dict, config=cfg), args.calls, 5),
        "dict row, real baseline, no projections": per_call_us(row_real(False), args.calls, 5),
        f"dict row, real baseline + {projections} projections": per_call_us(row_real(True), args.calls, 5),
        "summary + sketch, one-row DataFrame": per_call_us(
            lambda: store.record("bench", "1", "input", summarize_input(row_frame, config=cfg)), max(2000, args.calls // 10), 5
        ),
        "pd.DataFrame([row]) itself (for scale)": per_call_us(lambda: pd.DataFrame([row_dict]), max(2000, args.calls // 10), 5),
    }
    provider.shutdown()

    peer = batch["np.histogram per column"]["median_s"]
    print(f"\nBatch: {args.rows:,} x {args.features} float64 ({values:,} values), best of 2 rounds x {args.repeat}")
    print(f"{'':44} {'median ms':>10} {'min ms':>9} {'Mvalues/s':>10} {'x peer':>15}")
    for name, t in batch.items():
        print(
            f"{name:44} {t['median_s'] * 1e3:10.1f} {t['min_s'] * 1e3:9.1f} "
            f"{values / t['median_s'] / 1e6:10.1f} {t['median_s'] / peer:15.2f}"
        )
    if "skipped" in whylogs:
        print(f"{'whylogs why.log(df)':44} skipped: {whylogs['skipped']}")
    else:
        print(
            f"{'whylogs why.log(df) ' + whylogs['version']:44} {whylogs['median_s'] * 1e3:10.1f} {whylogs['min_s'] * 1e3:9.1f} "
            f"{values / whylogs['median_s'] / 1e6:10.1f} {whylogs['median_s'] / peer:15.2f}"
        )
    print(f"\nOne {args.features}-feature row, per call")
    print(f"{'':44} {'median us':>10} {'min us':>9} {'x span':>8}")
    span_us = single["bare OTel SDK span"]["median_us"]
    for name, t in single.items():
        print(f"{name:44} {t['median_us']:10.2f} {t['min_us']:9.2f} {t['median_us'] / span_us:8.2f}")
    if "track_row_us" in whylogs:
        print(f"{'whylogs DatasetProfile.track(row=...)':44} {whylogs['track_row_us']:10.2f} {'':9} {whylogs['track_row_us'] / span_us:8.2f}")

    targets = []
    if big:
        big_peer = big["np.histogram per column"]["median_s"]
        print(f"\n{args.big_rows:,} x {args.features} row-major float64")
        for name, t in big.items():
            print(f"{name:44} {t['median_s'] * 1e3:10.1f} {t['min_s'] * 1e3:9.1f} {'':10} {t['median_s'] / big_peer:15.2f}")
        ratio = big["modeltel summary + sketch"]["median_s"] / big_peer
        targets.append(("1M rows row-major within 2x of per-column np.histogram", ratio <= 2.0, f"{ratio:.2f}x"))
    for label, base, with_proj in (
        ("batch", batch["real baseline, no projections"]["median_s"], batch[f"real baseline + {projections} projections"]["median_s"]),
    ):
        print(f"\nprojections ({projections}), {label}: +{(with_proj - base) / args.rows * 1e9:.0f} ns per row "
              f"({with_proj / base:.2f}x the real baseline without them)")
    one_base = single["dict row, real baseline, no projections"]["median_us"]
    one_proj = single[f"dict row, real baseline + {projections} projections"]["median_us"]
    print(f"projections ({projections}), single dict row: +{one_proj - one_base:.2f} us per call ({one_proj / one_base:.2f}x)")
    frame_ratio = single["summary + sketch, one-row DataFrame"]["median_us"] / single["summary + sketch, dict row"]["median_us"]
    targets.append(("one-row DataFrame within 3x of the dict path", frame_ratio <= 3.0, f"{frame_ratio:.2f}x"))
    print()
    for what, met, figure in targets:
        print(f"target: {what} -> {'met' if met else 'NOT met'} ({figure})")

    result = {
        "row_major_1m": big,
        "targets": [{"target": w, "met": m, "figure": f} for w, m, f in targets],
        "rows": args.rows,
        "features": args.features,
        "values": values,
        "batch": batch,
        "ratio_vs_per_column_np_histogram": {k: v["median_s"] / peer for k, v in batch.items()},
        "values_per_s": {k: values / v["median_s"] for k, v in batch.items()},
        "whylogs": whylogs,
        "single_row_us": single,
        "projections": projections,
        "load_average": os.getloadavg(),
        "python": sys.version.split()[0],
        "numpy": np.__version__,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
