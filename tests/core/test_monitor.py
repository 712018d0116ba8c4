"""@monitor and observe(): spans, metrics, logs, ids, fail-open, concurrency."""

from __future__ import annotations

import asyncio
import inspect
import json
import threading
import traceback

import numpy as np
import pytest
from opentelemetry import trace
from opentelemetry.trace import StatusCode

import modeltel
from modeltel import _telemetry
from modeltel.testing import capture


def _attrs(span):
    return dict(span.attributes)


def test_sync_function_gets_span_metrics_and_log_with_same_id_and_result_object():
    seen = {}

    @modeltel.monitor(model="fraud", version="3.1.0")
    def predict(X):
        seen["prediction"] = modeltel.current_prediction()
        return X * 2

    X = np.ones((4, 3))
    with capture(log_sample_rate=1.0) as cap:
        result = predict(X)
    assert np.array_equal(result, X * 2)
    (span,) = cap.spans
    attributes = _attrs(span)
    assert span.name == "predict fraud"
    assert attributes["ml.model.name"] == "fraud"
    assert attributes["ml.model.version"] == "3.1.0"
    assert attributes["ml.prediction.id"] == seen["prediction"].id
    assert len(seen["prediction"].id) == 32
    assert modeltel.current_prediction() is None
    (point,) = cap.metric_points("ml.prediction.duration")
    assert point.count == 1
    assert dict(point.attributes) == {"ml.model.name": "fraud", "ml.model.version": "3.1.0"}
    (record,) = cap.logs
    assert record["event"] == "ml.prediction"
    assert record["level"] == "info"
    assert record["ml.prediction.id"] == seen["prediction"].id
    assert record["trace_id"] == "%032x" % span.context.trace_id
    assert record["span_id"] == "%016x" % span.context.span_id
    assert record["duration_s"] > 0


def test_return_value_is_the_same_object():
    sentinel = object()

    @modeltel.monitor
    def predict(X):
        return sentinel

    with capture():
        assert predict([1.0, 2.0]) is sentinel


def test_bare_decorator_uses_function_name_and_unknown_version():
    @modeltel.monitor
    def churn_model(X):
        return 1

    with capture() as cap:
        churn_model([1.0])
    (span,) = cap.spans
    assert span.name == "predict churn_model"
    assert _attrs(span)["ml.model.version"] == "unknown"


def test_model_name_and_version_from_environment(monkeypatch):
    monkeypatch.setenv("MODELTEL_MODEL_NAME", "env-model")
    monkeypatch.setenv("MODELTEL_MODEL_VERSION", "7")

    @modeltel.monitor
    def predict(X):
        return 0

    with capture() as cap:
        predict([1.0])
    assert _attrs(cap.spans[0])["ml.model.name"] == "env-model"
    assert _attrs(cap.spans[0])["ml.model.version"] == "7"


def test_decorated_function_keeps_name_signature_docstring_and_kind():
    def predict(X, threshold: float = 0.5):
        """Score X."""

    async def apredict(X):
        return X

    def gen(X):
        yield X

    async def agen(X):
        yield X

    wrapped = modeltel.monitor(predict)
    assert wrapped.__name__ == "predict"
    assert wrapped.__doc__ == "Score X."
    assert inspect.signature(wrapped) == inspect.signature(predict)
    assert inspect.iscoroutinefunction(modeltel.monitor(apredict))
    assert inspect.isgeneratorfunction(modeltel.monitor(gen))
    assert inspect.isasyncgenfunction(modeltel.monitor(agen))


def test_async_function_is_monitored():
    @modeltel.monitor(model="m")
    async def predict(X):
        await asyncio.sleep(0)
        return modeltel.current_prediction().id

    with capture() as cap:
        prediction_id = asyncio.run(predict([1.0, 2.0]))
    (span,) = cap.spans
    assert _attrs(span)["ml.prediction.id"] == prediction_id


class _Model:
    name = "ranker"
    version = "2.0"

    @modeltel.monitor
    def predict(self, X):
        return modeltel.current_prediction()

    @modeltel.monitor(model="cls-model")
    @classmethod
    def predict_cls(cls, X):
        return X

    @modeltel.monitor(model="static-model")
    @staticmethod
    def predict_static(X):
        return X


def test_methods_instance_class_and_static_are_monitored_with_model_from_instance():
    model = _Model()
    with capture() as cap:
        prediction = model.predict([1.0, 2.0])
        assert _Model.predict_cls([3.0]) == [3.0]
        assert _Model.predict_static([4.0]) == [4.0]
        assert model.predict_static([5.0]) == [5.0]
    names = [s.name for s in cap.spans]
    assert names == ["predict ranker", "predict cls-model", "predict static-model", "predict static-model"]
    assert prediction.model == "ranker" and prediction.version == "2.0"


def test_sync_generator_streams_outputs_and_ends_span_after_last_item():
    @modeltel.monitor(model="stream")
    def generate(X):
        for i in range(3):
            assert modeltel.current_prediction() is not None
            yield i

    with capture() as cap:
        iterator = generate([1.0])
        assert next(iterator) == 0
        assert cap.spans == []  # still streaming
        assert modeltel.current_prediction() is None  # the span is not left current
        assert list(iterator) == [1, 2]
    (span,) = cap.spans
    assert span.status.status_code is not StatusCode.ERROR


