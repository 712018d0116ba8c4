"""uninstrument_fastapi / uninstrument_flask put an app back as it was; ModeltelInstrumentor
honours the tracer_provider and meter_provider it is given, as contrib instrumentors do."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import modeltel
from modeltel.testing import capture


def test_uninstrument_fastapi_restores_routes_handlers_and_middleware():
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    app = FastAPI()

    @app.post("/predict")
    def predict(body: dict) -> dict:
        return {"score": 0.5}

    handlers_before = dict(app.exception_handlers)
    middleware_before = list(app.user_middleware)
    with capture() as cap:
        modeltel.instrument_fastapi(app, predict_routes={"/predict": ("m", "1")})
        with TestClient(app) as client:
            assert client.post("/predict", json={"a": 1.0}).json() == {"score": 0.5}
        assert [s.name for s in cap.spans if s.name.startswith("predict ")] == ["predict m"]
        modeltel.uninstrument_fastapi(app)
        assert dict(app.exception_handlers) == handlers_before
        assert list(app.user_middleware) == middleware_before
        with TestClient(app) as client:
            assert client.post("/predict", json={"a": 1.0}).json() == {"score": 0.5}
            assert client.post("/predict", content=b"[").status_code == 422
        assert [s.name for s in cap.spans if s.name.startswith("predict ")] == ["predict m"]
        assert cap.metric_points("ml.input.rejected") == []


def test_uninstrument_flask_restores_views_and_hooks():
    from flask import Flask, jsonify

    app = Flask(__name__)

    @app.post("/predict")
    def predict():
        return jsonify(score=0.5)

    views_before = dict(app.view_functions)
    with capture() as cap:
        modeltel.instrument_flask(app, predict_routes={"/predict": ("m", "1")})
        modeltel.uninstrument_flask(app)
        assert app.view_functions == views_before
        client = app.test_client()
        assert client.post("/predict", json={"a": 1.0}).get_json() == {"score": 0.5}
    assert [s for s in cap.spans if s.name.startswith("predict ")] == []
    assert cap.metric_points("ml.input.rejected") == []


def test_instrumentor_uses_the_providers_it_is_given():
    pytest.importorskip("sklearn")
    from sklearn.linear_model import LogisticRegression

    from modeltel.instrumentation import ModeltelInstrumentor

    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    clf = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
    instrumentor = ModeltelInstrumentor()
    instrumentor.instrument(tracer_provider=tracer_provider, meter_provider=meter_provider, web=False, configure=False)
    try:
        clf.predict([[1.5]])
    finally:
        instrumentor.uninstrument()
    assert [s.name for s in spans.get_finished_spans()] == ["predict LogisticRegression"]
    names = {m.name for rm in reader.get_metrics_data().resource_metrics for sm in rm.scope_metrics for m in sm.metrics}
    assert "ml.prediction.duration" in names
    clf.predict([[1.5]])  # uninstrumented: nothing more
    assert len(spans.get_finished_spans()) == 1
