"""One replica of an instrumented model, run as its own process by the end-to-end tests.

    python _replica.py --baseline B.json --rows 400 --batch 20 --seed 1 --drift --out rows.npz

Serves `--rows` predictions in batches through @modeltel.monitor with the baseline, exports
through modeltel.configure() (OTLP endpoint and service.instance.id from the environment),
saves the exact rows it predicted on (for the test to recompute drift), per-call latencies
and the SDK's drop counters, then shuts the SDK down (which flushes).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

import modeltel
from modeltel import _sdk

COUNTRIES = ["DE", "FR", "IT", "NL"]
DEVICES = ["android", "ios", "web"]


def make_rows(rng: np.random.Generator, n: int, drift: bool, correlation: float = 0.0) -> dict[str, np.ndarray]:
    """amount and country drift when asked; age and device never do. ``correlation`` couples
    amount with age (standard-normal scores with that correlation) and leaves both margins as
    they are: only their joint distribution changes."""
    if correlation:
        age_z = rng.normal(0.0, 1.0, n)
        amount_z = correlation * age_z + np.sqrt(1.0 - correlation**2) * rng.normal(0.0, 1.0, n)
        amount, age = (130.0 if drift else 100.0) + 20.0 * amount_z, 40.0 + 10.0 * age_z
    else:
        amount = rng.normal(130.0 if drift else 100.0, 20.0, n)
        age = rng.normal(40.0, 10.0, n)
    country_p = [0.15, 0.15, 0.55, 0.15] if drift else [0.4, 0.3, 0.2, 0.1]
    country = rng.choice(COUNTRIES, n, p=country_p)
    device = rng.choice(DEVICES, n, p=[0.5, 0.3, 0.2])
    return {"amount": amount, "age": age, "country": country, "device": device}


def city_labels(n: int, labels: int, move: bool, seed: int) -> np.ndarray:
    """A high-cardinality feature: Zipf shares over ``labels`` labels. ``move``: the rows beyond
    the 32 most frequent labels move onto the 20 rarest (the top labels keep their shares)."""
    rng = np.random.default_rng(seed + 1000)  # its own stream: the other features stay as they are
    names = np.array([f"city{i}" for i in range(labels)])
    p = 1.0 / np.arange(1, labels + 1)
    out = rng.choice(names, n, p=p / p.sum())
    if move:
        rare = ~np.isin(out, names[:32])
        out[rare] = rng.choice(names[-20:], int(rare.sum()))
    return out


def model(age: np.ndarray) -> np.ndarray:
    """The prediction depends on age only, so it does not drift with amount."""
    return 1.0 / (1.0 + np.exp(-(age - 40.0) / 10.0))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--baseline", required=True, help="baseline file; '' for none (exponential histograms)")
    ap.add_argument("--model", default="fraud")
    ap.add_argument("--version", default="3.1.0")
    ap.add_argument("--rows", type=int, default=400)
    ap.add_argument("--batch", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--drift", action="store_true")
    ap.add_argument("--correlation", type=float, default=0.0, help="couple amount with age (margins unchanged)")
    ap.add_argument("--pause", type=float, default=0.0, help="seconds between batches")
    ap.add_argument("--bad-every", type=int, default=0, help="every Nth batch (from the Nth) sends amount as a string in one row")
    ap.add_argument("--null-every", type=int, default=0, help="every Nth row (from the Nth) sends amount as None")
    ap.add_argument("--city-labels", type=int, default=0, help="add a city feature with this many labels (0: none)")
    ap.add_argument("--city-move", action="store_true", help="the city rows beyond its top 32 labels move onto 20 rare ones")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    modeltel.configure(service_name=f"{args.model}-api")

    @modeltel.monitor(model=args.model, version=args.version, baseline=args.baseline or None)
    def predict(X: list[dict[str, object]]) -> np.ndarray:
        return model(np.array([r["age"] for r in X], dtype=float))

    rng = np.random.default_rng(args.seed)
    data = make_rows(rng, args.rows, args.drift, args.correlation)
    if args.city_labels:
        data["city"] = city_labels(args.rows, args.city_labels, args.city_move, args.seed)
    latencies = []
    failures = 0
    for start in range(0, args.rows, args.batch):
        stop = min(start + args.batch, args.rows)
        batch = [
            {"amount": float(data["amount"][i]), "age": float(data["age"][i]),
             "country": str(data["country"][i]), "device": str(data["device"][i])}
            for i in range(start, stop)
        ]
        if args.city_labels:
            for i, row in enumerate(batch):
                row["city"] = str(data["city"][start + i])
        if args.null_every:
            for i, row in enumerate(batch):
                if (start + i + 1) % args.null_every == 0:
                    row["amount"] = None
        if args.bad_every and (start // args.batch + 1) % args.bad_every == 0:
            batch[0] = {**batch[0], "amount": "n/a"}  # a wrong-typed value, as a bad client sends it
        wall, t = time.time(), time.perf_counter()
        try:
            predict(batch)
        except Exception:  # a failure is what the test looks for; it must never happen
            failures += 1
        latencies.append((wall, time.perf_counter() - t))
        if args.pause:
            time.sleep(args.pause)
    np.savez(args.out, **data)
    state = _sdk._state
    sketch = state.sketch_exporter if state is not None else None
    stats = {
        "latencies": latencies,
        "failures": failures,
        "sketch_dropped_points": getattr(sketch, "dropped_points", None),
    }
    modeltel.shutdown()
    with open(args.out + ".json", "w") as f:
        json.dump(stats, f)


if __name__ == "__main__":
    main()
