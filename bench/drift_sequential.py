"""Sequential drift detection measured: delay after a change point and run length to a false alarm.

    .venv/bin/python bench/drift_sequential.py [--streams 20] [--evidently-streams 5] [--no-evidently]
        [--rl-streams 10] [--default-batches 1000] [--parts delay,run_length] [--cells] [--cell-trials 200]

Streams of rows are scored the way the collector scores them: every 100 rows (one emit) the
last 1,000 rows (the window) get the calibrated window verdict, and the 100 new rows (the
batch) advance the sequential rule (modeltel._sequential, docs/drift-math.md section 9).

1. Detection delay: a 5,000-row synthetic baseline (bench/drift_eval.py's power frame), a
   stream of 3,000 unchanged then 3,000 changed rows; delay = rows after the change until the
   changed feature is first flagged: the window verdict alone, and the window verdict or the
   sequential alarm (default sequential_arl 1000). Median and p90 over the streams (a stream
   that never flags counts as infinite). Evidently's DataDriftPreset defaults (no sequential
   mode) on the same streams: its per-window verdict on the same 1,000-row window sliding by
   250 rows (it costs ~1.8 s a window here).
2. Run length to a false alarm on no-drift streams (any feature of the model: the power frame
   without its 10k-label feature, see RL_DROP), in
   batches of 100 rows: for the sequential rule at sequential_arl 20 and 100 (where it can be
   measured; the bound says >= 20 and >= 100) with baselines of 100, 1,000 and 5,000 rows, and
   for the window verdict alone (alpha 0.05, evaluated every 100 rows); plus the alarms at the
   default 1000 in ``--default-batches`` batches.
3. ``--cells``: the no-drift cells of bench/drift_eval.py that were above 5% any-feature false
   alarms at 40 windows (docs/drift-math.md section 7) again with ``--cell-trials`` windows each,
   with a 95% Wilson interval and the rules that fired.

Prints every figure and writes _build/bench/drift_sequential.json.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import drift_eval as de  # noqa: E402

from modeltel._baseline import Baseline, ProductionHistograms  # noqa: E402
from modeltel._drift import DriftConfig, evaluate  # noqa: E402
from modeltel._sequential import DEFAULT_ARL, SequentialDrift  # noqa: E402

STEP, WINDOW, PRE, POST = 100, 1000, 3000, 3000
WINDOW_CAP = 100
CHANGES = [
    ("mean +0.2 sigma", ("mean", 0.2), ["x"]),
    ("mean +0.5 sigma", ("mean", 0.5), ["x"]),
    ("share +10 points", ("share", 0.10), ["color"]),
    ("new category at 1%", ("new_category", 0.01), ["color"]),
]
# The no-drift cells above 5% any-feature at 40 windows in docs/drift-math.md section 7.
OVER_TARGET = [
    ("synthetic", 100, 50), ("synthetic", 100, 20000), ("synthetic", 1000, 100), ("synthetic", 1000, 5000),
    ("synthetic", 5000, 500), ("bike", 100, 50), ("bike", 100, 20000), ("bike", 5000, 50), ("wine", 100, 1000),
    ("wine", 1000, 1000), ("wine", 1000, 20000), ("wine", 5000, 200), ("wine", 5000, 1000),
    ("breast_cancer", 1000, 200), ("breast_cancer", 1000, 5000), ("breast_cancer", 1000, 20000),
    ("breast_cancer", 5000, 100), ("diabetes", 100, 50), ("diabetes", 100, 200),
]


def histograms(baseline: Baseline, rows: pd.DataFrame):
    prod = ProductionHistograms(baseline)
    prod.add(rows)
    return prod.histograms()


def flagged(reference, production, cfg: DriftConfig) -> set[str]:
    return {fd.name for fd in evaluate(reference, production, cfg).features if fd.verdict == "drift"}


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=float), q, method="higher"))


def delays(rng: np.random.Generator, streams: int, ev_streams: int, ev: de.Evidently, window: int = WINDOW,
           changes: set[str] | None = None) -> list[dict]:
    cfg = DriftConfig()
    rows = []
    pre = max(PRE, window)  # the window is full of unchanged rows at the change
    for label, change, changed in CHANGES:
        if changes and label not in changes:
            continue
        window_only, with_seq, early_window, early_seq = [], [], 0, 0
        for s in range(streams):
            ref = de.power_frame(rng, 5000)
            stream = pd.concat([de.power_frame(rng, pre), de.power_frame(rng, POST, change)], ignore_index=True)
            baseline = Baseline.from_data(ref, model="m", version="1", categorical=de.POWER_CATS)
            reference = baseline.histograms()
            seq = SequentialDrift(reference, cfg)
            first_w = first_s = None
            for end in range(STEP, pre + POST + 1, STEP):
                win = flagged(reference, histograms(baseline, stream.iloc[max(0, end - window):end]), cfg) if end >= window else set()
                alarms = seq.update(histograms(baseline, stream.iloc[end - STEP:end]), window_drift=win)
                hit_w, hit_s = bool(win & set(changed)), bool((win | alarms) & set(changed))
                if end <= pre:
                    early_window += hit_w
                    early_seq += hit_s
                    continue
                if first_w is None and hit_w:
                    first_w = end - pre
                if first_s is None and hit_s:
                    first_s = end - pre
            window_only.append(first_w if first_w is not None else math.inf)
            with_seq.append(first_s if first_s is not None else math.inf)
            if s < ev_streams:
                for k, end in enumerate(range(PRE + 250, PRE + POST + 1, 250)):
                    ev.add(len(rows), s * 100 + k, ref, stream.iloc[end - WINDOW:end], de.POWER_CATS)
        checks = streams * (pre // STEP)
        row = {"part": "delay", "change": label, "changed": changed, "streams": streams, "window": window, "step": STEP,
               "window_median": pct(window_only, 50), "window_p90": pct(window_only, 90),
               "window_detected": float(np.isfinite(window_only).mean()),
               "sequential_median": pct(with_seq, 50), "sequential_p90": pct(with_seq, 90),
               "sequential_detected": float(np.isfinite(with_seq).mean()),
               "window_prechange_flag_rate": early_window / checks, "sequential_prechange_flag_rate": early_seq / checks}
        rows.append(row)
        print(f"  delay {label:<20} window median {row['window_median']:.0f} p90 {row['window_p90']:.0f}; "
              f"+ sequential median {row['sequential_median']:.0f} p90 {row['sequential_p90']:.0f}", flush=True)
    return rows


def attach_evidently_delays(rows: list[dict], results: dict[int, dict]) -> None:
    cols = list(de.power_frame(np.random.default_rng(0), 1).columns)
    for key, row in enumerate(rows):
        item = results.get(key)
        if not item:
            continue
        per_window = [any(f[cols.index(c)] for c in row["changed"]) for f in item["flags"]]
        n_windows = POST // 250
        out = []
        for s in range(len(per_window) // n_windows):
            hits = per_window[s * n_windows:(s + 1) * n_windows]
            out.append(next((250 * (k + 1) for k, h in enumerate(hits) if h), math.inf))
        row["evidently_streams"] = len(out)
        row["evidently_median"], row["evidently_p90"] = pct(out, 50), pct(out, 90)
        row["evidently_detected"] = float(np.isfinite(out).mean())


# The run lengths leave out the power frame's 10k-label feature: with a 100-row baseline its top
# categories are the ones that happened to be frequent in those 100 rows (a count of 1 among
# thousands of labels), so every window and batch finds them rarer than the baseline says: a
# bias of the baseline, not noise (reported on its own in the output).
RL_DROP = ["labels"]
RL_CATS = [c for c in de.POWER_CATS if c not in RL_DROP]


def rl_frame(rng: np.random.Generator, n: int) -> pd.DataFrame:
    return de.power_frame(rng, n).drop(columns=RL_DROP)


def run_lengths(rng: np.random.Generator, streams: int, default_batches: int) -> list[dict]:
    """Batches until the first false alarm of the model on streams without change."""
    rows = []
    for arl, n_streams, cap in ((20.0, streams, 200), (100.0, max(2, streams // 2), 600), (DEFAULT_ARL, 1, default_batches)):
        for n in (100, 1000, 5000):
            seq_runs, win_runs, alarms_total, batches_total = [], [], 0, 0
            which: Counter[str] = Counter()
            which_window: Counter[str] = Counter()
            t0 = time.perf_counter()
            for _ in range(n_streams):
                baseline = Baseline.from_data(rl_frame(rng, n), model="m", version="1", categorical=RL_CATS)
                reference = baseline.histograms()
                seq = SequentialDrift(reference, DriftConfig(), arl=arl)
                recent: list[pd.DataFrame] = []
                first_s = first_w = None
                alarms_on: set[str] = set()
                for b in range(1, cap + 1):
                    batch = rl_frame(rng, STEP)
                    recent = (recent + [batch])[-WINDOW // STEP:]
                    win = set()
                    # The window alone is followed for its first WINDOW_CAP batches (each costs a
                    # 1,000-row evaluation); its run length is censored there.
                    if first_w is None and WINDOW // STEP <= b <= WINDOW_CAP:
                        win = flagged(reference, histograms(baseline, pd.concat(recent, ignore_index=True)), DriftConfig())
                        if win:
                            first_w = b
                    now = seq.update(histograms(baseline, batch), window_drift=win)
                    alarms_total += len(now - alarms_on)
                    which.update(now - alarms_on)
                    which_window.update(win)
                    alarms_on = now
                    if first_s is None and now:
                        first_s = b
                    if arl != DEFAULT_ARL and first_s is not None and (first_w is not None or b >= WINDOW_CAP):
                        break
                batches_total += b
                seq_runs.append(first_s if first_s is not None else math.inf)
                win_runs.append(first_w if first_w is not None else math.inf)
            finite = [r for r in seq_runs if math.isfinite(r)]
            row = {"part": "run_length", "arl": arl, "baseline": n, "streams": n_streams, "cap": cap,
                   "sequential_runs": seq_runs, "window_runs": win_runs,
                   # Censored runs count at the cap: the mean is then a lower bound.
                   "sequential_mean": float(np.mean([min(r, cap) for r in seq_runs])),
                   "sequential_censored": len(seq_runs) - len(finite),
                   "window_mean": float(np.mean([min(r, WINDOW_CAP) for r in win_runs])),
                   "window_censored": sum(1 for r in win_runs if not math.isfinite(r)),
                   "alarms": alarms_total, "batches": batches_total, "seconds": time.perf_counter() - t0,
                   "alarmed_features": dict(which), "window_flagged_features": dict(which_window)}
            rows.append(row)
            print(f"  run length arl={arl:<6g} N={n:<5} sequential mean {row['sequential_mean']:.1f} batches "
                  f"({row['sequential_censored']} of {n_streams} censored at {cap}); window alone {row['window_mean']:.1f} "
                  f"({row['window_censored']} censored at {WINDOW_CAP}); "
                  f"alarms {alarms_total} in {batches_total} batches; alarmed {dict(which)}; window {dict(which_window)}", flush=True)
    return rows


def cells(rng: np.random.Generator, trials: int) -> list[dict]:
    pops = de.populations()
    cfg = DriftConfig()
    rows = []
    for pop, n, m in OVER_TARGET:
        draw, cats = pops[pop]
        any_flag = 0
        rules: Counter[str] = Counter()
        features: Counter[str] = Counter()
        for _ in range(trials):
            ref, window = draw(rng, n), draw(rng, m)
            baseline = Baseline.from_data(ref, model="m", version="1", categorical=cats)
            result = evaluate(baseline.histograms(), histograms(baseline, window), cfg)
            hit = [fd for fd in result.features if fd.verdict == "drift"]
            any_flag += bool(hit)
            for fd in hit:
                features[fd.name] += 1
                rules.update(fd.reason_codes)
        p = any_flag / trials
        z = 1.96
        centre = (p + z * z / (2 * trials)) / (1 + z * z / trials)
        half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / (1 + z * z / trials)
        row = {"part": "cell", "population": pop, "baseline": n, "window": m, "trials": trials, "any": p,
               "wilson_low": centre - half, "wilson_high": centre + half, "rules": dict(rules),
               "features": dict(features.most_common(5))}
        rows.append(row)
        print(f"  cell {pop:<13} N={n:<5} M={m:<6} any {p:.3f} [{row['wilson_low']:.3f}, {row['wilson_high']:.3f}] "
              f"rules {dict(rules)} features {dict(features.most_common(3))}", flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--streams", type=int, default=20, help="streams per delay case and per run-length cell (arl 20)")
    ap.add_argument("--evidently-streams", type=int, default=5)
    ap.add_argument("--rl-streams", type=int, default=10, help="streams per run-length cell at sequential_arl 20 (half at 100)")
    ap.add_argument("--default-batches", type=int, default=1000, help="batches of the stream at the default sequential_arl")
    ap.add_argument("--parts", default="delay,run_length", help="comma-separated: delay, run_length")
    ap.add_argument("--window", type=int, default=WINDOW, help="rows of the window in the delay part")
    ap.add_argument("--changes", default="", help="comma-separated subset of the delay part's changes")
    ap.add_argument("--no-evidently", action="store_true")
    ap.add_argument("--cells", action="store_true", help="re-run the no-drift cells that were above target")
    ap.add_argument("--cell-trials", type=int, default=200)
    ap.add_argument("--seed", type=int, default=20261202)
    ap.add_argument("--json", type=Path, default=de.OUT / "drift_sequential.json")
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    de.OUT.mkdir(parents=True, exist_ok=True)
    enabled, reason = (False, "--no-evidently") if args.no_evidently else de.ensure_evidently()
    ev = de.Evidently(enabled, 10**6)
    ev.reason = reason or ev.reason
    t0 = time.perf_counter()
    parts = set(args.parts.split(","))
    dl, rl = [], []
    if "delay" in parts:
        print("1. detection delay", flush=True)
        dl = delays(rng, args.streams, args.evidently_streams if enabled else 0, ev, args.window,
                    set(filter(None, args.changes.split(","))))
    if "run_length" in parts:
        print("2. run length to a false alarm", flush=True)
        rl = run_lengths(rng, args.rl_streams, args.default_batches)
    cl = []
    if args.cells:
        print("3. the no-drift cells above target", flush=True)
        cl = cells(rng, args.cell_trials)
    attach_evidently_delays(dl, ev.run())
    elapsed = time.perf_counter() - t0
    args.json.write_text(json.dumps({"seed": args.seed, "seconds": elapsed, "evidently": ev.reason or "ok",
                                     "delay": dl, "run_length": rl, "cells": cl}, indent=1, default=str))

    print(f"\n### Detection delay: rows after an abrupt change until flagged ({args.streams} streams; emit every {STEP} rows, "
          f"{args.window}-row window; Evidently on {args.evidently_streams if enabled else 0} streams, window sliding by 250)\n")
    print("| change | window alone: median / p90 (detected) | window + sequential: median / p90 (detected) | "
          "Evidently: median / p90 | flags before the change (window / +sequential, per emit) | target (median < 1,000) |")
    print("|---|---:|---:|---:|---:|---|")
    for r in dl:
        ev_cell = f"{r['evidently_median']:.0f} / {r['evidently_p90']:.0f}" if "evidently_median" in r else "not run"
        print(f"| {r['change']} | {r['window_median']:.0f} / {r['window_p90']:.0f} ({r['window_detected']:.2f}) | "
              f"{r['sequential_median']:.0f} / {r['sequential_p90']:.0f} ({r['sequential_detected']:.2f}) | {ev_cell} | "
              f"{r['window_prechange_flag_rate']:.3f} / {r['sequential_prechange_flag_rate']:.3f} | "
              f"{'met' if r['sequential_median'] < r['window'] else 'MISSED'} |")
    print("\n### Run length to the first false alarm of the model (batches of 100 rows, no change)\n")
    print("| sequential_arl | baseline | streams | sequential: mean run (censored) | bound | window alone (alpha 0.05): mean run (censored at 100) | sequential alarms / batches |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for r in rl:
        print(f"| {r['arl']:g} | {r['baseline']} | {r['streams']} | {r['sequential_mean']:.1f} ({r['sequential_censored']}) | "
              f">= {r['arl']:g} | {r['window_mean']:.1f} ({r['window_censored']}) | {r['alarms']} / {r['batches']} |")
    if cl:
        print(f"\n### No-drift cells above 5% at 40 windows, again at {args.cell_trials} windows\n")
        print("| population | baseline | window | any-feature rate [95% interval] | rules that fired | features flagged most |")
        print("|---|---:|---:|---:|---|---|")
        for r in cl:
            print(f"| {r['population']} | {r['baseline']} | {r['window']} | {r['any']:.3f} [{r['wilson_low']:.3f}, {r['wilson_high']:.3f}] | "
                  f"{r['rules']} | {r['features']} |")
    print(f"\n{elapsed:.0f} s; wrote {args.json}")


if __name__ == "__main__":
    main()
