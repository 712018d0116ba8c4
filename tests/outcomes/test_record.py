"""record_outcome(s): the ml.outcome.observed records they send, and what they reject."""

from __future__ import annotations

import logging
import zlib

import numpy as np
import pandas as pd
import pytest

import modeltel
from modeltel import _outcomes
from modeltel.testing import capture


def _records(cap):
    return [r.log_record for r in cap.otel_logs if r.log_record.event_name == "ml.outcome.observed"]


def _rows(rec, name):
    return _outcomes.unpack(rec.attributes[name])


def test_record_outcomes_sends_one_record_with_keys_and_labels_per_batch():
    """A batch of labels is one log record: model, keys and labels as arrays, nothing else."""
    with capture() as cap:
        sent = modeltel.record_outcomes(pd.Series([101, 102, 103]), np.array([1, 0, 1]), model="fraud",
                                        observed_at=1_700_000_000.5)
    assert sent == 3
    (rec,) = _records(cap)
    assert dict(rec.attributes) == {
        "ml.model.name": "fraud",
        "ml.outcome.keys": "101\x1f102\x1f103",  # packed: one value, not one per row
        "ml.outcome.labels": "1\x1f0\x1f1",
    }
    assert rec.timestamp == 1_700_000_000_500_000_000
    assert rec.body == "ml.outcome.observed: 3 rows"


def test_regression_values_and_integral_floats_as_labels():
    """Non-integral floats are values; integral floats and booleans are class labels."""
    with capture() as cap:
        modeltel.record_outcomes(["a", "b"], np.array([1.5, 2.0]), model="price")
        modeltel.record_outcomes(["a", "b"], np.array([1.0, 0.0]), model="churn")
        modeltel.record_outcomes(["a"], [True], model="churn")
        modeltel.record_outcome("c", 3.25, model="price")
        modeltel.record_outcomes(["d"], [4.0], model="price", task="regression")
    recs = _records(cap)
    assert recs[0].attributes["ml.outcome.values"] == np.array([1.5, 2.0], dtype="<f8").tobytes()
    assert _rows(recs[1], "ml.outcome.labels") == ["1", "0"]
    assert _rows(recs[2], "ml.outcome.labels") == ["1"]
    assert _rows(recs[3], "ml.outcome.values") == [3.25]
    assert _rows(recs[4], "ml.outcome.values") == [4.0]


def test_rows_without_key_or_actual_are_skipped_and_counted(caplog):
    """Missing keys or actuals (None, NaN) are not sent; the return value and a warning say so."""
    with capture() as cap, caplog.at_level(logging.WARNING, logger="modeltel"):
        sent = modeltel.record_outcomes(["a", None, "c", "d"], [1, 0, None, float("nan")], model="m")
    assert sent == 1
    assert _rows(_records(cap)[0], "ml.outcome.keys") == ["a"]
    assert "3 rows without a key or an actual were skipped" in caplog.text


def test_bad_input_is_a_clear_error():
    with capture():
        with pytest.raises(ValueError, match="differ in length: 2 keys, 1 actuals"):
            modeltel.record_outcomes(["a", "b"], [1], model="m")
        with pytest.raises(ValueError, match="task='ranking'"):
            modeltel.record_outcomes(["a"], [1], model="m", task="ranking")
        with pytest.raises(TypeError, match="not a single string"):
            modeltel.record_outcomes("abc", [1, 2, 3], model="m")


def test_large_batches_are_split_into_records_of_at_most_10000_rows():
    with capture() as cap:
        sent = modeltel.record_outcomes(np.arange(25_000), np.zeros(25_000, dtype=int), model="m")
    assert sent == 25_000
    sizes = [len(_rows(r, "ml.outcome.keys")) for r in _records(cap)]
    assert sizes == [10_000, 10_000, 5_000]


def test_partitions_route_each_key_by_crc32():
    """With MODELTEL_OUTCOME_PARTITIONS=4 a batch becomes one record per partition, each
    tagged ml.outcome.partition = crc32(key) % 4, the same rule for every sender."""
    keys = [f"tx-{i}" for i in range(200)]
    with capture(outcome_partitions=4) as cap:
        modeltel.record_outcomes(keys, [i % 2 for i in range(200)], model="m")
    recs = _records(cap)
    assert sorted(r.attributes["ml.outcome.partition"] for r in recs) == [0, 1, 2, 3]
    for r in recs:
        part = r.attributes["ml.outcome.partition"]
        assert all(zlib.crc32(k.encode()) % 4 == part for k in _rows(r, "ml.outcome.keys"))
    assert sum(len(_rows(r, "ml.outcome.keys")) for r in recs) == 200


def test_without_a_logger_provider_nothing_is_sent_and_a_warning_says_why(caplog, monkeypatch):
    monkeypatch.setattr(_outcomes, "_warned_no_provider", False)
    with caplog.at_level(logging.WARNING, logger="modeltel"):
        assert modeltel.record_outcomes(["a"], [1], model="m") == 0
    assert "no OpenTelemetry logger provider" in caplog.text


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (np.array([1, 2]), ["1", "2"]),
        (np.array([1.0, -2.0]), ["1", "-2"]),
        (np.array([True, False]), ["1", "0"]),
        (np.array(["x", "y"]), ["x", "y"]),
        ([1.5, "a", 3, np.int64(4), True, 2.0], ["1.5", "a", "3", "4", "1", "2"]),
        (pd.Series([10, 20]), ["10", "20"]),
    ],
)
def test_label_rule(values, expected):
    """Keys and labels become text by one rule, the one the Go connector uses for numbers."""
    assert _outcomes.labels(values) == expected


