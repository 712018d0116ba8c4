"""Drift detection measured: real-data rankings, false-alarm and detection rates, vs Evidently.

    .venv/bin/python bench/drift_eval.py [--trials 100] [--no-evidently]

Writes _build/bench/drift_eval.json and prints the tables of the closing note:

1. Real data. UCI Bike Sharing (January 2011 baseline vs later months) and scikit-learn's
   bundled diabetes data (younger half as baseline, older half as production): how our
   histogram-based ranking compares with the raw-data KS statistic (scipy, on the raw rows:
   the "really changed" reference), Spearman rank correlation and the top features.
2. No drift: production windows of 200 / 500 / 1,000 / 10,000 rows drawn from the same
   distribution as the 5,000-row baseline (synthetic mix of shapes, and bootstrap from the bike
   data): share of features flagged (false alarms) with fixed thresholds and with the
   sample-size-aware (adaptive) mode, and Evidently's default data-drift test on the same windows.
3. Mean shifts of 0.2 and 0.5 standard deviations on every continuous feature: detection rates.

Evidently is installed only into _build/bench-venv (bench/requirements-drift.txt) and run
there in a subprocess; with --no-evidently or if it will not install, its columns are empty.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from modeltel._baseline import Baseline, ProductionHistograms  # noqa: E402
from modeltel._drift import DriftConfig, evaluate  # noqa: E402

OUT = ROOT / "_build" / "bench"
BENCH_VENV = ROOT / "_build" / "bench-venv"
BIKES = ROOT.parent / "shared" / "data" / "bike-sharing-hour.csv"
SIZES = (200, 500, 1000, 10000)
REF_ROWS = 5000
BIKE_FEATURES = ["season", "hr", "holiday", "weekday", "workingday", "weathersit", "temp", "atemp", "hum", "windspeed"]


# --------------------------------------------------------------------------- helpers


def verdicts(baseline: Baseline, window: pd.DataFrame, config: DriftConfig) -> dict[str, bool]:
    prod = ProductionHistograms(baseline)
    prod.add(window)
    result = evaluate(baseline.histograms(), prod.histograms(), config)
    return {fd.name: fd.verdict == "drift" for fd in result.features}


def raw_ks(ref: pd.Series, cur: pd.Series) -> float:
    return float(stats.ks_2samp(ref.to_numpy(dtype=float), cur.to_numpy(dtype=float)).statistic)


def ranking(baseline: Baseline, window: pd.DataFrame) -> list:
    prod = ProductionHistograms(baseline)
    prod.add(window)
    return evaluate(baseline.histograms(), prod.histograms(), DriftConfig()).features


# --------------------------------------------------------------------------- 1. real data


def real_data() -> dict:
    out: dict = {"bike_sharing": [], "diabetes": None}
    df = pd.read_csv(BIKES)
    jan = df[(df.yr == 0) & (df.mnth == 1)]
    base = Baseline.from_data(jan[BIKE_FEATURES], model="bikes", version="1", categorical=["weathersit"])
    for label, yr, mnth in (("2011-02", 0, 2), ("2011-04", 0, 4), ("2011-07", 0, 7), ("2011-10", 0, 10), ("2012-01", 1, 1)):
        cur = df[(df.yr == yr) & (df.mnth == mnth)]
        feats = ranking(base, cur[BIKE_FEATURES])
        ks = {f: raw_ks(jan[f], cur[f]) for f in BIKE_FEATURES}
        ours = [fd.name for fd in feats]
        truth = sorted(BIKE_FEATURES, key=lambda f: -ks[f])
        rho = stats.spearmanr([ours.index(f) for f in BIKE_FEATURES], [truth.index(f) for f in BIKE_FEATURES]).statistic
        out["bike_sharing"].append(
            {
                "production": label,
                "rows": len(cur),
                "ours": [(fd.name, fd.verdict, round(fd.scores["psi"], 3)) for fd in feats],
                "raw_ks_order": [(f, round(ks[f], 3)) for f in truth],
                "spearman_vs_raw_ks": round(float(rho), 3),
            }
        )

    from sklearn.datasets import load_diabetes

    data = load_diabetes(as_frame=True, scaled=False).frame.drop(columns=["target"])
    young = data[data.age <= data.age.median()]
    old = data[data.age > data.age.median()]
    base = Baseline.from_data(young, model="diabetes", version="1", categorical=["sex"])
    # The real windows are small (~220 rows): verdicts need min_samples lowered; ranking does not.
    prod = ProductionHistograms(base)
    prod.add(old)
    feats = evaluate(base.histograms(), prod.histograms(), DriftConfig(min_samples=100)).features
    ks = {f: raw_ks(young[f], old[f]) for f in data.columns}
    ours = [fd.name for fd in feats]
    truth = sorted(data.columns, key=lambda f: -ks[f])
    rho = stats.spearmanr([ours.index(f) for f in data.columns], [truth.index(f) for f in data.columns]).statistic
    out["diabetes"] = {
        "baseline_rows": len(young),
        "production_rows": len(old),
        "ours": [(fd.name, fd.verdict, round(fd.scores["psi"], 3)) for fd in feats],
        "raw_ks_order": [(f, round(ks[f], 3)) for f in truth],
        "spearman_vs_raw_ks": round(float(rho), 3),
    }
    # No drift on real data with a small reference: a random half against the other half.
    # PSI's noise floor is about (1/N + 1/M) * (bins - 1), ~0.2 here: fixed thresholds flag
    # noise, the sample-size-aware mode does not.
    flagged = {"fixed": [], "adaptive": []}
    split_rng = np.random.default_rng(0)
    for _ in range(20):
        idx = split_rng.permutation(len(data))
        half = len(data) // 2
        a, c = data.iloc[idx[:half]], data.iloc[idx[half:]]
        b2 = Baseline.from_data(a, model="diabetes", version="1", categorical=["sex"])
        p2 = ProductionHistograms(b2)
        p2.add(c)
        for mode in flagged:
            res = evaluate(b2.histograms(), p2.histograms(), DriftConfig(min_samples=100, mode=mode))
            flagged[mode].append(res.drifted / res.evaluated)
    out["diabetes_random_halves"] = {m: round(float(np.mean(v)), 3) for m, v in flagged.items()}
    return out


# --------------------------------------------------------------------------- 2/3. rates


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


CONTINUOUS = ["normal", "lognormal", "student_t3", "uniform", "bimodal", "exponential", "zero_inflated"]


def shift(window: pd.DataFrame, sigma: float, stds: dict[str, float]) -> pd.DataFrame:
    w = window.copy()
    for c in CONTINUOUS:
        w[c] = w[c] + sigma * stds[c]
    return w


def rates(trials: int, rng: np.random.Generator, evidently: bool) -> dict:
    fixed = DriftConfig(min_samples=0)
    adaptive = DriftConfig(min_samples=0, mode="adaptive")
    bikes = pd.read_csv(BIKES)[BIKE_FEATURES]
    populations = {
        "synthetic": lambda n: synthetic(rng, n),
        "bike_bootstrap": lambda n: bikes.sample(n, replace=True, random_state=int(rng.integers(1 << 31))).reset_index(drop=True),
    }
    scenarios = [("no_drift", "synthetic", 0.0), ("no_drift", "bike_bootstrap", 0.0),
                 ("shift_0.2sigma", "synthetic", 0.2), ("shift_0.5sigma", "synthetic", 0.5)]
    results: list[dict] = []
    evid_jobs: list[dict] = []
    OUT.mkdir(parents=True, exist_ok=True)
    refs: dict[str, pd.DataFrame] = {}
    baselines: dict[str, Baseline] = {}
    for pop, make in populations.items():
        refs[pop] = make(REF_ROWS)
        cats = ["weathersit"] if pop == "bike_bootstrap" else []
        baselines[pop] = Baseline.from_data(refs[pop], model=pop, version="1", categorical=cats)
        refs[pop].to_parquet(OUT / f"ref_{pop}.parquet")
    stds = {c: float(refs["synthetic"][c].std()) for c in CONTINUOUS}
    for scenario, pop, sigma in scenarios:
        for m in SIZES:
            flags = {"fixed": [], "adaptive": []}
            dataset = {"fixed": [], "adaptive": []}
            windows = []
            t0 = time.perf_counter()
            for _ in range(trials):
                w = populations[pop](m)
                if sigma:
                    w = shift(w, sigma, stds)
                windows.append(w)
                for name, cfg in (("fixed", fixed), ("adaptive", adaptive)):
                    v = verdicts(baselines[pop], w, cfg)
                    cols = CONTINUOUS if sigma else list(refs[pop].columns)
                    flags[name].append([v[c] for c in cols])
                    dataset[name].append(sum(v.values()) >= 0.5 * len(v))
            elapsed = time.perf_counter() - t0
            row = {
                "scenario": scenario,
                "population": pop,
                "window": m,
                "trials": trials,
                "features": len(flags["fixed"][0]),
                "ours_fixed_feature_rate": float(np.mean(flags["fixed"])),
                "ours_adaptive_feature_rate": float(np.mean(flags["adaptive"])),
                "ours_fixed_dataset_rate": float(np.mean(dataset["fixed"])),
                "ours_adaptive_dataset_rate": float(np.mean(dataset["adaptive"])),
                "ours_seconds_per_window_both_modes": elapsed / trials,
                "feature_names": cols,
                "ours_fixed_per_feature": [float(x) for x in np.mean(flags["fixed"], axis=0)],
                "ours_adaptive_per_feature": [float(x) for x in np.mean(flags["adaptive"], axis=0)],
            }
            results.append(row)
            if evidently:
                path = OUT / f"windows_{scenario}_{pop}_{m}.parquet"
                pd.concat([w.assign(_trial=i) for i, w in enumerate(windows)]).to_parquet(path)
                evid_jobs.append({"key": len(results) - 1, "ref": str(OUT / f"ref_{pop}.parquet"), "windows": str(path),
                                  "columns": CONTINUOUS if sigma else list(refs[pop].columns),
                                  "categorical": ["weathersit"] if pop == "bike_bootstrap" else ["color", "segment"]})
            print(f"  {scenario:<15} {pop:<15} {m:>6}: fixed {row['ours_fixed_feature_rate']:.3f} "
                  f"adaptive {row['ours_adaptive_feature_rate']:.3f}", flush=True)
    if evid_jobs:
        jobs_path = OUT / "evidently_jobs.json"
        jobs_path.write_text(json.dumps(evid_jobs))
        res_path = OUT / "evidently_results.json"
        t0 = time.perf_counter()
        proc = subprocess.run(
            [str(BENCH_VENV / "bin" / "python"), str(ROOT / "bench" / "drift_evidently_runner.py"), str(jobs_path), str(res_path)],
            capture_output=True, text=True, timeout=3600,
        )
        if proc.returncode != 0:
            print("Evidently runner failed:\n" + proc.stderr[-3000:], file=sys.stderr)
        else:
            for item in json.loads(res_path.read_text()):
                row = results[item["key"]]
                row["evidently_feature_rate"] = item["feature_rate"]
                row["evidently_dataset_rate"] = item["dataset_rate"]
                row["evidently_seconds_per_window"] = item["seconds_per_window"]
                row["evidently_version"] = item["version"]
                row["evidently_methods"] = item["methods"]
                row["evidently_per_feature"] = item["per_feature"]
            print(f"  Evidently: {time.perf_counter() - t0:.0f} s", flush=True)
    return {"reference_rows": REF_ROWS, "rows": results}


def ensure_evidently() -> bool:
    py = BENCH_VENV / "bin" / "python"
    if not py.exists():
        subprocess.run([sys.executable, "-m", "venv", str(BENCH_VENV)], check=True)
    check = subprocess.run([str(py), "-c", "import evidently"], capture_output=True)
    if check.returncode == 0:
        return True
    print("installing Evidently into _build/bench-venv ...", flush=True)
    inst = subprocess.run(
        [str(py), "-m", "pip", "install", "-q", "-r", str(ROOT / "bench" / "requirements-drift.txt")],
        capture_output=True, text=True,
    )
    if inst.returncode != 0:
        print("Evidently would not install:\n" + inst.stderr[-2000:], file=sys.stderr)
        return False
    return True


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=100)
    ap.add_argument("--no-evidently", action="store_true")
    ap.add_argument("--seed", type=int, default=12345)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    evidently = not args.no_evidently and ensure_evidently()
    print("1. real data", flush=True)
    real = real_data()
    for item in real["bike_sharing"]:
        print(f"  bikes Jan-2011 vs {item['production']}: top {[n for n, _, _ in item['ours'][:4]]}, "
              f"Spearman vs raw KS {item['spearman_vs_raw_ks']}")
    d = real["diabetes"]
    print(f"  diabetes young vs old: top {[n for n, _, _ in d['ours'][:4]]}, Spearman vs raw KS {d['spearman_vs_raw_ks']}")
    print(f"  diabetes random halves (no drift), share of features flagged: {real['diabetes_random_halves']}")
    print("2./3. rates", flush=True)
    r = rates(args.trials, rng, evidently)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "drift_eval.json").write_text(json.dumps({"real_data": real, "rates": r}, indent=1))
    print()
    print("| scenario | population | window | ours fixed | ours adaptive | Evidently | ours dataset fixed/adaptive | Evidently dataset |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for row in r["rows"]:
        ev = row.get("evidently_feature_rate")
        evd = row.get("evidently_dataset_rate")
        print(
            f"| {row['scenario']} | {row['population']} | {row['window']} | {row['ours_fixed_feature_rate']:.3f} | "
            f"{row['ours_adaptive_feature_rate']:.3f} | {'n/a' if ev is None else f'{ev:.3f}'} | "
            f"{row['ours_fixed_dataset_rate']:.2f}/{row['ours_adaptive_dataset_rate']:.2f} | "
            f"{'n/a' if evd is None else f'{evd:.2f}'} |"
        )
    print("\nper feature (shift scenarios): ours fixed / adaptive / Evidently")
    for row in r["rows"]:
        if row["scenario"] == "no_drift" and row["window"] not in (200, 10000):
            continue
        ev = row.get("evidently_per_feature") or {}
        bits = [
            f"{n} {a:.2f}/{b:.2f}/{ev.get(n, float('nan')):.2f}"
            for n, a, b in zip(row["feature_names"], row["ours_fixed_per_feature"], row["ours_adaptive_per_feature"])
        ]
        print(f"  {row['scenario']} {row['population']} {row['window']}: " + ", ".join(bits))
    print(f"\nwrote {OUT / 'drift_eval.json'}")


if __name__ == "__main__":
    main()
