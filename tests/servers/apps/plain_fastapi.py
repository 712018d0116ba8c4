"""The iris FastAPI server with no modeltel (and no OpenTelemetry) code in it: everything
comes from `opentelemetry-instrument`."""

import os

import joblib
from fastapi import FastAPI
from pydantic import BaseModel

model = joblib.load(os.environ["IRIS_MODEL_PATH"])
SPECIES = ("setosa", "versicolor", "virginica")
app = FastAPI()


class Flower(BaseModel):
    sepal_length: float
    sepal_width: float
    petal_length: float
    petal_width: float


@app.post("/predict")
def predict(flower: Flower) -> dict:
    row = [flower.sepal_length, flower.sepal_width, flower.petal_length, flower.petal_width]
    return {"species": SPECIES[int(model.predict([row])[0])]}


@app.get("/health")
def health() -> dict:
    model.predict([[5.1, 3.5, 1.4, 0.2]])
    return {"status": "ok"}