def test_a_key_holding_the_separator_goes_as_a_plain_array():
    with capture() as cap:
        modeltel.record_outcomes(["a\x1fb", "c"], [1, 0], model="m")
    (rec,) = _records(cap)
    assert rec.attributes["ml.outcome.keys"] == ("a\x1fb", "c")
    assert rec.attributes["ml.outcome.labels"] == "1\x1f0"


def test_emit_joinable_sends_keys_classes_and_scores_of_a_predict_proba_output():
    """A 2-column probability output: class = the larger column, score = the second; keys
    default to <prediction id>:<row>; no input value is in the record."""
    with capture() as cap:
        n = _outcomes.emit_joinable(model="fraud", version="3", prediction_id="p1",
                                    output=np.array([[0.2, 0.8], [0.6, 0.4]]), segments=["eu", "us"],
                                    reference={"accuracy": 0.9})
    assert n == 2
    (rec,) = [r.log_record for r in cap.otel_logs if r.log_record.event_name == "ml.outcome.predicted"]
    assert _rows(rec, "ml.outcome.keys") == ["p1:0", "p1:1"]
    assert _rows(rec, "ml.prediction.classes") == ["1", "0"]
    assert _rows(rec, "ml.prediction.scores") == [0.8, 0.4]
    assert _rows(rec, "ml.outcome.segments") == ["eu", "us"]
    assert rec.attributes["ml.performance.reference.accuracy"] == 0.9
    assert set(rec.attributes) == {"ml.model.name", "ml.model.version", "ml.prediction.id", "ml.outcome.keys",
                                   "ml.prediction.classes", "ml.prediction.scores", "ml.outcome.segments",
                                   "ml.performance.reference.accuracy"}


@pytest.mark.parametrize(
    ("output", "task", "expected"),
    [
        (np.array([0.2, 0.9]), None, {"ml.prediction.classes": ["0", "1"], "ml.prediction.scores": [0.2, 0.9]}),
        (np.array([0.2, 0.9]), "regression", {"ml.prediction.values": [0.2, 0.9]}),
        (np.array([2.5, 30.0]), None, {"ml.prediction.values": [2.5, 30.0]}),
        (np.array([[0.1, 0.2, 0.7], [0.5, 0.3, 0.2]]), None,
         {"ml.prediction.classes": ["2", "0"], "ml.prediction.probabilities": [[0.1, 0.2, 0.7], [0.5, 0.3, 0.2]]}),
        (np.array(["cat", "dog"]), None, {"ml.prediction.classes": ["cat", "dog"]}),
        (pd.Series([1, 0]), None, {"ml.prediction.classes": ["1", "0"]}),
        (0.7, None, {"ml.prediction.classes": ["1"], "ml.prediction.scores": [0.7]}),
        (12.5, None, {"ml.prediction.values": [12.5]}),
    ],
)
def test_output_rows(output, task, expected):
    """Each output shape gives its joinable per-row values: classes and scores, values, or
    (more than two probability columns) classes and every column's probability."""
    rows = _outcomes.output_rows(output, task)
    assert {k: list(np.asarray(v).tolist()) for k, v in rows.items()} == expected


def test_a_multiclass_output_sends_every_class_probability_packed():
    """More than two probability columns: the argmax class and each row's k probabilities as
    little-endian float64 bytes (row-major), with the columns' classes once per record."""
    proba = np.array([[0.1, 0.2, 0.7], [0.5, 0.3, 0.2], [0.2, 0.6, 0.2]])
    with capture() as cap:
        assert _outcomes.emit_joinable(model="mode", version="1", prediction_id="p", output=proba) == 3
    (rec,) = [r.log_record for r in cap.otel_logs if r.log_record.event_name == "ml.outcome.predicted"]
    assert _rows(rec, "ml.prediction.classes") == ["2", "0", "1"]
    assert rec.attributes["ml.prediction.probabilities"] == proba.astype("<f8").tobytes()
    assert rec.attributes["ml.prediction.probability_classes"] == "0\x1f1\x1f2"


@pytest.mark.parametrize("output", [np.array([[0.3, 0.7]]), np.array([[0.7, 0.3]]), np.array([[0.5, 0.5]]),
                                    np.array([0.2]), np.array([[0.9]]), np.float64(0.6), 0.4, 12.5, np.array([3.5]),
                                    np.array([[0.2, 0.8]], dtype=np.float32), np.array([np.nan])])
@pytest.mark.parametrize("task", [None, "classification", "regression"])
@pytest.mark.parametrize(("keys", "segments"), [(None, None), (["k1"], ["eu"]), (["a\x1fb"], ["x\x1fy"])])
def test_the_one_row_fast_path_sends_what_the_general_path_sends(output, task, keys, segments):
    """A one-row output of the common shapes takes a path without numpy calls (the single-row
    budget): its attributes equal the general path's, name for name and byte for byte."""
    baseline = {"ml.performance.reference.accuracy": 0.8}
    for reference in (None, {"accuracy": 0.9}):
        fast = _outcomes.joinable_records(model="m", version="1", prediction_id="p", output=output, keys=keys,
                                          segments=segments, task=task, reference=reference, baseline_reference=baseline)
        rows = _outcomes.output_rows(output, task)
        general = list(_outcomes.predicted_records(
            model="m", version="1", prediction_id="p", keys=keys or ["p:0"], segments=segments, reference=reference,
            baseline_reference=baseline, classes=rows.get("ml.prediction.classes"), scores=rows.get("ml.prediction.scores"),
            values=rows.get("ml.prediction.values")))
        assert fast == general
