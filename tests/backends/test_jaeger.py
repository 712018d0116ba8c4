"""Jaeger: traces of the instrumented model reach a real Jaeger v2 through otelcol-modeltel.

Jaeger (built from the Go module proxy, in-memory storage) runs on loopback; the collector
runs collector-config/jaeger.yaml; the FastAPI model (model_app.py under uvicorn) gets real
HTTP requests. The test then asks Jaeger's query API, as a user would, for the traces by
service and by the `ml.model.name` tag, and checks that each predict span hangs under its
HTTP server span with the model's attributes.
"""

from __future__ import annotations

import pytest

from ._procs import wait_until
from .conftest import collector_env, send_traffic


def _tags(span: dict) -> dict:
    return {t["key"]: t["value"] for t in span.get("tags", [])}


@pytest.mark.timeout(240)
def test_model_traces_are_found_in_jaeger_by_service_and_model_with_predict_under_http(
        jaeger, start_collector, start_model_app, tmp_path):  # Jaeger first: it is stopped last
    """Every request is one trace in Jaeger: HTTP server span -> `predict fraud` child, searchable by ml.model.name."""
    collector = start_collector(["jaeger.yaml"], collector_env(tmp_path, JAEGER_OTLP_ENDPOINT=jaeger.otlp_grpc))
    app = start_model_app(collector)
    sent = send_traffic(app, requests_=12, rows=20, fail_every=4, null_every=0)
    app.flush()

    wait_until(lambda: "fraud-api" in jaeger.services(), 60, interval=0.5, what="service fraud-api in Jaeger")
    by_model = wait_until(
        lambda: (t := jaeger.traces("fraud-api", tags={"ml.model.name": "fraud"})) and len(t) >= sent["requests"] and t,
        60, interval=1, what=f"{sent['requests']} traces tagged ml.model.name=fraud")
    by_service = jaeger.traces("fraud-api")
    assert len(by_model) == sent["requests"]
    assert {t["traceID"] for t in by_model} <= {t["traceID"] for t in by_service}
    assert jaeger.traces("fraud-api", tags={"ml.model.name": "no-such-model"}) == []

    failed = 0
    for trace in by_model:
        spans = trace["spans"]
        by_id = {s["spanID"]: s for s in spans}
        predicts = [s for s in spans if s["operationName"] == "predict fraud"]
        assert len(predicts) == 1, [s["operationName"] for s in spans]
        predict = predicts[0]
        parents = [r for r in predict["references"] if r["refType"] == "CHILD_OF"]
        assert len(parents) == 1
        parent = by_id[parents[0]["spanID"]]
        # The parent is the HTTP server span of the request (FastAPI's instrumentation).
        assert parent["operationName"] == "POST /predict" and parent["references"] == []  # the trace's root
        assert _tags(parent)["span.kind"] == "server" and _tags(parent)["http.route"] == "/predict"
        tags = _tags(predict)
        assert tags["ml.model.name"] == "fraud" and tags["ml.model.version"] == "3.1.0"
        assert tags["ml.input.rows"] == 20 and tags["ml.input.features"] == 3
        assert trace["processes"][predict["processID"]]["serviceName"] == "fraud-api"
        if tags.get("error") is True or tags.get("otel.status_code") == "ERROR":
            failed += 1
            assert tags["error.type"] == "model_app.ModelError"
            assert _tags(parent)["http.status_code"] == 500
    assert failed == sent["failed"]
