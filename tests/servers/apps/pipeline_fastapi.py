"""A FastAPI model server as a third party writes it: a scikit-learn Pipeline loaded with
joblib, the request turned into a one-row DataFrame, no modeltel or OpenTelemetry code.
``sklearn.pipeline`` is imported before anything else (the import order that used to leave
the Pipeline unpatched)."""

from sklearn.pipeline import Pipeline  # noqa: F401 - imported first on purpose

import os

import joblib
import pandas as pd
from fastapi import FastAPI
from pydantic import BaseModel

model = joblib.load(os.environ["IRIS_MODEL_PATH"])
app = FastAPI()


class Flower(BaseModel):
    sepal_length: float
    sepal_width: float
    petal_length: float
    petal_width: float


@app.post("/predict")
def predict(flower: Flower) -> dict:
    frame = pd.DataFrame([flower.model_dump()])
    return {"species": str(model.predict(frame)[0])}


@app.get("/health")
def health() -> dict:
    return {"status": "ok"}
