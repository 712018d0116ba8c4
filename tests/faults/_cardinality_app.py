"""A spike of model+version pairs, then one more model after the spike's streams expired.

    python _cardinality_app.py PAIRS

Exports over OTLP/HTTP where OTEL_EXPORTER_OTLP_ENDPOINT says. Prints one JSON line: RSS
(MB) before and after the spike, and the SDK's overflow counts.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time

import modeltel


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def main() -> None:
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    pairs = int(sys.argv[1])
    modeltel.configure(service_name="cardinality")
    with modeltel.observe(model="warm-up", version="0") as p:
        p.record_input({"x": 1.0})
    modeltel.force_flush()
    before = _rss_mb()
    for i in range(pairs):
        with modeltel.observe(model=f"spike-{i % 1000}", version=f"v{i}") as p:
            p.record_input({"x": 1.0})
            p.record_output(0.5)
    modeltel.force_flush()
    after = _rss_mb()
    ttl = float(os.environ["MODELTEL_STREAM_TTL"])
    time.sleep(ttl + 0.2)
    modeltel.force_flush()  # the spike's streams are idle past their TTL: slots freed
    with modeltel.observe(model="late", version="1") as p:
        p.record_input({"x": 2.0})
    modeltel.force_flush()
    print(json.dumps({"rss_before_mb": before, "rss_after_mb": after}), flush=True)
    modeltel.shutdown()


if __name__ == "__main__":
    main()
