"""FastAPI under uvicorn, driven over HTTP on loopback, exporting OTLP to a local capture.

The server is examples/fastapi_server.py serving a scikit-learn model trained in the test.
"""

from __future__ import annotations

import json

import httpx
import pytest

from ._harness import (
    BIN,
    EXAMPLES,
    FLOWER,
    INTERNAL,
    SERVER,
    STATUS_ERROR,
    Server,
    free_port,
    http_status,
    log_records,
    metric_points,
    otel_env,
    spans,
    spans_of_trace,
    traceparent,
    wait_until,
)

VERSION = "2.3.4"
# uvicorn shuts down gracefully on SIGTERM, then re-raises the signal (exit status -15).
GRACEFUL = (0, -15)


@pytest.fixture
def fastapi_server(otlp, iris_model_path, tmp_path):
    port = free_port()
    server = Server(
        [str(BIN / "uvicorn"), "--app-dir", str(EXAMPLES), "fastapi_server:app", "--host", "127.0.0.1", "--port", str(port)],
        otel_env(otlp, IRIS_MODEL_PATH=str(iris_model_path), IRIS_MODEL_VERSION=VERSION),
        port,
        tmp_path,
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _request_spans(otlp, trace_id, count=2):
    return wait_until(lambda: (s := spans_of_trace(otlp, trace_id)) and len(s) >= count and s, timeout=20)


def test_predict_span_is_child_of_http_span_with_ids_version_route_and_input(fastapi_server, otlp):
    header, trace_id = traceparent()
    response = httpx.post(fastapi_server.url + "/predict", json=FLOWER, headers={"traceparent": header})
    assert response.status_code == 200 and response.json() == {"species": "setosa"}
    prediction_id = response.headers["x-prediction-id"]

    found = _request_spans(otlp, trace_id)
    (http_span,) = [s for s in found if s.kind == SERVER]
    (predict,) = [s for s in found if s.name == "predict iris"]
    assert predict.kind == INTERNAL
    assert predict.parent_span_id == http_span.span_id
    assert predict.attributes["ml.prediction.id"] == prediction_id
    assert predict.attributes["ml.model.version"] == VERSION
    assert predict.attributes["http.route"] == "/predict"
    assert predict.attributes["ml.input.rows"] == 1
    assert predict.attributes["ml.input.features"] == 4
    # The model called inside the route added no span of its own (nested call).
    assert not [s for s in found if s.name.startswith("predict ") and s is not predict]
    assert http_span.attributes["http.route"] == "/predict"
    assert http_span.attributes["ml.model.name"] == "iris"
    assert http_span.attributes["ml.model.version"] == VERSION
    assert http_status(http_span) == 200


def test_batch_async_and_streaming_routes_are_predictions_and_stream_intact(fastapi_server, otlp):
    flowers = [FLOWER, {**FLOWER, "petal_length": 5.0, "petal_width": 1.8}, FLOWER]
    header, batch_trace = traceparent()
    batch = httpx.post(fastapi_server.url + "/predict/batch", json=flowers, headers={"traceparent": header})
    assert batch.status_code == 200 and len(batch.json()["species"]) == 3

    header, stream_trace = traceparent()
    with httpx.stream("POST", fastapi_server.url + "/predict/stream", json=flowers, headers={"traceparent": header}) as r:
        lines = [json.loads(line) for line in r.iter_lines() if line]
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/jsonl")
    assert [line["species"] for line in lines] == batch.json()["species"]

    header, lines_trace = traceparent()
    r = httpx.post(fastapi_server.url + "/predict/lines", json=flowers, headers={"traceparent": header})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/jsonl")
    assert [json.loads(line)["species"] for line in r.text.splitlines() if line] == batch.json()["species"]

    for trace_id in (batch_trace, stream_trace, lines_trace):
        (predict,) = [s for s in _request_spans(otlp, trace_id) if s.name == "predict iris"]
        assert predict.attributes["ml.input.rows"] == 3
        assert predict.attributes["ml.input.features"] == 4


def test_health_endpoint_is_neither_traced_nor_counted(fastapi_server, otlp):
    for _ in range(5):
        assert httpx.get(fastapi_server.url + "/health").status_code == 200  # runs model.predict
    header, trace_id = traceparent()
    assert httpx.post(fastapi_server.url + "/predict", json=FLOWER, headers={"traceparent": header}).status_code == 200
    _request_spans(otlp, trace_id)
    assert fastapi_server.stop() in GRACEFUL  # graceful shutdown: buffered metrics flushed
    assert not [s for s in spans(otlp) if "/health" in s.name or s.attributes.get("http.route") == "/health"]
    assert not [s for s in spans(otlp) if s.name.startswith("predict ") and s.name != "predict iris"]
    counts = [p.count for attrs, p in metric_points(otlp, "ml.prediction.duration") if attrs["ml.model.name"] == "iris"]
    assert counts and max(counts) == 1  # cumulative: the one predict request, no health checks


def test_predict_error_gives_error_span_under_500_one_error_log_and_error_metric(fastapi_server, otlp):
    header, trace_id = traceparent()
    body = '{"sepal_length": Infinity, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}'
    response = httpx.post(
        fastapi_server.url + "/predict", content=body, headers={"traceparent": header, "content-type": "application/json"}
    )
    assert response.status_code == 500
    found = _request_spans(otlp, trace_id)
    (http_span,) = [s for s in found if s.kind == SERVER]
    (predict,) = [s for s in found if s.name == "predict iris"]
    assert predict.parent_span_id == http_span.span_id
    assert predict.status_code == STATUS_ERROR
    assert predict.attributes["error.type"] == "ValueError"
    assert "exception" in predict.events
    assert http_status(http_span) == 500
    assert http_span.status_code == STATUS_ERROR
    assert fastapi_server.stop() in GRACEFUL
    errors = [r for r in log_records(otlp) if r["event_name"] == "ml.prediction" and r["trace_id"] == trace_id]
    assert len(errors) == 1 and errors[0]["severity_number"] == 17  # ERROR
    failed = [p.count for attrs, p in metric_points(otlp, "ml.prediction.duration") if attrs.get("error.type") == "ValueError"]
    assert failed and max(failed) == 1


def test_validation_error_422_is_counted_as_rejected_input_of_the_routes_model(fastapi_server, otlp):
    header, trace_id = traceparent()
    bad = {**FLOWER, "sepal_length": "not a number"}
    response = httpx.post(fastapi_server.url + "/predict", json=bad, headers={"traceparent": header})
    assert response.status_code == 422
    found = _request_spans(otlp, trace_id, count=1)
    (http_span,) = [s for s in found if s.kind == SERVER]
    assert http_span.attributes["ml.model.name"] == "iris"
    assert not [s for s in found if s.name.startswith("predict ")]  # the model never ran
    assert fastapi_server.stop() in GRACEFUL
    rejected = [
        (attrs, p.as_int) for attrs, p in metric_points(otlp, "ml.input.rejected")
    ]
    assert rejected
    attrs, value = rejected[-1]
    assert value == 1
    assert attrs == {
        "ml.model.name": "iris",
        "ml.model.version": VERSION,
        "error.type": "fastapi.exceptions.RequestValidationError",
    }
