"""Predict routes in process (FastAPI TestClient, Flask test client), with the HTTP spans of
the official instrumentations and modeltel's spans captured in memory: route lists and the
decorator on both frameworks, body shapes, streaming, generators, zero-code hooks."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Annotated

import pytest

from modeltel.instrumentation import instrument_fastapi, instrument_flask, predict_route
from modeltel.testing import capture


try:
    from fastapi import Depends
    from pydantic import BaseModel

    class Row(BaseModel):  # module level: FastAPI resolves string annotations from globals
        amount: float
except ImportError:  # pragma: no cover - pydantic comes with fastapi in the test extra
    pass


def current_user() -> dict:
    """A dependency whose result is a dict (must not be mistaken for the request body)."""
    return {"user": "ada", "tier": "gold"}


def _by_name(cap, prefix):
    return [s for s in cap.spans if s.name.startswith(prefix)]


def test_importing_modeltel_imports_no_web_framework_or_ml_library():
    code = (
        "import sys, modeltel, modeltel.instrumentation\n"
        "heavy = [m for m in ('fastapi', 'flask', 'sklearn', 'xgboost', 'lightgbm', 'onnxruntime', 'torch',"
        " 'opentelemetry.instrumentation') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_fastapi_route_list_async_handler_and_instances_envelope():
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    app = FastAPI()

    @app.post("/v1/models/churn:predict")
    async def predict(body: dict) -> dict:
        return {"predictions": [0.1 * i for i in range(len(body["instances"]))]}

    @app.get("/other")
    def other() -> dict:
        return {}

    with capture() as cap:
        instrument_fastapi(
            app, predict_routes={"/v1/models/churn:predict": ("churn", "7")}, tracer_provider=cap.tracer_provider
        )
        with TestClient(app) as client:
            r = client.post("/v1/models/churn:predict", json={"instances": [[1, 2, 3], [4, 5, 6]]})
            assert r.status_code == 200 and len(r.json()["predictions"]) == 2
            assert client.get("/other").status_code == 200
    (predict_span,) = _by_name(cap, "predict ")
    (http_span,) = [s for s in cap.spans if s.name == "POST /v1/models/churn:predict"]
    assert predict_span.name == "predict churn"
    assert predict_span.parent.span_id == http_span.context.span_id
    assert predict_span.attributes["ml.input.rows"] == 2
    assert predict_span.attributes["ml.input.features"] == 3
    assert "ml.output.rows" not in predict_span.attributes  # set only when it differs from the input rows
    assert http_span.attributes["ml.model.name"] == "churn"
    # no per-message ASGI spans ("http send"/"http receive") by default
    assert not [s for s in cap.spans if s.name.endswith(("http send", "http receive"))]


def test_fastapi_route_list_422_counts_the_listed_model():
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    app = FastAPI()

    @app.post("/score")
    def score(row: Row) -> dict:
        return {"score": row.amount / 100}

    with capture() as cap:
        instrument_fastapi(
            app, predict_routes=["/score"], model="fraud", version="3",
            tracer_provider=cap.tracer_provider, meter_provider=cap.meter_provider,
        )
        with TestClient(app) as client:
            assert client.post("/score", json={"amount": "lots"}).status_code == 422
            assert client.post("/score", json={"amount": 12.5}).status_code == 200
        (point,) = cap.metric_points("ml.input.rejected")
    assert point.value == 1
    assert dict(point.attributes) == {
        "ml.model.name": "fraud", "ml.model.version": "3", "error.type": "fastapi.exceptions.RequestValidationError",
    }
    (predict_span,) = _by_name(cap, "predict ")
    assert predict_span.name == "predict fraud" and predict_span.attributes["ml.input.rows"] == 1


def test_fastapi_raw_generator_handler_is_one_prediction_as_long_as_the_stream():
    """A generator handler (response_class=StreamingResponse): one predict span under the
    HTTP span, ending with the stream; the chunks are its output rows, the body untouched."""
    from fastapi import FastAPI
    from fastapi.responses import StreamingResponse
    from fastapi.testclient import TestClient

    app = FastAPI()

    @app.get("/stream", response_class=StreamingResponse)
    @predict_route(model="gen")
    def stream(n: int):
        for item in range(1, n + 1):
            yield f"{item}\n"

    with capture(log_sample_rate=1.0) as cap:
        instrument_fastapi(app, tracer_provider=cap.tracer_provider)
        with TestClient(app) as client:
            r = client.get("/stream", params={"n": 3})
    assert r.status_code == 200 and r.text == "1\n2\n3\n"
    (predict_span,) = _by_name(cap, "predict ")
    (http_span,) = [s for s in cap.spans if s.name == "GET /stream"]
    assert predict_span.name == "predict gen"
    assert predict_span.parent.span_id == http_span.context.span_id
    assert predict_span.attributes["ml.output.rows"] == 3  # one per chunk, no input recorded
    assert http_span.attributes["ml.model.name"] == "gen"
    (record,) = cap.logs
    assert record["output"]["type"] == "str"


@pytest.mark.parametrize("is_async", [False, True])
def test_fastapi_json_lines_generator_route_summarises_the_body_and_every_streamed_row(is_async):
    """FastAPI streams what a generator route yields as JSON Lines: the body is the input,
    each yielded record an output row, and the span covers the whole stream."""
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    app = FastAPI()

    if is_async:

        @app.post("/score")
        @predict_route(model="scorer", version="2")
        async def score(rows: list[Row]):
            for row in rows:
                yield {"score": row.amount / 100}

    else:

        @app.post("/score")
        @predict_route(model="scorer", version="2")
        def score(rows: list[Row]):
            for row in rows:
                yield {"score": row.amount / 100}

    with capture(log_sample_rate=1.0) as cap:
        instrument_fastapi(app, tracer_provider=cap.tracer_provider)
        with TestClient(app) as client:
            r = client.post("/score", json=[{"amount": 10.0}, {"amount": 50.0}, {"amount": 90.0}, {"amount": 20.0}])
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/jsonl")
    assert [json.loads(line)["score"] for line in r.text.splitlines() if line] == [0.1, 0.5, 0.9, 0.2]
    (predict_span,) = _by_name(cap, "predict ")
    (http_span,) = [s for s in cap.spans if s.name == "POST /score"]
    assert predict_span.name == "predict scorer"
    assert predict_span.parent.span_id == http_span.context.span_id
    assert predict_span.attributes["ml.model.version"] == "2"
    assert predict_span.attributes["ml.input.rows"] == 4
    assert "ml.output.rows" not in predict_span.attributes  # 4 streamed rows for 4 input rows
    assert predict_span.attributes["http.route"] == "/score"
    (record,) = cap.logs
    assert record["rows"] == 4 and record["output"]["rows"] == 1  # the log shows the last chunk
    assert predict_span.end_time <= http_span.end_time


def test_flask_generator_view_is_parented_to_the_request_that_made_it():
    """Flask iterates a streamed body after the request's context is detached: the predict
    span still belongs to the request's HTTP span."""
    from flask import Flask

    app = Flask(__name__)

    @app.post("/lines")
    @predict_route(model="lines")
    def lines():
        for label in ("a", "b"):
            yield label + "\n"

    with capture() as cap:
        instrument_flask(app, tracer_provider=cap.tracer_provider)
        r = app.test_client().post("/lines", json={"x": 1.0})
        assert r.status_code == 200 and r.get_data(as_text=True) == "a\nb\n"
    (predict_span,) = _by_name(cap, "predict ")
    (http_span,) = [s for s in cap.spans if s.name == "POST /lines"]
    assert predict_span.parent.span_id == http_span.context.span_id
    assert predict_span.attributes["ml.input.rows"] == 1
    assert predict_span.attributes["ml.output.rows"] == 2


