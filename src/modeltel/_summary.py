"""Per-prediction summaries of model inputs and outputs.

A summary is cheap to make and lazy: :func:`summarize_input` only normalises the object
(:mod:`modeltel._columns`); the per-feature statistics are computed on first use, in one
vectorised numpy pass over all numeric features of a batch (sum first: when every sum is
finite, no value is NaN or inf and the masks are skipped), or in plain Python for a
single record. The sketch store reuses the same statistics, so nothing is computed twice.

Summaries never hold raw input values: numeric features of a batch give count/null/NaN/inf
counts and min/max/mean; a single record gives the counts only (its min, max and mean would be
the raw values themselves); categorical features give counts and the number of distinct labels
(no labels, no min/max). Output class labels are counted; string labels are hashed unless the config
says ``hash_categories=False`` (integer class ids and true/false are sent in clear).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from collections.abc import Mapping  # isinstance on it is twice as fast as on typing.Mapping
from types import MappingProxyType
from typing import Any, Sequence, Union, cast

import numpy as np

from modeltel import _semconv as sc
from modeltel._columns import (
    Columns,
    Record,
    UnsupportedInput,
    hash_label,
    label_is_clear,
    to_columns,
)
from modeltel._config import Config

__all__ = [
    "InputSummary",
    "OutputSummary",
    "NumericStats",
    "UnsupportedInput",
    "feature_names_option",
    "summarize_input",
    "summarize_output",
]


@dataclass(slots=True, eq=False)
class NumericStats:
    """Statistics of the numeric features, one entry per ``columns.numeric_names``.

    Arrays for a batch, lists for a single record. ``count`` is the number of finite
    values; ``min``/``max``/``sum`` are over finite values (NaN when there are none).
    """

    count: Any
    nulls: Any
    nan: Any
    inf: Any
    min: Any
    max: Any
    sum: Any
    #: True when every numeric value is finite (the sketch then needs no mask).
    all_finite: bool


def _batch_stats(m: np.ndarray, nulls: np.ndarray | None) -> NumericStats:
    n, k = m.shape
    zeros = np.zeros(k, dtype=np.int64)
    nulls_arr = zeros if nulls is None else nulls
    if n == 0 or k == 0:
        nan_arr = np.full(k, np.nan)
        return NumericStats(zeros, nulls_arr, zeros, zeros, nan_arr, nan_arr.copy(), np.zeros(k), True)
    s = m.sum(axis=0)
    if np.isfinite(s).all():
        # Every value is finite (a NaN or inf anywhere would make its column's sum non-finite).
        return NumericStats(
            np.full(k, n, dtype=np.int64), nulls_arr, zeros, zeros, m.min(axis=0), m.max(axis=0), s, True
        )
    finite = np.isfinite(m)
    count = np.count_nonzero(finite, axis=0)
    nan_total = np.count_nonzero(np.isnan(m), axis=0)
    inf = n - count - nan_total
    with np.errstate(invalid="ignore"):
        mn = np.where(finite, m, np.inf).min(axis=0)
        mx = np.where(finite, m, -np.inf).max(axis=0)
        s = np.where(finite, m, 0.0).sum(axis=0)
    empty = count == 0
    mn[empty] = np.nan
    mx[empty] = np.nan
    return NumericStats(count, nulls_arr, nan_total - nulls_arr, inf, mn, mx, s, False)


def _record_stats(rec: Record) -> NumericStats:
    k = len(rec.numeric)
    count = [0] * k
    nulls = [0] * k
    nan = [0] * k
    inf = [0] * k
    for i in rec.numeric_null_idx:
        nulls[i] = 1
    mn: list[float] = []
    all_finite = True
    for i, v in enumerate(rec.numeric):
        if v - v == 0.0:  # finite: inf - inf and nan - nan are NaN
            count[i] = 1
            mn.append(v)
        else:
            all_finite = False
            mn.append(math.nan)
            if v != v:
                if not nulls[i]:
                    nan[i] = 1
            else:
                inf[i] = 1
    return NumericStats(count, nulls, nan, inf, mn, list(mn), list(mn), all_finite)


def _json_float(v: float) -> float | None:
    v = float(v)
    return v if math.isfinite(v) else None


class _Summary:
    __slots__ = ("columns", "config", "_stats")

    def __init__(self, columns: Columns | Record, config: Config) -> None:
        self.columns = columns
        self.config = config
        self._stats: NumericStats | None = None

    @property
    def rows(self) -> int:
        return self.columns.rows

    @property
    def type(self) -> str:
        return self.columns.type

    @property
    def single(self) -> bool:
        return isinstance(self.columns, Record)

    def stats(self) -> NumericStats:
        """Statistics of the numeric features (computed once, on first use)."""
        if self._stats is None:
            c = self.columns
            self._stats = _record_stats(c) if isinstance(c, Record) else _batch_stats(c.numeric, c.numeric_nulls)
        return self._stats

    def _record_fields(self) -> dict[str, Any]:
        """One record: which features are missing or not finite, nothing more.

        Its min/max/mean would be the raw values themselves, and a per-feature dict of
        0/1 counts costs more to build and render than it tells.
        """
        rec = self.columns
        assert isinstance(rec, Record)
        missing: list[str] = []
        nonfinite: list[str] = []
        for name, v in zip(rec.numeric_names, rec.numeric):
            if v - v == 0.0:  # finite
                continue
            (missing if v != v else nonfinite).append(name)
        missing.extend(name for name, label in rec.categorical.items() if label is None)
        fields: dict[str, Any] = {"features": len(rec.names)}
        if missing:
            fields["missing"] = missing
        if nonfinite:
            fields["nonfinite"] = nonfinite
        return fields

    def _numeric_fields(self) -> dict[str, dict[str, Any]]:
        """Counts per numeric feature; the mean only over ``min_aggregate_count`` values or more.

        No min or max: each is the value of a real row.
        """
        st = self.stats()
        least = self.config.min_aggregate_count
        out: dict[str, dict[str, Any]] = {}
        for i, name in enumerate(self.columns.numeric_names):
            count = int(st.count[i])
            fields: dict[str, Any] = {
                "count": count,
                "nulls": int(st.nulls[i]),
                "nan": int(st.nan[i]),
                "inf": int(st.inf[i]),
            }
            if count >= least:
                fields["mean"] = _json_float(st.sum[i] / count)
            out[name] = fields
        return out

    def _categorical_fields(self) -> dict[str, dict[str, Any]]:
        c = self.columns
        out: dict[str, dict[str, Any]] = {}
        if isinstance(c, Record):
            for name, label in c.categorical.items():
                out[name] = {"count": 0 if label is None else 1, "nulls": 1 if label is None else 0, "distinct": 0 if label is None else 1}
        else:
            for name, cc in c.categorical.items():
                out[name] = {"count": sum(cc.counts.values()), "nulls": cc.nulls, "distinct": len(cc.counts)}
        return out

    def _caps(self, fields: dict[str, Any]) -> None:
        c = self.columns
        if c.overflow:
            fields["features_overflow"] = c.overflow
        if c.skipped:
            fields["features_skipped"] = c.skipped
        truncated = c.truncated if isinstance(c, Record) else sum(cc.truncated for cc in c.categorical.values())
        if truncated:
            fields["strings_truncated"] = truncated


class InputSummary(_Summary):
    """What one prediction's input looked like (no raw values)."""

    __slots__ = ()

    def span_attributes(self) -> dict[str, Any]:
        c = self.columns
        return {
            sc.ATTR_INPUT_ROWS: c.rows,
            sc.ATTR_INPUT_FEATURES: len(c.names) + c.overflow,
        }

    def log_fields(self) -> dict[str, Any]:
        fields: dict[str, Any] = {"rows": self.columns.rows, "type": self.columns.type}
        if isinstance(self.columns, Record):
            fields.update(self._record_fields())
            self._caps(fields)
            return fields
        features = self._numeric_fields()
        features.update(self._categorical_fields())
        # input order, as the user sees the features
        fields["features"] = {name: features[name] for name in self.columns.names if name in features}
        self._caps(fields)
        return fields


