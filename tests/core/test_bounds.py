"""Bounded whatever the traffic: metric series per model, sketch stream slots."""

from __future__ import annotations

import time

import numpy as np

import modeltel
from modeltel import _semconv as sc
from modeltel._config import Config
from modeltel._sketch import MAX_STREAMS, SketchStore
from modeltel._summary import summarize_input
from modeltel.testing import capture

CFG = Config()


def _models(points: list) -> set[tuple[str, str]]:
    return {(p.attributes[sc.ATTR_MODEL_NAME], p.attributes[sc.ATTR_MODEL_VERSION]) for p in points}


def test_model_versions_beyond_max_models_share_one_overflow_series_and_are_counted() -> None:
    """MODELTEL_MAX_MODELS=5 and 40 model versions: 5 duration/rows series of their own, the
    other 35 versions' predictions in one __overflow__ series, each counted in ml.sdk.overflow;
    spans keep the real names."""
    with capture(max_models=5) as cap:
        for i in range(40):
            with modeltel.observe(model="m", version=str(i)) as p:
                p.record_input({"x": 1.0})
        durations = cap.metric_points(sc.METRIC_DURATION)
        rows = cap.metric_points(sc.METRIC_ROWS)
        overflow = cap.metric_points(sc.METRIC_SDK_OVERFLOW)
        spans = cap.spans
    own = {("m", str(i)) for i in range(5)}
    assert _models(durations) == own | {(sc.OVERFLOW_MODEL, sc.OVERFLOW_MODEL)}
    assert sum(p.count for p in durations) == 40
    assert _models(rows) == own | {(sc.OVERFLOW_MODEL, sc.OVERFLOW_MODEL)}
    assert sum(p.value for p in overflow) == 35
    assert {s.attributes[sc.ATTR_MODEL_VERSION] for s in spans} == {str(i) for i in range(40)}


def _record(store: SketchStore, model: str) -> None:
    store.record(model, "1", "input", summarize_input(np.ones((3, 1)), config=CFG))


def test_stream_slots_of_idle_models_are_reclaimed_so_later_models_get_distributions() -> None:
    """A spike fills every stream slot; once those models are idle for stream_ttl, a new model
    gets a slot (and distributions) again; the stream over the cap in between is counted."""
    store = SketchStore(stream_ttl=0.05)
    for i in range(MAX_STREAMS):
        _record(store, f"spike-{i}")
    _record(store, "late")  # no slot: counted as a stream overflow
    first = store.collect()
    assert {p.model for p in first.exponential} == {f"spike-{i}" for i in range(MAX_STREAMS)}
    assert [(o.kind, o.value) for o in first.overflow] == [("stream", 1)]
    time.sleep(0.1)
    store.collect()  # idle for longer than the TTL: the spike's slots are freed
    assert store.expired_streams == MAX_STREAMS
    _record(store, "late")
    assert {p.model for p in store.collect().exponential} == {"late"}


def test_an_active_stream_is_never_reclaimed() -> None:
    """A model recorded into between collects keeps its stream (and its sticky label map)."""
    store = SketchStore(stream_ttl=0.0)
    for _ in range(3):
        _record(store, "busy")
        assert {p.model for p in store.collect().exponential} == {"busy"}
    assert store.expired_streams == 0
