"""Per-call overhead of @modeltel.monitor on a 1-row x 20-feature predict.

Measured in the same run, with the same exporter set-up (batch processors, exporters that
encode to OTLP protobuf as the real ones do and then discard, so no network in the numbers;
wall time per call includes the export threads' share of the CPU):
  bare         the undecorated predict function
  span         the function inside one bare OpenTelemetry SDK span (the peer: target <= 3x)
  monitor@R    @modeltel.monitor: span, metrics, summaries, sketches, and the JSON log
               record (structlog line + OpenTelemetry log record) for a share R of the
               calls (MODELTEL_LOG_SAMPLE_RATE; 1.0 is the default, every call logged)
  structlog    one structlog JSON line (for scale)
The cases run in interleaved rounds (bare, span, monitor@1, ..., bare, span, ...), each
sample ending with a flush of the export queues, so that noise from the rest of the machine
and export backlogs hit every case alike; the figures are medians over the rounds.
Prints a table and writes JSON (bench/results/overhead.json).

    .venv/bin/python bench/bench_overhead.py [--calls 3000] [--rounds 9] [--rates 1 0.1 0.01]
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


def measure(cases: dict[str, Callable[[], Any]], calls: int, rounds: int, flush: Callable[[], Any]) -> dict[str, dict[str, float]]:
    """Wall time per call of each case, the export threads' work on those calls included:
    interleaved rounds, each sample ending with a flush so no case pays another's backlog."""
    for fn in cases.values():
        for _ in range(min(1000, calls)):
            fn()
    flush()
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, fn in cases.items():
            start = time.perf_counter()
            for _ in range(calls):
                fn()
            flush()
            samples[name].append((time.perf_counter() - start) / calls * 1e6)
    return {
        name: {"median_us": statistics.median(values), "min_us": min(values), "samples_us": values}
        for name, values in samples.items()
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=3000, help="calls per sample")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--rates", type=float, nargs="+", default=[1.0, 0.1, 0.01], help="log sample rates to measure")
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

    monitored = {
        rate: modeltel.monitor(model="bench", version="1", log_sample_rate=rate)(predict) for rate in args.rates
    }
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

    cases: dict[str, Callable[[], Any]] = {"bare": lambda: predict(row), "span": with_span}
    for rate, fn in monitored.items():
        cases[f"monitor@{rate:g}"] = lambda fn=fn: fn(row)
    cases["structlog"] = lambda: log.info("ml.prediction", a=1, b="x")
    results: dict[str, Any] = measure(cases, args.calls, args.rounds, flush)

    # The ratio is taken within each round, then the median over rounds: a slow spell of
    # the machine (another VM, a busy core) slows every case of its round alike.
    bare = results["bare"]["samples_us"]
    span = results["span"]["samples_us"]
    results["span"]["overhead_us"] = results["span"]["median_us"] - results["bare"]["median_us"]
    for name in cases:
        if name.startswith("monitor@"):
            own = results[name]["samples_us"]
            results[name]["overhead_us"] = results[name]["median_us"] - results["bare"]["median_us"]
            results[name]["x_bare_span"] = statistics.median(
                (m - b) / (s - b) for m, s, b in zip(own, span, bare)
            )

    print(f"{'case':14s} {'median us/call':>15s} {'min':>8s} {'overhead us':>12s} {'x span':>7s}"
          f"   ({args.rounds} interleaved rounds of {args.calls} calls)")
    for name, r in results.items():
        print(
            f"{name:14s} {r['median_us']:15.2f} {r['min_us']:8.2f} "
            f"{r.get('overhead_us', float('nan')):12.2f} {r.get('x_bare_span', float('nan')):7.2f}"
        )
    for name in cases:
        if name.startswith("monitor@"):
            ratio = results[name]["x_bare_span"]
            print(f"target: {name} <= 3x one bare span -> {'met' if ratio <= 3.0 else 'NOT met'} ({ratio:.2f}x)")
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "overhead.json").write_text(json.dumps(results, indent=2))
    tracer_provider.shutdown()
    logger_provider.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
