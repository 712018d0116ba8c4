"""Per-call overhead of @modeltel.monitor on a 1-row x 20-feature predict.

Two predict functions, each measured the same way:
  toy          a weighted sum in pure Python (a few microseconds, every cache line hot: the
               hardest case for a ratio, since telemetry is all the work there is)
  sklearn      a fitted scikit-learn LogisticRegression on the row (about 100 us or more of
               real work that competes for the CPU caches, as a model does)
and for each, in the same run, with the same exporter set-up (batch processors, exporters
that encode to OTLP protobuf as the real ones do and then discard, so no network in the
numbers; wall time per call includes the export threads' share of the CPU):
  bare           the undecorated predict function
  span           the function inside one bare, sampled OpenTelemetry SDK span (the unit)
  openinference  OpenInference's ``@tracer.chain`` decorator on the same function (the peer:
                 a span with its input and output attributes)
  monitor        @modeltel.monitor at the default settings: span, summaries, sketches, the
                 duration aggregated in modeltel's store (exported with the distributions by
                 the sketch exporter, as under configure()), the row counter; by the default
                 log rule no log record for a successful, sampled prediction (the span is
                 its record); no console JSON line (OTLP logs are configured)
  monitor, SDK duration
                 the same with ml.prediction.duration recorded through the SDK histogram
                 (what happens when nothing exports the store; the earlier default)
  monitor@R      the same with MODELTEL_LOG_SAMPLE_RATE=R: the OpenTelemetry log record for a
                 share R of the calls (1: every one, the earlier default)
  monitor 10%    the same under a 10% parent-based ratio sampler (an unsampled prediction
                 pays only for what is aggregated: distributions, duration, rows)
  monitor, unsampled parent
                 the same inside a request span that was not sampled (the server case of a
                 parent-based sampler: no predict span is started); its overhead is over the
                 bare function under the same parent ("bare, unsampled parent": making the
                 request's span current is the server's cost, not the prediction's)
  disabled       the same with OTEL_SDK_DISABLED=true (modeltel builds nothing)
and, to show what part of that no instrumentation library can avoid, the floor:
  floor@R        only the OpenTelemetry SDK calls one monitored prediction makes, none of
                 modeltel's code: the span with the same five ml.* attributes (a one-row
                 output has no ml.output.value.mean: one value's mean is the value), and for
                 a share R of the calls the OpenTelemetry log record (same body, same
                 attributes); floor@0 is the default's (the duration is no SDK call any more)
  floor 10%      the OpenTelemetry calls under the 10% parent-based sampler (the sampler's
                 decision, the span current around the call, attributes on the sampled 10%)
  aggregates only
                 what keeps metrics and distributions complete, without modeltel's lifecycle:
                 input and output summaries into the store, the duration, the row count
  floor@0 + aggregates, floor 10% + aggregates
                 both in one call, as a monitored prediction does them: the floors of
                 "monitor" and "monitor 10%" (measured together, not added: the two cost
                 more together than apart, as they share the CPU caches)
plus one structlog JSON line for scale. The overhead of a case is its time minus the bare
function's; ratios are overheads over the bare span's. The cases run in interleaved rounds,
each sample ending with a flush of the export queues, so that noise from the rest of the
machine and export backlogs hit every case alike; ratios are taken within each round, then
the median over rounds. Each case's process CPU time (all threads: the export threads'
work is in it) is taken too and its ratio printed beside the wall-clock one ("x span CPU"):
it is not stretched by other processes on a shared machine. Targets (SDK core v2): monitor (default) <= 2x one bare span and
below OpenInference; monitor 10% <= 0.5x; disabled about 0.
Prints a table and writes JSON (bench/results/overhead.json). OpenInference comes from
bench/requirements-overhead.txt (skipped, and said so, when it is not installed).

    .venv/bin/python bench/bench_overhead.py [--calls 2000] [--rounds 9] [--rates 1]
"""

from __future__ import annotations

import argparse
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
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, MetricExporter, MetricExportResult
from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