def test_flask_decorator_with_json_body_read_once_by_the_view():
    from flask import Flask, request

    app = Flask(__name__)
    reads = []

    @app.post("/predict")
    @predict_route(model="iris", version="9")
    def predict():
        body = request.get_json()  # cached: the same object modeltel summarised
        reads.append(body)
        return {"labels": [0 for _ in body]}

    @app.get("/healthz")
    def healthz():
        return "ok"

    with capture() as cap:
        instrument_flask(app, tracer_provider=cap.tracer_provider)
        client = app.test_client()
        r = client.post("/predict", json=[{"a": 1.0, "b": "x"}, {"a": 2.0, "b": "y"}, {"a": 3.0, "b": "x"}])
        assert r.status_code == 200
        assert client.get("/healthz").status_code == 200
    (predict_span,) = _by_name(cap, "predict ")
    assert predict_span.name == "predict iris"
    assert predict_span.attributes["ml.input.rows"] == 3
    assert predict_span.attributes["ml.input.features"] == 2
    assert predict_span.attributes["http.route"] == "/predict"
    assert len(reads) == 1
    assert not [s for s in cap.spans if "healthz" in s.name]


def test_flask_view_error_is_an_error_span_and_the_exception_is_unchanged():
    from flask import Flask

    app = Flask(__name__)

    class ModelBroken(RuntimeError):
        pass

    @app.post("/predict")
    def predict():
        raise ModelBroken("weights missing")

    with capture() as cap:
        instrument_flask(app, predict_routes={"/predict": "m"}, tracer_provider=cap.tracer_provider)
        client = app.test_client()
        assert client.post("/predict", json={"x": 1.0}).status_code == 500
    (predict_span,) = _by_name(cap, "predict ")
    assert predict_span.status.status_code.name == "ERROR"
    assert predict_span.attributes["error.type"].endswith("ModelBroken")
    assert [r["level"] for r in cap.logs] == ["error"]


