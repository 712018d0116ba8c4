"""The label service of the e2e test: sends the plan's outcomes of one phase on schedule.

    python _labels.py --plan plan.json --phase 1

Each outcome of the phase goes out at its offset (seconds after the process starts) with
modeltel.record_outcomes, grouped by offset; then the SDK shuts down (which flushes).
"""

from __future__ import annotations

import argparse
import json
import time
from itertools import groupby

import modeltel


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--plan", required=True)
    ap.add_argument("--phase", type=int, required=True)
    args = ap.parse_args()
    plan = json.loads(open(args.plan).read())
    sends = sorted((s for s in plan["sends"] if s["phase"] == args.phase), key=lambda s: s["at"])
    modeltel.configure(service_name="labels")
    began = time.monotonic()
    for at, group in groupby(sends, key=lambda s: s["at"]):
        group = list(group)
        time.sleep(max(0.0, at - (time.monotonic() - began)))
        for model in sorted({s.get("model", plan["model"]) for s in group}):
            mine = [s for s in group if s.get("model", plan["model"]) == model]
            modeltel.record_outcomes([s["key"] for s in mine], [s["label"] for s in mine], model=model)
        modeltel.force_flush()  # keeps the order of a key's duplicates on the wire
    modeltel.shutdown()


if __name__ == "__main__":
    main()
