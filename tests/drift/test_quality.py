"""Data-quality checks against a baseline: every check counted per feature, never raising."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modeltel._baseline import Baseline
from modeltel._columns import to_columns
from modeltel._config import Config
from modeltel._quality import CHECKS, check_columns, outlier_rows

CONFIG = Config()


@pytest.fixture(scope="module")
def baseline():
    rng = np.random.default_rng(0)
    n = 5000
    X = pd.DataFrame(
        {"a": rng.normal(size=n), "b": rng.choice(["x", "y", "z"], n), "c": rng.integers(0, 3, n)}
    )
    return Baseline.from_data(X, model="m", version="1", categorical=["c"], predictions=rng.random(n))


def test_every_check_is_counted_per_feature(baseline):
    """null, out_of_range, outlier, unseen_category and unexpected_feature counts are exact."""
    P = pd.DataFrame(
        {
            "a": [0.1, np.nan, 10.0, -10.0, np.inf],
            "b": ["x", "w", None, "y", "w"],
            "c": [0, 1, 5, np.nan, 2],
            "d": [1, 2, 3, 4, 5],
        }
    )
    got = check_columns(baseline, to_columns(P, config=CONFIG), outliers=True)
    assert sorted(got) == sorted(
        [
            ("a", "null", 1),
            ("a", "out_of_range", 3),  # 10, -10, +inf
            ("a", "outlier", 3),
            ("b", "null", 1),
            ("b", "unseen_category", 2),
            ("c", "null", 1),
            ("c", "unseen_category", 1),  # 5 was never seen; 0/1/2 were
            ("d", "unexpected_feature", 5),
        ]
    )
    assert {check for _, check, _ in got} <= set(CHECKS)


def test_missing_feature_and_type_mismatch(baseline):
    """An absent feature counts the batch's rows; labels where numbers were expected (and back) mismatch."""
    P = pd.DataFrame({"a": ["s", "t"], "b": [1.0, 2.0]})
    got = check_columns(baseline, to_columns(P, config=CONFIG))
    assert sorted(got) == [("a", "type_mismatch", 2), ("b", "type_mismatch", 2), ("c", "missing_feature", 2)]


def test_single_record_path(baseline):
    """A single record (pure-Python column view) is checked the same way."""
    rec = to_columns({"a": 100.0, "b": "q", "c": 1}, config=CONFIG)
    assert sorted(check_columns(baseline, rec)) == [("a", "out_of_range", 1), ("b", "unseen_category", 1)]


def test_clean_batch_has_no_violations_and_outputs_are_checked(baseline):
    """Data like the training data gives no counts; predictions are checked with role='output'."""
    rng = np.random.default_rng(1)
    P = pd.DataFrame({"a": np.clip(rng.normal(size=100), -2, 2), "b": "x", "c": 1})
    assert check_columns(baseline, to_columns(P, config=CONFIG)) == []
    out = to_columns(np.array([0.5, 1.5, np.nan]), config=CONFIG, role="output")
    assert sorted(check_columns(baseline, out, role="output")) == [
        ("prediction", "null", 1),
        ("prediction", "out_of_range", 1),
    ]


def test_outlier_rows_flags_rows_beyond_tail_edges(baseline):
    """outlier_rows marks exactly the rows with a value beyond the 0.1%/99.9% edges."""
    P = pd.DataFrame({"a": [0.0, 5.0, -5.0, np.nan], "b": "x", "c": 1})
    assert outlier_rows(baseline, to_columns(P, config=CONFIG)).tolist() == [False, True, True, False]


def test_never_raises_on_a_broken_baseline():
    """A baseline object that is not one yields no counts, not an exception (fail-open)."""
    cols = to_columns(pd.DataFrame({"a": [1.0, 2.0]}), config=CONFIG)
    assert check_columns(object(), cols) == []
    assert outlier_rows(object(), cols).tolist() == [False, False]
