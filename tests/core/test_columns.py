"""to_columns: every supported input/output type normalised to one column view."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

from modeltel._columns import Columns, Record, UnsupportedInput, hash_label, label_is_clear, to_columns
from modeltel._config import Config

CFG = Config()


def col(c: Columns, name: str) -> np.ndarray:
    """The numeric column ``name`` of a batch view."""
    return c.numeric[:, c.numeric_names.index(name)]


def test_dict_of_scalars_is_one_record_without_numpy():
    """A dict of scalars takes the pure-Python path: floats/ints numeric, str/bool labels, None null."""
    r = to_columns({"age": 42, "income": 1.5, "city": "Paris", "vip": True, "score": None}, config=CFG)
    assert isinstance(r, Record)
    assert r.rows == 1 and r.type == "dict"
    assert r.names == ("age", "income", "city", "vip", "score")
    assert r.numeric_names == ("age", "income", "score")
    assert r.numeric[:2] == [42.0, 1.5] and np.isnan(r.numeric[2])
    assert r.numeric_null_idx == (2,)
    assert r.categorical == {"city": "Paris", "vip": "true"}
    assert all(type(v) is float for v in r.numeric)


def test_names_checked_once_are_checked_again_under_another_limit_or_with_repeats():
    """The one-record fast path remembers names that passed its checks; the same names under
    a shorter max_string_length are cut, and a list that repeats a name keeps the first."""
    row = {"temperature": 1.0, "pressure": 2.0}
    assert to_columns(row, config=CFG).names == ("temperature", "pressure")
    short = to_columns(row, config=Config(max_string_length=4))
    assert short.names == ("temp", "pres")
    assert to_columns(row, config=CFG).names == ("temperature", "pressure")
    frame = pd.DataFrame([[1.0, 2.0, 3.0]], columns=["temperature", "pressure", "temperature"])
    repeated = to_columns(frame, config=CFG)
    assert repeated.names == ("temperature", "pressure") and repeated.numeric == [1.0, 2.0]


def test_numpy_1d_input_is_one_row_and_1d_output_is_one_column():
    """role decides: a 1-D input is one row of features, a 1-D output the `prediction` column."""
    row = to_columns(np.array([1.0, 2.0, 3.0]), config=CFG, role="input")
    assert isinstance(row, Record) and row.names == ("f0", "f1", "f2") and row.numeric == [1.0, 2.0, 3.0]
    out = to_columns(np.array([0.1, 0.2, 0.3]), config=CFG, role="output")
    assert isinstance(out, Columns) and out.rows == 3 and out.names == ("prediction",)
    np.testing.assert_array_equal(col(out, "prediction"), [0.1, 0.2, 0.3])


def test_numpy_2d_input_keeps_one_float64_matrix_and_feature_names():
    """A 2-D array stays one (rows x features) float64 matrix; feature_names name its columns."""
    x = np.arange(12, dtype=np.int32).reshape(4, 3)
    c = to_columns(x, feature_names=["a", "b", "c"], config=CFG)
    assert isinstance(c, Columns) and c.rows == 4 and c.type == "numpy.ndarray"
    assert c.names == ("a", "b", "c") and c.numeric.dtype == np.float64 and c.numeric.shape == (4, 3)
    np.testing.assert_array_equal(c.numeric, x.astype(float))


def test_2d_output_columns_are_prediction_i_and_int_outputs_are_class_labels():
    """Columns of a 2-D output are prediction[i]; integer outputs are categorical labels."""
    proba = to_columns(np.array([[0.2, 0.8], [0.6, 0.4]]), config=CFG, role="output")
    assert proba.names == ("prediction[0]", "prediction[1]")
    classes = to_columns(np.array([1, 0, 1, 1]), config=CFG, role="output")
    assert classes.numeric_names == () and classes.categorical["prediction"].counts == {"1": 3, "0": 1}
    strings = to_columns(np.array(["spam", "ham", "spam"]), config=CFG, role="output")
    assert strings.categorical["prediction"].counts == {"spam": 2, "ham": 1}


def test_single_row_2d_input_and_single_output_take_the_record_path():
    """(1, k) inputs and one-value outputs are Records (no numpy work per prediction)."""
    r = to_columns(np.array([[1.0, 2.0]]), config=CFG)
    assert isinstance(r, Record) and r.names == ("f0", "f1")
    o = to_columns(np.array([[0.3, 0.7]]), config=CFG, role="output")
    assert isinstance(o, Record) and o.names == ("prediction[0]", "prediction[1]")
    s = to_columns(0.25, config=CFG, role="output")
    assert isinstance(s, Record) and s.names == ("prediction",) and s.numeric == [0.25]
    lab = to_columns("fraud", config=CFG, role="output")
    assert lab.categorical == {"prediction": "fraud"}


def _frame():
    return pd.DataFrame(
        {
            "x": [1.0, np.nan, 3.0, 4.0],
            "n": pd.array([1, None, 3, 4], dtype="Int64"),
            "s": ["a", "b", None, "a"],
            "c": pd.Categorical(["u", "v", "u", None]),
            "b": [True, False, True, True],
        }
    )


def test_pandas_dataframe_numeric_categorical_nullable_and_bool_columns():
    """pandas: floats/nullable ints numeric (NA counted as null), strings/categoricals/bools counted."""
    c = to_columns(_frame(), config=CFG)
    assert c.type == "pandas.DataFrame" and c.rows == 4
    assert c.names == ("x", "n", "s", "c", "b")
    assert c.numeric_names == ("x", "n")
    np.testing.assert_array_equal(col(c, "x"), [1.0, np.nan, 3.0, 4.0])
    np.testing.assert_array_equal(col(c, "n"), [1.0, np.nan, 3.0, 4.0])
    assert list(c.numeric_nulls) == [0, 1]  # NaN in a float column is NaN; NA in Int64 is null
    assert c.categorical["s"].counts == {"a": 2, "b": 1} and c.categorical["s"].nulls == 1
    assert c.categorical["c"].counts == {"u": 2, "v": 1} and c.categorical["c"].nulls == 1
    assert c.categorical["b"].counts == {"true": 3, "false": 1}


def test_pandas_series_input_and_output():
    """A Series input is one named feature; a Series output is `prediction`."""
    inp = to_columns(pd.Series([1.0, 2.0], name="age"), config=CFG)
    assert inp.names == ("age",) and inp.type == "pandas.Series"
    out = to_columns(pd.Series([0.1, 0.9], name="whatever"), config=CFG, role="output")
    assert out.names == ("prediction",)


def test_polars_dataframe_and_series():
    """polars: numeric columns (nulls counted), strings/bools/categoricals counted via value_counts."""
    df = pl.DataFrame(
        {
            "x": [1.0, None, 3.0, float("nan")],
            "i": [1, 2, None, 4],
            "s": ["a", "b", "a", None],
            "b": [True, False, None, True],
        }
    )
    c = to_columns(df, config=CFG)
    assert c.type == "polars.DataFrame" and c.names == ("x", "i", "s", "b")
    np.testing.assert_array_equal(col(c, "x"), [1.0, np.nan, 3.0, np.nan])
    assert list(c.numeric_nulls) == [1, 1]
    assert c.categorical["s"].counts == {"a": 2, "b": 1} and c.categorical["s"].nulls == 1
    assert c.categorical["b"].counts == {"true": 2, "false": 1} and c.categorical["b"].nulls == 1
    out = to_columns(pl.Series("p", [0.5, 0.25]), config=CFG, role="output")
    assert out.names == ("prediction",) and out.type == "polars.Series"


def test_pyarrow_table_and_record_batch():
    """pyarrow: numeric columns cast to float64 (nulls -> NaN, counted), strings/dictionaries counted."""
    t = pa.table(
        {
            "x": pa.array([1.5, None, 2.5]),
            "i": pa.array([1, 2, None], type=pa.int64()),
            "s": pa.array(["a", None, "a"]),
            "d": pa.array(["u", "v", "u"]).dictionary_encode(),
        }
    )
    for obj, type_name in ((t, "pyarrow.Table"), (t.to_batches()[0], "pyarrow.RecordBatch")):
        c = to_columns(obj, config=CFG)
        assert c.type == type_name and c.names == ("x", "i", "s", "d")
        np.testing.assert_array_equal(col(c, "x"), [1.5, np.nan, 2.5])
        np.testing.assert_array_equal(col(c, "i"), [1.0, 2.0, np.nan])
        assert list(c.numeric_nulls) == [1, 1]
        assert c.categorical["s"].counts == {"a": 2} and c.categorical["s"].nulls == 1
        assert c.categorical["d"].counts == {"u": 2, "v": 1}


def test_dict_of_columns_records_lists_and_tuples():
    """dict of columns, list of dicts, list of lists and of tuples all become the same view."""
    expected = np.array([[1.0, 10.0], [2.0, np.nan], [3.0, 30.0]])
    as_columns = to_columns({"a": [1, 2, 3], "b": [10.0, None, 30.0]}, config=CFG)
    as_records = to_columns([{"a": 1, "b": 10.0}, {"a": 2}, {"a": 3, "b": 30.0}], config=CFG)
    as_lists = to_columns([[1, 10.0], [2, None], [3, 30.0]], feature_names=["a", "b"], config=CFG)
    as_tuples = to_columns([(1, 10.0), (2, float("nan")), (3, 30.0)], feature_names=["a", "b"], config=CFG)
    for c, type_name in ((as_columns, "dict"), (as_records, "records"), (as_lists, "list"), (as_tuples, "list")):
        assert c.type == type_name and c.names == ("a", "b") and c.rows == 3
        np.testing.assert_array_equal(c.numeric, expected)
    assert list(as_records.numeric_nulls) == [0, 1]  # the missing key is a null
    assert list(as_lists.numeric_nulls) == [0, 1]
    assert as_tuples.numeric_nulls is None  # a real NaN is not a null


def test_mixed_list_rows_detect_numeric_and_categorical_columns():
    """Rows like [1.5, "a"] keep the number numeric and the string categorical."""
    c = to_columns([[1.5, "a"], [2.5, "b"], [None, "a"]], config=CFG)
    assert c.numeric_names == ("f0",) and c.categorical["f1"].counts == {"a": 2, "b": 1}
    assert list(c.numeric_nulls) == [1]


def test_scalars_and_flat_lists():
    """A scalar input is one feature f0; a flat list input is one row."""
    assert to_columns(3.5, config=CFG).numeric == [3.5]
    assert to_columns("x", config=CFG).categorical == {"f0": "x"}
    r = to_columns([1, 2.5, "z"], config=CFG)
    assert isinstance(r, Record) and r.numeric_names == ("f0", "f1") and r.categorical == {"f2": "z"}
    flat_out = to_columns([0.1, 0.2, 0.3], config=CFG, role="output")
    assert flat_out.rows == 3 and flat_out.names == ("prediction",)


def test_max_features_overflow_is_counted_for_every_shape():
    """Features beyond max_features are not tracked but counted as overflow."""
    cfg = Config(max_features=3)
    assert to_columns(np.zeros((5, 10)), config=cfg).overflow == 7
    assert to_columns(np.zeros((5, 10)), config=cfg).numeric.shape == (5, 3)
    rec = to_columns({f"k{i}": float(i) for i in range(8)}, config=cfg)
    assert rec.names == ("k0", "k1", "k2") and rec.overflow == 5
    frame = to_columns(pd.DataFrame({f"c{i}": ["a", "b"] for i in range(6)}), config=cfg)
    assert len(frame.names) == 3 and frame.overflow == 3
    pol = to_columns(pl.DataFrame({f"c{i}": [1.0, 2.0] for i in range(5)}), config=cfg)
    assert len(pol.names) == 3 and pol.overflow == 2


def test_max_string_length_cuts_names_and_labels_and_counts_the_cut_values():
    """Long feature names and labels are cut to max_string_length; cut values are counted."""
    cfg = Config(max_string_length=4)
    rec = to_columns({"a_very_long_name": "abcdefgh"}, config=cfg)
    assert rec.names == ("a_ve",) and rec.categorical == {"a_ve": "abcd"} and rec.truncated == 1
    c = to_columns(pd.DataFrame({"s": ["abcdefgh", "abcdxyz", "ab"]}), config=cfg)
    assert c.categorical["s"].counts == {"abcd": 2, "ab": 1} and c.categorical["s"].truncated == 2


def test_unsupported_objects_raise_unsupported_input():
    """Objects that cannot be summarised raise UnsupportedInput (a TypeError) naming the type."""
    with pytest.raises(UnsupportedInput) as info:
        to_columns(object(), config=CFG)
    assert isinstance(info.value, TypeError) and "object" in str(info.value)
    with pytest.raises(UnsupportedInput):
        to_columns([[1, 2], [3]], config=CFG)
    with pytest.raises(UnsupportedInput):
        to_columns({"a": [1, 2], "b": [1, 2, 3]}, config=CFG)


def test_modeltel_never_imports_pandas_polars_or_pyarrow_itself():
    """Summarising plain inputs leaves pandas/polars/pyarrow unimported (they are optional)."""
    code = (
        "import sys, numpy as np\n"
        "from modeltel._summary import summarize_input, summarize_output\n"
        "from modeltel._config import Config\n"
        "c = Config()\n"
        "summarize_input(np.zeros((3, 2)), config=c).log_fields()\n"
        "summarize_input({'a': 1.0, 'b': 'x'}, config=c).log_fields()\n"
        "summarize_output([0.1, 0.2], config=c).log_fields()\n"
        "print(sorted(m for m in ('pandas', 'polars', 'pyarrow') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip() == "[]"


def test_label_hash_is_stable_and_output_class_ids_are_clear():
    """Hashed labels are stable short BLAKE2b digests; only integer/bool output labels stay clear."""
    assert hash_label("Paris") == hash_label("Paris") != hash_label("paris")
    assert hash_label("Paris").startswith("#") and len(hash_label("Paris")) == 13
    assert label_is_clear("1", "output") and label_is_clear("-3", "output") and label_is_clear("true", "output")
    assert not label_is_clear("1", "input") and not label_is_clear("spam", "output")


def test_a_record_with_nested_values_keeps_its_scalars_and_counts_the_rest():
    """A JSON-like record with a nested dict is one record; the nested value is skipped, counted."""
    r = to_columns({"a": 1.0, "meta": {"x": 1}, "b": "y"}, config=CFG)
    assert isinstance(r, Record) and r.names == ("a", "b") and r.skipped == 1


def test_objects_with_the_numpy_array_protocol_are_read_as_arrays():
    """Array-likes (torch CPU tensors, xarray, ...) are read through __array__ and keep their type name."""

    class Tensor:
        def __init__(self, data):
            self.data = np.asarray(data)

        def __array__(self, dtype=None, copy=None):
            return self.data if dtype is None else self.data.astype(dtype)

    c = to_columns(Tensor(np.ones((300, 3))), config=CFG)
    assert isinstance(c, Columns) and c.rows == 300 and c.names == ("f0", "f1", "f2")
    assert c.type.endswith("Tensor")
    out = to_columns(Tensor([0.1, 0.7]), config=CFG, role="output")
    assert out.names == ("prediction",) and out.rows == 2


def test_datetime_and_duration_columns_are_numeric_seconds():
    """Datetimes become epoch seconds and durations seconds (NaT is missing), in every library."""
    df = pd.DataFrame(
        {"t": pd.to_datetime(["1970-01-02", None]), "d": pd.to_timedelta([90, None], unit="s")}
    )
    for obj in (df, pl.from_pandas(df), pa.Table.from_pandas(df)):
        c = to_columns(obj, config=CFG)
        assert c.numeric_names == ("t", "d")
        np.testing.assert_array_equal(c.numeric, [[86400.0, 90.0], [np.nan, np.nan]])


def test_one_unhashable_object_column_is_skipped_and_counted_not_the_whole_input():
    """A column of lists (unhashable) next to ordinary columns: that column is skipped and
    counted, the others are summarised."""
    frame = pd.DataFrame({"tags": [["a"], ["b", "c"]], "x": [1.0, 2.0], "city": ["p", "q"]})
    cols = to_columns(frame, config=Config())
    assert cols.skipped == 1 and "x" in cols.numeric_names and set(cols.categorical) == {"city"}


class _LazyArray:
    """An array-like that is expensive to materialise: counts how often it is."""

    shape = (100_000, 200)
    computed = 0

    def __array__(self, dtype=None, copy=None):
        _LazyArray.computed += 1
        return np.zeros(self.shape)


def test_a_huge_lazy_array_like_is_not_materialised():
    """An __array__ object declaring more than MAX_ARRAY_LIKE_VALUES values is an unsupported
    input (counted by the caller); its __array__ is never called."""
    with pytest.raises(UnsupportedInput):
        to_columns(_LazyArray(), config=Config())
    assert _LazyArray.computed == 0


def test_a_million_columns_wide_input_names_only_max_features_columns():
    """10^6 columns: max_features names generated, the rest counted as overflow, and the
    name cache stays bounded (wide widths are not cached)."""
    from modeltel import _columns

    wide = np.zeros((2, 1_000_000))
    cols = to_columns(wide, config=Config(max_features=8))
    assert cols.names == tuple(f"f{i}" for i in range(8)) and cols.overflow == 1_000_000 - 8
    out = to_columns(np.zeros((2, 1_000_000)), config=Config(max_features=8), role="output")
    assert len(out.names) == 8 and out.overflow == 1_000_000 - 8
    assert max(n for _, n in _columns._GENERATED) <= _columns._GENERATED_MAX
