"""A Flask model server as a third party writes it: ``jsonify`` responses, ``request.json``,
a numpy model. With ``MODELTEL_ONE_CALL=1`` it makes the one call (``instrument_flask``)."""

import os

import joblib
import numpy as np
from flask import Flask, jsonify, request

model = joblib.load(os.environ["IRIS_MODEL_PATH"])
FEATURES = ("sepal_length", "sepal_width", "petal_length", "petal_width")
app = Flask(__name__)


@app.post("/predict")
def predict():
    body = request.get_json()
    row = np.array([[float(body[f]) for f in FEATURES]])
    return jsonify({"probability": float(model.predict_proba(row)[0].max())})


@app.get("/health")
def health():
    return jsonify(status="ok")


if os.environ.get("MODELTEL_ONE_CALL") == "1":
    import modeltel

    modeltel.configure(service_name="iris-flask-one-call")
    modeltel.instrument_flask(app, predict_routes={"/predict": ("iris-flask", "1.0")})
