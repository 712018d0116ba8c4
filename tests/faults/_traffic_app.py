"""Predictions at a steady rate, exported over OTLP/HTTP; on exit, a JSON line of what it did.

    python _traffic_app.py SECONDS [RATE]

Exports where OTEL_EXPORTER_OTLP_ENDPOINT says, with the MODELTEL_* / OTEL_* settings of the
environment. Each prediction is one span, one log record and one value per feature. The last
stdout line is JSON: predictions made, predict latencies (p50/p99), the SDK's own accounting
(delivered and dropped spans/logs, distribution points delivered and dropped, values recorded
into the distributions) and how long ``modeltel.shutdown()`` took. With
``TRAFFIC_WINDOW=FROM,TO`` (seconds into the run) also the p50/p99/max of the predictions made
in that window (bench/bench_faults.py: the fault's own window). With ``TRAFFIC_STARTED=PATH``
the file is created when the traffic starts.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time

import modeltel
from modeltel import _sdk

FEATURES = ("amount", "age")


def main() -> None:
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    seconds = float(sys.argv[1])
    rate = float(sys.argv[2]) if len(sys.argv) > 2 else 200.0
    modeltel.configure(service_name="traffic")
    state = _sdk._state
    assert state is not None

    @modeltel.monitor(model="traffic", version="1")
    def predict(row: dict[str, float]) -> float:
        return 0.5

    latencies: list[float] = []
    window: list[float] = []
    lo, hi = (float(x) for x in os.environ.get("TRAFFIC_WINDOW", "0,0").split(","))
    n = 0
    if marker := os.environ.get("TRAFFIC_STARTED"):
        # The fault scripts count from here, not from the process start (imports and
        # configure() take a second or more on a loaded machine).
        open(marker, "w").close()
    start = time.monotonic()
    while (now := time.monotonic()) - start < seconds:
        t0 = time.perf_counter()
        predict({"amount": float(n % 97), "age": float(n % 53)})
        latencies.append(time.perf_counter() - t0)
        if lo <= now - start < hi:
            window.append(latencies[-1])
        n += 1
        delay = start + n / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    sketch = state.sketch_exporter
    drops = state.drops
    t0 = time.monotonic()
    modeltel.shutdown()
    shutdown_s = time.monotonic() - t0
    latencies.sort()
    window.sort()
    in_window = {"window_p50_s": window[len(window) // 2], "window_p99_s": window[int(len(window) * 0.99)],
                 "window_max_s": window[-1]} if window else {}
    print(
        json.dumps(
            {
                "predictions": n,
                "values": n * (len(FEATURES) + 1),  # the inputs and the output
                "p50_s": latencies[len(latencies) // 2],
                "p99_s": latencies[int(len(latencies) * 0.99)],
                "delivered": dict(drops.delivered),
                "dropped": {f"{s}/{r}": c for (s, r), c in drops.counts().items()},
                "sketch_delivered_points": sketch.delivered_points,
                "sketch_dropped_points": sketch.dropped_points,
                "sketch_delivered_values": sketch.delivered_values,
                "sketch_dropped_values": sketch.dropped_values,
                "sketch_unanswered_values": sketch.unanswered_values,
                "sketch_dropped_by_reason": dict(sketch.dropped_values_by_reason),
                "shutdown_s": shutdown_s,
                **in_window,
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
