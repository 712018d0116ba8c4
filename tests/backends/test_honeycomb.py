"""Honeycomb: what collector-config/honeycomb.yaml would send, captured on loopback.

Honeycomb cannot be reached from here, so HONEYCOMB_API_ENDPOINT points the collector at a
local OTLP/HTTP capture server; the API key and the metrics dataset come from the
environment, as in production. The test asserts the paths, the headers on every request,
and that spans, metrics (the SDK's and mldrift's drift scores) and logs (the SDK's
prediction records and mldrift's drift event) all arrive, decoded.
"""

from __future__ import annotations

import pytest

from ._capture import any_value, attributes
from ._procs import wait_until
from .conftest import HERE, collector_env, send_traffic

KEY = "hcaik_test_0123456789abcdef"  # stands for ${env:HONEYCOMB_API_KEY}
DATASET = "ml-metrics-test"


def _log_text(record) -> str:
    body = any_value(record.body)
    return f"{record.event_name} {body} {attributes(record.attributes)}"


@pytest.mark.timeout(240)
def test_honeycomb_gets_traces_metrics_and_logs_with_team_key_and_metrics_dataset(
        start_collector, start_model_app, otlp_capture, tmp_path):
    """Paths /v1/{traces,metrics,logs}; x-honeycomb-team on all; x-honeycomb-dataset on metrics only."""
    env = collector_env(tmp_path, HONEYCOMB_API_ENDPOINT=otlp_capture.endpoint, HONEYCOMB_API_KEY=KEY,
                        HONEYCOMB_METRICS_DATASET=DATASET)
    collector = start_collector(["honeycomb.yaml", HERE / "configs" / "fast-drift.yaml"], env)
    app = start_model_app(collector)
    sent = send_traffic(app, requests_=20, rows=100, amount_factor=3.0, fail_every=5)
    app.flush()

    def drift_of_amount():
        return [p for _, name, p in otlp_capture.metric_points()
                if name == "ml.drift.score" and attributes(p.attributes).get("ml.feature.name") == "amount"
                and attributes(p.attributes).get("ml.drift.method") == "psi" and p.as_double > 0.2]

    wait_until(drift_of_amount, 60, interval=1, what="ml.drift.score of amount at the intake")
    wait_until(lambda: any("ml.drift.started" in _log_text(r) for _, r in otlp_capture.log_records()), 30,
               interval=1, what="mldrift's drift log record at the intake")
    wait_until(lambda: len([s for _, s in otlp_capture.spans() if s.name == "predict fraud"]) == sent["requests"],
               30, interval=1, what="every predict span at the intake")

    assert not otlp_capture.errors
    assert {r.path for r in otlp_capture.requests} == {"/v1/traces", "/v1/metrics", "/v1/logs"}
    for req in otlp_capture.requests:
        assert req.headers["x-honeycomb-team"] == KEY, req.path
        assert req.headers.get("content-encoding") == "gzip"
        assert req.headers["content-type"] == "application/x-protobuf"
        if req.path == "/v1/metrics":
            assert req.headers["x-honeycomb-dataset"] == DATASET
        else:  # traces and logs go to the dataset of their service.name
            assert "x-honeycomb-dataset" not in req.headers

    spans = otlp_capture.spans()
    assert {res["service.name"] for res, _ in spans} == {"fraud-api"}
    predict = [s for _, s in spans if s.name == "predict fraud"]
    http = {s.span_id: s for _, s in spans if s.name == "POST /predict"}
    assert all(s.parent_span_id in http for s in predict)
    assert all(attributes(s.attributes)["ml.model.name"] == "fraud" for s in predict)

    names = {name for _, name, _ in otlp_capture.metric_points()}
    assert {"ml.prediction.duration", "ml.prediction.rows", "ml.drift.score", "ml.drift.detected",
            "ml.data_quality.rate", "ml.feature.value"} <= names

    logs = [_log_text(r) for _, r in otlp_capture.log_records()]
    assert sum("ml.prediction" in t and "ml.drift" not in t for t in logs) >= sent["requests"]
    assert any("ml.drift.started" in t and "amount" in t for t in logs)
