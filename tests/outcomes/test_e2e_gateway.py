"""A gateway tier: an agent routes joinable records by ml.outcome.partition to two gateways.

The classifier replicas and the label service send with MODELTEL_OUTCOME_PARTITIONS=8 to one
agent collector (collector-config/agent.yaml), whose loadbalancing exporter routes logs by
ml.outcome.partition to two gateways (collector-config/gateway.yaml) running the
mlperformance connector. Each gateway joins the keys it owns; their additive metrics, summed
as a backend would, give the figures one collector gives: scikit-learn's on the joined rows.
"""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from sklearn import metrics

from e2e._collector import CONFIGS, free_port, number
from outcomes.test_e2e_join import TTL_S, last_points, make_plan, run_phase, unmatched_reasons


def _resource_instances(lines: list[dict]) -> set[str]:
    out = set()
    for line in lines:
        for rm in line.get("resourceMetrics", []):
            for kv in rm.get("resource", {}).get("attributes", []):
                if kv["key"] == "ml.performance.instance":
                    out.add(kv["value"]["stringValue"])
    return out

FRAUD = ("ml.model.name", "fraud")


@pytest.mark.e2e
@pytest.mark.timeout(240)
def test_two_gateways_sum_to_the_figures_of_one(start_collector, start_prometheus, tmp_path, monkeypatch):
    plan_path = tmp_path / "plan.json"
    plan = make_plan(plan_path)
    scrapes = [f"127.0.0.1:{free_port()}" for _ in range(2)]
    gateways = [
        start_collector("gateway.yaml", name=f"gateway-{i}", MLPERF_TTL=f"{TTL_S}s", MLPERF_EMIT_INTERVAL="1s",
                        MLPERF_INSTANCE=f"gateway-{i}", PROMETHEUS_EXPORTER_ENDPOINT=scrapes[i])
        for i in range(2)
    ]
    prometheus = start_prometheus(scrape_targets=scrapes)
    agent = start_collector("agent.yaml", name="agent",
                            MLDRIFT_GATEWAY_0=gateways[0].grpc_endpoint, MLDRIFT_GATEWAY_1=gateways[1].grpc_endpoint)
    monkeypatch.setenv("MODELTEL_OUTCOME_PARTITIONS", "8")
    run_phase(plan_path, 1, agent.http_endpoint)
    run_phase(plan_path, 2, agent.http_endpoint)

    rows = plan["rows"]
    joined = [r for r in rows if r["fate"] != "never"]
    never, dups = len(rows) - len(joined), sum(r["dup"] for r in rows)
    deadline = time.monotonic() + TTL_S + 30
    while True:
        per_gateway = [g.lines() for g in gateways]
        reasons = unmatched_reasons(per_gateway)
        if (reasons.get("expired") == never and reasons.get("unknown_key") == 20) or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert reasons == {"expired": never, "unknown_key": 20, "duplicate": dups}, (reasons, never, dups)
    assert [_resource_instances(lines) for lines in per_gateway] == [{"gateway-0"}, {"gateway-1"}]

    # The backend's sums: confusion counts, log-loss sums and score histograms over gateways.
    confusion: dict[tuple[str, str], float] = {}
    per_gateway_rows = []
    log_loss_sum = 0.0
    hist = {True: None, False: None}
    for lines in per_gateway:
        n = 0.0
        for k, p in last_points(lines, "ml.performance.outcomes").items():
            if FRAUD not in k:  # the plan's churn model joins too
                continue
            a = dict(k)
            pair = (a["ml.outcome.label"], a["ml.prediction.label"])
            confusion[pair] = confusion.get(pair, 0) + number(p)
            n += number(p)
        per_gateway_rows.append(n)
        log_loss_sum += sum(number(p) for k, p in last_points(lines, "ml.performance.log_loss.sum").items() if FRAUD in k)
        for k, p in last_points(lines, "ml.performance.score").items():
            if FRAUD not in k:
                continue
            positive = dict(k)["ml.outcome.positive"] == "True"
            counts = np.array([int(c) for c in p["bucketCounts"]], dtype=float)
            hist[positive] = counts if hist[positive] is None else hist[positive] + counts
    assert all(n > 0 for n in per_gateway_rows), per_gateway_rows  # both gateways joined keys
    assert sum(per_gateway_rows) == len(joined)

    y = np.array([r["y"] for r in joined])
    score = np.array([r["score"] for r in joined])
    pred = (score >= 0.5).astype(int)
    total = sum(confusion.values())
    accuracy = sum(v for (a, b), v in confusion.items() if a == b) / total
    assert accuracy == pytest.approx(metrics.accuracy_score(y, pred), abs=1e-9)
    assert log_loss_sum / total == pytest.approx(metrics.log_loss(y, score), abs=1e-9)
    f1 = []
    for c in ("0", "1"):
        tp = confusion.get((c, c), 0)
        fp = sum(v for (a, b), v in confusion.items() if b == c and a != c)
        fn = sum(v for (a, b), v in confusion.items() if a == c and b != c)
        f1.append(2 * tp / (2 * tp + fp + fn))
    assert np.mean(f1) == pytest.approx(metrics.f1_score(y, pred, average="macro"), abs=1e-9)
    pos, neg = hist[True], hist[False]
    below = np.concatenate([[0.0], np.cumsum(neg)[:-1]])
    auc = float((pos * below).sum() + 0.5 * (pos * neg).sum()) / (pos.sum() * neg.sum())
    bound = float(0.5 * (pos * neg).sum() / (pos.sum() * neg.sum()))
    exact = metrics.roc_auc_score(y, score)
    print(f"gateways: rows joined {per_gateway_rows}, AUC from summed histograms {auc:.6f} vs exact {exact:.6f} "
          f"(bound {bound:.2e})")
    assert abs(auc - exact) <= bound + 1e-12 and abs(auc - exact) < 0.005

    # The shipped Grafana dashboard's queries combine the two gateways' window gauges into the
    # figures of all joined rows (a real Prometheus scraping both): weighted by each gateway's rows.
    dashboard = json.loads((CONFIGS / "dashboards" / "grafana-performance.json").read_text())
    exprs = {t["legendFormat"]: t["expr"].replace("$model", "fraud").replace("$version", ".*")
             for panel in dashboard["panels"] for t in panel.get("targets", [])}
    want = {"realised {{ml_model_version}}": metrics.accuracy_score(y, pred), "log loss": metrics.log_loss(y, score),
            "Brier": metrics.brier_score_loss(y, score), "joined {{ml_model_version}}": len(joined)}
    deadline = time.monotonic() + 30
    while True:
        got = {}
        for legend in want:
            result = prometheus.query(exprs[legend])
            got[legend] = float(result[0]["value"][1]) if len(result) == 1 else None
        if got["joined {{ml_model_version}}"] == len(joined) or time.monotonic() > deadline:
            break
        time.sleep(1)
    for legend, value in want.items():
        assert got[legend] == pytest.approx(value, abs=1e-9), (legend, got)
    # The same accuracy as Datadog's dashboard combines it (sum of correct rows / sum of rows).
    (summed,) = prometheus.query('sum(ml_performance_correct{ml_model_name="fraud", ml_segment=""})'
                                 ' / sum(ml_performance_sample_count{ml_model_name="fraud", ml_segment=""})')
    assert float(summed["value"][1]) == pytest.approx(metrics.accuracy_score(y, pred), abs=1e-9)
    # The all-time figure from the cumulative sums (docs/outcomes.md's query).
    names = sorted(n for n in prometheus.metric_names() if n.startswith("ml_performance_log_loss"))
    assert "ml_performance_log_loss_sum_total" in names and "ml_performance_log_loss_count_total" in names, names
    (cum,) = prometheus.query('sum(ml_performance_log_loss_sum_total{ml_model_name="fraud"})'
                              ' / sum(ml_performance_log_loss_count_total{ml_model_name="fraud"})')
    assert float(cum["value"][1]) == pytest.approx(metrics.log_loss(y, score), abs=1e-9)
    per_instance = prometheus.query('ml_performance_accuracy_ratio{ml_model_name="fraud", ml_segment=""}')
    assert len(per_instance) == 2  # each gateway's own share; the dashboard shows their combination
