"""Multivariate drift end to end: SDK replicas with a baseline that has projections -> the built collector."""

from __future__ import annotations

import dataclasses
import math
import time

import pytest

from e2e._collector import drift_records, latest, strict_config
from e2e._scenario import make_baseline, merged_production, start_replica
from modeltel import _drift

ROWS = 600
WINDOW = {"MLDRIFT_WINDOW": "10m", "MLDRIFT_SLOT_SIZE": "1s", "MLDRIFT_EMIT_INTERVAL": "1s"}


@pytest.mark.timeout(300)
def test_a_correlation_break_with_unchanged_margins_is_multivariate_drift_and_the_same_traffic_without_it_is_not(
    start_collector, tmp_path
):
    """Two models with the same kind of baseline (amount and age independent, with their
    projections) get traffic with the same margins; for one, amount and age become correlated
    (rho 0.9). The collector reports that model's multivariate verdict as drift (gauge and one
    ml.drift.started record with ml.drift.scope = multivariate) while none of its input features
    drifts; the other model's multivariate verdict is no_drift, with no multivariate record; and
    every score of every feature, projections included, equals modeltel._drift on the rows the
    replicas sent (projected from the baseline file's fields with numpy) to 1e-9.

    alpha is 0.001: the verdicts are read after every one-second emit of a growing window, and
    what must not fire may not fire in any of them (docs/drift-math.md 5.4); sequential_arl 10^6
    for the same reason (an average run length of 1,000 batches is not "never", 9.2)."""
    path = strict_config(tmp_path / "multivariate.yaml")
    collector = start_collector(path, **WINDOW)
    baselines, replicas = {}, {}
    for name, rho in (("broken", 0.9), ("same", 0.0)):
        baselines[name] = make_baseline(tmp_path / f"{name}.json", model_name=name, projections=True)
        assert baselines[name].projection is not None
        replicas[name] = start_replica(tmp_path, collector.http_endpoint, f"{name}-1", tmp_path / f"{name}.json",
                                       seed=3, rows=ROWS, drift=False, model_name=name, correlation=rho)
    for r in replicas.values():
        assert r.wait()["failures"] == 0

    def complete() -> bool:
        lines = collector.lines()
        return all(
            latest(lines, "ml.drift.sample_count", **{"ml.model.name": m}).get((p, None)) == ROWS
            for m, b in baselines.items() for p in b.projection.names
        )

    deadline = time.monotonic() + 60
    while not complete():
        assert time.monotonic() < deadline, "the projections' windows never held every row"
        time.sleep(0.5)
    time.sleep(2.5)  # two more emits over the complete window
    lines = collector.lines()

    mv = {m: latest(lines, "ml.drift.multivariate.detected", **{"ml.model.name": m}).get((None, None)) for m in baselines}
    assert mv == {"broken": 1.0, "same": 0.0}
    scoped = [r for r in drift_records(lines)
              if any(a["key"] == "ml.drift.scope" and a["value"]["stringValue"] == "multivariate" for a in r["attributes"])]
    models = [next(a["value"]["stringValue"] for a in r["attributes"] if a["key"] == "ml.model.name") for r in scoped]
    assert models == ["broken"] and scoped[0]["eventName"] == "ml.drift.started", scoped
    for m in baselines:
        detected = {f: v for (f, _), v in latest(lines, "ml.drift.detected", **{"ml.model.name": m}).items()}
        assert {f for f in ("amount", "age", "country", "device") if detected.get(f) == 1} == set(), (m, detected)

    for m, baseline in baselines.items():
        # the in-band baseline carries no training min/max (docs/privacy.md): nor does the reference here
        reference = {name: dataclasses.replace(h, min=None, max=None) for name, h in baseline.histograms().items()}
        expected = _drift.evaluate(
            reference, merged_production(baseline, [replicas[m].rows()]),
            _drift.DriftConfig(alpha=0.001, feature_alpha=0.0002), outputs=["prediction"],
        )
        assert expected.multivariate == ("drift" if m == "broken" else "no_drift")
        got = latest(lines, "ml.drift.score", **{"ml.model.name": m})
        compared = 0
        for fd in expected.features:
            for method, want in fd.scores.items():
                value = got.get((fd.name, method))
                assert value is not None, f"{m}: no ml.drift.score for {fd.name}/{method}"
                assert value == want if math.isinf(want) else abs(value - want) <= 1e-9 * max(1.0, abs(want)), (
                    m, fd.name, method, value, want)
                compared += 1
        assert compared >= sum(len(fd.scores) for fd in expected.features if fd.role == "projection") > 0
