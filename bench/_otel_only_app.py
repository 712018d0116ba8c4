"""bench_server.py's middle variant: the FastAPI example with only OpenTelemetry's own
FastAPI instrumentation and SDK (what a service already using OpenTelemetry pays), no
modeltel predict spans."""

import os
import sys
from pathlib import Path

os.environ["EXAMPLE_NO_MODELTEL"] = "1"
os.environ["MODELTEL_ENABLED"] = "false"
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))

from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor  # noqa: E402

import modeltel  # noqa: E402
from fastapi_server import app  # noqa: E402

modeltel.configure(service_name="iris-fastapi", exporter="otlp")  # SDK + OTLP, as the full variant
FastAPIInstrumentor.instrument_app(app, exclude_spans=["receive", "send"])
