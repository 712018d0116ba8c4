"""The instrumented model the backend tests send traffic through: a FastAPI fraud scorer.

`modeltel.configure()` sets up OTLP export from the standard OTEL_* variables (the tests point
it at the collector), `instrument_fastapi(app)` gives every request an HTTP server span, and
the model function carries `@modeltel.monitor` with a baseline made from its training data,
so every call has a `predict fraud` span under the HTTP span, duration/error metrics, feature
distributions on the baseline's bins, and one JSON log record.

Run: uvicorn --app-dir tests/backends model_app:app --port 8000
  POST /predict {"rows": [[amount, age, score], ...]}       -> {"scores": [...]}
  POST /predict {"rows": [...], "fail": true}               -> 500 (the model raised)
"""

from __future__ import annotations

import math

import numpy as np
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel

import modeltel
from _fraud_data import training_data
from modeltel.instrumentation import instrument_fastapi

MODEL = "fraud"
VERSION = "3.1.0"
FEATURES = ["amount", "age", "score"]


def _score(X: np.ndarray) -> np.ndarray:
    z = 0.02 * X[:, 0] - 0.01 * X[:, 1] + 1.5 * X[:, 2] - 1.0
    return 1.0 / (1.0 + np.exp(-z))


_X_TRAIN = training_data()
BASELINE = modeltel.Baseline.from_data(_X_TRAIN, model=MODEL, version=VERSION, feature_names=FEATURES,
                               predictions=_score(_X_TRAIN))

modeltel.configure(service_name="fraud-api")


class ModelError(RuntimeError):
    """Raised by the model on request, to exercise error.type."""


@modeltel.monitor(model=MODEL, version=VERSION, feature_names=FEATURES, baseline=BASELINE)
def predict(X: np.ndarray, fail: bool = False) -> np.ndarray:
    if fail:
        raise ModelError("model failed on purpose")
    return _score(X)


class Request(BaseModel):
    rows: list[list[float | None]]
    fail: bool = False


app = FastAPI(title="fraud")


@app.post("/predict")
def predict_route(req: Request) -> dict:
    X = np.array([[math.nan if v is None else v for v in row] for row in req.rows], dtype=float)
    try:
        scores = predict(X, fail=req.fail)
    except ModelError as exc:
        raise HTTPException(status_code=500, detail=str(exc)) from exc
    return {"scores": [float(s) for s in scores]}


@app.get("/health")
def health() -> dict:
    return {"status": "ok"}


@app.post("/flush")
def flush() -> dict:
    """Push every span, metric and log record out now (tests call it before they read)."""
    modeltel.force_flush()
    return {"flushed": True}


instrument_fastapi(app)
