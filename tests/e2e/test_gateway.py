"""Agent -> two gateways: routing by model gives each model's mldrift every replica's data."""

from __future__ import annotations

import time

import pytest

from e2e._collector import drift_records, latest, metric_points
from e2e._scenario import DRIFTING, make_baseline, start_replica

ROWS = 400
MODELS = ["fraud", "churn"]


def _models_seen(lines) -> set[str]:
    return {a.get("ml.model.name") for a, _ in metric_points(lines, "ml.drift.sample_count")}


@pytest.mark.timeout(300)
def test_agent_routes_each_model_to_one_gateway_that_merges_all_its_replicas(start_collector, tmp_path):
    """Three replicas of each of two models send to one agent collector whose loadbalancing
    exporter routes by ml.model.name to two gateway collectors running mldrift. Each model's
    drift is computed by exactly one gateway, on the merged rows of all three replicas
    (1200 values; 400 per replica would be below min_samples), and flags amount and country."""
    window = {"MLDRIFT_WINDOW": "10m", "MLDRIFT_SLOT_SIZE": "1s", "MLDRIFT_EMIT_INTERVAL": "1s", "MLDRIFT_MIN_SAMPLES": "1000"}
    gateways = [start_collector("gateway.yaml", name=f"gateway-{i}", **window) for i in range(2)]
    agent = start_collector(
        "agent.yaml", name="agent",
        MLDRIFT_GATEWAY_0=gateways[0].grpc_endpoint, MLDRIFT_GATEWAY_1=gateways[1].grpc_endpoint,
    )
    replicas = []
    for model_name in MODELS:
        baseline = tmp_path / f"{model_name}.json"
        make_baseline(baseline, model_name=model_name)
        replicas += [
            start_replica(tmp_path, agent.http_endpoint, f"{model_name}-{i}", baseline, seed=i, model_name=model_name, rows=ROWS)
            for i in range(3)
        ]
    assert all(r.wait()["failures"] == 0 for r in replicas)

    def owners() -> dict[str, list[int]]:
        return {m: [i for i, g in enumerate(gateways) if m in _models_seen(g.lines())] for m in MODELS}

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        done = all(
            any(latest(g.lines(), "ml.drift.sample_count", **{"ml.model.name": m}).get(("amount", None)) == 3 * ROWS for g in gateways)
            for m in MODELS
        )
        if done:
            break
        time.sleep(0.5)
    time.sleep(2)

    for model_name, where in owners().items():
        assert len(where) == 1, f"{model_name} scored on gateways {where}: routing must send a model to one gateway"
        lines = gateways[where[0]].lines()
        counts = latest(lines, "ml.drift.sample_count", **{"ml.model.name": model_name})
        assert counts.get(("amount", None)) == 3 * ROWS, counts
        detected = latest(lines, "ml.drift.detected", **{"ml.model.name": model_name})
        assert {f for (f, _), v in detected.items() if v == 1} == DRIFTING
        warn = [
            r for r in drift_records(lines)
            if r.get("severityText") == "WARN"
            and any(a["key"] == "ml.model.name" and a["value"]["stringValue"] == model_name for a in r["attributes"])
        ]
        assert len(warn) == len(DRIFTING)
    print(f"gateway: models per gateway {owners()}")
