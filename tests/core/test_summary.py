"""summarize_input / summarize_output: per-feature statistics, span attributes, log fields."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from modeltel._columns import hash_label
from modeltel._config import Config
from modeltel._summary import UnsupportedInput, feature_names_option, summarize_input, summarize_output

CFG = Config()
#: Means over any count (the arithmetic checks); the default withholds means over < 10 values.
ANY_COUNT = Config(min_aggregate_count=1)


def test_batch_counts_nan_null_and_inf_separately():
    """count = finite values; NaN, None (null) and +/-inf are counted apart; the mean skips
    them; no min or max ever (each is a real row's value)."""
    x = np.array([[1.0, np.nan], [np.inf, 2.0], [3.0, -np.inf], [np.nan, 4.0]])
    f = summarize_input(x, config=ANY_COUNT).log_fields()["features"]
    assert f["f0"] == {"count": 2, "nulls": 0, "nan": 1, "inf": 1, "mean": 2.0}
    assert f["f1"] == {"count": 2, "nulls": 0, "nan": 1, "inf": 1, "mean": 3.0}
    nulls = summarize_input([{"a": None}, {"a": float("nan")}, {"a": 5.0}], config=ANY_COUNT).log_fields()
    assert nulls["features"]["a"] == {"count": 1, "nulls": 1, "nan": 1, "inf": 0, "mean": 5.0}


def test_a_mean_over_fewer_than_min_aggregate_count_values_is_withheld():
    """Default: a batch feature's mean needs 10 finite values (a 2-row mean and one known row
    give the other row); min/max are never in the record."""
    small = summarize_input(np.array([[7002.5, 1.0], [3.0, 2.0]]), config=CFG).log_fields()["features"]
    assert small["f0"] == {"count": 2, "nulls": 0, "nan": 0, "inf": 0}
    big = summarize_input(np.arange(20.0).reshape(10, 2), config=CFG).log_fields()["features"]
    assert big["f0"]["mean"] == 9.0 and "min" not in big["f0"] and "max" not in big["f0"]


def test_single_record_log_names_missing_and_nonfinite_features_and_omits_raw_values():
    """One record: which features are missing/not finite, no min/max/mean (they are the value)."""
    rec = {"a": 1.5, "b": float("nan"), "c": None, "d": float("-inf"), "e": "x", "f": None}
    one = summarize_input(rec, config=CFG).log_fields()
    assert one == {"rows": 1, "type": "dict", "features": 6, "missing": ["b", "c", "f"], "nonfinite": ["d"]}
    assert "1.5" not in repr(one)
    batch = summarize_input([rec, {k: None for k in rec}], config=CFG).log_fields()["features"]
    assert batch["a"]["count"] == 1 and batch["b"]["nan"] == 1 and batch["d"]["inf"] == 1
    # the record path's statistics themselves still agree with the batch path (for the store)
    st = summarize_input(rec, config=CFG).stats()
    assert st.count[0] == 1 and st.min[0] == st.max[0] == st.sum[0] == 1.5


def test_a_numeric_sentinel_in_a_single_record_is_not_in_its_summary():
    """The raw value of a one-row prediction is neither in the log fields nor the span attributes."""
    s = summarize_input({"income": 987654.321, "age": 41.0}, config=CFG)
    text = json.dumps(s.log_fields()) + json.dumps(s.span_attributes())
    assert "987654" not in text and "41.0" not in text


def test_batch_stats_equal_numpy_nan_aware_reductions_on_random_data():
    """min/max/mean of every feature equal numpy's nan-aware results (random data, NaN and inf)."""
    rng = np.random.default_rng(7)
    x = rng.normal(3, 2, size=(2000, 6))
    x[rng.random(x.shape) < 0.05] = np.nan
    x[rng.random(x.shape) < 0.01] = np.inf
    summary = summarize_input(x, config=CFG)
    fields = summary.log_fields()["features"]
    st = summary.stats()  # min/max stay in the process (the store's scale choice uses them)
    finite = np.where(np.isfinite(x), x, np.nan)
    for j in range(6):
        f = fields[f"f{j}"]
        assert f["count"] == int(np.isfinite(x[:, j]).sum())
        assert f["nan"] == int(np.isnan(x[:, j]).sum()) and f["inf"] == int(np.isinf(x[:, j]).sum())
        assert st.min[j] == np.nanmin(finite[:, j]) and st.max[j] == np.nanmax(finite[:, j])
        assert f["mean"] == pytest.approx(np.nanmean(finite[:, j]), rel=1e-12)


def test_input_span_attributes_use_the_registered_names():
    """Span attributes: ml.input.rows and ml.input.features (overflow included); the type
    is in the log record only."""
    assert summarize_input(np.zeros((7, 4)), config=CFG).span_attributes() == {
        "ml.input.rows": 7,
        "ml.input.features": 4,
    }
    s = summarize_input(pd.DataFrame({"a": [1], "b": ["x"]}), config=CFG)
    assert s.rows == 1 and s.type == "pandas.DataFrame"
    wide = summarize_input(np.zeros((2, 10)), config=Config(max_features=4))
    assert wide.span_attributes()["ml.input.features"] == 10
    assert wide.log_fields()["features_overflow"] == 6


def test_output_kinds_classes_scores_and_values():
    """Labels are classes, floats within [0, 1] scores, other floats regression values."""
    assert summarize_output(np.array([0, 1, 1]), config=CFG).kind == "classes"
    assert summarize_output(["a", "b"], config=CFG).kind == "classes"
    assert summarize_output(np.array([[0.1, 0.9], [0.5, 0.5]]), config=CFG).kind == "scores"
    assert summarize_output(np.array([12.5, -3.0]), config=CFG).kind == "values"
    assert summarize_output(0.7, config=CFG).kind == "scores"


def test_output_span_attributes_and_log_fields():
    """Outputs: the mean on the span (never min/max; nothing for fewer than
    min_aggregate_count rows: one row's mean is its output); rows, type, kind and class counts
    or stats in the log."""
    reg = summarize_output(np.array([1.0, 2.0, 6.0]), config=ANY_COUNT)
    assert reg.span_attributes() == {"ml.output.value.mean": 3.0}
    assert reg.log_fields()["kind"] == "values" and reg.log_fields()["rows"] == 3
    assert summarize_output(0.25, config=CFG).span_attributes() == {}
    assert summarize_output(np.array([[0.2, 0.8]]), config=CFG).span_attributes() == {}
    assert summarize_output(np.array([1.0, 2.0, 6.0]), config=CFG).span_attributes() == {}
    assert reg.log_fields()["values"]["prediction"]["mean"] == 3.0
    proba = summarize_output(np.array([[0.2, 0.8], [0.4, 0.6]] * 5), config=CFG).span_attributes()
    assert proba["ml.output.value.mean"] == pytest.approx([0.3, 0.7])
    classes = summarize_output(np.array([2, 0, 2]), config=CFG)
    assert classes.log_fields()["classes"] == {"2": 2, "0": 1}
    assert "ml.output.value.mean" not in classes.span_attributes()


def test_string_class_labels_are_hashed_unless_opted_out():
    """String output labels leave as hashes by default, in clear with hash_categories=False."""
    out = summarize_output(["spam", "ham", "spam"], config=CFG).log_fields()["classes"]
    assert out == {hash_label("spam"): 2, hash_label("ham"): 1}
    keyed = summarize_output(["spam"], config=Config(hash_key="k1")).log_fields()["classes"]
    assert keyed == {hash_label("spam", "k1"): 1} and hash_label("spam", "k1") != hash_label("spam", "k2")
    clear = summarize_output(["spam", "ham", "spam"], config=Config(hash_categories=False)).log_fields()
    assert clear["classes"] == {"spam": 2, "ham": 1}


def test_summaries_never_contain_raw_input_values():
    """A sentinel string or number in the input appears in no span attribute or log field."""
    sentinel = "SENTINEL-4242-secret"
    frame = pd.DataFrame({"name": [sentinel, "bob"], "ssn": [123456789.0, 5.0]})
    for obj in (frame, {"name": sentinel, "pin": 987654.25}, [{"name": sentinel}]):
        s = summarize_input(obj, config=CFG)
        text = json.dumps(s.log_fields()) + json.dumps(s.span_attributes())
        assert sentinel not in text
        assert "987654.25" not in text
    strings = summarize_input(frame, config=CFG).log_fields()["features"]["name"]
    assert set(strings) == {"count", "nulls", "distinct"}  # no min/max for strings


def test_log_fields_are_strict_json():
    """log_fields() serialises with allow_nan=False (NaN/inf stats become null)."""
    x = np.array([[np.nan, 1.0], [np.nan, np.inf]])
    fields = summarize_input(x, config=ANY_COUNT).log_fields()
    json.dumps(fields, allow_nan=False)
    assert "mean" not in fields["features"]["f0"] and fields["features"]["f1"]["mean"] == 1.0
    json.dumps(summarize_output(np.array([np.nan, 1.0]), config=CFG).log_fields(), allow_nan=False)
    json.dumps(summarize_input({"a": float("inf")}, config=CFG).log_fields(), allow_nan=False)


def test_unsupported_input_is_raised_for_unknown_types():
    """summarize_input/summarize_output raise UnsupportedInput for objects they cannot read."""
    with pytest.raises(UnsupportedInput):
        summarize_input(object(), config=CFG)
    with pytest.raises(UnsupportedInput):
        summarize_output(object(), config=CFG)


def test_stats_are_computed_once_and_shared():
    """stats() is lazy and cached: the sketch store reuses the summary's computation."""
    s = summarize_input(np.ones((10, 3)), config=CFG)
    assert s._stats is None
    first = s.stats()
    assert s.stats() is first and list(first.count) == [10, 10, 10] and first.all_finite


def test_feature_names_hash_sends_every_key_as_a_keyed_hash():
    """feature_names="hash": inputs whose keys are data (a bag of words) leave no key in clear,
    in the record path and the batch path alike; counts are unchanged."""
    words = {"alice@example.com": 2.0, "ssn-123": 1.0}
    config = Config(hash_key="deploy-secret")
    one = summarize_input(words, feature_names="hash", config=config)
    assert set(one.columns.names) == {hash_label(k, "deploy-secret") for k in words}
    batch = summarize_input(pd.DataFrame([words] * 3), feature_names="hash", config=config)
    text = json.dumps(batch.log_fields())
    assert "alice" not in text and "ssn" not in text
    assert batch.log_fields()["features"][hash_label("ssn-123", "deploy-secret")]["count"] == 3


def test_feature_names_mapping_renames_known_keys_and_hashes_the_rest():
    """A mapping sends a mapped key under its new name and any other key hashed."""
    s = summarize_input({"age": 41.0, "token-xyz": 1.0, "city": "Paris"}, feature_names={"age": "age", "city": "c"}, config=CFG)
    assert s.columns.names == ("age", hash_label("token-xyz"), "c")
    assert s.columns.categorical == {"c": "Paris"} and s.columns.numeric_names == ("age", hash_label("token-xyz"))
    with pytest.raises(ValueError):
        feature_names_option("md5")