def test_generator_closed_early_is_not_an_error():
    @modeltel.monitor(model="stream")
    def generate(X):
        yield 1
        yield 2

    with capture() as cap:
        iterator = generate([1.0])
        next(iterator)
        iterator.close()
    (span,) = cap.spans
    assert span.status.status_code is not StatusCode.ERROR
    assert "error.type" not in _attrs(span)


def test_generator_send_and_throw_reach_the_user_generator():
    @modeltel.monitor(model="echo")
    def echo(X):
        received = []
        try:
            while True:
                value = yield len(received)
                received.append(value)
        except KeyError:
            yield "caught"

    with capture():
        g = echo([1.0])
        assert next(g) == 0
        assert g.send("a") == 1
        assert g.throw(KeyError("k")) == "caught"


def test_async_generator_streams_outputs():
    @modeltel.monitor(model="astream")
    async def generate(X):
        for i in range(3):
            await asyncio.sleep(0)
            yield i

    async def consume():
        return [item async for item in generate([1.0])]

    with capture() as cap:
        assert asyncio.run(consume()) == [0, 1, 2]
    (span,) = cap.spans
    assert span.name == "predict astream"


class BoomError(RuntimeError):
    pass


def test_user_exception_propagates_unchanged_and_is_recorded():
    raised = BoomError("bad input shape")

    @modeltel.monitor(model="fraud")
    def predict(X):
        raise raised

    with capture(log_sample_rate=0.0) as cap:
        with pytest.raises(BoomError) as info:
            predict([1.0])
    assert info.value is raised
    frames = [frame.name for frame in traceback.extract_tb(info.value.__traceback__)]
    assert frames[-1] == "predict"  # the user's frame is where it was raised
    (span,) = cap.spans
    assert span.status.status_code is StatusCode.ERROR
    assert _attrs(span)["error.type"] == f"{__name__}.BoomError"
    assert any(event.name == "exception" for event in span.events)
    (point,) = cap.metric_points("ml.prediction.duration")
    assert point.attributes["error.type"] == f"{__name__}.BoomError"
    # errors are always logged, even with sampling at 0
    (record,) = cap.logs
    assert record["level"] == "error"
    assert record["error.type"] == f"{__name__}.BoomError"


def test_log_sampling_drops_successful_predictions_only():
    @modeltel.monitor(model="m", log_sample_rate=0.0)
    def predict(X):
        return 1

    with capture() as cap:
        for _ in range(20):
            predict([1.0])
    assert cap.logs == []
    assert len(cap.spans) == 20


def test_fail_open_when_modeltel_internals_raise(monkeypatch):
    from modeltel import _prediction

    def broken(*args, **kwargs):
        raise RuntimeError("summariser exploded")

    monkeypatch.setattr(_prediction, "summarize_input", broken)
    monkeypatch.setattr(_prediction, "summarize_output", broken)
    result = object()

    @modeltel.monitor(model="m")
    def predict(X):
        return result

    with capture() as cap:
        assert predict([1.0]) is result
    (span,) = cap.spans
    assert span.status.status_code is not StatusCode.ERROR
    errors = cap.metric_points("ml.sdk.errors")
    assert sum(p.value for p in errors) == 2


def test_fail_open_when_the_tracer_raises():
    class BrokenTracer:
        def start_span(self, *args, **kwargs):
            raise RuntimeError("tracer exploded")

    @modeltel.monitor(model="m")
    def predict(X):
        return 42

    with capture():
        telemetry = _telemetry.current()
        original = telemetry.tracer
        telemetry.tracer = BrokenTracer()
        try:
            assert predict([1.0]) == 42
        finally:
            telemetry.tracer = original


def test_predict_span_is_child_of_current_span():
    @modeltel.monitor(model="m")
    def predict(X):
        return 1

    with capture() as cap:
        tracer = cap.tracer_provider.get_tracer("test")
        with tracer.start_as_current_span("POST /predict") as parent:
            predict([1.0])
    predict_span = next(s for s in cap.spans if s.name == "predict m")
    assert predict_span.parent.span_id == parent.get_span_context().span_id


def test_input_arg_selects_the_model_input_and_a_wrong_name_is_a_clear_error():
    @modeltel.monitor(model="m", input_arg="features")
    def predict(request_id, features):
        return len(features)

    with capture() as cap:
        assert predict("r-1", [[1.0, 2.0], [3.0, 4.0]]) == 2
        assert predict("r-2", features=[[1.0, 2.0]]) == 1
    rows = [_attrs(s)["ml.input.rows"] for s in cap.spans]
    assert rows == [2, 1]
    with pytest.raises(ValueError, match="input_arg='nope'"):
        modeltel.monitor(input_arg="nope")(lambda X: X)


