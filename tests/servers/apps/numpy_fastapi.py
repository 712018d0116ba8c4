"""A FastAPI server with a numpy model (a weight vector, no ML library), instrumented with the
one call and a baseline file (``IRIS_BASELINE_PATH``), as a third party would."""

import os

import numpy as np
from fastapi import FastAPI
from pydantic import BaseModel

import modeltel

WEIGHTS = np.array([0.4, -0.2, 0.7, 0.1])
app = FastAPI()


class Flower(BaseModel):
    sepal_length: float
    sepal_width: float
    petal_length: float
    petal_width: float


@app.post("/predict")
def predict(flower: Flower) -> dict:
    x = np.array([flower.sepal_length, flower.sepal_width, flower.petal_length, flower.petal_width])
    return {"score": float(1 / (1 + np.exp(-(x @ WEIGHTS - 2.0))))}


@app.get("/health")
def health() -> dict:
    return {"status": "ok"}


modeltel.configure(service_name="iris-numpy")
modeltel.instrument_fastapi(app, predict_routes=["/predict"], baseline=os.environ["IRIS_BASELINE_PATH"])
