"""The per-prediction cost of the privacy defaults, each against its former behaviour in the same run.

    .venv/bin/python bench/bench_privacy.py [--repeat 7] [--n 20000]

Pairs (median of ``--repeat`` timings of ``--n`` calls, microseconds per call):
  hash            keyed BLAKE2b of a label (MODELTEL_HASH_KEY), cached per label, vs the
                  former unkeyed, uncached one
  error           modeltel's record_error (type, frames-only stack, status) vs the SDK's
                  span.record_exception + set_status with the message, on a recording span
  summary-1       one 1-row x 20-feature dict: summary log fields + span attributes (the
                  record path was already value-free: the cost should be equal)
  summary-batch   a 256 x 20 batch: log fields + span attributes now (counts, means over >= 10
                  values, no min/max) vs with min/max added back (the former record)
  names-hash      feature_names="hash" on a 20-key dict vs plain names (an opt-in)
  points          SketchStore.collect of one model with 20 features, one value each (points
                  coarsened, sums withheld) vs min_aggregate_count=1 (full points)
Writes bench/results/privacy.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import time
from pathlib import Path
from typing import Callable

import numpy as np
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import Status, StatusCode

from modeltel._columns import hash_label
from modeltel._config import Config
from modeltel._privacy import record_error
from modeltel._sketch import SketchStore
from modeltel._summary import summarize_input, summarize_output

HERE = Path(__file__).resolve().parent


def _once(fn: Callable[[], object], n: int) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n * 1e6


def _pair(now: Callable[[], object], former: Callable[[], object], n: int, repeat: int) -> tuple[float, float, float]:
    """Interleaved rounds (now, former, now, ...): medians of each and of the per-round ratio."""
    a, b = [], []
    for _ in range(repeat):
        a.append(_once(now, n))
        b.append(_once(former, n))
    return statistics.median(a), statistics.median(b), statistics.median(x / y for x, y in zip(a, b))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--n", type=int, default=20_000)
    args = parser.parse_args()
    n, repeat = args.n, args.repeat
    cfg = Config(hash_key="bench-key")
    rows: list[tuple[str, float, float, float]] = []

    label = "customer-segment-42"
    rows.append(("hash", *_pair(lambda: hash_label(label, "bench-key"),
                                lambda: "#" + hashlib.blake2b(label.encode(), digest_size=6).hexdigest(), n, repeat)))

    tracer = TracerProvider().get_tracer("bench")
    try:
        raise ValueError("bad row 7002.123456789")
    except ValueError as exc:
        error = exc

    def new_error() -> None:
        span = tracer.start_span("p")
        record_error(span, error, cfg)

    def old_error() -> None:
        span = tracer.start_span("p")
        span.set_attribute("error.type", "ValueError")
        span.record_exception(error)
        span.set_status(Status(StatusCode.ERROR, str(error)))

    rows.append(("error", *_pair(new_error, old_error, n // 4, repeat)))

    record = {f"f{i}": float(i) for i in range(20)}

    def one() -> None:
        s = summarize_input(record, config=cfg)
        s.log_fields()
        s.span_attributes()

    rows.append(("summary-1", *_pair(one, one, n, repeat)))

    batch = np.random.default_rng(1).normal(size=(256, 20))
    out = np.random.default_rng(2).random(256)

    def batch_now() -> None:
        s = summarize_input(batch, config=cfg)
        s.log_fields()
        summarize_output(out, config=cfg).span_attributes()

    def batch_with_min_max() -> None:
        s = summarize_input(batch, config=cfg)
        fields = s.log_fields()
        st = s.stats()
        for i, name in enumerate(s.columns.numeric_names):
            fields["features"][name]["min"] = float(st.min[i])
            fields["features"][name]["max"] = float(st.max[i])
        o = summarize_output(out, config=cfg)
        attrs = o.span_attributes()
        ost = o.stats()
        attrs["ml.output.value.min"] = float(ost.min[0])
        attrs["ml.output.value.max"] = float(ost.max[0])

    rows.append(("summary-batch", *_pair(batch_now, batch_with_min_max, n // 20, repeat)))

    words = {f"word-{i}": 1.0 for i in range(20)}
    rows.append(("names-hash", *_pair(lambda: summarize_input(words, feature_names="hash", config=cfg),
                                      lambda: summarize_input(words, config=cfg), n, repeat)))

    def collect(config: Config) -> Callable[[], object]:
        store = SketchStore()
        summary = summarize_input(np.ones((1, 20)) * 7.5, config=config)

        def go() -> object:
            store.record("m", "1", "input", summary)
            return store.collect()

        return go

    rows.append(("points", *_pair(collect(cfg), collect(Config(min_aggregate_count=1)), n // 20, repeat)))

    print(f"{'case':14s} {'now us':>9s} {'former us':>10s} {'ratio':>6s}")
    for name, now, before, ratio in rows:
        print(f"{name:14s} {now:9.2f} {before:10.2f} {ratio:6.2f}")
    results = HERE / "results"
    results.mkdir(exist_ok=True)
    (results / "privacy.json").write_text(
        json.dumps({name: {"now_us": now, "former_us": before, "ratio": ratio} for name, now, before, ratio in rows}, indent=2)
    )


if __name__ == "__main__":
    main()