class OutputSummary(_Summary):
    """What one prediction's output looked like: class counts, score or value stats."""

    __slots__ = ("_kind_of", "vocabulary")

    def __init__(self, columns: Columns | Record, config: Config, vocabulary: frozenset[str] = frozenset()) -> None:
        self.columns = columns  # _Summary's fields, set here: one call less per output
        self.config = config
        self._stats = None
        self._kind_of: str | None = None
        #: The model's own output labels (its classes): in clear, as the sketch store has them.
        self.vocabulary = vocabulary

    @property
    def kind(self) -> str:
        """``classes``, ``scores`` (all in [0, 1]) or ``values``; worked out when the span or
        the log record asks (an unsampled, unlogged prediction never does)."""
        if self._kind_of is None:
            self._kind_of = self._kind()
        return self._kind_of

    def _kind(self) -> str:
        c = self.columns
        if c.categorical:
            return "classes"
        if isinstance(c, Record):
            values = c.numeric
            if not values:
                return "values"
            finite = [v for v in values if v - v == 0.0]
            return "scores" if finite and 0.0 <= min(finite) and max(finite) <= 1.0 else "values"
        if not c.numeric_names:
            return "values"
        st = self.stats()
        have = np.asarray(st.count) > 0
        lo = float(np.min(st.min[have])) if have.any() else math.nan
        hi = float(np.max(st.max[have])) if have.any() else math.nan
        return "scores" if 0.0 <= lo and hi <= 1.0 else "values"

    def _labels(self, counts: dict[str, int]) -> dict[str, int]:
        if not self.config.hash_categories:
            return dict(counts)
        out: dict[str, int] = {}
        for label, n in counts.items():
            clear = label in self.vocabulary or label_is_clear(label, "output")
            key = label if clear else hash_label(label, self.config.hash_key)
            out[key] = out.get(key, 0) + n
        return out

    def span_attributes(self) -> dict[str, Any]:
        """The output's mean for the span, when it covers ``min_aggregate_count`` values or more.

        Fewer values would let the mean stand for the values themselves (one row's mean *is*
        its output); min and max are never sent. The type and kind are in the log record.
        """
        c = self.columns
        # the row count first: a one-row output never needs its kind worked out
        if c.rows < self.config.min_aggregate_count or not c.numeric_names or self.kind == "classes":
            return {}
        st = self.stats()
        least = self.config.min_aggregate_count
        means = [float(s / n) if n >= least else math.nan for s, n in zip(st.sum, st.count)]
        return {sc.ATTR_OUTPUT_MEAN: means[0] if len(means) == 1 else means}

    def log_fields(self) -> dict[str, Any]:
        c = self.columns
        fields: dict[str, Any] = {"rows": c.rows, "type": c.type, "kind": self.kind}
        if c.categorical:
            classes: dict[str, dict[str, int]] = {}
            if isinstance(c, Record):
                for name, label in c.categorical.items():
                    classes[name] = {} if label is None else self._labels({label: 1})
            else:
                for name, cc in c.categorical.items():
                    classes[name] = self._labels(cc.counts)
            fields["classes"] = classes["prediction"] if list(classes) == ["prediction"] else classes
        if c.numeric_names:
            fields["scores" if self.kind == "scores" else "values"] = self._numeric_fields()
        self._caps(fields)
        return fields


