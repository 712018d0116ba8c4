"""A FastAPI model server instrumented with one call.

Run it (port 8000; OTLP when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set, else console)::

    python examples/fastapi_server.py
    # or: uvicorn --app-dir examples fastapi_server:app --port 8000

    curl -s localhost:8000/predict -H 'content-type: application/json' \\
         -d '{"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}'

Every request to a predict route gives an HTTP server span (OpenTelemetry's FastAPI
instrumentation) with a ``predict iris`` span under it: the request body summarised as the
model input, the response as the output, latency and errors as metrics, one JSON log
record. A body that fails validation (HTTP 422) is counted as a rejected input of ``iris``;
``/health`` is not traced and not counted.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from fastapi import FastAPI, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

sys.path.insert(0, str(Path(__file__).resolve().parent))

import modeltel  # noqa: E402
from _iris import FEATURES, SPECIES, load_model  # noqa: E402
from modeltel.instrumentation import instrument_fastapi, predict_route  # noqa: E402

VERSION = os.environ.get("IRIS_MODEL_VERSION", "1.0.0")
INSTRUMENT = os.environ.get("EXAMPLE_NO_MODELTEL") != "1"  # the benchmark's peer turns it off

if INSTRUMENT:
    modeltel.configure(service_name="iris-fastapi")
model = load_model()


class Flower(BaseModel):
    sepal_length: float
    sepal_width: float
    petal_length: float
    petal_width: float


def _rows(flowers: list[Flower]) -> list[list[float]]:
    return [[getattr(f, name) for name in FEATURES] for f in flowers]


def _tag(response: Response) -> None:
    # The prediction id goes back to the caller, who joins ground truth to it later.
    prediction = modeltel.current_prediction()
    if prediction is not None:
        response.headers["X-Prediction-Id"] = prediction.id


app = FastAPI(title="iris")


@app.post("/predict")
@predict_route(model="iris", version=VERSION)
def predict(flower: Flower, response: Response) -> dict:
    (label,) = model.predict(_rows([flower]))
    _tag(response)
    return {"species": SPECIES[int(label)]}


@app.post("/predict/batch")
@predict_route(model="iris", version=VERSION)
async def predict_batch(flowers: list[Flower], response: Response) -> dict:
    labels = model.predict(_rows(flowers))
    _tag(response)
    return {"species": [SPECIES[int(i)] for i in labels]}


@app.post("/predict/stream")
@predict_route(model="iris", version=VERSION)
def predict_stream(flowers: list[Flower]) -> StreamingResponse:
    """One JSON line per flower, streamed; the predict span covers the model call."""
    labels = model.predict(_rows(flowers))

    def lines():
        for label in labels:
            yield f'{{"species": "{SPECIES[int(label)]}"}}\n'

    return StreamingResponse(lines(), media_type="application/jsonl")


@app.post("/predict/lines")
@predict_route(model="iris", version=VERSION)
def predict_lines(flowers: list[Flower]):
    """FastAPI streams what a generator route yields as JSON Lines; the predict span lasts
    as long as the stream and every line is an output row."""
    for label in model.predict(_rows(flowers)):
        yield {"species": SPECIES[int(label)]}


@app.get("/health")
def health() -> dict:
    model.predict([[5.1, 3.5, 1.4, 0.2]])  # a readiness check that runs the model
    return {"status": "ok"}


if INSTRUMENT:
    instrument_fastapi(app)


if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host=os.environ.get("HOST", "127.0.0.1"), port=int(os.environ.get("PORT", "8000")))
