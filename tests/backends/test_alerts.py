"""The Prometheus alert rules: valid for promtool, and each fires on the input it is for.

`promtool test rules` replays synthetic series (named exactly as the collector's prometheus
exporter names them, see test_prometheus.py for the real ones) through
collector-config/alerts/modeltel.rules.yml and compares the alerts, labels and rendered
annotations with what is expected here. Every alert has a case that fires and, where a
threshold is involved, a case just under it that must not.
"""

from __future__ import annotations

import re
import subprocess
from typing import Any

import pytest
import yaml

from .conftest import CONFIGS

RULES = CONFIGS / "alerts" / "modeltel.rules.yml"
M = {"ml_model_name": "fraud", "ml_model_version": "3.1.0"}
SCOPE = 'otel_scope_name="github.com/modeltel/mldriftprocessor",job="otelcol-modeltel",instance="collector:8889"'


def _rules() -> dict[str, dict[str, Any]]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return {r["alert"]: r for g in groups for r in g["rules"]}


def test_promtool_check_rules_passes(promtool_bin):
    """`promtool check rules` accepts the file and counts every rule."""
    out = subprocess.run([promtool_bin, "check", "rules", RULES], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"SUCCESS: {len(_rules())} rules found" in out.stdout


def test_every_alert_has_severity_summary_and_runbook():
    """Each rule says how bad it is, what happened, and what to look at first."""
    rules = _rules()
    assert set(rules) == {
        "MLFeatureDrift", "MLPredictionDrift", "MLDatasetDrift", "MLNullRateHigh", "MLOutOfRangeRateHigh",
        "MLUnseenCategoryRateHigh", "MLSchemaViolations", "MLPredictionErrorRateHigh",
        "MLPredictionLatencyP99High", "MLModelNoTraffic",
    }
    for name, rule in rules.items():
        assert rule["labels"]["severity"] in {"warning", "critical"}, name
        ann = rule["annotations"]
        assert "{{ $labels.ml_model_name }}" in ann["summary"], name
        assert ann["runbook"].startswith("First "), f"{name}: the runbook should say what to look at first"
        assert len(ann["runbook"]) > 150, name


# --- promtool unit tests ---------------------------------------------------------------------


def _series(metric: str, labels: dict[str, str], values: str, scope: str = SCOPE) -> dict[str, str]:
    inner = ",".join(f'{k}="{v}"' for k, v in labels.items())
    return {"series": f"{metric}{{{inner},{scope}}}", "values": values}


def _humanize_percentage(v: float) -> str:
    return f"{v * 100:.4g}%"


def _humanize_duration(v: float) -> str:
    # Prometheus's humanizeDuration for values under one second.
    assert 0 < v < 1
    prefix = ""
    for p in ["m", "u", "n"]:
        if abs(v) >= 1:
            break
        prefix, v = p, v * 1000
    return f"{v:.4g}{prefix}s"


def _render(template: str, labels: dict[str, str], value: float | None) -> str:
    """The subset of Go templating the rules use: labels, value, two humanize functions."""

    def sub(m: re.Match[str]) -> str:
        expr = m.group(1).strip()
        if expr.startswith("$labels."):
            return labels.get(expr[len("$labels."):], "")
        if expr == "$value | humanizePercentage":
            return _humanize_percentage(value)  # type: ignore[arg-type]
        if expr == "$value | humanizeDuration":
            return _humanize_duration(value)  # type: ignore[arg-type]
        raise AssertionError(f"template construct not covered by this test: {expr}")

    return re.sub(r"\{\{(.*?)\}\}", sub, template)


def _expect(alert: str, labels: dict[str, str], value: float | None = None) -> dict[str, Any]:
    rule = _rules()[alert]
    all_labels = {**labels, "severity": rule["labels"]["severity"]}
    return {
        "exp_labels": all_labels,
        "exp_annotations": {k: _render(v, labels, value) for k, v in rule["annotations"].items()},
    }


def _cases() -> list[dict[str, Any]]:
    amount = {**M, "ml_feature_name": "amount"}
    age = {**M, "ml_feature_name": "age"}
    prediction = {**M, "ml_feature_name": "prediction"}
    sdk = 'job="fraud-api",instance="pod-1",otel_scope_name="modeltel"'

    def quality(check: str, feature: str, values: str) -> dict[str, str]:
        return _series("ml_data_quality_rate_ratio",
                       {**M, "ml_feature_name": feature, "ml_feature_role": "input", "ml_data_quality_check": check}, values)

    def duration_count(values: str, error: str | None = None) -> dict[str, str]:
        labels = dict(M) if error is None else {**M, "error_type": error}
        return _series("ml_prediction_duration_seconds_count", labels, values, scope=sdk)

    def bucket(le: str, values: str) -> dict[str, str]:
        return _series("ml_prediction_duration_seconds_bucket", {**M, "le": le}, values, scope=sdk)

    return [
        {  # an input feature drifting for 15 minutes fires; one that does not stays quiet
            "interval": "1m",
            "input_series": [
                _series("ml_drift_detected_ratio", {**amount, "ml_feature_role": "input"}, "1x20"),
                _series("ml_drift_detected_ratio", {**age, "ml_feature_role": "input"}, "0x20"),
                _series("ml_drift_detected_ratio", {**prediction, "ml_feature_role": "output"}, "0x20"),
            ],
            "alert_rule_test": [
                {"eval_time": "5m", "alertname": "MLFeatureDrift", "exp_alerts": []},  # still pending
                {"eval_time": "15m", "alertname": "MLFeatureDrift", "exp_alerts": [_expect("MLFeatureDrift", amount)]},
                {"eval_time": "15m", "alertname": "MLPredictionDrift", "exp_alerts": []},
            ],
        },
        {  # prediction drift and dataset drift
            "interval": "1m",
            "input_series": [
                _series("ml_drift_detected_ratio", {**prediction, "ml_feature_role": "output"}, "1x20"),
                _series("ml_drift_dataset_detected_ratio", M, "1x20"),
            ],
            "alert_rule_test": [
                {"eval_time": "15m", "alertname": "MLPredictionDrift",
                 "exp_alerts": [_expect("MLPredictionDrift", prediction)]},
                {"eval_time": "16m", "alertname": "MLDatasetDrift", "exp_alerts": [_expect("MLDatasetDrift", M)]},
            ],
        },
        {  # data-quality rates: above the threshold fires, under it does not
            "interval": "1m",
            "input_series": [
                quality("null", "age", "0.1x20"),
                quality("null", "score", "0.01x20"),
                quality("out_of_range", "amount", "0.25x20"),
                quality("out_of_range", "age", "0.04x20"),
                quality("unseen_category", "country", "0.5x20"),
                quality("missing_feature", "score", "0.02x20"),
                quality("type_mismatch", "age", "0.001x20"),
            ],
            "alert_rule_test": [
                {"eval_time": "15m", "alertname": "MLNullRateHigh",
                 "exp_alerts": [_expect("MLNullRateHigh", {**M, "ml_feature_name": "age"}, 0.1)]},
                {"eval_time": "15m", "alertname": "MLOutOfRangeRateHigh",
                 "exp_alerts": [_expect("MLOutOfRangeRateHigh", amount, 0.25)]},
                {"eval_time": "15m", "alertname": "MLUnseenCategoryRateHigh",
                 "exp_alerts": [_expect("MLUnseenCategoryRateHigh", {**M, "ml_feature_name": "country"}, 0.5)]},
                {"eval_time": "15m", "alertname": "MLSchemaViolations",
                 "exp_alerts": [_expect("MLSchemaViolations",
                                        {**M, "ml_feature_name": "score", "ml_data_quality_check": "missing_feature"})]},
            ],
        },
        {  # 10 % of predictions fail -> error-rate alert; latency under the SLO -> quiet
            "interval": "1m",
            "input_series": [
                duration_count("0+90x20"),
                duration_count("0+10x20", error="builtins.ValueError"),
                bucket("0.1", "0+100x20"),
                bucket("+Inf", "0+100x20"),
            ],
            "alert_rule_test": [
                {"eval_time": "12m", "alertname": "MLPredictionErrorRateHigh",
                 "exp_alerts": [_expect("MLPredictionErrorRateHigh", M, 0.1)]},
                {"eval_time": "15m", "alertname": "MLPredictionLatencyP99High", "exp_alerts": []},
                {"eval_time": "15m", "alertname": "MLModelNoTraffic", "exp_alerts": []},
            ],
        },
        {  # 1 % failing stays under the 5 % threshold
            "interval": "1m",
            "input_series": [duration_count("0+99x20"), duration_count("0+1x20", error="builtins.ValueError")],
            "alert_rule_test": [{"eval_time": "15m", "alertname": "MLPredictionErrorRateHigh", "exp_alerts": []}],
        },
        {  # every prediction between 0.5 s and 0.75 s -> p99 = 0.7475 s, over the 0.5 s SLO
            "interval": "1m",
            "input_series": [
                bucket("0.5", "0x30"),
                bucket("0.75", "0+100x30"),
                bucket("+Inf", "0+100x30"),
                duration_count("0+100x30"),
            ],
            "alert_rule_test": [
                {"eval_time": "20m", "alertname": "MLPredictionLatencyP99High",
                 "exp_alerts": [_expect("MLPredictionLatencyP99High", M, 0.5 + 0.25 * 0.99)]},
            ],
        },
        {  # traffic stops (the counter stays flat) -> no-traffic alert; traffic goes on -> quiet
            "interval": "1m",
            "input_series": [
                _series("ml_prediction_duration_seconds_count", {**M, "ml_model_name": "fraud"}, "0+10x10 100x30", scope=sdk),
                _series("ml_prediction_duration_seconds_count", {**M, "ml_model_name": "churn"}, "0+10x40", scope=sdk),
            ],
            "alert_rule_test": [
                {"eval_time": "15m", "alertname": "MLModelNoTraffic", "exp_alerts": []},
                {"eval_time": "35m", "alertname": "MLModelNoTraffic",
                 "exp_alerts": [_expect("MLModelNoTraffic", {"ml_model_name": "fraud"})]},
            ],
        },
        {  # the model's series disappear altogether (servers gone) -> still alerts
            "interval": "1m",
            "input_series": [
                _series("ml_prediction_duration_seconds_count", M, "0+10x10 _x60", scope=sdk),
            ],
            "alert_rule_test": [
                {"eval_time": "40m", "alertname": "MLModelNoTraffic",
                 "exp_alerts": [_expect("MLModelNoTraffic", {"ml_model_name": "fraud"})]},
            ],
        },
    ]


def test_each_alert_fires_on_its_condition_with_rendered_annotations(promtool_bin, tmp_path):
    """`promtool test rules`: every alert fires (labels and annotations exact) and stays quiet under threshold."""
    cases = _cases()
    tested = {t["alertname"] for c in cases for t in c["alert_rule_test"] if t["exp_alerts"]}
    assert tested == set(_rules()), f"alerts without a firing case: {set(_rules()) - tested}"
    test_file = tmp_path / "modeltel.rules.test.yml"
    test_file.write_text(yaml.safe_dump({
        "rule_files": [str(RULES)],
        "evaluation_interval": "1m",
        "tests": cases,
    }, sort_keys=False))
    out = subprocess.run([promtool_bin, "test", "rules", test_file], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SUCCESS" in out.stdout


@pytest.mark.parametrize("value,text", [(0.1, "10%"), (0.25, "25%"), (0.7475, "747.5ms")])
def test_local_humanize_matches_prometheus_format(value, text):
    """The test's own rendering of humanizePercentage/humanizeDuration (used above) is Prometheus's."""
    render = _humanize_duration if text.endswith("s") else _humanize_percentage
    assert render(value) == text