import modeltel
from modeltel import _telemetry
from modeltel._config import Config
from modeltel._export import SketchExporter
from modeltel._logging import json_log_to, safe_json
from modeltel._prediction import new_prediction_id
from modeltel._sketch import SketchStore
from modeltel._summary import summarize_input, summarize_output


class DiscardSpans(SpanExporter):
    """Encodes to OTLP protobuf like the real exporter (that CPU is part of the cost), then discards."""

    def export(self, spans: Sequence[Any]) -> SpanExportResult:
        encode_spans(spans).SerializeToString()
        return SpanExportResult.SUCCESS


class DiscardMetrics(MetricExporter):
    """The sketch exporter's OTLP encoding, then discarded."""

    def __init__(self) -> None:
        super().__init__()

    def export(self, metrics_data: Any, timeout_millis: float = 10_000, **kwargs: Any) -> MetricExportResult:
        encode_metrics(metrics_data).SerializeToString()
        return MetricExportResult.SUCCESS

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        pass


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

    with capture(log_sample_rate=1.0) as cap:
        predict(row)
    return safe_json({k: v for k, v in cap.logs[0].items() if k not in ("event", "level", "timestamp")})


class Setting:
    """A case that runs under other settings: ``enter()`` before its sample, ``exit()`` after."""

    def __init__(self, enter: Callable[[], Any], exit: Callable[[], Any]) -> None:
        self.enter = enter
        self.exit = exit


