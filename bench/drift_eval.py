"""Drift verdicts measured: false alarms and power, this project's calibrated and fixed modes vs Evidently.

    .venv/bin/python bench/drift_eval.py [--trials 40] [--evidently-trials 3] [--no-evidently] [--quick] [--json PATH]

About 3 minutes for ours on an idle 2-core machine; Evidently adds ~1.8 s per window it scores
(363 windows at the default 3 per cell: ~11 minutes; the figures in docs/drift-math.md used 10).

One run scores the same windows three ways: modeltel's default ``calibrated`` mode, its
``fixed`` mode (verdicts forced from 1 row: ``min_samples=1``, so small windows get a verdict
too; by default fixed mode would say ``insufficient_data`` below 500 rows) and Evidently's
``DataDriftPreset`` with its defaults (in its own virtualenv, _build/bench-venv, from
bench/requirements-drift.txt; Evidently scores the first ``--evidently-trials`` windows of each
cell, the same windows and references ours scored).

1. No drift: reference and window drawn independently from one population, a new reference
   every trial (the baseline's own noise counts), at baselines of 100 / 1,000 / 5,000 rows and
   windows of 50 ... 20,000 rows. Populations: a synthetic mix of shapes (8 numeric, 2
   categorical), and bootstrap samples of the UCI bike-sharing data and of scikit-learn's bundled
   wine, breast-cancer and diabetes sets, and high-cardinality categoricals (10,000 / 1,000 /
   200 labels: their rare labels in the hashed tail buckets). Per-feature rate = flagged features / features;
   any-feature rate = windows with at least one feature flagged. Targets (calibrated): <= 1% and
   <= 5%.
2. Power: a 5,000-row synthetic baseline, 1,000-row windows (new category: 500 ... 20,000), one
   change each: mean shift 0.1/0.2/0.5 sigma, variance x1.5, category share +-5/10 points, a new
   category on 1% of rows, nulls 0 -> 5%, correlation 0 -> 0.8 with unchanged margins (500 and
   1,000 rows), a move onto 100 rare labels of a 10k-label feature, and a move of the rare labels'
   rows onto 100 of them with the top-32 labels' shares kept (seen only through the hashed tail
   buckets). Power = windows where the changed feature is flagged (the correlation change: a or b,
   or the multivariate verdict).

Baselines have multivariate projections (the default; ``--no-projections`` turns them off): the
any-feature false-alarm rate counts a multivariate verdict of drift as a false alarm of the model.
3. Detection delay: streams of 3,000 rows then 3,000 changed rows, a 1,000-row window sliding by
   100 rows (ours only): rows after the change until the changed feature is first flagged.

Prints every cell against its target and writes _build/bench/drift_eval.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from modeltel._baseline import Baseline, ProductionHistograms  # noqa: E402
from modeltel._drift import DriftConfig, evaluate  # noqa: E402

OUT = ROOT / "_build" / "bench"
BENCH_VENV = ROOT / "_build" / "bench-venv"
BIKES = ROOT.parent / "shared" / "data" / "bike-sharing-hour.csv"
if not BIKES.exists():
    BIKES = Path("/work/shared/data/bike-sharing-hour.csv")
BIKE_FEATURES = ["season", "hr", "holiday", "weekday", "workingday", "weathersit", "temp", "atemp", "hum", "windspeed"]
WINDOWS = (50, 100, 200, 500, 1000, 5000, 20000)
BASELINES = (100, 1000, 5000)
MODES = {"calibrated": DriftConfig(), "fixed": DriftConfig(mode="fixed", min_samples=1)}
#: Baselines with multivariate projections (docs/drift-math.md section 8); --no-projections turns them off.
PROJECTIONS = True
#: Hashed tail buckets per categorical feature beyond its top labels; --tail-buckets 0: one __other__ cell.
TAIL_BUCKETS = 16


# --------------------------------------------------------------------------- populations


def synthetic(rng: np.random.Generator, n: int) -> pd.DataFrame:
    """A mix of shapes: symmetric, skewed, heavy-tailed, bounded, bimodal, tied, discrete, categorical."""
    bimodal = np.where(rng.random(n) < 0.4, rng.normal(-2, 0.5, n), rng.normal(1.5, 1.0, n))
    return pd.DataFrame(
        {
            "normal": rng.normal(10, 2, n),
            "lognormal": rng.lognormal(0, 0.8, n),
            "student_t3": rng.standard_t(3, n),
            "uniform": rng.uniform(0, 1, n),
            "bimodal": bimodal,
            "exponential": rng.exponential(1.0, n),
            "zero_inflated": np.where(rng.random(n) < 0.3, 0.0, rng.gamma(2.0, 1.0, n)),
            "poisson": rng.poisson(3, n).astype(float),
            "color": rng.choice(["red", "green", "blue", "black", "white"], n, p=[0.4, 0.25, 0.2, 0.1, 0.05]),
            "segment": rng.choice([f"s{i}" for i in range(12)], n, p=np.arange(12, 0, -1) / 78),
        }
    )


def high_cardinality(rng: np.random.Generator, n: int) -> pd.DataFrame:
    """Categorical features with far more labels than the 32 kept in clear (the rest in the
    hashed tail buckets): Zipf over 10,000 labels, uniform over 1,000, Zipf over 200, and two
    numeric features."""
    return pd.DataFrame(
        {
            "zipf_10k": rng.choice(LABELS, n, p=LABEL_P),
            "uniform_1k": rng.choice(LABELS[:1000], n),
            "zipf_200": rng.choice(LABELS[:200], n, p=ZIPF_200),
            "normal": rng.normal(0, 1, n),
            "lognormal": rng.lognormal(0, 0.8, n),
        }
    )


def bootstrap(frame: pd.DataFrame) -> Callable[[np.random.Generator, int], pd.DataFrame]:
    values = {c: frame[c].to_numpy() for c in frame.columns}

    def draw(rng: np.random.Generator, n: int) -> pd.DataFrame:
        idx = rng.integers(0, len(frame), n)
        return pd.DataFrame({c: v[idx] for c, v in values.items()})

    return draw


def populations() -> dict[str, tuple[Callable[[np.random.Generator, int], pd.DataFrame], list[str]]]:
    from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine

    bikes = pd.read_csv(BIKES)[BIKE_FEATURES]
    bikes["weathersit"] = bikes["weathersit"].astype(str)
    diabetes = load_diabetes(as_frame=True, scaled=False).data
    diabetes["sex"] = diabetes["sex"].astype(int).astype(str)
    return {
        "synthetic": (synthetic, ["color", "segment"]),
        "bike": (bootstrap(bikes), ["weathersit"]),
        "wine": (bootstrap(load_wine(as_frame=True).data), []),
        "breast_cancer": (bootstrap(load_breast_cancer(as_frame=True).data), []),
        "diabetes": (bootstrap(diabetes), ["sex"]),
        "high_cardinality": (high_cardinality, ["zipf_10k", "uniform_1k", "zipf_200"]),
    }


# Power: a frame whose columns each carry one kind of change.
LABELS = np.array([f"l{i}" for i in range(10_000)])
LABEL_P = 1.0 / np.arange(1, 10_001)
LABEL_P /= LABEL_P.sum()
ZIPF_200 = 1.0 / np.arange(1, 201)
ZIPF_200 /= ZIPF_200.sum()
COLORS = ["red", "green", "blue", "black", "white"]
COLOR_P = np.array([0.4, 0.25, 0.2, 0.1, 0.05])


def power_frame(rng: np.random.Generator, n: int, change: tuple[str, float] | None = None) -> pd.DataFrame:
    kind, size = change or ("none", 0.0)
    a = rng.normal(0, 1, n)
    noise = rng.normal(0, 1, n)
    b = size * a + np.sqrt(1 - size * size) * noise if kind == "correlation" else noise
    x = rng.normal(0, 1, n)
    if kind == "mean":
        x = x + size
    elif kind == "variance":
        x = x * np.sqrt(size)
    elif kind == "nulls":
        x[rng.random(n) < size] = np.nan
    p = COLOR_P.copy()
    if kind == "share":
        p[0] += size
        p[1:] *= (1 - p[0]) / p[1:].sum()
    color = rng.choice(COLORS, n, p=p).astype(object)
    if kind == "new_category":
        color[rng.random(n) < size] = "purple"
    labels = rng.choice(LABELS[5000:5100], n) if kind == "rare_labels" else rng.choice(LABELS, n, p=LABEL_P)
    if kind == "tail_move":  # the rows beyond the 32 most frequent labels move onto 100 rare ones
        rare = ~np.isin(labels, LABELS[:32])
        labels[rare] = rng.choice(LABELS[5000:5100], int(rare.sum()))
    return pd.DataFrame(
        {
            "x": x, "a": a, "b": b,
            "lognormal": rng.lognormal(0, 0.8, n), "uniform": rng.uniform(0, 1, n),
            "poisson": rng.poisson(3, n).astype(float), "exponential": rng.exponential(1.0, n),
            "color": color, "labels": labels,
            "segment": rng.choice([f"s{i}" for i in range(12)], n, p=np.arange(12, 0, -1) / 78),
        }
    )


POWER_CATS = ["color", "labels", "segment"]
POWER = [  # (label, change, changed features, windows, target power at 1,000 rows or None)
    ("mean +0.1 sigma", ("mean", 0.1), ["x"], (1000, 20000), None),
    ("mean +0.2 sigma", ("mean", 0.2), ["x"], (1000,), 0.95),
    ("mean +0.5 sigma", ("mean", 0.5), ["x"], (1000,), None),
    ("variance x1.5", ("variance", 1.5), ["x"], (1000,), 0.95),
    ("share +5 points", ("share", 0.05), ["color"], (1000,), None),
    ("share -5 points", ("share", -0.05), ["color"], (1000,), None),
    ("share +10 points", ("share", 0.10), ["color"], (1000,), 0.95),
    ("share -10 points", ("share", -0.10), ["color"], (1000,), 0.95),
    ("new category at 1%", ("new_category", 0.01), ["color"], (500, 1000, 5000, 20000), 0.95),
    ("nulls 0 -> 5%", ("nulls", 0.05), ["x"], (1000,), 0.95),
    ("correlation 0 -> 0.8", ("correlation", 0.8), ["a", "b"], (500, 1000), 0.95),
    ("onto 100 rare labels of 10k", ("rare_labels", 0.0), ["labels"], (1000,), None),
    # the rare labels' rows (58%) move onto 100 of them; the 32 top labels keep their shares:
    # one __other__ cell cannot see it, the hashed tail buckets can
    ("rare rows onto 100 rare labels (top-32 shares kept)", ("tail_move", 0.0), ["labels"], (200, 500, 1000, 5000), None),
]


# --------------------------------------------------------------------------- scoring


def ours(ref: pd.DataFrame, window: pd.DataFrame, cats: list[str]) -> tuple[dict[str, list[bool]], dict[str, bool]]:
    """Per mode, one flag per column of ``window`` (column order), and the multivariate verdict
    (drift when a projection drifts; False without projections)."""
    baseline = Baseline.from_data(ref, model="m", version="1", categorical=cats, projections=PROJECTIONS,
                                  tail_buckets=TAIL_BUCKETS)
    prod = ProductionHistograms(baseline)
    prod.add(window)
    reference, production = baseline.histograms(), prod.histograms()
    out, mv = {}, {}
    for mode, cfg in MODES.items():
        result = evaluate(reference, production, cfg)
        flagged = {fd.name for fd in result.features if fd.verdict == "drift"}
        out[mode] = [c in flagged for c in window.columns]
        mv[mode] = result.multivariate == "drift"
    return out, mv


class Evidently:
    """Collects (reference, window) pairs per cell and scores them in one runner call."""

    def __init__(self, enabled: bool, trials: int) -> None:
        self.enabled, self.trials = enabled, trials
        self.jobs: list[dict] = []
        self.pairs: dict[int, tuple[list[pd.DataFrame], list[pd.DataFrame]]] = {}
        self.reason = "" if enabled else "--no-evidently"

    def add(self, key: int, trial: int, ref: pd.DataFrame, window: pd.DataFrame, cats: list[str]) -> None:
        if not self.enabled or trial >= self.trials:
            return
        refs, windows = self.pairs.setdefault(key, ([], []))
        refs.append(ref.assign(_trial=trial))
        windows.append(window.assign(_trial=trial))
        if len(refs) == 1:
            self.jobs.append({"key": key, "columns": list(window.columns), "categorical": cats})

    def run(self) -> dict[int, dict]:
        if not self.enabled or not self.jobs:
            return {}
        for job in self.jobs:
            refs, windows = self.pairs[job["key"]]
            job["refs"] = str(OUT / f"ev_refs_{job['key']}.parquet")
            job["windows"] = str(OUT / f"ev_windows_{job['key']}.parquet")
            pd.concat(refs).to_parquet(job["refs"])
            pd.concat(windows).to_parquet(job["windows"])
        jobs_path, res_path = OUT / "evidently_jobs.json", OUT / "evidently_results.json"
        jobs_path.write_text(json.dumps(self.jobs))
        t0 = time.perf_counter()
        proc = subprocess.run(
            [str(BENCH_VENV / "bin" / "python"), str(ROOT / "bench" / "drift_evidently_runner.py"), str(jobs_path), str(res_path)],
            capture_output=True, text=True, timeout=7200,
        )
        if proc.returncode != 0:
            self.reason = "runner failed: " + proc.stderr.strip().splitlines()[-1][:300]
            print("Evidently runner failed:\n" + proc.stderr[-3000:], file=sys.stderr)
            return {}
        print(f"  Evidently: {time.perf_counter() - t0:.0f} s for {sum(len(p[0]) for p in self.pairs.values())} windows", flush=True)
        return {item["key"]: item for item in json.loads(res_path.read_text())}


def rates(flags: list[list[bool]], multivariate: list[bool] | None = None) -> tuple[float, float]:
    """Per-feature rate over the columns; any-feature rate over the columns and, when given, the
    multivariate verdict (a projection flagged is a false alarm of the model too)."""
    arr = np.asarray(flags, dtype=bool)
    any_flag = arr.any(axis=1)
    if multivariate is not None:
        any_flag = any_flag | np.asarray(multivariate, dtype=bool)
    return float(arr.mean()), float(any_flag.mean())


# --------------------------------------------------------------------------- the three parts


def false_alarms(rng: np.random.Generator, trials: int, ev: Evidently, pops: dict, windows, baselines) -> list[dict]:
    rows = []
    for pop, (draw, cats) in pops.items():
        for n in baselines:
            for m in windows:
                key = len(rows)
                flags = {mode: [] for mode in MODES}
                mvs = {mode: [] for mode in MODES}
                t0 = time.perf_counter()
                for t in range(trials):
                    ref, window = draw(rng, n), draw(rng, m)
                    f_all, mv_all = ours(ref, window, cats)
                    for mode, f in f_all.items():
                        flags[mode].append(f)
                        mvs[mode].append(mv_all[mode])
                    ev.add(key, t, ref, window, cats)
                row = {"part": "false_alarms", "population": pop, "baseline": n, "window": m, "trials": trials,
                       "features": len(flags["calibrated"][0]), "seconds": time.perf_counter() - t0}
                for mode in MODES:
                    row[f"{mode}_feature"], row[f"{mode}_any"] = rates(flags[mode], mvs[mode])
                    row[f"{mode}_multivariate"] = float(np.mean(mvs[mode]))
                rows.append(row)
                print(f"  no drift {pop:<13} N={n:<5} M={m:<6} calibrated {row['calibrated_feature']:.4f}/"
                      f"{row['calibrated_any']:.3f} (multivariate {row['calibrated_multivariate']:.3f})  "
                      f"fixed {row['fixed_feature']:.4f}/{row['fixed_any']:.3f}", flush=True)
    return rows


def power(rng: np.random.Generator, trials: int, ev: Evidently, offset: int) -> list[dict]:
    rows = []
    for label, change, changed, windows, target in POWER:
        for m in windows:
            key = offset + len(rows)
            hits = {mode: [] for mode in MODES}
            others = {mode: [] for mode in MODES}
            for t in range(trials):
                ref, window = power_frame(rng, 5000), power_frame(rng, m, change)
                cols = list(window.columns)
                f_all, mv_all = ours(ref, window, POWER_CATS)
                for mode, f in f_all.items():
                    # A correlation change is seen by the multivariate verdict (the projections).
                    hit = any(f[cols.index(c)] for c in changed) or (change[0] == "correlation" and mv_all[mode])
                    hits[mode].append(hit)
                    others[mode].append(any(x for c, x in zip(cols, f) if c not in changed))
                ev.add(key, t, ref, window, POWER_CATS)
            row = {"part": "power", "change": label, "window": m, "baseline": 5000, "trials": trials,
                   "changed": changed, "target": target if m >= 500 else None}
            for mode in MODES:
                row[f"{mode}_power"] = float(np.mean(hits[mode]))
                row[f"{mode}_other_flagged"] = float(np.mean(others[mode]))
            rows.append(row)
            print(f"  power {label:<28} M={m:<6} calibrated {row['calibrated_power']:.3f}  fixed {row['fixed_power']:.3f}", flush=True)
    return rows


def delays(rng: np.random.Generator, streams: int) -> list[dict]:
    rows = []
    for label, change, changed in (("mean +0.5 sigma", ("mean", 0.5), ["x"]), ("mean +0.2 sigma", ("mean", 0.2), ["x"]),
                                   ("nulls 0 -> 5%", ("nulls", 0.05), ["x"]), ("new category at 1%", ("new_category", 0.01), ["color"])):
        out = {mode: [] for mode in MODES}
        early = {mode: 0 for mode in MODES}
        checks = 0
        for _ in range(streams):
            ref = power_frame(rng, 5000)
            stream = pd.concat([power_frame(rng, 3000), power_frame(rng, 3000, change)], ignore_index=True)
            baseline = Baseline.from_data(ref, model="m", version="1", categorical=POWER_CATS, projections=PROJECTIONS,
                                          tail_buckets=TAIL_BUCKETS)
            first = {mode: None for mode in MODES}
            for end in range(1000, 6001, 100):
                prod = ProductionHistograms(baseline)
                prod.add(stream.iloc[end - 1000:end])
                for mode, cfg in MODES.items():
                    flagged = {fd.name for fd in evaluate(baseline.histograms(), prod.histograms(), cfg).features
                               if fd.drifted and fd.role != "projection"}
                    if end <= 3000:
                        early[mode] += bool(flagged & set(changed))
                    elif first[mode] is None and flagged & set(changed):
                        first[mode] = end - 3000
                checks += end <= 3000
            for mode in MODES:
                out[mode].append(first[mode] if first[mode] is not None else float("inf"))
        row = {"part": "delay", "change": label, "streams": streams, "window": 1000, "step": 100}
        for mode in MODES:
            d = np.asarray(out[mode], dtype=float)
            row[f"{mode}_median_delay"] = float(np.median(d))
            row[f"{mode}_detected"] = float(np.isfinite(d).mean())
            row[f"{mode}_prechange_flag_rate"] = early[mode] / checks if checks else 0.0
        rows.append(row)
        print(f"  delay {label:<22} calibrated median {row['calibrated_median_delay']:.0f} rows, fixed {row['fixed_median_delay']:.0f}", flush=True)
    return rows


# --------------------------------------------------------------------------- main


def ensure_evidently() -> tuple[bool, str]:
    py = BENCH_VENV / "bin" / "python"
    if not py.exists():
        subprocess.run([sys.executable, "-m", "venv", str(BENCH_VENV)], check=True)
    if subprocess.run([str(py), "-c", "import evidently"], capture_output=True).returncode == 0:
        return True, ""
    print("installing Evidently into _build/bench-venv ...", flush=True)
    inst = subprocess.run(
        [str(py), "-m", "pip", "install", "-q", "-r", str(ROOT / "bench" / "requirements-drift.txt")],
        capture_output=True, text=True,
    )
    if inst.returncode != 0:
        last = (inst.stderr.strip().splitlines() or ["pip failed"])[-1]
        print("Evidently would not install:\n" + inst.stderr[-2000:], file=sys.stderr)
        return False, f"pip install -r bench/requirements-drift.txt failed: {last}"
    return True, ""


def attach_evidently(rows: list[dict], results: dict[int, dict], offset: int = 0) -> None:
    for i, row in enumerate(rows):
        item = results.get(offset + i)
        if not item:
            continue
        flags = item["flags"]
        row["evidently_trials"] = len(flags)
        row["evidently_methods"] = item["methods"]
        row["evidently_version"] = item["version"]
        row["evidently_seconds_per_window"] = item["seconds_per_window"]
        if row["part"] == "false_alarms":
            row["evidently_feature"], row["evidently_any"] = rates(flags)
        else:
            cols = list(power_frame(np.random.default_rng(0), 1).columns)
            row["evidently_power"] = float(np.mean([any(f[cols.index(c)] for c in row["changed"]) for f in flags]))


def fmt(v: float | None, digits: int = 3) -> str:
    return "n/a" if v is None else f"{v:.{digits}f}"


def main() -> None:
    global PROJECTIONS, OUT, TAIL_BUCKETS
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=40, help="windows per no-drift and power cell (ours)")
    ap.add_argument("--evidently-trials", type=int, default=3, help="of those, windows Evidently scores too (1.8 s each here)")
    ap.add_argument("--streams", type=int, default=10, help="streams per detection-delay case")
    ap.add_argument("--no-evidently", action="store_true")
    ap.add_argument("--quick", action="store_true", help="synthetic population only, fewer cells (a smoke run)")
    ap.add_argument("--seed", type=int, default=20261201)
    ap.add_argument("--no-projections", action="store_true", help="baselines without multivariate projections")
    ap.add_argument("--only", choices=("false_alarms", "power", "delay"), action="append",
                    help="run only these parts (repeat; default all)")
    ap.add_argument("--tail-buckets", type=int, default=16, help="hashed tail buckets per categorical feature (0: none)")
    ap.add_argument("--population", action="append", help="no-drift part: only these populations (repeat)")
    ap.add_argument("--change", action="append", help="power part: only the changes whose label contains this (repeat)")
    ap.add_argument("--json", type=Path, default=OUT / "drift_eval.json", help="where to write the figures")
    args = ap.parse_args()
    PROJECTIONS = not args.no_projections
    TAIL_BUCKETS = args.tail_buckets
    OUT = args.json.parent  # Evidently's job files beside the figures: runs with their own --json do not clash
    OUT.mkdir(parents=True, exist_ok=True)
    parts = set(args.only or ("false_alarms", "power", "delay"))
    rng = np.random.default_rng(args.seed)
    OUT.mkdir(parents=True, exist_ok=True)
    enabled, reason = (False, "--no-evidently") if args.no_evidently else ensure_evidently()
    ev = Evidently(enabled, args.evidently_trials)
    ev.reason = reason or ev.reason
    pops = populations()
    windows, baselines = WINDOWS, BASELINES
    if args.quick:
        pops = {"synthetic": pops["synthetic"]}
        windows, baselines = (50, 1000, 20000), (100, 5000)
    if args.population:
        pops = {k: v for k, v in pops.items() if k in args.population}
    if args.change:
        POWER[:] = [p for p in POWER if any(c in p[0] for c in args.change)]
    t0 = time.perf_counter()
    print("1. no drift", flush=True)
    fa = false_alarms(rng, args.trials, ev, pops, windows, baselines) if "false_alarms" in parts else []
    print("2. power", flush=True)
    pw = power(rng, args.trials, ev, offset=len(fa)) if "power" in parts else []
    print("3. detection delay", flush=True)
    dl = delays(rng, args.streams) if not args.quick and "delay" in parts else []
    results = ev.run()
    attach_evidently(fa, results)
    attach_evidently(pw, results, offset=len(fa))
    elapsed = time.perf_counter() - t0
    args.json.write_text(json.dumps(
        {"seed": args.seed, "trials": args.trials, "projections": PROJECTIONS, "evidently_trials": args.evidently_trials if enabled else 0,
         "evidently": ev.reason or "ok", "seconds": elapsed, "false_alarms": fa, "power": pw, "delay": dl}, indent=1))

    print(f"\nEvidently: {'DataDriftPreset defaults, ' + str(args.evidently_trials) + ' windows per cell' if enabled and not ev.reason else 'not run (' + ev.reason + ')'}")
    print(f"\n### No drift: per-feature / any-feature false-alarm rate ({args.trials} windows per cell; targets for calibrated <= 0.010 / <= 0.050)\n")
    print(f"(projections {'on' if PROJECTIONS else 'off'}: any-feature counts a multivariate verdict of drift as a false alarm too)\n")
    print("| population | baseline | window | calibrated | calibrated multivariate | fixed (forced) | Evidently | calibrated target |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for r in fa:
        ok = r["calibrated_feature"] <= 0.01 and r["calibrated_any"] <= 0.05
        print(f"| {r['population']} | {r['baseline']} | {r['window']} | {fmt(r['calibrated_feature'], 4)} / {fmt(r['calibrated_any'])} | "
              f"{fmt(r['calibrated_multivariate'])} | "
              f"{fmt(r['fixed_feature'], 4)} / {fmt(r['fixed_any'])} | "
              f"{fmt(r.get('evidently_feature'), 4)} / {fmt(r.get('evidently_any'))} | {'met' if ok else 'MISSED'} |")
    print(f"\n### Power: share of windows flagging the changed feature (baseline 5,000 rows; {args.trials} windows per cell)\n")
    print("| change | window | calibrated | fixed (forced) | Evidently | calibrated: other features flagged | target |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for r in pw:
        tgt = r["target"]
        verdict = "" if tgt is None else ("met" if r["calibrated_power"] >= tgt else "MISSED") + f" (>= {tgt:.2f})"
        print(f"| {r['change']} | {r['window']} | {fmt(r['calibrated_power'])} | {fmt(r['fixed_power'])} | "
              f"{fmt(r.get('evidently_power'))} | {fmt(r['calibrated_other_flagged'])} | {verdict} |")
    if dl:
        print(f"\n### Detection delay: rows after an abrupt change until flagged (1,000-row window sliding by 100; {args.streams} streams)\n")
        print("| change | calibrated median (detected) | fixed median (detected) | calibrated flags before the change | target |")
        print("|---|---:|---:|---:|---|")
        for r in dl:
            ok = r["calibrated_median_delay"] < 1000
            print(f"| {r['change']} | {r['calibrated_median_delay']:.0f} ({r['calibrated_detected']:.2f}) | "
                  f"{r['fixed_median_delay']:.0f} ({r['fixed_detected']:.2f}) | {r['calibrated_prechange_flag_rate']:.3f} | "
                  f"{'met' if ok else 'MISSED'} (< 1,000 rows) |")
    print(f"\n{elapsed:.0f} s; wrote {args.json}")


if __name__ == "__main__":
    main()
