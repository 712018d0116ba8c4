"""Model servers and ML libraries: FastAPI/Flask in one call, zero-code auto-instrumentation.

- :func:`instrument_fastapi` / :func:`instrument_flask`: HTTP spans from the official
  OpenTelemetry instrumentations, modeltel's predict spans as their children;
  :func:`uninstrument_fastapi` / :func:`uninstrument_flask` undo them.
- :func:`predict_route`: mark one handler as a predict route of a model.
- :class:`ModeltelInstrumentor`: ``opentelemetry-instrument`` finds it (entry point
  ``modeltel``); it patches scikit-learn, XGBoost, LightGBM, ONNX Runtime and PyTorch.
- :func:`register_model`: the name and version an auto-instrumented model object reports.

Nothing here imports FastAPI, Flask or an ML library until it is used.
"""

from __future__ import annotations

from typing import Any

from modeltel.instrumentation._common import register_model
from modeltel.instrumentation._fastapi import instrument_fastapi, uninstrument_fastapi
from modeltel.instrumentation._flask import instrument_flask, uninstrument_flask
from modeltel.instrumentation._routes import predict_route

__all__ = [
    "ModeltelInstrumentor",
    "instrument_fastapi",
    "instrument_flask",
    "predict_route",
    "register_model",
    "uninstrument_fastapi",
    "uninstrument_flask",
]


def __getattr__(name: str) -> Any:
    # BaseInstrumentor comes from opentelemetry-instrumentation (in the fastapi/flask extras
    # and in opentelemetry-distro); importing it only when asked keeps `import modeltel`
    # working without it.
    if name == "ModeltelInstrumentor":
        from modeltel.instrumentation._instrumentor import ModeltelInstrumentor

        return ModeltelInstrumentor
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
