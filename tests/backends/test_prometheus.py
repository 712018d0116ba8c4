"""Prometheus and Grafana: a real Prometheus (Debian's package) reads the model's metrics.

The instrumented model (model_app.py under uvicorn) sends drifted traffic through
otelcol-modeltel; Prometheus scrapes the collector (collector-config/prometheus.yaml) or
receives remote writes from the full build (prometheus-remote-write.yaml), with the alert
rules loaded. The tests read back through PromQL: the drift score of the drifted feature,
the alert rules' health and states, and every query of the Grafana dashboard.
"""

from __future__ import annotations

import json

import pytest

from modeltel._semconv import PROJECTION_FEATURE_PREFIX

from ._procs import BUILD, wait_until
from ._promql import metric_names
from .conftest import CONFIGS, HERE, collector_env, send_traffic

RULES = CONFIGS / "alerts" / "modeltel.rules.yml"
DASHBOARD = CONFIGS / "dashboards" / "grafana-model.json"
FAST_DRIFT = HERE / "configs" / "fast-drift.yaml"

# The names Prometheus stores for what modeltel and mldrift emit (the exporter's translation).
EXPECTED_NAMES = {
    "ml_prediction_duration_seconds_bucket", "ml_prediction_duration_seconds_count",
    "ml_prediction_duration_seconds_sum", "ml_prediction_rows_total", "ml_drift_score_ratio",
    "ml_drift_threshold_ratio", "ml_drift_detected_ratio", "ml_drift_sample_count",
    "ml_drift_dataset_detected_ratio", "ml_drift_dataset_share_ratio", "ml_data_quality_rate_ratio",
    "ml_data_quality_violations_total",
}


def _value(result: list[dict]) -> float:
    assert len(result) == 1, result
    return float(result[0]["value"][1])


def _dashboard_queries() -> list[tuple[str, str]]:
    dash = json.loads(DASHBOARD.read_text())
    out = []
    for panel in dash["panels"]:
        for target in panel.get("targets", []):
            out.append((panel["title"], target["expr"]))
    return out


def _default_method() -> str:
    """The drift method the dashboard opens on (its `method` variable's current value)."""
    variables = {v["name"]: v for v in json.loads(DASHBOARD.read_text())["templating"]["list"]}
    return variables["method"]["current"]["value"]


def _substitute(expr: str) -> str:
    """Dashboard variables as Grafana fills them on opening: model fraud, all versions, the default method."""
    return (expr.replace("$__rate_interval", "1m").replace("$model", "fraud")
            .replace('=~"$version"', '=~".*"').replace("$method", _default_method()))


@pytest.mark.timeout(300)
def test_prometheus_scrapes_drift_and_loads_the_alert_rules(start_collector, start_prometheus, start_model_app, tmp_path):
    """Scrape path: PromQL returns the drifted feature's score; rules load healthy and go pending."""
    env = collector_env(tmp_path)
    collector = start_collector(["prometheus.yaml", FAST_DRIFT], env)
    prom = start_prometheus(scrape_targets=[collector.prometheus_endpoint], rule_files=[RULES])
    app = start_model_app(collector)

    # Two rounds, so that Prometheus sees the counters grow (rate() needs an increase).
    first = send_traffic(app, requests_=10, rows=100, amount_factor=3.0, fail_every=5, seed=1)
    app.flush()
    wait_until(lambda: prom.query('ml_prediction_duration_seconds_count{ml_model_name="fraud"}'), 30, interval=0.5,
               what="first scrape of the prediction count")
    second = send_traffic(app, requests_=20, rows=100, amount_factor=3.0, fail_every=5, seed=2)
    app.flush()
    sent = {k: first[k] + second[k] for k in first}

    psi = 'ml_drift_score_ratio{ml_model_name="fraud",ml_feature_name="amount",ml_drift_method="psi"}'
    wait_until(lambda: prom.query(f"{psi} > 0.2"), 60, interval=1, what="PSI of amount > 0.2 in Prometheus")
    amount_psi = _value(prom.query(psi))
    age_psi = _value(prom.query(psi.replace('"amount"', '"age"')))
    assert amount_psi > 1.0 > 0.2 > age_psi  # the drifted feature scores far above the threshold, the other far below
    detected = {r["metric"]["ml_feature_name"]: float(r["value"][1])
                for r in prom.query('ml_drift_detected_ratio{ml_model_name="fraud"}')}
    # The baseline's multivariate projections are features too; amount's shift moves the
    # projections it enters, so some of them drift beside it.
    projections = {n: v for n, v in detected.items() if n.startswith(PROJECTION_FEATURE_PREFIX)}
    features = {n: v for n, v in detected.items() if n not in projections}
    assert features == {"amount": 1.0, "age": 0.0, "score": 0.0, "prediction": 1.0}
    assert projections and max(projections.values()) == 1.0

    # Counts through the pipeline: every prediction, failed ones with error_type.
    wait_until(lambda: _value(prom.query('sum(ml_prediction_duration_seconds_count{ml_model_name="fraud"})')) == sent["requests"],
               30, interval=1, what="prediction count in Prometheus")
    failed = prom.query('sum by (error_type) (ml_prediction_duration_seconds_count{ml_model_name="fraud",error_type!=""})')
    assert [(r["metric"]["error_type"], float(r["value"][1])) for r in failed] == [("model_app.ModelError", sent["failed"])]
    # Rows of successful calls at least, of every call at most (failed calls' rows may count).
    rows = _value(prom.query('sum(ml_prediction_rows_total{ml_model_name="fraud"})'))
    assert sent["rows"] <= rows <= sent["rows"] + sent["rows_failed"]

    names = prom.metric_names()
    assert EXPECTED_NAMES <= names, f"missing: {EXPECTED_NAMES - names}"

    # The alert rules: all loaded by this Prometheus and evaluated without error.
    def rules_evaluated():
        rules = prom.rules()
        return len(rules) == 10 and all(r.get("health") == "ok" for r in rules) and rules

    rules = wait_until(rules_evaluated, 30, interval=1, what="10 healthy rules")
    for rule in rules:
        assert metric_names(rule["query"]) <= names, f"{rule['name']} reads metrics Prometheus does not have"

    # The conditions the traffic created are seen by the rules (pending: `for` is minutes).
    def alert_states():
        return {(r["metric"]["alertname"], r["metric"].get("ml_feature_name", "")): r["metric"]["alertstate"]
                for r in prom.query('ALERTS{ml_model_name="fraud"}')}

    want = {("MLFeatureDrift", "amount"), ("MLPredictionDrift", "prediction"), ("MLPredictionErrorRateHigh", "")}
    try:
        wait_until(lambda: want <= set(alert_states()), 30, interval=1, what=f"alerts {want}")
    except TimeoutError as exc:
        raise AssertionError(f"{exc}; alerts seen: {alert_states()}") from None
    states = alert_states()
    assert ("MLFeatureDrift", "age") not in states and ("MLFeatureDrift", "score") not in states
    assert {states[k] for k in want} == {"pending"}

    # The Grafana dashboard: every query is valid PromQL over names Prometheus has, and returns data.
    queries = _dashboard_queries()
    assert len(queries) >= 12
    for title, expr in queries:
        promql = _substitute(expr)
        assert "$" not in promql, f"{title}: unsubstituted variable in {promql}"
        assert metric_names(promql) <= names | {"ALERTS"}, f"{title}: {metric_names(promql) - names}"
        assert prom.query(promql), f"panel {title!r} returns no data: {promql}"


