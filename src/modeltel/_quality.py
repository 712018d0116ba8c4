"""Data-quality checks of model inputs against a baseline's schema, counted per feature.

The SDK calls :func:`check_columns` on the prediction hot path with the column view it
already built (``modeltel._columns.to_columns``), and adds the counts to the
``ml.data_quality.violations`` counter (attributes ``ml.model.name``, ``ml.model.version``,
``ml.feature.name``, ``ml.data_quality.check``). One vectorised pass over the numeric matrix;
never raises (a failure is logged once and yields no counts), never touches the user's data.

Checks (every count is in values, i.e. rows of that feature):

* ``missing_feature``    a baseline feature absent from the input (count: the input's rows)
* ``unexpected_feature`` an input feature the baseline does not know (count: rows)
* ``type_mismatch``      numeric in the baseline, labels in the input, or the reverse
* ``null``               null/NaN values (the collector compares the rate with the baseline's)
* ``out_of_range``       numeric values below the training min or above the training max
* ``unseen_category``    labels outside the baseline's categories
* ``outlier``            (only with ``outliers=True``) values beyond the 0.1%/99.9% tail edges
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from modeltel import _semconv as sc
from modeltel._columns import Columns, Record
from modeltel._identity import number_label

__all__ = ["CHECKS", "CHECK_ATTRIBUTE", "METRIC", "OUTLIER_ROWS_ATTRIBUTE", "check_columns", "outlier_rows"]

#: The counter the SDK adds check_columns() results to, and its check attribute.
METRIC = sc.METRIC_VIOLATIONS
CHECK_ATTRIBUTE = sc.ATTR_CHECK
#: Span attribute for the optional per-row outlier flag: rows flagged in the batch.
OUTLIER_ROWS_ATTRIBUTE = sc.ATTR_OUTLIER_ROWS

CHECKS = (
    "missing_feature",
    "unexpected_feature",
    "type_mismatch",
    "null",
    "out_of_range",
    "unseen_category",
    "outlier",
)

_log = logging.getLogger("modeltel.quality")
_warned = False

# Per (baseline id, role, numeric names): the limits aligned with the numeric matrix.
_LIMITS: dict[tuple[str, str, tuple[str, ...]], tuple[np.ndarray, ...]] = {}
_LIMITS_LOCK = threading.Lock()
_LIMITS_MAX = 256


def _table(baseline: Any, role: str) -> dict[str, Any]:
    return (baseline.features if role == "input" else baseline.predictions) or {}


def _limits(baseline: Any, role: str, names: tuple[str, ...]) -> tuple[np.ndarray, ...]:
    key = (str(baseline.id), role, names)
    hit = _LIMITS.get(key)
    if hit is not None:
        return hit
    table = _table(baseline, role)
    nan = math.nan
    known = np.zeros(len(names), dtype=bool)
    lo = np.full(len(names), nan)
    hi = np.full(len(names), nan)
    olo = np.full(len(names), nan)
    ohi = np.full(len(names), nan)
    for j, name in enumerate(names):
        fb = table.get(name)
        if fb is None or fb.kind != "numeric":
            continue
        known[j] = True
        lo[j] = fb.min if fb.min is not None else nan
        hi[j] = fb.max if fb.max is not None else nan
        olo[j] = fb.outlier_low if fb.outlier_low is not None else nan
        ohi[j] = fb.outlier_high if fb.outlier_high is not None else nan
    out = (known, lo, hi, olo, ohi)
    with _LIMITS_LOCK:
        if len(_LIMITS) >= _LIMITS_MAX:
            _LIMITS.clear()
        _LIMITS[key] = out
    return out


def check_columns(
    baseline: Any, columns: Columns | Record, *, role: str = "input", outliers: bool = False
) -> list[tuple[str, str, int]]:
    """Count schema violations of one batch (or record) against ``baseline``.

    Returns ``[(feature, check, count), ...]`` with only non-zero counts, features in the
    baseline's order then unexpected ones. ``role="output"`` checks predictions against
    ``baseline.predictions``. Never raises.
    """
    global _warned
    try:
        return _check(baseline, columns, role, outliers)
    except Exception:  # noqa: BLE001 - fail-open: quality checks never break a prediction
        if not _warned:
            _warned = True
            _log.exception("modeltel data-quality check failed; counts for this batch are skipped")
        return []


def _check(baseline: Any, columns: Columns | Record, role: str, outliers: bool) -> list[tuple[str, str, int]]:
    table = _table(baseline, role)
    rows = int(columns.rows)
    out: list[tuple[str, str, int]] = []
    present = set(columns.names)
    numeric_names = tuple(columns.numeric_names)
    num_index = {n: j for j, n in enumerate(numeric_names)}

    if isinstance(columns, Record):
        matrix = np.asarray([columns.numeric], dtype=np.float64) if numeric_names else np.empty((1, 0))
        cat_counts = {
            n: ({label: 1} if label is not None else {}, int(label is None)) for n, label in columns.categorical.items()
        }
    else:
        matrix = columns.numeric
        cat_counts = {n: (cc.counts, cc.nulls) for n, cc in columns.categorical.items()}

    # One vectorised pass over every numeric column.
    per_col: dict[str, tuple[int, int, int]] = {}
    if numeric_names and matrix.size:
        known, lo, hi, olo, ohi = _limits(baseline, role, numeric_names)
        nulls = np.count_nonzero(np.isnan(matrix), axis=0)
        with np.errstate(invalid="ignore"):
            oor = np.count_nonzero(matrix < lo, axis=0) + np.count_nonzero(matrix > hi, axis=0)
            outl = (
                np.count_nonzero(matrix < olo, axis=0) + np.count_nonzero(matrix > ohi, axis=0)
                if outliers
                else np.zeros(len(numeric_names), dtype=np.int64)
            )
        for j, name in enumerate(numeric_names):
            if known[j]:
                per_col[name] = (int(nulls[j]), int(oor[j]), int(outl[j]))

    for name, fb in table.items():
        if name not in present:
            out.append((name, "missing_feature", rows))
            continue
        if fb.kind == "numeric":
            if name in per_col:
                n_null, n_oor, n_out = per_col[name]
                if n_null:
                    out.append((name, "null", n_null))
                if n_oor:
                    out.append((name, "out_of_range", n_oor))
                if n_out:
                    out.append((name, "outlier", n_out))
            elif name in cat_counts:
                labels, n_null = cat_counts[name]
                mismatched = sum(labels.values())
                if mismatched:
                    out.append((name, "type_mismatch", mismatched))
                if n_null:
                    out.append((name, "null", n_null))
        else:
            allowed = set(fb.categories)
            if name in cat_counts:
                labels, n_null = cat_counts[name]
                unseen = sum(n for label, n in labels.items() if label not in allowed)
            elif name in num_index:
                col = matrix[:, num_index[name]]
                n_null = int(np.count_nonzero(np.isnan(col)))
                if getattr(fb, "dtype", "") == "numeric-as-category":
                    vals, counts = np.unique(col[~np.isnan(col)], return_counts=True)
                    unseen = sum(int(c) for v, c in zip(vals, counts) if number_label(float(v)) not in allowed)
                else:
                    unseen = 0
                    mismatched = col.size - n_null
                    if mismatched:
                        out.append((name, "type_mismatch", int(mismatched)))
            else:
                continue
            if n_null:
                out.append((name, "null", int(n_null)))
            if unseen:
                out.append((name, "unseen_category", int(unseen)))

    for name in columns.names:
        if name not in table:
            out.append((name, "unexpected_feature", rows))
    return out


def outlier_rows(baseline: Any, columns: Columns | Record, *, role: str = "input") -> np.ndarray:
    """Per row: True when any numeric feature is beyond the baseline's 0.1%/99.9% tail edges.

    For the optional per-row outlier flag on the span. Never raises (all False on failure).
    """
    rows = int(columns.rows)
    try:
        names: Sequence[str] = tuple(columns.numeric_names)
        if not names:
            return np.zeros(rows, dtype=bool)
        matrix = (
            np.asarray([columns.numeric], dtype=np.float64) if isinstance(columns, Record) else columns.numeric
        )
        _, _, _, olo, ohi = _limits(baseline, role, tuple(names))
        with np.errstate(invalid="ignore"):
            return np.any((matrix < olo) | (matrix > ohi), axis=1)
    except Exception:  # noqa: BLE001 - fail-open
        return np.zeros(rows, dtype=bool)
