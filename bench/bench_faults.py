"""Predict latency under export faults, against the healthy run of the same round.

    .venv/bin/python bench/bench_faults.py [--reps 3] [--cases healthy,429,...]

Runs the fault cases of tests/faults/test_export_faults.py (its traffic process: 200
predictions/s for 4 s, one span, one log record and three distribution values each, exporting
OTLP/HTTP to the loopback stand-in; the fault lasts from 0.8 s to 2.8 s) round after round, the
cases interleaved so that each round has its own healthy peer. Printed per case: the median
over rounds of p50 and p99 (ms), and of p99 / the same round's healthy p99 (the issue's target
is at most 2), over the whole run and over the fault's window alone (0.8 s to 2.8 s: in the
healthy run the same seconds; "absent at start" has its fault before 2 s, so its window holds
its end and the recovery). Writes bench/results/faults.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from backends._procs import free_port  # noqa: E402
from faults._standin import StandIn  # noqa: E402
from faults.test_export_faults import FAULT_END, FAULT_START, FAULTS, _run  # noqa: E402

CASES = ("healthy", "429", "503", "never_answering", "refusing", "absent_at_start")


def _one(case: str, tmp: Path) -> dict:
    standin = StandIn(free_port())
    if case != "absent_at_start":
        standin.start()
    scripts = {
        "healthy": [],
        "refusing": [(FAULT_START, standin.stop), (FAULT_END, standin.start)],
        "absent_at_start": [(FAULT_END - 0.8, standin.start)],
    }
    script = scripts[case] if case in scripts else FAULTS[case]
    try:
        return _run(standin, script, tmp, TRAFFIC_WINDOW=f"{FAULT_START},{FAULT_END}")
    finally:
        standin.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--cases", default=",".join(CASES))
    args = parser.parse_args()
    cases = ["healthy"] + [c for c in args.cases.split(",") if c and c != "healthy"]
    rounds: list[dict[str, dict]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.reps):
            rounds.append({case: _one(case, Path(tmp)) for case in cases})
    rows: dict[str, dict] = {}
    for label, p50_key, p99_key in (("whole run", "p50_s", "p99_s"), ("fault window", "window_p50_s", "window_p99_s")):
        print(f"\n{label}:\n{'case':<18}{'p50 ms':>9}{'p99 ms':>9}{'p99/healthy':>13}  per round (p99/healthy)")
        for case in cases:
            p50 = [r[case][p50_key] * 1e3 for r in rounds]
            p99 = [r[case][p99_key] * 1e3 for r in rounds]
            ratio = [r[case][p99_key] / r["healthy"][p99_key] for r in rounds]
            rows.setdefault(case, {})[label] = {"p50_ms": p50, "p99_ms": p99, "p99_ratio": ratio}
            met = "met" if statistics.median(ratio) <= 2 else "NOT met"
            print(
                f"{case:<18}{statistics.median(p50):>9.3f}{statistics.median(p99):>9.3f}"
                f"{statistics.median(ratio):>13.2f}  {' '.join(f'{x:.2f}' for x in ratio)}  {met}"
            )
        if label == "fault window":
            worst = {case: max(r[case]["window_max_s"] for r in rounds) * 1e3 for case in cases}
            print("max in window, ms: " + ", ".join(f"{c} {v:.2f}" for c, v in worst.items()))
    out = HERE / "results" / "faults.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