def test_zero_code_hooks_are_installed_on_apps_and_removed_by_uninstrument():
    from fastapi import FastAPI
    from fastapi.testclient import TestClient
    from sklearn.dummy import DummyClassifier

    from modeltel.instrumentation import ModeltelInstrumentor
    from modeltel.instrumentation._instrumentor import _web_hooks

    model = DummyClassifier().fit([[0.0], [1.0]], [0, 1])
    instrumentor = ModeltelInstrumentor()
    instrumentor.instrument(configure=False)
    try:
        app = FastAPI()

        @app.get("/health")
        def health() -> dict:
            model.predict([[0.5]])  # a readiness probe running the model: not a prediction
            return {"ok": True}

        @app.post("/predict")
        def predict(body: dict) -> dict:
            return {"y": int(model.predict([[body["x"]]])[0])}

        with capture() as cap:
            with TestClient(app) as client:
                client.get("/health")
                client.post("/predict", json={"x": 0.3})
        assert [s.name for s in _by_name(cap, "predict ")] == ["predict DummyClassifier"]
        assert _web_hooks.patches
    finally:
        instrumentor.uninstrument()
    assert not _web_hooks.patches
    from fastapi.applications import FastAPI as Base

    assert not hasattr(Base.__dict__["build_middleware_stack"], "__wrapped__")


def test_fastapi_route_list_reaches_routes_added_with_include_router():
    from fastapi import APIRouter, FastAPI
    from fastapi.testclient import TestClient

    router = APIRouter(prefix="/v2")

    @router.post("/predict")
    def predict(row: Row) -> dict:
        return {"score": row.amount}

    app = FastAPI()
    app.include_router(router)
    with capture() as cap:
        instrument_fastapi(app, predict_routes={"/v2/predict": "nested"}, tracer_provider=cap.tracer_provider)
        with TestClient(app) as client:
            assert client.post("/v2/predict", json={"amount": 3.0}).status_code == 200
    (span,) = _by_name(cap, "predict ")
    assert span.name == "predict nested" and span.attributes["http.route"] == "/v2/predict"


def test_fastapi_dependency_results_are_not_taken_for_the_body():
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    app = FastAPI()

    @app.post("/predict")
    @predict_route(model="m")
    def predict(user: Annotated[dict, Depends(current_user)], rows: list[Row]) -> dict:
        return {"scores": [r.amount for r in rows]}

    with capture() as cap:
        instrument_fastapi(app, tracer_provider=cap.tracer_provider)
        with TestClient(app) as client:
            assert client.post("/predict", json=[{"amount": 1.0}, {"amount": 2.0}]).status_code == 200
    (span,) = _by_name(cap, "predict ")
    assert span.attributes["ml.input.rows"] == 2  # the body, not the user dict


def test_fastapi_routes_listed_before_they_are_defined_are_wrapped_on_first_request():
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    app = FastAPI()
    with capture() as cap:
        instrument_fastapi(app, predict_routes={"/late": "late-model"}, tracer_provider=cap.tracer_provider)

        @app.post("/late")
        def late(row: Row) -> dict:
            return {"score": row.amount}

        with TestClient(app) as client:
            assert client.post("/late", json={"amount": 1.0}).status_code == 200
    (span,) = _by_name(cap, "predict ")
    assert span.name == "predict late-model"