#: What ``feature_names=`` may be: names for unnamed columns, a mapping from the input's keys
#: to the names that leave the process, or ``"hash"``.
FeatureNames = Union[Sequence[str], Mapping[str, str], str, None]


def feature_names_option(value: FeatureNames) -> Any:
    """The ``feature_names=`` argument of ``@monitor``/``observe`` in its stored form.

    A sequence names the columns of inputs that have none (numpy arrays, lists). ``"hash"``
    sends every feature name as a keyed hash (for inputs whose keys are data: a bag of words,
    user ids); a mapping sends each key under its mapped name and every other key hashed.
    """
    if value is None:
        return None
    if isinstance(value, str):
        if value != "hash":
            raise ValueError(f"feature_names={value!r}: expected a sequence of names, a mapping or 'hash'")
        return value
    if isinstance(value, Mapping):
        return MappingProxyType({str(k): str(v) for k, v in value.items()})
    return tuple(str(v) for v in value)


_renamed: dict[tuple[str, str | None], str] = {}


def _private_name(name: str, policy: Any, secret: str | None) -> str:
    if policy != "hash":
        mapped = policy.get(name)
        if mapped is not None:
            return mapped
    key = (name, secret)
    out = _renamed.get(key)
    if out is None:
        out = hash_label(name, secret)
        if len(_renamed) >= 65_536:  # bounded: keys that are data are unbounded
            _renamed.clear()
        _renamed[key] = out
    return out


def _rename(columns: Columns | Record, policy: Any, config: Config) -> Columns | Record:
    """The same columns under their private names (the names that may leave the process)."""
    secret = config.hash_key
    mapping: dict[str, str] = {}
    taken: set[str] = set()
    for name in columns.names:
        out = _private_name(name, policy, secret)
        if out in taken:  # two keys mapped to one name: the later one goes out hashed
            out = hash_label(name, secret)
        taken.add(out)
        mapping[name] = out
    return dataclasses.replace(
        columns,
        names=tuple(mapping[n] for n in columns.names),
        numeric_names=tuple(mapping[n] for n in columns.numeric_names),
        categorical=cast(Any, {mapping[n]: v for n, v in columns.categorical.items()}),
    )


def summarize_input(obj: Any, *, feature_names: Any = None, config: Config) -> InputSummary:
    """Summarise a model input; raises :class:`UnsupportedInput` for an unknown type.

    ``feature_names`` is a sequence of names, a mapping or ``"hash"`` (see
    :func:`feature_names_option`).
    """
    if feature_names is not None and isinstance(feature_names, (str, Mapping)):  # ABC check: not for None
        columns = _rename(to_columns(obj, config=config, role="input"), feature_names, config)
        return InputSummary(columns, config)
    return InputSummary(to_columns(obj, feature_names=feature_names, config=config, role="input"), config)


def summarize_output(obj: Any, *, config: Config, vocabulary: frozenset[str] | None = None) -> OutputSummary:
    """Summarise a model output; raises :class:`UnsupportedInput` for an unknown type.
    ``vocabulary``: the model's own output labels, left in clear."""
    return OutputSummary(to_columns(obj, config=config, role="output"), config, vocabulary or _NO_VOCABULARY)


_NO_VOCABULARY: frozenset[str] = frozenset()
