"""Cardinality: many model+version pairs in one process, with and without the series cap.

    .venv/bin/python bench/bench_cardinality.py [--pairs 200000] [--peer-pairs 20000]

Each run is its own process: configure() exporting OTLP/HTTP to a loopback endpoint that
accepts everything (tests/faults/_standin.py), one prediction per distinct model+version pair,
then force_flush(). Printed per run: RSS before and after (MB, /proc/self/statm) and its peak
(ru_maxrss), the largest metrics request the endpoint got (MB; the collector's default limit is
64 MiB), how many metric requests were accepted, the ``ml.sdk.overflow`` count, and the time
per prediction. The peer is the same process with the cap lifted (MODELTEL_MAX_MODELS above the
number of pairs), at fewer pairs (its memory grows with the pairs). Writes
bench/results/cardinality.json.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def child(pairs: int) -> None:
    sys.path.insert(0, str(ROOT / "tests"))
    from backends._procs import free_port
    from faults._standin import StandIn

    sizes: list[int] = []
    standin = StandIn(free_port())
    original = standin._handle

    def handle(h):  # the size of each request, then the usual handling
        sizes.append(int(h.headers.get("Content-Length") or 0) if h.path.startswith("/v1/metrics") else 0)
        return original(h)

    standin._handle = handle  # type: ignore[method-assign]
    standin.start()
    os.environ.update(
        {
            "OTEL_EXPORTER_OTLP_ENDPOINT": standin.endpoint,
            "MODELTEL_EXPORTER": "otlp",
            "MODELTEL_LOG_SAMPLE_RATE": "0",
            "MODELTEL_LOG_CONSOLE": "false",
            "OTEL_TRACES_SAMPLER": "always_off",
        }
    )
    import modeltel

    modeltel.configure(service_name="cardinality")
    before = _rss_mb()
    started = time.perf_counter()
    for i in range(pairs):
        with modeltel.observe(model=f"model-{i % 1000}", version=f"v{i}") as p:
            p.record_input({"x": 1.0})
    per_prediction = (time.perf_counter() - started) / pairs
    modeltel.force_flush()
    after = _rss_mb()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    time.sleep(0.5)
    print(
        json.dumps(
            {
                "pairs": pairs,
                "max_models": int(os.environ.get("MODELTEL_MAX_MODELS", "500")),
                "rss_before_mb": round(before, 1),
                "rss_after_mb": round(after, 1),
                "rss_peak_mb": round(peak, 1),
                "largest_metrics_request_mb": round(max(sizes, default=0) / 2**20, 2),
                "metric_requests_accepted": standin.answered["ok"],
                "us_per_prediction": round(per_prediction * 1e6, 1),
            }
        )
    )
    modeltel.shutdown()
    standin.stop()


def run(pairs: int, max_models: int | None) -> dict:
    env = dict(os.environ)
    if max_models is not None:
        env["MODELTEL_MAX_MODELS"] = str(max_models)
    out = subprocess.run(
        [sys.executable, __file__, "--child", str(pairs)], env=env, capture_output=True, text=True, timeout=1800
    )
    if out.returncode != 0:
        raise SystemExit(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=200_000)
    parser.add_argument("--peer-pairs", type=int, default=20_000)
    parser.add_argument("--child", type=int)
    args = parser.parse_args()
    if args.child is not None:
        child(args.child)
        return
    rows = [
        ("capped (default 500)", run(args.pairs, None)),
        ("uncapped peer", run(args.peer_pairs, args.peer_pairs + 1)),
        ("capped, peer's pairs", run(args.peer_pairs, None)),
    ]
    print(f"{'run':24s} {'pairs':>8s} {'RSS before':>10s} {'after':>8s} {'peak':>8s} {'max req MB':>10s} {'us/pred':>8s}")
    for name, r in rows:
        print(
            f"{name:24s} {r['pairs']:8d} {r['rss_before_mb']:10.1f} {r['rss_after_mb']:8.1f} {r['rss_peak_mb']:8.1f}"
            f" {r['largest_metrics_request_mb']:10.2f} {r['us_per_prediction']:8.1f}"
        )
    results = HERE / "results"
    results.mkdir(exist_ok=True)
    (results / "cardinality.json").write_text(json.dumps({name: r for name, r in rows}, indent=2))


if __name__ == "__main__":
    main()
