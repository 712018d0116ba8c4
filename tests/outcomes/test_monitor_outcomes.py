"""@monitor(..., outcomes=True): joinable rows of every predict call, no input values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import modeltel
from modeltel import _outcomes
from modeltel.testing import capture

FRAME = pd.DataFrame({"tx": [9001, 9002, 9003], "amount": [123.456, 78.9, 5.5], "region": ["eu", "us", "eu"]})


def _joinable(cap):
    """The records that carry joinable rows (ml.prediction or ml.outcome.predicted)."""
    return [r.log_record for r in cap.otel_logs if "ml.outcome.keys" in (r.log_record.attributes or {})]


def _rows(rec, name):
    return _outcomes.unpack(rec.attributes[name])


def test_rows_ride_on_the_prediction_record_with_business_keys_and_segments():
    @modeltel.monitor(model="fraud", version="3", outcomes=True, id_from="tx", segment_by="region",
                      reference={"accuracy": 0.93})
    def predict(X):
        p = np.array([0.9, 0.2, 0.6])
        return np.column_stack([1 - p, p])

    with capture(log_sample_rate=1.0) as cap:
        out = predict(FRAME)
    assert out.shape == (3, 2)
    (rec,) = _joinable(cap)
    assert rec.event_name == "ml.prediction"  # one record per call: the prediction's own
    assert _rows(rec, "ml.outcome.keys") == ["9001", "9002", "9003"]
    assert _rows(rec, "ml.prediction.classes") == ["1", "0", "1"]
    assert _rows(rec, "ml.prediction.scores") == pytest.approx([0.9, 0.2, 0.6])
    assert _rows(rec, "ml.outcome.segments") == ["eu", "us", "eu"]
    assert rec.attributes["ml.performance.reference.accuracy"] == 0.93
    assert rec.attributes["ml.model.name"] == "fraud" and rec.attributes["ml.model.version"] == "3"
    # No input value leaves: not the amounts (the keys and segments are what was opted in).
    text = repr(dict(rec.attributes))
    assert "123.456" not in text and "78.9" not in text


def test_unlogged_calls_send_a_record_of_their_own_with_default_keys():
    """With log sampling off the rows still go out (never sampled): ml.outcome.predicted,
    keys <prediction id>:<row> readable through current_prediction()."""
    seen = []

    @modeltel.monitor(model="price", outcomes="regression", log_sample_rate=0.0)
    def predict(X):
        seen.append(modeltel.current_prediction().id)
        return np.array([10.5, 20.25])

    with capture() as cap:
        predict(np.zeros((2, 3)))
    (rec,) = _joinable(cap)
    assert rec.event_name == "ml.outcome.predicted"
    assert _rows(rec, "ml.outcome.keys") == [f"{seen[0]}:0", f"{seen[0]}:1"]
    assert _rows(rec, "ml.prediction.values") == [10.5, 20.25]


def test_observe_and_records_of_dicts():
    with capture() as cap:
        with modeltel.observe(model="churn", outcomes=True, id_from="user") as p:
            rows = [{"user": "u1", "age": 40}, {"user": "u2", "age": 31}]
            p.record_input(rows)
            p.record_output(np.array([1, 0]))
    (rec,) = _joinable(cap)
    assert _rows(rec, "ml.outcome.keys") == ["u1", "u2"]
    assert _rows(rec, "ml.prediction.classes") == ["1", "0"]


def test_a_missing_key_column_or_an_odd_output_never_breaks_the_prediction():
    """Fail-open: a missing id_from column is a contained SDK error (keys fall back to the
    prediction id); an output without per-row values sends nothing; results are unchanged."""

    @modeltel.monitor(model="m", outcomes=True, id_from="nope")
    def predict(X):
        return np.array([0.1, 0.9, 0.4])

    @modeltel.monitor(model="m2", outcomes=True)
    def odd(X):
        return {"not": "rows"}

    with capture() as cap:
        assert predict(FRAME).tolist() == [0.1, 0.9, 0.4]
        assert odd(FRAME) == {"not": "rows"}
    (rec,) = _joinable(cap)
    assert _rows(rec, "ml.outcome.keys")[0].endswith(":0")
    sites = {dict(p.attributes)["ml.sdk.error.site"] for p in cap.metric_points("ml.sdk.errors")}
    assert {"prediction.outcome_keys", "prediction.outcomes"} <= sites


def test_options_are_checked():
    with pytest.raises(ValueError, match="outcomes='yes'"):
        modeltel.monitor(model="m", outcomes="yes")
    with pytest.raises(ValueError, match="need outcomes=True"):
        modeltel.monitor(model="m", id_from="tx")


def test_without_outcomes_nothing_joinable_is_sent():
    @modeltel.monitor(model="m")
    def predict(X):
        return np.array([0.1])

    with capture() as cap:
        predict(FRAME.iloc[:1])
    assert _joinable(cap) == []


@pytest.mark.parametrize(
    "make",
    [
        lambda: pd.DataFrame({"tx": [7], "region": ["eu"], "x": [1.0]}).iloc[:1],
        lambda: __import__("polars").DataFrame({"tx": [7], "region": ["eu"], "x": [1.0]}),
        lambda: __import__("pyarrow").table({"tx": [7], "region": ["eu"], "x": [1.0]}),
        lambda: {"tx": 7, "region": "eu", "x": 1.0},
        lambda: {"tx": np.array([7]), "region": ["eu"], "x": [1.0]},
        lambda: [{"tx": 7, "region": "eu", "x": 1.0}],
    ],
    ids=["pandas-1-row", "polars", "pyarrow", "dict", "dict-of-arrays", "records"],
)
def test_keys_and_segments_from_every_input_type(make):
    assert _outcomes.join_columns(make(), "tx", ("region",)) == (["7"], ["eu"])


@pytest.mark.parametrize(
    "make",
    [
        lambda: pd.DataFrame({"tx": [7, 8], "region": ["eu", "us"], "x": [1.0, 2.0]}),
        lambda: __import__("polars").DataFrame({"tx": [7, 8], "region": ["eu", "us"], "x": [1.0, 2.0]}),
        lambda: __import__("pyarrow").table({"tx": [7, 8], "region": ["eu", "us"], "x": [1.0, 2.0]}),
        lambda: [{"tx": 7, "region": "eu", "x": 1.0}, {"tx": 8, "region": "us", "x": 2.0}],
    ],
    ids=["pandas", "polars", "pyarrow", "records"],
)
def test_the_key_column_is_not_summarised_as_a_feature(make):
    """id_from's column is a row id, not a feature: it is not in the sketches (so no drift or
    data-quality check runs on it) and the span counts the other features only."""

    @modeltel.monitor(model="m", outcomes=True, id_from="tx")
    def predict(X):
        return np.array([0.2, 0.9])

    X = make()
    with capture(log_sample_rate=1.0) as cap:
        predict(X)
    (span,) = cap.spans
    assert span.attributes["ml.input.features"] == 2
    features = {kv.value.string_value for m in _metrics(cap) for dp in m for kv in dp.attributes if kv.key == "ml.feature.name"}
    assert "tx" not in features and {"region", "x"} <= features
    assert _rows(_joinable(cap)[0], "ml.outcome.keys") == ["7", "8"]
    names = X.column_names if hasattr(X, "column_names") else list(X.columns) if hasattr(X, "columns") else list(X[0])
    assert "tx" in names  # the user's input is left as it is


def _metrics(cap):
    """Data points of the distribution metrics the sketch exporter would send."""
    from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics

    req = encode_metrics(cap.distributions())
    for rm in req.resource_metrics:
        for sm in rm.scope_metrics:
            for m in sm.metrics:
                kind = m.WhichOneof("data")
                yield list(getattr(m, kind).data_points)
