"""The end-to-end scenario: a baseline, replicas that drift on two features, and the
independent recomputation of drift on the rows the replicas actually predicted on."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from e2e._replica import city_labels, make_rows, model
from modeltel import _drift
from modeltel._baseline import Baseline

REPLICA = Path(__file__).with_name("_replica.py")
DRIFTING = {"amount", "country"}
STABLE = {"age", "device"}


def make_baseline(
    path: Path, *, model_name: str = "fraud", version: str = "3.1.0", rows: int = 5000, projections: bool = False,
    city: int = 0,
) -> Baseline:
    """The scenario's baseline; without multivariate projections unless asked (the tests that
    use it count and compare the per-feature verdicts; tests/e2e/test_multivariate.py asks)."""
    rng = np.random.default_rng(99)
    data = make_rows(rng, rows, drift=False)
    records = [
        {"amount": float(a), "age": float(g), "country": str(c), "device": str(d)}
        for a, g, c, d in zip(data["amount"], data["age"], data["country"], data["device"])
    ]
    if city:  # a high-cardinality feature (city_labels), for the tail-bucket test
        for record, label in zip(records, city_labels(rows, city, False, 99)):
            record["city"] = str(label)
    baseline = Baseline.from_data(records, model=model_name, version=version, predictions=model(data["age"]),
                                  projections=projections)
    baseline.save(path)
    return baseline


@dataclass
class Replica:
    proc: subprocess.Popen[bytes]
    out: Path

    def wait(self, timeout: float = 120) -> dict[str, Any]:
        try:
            self.proc.wait(timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        assert self.proc.returncode == 0, self.out.with_suffix(".log").read_text()[-4000:]
        return json.loads(Path(str(self.out) + ".json").read_text())

    def rows(self) -> dict[str, np.ndarray]:
        with np.load(self.out, allow_pickle=False) as f:
            return {k: f[k] for k in f.files}


def start_replica(
    workdir: Path, endpoint: str, instance: str, baseline: Path | None, *, seed: int, rows: int = 400,
    drift: bool = True, model_name: str = "fraud", batch: int = 20, pause: float = 0.0,
    export_interval: float = 0.5, bad_every: int = 0, correlation: float = 0.0, null_every: int = 0,
    city: int = 0, city_move: bool = False,
) -> Replica:
    """One SDK process exporting OTLP/HTTP to `endpoint` as service.instance.id=instance."""
    out = workdir / f"{model_name}-{instance}.npz"
    env = {
        **os.environ,
        "MODELTEL_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_RESOURCE_ATTRIBUTES": f"service.instance.id={instance}",
        "MODELTEL_EXPORT_INTERVAL": str(export_interval),
        "OTEL_EXPORTER_OTLP_TIMEOUT": "1",
        "OTEL_METRIC_EXPORT_INTERVAL": "1000",
        "OTEL_BLRP_SCHEDULE_DELAY": "500",
        "OTEL_BSP_SCHEDULE_DELAY": "500",
    }
    argv = [
        sys.executable, str(REPLICA), "--baseline", str(baseline or ""), "--rows", str(rows), "--seed", str(seed),
        "--model", model_name, "--batch", str(batch), "--pause", str(pause), "--out", str(out),
    ] + (["--drift"] if drift else []) + (["--bad-every", str(bad_every)] if bad_every else []) + (
        ["--correlation", str(correlation)] if correlation else []
    ) + (
        ["--null-every", str(null_every)] if null_every else []
    ) + (["--city-labels", str(city)] if city else []) + (["--city-move"] if city_move else [])
    log = open(out.with_suffix(".log"), "wb")  # noqa: SIM115 - the child holds it
    proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)
    log.close()
    return Replica(proc, out)


def merged_production(baseline: Baseline, replicas: list[dict[str, np.ndarray]]) -> dict[str, _drift.Histogram]:
    """Bin every replica's rows on the baseline's edges/categories, independently of the SDK."""
    columns = {k: np.concatenate([r[k] for r in replicas]) for k in replicas[0]}
    columns["prediction"] = model(columns["age"].astype(float))
    out = {}
    for name, fb in baseline.all_features().items():
        if name not in columns:
            continue
        x = columns[name]
        if fb.kind == "numeric":
            x = x.astype(float)
            edges = np.asarray(fb.edges, dtype=float)
            # OTLP buckets are upper-inclusive: bucket i holds (edges[i-1], edges[i]].
            counts = np.bincount(np.searchsorted(edges, x, side="left"), minlength=edges.size + 1)
            # no min/max: the SDK never sends a production window's extremes (docs/privacy.md)
            out[name] = _drift.Histogram.numeric(edges, counts)
        else:
            cats = list(fb.categories)
            counts = np.zeros(len(cats) + 1)
            for label, n in zip(*np.unique(x.astype(str), return_counts=True)):
                counts[cats.index(label) if label in cats else len(cats)] += n
            out[name] = _drift.Histogram.categorical(cats, counts)
    proj = baseline.projection
    if proj is not None:
        # The projections written out from the file's fields (docs/baseline-format.md), with
        # plain numpy: z = (x - mean) / scale, value_k = directions[k] . z.
        x = np.column_stack([columns[c].astype(float) for c in proj.columns])
        values = ((x - np.asarray(proj.mean)) / np.asarray(proj.scale)) @ np.asarray(proj.directions).T
        for k, (name, fb) in enumerate(proj.features.items()):
            edges = np.asarray(fb.edges, dtype=float)
            counts = np.bincount(np.searchsorted(edges, values[:, k], side="left"), minlength=edges.size + 1)
            out[name] = _drift.Histogram.numeric(edges, counts)
    return out