def measure(
    cases: dict[str, Callable[[], Any]],
    calls: int,
    rounds: int,
    flush: Callable[[], Any],
    settings: dict[str, Setting] | None = None,
) -> dict[str, dict[str, float]]:
    """Wall time per call of each case, the export threads' work on those calls included:
    interleaved rounds, each sample ending with a flush so no case pays another's backlog."""
    settings = settings or {}
    for name, fn in cases.items():
        setting = settings.get(name)
        if setting:
            setting.enter()
        for _ in range(min(1000, calls)):
            fn()
        if setting:
            setting.exit()
    flush()
    samples: dict[str, list[float]] = {name: [] for name in cases}
    cpu: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, fn in cases.items():
            setting = settings.get(name)
            if setting:
                setting.enter()
            start, start_cpu = time.perf_counter(), time.process_time()
            for _ in range(calls):
                fn()
            flush()
            samples[name].append((time.perf_counter() - start) / calls * 1e6)
            cpu[name].append((time.process_time() - start_cpu) / calls * 1e6)
            if setting:
                setting.exit()
    return {
        name: {
            "median_us": statistics.median(values), "min_us": min(values), "samples_us": values,
            "cpu_median_us": statistics.median(cpu[name]), "cpu_samples_us": cpu[name],
        }
        for name, values in samples.items()
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=2000, help="calls per sample")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--rates", type=float, nargs="+", default=[1.0], help="log sample rates to measure beside the default rule")
    args = parser.parse_args()

    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(BatchSpanProcessor(DiscardSpans(), max_queue_size=1 << 16))
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    logger_provider = LoggerProvider()
    logger_provider.add_log_record_processor(BatchLogRecordProcessor(DiscardLogs(), max_queue_size=1 << 16))
    sink = open(os.devnull, "w")
    store = SketchStore()
    # As under configure(): the store (distributions and ml.prediction.duration) leaves
    # through the sketch exporter; flushed with the other queues after every sample.
    sketch_exporter = SketchExporter(DiscardMetrics(), resource=Resource.create({}), store=store, interval=10.0)
    telemetry = _telemetry.build(
        tracer_provider=tracer_provider,
        meter_provider=meter_provider,
        logger_provider=logger_provider,
        json_log=json_log_to(sink),
        store=store,
    )
    _telemetry.swap(telemetry)
    # A 10% parent-based ratio sampler, same processors and exporters.
    sampled_provider = TracerProvider(sampler=ParentBased(TraceIdRatioBased(0.1)))
    sampled_provider.add_span_processor(BatchSpanProcessor(DiscardSpans(), max_queue_size=1 << 16))
    sampled_telemetry = _telemetry.build(
        tracer_provider=sampled_provider,
        meter_provider=meter_provider,
        logger_provider=logger_provider,
        json_log=json_log_to(sink),
        store=store,
    )
    settings: dict[str, Setting] = {}
    default_config = _telemetry.default_config()
    disabled_config = Config(enabled=False)

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
    unsampled_parent = trace.NonRecordingSpan(
        trace.SpanContext(trace_id=0x5EED, span_id=0x5EED, is_remote=True, trace_flags=trace.TraceFlags(0))
    )

    def _under(parent: Any, monitored: Callable[[dict[str, float]], Any]) -> Any:
        with trace.use_span(parent):
            return monitored(row)

    oi_tracer = None
    try:
        from openinference.instrumentation import OITracer, TraceConfig

        oi_tracer = OITracer(tracer_provider.get_tracer("bench.openinference"), config=TraceConfig())
    except ImportError:
        print("openinference-instrumentation not installed (bench/requirements-overhead.txt): no peer case")
    cases: dict[str, Callable[[], Any]] = {}
    for label, predict in predicts.items():
        def with_span(predict: Callable[[dict[str, float]], Any] = predict) -> Any:
            with tracer.start_as_current_span("predict bench"):
                return predict(row)

        cases[f"{label}: bare"] = lambda predict=predict: predict(row)
        cases[f"{label}: span"] = with_span
        if oi_tracer is not None:
            chained = oi_tracer.chain(predict)
            cases[f"{label}: openinference"] = lambda chained=chained: chained(row)
        monitored = modeltel.monitor(model="bench", version="1")(predict)
        cases[f"{label}: monitor"] = lambda monitored=monitored: monitored(row)
        cases[f"{label}: monitor, SDK duration"] = lambda monitored=monitored: monitored(row)
        settings[f"{label}: monitor, SDK duration"] = Setting(
            lambda: setattr(store, "exports_durations", False), lambda: setattr(store, "exports_durations", True)
        )
        for rate in args.rates:
            logged = modeltel.monitor(model="bench", version="1", log_sample_rate=rate)(predict)
            cases[f"{label}: monitor@{rate:g}"] = lambda logged=logged: logged(row)
        cases[f"{label}: monitor 10%"] = lambda monitored=monitored: monitored(row)
        settings[f"{label}: monitor 10%"] = Setting(
            lambda: _telemetry.swap(sampled_telemetry), lambda: _telemetry.swap(telemetry)
        )
        # The server case of the sampler: the request's span is there and was not sampled
        # (the use_span around the call is part of this case's cost).
        cases[f"{label}: monitor, unsampled parent"] = lambda monitored=monitored: _under(unsampled_parent, monitored)
        # its bare function: the same use_span around the bare call (the request's span is
        # the server's cost, not the monitored prediction's)
        cases[f"{label}: bare, unsampled parent"] = lambda predict=predict: _under(unsampled_parent, predict)
        cases[f"{label}: disabled"] = lambda monitored=monitored: monitored(row)
        settings[f"{label}: disabled"] = Setting(
            lambda: _telemetry.set_default_config(disabled_config),
            lambda: _telemetry.set_default_config(default_config),
        )

    # The floor: the OpenTelemetry calls of one monitored prediction, nothing else.
    floor_logger = logger_provider.get_logger("bench")
    base_attributes = {"ml.model.name": "bench", "ml.model.version": "1"}
    body = _a_logged_body(row)
    floor_sampler = np.random.default_rng(2)

    def floor(predict: Callable[[dict[str, float]], Any], rate: float) -> Any:
        span = tracer.start_span(
            "predict bench",
            attributes={**base_attributes, "ml.prediction.id": new_prediction_id(), "ml.input.rows": 1, "ml.input.features": 20},
        )
        token = otel_context.attach(trace.set_span_in_context(span))
        y = predict(row)
        if rate >= 1.0 or floor_sampler.random() < rate:
            floor_logger.emit(
                timestamp=time.time_ns(), context=trace.set_span_in_context(span),
                severity_number=SeverityNumber.INFO, severity_text="INFO",
                event_name="ml.prediction", body=body, attributes=base_attributes,
            )
        otel_context.detach(token)
        span.end()
        return y

    sampled_tracer = sampled_provider.get_tracer("bench")

    def floor_sampled(predict: Callable[[dict[str, float]], Any]) -> Any:
        """The OpenTelemetry calls of a prediction under the 10% parent-based sampler: the
        sampler's decision, the (mostly non-recording) span current around the call."""
        return floor_and_aggregates(predict, sampled_tracer, aggregated=False)

    config = _telemetry.default_config()

    def aggregates(predict: Callable[[dict[str, float]], Any]) -> Any:
        """What keeps metrics and distributions complete, alone (no span, no context, no
        options, no containment): the input and output summaries into the store, the
        duration and the row count."""
        start = time.perf_counter()
        summary = summarize_input(row, config=config)
        store.record("bench-floor", "1", "input", summary)
        y = predict(row)
        store.record("bench-floor", "1", "output", summarize_output(y, config=config))
        store.record_duration("bench-floor", "1", None, time.perf_counter() - start)
        telemetry.rows.add(summary.rows, "bench-floor", "1")
        return y

    def floor_and_aggregates(predict: Callable[[dict[str, float]], Any], tracer: Any, aggregated: bool = True) -> Any:
        """floor@0 (or floor 10% with the sampled tracer) and the aggregates in one call, in
        the order a monitored prediction does them: no lifecycle, no containment
        (``aggregated=False``: the OpenTelemetry calls alone)."""
        if aggregated:
            start = time.perf_counter()
            summary = summarize_input(row, config=config)
            store.record("bench-floor", "1", "input", summary)
        span = tracer.start_span("predict bench")
        if span.is_recording():
            span.set_attributes({**base_attributes, "ml.prediction.id": new_prediction_id(), "ml.input.rows": 1, "ml.input.features": 20})
        token = otel_context.attach(trace.set_span_in_context(span))
        y = predict(row)
        otel_context.detach(token)
        if aggregated:
            store.record("bench-floor", "1", "output", summarize_output(y, config=config))
            store.record_duration("bench-floor", "1", None, time.perf_counter() - start)
            telemetry.rows.add(summary.rows, "bench-floor", "1")
        span.end()
        return y

    for label, predict in predicts.items():
        for rate in [0.0, *args.rates]:
            cases[f"{label}: floor@{rate:g}"] = lambda predict=predict, rate=rate: floor(predict, rate)
        cases[f"{label}: floor 10%"] = lambda predict=predict: floor_sampled(predict)
        cases[f"{label}: aggregates only"] = lambda predict=predict: aggregates(predict)
        cases[f"{label}: floor@0 + aggregates"] = lambda predict=predict: floor_and_aggregates(predict, tracer)
        cases[f"{label}: floor 10% + aggregates"] = lambda predict=predict: floor_and_aggregates(predict, sampled_tracer)

    log = structlog.wrap_logger(
        structlog.PrintLogger(sink),
        processors=[structlog.processors.add_log_level, structlog.processors.TimeStamper(fmt="iso"), structlog.processors.JSONRenderer()],
    )
    cases["structlog line"] = lambda: log.info("ml.prediction", a=1, b="x")

    def flush() -> None:
        tracer_provider.force_flush()
        sampled_provider.force_flush()
        logger_provider.force_flush()
        sketch_exporter.force_flush()

    results: dict[str, Any] = measure(cases, args.calls, args.rounds, flush, settings)

    # The ratio is taken within each round, then the median over rounds: a slow spell of
    # the machine (another VM, a busy core) slows every case of its round alike.
    for label in predicts:
        bare = results[f"{label}: bare"]["samples_us"]
        span = results[f"{label}: span"]["samples_us"]
        bare_cpu = results[f"{label}: bare"]["cpu_samples_us"]
        span_cpu = results[f"{label}: span"]["cpu_samples_us"]
        for name, r in results.items():
            if name.startswith(f"{label}: ") and not name.startswith(f"{label}: bare"):
                # a case's own bare call: the unsampled-parent case's is under the same parent
                own = results[f"{label}: bare, unsampled parent"] if name.endswith("unsampled parent") else results[f"{label}: bare"]
                r["overhead_us"] = r["median_us"] - own["median_us"]
                r["x_bare_span"] = statistics.median(
                    (m - b) / (s - sb) for m, s, b, sb in zip(r["samples_us"], span, own["samples_us"], bare)
                )
                r["x_bare_span_cpu"] = statistics.median(
                    (m - b) / (s - sb) for m, s, b, sb in zip(r["cpu_samples_us"], span_cpu, own["cpu_samples_us"], bare_cpu)
                )

    print(f"{'case':34s} {'median us/call':>15s} {'min':>8s} {'overhead us':>12s} {'x span':>7s} {'x span CPU':>11s}"
          f"   ({args.rounds} interleaved rounds of {args.calls} calls; load average {os.getloadavg()[0]:.1f})")
    for name, r in results.items():
        print(
            f"{name:34s} {r['median_us']:15.2f} {r['min_us']:8.2f} "
            f"{r.get('overhead_us', float('nan')):12.2f} {r.get('x_bare_span', float('nan')):7.2f}"
            f" {r.get('x_bare_span_cpu', float('nan')):11.2f}"
        )
    targets = []
    for label in predicts:
        monitor = results[f"{label}: monitor"]["x_bare_span"]
        cpu = {case: results[f"{label}: {case}"]["x_bare_span_cpu"] for case in ("monitor", "monitor 10%", "monitor, unsampled parent")}
        targets.append((f"{label}: monitor (default) <= 2x one bare span", monitor <= 2.0, f"{monitor:.2f}x; CPU time {cpu['monitor']:.2f}x"))
        if f"{label}: openinference" in results:
            peer = results[f"{label}: openinference"]["x_bare_span"]
            targets.append((f"{label}: monitor (default) below OpenInference's @tracer.chain", monitor < peer, f"{monitor:.2f}x vs {peer:.2f}x"))
        sampled = results[f"{label}: monitor 10%"]["x_bare_span"]
        targets.append((f"{label}: monitor under a 10% parent-based sampler <= 0.5x", sampled <= 0.5, f"{sampled:.2f}x; CPU time {cpu['monitor 10%']:.2f}x"))
        unsampled = results[f"{label}: monitor, unsampled parent"]["x_bare_span"]
        targets.append((f"{label}: monitor under an unsampled parent <= 0.5x", unsampled <= 0.5, f"{unsampled:.2f}x; CPU time {cpu['monitor, unsampled parent']:.2f}x"))
        disabled = results[f"{label}: disabled"]["overhead_us"]
        targets.append((f"{label}: OTEL_SDK_DISABLED=true about 0 (< 1 us)", disabled < 1.0, f"{disabled:.2f} us"))
        floor_ratio = results[f"{label}: floor@0"]["x_bare_span"]
        print(f"floor: {label} at the default log rule, the OpenTelemetry calls alone: {floor_ratio:.2f}x one bare span")
        whole = results[f"{label}: floor@0 + aggregates"]
        print(f"floor: {label} at the default log rule, the OpenTelemetry calls and the aggregates in one call: "
              f"{whole['x_bare_span']:.2f}x ({whole['x_bare_span_cpu']:.2f}x in CPU time)")
        sampled_floor = results[f"{label}: floor 10% + aggregates"]
        print(f"floor: {label} under the 10% sampler, the OpenTelemetry calls and the aggregates in one call: "
              f"{sampled_floor['x_bare_span']:.2f}x ({sampled_floor['x_bare_span_cpu']:.2f}x in CPU time)")
    for what, met, figure in targets:
        print(f"target: {what} -> {'met' if met else 'NOT met'} ({figure})")
    results["targets"] = [{"target": w, "met": m, "figure": f} for w, m, f in targets]
    results["load_average"] = list(os.getloadavg())
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "overhead.json").write_text(json.dumps(results, indent=2))
    tracer_provider.shutdown()
    sampled_provider.shutdown()
    logger_provider.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