def test_grafana_dashboard_is_templated_on_model_and_version():
    """The dashboard JSON parses; its variables list models and versions from a real metric."""
    dash = json.loads(DASHBOARD.read_text())
    variables = {v["name"]: v for v in dash["templating"]["list"]}
    assert {"datasource", "model", "version", "method"} <= set(variables)
    assert variables["model"]["query"]["query"] == "label_values(ml_prediction_duration_seconds_count, ml_model_name)"
    assert "$model" in variables["version"]["query"]["query"]
    assert variables["version"]["includeAll"] and variables["version"]["allValue"] == ".*"
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))
    titles = " ".join(p["title"] for p in dash["panels"]).lower()
    for topic in ("predictions per second", "latency", "error", "drift score per feature", "data-quality"):
        assert topic in titles, topic
    for title, expr in _dashboard_queries():
        if "ALERTS" in expr:
            continue
        assert 'ml_model_name="$model"' in expr, f"{title} is not filtered on the model"


@pytest.mark.timeout(300)
def test_prometheus_remote_write_delivers_the_same_names(start_collector, start_prometheus, start_model_app, tmp_path):
    """Remote-write path (full build): Prometheus receives the drift score under the scrape names."""
    full = BUILD / "otelcol-modeltel-full" / "otelcol-modeltel"
    assert full.exists(), "build it with `make collector-full`"
    prom = start_prometheus(rule_files=[RULES])
    env = collector_env(tmp_path, PROMETHEUS_REMOTE_WRITE_URL=f"http://{prom.address}/api/v1/write")
    collector = start_collector(["prometheus-remote-write.yaml", FAST_DRIFT], env, binary=full)
    app = start_model_app(collector)
    sent = send_traffic(app, requests_=30, rows=100, amount_factor=3.0, fail_every=5)
    app.flush()

    psi = 'ml_drift_score_ratio{ml_model_name="fraud",ml_feature_name="amount",ml_drift_method="psi"}'
    wait_until(lambda: prom.query(f"{psi} > 0.2"), 90, interval=1, what="PSI of amount > 0.2 via remote write")
    wait_until(lambda: prom.query('sum(ml_prediction_duration_seconds_count{ml_model_name="fraud"})')
               and _value(prom.query('sum(ml_prediction_duration_seconds_count{ml_model_name="fraud"})')) == sent["requests"],
               60, interval=1, what="every prediction counted via remote write")
    names = prom.metric_names()
    assert EXPECTED_NAMES - {"ml_data_quality_violations_total"} <= names, f"missing: {EXPECTED_NAMES - names}"
    rules = wait_until(lambda: [r for r in prom.rules() if r.get("health") == "ok"], 30, what="rules evaluated")
    for rule in rules:
        assert metric_names(rule["query"]) <= names | {"ml_data_quality_violations_total"}, rule["name"]
