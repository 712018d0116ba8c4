"""Per-call overhead of @modeltel.monitor on a 1-row x 20-feature predict.

Measured in the same run, with the same exporter set-up (batch processors, exporters that
encode to OTLP protobuf as the real ones do and then discard, so no network in the numbers;
wall time per call includes the export threads' share of the CPU):
  bare      the undecorated predict function
  span      the function inside one bare OpenTelemetry SDK span (the peer: target <= 3x)
  monitor   @modeltel.monitor: span, metrics, summaries, sketches, JSON log (sample 1.0)
  monitor@0.1  the same with MODELTEL_LOG_SAMPLE_RATE=0.1
  structlog one structlog JSON line (for scale)
Prints a table and writes JSON (bench/results/overhead.json).

    .venv/bin/python bench/bench_overhead.py [--calls 20000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import structlog
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

import modeltel
from modeltel import _telemetry
from modeltel._logging import json_log_to
from modeltel._sketch import SketchStore


class DiscardSpans(SpanExporter):
    """Encodes to OTLP protobuf like the real exporter (that CPU is part of the cost), then discards."""

    def export(self, spans: Sequence[Any]) -> SpanExportResult:
        encode_spans(spans).SerializeToString()
        return SpanExportResult.SUCCESS


class DiscardLogs(LogRecordExporter):
    def export(self, batch: Sequence[Any]) -> LogRecordExportResult:
        encode_logs(batch).SerializeToString()
        return LogRecordExportResult.SUCCESS

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True


def per_call_us(fn: Callable[[], Any], calls: int, repeat: int, flush: Callable[[], Any]) -> dict[str, float]:
    """Wall time per call, the export threads' work on those calls included: each sample
    ends with a flush, so no case leaves a backlog for the next one to pay."""
    for _ in range(min(2000, calls)):
        fn()
    flush()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        flush()
        samples.append((time.perf_counter() - start) / calls * 1e6)
    return {"min_us": min(samples), "median_us": statistics.median(samples)}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(BatchSpanProcessor(DiscardSpans(), max_queue_size=1 << 16))
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    logger_provider = LoggerProvider()
    logger_provider.add_log_record_processor(BatchLogRecordProcessor(DiscardLogs(), max_queue_size=1 << 16))
    sink = open(os.devnull, "w")
    _telemetry.swap(
        _telemetry.build(
            tracer_provider=tracer_provider,
            meter_provider=meter_provider,
            logger_provider=logger_provider,
            json_log=json_log_to(sink),
            store=SketchStore(),
        )
    )

    weights = np.linspace(-1, 1, 20)
    row = {f"f{i}": float(v) for i, v in enumerate(np.random.default_rng(1).normal(size=20))}

    def predict(x: dict[str, float]) -> float:
        return sum(w * v for w, v in zip(weights.tolist(), x.values()))

    monitored = modeltel.monitor(model="bench", version="1")(predict)
    sampled = modeltel.monitor(model="bench", version="1", log_sample_rate=0.1)(predict)
    tracer = tracer_provider.get_tracer("bench")

    def with_span() -> float:
        with tracer.start_as_current_span("predict bench"):
            return predict(row)

    log = structlog.wrap_logger(
        structlog.PrintLogger(sink),
        processors=[structlog.processors.add_log_level, structlog.processors.TimeStamper(fmt="iso"), structlog.processors.JSONRenderer()],
    )

    def flush() -> None:
        tracer_provider.force_flush()
        logger_provider.force_flush()

    def measure(fn: Callable[[], Any]) -> dict[str, float]:
        return per_call_us(fn, args.calls, args.repeat, flush)

    results = {
        "bare": measure(lambda: predict(row)),
        "span": measure(with_span),
        "monitor": measure(lambda: monitored(row)),
        "monitor@0.1": measure(lambda: sampled(row)),
        "structlog": measure(lambda: log.info("ml.prediction", a=1, b="x")),
    }
    span_cost = results["span"]["median_us"] - results["bare"]["median_us"]
    for name in ("monitor", "monitor@0.1"):
        cost = results[name]["median_us"] - results["bare"]["median_us"]
        results[name]["overhead_us"] = cost
        results[name]["x_bare_span"] = cost / span_cost
    results["span"]["overhead_us"] = span_cost

    print(f"{'case':14s} {'median us/call':>15s} {'min':>8s} {'overhead us':>12s} {'x span':>7s}")
    for name, r in results.items():
        print(
            f"{name:14s} {r['median_us']:15.2f} {r['min_us']:8.2f} "
            f"{r.get('overhead_us', float('nan')):12.2f} {r.get('x_bare_span', float('nan')):7.2f}"
        )
    target = results["monitor"]["x_bare_span"] <= 3.0
    print(f"target: full monitor <= 3x one bare span -> {'met' if target else 'NOT met'}")
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "overhead.json").write_text(json.dumps(results, indent=2))
    tracer_provider.shutdown()
    logger_provider.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
