"""A Flask model server instrumented with one call, served by gunicorn.

Run it (2 pre-forked workers, port 8001)::

    gunicorn --chdir examples -w 2 --preload -b 127.0.0.1:8001 flask_server:app
    # or, for development: python examples/flask_server.py

    curl -s localhost:8001/predict -H 'content-type: application/json' \\
         -d '{"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}'

``modeltel.configure()`` runs in the gunicorn master when ``--preload`` is used; the
OpenTelemetry exporters restart their threads in every forked worker, so each worker
exports its own telemetry, and everything buffered is flushed when a worker shuts down.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from flask import Flask, request

sys.path.insert(0, str(Path(__file__).resolve().parent))

import modeltel  # noqa: E402
from _iris import FEATURES, SPECIES, load_model  # noqa: E402
from modeltel.instrumentation import instrument_flask  # noqa: E402

VERSION = os.environ.get("IRIS_MODEL_VERSION", "1.0.0")

modeltel.configure(service_name="iris-flask")
model = load_model()
app = Flask(__name__)


@app.post("/predict")
def predict():
    body = request.get_json()  # the same parsed body modeltel summarised (Flask caches it)
    records = body if isinstance(body, list) else [body]
    labels = model.predict([[float(r[name]) for name in FEATURES] for r in records])
    prediction = modeltel.current_prediction()
    # The prediction id goes back to the caller, who joins ground truth to it later.
    headers = {"X-Prediction-Id": prediction.id} if prediction is not None else {}
    return {"species": [SPECIES[int(i)] for i in labels]}, 200, headers


@app.get("/health")
def health():
    return {"status": "ok"}


# The route list names the model; the handler needs no decorator.
instrument_flask(app, predict_routes={"/predict": ("iris", VERSION)})


if __name__ == "__main__":
    import signal

    # Flask's development server dies on SIGTERM without running atexit handlers; exit
    # normally instead so that modeltel flushes what is buffered (gunicorn does this itself).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    app.run(host="127.0.0.1", port=int(os.environ.get("PORT", "8001")))
