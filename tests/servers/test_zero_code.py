"""Zero-code: `opentelemetry-instrument` finds ModeltelInstrumentor through its entry point
and instruments an app that has no modeltel code; the telemetry matches what the one-call
integration (examples/fastapi_server.py) gives; OTEL_PYTHON_DISABLED_INSTRUMENTATIONS turns
it off."""

from __future__ import annotations

from pathlib import Path

import httpx

from ._harness import (
    BIN,
    EXAMPLES,
    FLOWER,
    SERVER,
    Server,
    free_port,
    log_records,
    metric_points,
    otel_env,
    spans,
    spans_of_trace,
    traceparent,
    wait_until,
)

APPS = Path(__file__).resolve().parent / "apps"
VERSION = "3.2.1"


def _zero_code_env(otlp, model_path, **extra):
    return otel_env(
        otlp,
        IRIS_MODEL_PATH=str(model_path),
        MODELTEL_MODEL_NAME="iris",
        MODELTEL_MODEL_VERSION=VERSION,
        OTEL_SERVICE_NAME="iris-zero-code",
        OTEL_TRACES_EXPORTER="otlp",
        OTEL_METRICS_EXPORTER="otlp",
        OTEL_LOGS_EXPORTER="otlp",
        **extra,
    )


def _uvicorn(app_dir: Path, target: str, env, tmp_path, instrument: bool) -> Server:
    port = free_port()
    argv = [str(BIN / "uvicorn"), "--app-dir", str(app_dir), target, "--host", "127.0.0.1", "--port", str(port)]
    if instrument:
        argv = [str(BIN / "opentelemetry-instrument"), *argv]
    return Server(argv, env, port, tmp_path)


def _telemetry_of_one_request(server: Server, otlp) -> dict:
    """Drive a predict, a health check and a 422; stop gracefully; summarise what arrived."""
    server.start()
    try:
        for _ in range(3):
            assert httpx.get(server.url + "/health").status_code == 200
        header, trace_id = traceparent()
        assert httpx.post(server.url + "/predict", json=FLOWER, headers={"traceparent": header}).status_code == 200
        assert httpx.post(server.url + "/predict", json={**FLOWER, "sepal_width": "x"}).status_code == 422
        wait_until(lambda: len(spans_of_trace(otlp, trace_id)) >= 2, timeout=20)
    finally:
        server.stop()
    found = spans_of_trace(otlp, trace_id)
    (http_span,) = [s for s in found if s.kind == SERVER]
    predicts = [s for s in spans(otlp) if s.name.startswith("predict ")]
    (predict,) = predicts  # the health checks ran the model but made no prediction
    rejected = [attrs for attrs, _ in metric_points(otlp, "ml.input.rejected")]
    return {
        "predict_name": predict.name,
        "predict_is_child_of_http": predict.parent_span_id == http_span.span_id and predict.trace_id == trace_id,
        "predict": {k: predict.attributes.get(k) for k in ("ml.model.name", "ml.model.version", "http.route", "ml.input.rows", "ml.input.features")},
        "prediction_id_set": len(predict.attributes.get("ml.prediction.id", "")) == 32,
        "http_model": (http_span.attributes.get("ml.model.name"), http_span.attributes.get("ml.model.version")),
        "durations": sorted({attrs["ml.model.name"] for attrs, _ in metric_points(otlp, "ml.prediction.duration")}),
        "distributions": bool(metric_points(otlp, "ml.feature.value")),
        "logs": [r["attributes"]["ml.model.name"] for r in log_records(otlp) if r["event_name"] == "ml.prediction"],
        "rejected": rejected[-1] if rejected else None,
    }


def test_opentelemetry_instrument_gives_the_same_telemetry_as_the_one_call_integration(otlp, iris_model_path, tmp_path):
    zero = _telemetry_of_one_request(
        _uvicorn(APPS, "plain_fastapi:app", _zero_code_env(otlp, iris_model_path), tmp_path, instrument=True), otlp
    )
    otlp.requests.clear()
    code_env = otel_env(otlp, IRIS_MODEL_PATH=str(iris_model_path), IRIS_MODEL_VERSION=VERSION)
    code = _telemetry_of_one_request(_uvicorn(EXAMPLES, "fastapi_server:app", code_env, tmp_path, instrument=False), otlp)

    expected = {
        "predict_name": "predict iris",
        "predict_is_child_of_http": True,
        "predict": {"ml.model.name": "iris", "ml.model.version": VERSION, "http.route": "/predict", "ml.input.rows": 1, "ml.input.features": 4},
        "prediction_id_set": True,
        "http_model": ("iris", VERSION),
        "durations": ["iris"],
        "distributions": True,
        "logs": [],  # the default log rule: a traced success's record is its span
        "rejected": {"ml.model.name": "iris", "ml.model.version": VERSION, "error.type": "fastapi.exceptions.RequestValidationError"},
    }
    assert zero == expected
    assert code == expected


def test_disabled_instrumentations_env_turns_modeltel_off(otlp, iris_model_path, tmp_path):
    env = _zero_code_env(otlp, iris_model_path, OTEL_PYTHON_DISABLED_INSTRUMENTATIONS="modeltel")
    server = _uvicorn(APPS, "plain_fastapi:app", env, tmp_path, instrument=True).start()
    try:
        header, trace_id = traceparent()
        assert httpx.post(server.url + "/predict", json=FLOWER, headers={"traceparent": header}).status_code == 200
        # The server span ends last (after any predict span under it) and spans are
        # exported in the order they end: once it is here, a predict span would be too.
        # (With modeltel off nothing flushes at shutdown, so wait for it before stopping.)
        assert wait_until(
            lambda: any(s.name == "POST /predict" for s in spans_of_trace(otlp, trace_id)), timeout=20
        ), "the FastAPI instrumentation still runs"
    finally:
        server.stop()
    names = [s.name for s in spans(otlp)]
    assert not [n for n in names if n.startswith("predict ")]


def test_gunicorn_under_opentelemetry_instrument_instruments_every_worker(otlp, iris_model_path, tmp_path):
    port = free_port()
    argv = [
        str(BIN / "opentelemetry-instrument"), str(BIN / "gunicorn"), "--chdir", str(APPS),
        "--workers", "2", "--bind", f"127.0.0.1:{port}", "plain_flask:app",
    ]
    server = Server(argv, _zero_code_env(otlp, iris_model_path), port, tmp_path).start()
    traces = []
    try:
        for _ in range(20):
            header, trace_id = traceparent()
            with httpx.Client() as client:
                assert client.post(server.url + "/predict", json=FLOWER, headers={"traceparent": header}).status_code == 200
            traces.append(trace_id)
    finally:
        assert server.stop() == 0
    for trace_id in traces:
        found = spans_of_trace(otlp, trace_id)
        (http_span,) = [s for s in found if s.kind == SERVER]
        (predict,) = [s for s in found if s.name == "predict iris"]
        assert predict.parent_span_id == http_span.span_id
        assert predict.attributes["ml.model.version"] == VERSION
