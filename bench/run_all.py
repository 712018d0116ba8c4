"""Run every benchmark in bench/ in turn; each prints its own table and writes bench/results/*.json.

    make bench            # or: .venv/bin/python bench/run_all.py [--quick]

Benchmarks compare modeltel against a peer measured in the same run (a bare OpenTelemetry
span, one numpy pass, the server without modeltel, Evidently/whylogs in their own venvs);
they are not timed tests and never fail the build on a figure.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

BENCHMARKS = [
    ("overhead", ["bench_overhead.py"], ["--calls", "2000", "--rounds", "3"]),
    ("batch", ["bench_batch.py"], ["--repeat", "3"]),
    ("drift", ["drift_eval.py"], ["--trials", "20"]),
    ("server", ["bench_server.py"], []),
    ("outcomes", ["bench_outcomes.py"], ["--rounds", "3"]),
    ("report", ["bench_report.py"], ["--repeat", "3"]),
    ("privacy", ["bench_privacy.py"], ["--repeat", "3", "--n", "5000"]),
    ("cardinality", ["bench_cardinality.py"], ["--pairs", "50000", "--peer-pairs", "5000"]),
    ("wide", ["bench_wide.py"], ["--repeat", "3"]),
]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("only", nargs="*", help="names to run (default: all)")
    args = parser.parse_args()
    failed = []
    for name, script, quick_args in BENCHMARKS:
        if args.only and name not in args.only:
            continue
        print(f"\n===== {name} =====", flush=True)
        command = [sys.executable, str(HERE / script[0])] + (quick_args if args.quick else [])
        if subprocess.run(command).returncode != 0:
            failed.append(name)
    if failed:
        print(f"\nbenchmarks that did not complete: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