def test_observe_sync_and_async_context_manager():
    with capture() as cap:
        with modeltel.observe(model="batch", version="1") as p:
            p.record_input(np.zeros((5, 2)))
            p.record_output(np.ones(5))
            p.set_attributes({"app.batch": "nightly"})
            inner_id = modeltel.current_prediction().id

        async def run():
            async with modeltel.observe(model="batch", version="1") as p:
                return p.id

        async_id = asyncio.run(run())
    first, second = cap.spans
    assert _attrs(first)["ml.prediction.id"] == inner_id == p.id
    assert _attrs(first)["app.batch"] == "nightly"
    assert _attrs(first)["ml.input.rows"] == 5
    assert _attrs(second)["ml.prediction.id"] == async_id


def test_observe_records_and_reraises_exceptions():
    with capture() as cap:
        with pytest.raises(KeyError):
            with modeltel.observe(model="batch"):
                raise KeyError("missing")
    (span,) = cap.spans
    assert span.status.status_code is StatusCode.ERROR
    assert _attrs(span)["error.type"] == "KeyError"


def test_observe_takes_name_and_version_from_a_model_object():
    class Booster:
        model_name = "gbm"
        __version__ = "9.9"

    with capture() as cap:
        with modeltel.observe(Booster()):
            pass
    assert _attrs(cap.spans[0])["ml.model.name"] == "gbm"
    assert _attrs(cap.spans[0])["ml.model.version"] == "9.9"


def test_concurrent_threads_keep_spans_and_ids_apart():
    @modeltel.monitor(model="m")
    def predict(X):
        return modeltel.current_prediction().id

    results: dict[int, list[tuple[str, int]]] = {}
    barrier = threading.Barrier(8)

    def worker(n: int, tracer) -> None:
        barrier.wait()
        mine = []
        for _ in range(50):
            with tracer.start_as_current_span(f"request-{n}") as parent:
                mine.append((predict([float(n)]), parent.get_span_context().span_id))
        results[n] = mine

    with capture() as cap:
        tracer = cap.tracer_provider.get_tracer("test")
        threads = [threading.Thread(target=worker, args=(n, tracer)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    by_id = {_attrs(s)["ml.prediction.id"]: s for s in cap.spans if s.name == "predict m"}
    assert len(by_id) == 8 * 50  # ids unique
    for mine in results.values():
        for prediction_id, parent_span_id in mine:
            assert by_id[prediction_id].parent.span_id == parent_span_id


def test_concurrent_asyncio_tasks_keep_spans_and_ids_apart():
    @modeltel.monitor(model="m")
    async def predict(X):
        first = modeltel.current_prediction().id
        await asyncio.sleep(0.001)
        assert modeltel.current_prediction().id == first
        return first, trace.get_current_span().get_span_context().span_id

    async def main():
        return await asyncio.gather(*(predict([float(i)]) for i in range(200)))

    with capture() as cap:
        pairs = asyncio.run(main())
    spans = {_attrs(s)["ml.prediction.id"]: s for s in cap.spans}
    assert len(spans) == 200
    for prediction_id, span_id in pairs:
        assert spans[prediction_id].context.span_id == span_id


def test_disabled_is_a_pass_through(monkeypatch):
    @modeltel.monitor(model="m")
    def predict(X):
        return modeltel.current_prediction()

    with capture(enabled=False) as cap:
        assert predict([1.0]) is None
    assert cap.spans == []


def test_otel_log_record_carries_trace_context():
    @modeltel.monitor(model="m", version="1")
    def predict(X):
        return 1

    with capture(log_sample_rate=1.0) as cap:
        predict([1.0])
    (record,) = cap.otel_logs
    (span,) = cap.spans
    log = record.log_record
    assert log.event_name == "ml.prediction"
    assert log.trace_id == span.context.trace_id
    assert log.span_id == span.context.span_id
    assert json.loads(log.body)["ml.prediction.id"] == _attrs(span)["ml.prediction.id"]
    assert dict(log.attributes) == {"ml.model.name": "m", "ml.model.version": "1"}


def test_raw_payload_only_when_opted_in_and_redacted():
    @modeltel.monitor(model="m")
    def default_predict(X):
        return 1

    @modeltel.monitor(model="m", capture_raw=True, raw_sample_rate=1.0, redact=["ssn"])
    def opted_in(X):
        return 1

    record = {"ssn": "123-45-6789", "amount": 12.5}
    with capture() as cap:
        default_predict(record)
        opted_in(record)
    # the default log rule logs no sampled success, except one drawn for raw capture
    (raw,) = cap.logs
    assert raw["ml.input.raw"] == {"ssn": "[REDACTED]", "amount": 12.5}
    with capture(log_sample_rate=1.0) as cap:
        default_predict(record)
    (plain,) = cap.logs
    assert "ml.input.raw" not in plain


def test_rows_counter_counts_only_rows_of_successful_predictions():
    @modeltel.monitor(model="m")
    def predict(X):
        if len(X) == 3:
            raise ValueError("three rows are bad luck")
        return [0] * len(X)

    with capture() as cap:
        predict([[1.0], [2.0]])
        with pytest.raises(ValueError):
            predict([[1.0], [2.0], [3.0]])
    (point,) = cap.metric_points("ml.prediction.rows")
    assert point.value == 2
