"""The performance alert rules: valid for promtool, and each fires on the input it is for.

Series are named as the collector's prometheus exporter names the connector's metrics
(checked against a real scrape when these rules were written: ml_performance_verdict_ratio,
ml_performance_outcomes_total, ml_outcome_unmatched_total).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

RULES = Path(__file__).resolve().parents[2] / "collector-config" / "alerts" / "modeltel-performance.rules.yml"
SCOPE = 'otel_scope_name="github.com/modeltel/mlperformanceconnector",job="otelcol-modeltel"'


@pytest.fixture(scope="module")
def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.skip("install Debian's prometheus package (`make prometheus`)")
    return path


def _rules() -> dict:
    return {r["alert"]: r for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]}


def _series(metric: str, labels: dict[str, str], values: str) -> dict[str, str]:
    inner = ",".join(f'{k}="{v}"' for k, v in labels.items())
    return {"series": f"{metric}{{{inner},{SCOPE}}}", "values": values}


def _expect(alert: str, labels: dict[str, str]) -> dict:
    rule = _rules()[alert]
    render = lambda t: re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: labels.get(m.group(1), ""), t)  # noqa: E731
    return {"exp_labels": {**labels, "severity": rule["labels"]["severity"]},
            "exp_annotations": {k: render(v) for k, v in rule["annotations"].items()}}


def test_promtool_checks_the_rules(promtool):
    out = subprocess.run([promtool, "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr


def test_each_alert_fires_on_its_condition_and_not_below(promtool, tmp_path):
    m = {"ml_model_name": "fraud", "ml_model_version": "3.1.0"}
    cases = [
        {  # eu degraded for 10 minutes, us fine -> one alert, for eu
            "interval": "1m",
            "input_series": [
                _series("ml_performance_verdict_ratio", {**m, "ml_segment": "eu", "ml_performance_metric": "accuracy"}, "0x2 1x12"),
                _series("ml_performance_verdict_ratio", {**m, "ml_segment": "us", "ml_performance_metric": "accuracy"}, "0x14"),
            ],
            "alert_rule_test": [
                {"eval_time": "12m", "alertname": "MLModelPerformanceDegraded",
                 "exp_alerts": [_expect("MLModelPerformanceDegraded", {**m, "ml_segment": "eu"})]},
                {"eval_time": "4m", "alertname": "MLModelPerformanceDegraded", "exp_alerts": []},
            ],
        },
        {  # 30 expired per minute vs 70 joined: 30 % unmatched -> alert; 10 % -> quiet
            "interval": "1m",
            "input_series": [
                _series("ml_outcome_unmatched_total", {**m, "ml_outcome_reason": "expired"}, "0+30x500"),
                _series("ml_performance_outcomes_total", {**m, "ml_outcome_label": "1", "ml_prediction_label": "1"}, "0+70x500"),
                _series("ml_outcome_unmatched_total", {"ml_model_name": "churn", "ml_model_version": "1", "ml_outcome_reason": "expired"}, "0+10x500"),
                _series("ml_performance_outcomes_total", {"ml_model_name": "churn", "ml_model_version": "1"}, "0+90x500"),
            ],
            "alert_rule_test": [
                {"eval_time": "7h", "alertname": "MLOutcomesUnmatchedHigh",
                 "exp_alerts": [_expect("MLOutcomesUnmatchedHigh", {"ml_model_name": "fraud"})]},
            ],
        },
        {  # eu's labels far from the baseline's and significant for 40 min -> alert; us: far
           # but not significant (a small window), apac: significant but close -> quiet
            "interval": "1m",
            "input_series": [
                _series("ml_performance_label_drift_distance_ratio", {**m, "ml_segment": "eu"}, "0.3x50"),
                _series("ml_performance_label_drift_pvalue_ratio", {**m, "ml_segment": "eu"}, "0.00001x50"),
                _series("ml_performance_label_drift_distance_ratio", {**m, "ml_segment": "us"}, "0.3x50"),
                _series("ml_performance_label_drift_pvalue_ratio", {**m, "ml_segment": "us"}, "0.2x50"),
                _series("ml_performance_label_drift_distance_ratio", {**m, "ml_segment": "apac"}, "0.05x50"),
                _series("ml_performance_label_drift_pvalue_ratio", {**m, "ml_segment": "apac"}, "0.00001x50"),
            ],
            "alert_rule_test": [
                {"eval_time": "40m", "alertname": "MLLabelDistributionShifted",
                 "exp_alerts": [_expect("MLLabelDistributionShifted", {**m, "ml_segment": "eu"})]},
                {"eval_time": "20m", "alertname": "MLLabelDistributionShifted", "exp_alerts": []},
            ],
        },
    ]
    tested = {t["alertname"] for c in cases for t in c["alert_rule_test"] if t["exp_alerts"]}
    assert tested == set(_rules())
    test_file = tmp_path / "performance.rules.test.yml"
    test_file.write_text(yaml.safe_dump({"rule_files": [str(RULES)], "evaluation_interval": "1m", "tests": cases},
                                        sort_keys=False))
    out = subprocess.run([promtool, "test", "rules", str(test_file)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
