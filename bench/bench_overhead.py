"""Per-call overhead of @modeltel.monitor on a 1-row x 20-feature predict.

Two predict functions, each measured the same way:
  toy          a weighted sum in pure Python (a few microseconds, every cache line hot: the
               hardest case for a ratio, since telemetry is all the work there is)
  sklearn      a fitted scikit-learn LogisticRegression on the row (about 100 us or more of
               real work that competes for the CPU caches, as a model does)
and for each, in the same run, with the same exporter set-up (batch processors, exporters
that encode to OTLP protobuf as the real ones do and then discard, so no network in the
numbers; wall time per call includes the export threads' share of the CPU):
  bare         the undecorated predict function
  span         the function inside one bare OpenTelemetry SDK span (the peer: target <= 3x)
  monitor@R    @modeltel.monitor: span, metrics, summaries, sketches, and the JSON log
               record (structlog line + OpenTelemetry log record) for a share R of the
               calls (MODELTEL_LOG_SAMPLE_RATE; 1.0 is the default, every call logged)
and, to show what part of that no instrumentation library can avoid, the floor:
  floor@R      only the OpenTelemetry SDK calls one monitored prediction makes, none of
               modeltel's code: the span with the same ml.* attributes, the output
               attribute, the ml.prediction.duration record, and for a share R of the calls
               the JSON line (modeltel's structlog pipeline, body already rendered) and the
               OpenTelemetry log record (same body, same attributes)
plus one structlog JSON line for scale. The overhead of a case is its time minus the bare
function's. The cases run in interleaved rounds, each sample ending with a flush of the
export queues, so that noise from the rest of the machine and export backlogs hit every
case alike; ratios are taken within each round, then the median over rounds.
Prints a table and writes JSON (bench/results/overhead.json).

    .venv/bin/python bench/bench_overhead.py [--calls 2000] [--rounds 9] [--rates 1 0.1 0.01]
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
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry._logs import SeverityNumber
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
from modeltel._logging import json_log_to, safe_json
from modeltel._prediction import new_prediction_id
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


def _a_logged_body(row: dict[str, float]) -> str:
    """The JSON body of a real ml.prediction record for this row (rendered once, reused)."""
    from modeltel.testing import capture

    @modeltel.monitor(model="bench", version="1")
    def predict(x: dict[str, float]) -> float:
        return sum(x.values())

    with capture() as cap:
        predict(row)
    return safe_json({k: v for k, v in cap.logs[0].items() if k not in ("event", "level", "timestamp")})


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
    parser.add_argument("--calls", type=int, default=2000, help="calls per sample")
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

    rng = np.random.default_rng(1)
    row = {f"f{i}": float(v) for i, v in enumerate(rng.normal(size=20))}
    weights = np.linspace(-1, 1, 20).tolist()

    def toy(x: dict[str, float]) -> float:
        """A weighted sum in pure Python: a few microseconds, every cache line stays hot."""
        return sum(w * v for w, v in zip(weights, x.values()))

    predicts: dict[str, Callable[[dict[str, float]], Any]] = {"toy": toy}
    try:
        from sklearn.linear_model import LogisticRegression

        X = rng.normal(size=(2000, 20))
        clf = LogisticRegression().fit(X, (X @ np.linspace(-1, 1, 20) > 0).astype(int))

        def sklearn_model(x: dict[str, float]) -> float:
            """A fitted scikit-learn LogisticRegression on the row, as a model server calls it."""
            return float(clf.predict_proba([list(x.values())])[0, 1])

        predicts["sklearn"] = sklearn_model
    except ImportError:  # pragma: no cover - scikit-learn is in the test extra
        print("scikit-learn not installed: the toy predict only")

    tracer = tracer_provider.get_tracer("bench")
    cases: dict[str, Callable[[], Any]] = {}
    for label, predict in predicts.items():
        def with_span(predict: Callable[[dict[str, float]], Any] = predict) -> Any:
            with tracer.start_as_current_span("predict bench"):
                return predict(row)

        cases[f"{label}: bare"] = lambda predict=predict: predict(row)
        cases[f"{label}: span"] = with_span
        for rate in args.rates:
            monitored = modeltel.monitor(model="bench", version="1", log_sample_rate=rate)(predict)
            cases[f"{label}: monitor@{rate:g}"] = lambda monitored=monitored: monitored(row)

    # The floor: the OpenTelemetry calls of one monitored prediction, nothing else.
    floor_meter = meter_provider.get_meter("bench")
    floor_duration = floor_meter.create_histogram(
        "bench.floor.duration", unit="s", explicit_bucket_boundaries_advisory=_telemetry.DURATION_BUCKETS
    )
    floor_logger = logger_provider.get_logger("bench")
    floor_json = json_log_to(sink)
    base_attributes = {"ml.model.name": "bench", "ml.model.version": "1"}
    body = _a_logged_body(row)
    floor_sampler = np.random.default_rng(2)

    def floor(predict: Callable[[dict[str, float]], Any], rate: float) -> Any:
        span = tracer.start_span(
            "predict bench",
            attributes={**base_attributes, "ml.prediction.id": new_prediction_id(), "ml.input.rows": 1, "ml.input.features": 20},
        )
        token = otel_context.attach(trace.set_span_in_context(span))
        start = time.perf_counter()
        y = predict(row)
        span.set_attributes({"ml.output.value.mean": y})
        floor_duration.record(time.perf_counter() - start, base_attributes)
        if rate >= 1.0 or floor_sampler.random() < rate:
            floor_json("info", "ml.prediction", {}, body)
            floor_logger.emit(
                timestamp=time.time_ns(), context=trace.set_span_in_context(span),
                severity_number=SeverityNumber.INFO, severity_text="INFO",
                event_name="ml.prediction", body=body, attributes=base_attributes,
            )
        otel_context.detach(token)
        span.end()
        return y

    for label, predict in predicts.items():
        for rate in args.rates:
            cases[f"{label}: floor@{rate:g}"] = lambda predict=predict, rate=rate: floor(predict, rate)

    log = structlog.wrap_logger(
        structlog.PrintLogger(sink),
        processors=[structlog.processors.add_log_level, structlog.processors.TimeStamper(fmt="iso"), structlog.processors.JSONRenderer()],
    )
    cases["structlog line"] = lambda: log.info("ml.prediction", a=1, b="x")

    def flush() -> None:
        tracer_provider.force_flush()
        logger_provider.force_flush()

    results: dict[str, Any] = measure(cases, args.calls, args.rounds, flush)

    # The ratio is taken within each round, then the median over rounds: a slow spell of
    # the machine (another VM, a busy core) slows every case of its round alike.
    for label in predicts:
        bare = results[f"{label}: bare"]["samples_us"]
        span = results[f"{label}: span"]["samples_us"]
        bare_median = results[f"{label}: bare"]["median_us"]
        results[f"{label}: span"]["overhead_us"] = results[f"{label}: span"]["median_us"] - bare_median
        for rate in args.rates:
            for kind in ("monitor", "floor"):
                r = results[f"{label}: {kind}@{rate:g}"]
                r["overhead_us"] = r["median_us"] - bare_median
                r["x_bare_span"] = statistics.median((m - b) / (s - b) for m, s, b in zip(r["samples_us"], span, bare))

    print(f"{'case':24s} {'median us/call':>15s} {'min':>8s} {'overhead us':>12s} {'x span':>7s}"
          f"   ({args.rounds} interleaved rounds of {args.calls} calls)")
    for name, r in results.items():
        print(
            f"{name:24s} {r['median_us']:15.2f} {r['min_us']:8.2f} "
            f"{r.get('overhead_us', float('nan')):12.2f} {r.get('x_bare_span', float('nan')):7.2f}"
        )
    for name, r in results.items():
        if "x_bare_span" in r and ": monitor@" in name:
            ratio = r["x_bare_span"]
            print(f"target: {name} <= 3x one bare span -> {'met' if ratio <= 3.0 else 'NOT met'} ({ratio:.2f}x)")
    for label in predicts:
        for rate in args.rates:
            floor_ratio = results[f"{label}: floor@{rate:g}"]["x_bare_span"]
            print(f"floor: {label} at log rate {rate:g}, the OpenTelemetry calls alone: {floor_ratio:.2f}x one bare span"
                  + ("  (over 3x before any modeltel code runs)" if floor_ratio > 3.0 else ""))
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "overhead.json").write_text(json.dumps(results, indent=2))
    tracer_provider.shutdown()
    logger_provider.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
