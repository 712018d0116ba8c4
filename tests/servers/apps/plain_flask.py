"""The iris Flask server with no modeltel (and no OpenTelemetry) code in it."""

import os

import joblib
from flask import Flask, request

model = joblib.load(os.environ["IRIS_MODEL_PATH"])
SPECIES = ("setosa", "versicolor", "virginica")
FEATURES = ("sepal_length", "sepal_width", "petal_length", "petal_width")
app = Flask(__name__)


@app.post("/predict")
def predict():
    body = request.get_json()
    return {"species": SPECIES[int(model.predict([[float(body[f]) for f in FEATURES]])[0])]}


@app.get("/health")
def health():
    return {"status": "ok"}
