"""Batch scoring: score a CSV file in chunks, one prediction per chunk, no server.

Run it::

    python examples/batch_scoring.py input.csv scores.csv      # a CSV with the iris columns
    python examples/batch_scoring.py --demo scores.csv         # scores generated flowers

The model's predict is monitored with ``@modeltel.monitor``: each chunk gives one
``predict iris`` span with the chunk's summary (rows, per-feature statistics) and its
distribution sketches, so drift in a nightly batch shows up exactly as it would for a
server. Telemetry goes to OTLP when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set, else to the
console; ``modeltel.shutdown()`` at the end exports everything before the script exits.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
from pathlib import Path
from typing import Iterator

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import modeltel  # noqa: E402
from _iris import FEATURES, SPECIES, load_model  # noqa: E402

VERSION = os.environ.get("IRIS_MODEL_VERSION", "1.0.0")


def read_chunks(path: Path, size: int) -> Iterator[np.ndarray]:
    with path.open(newline="") as f:
        rows: list[list[float]] = []
        for record in csv.DictReader(f):
            rows.append([float(record[name]) for name in FEATURES])
            if len(rows) == size:
                yield np.array(rows)
                rows = []
        if rows:
            yield np.array(rows)


def demo_chunks(rows: int, size: int, seed: int = 0) -> Iterator[np.ndarray]:
    rng = np.random.default_rng(seed)
    centre = np.array([5.8, 3.0, 3.8, 1.2])
    for start in range(0, rows, size):
        yield centre + rng.normal(scale=0.6, size=(min(size, rows - start), len(FEATURES)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("input", nargs="?", type=Path, help="CSV with columns " + ",".join(FEATURES))
    parser.add_argument("output", type=Path, help="CSV to write (row, species)")
    parser.add_argument("--demo", type=int, nargs="?", const=1000, metavar="ROWS", help="score generated flowers")
    parser.add_argument("--chunk-size", type=int, default=256)
    args = parser.parse_args(argv)
    if args.input is None and args.demo is None:
        parser.error("give an input CSV or --demo")

    modeltel.configure(service_name="iris-batch")
    model = load_model()

    @modeltel.monitor(model="iris", version=VERSION, feature_names=FEATURES)
    def predict(X: np.ndarray) -> np.ndarray:
        return model.predict(X)

    chunks = demo_chunks(args.demo, args.chunk_size) if args.input is None else read_chunks(args.input, args.chunk_size)
    scored = 0
    with args.output.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["row", "species"])
        for X in chunks:
            for label in predict(X):
                writer.writerow([scored, SPECIES[int(label)]])
                scored += 1
    modeltel.shutdown()  # export everything buffered before exiting
    print(f"scored {scored} rows into {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
