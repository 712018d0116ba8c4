"""Baselines: the training data's distributions, the reference every prediction is compared with.

A :class:`Baseline` holds, per input feature, per prediction column and per target column, a
:class:`FeatureBaseline`: explicit-bucket edges and counts (numeric) or top categories and
counts (categorical), plus min/max/mean/std and the null rate. It is saved as versioned JSON
(docs/baseline-format.md) with a content hash as its id; the SDK bins production data on its
edges and re-exports it in-band, and the drift math (docs/drift-math.md) compares the two.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import math
import os
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from modeltel import _drift, _projection, _reference
from modeltel._columns import OTHER, TAIL_BUCKETS, Columns, Record, tail_key_id, tail_label, tail_labels, to_columns
from modeltel._config import Config
from modeltel._identity import number_label

__all__ = [
    "SCHEMA_VERSION",
    "Baseline",
    "BaselineError",
    "FeatureBaseline",
    "ProductionHistograms",
    "QUANTILES",
]

#: The newest baseline file format this modeltel writes and reads. A baseline is written
#: with the lowest version that holds it: 2 with multivariate projections, else 1.
SCHEMA_VERSION = 2
#: Interior quantiles (20 equal-mass bins) plus the tail edges at 0.1/1/99/99.9%.
QUANTILES: tuple[float, ...] = tuple(
    sorted({0.001, 0.01, 0.99, 0.999} | {round(i / 20, 2) for i in range(1, 20)})
)
#: A numeric feature with at most this many distinct values is treated as discrete.
DISCRETE_MAX = 20
#: Values per numeric feature kept (uniform sample) to place the quantile edges.
SAMPLE_SIZE = 1_000_000
#: Top categories kept per categorical feature (the SDK's default ``max_categories``).
MAX_CATEGORIES = 32

Kind = Literal["numeric", "categorical"]


class BaselineError(ValueError):
    """A baseline cannot be built, read or used (bad file, newer format, bad input)."""


# --------------------------------------------------------------------------- the data


@dataclass
class FeatureBaseline:
    """One feature's reference distribution (docs/baseline-format.md).

    ``edges`` are OTLP explicit-bucket bounds; ``counts`` has ``len(edges) + 1`` buckets for a
    numeric feature, and one count per category then ``__other__`` for a categorical one.
    """

    name: str
    kind: Kind
    edges: list[float] = field(default_factory=list)
    counts: list[int] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    #: Non-null values (numeric: finite and infinite; categorical: labels), = sum(counts).
    count: int = 0
    null_count: int = 0
    min: float | None = None
    max: float | None = None
    mean: float | None = None
    std: float | None = None
    #: Numeric: values that were +/-inf (counted in the outer buckets, not in min/max/mean/std).
    inf_count: int = 0
    #: Numeric: few distinct values, edges are the values themselves.
    discrete: bool = False
    #: Numeric: the 0.1% and 99.9% quantiles (the per-row outlier limits), if any.
    outlier_low: float | None = None
    outlier_high: float | None = None
    #: Where the feature came from: the input dtype family ("float", "int", "bool", "string", ...).
    dtype: str = ""
    #: Position in the input (inputs) or output (predictions, targets).
    position: int = 0
    #: Categorical: the labels beyond ``categories`` (the ``__other__`` count) split into
    #: hashed tail buckets (sum = ``counts[-1]``); empty when the baseline has none.
    tail_counts: list[int] = field(default_factory=list)
    #: Categorical: :func:`modeltel._columns.tail_key_id` of the key the tail was hashed with.
    tail_key: str = ""

    def tail_usable(self, secret: str | None) -> bool:
        """Whether a process hashing with ``secret`` puts labels in the same tail buckets."""
        return bool(self.tail_counts) and self.tail_key == tail_key_id(secret)

    @property
    def null_rate(self) -> float:
        total = self.count + self.null_count
        return self.null_count / total if total else 0.0

    @property
    def nullable(self) -> bool:
        return self.null_count > 0

    def histogram(self, tail: bool | None = None) -> _drift.Histogram:
        """The reference histogram for the drift math.

        Categorical: with ``tail`` (None: when this process's ``MODELTEL_HASH_KEY`` matches the
        one the tail was hashed with), the top categories, then the tail buckets, then an
        empty ``__other__``; else the top categories then ``__other__``.
        """
        if self.kind == "numeric":
            return _drift.Histogram.numeric(self.edges, self.counts, self.min, self.max, nulls=self.null_count)
        if tail is None:
            tail = self.tail_usable(_hash_secret())
        if tail and self.tail_counts:
            return _drift.Histogram.categorical(
                self.categories + tail_labels(len(self.tail_counts)), self.counts[:-1] + self.tail_counts + [0],
                nulls=self.null_count, tail=len(self.tail_counts),
            )
        return _drift.Histogram.categorical(self.categories, self.counts, nulls=self.null_count)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "name": self.name,
            "kind": self.kind,
            "position": self.position,
            "dtype": self.dtype,
            "count": self.count,
            "null_count": self.null_count,
        }
        if self.kind == "numeric":
            d.update(
                edges=list(self.edges),
                counts=list(self.counts),
                min=self.min,
                max=self.max,
                mean=self.mean,
                std=self.std,
                inf_count=self.inf_count,
                discrete=self.discrete,
                outlier_low=self.outlier_low,
                outlier_high=self.outlier_high,
            )
        else:
            d.update(categories=list(self.categories), counts=list(self.counts))
            if self.tail_counts:  # absent in older files: their ids stay the same
                d["tail"] = {"key_id": self.tail_key, "counts": list(self.tail_counts)}
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], where: str) -> FeatureBaseline:
        try:
            kind = d["kind"]
            if kind not in ("numeric", "categorical"):
                raise BaselineError(f"{where}: kind must be 'numeric' or 'categorical', not {kind!r}")
            fb = cls(
                name=str(d["name"]),
                kind=kind,
                edges=[float(e) for e in d.get("edges", [])],
                counts=[int(c) for c in d["counts"]],
                categories=[str(c) for c in d.get("categories", [])],
                count=int(d["count"]),
                null_count=int(d["null_count"]),
                min=_opt_float(d.get("min")),
                max=_opt_float(d.get("max")),
                mean=_opt_float(d.get("mean")),
                std=_opt_float(d.get("std")),
                inf_count=int(d.get("inf_count", 0)),
                discrete=bool(d.get("discrete", False)),
                outlier_low=_opt_float(d.get("outlier_low")),
                outlier_high=_opt_float(d.get("outlier_high")),
                dtype=str(d.get("dtype", "")),
                position=int(d.get("position", 0)),
            )
            tail = d.get("tail")
            if tail is not None and kind == "categorical":
                fb.tail_counts = [int(c) for c in tail["counts"]]
                fb.tail_key = str(tail["key_id"])
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, BaselineError):
                raise
            raise BaselineError(f"{where}: missing or invalid field ({exc!r})") from None
        expected = len(fb.edges) + 1 if kind == "numeric" else len(fb.categories) + 1
        if len(fb.counts) != expected:
            raise BaselineError(f"{where}: {len(fb.counts)} counts, expected {expected}")
        if kind == "numeric" and any(b <= a for a, b in zip(fb.edges, fb.edges[1:])):
            raise BaselineError(f"{where}: edges must be strictly increasing")
        if fb.tail_counts and (sum(fb.tail_counts) != fb.counts[-1] or min(fb.tail_counts) < 0):
            raise BaselineError(f"{where}: tail counts must be >= 0 and add up to the __other__ count {fb.counts[-1]}")
        return fb


def _opt_float(v: Any) -> float | None:
    return None if v is None else float(v)


# --------------------------------------------------------------------------- accumulators


_DEFAULT_CONFIG: Config | None = None


def _columns_config() -> Config:
    """to_columns settings for training data: no feature cap; labels cut as the SDK cuts them
    (``max_string_length``), so baseline categories match production labels."""
    global _DEFAULT_CONFIG
    if _DEFAULT_CONFIG is None:
        _DEFAULT_CONFIG = Config().replace(max_features=1_000_000)
    return _DEFAULT_CONFIG


def _hash_secret() -> str | None:
    """``MODELTEL_HASH_KEY`` as the SDK reads it: tail buckets must be hashed with the key the
    production processes use (an invalid environment is the SDK's to report)."""
    return Config.from_env(errors=[]).hash_key


@dataclass
class _Batch:
    """One chunk as numeric columns (float64, NaN = null) and categorical counts."""

    rows: int
    names: list[str]
    numeric: dict[str, np.ndarray]
    categorical: dict[str, tuple[Counter[str], int]]  # counts, nulls
    dtypes: dict[str, str]


def _finite_or_none(x: float) -> float | None:
    return x if math.isfinite(x) else None


#: Integers beyond this are not exact as float64 (2**53): such a column would collapse.
_EXACT_INT = 2**53


def _check_input(obj: Any) -> None:
    """Reject, with a clear BaselineError, inputs a baseline cannot represent faithfully.

    Duplicate column names (the second column would vanish), complex numbers (no order, no
    histogram), integers beyond 2**53 (ids: neighbouring values collapse as float64) and
    timezone-aware datetimes (read as labels by the SDK while naive ones are numbers: convert
    both to numbers, e.g. epoch seconds, or drop them). pandas DataFrames and numpy arrays.
    """
    pd = sys.modules.get("pandas")
    if pd is not None and isinstance(obj, pd.DataFrame):
        dup = obj.columns[obj.columns.duplicated()].unique().tolist()
        if dup:
            raise BaselineError(f"duplicate column name(s) {dup}: every feature needs its own name")
        for name, dtype in obj.dtypes.items():
            if dtype.kind == "c":
                raise BaselineError(f"column {name!r}: complex numbers cannot be binned; pass the real/imaginary parts or drop it")
            if isinstance(dtype, pd.DatetimeTZDtype):
                raise BaselineError(
                    f"column {name!r}: timezone-aware datetimes are not supported; "
                    "convert to a number (e.g. epoch seconds) or drop the column"
                )
            if dtype.kind in "iu":
                col = obj[name]
                if len(col) and max(abs(int(col.min())), abs(int(col.max()))) > _EXACT_INT:
                    raise BaselineError(
                        f"column {name!r}: integers beyond 2**53 are not exact as floats (an id?); "
                        "drop it or pass it as strings"
                    )
    elif isinstance(obj, np.ndarray):
        if obj.dtype.kind == "c":
            raise BaselineError("complex numbers cannot be binned; pass the real/imaginary parts")
        if obj.dtype.kind in "iu" and obj.size and max(abs(int(obj.min())), abs(int(obj.max()))) > _EXACT_INT:
            raise BaselineError("integers beyond 2**53 are not exact as floats (an id?); drop them or pass strings")


def _to_batch(
    obj: Any,
    *,
    role: str,
    feature_names: Sequence[str] | None,
    categorical: frozenset[str],
    rename: Callable[[str], str] | None = None,
) -> _Batch:
    _check_input(obj)
    try:
        cols = to_columns(obj, feature_names=feature_names, config=_columns_config(), role=role)
    except TypeError as exc:  # UnsupportedInput is a TypeError
        raise BaselineError(f"cannot build a baseline from {type(obj).__name__}: {exc}") from None
    numeric: dict[str, np.ndarray] = {}
    cats: dict[str, tuple[Counter[str], int]] = {}
    dtypes: dict[str, str] = {}
    if isinstance(cols, Record):
        rows = 1
        names = list(cols.names)
        for name, v in zip(cols.numeric_names, cols.numeric):
            numeric[name] = np.asarray([v], dtype=np.float64)
        for name, label in cols.categorical.items():
            cats[name] = (Counter({label: 1}) if label is not None else Counter(), int(label is None))
    else:
        assert isinstance(cols, Columns)
        rows = cols.rows
        names = list(cols.names)
        for j, name in enumerate(cols.numeric_names):
            numeric[name] = cols.numeric[:, j]
        for name, cc in cols.categorical.items():
            cats[name] = (Counter(cc.counts), cc.nulls)
    for name in list(numeric):
        dtypes[name] = "float"
        if name in categorical:
            values = numeric.pop(name)
            labels = Counter(number_label(float(v)) for v in values)
            nulls = labels.pop(None, 0)
            cats[name] = (labels, nulls)  # type: ignore[assignment]
            dtypes[name] = "numeric-as-category"
    for name in cats:
        dtypes.setdefault(name, "category")
    if rename is not None:
        names = [rename(n) for n in names]
        numeric = {rename(k): v for k, v in numeric.items()}
        cats = {rename(k): v for k, v in cats.items()}
        dtypes = {rename(k): v for k, v in dtypes.items()}
    return _Batch(rows, names, numeric, cats, dtypes)


class _NumericAcc:
    """Exact moments/min/max/nulls plus a uniform bottom-k sample for the quantile edges."""

    def __init__(self, sample_size: int, rng: np.random.Generator, quantiles: Sequence[float] = QUANTILES) -> None:
        self.quantiles = quantiles
        self.n = 0  # finite values
        self.mean = 0.0
        self.m2 = 0.0
        self.min = math.inf
        self.max = -math.inf
        self.nulls = 0
        self.pos_inf = 0
        self.neg_inf = 0
        self.sample = np.empty(0)
        self.keys = np.empty(0)
        self.sample_size = sample_size
        self.rng = rng
        self.distinct: set[float] | None = set()

    def add(self, x: np.ndarray) -> None:
        nan = np.isnan(x)
        self.nulls += int(nan.sum())
        x = x[~nan]
        inf = np.isinf(x)
        if inf.any():
            self.pos_inf += int(np.count_nonzero(x[inf] > 0))
            self.neg_inf += int(np.count_nonzero(x[inf] < 0))
            x = x[~inf]
        if x.size == 0:
            return
        # Chan et al. parallel merge of (n, mean, M2): stable for large offsets.
        n_b = x.size
        with np.errstate(over="ignore", invalid="ignore"):  # |x| > ~1e154: std is None (finish)
            mean_b = float(x.mean())
            m2_b = float(np.sum((x - mean_b) ** 2))
        n = self.n + n_b
        delta = mean_b - self.mean
        self.mean += delta * n_b / n
        self.m2 += m2_b + delta * delta * self.n * n_b / n
        self.n = n
        self.min = min(self.min, float(x.min()))
        self.max = max(self.max, float(x.max()))
        if self.distinct is not None:
            self.distinct.update(np.unique(x).tolist())
            if len(self.distinct) > DISCRETE_MAX:
                self.distinct = None
        self.sample, self.keys = _projection.keep_sample(self.sample, self.keys, x, self.rng, self.sample_size)

    def edges(self) -> tuple[list[float], bool, float | None, float | None]:
        """(edges, discrete, outlier_low, outlier_high)."""
        if self.n == 0:
            return [], False, None, None
        if self.distinct is not None:
            values = sorted(self.distinct)
            # Bucket 0 = below the smallest training value; then one bucket per value.
            return [float(np.nextafter(values[0], -np.inf))] + values, True, values[0], values[-1]
        q = np.quantile(self.sample, self.quantiles)
        edges = np.unique(q)
        return [float(e) for e in edges], False, float(q[0]), float(q[-1])


class _CategoricalAcc:
    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.nulls = 0

    def add(self, counts: Counter[str], nulls: int) -> None:
        self.counts.update(counts)
        self.nulls += nulls

    def finish(
        self, name: str, max_categories: int, dtype: str, position: int, tail_buckets: int, rng: np.random.Generator
    ) -> FeatureBaseline:
        counts, nulls, chooser = self.counts, self.nulls, self.counts
        if len(counts) > max_categories:
            # More labels than are kept: top labels chosen on the rows they are counted on have
            # inflated counts (the labels that came out frequent by chance are the ones chosen),
            # and every production window would contradict them. So the rows are split at random
            # (binomial thinning of each label's count): one half chooses the top labels, the
            # other, independent half is the reference that is counted.
            labels = sorted(counts)
            c = np.fromiter((counts[label] for label in labels), dtype=np.int64, count=len(labels))
            half = rng.binomial(c, 0.5)
            chooser = Counter(dict(zip(labels, half.tolist())))
            counts = Counter(dict(zip(labels, (c - half).tolist())))
            nulls = int(rng.binomial(nulls, 0.5))
        # Most frequent first; ties broken by label so the same data gives the same file.
        ranked = sorted(chooser.items(), key=lambda kv: (-kv[1], kv[0]))
        top = [label for label, _ in ranked[:max_categories] if label != OTHER]
        other = sum(counts.values()) - sum(counts[c] for c in top)
        tail, key = _tail(counts, frozenset(top), tail_buckets)
        return FeatureBaseline(
            name=name,
            kind="categorical",
            categories=top,
            counts=[counts[c] for c in top] + [other],
            count=sum(counts.values()),
            null_count=nulls,
            dtype=dtype,
            position=position,
            tail_counts=tail,
            tail_key=key,
        )


def _tail(counts: Counter[str], top: frozenset[str], buckets: int) -> tuple[list[int], str]:
    """The labels beyond ``top`` counted in ``buckets`` hashed tail buckets, and the key's id
    (``MODELTEL_HASH_KEY``); none when no label is beyond the top or ``buckets`` is 0."""
    if buckets <= 0 or len(counts) <= len(top):
        return [], ""
    secret = _hash_secret()
    out = [0] * buckets
    index = {label: j for j, label in enumerate(tail_labels(buckets))}
    for label, n in counts.items():
        if label not in top:
            out[index[tail_label(label, secret, buckets)]] += n
    return out, tail_key_id(secret)


def _bucketize(edges: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Counts of x (NaN dropped) in OTLP buckets (b[i-1], b[i]]."""
    x = x[~np.isnan(x)]
    return np.bincount(np.searchsorted(edges, x, side="left"), minlength=edges.size + 1)


class _Section:
    """Inputs, predictions or targets: accumulators keyed by feature, in first-seen order."""

    def __init__(self, sample_size: int, rng: np.random.Generator, quantiles: Sequence[float] = QUANTILES) -> None:
        self.quantiles = quantiles
        self.order: list[str] = []
        self.numeric: dict[str, _NumericAcc] = {}
        self.categorical: dict[str, _CategoricalAcc] = {}
        self.dtypes: dict[str, str] = {}
        self.sample_size = sample_size
        self.rng = rng
        self.edges: dict[str, np.ndarray] = {}
        self.bucket_counts: dict[str, np.ndarray] = {}

    def add(self, batch: _Batch) -> None:
        for name in batch.names:
            if name not in self.dtypes:
                self.order.append(name)
                self.dtypes[name] = batch.dtypes.get(name, "")
        for name, x in batch.numeric.items():
            if name in self.categorical:
                raise BaselineError(f"feature {name!r} is categorical in one chunk and numeric in another")
            self.numeric.setdefault(name, _NumericAcc(self.sample_size, self.rng, self.quantiles)).add(x)
        for name, (counts, nulls) in batch.categorical.items():
            if name in self.numeric:
                raise BaselineError(
                    f"feature {name!r} is numeric in one chunk and categorical in another; "
                    "name it in categorical=[...]"
                )
            self.categorical.setdefault(name, _CategoricalAcc()).add(counts, nulls)

    def fix_edges(self) -> None:
        for name, acc in self.numeric.items():
            self.edges[name] = np.asarray(acc.edges()[0], dtype=np.float64)
            self.bucket_counts[name] = np.zeros(self.edges[name].size + 1, dtype=np.int64)

    def count(self, batch: _Batch) -> None:
        for name, x in batch.numeric.items():
            if name in self.edges:
                self.bucket_counts[name] += _bucketize(self.edges[name], x)

    def count_from_sample(self) -> None:
        """One-shot iterators: bucket the sample and scale it to the true count."""
        for name, acc in self.numeric.items():
            edges = self.edges[name]
            counts = _bucketize(edges, acc.sample).astype(np.float64)
            if acc.sample.size:
                counts *= acc.n / acc.sample.size
            counts = np.round(counts).astype(np.int64)
            counts[0] += acc.neg_inf
            counts[-1] += acc.pos_inf
            self.bucket_counts[name] = counts

    def finish(self, max_categories: int, tail_buckets: int = TAIL_BUCKETS) -> dict[str, FeatureBaseline]:
        out: dict[str, FeatureBaseline] = {}
        for pos, name in enumerate(self.order):
            if name in self.numeric:
                acc = self.numeric[name]
                edges, discrete, lo, hi = acc.edges()
                finite = acc.n > 0
                out[name] = FeatureBaseline(
                    name=name,
                    kind="numeric",
                    edges=edges,
                    counts=[int(c) for c in self.bucket_counts[name]],
                    count=acc.n + acc.pos_inf + acc.neg_inf,
                    null_count=acc.nulls,
                    min=acc.min if finite else None,
                    max=acc.max if finite else None,
                    # Display only (the drift math reads the histogram): None when the moments
                    # overflow a double (values beyond ~1e154 square to infinity).
                    mean=_finite_or_none(acc.mean) if finite else None,
                    std=_finite_or_none(math.sqrt(acc.m2 / acc.n)) if finite and math.isfinite(acc.m2) else None,
                    inf_count=acc.pos_inf + acc.neg_inf,
                    discrete=discrete,
                    outlier_low=lo,
                    outlier_high=hi,
                    dtype=self.dtypes.get(name, "float"),
                    position=pos,
                )
            elif name in self.categorical:
                out[name] = self.categorical[name].finish(
                    name, max_categories, self.dtypes.get(name, ""), pos, tail_buckets, self.rng
                )
        return out


# --------------------------------------------------------------------------- the baseline


@dataclass
class Baseline:
    """A model's reference distributions: make it from training data, save it, monitor with it.

    Example::

        baseline = modeltel.Baseline.from_data(X_train, model="fraud", version="3.1.0",
                                               predictions=clf.predict_proba(X_train)[:, 1])
        baseline.save("baselines/fraud-3.1.0.json")
        same = modeltel.Baseline.load("baselines/fraud-3.1.0.json")
    """

    model: str
    version: str
    rows: int
    features: dict[str, FeatureBaseline]
    predictions: dict[str, FeatureBaseline] = field(default_factory=dict)
    targets: dict[str, FeatureBaseline] = field(default_factory=dict)
    #: The predictions' validation performance and calibration against the targets
    #: (modeltel._reference), None without both.
    performance: dict[str, Any] | None = None
    #: Multivariate projections of the numeric inputs (modeltel._projection), None without.
    projection: _projection.Projection | None = None
    created_at: str = ""
    #: 0: the lowest version that holds this baseline (2 with a projection, else 1).
    schema_version: int = 0
    id: str = ""

    def __post_init__(self) -> None:
        if not self.schema_version:
            self.schema_version = 2 if self.projection is not None else 1
        if not self.created_at:
            self.created_at = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
        if not self.id:
            self.id = self.content_hash()

    # -- building ---------------------------------------------------------------------

    @classmethod
    def from_data(
        cls,
        X: Any,
        *,
        model: str,
        version: str,
        predictions: Any = None,
        targets: Any = None,
        feature_names: Sequence[str] | None = None,
        categorical: Iterable[str] = (),
        max_categories: int = MAX_CATEGORIES,
        sample_size: int = SAMPLE_SIZE,
        seed: int = 0,
        progress: Callable[[int], None] | None = None,
        projections: bool | int = True,
        tail_buckets: int = TAIL_BUCKETS,
    ) -> Baseline:
        """Build a baseline from training data.

        ``X`` is any input the SDK summarises (numpy 2-D array, pandas/polars DataFrame,
        pyarrow Table, list of records), or, for data too large for memory, an iterable of
        such chunks. A re-iterable source (a list of chunks, or a callable returning a fresh
        iterator) is read twice and binned exactly; a one-shot iterator is read once and its
        bucket counts are estimated from the ``sample_size`` sample when it has more rows.
        ``predictions`` and ``targets`` are arrays (or chunk iterables aligned with ``X``);
        1-D ones are named ``prediction``/``target``, 2-D ones ``prediction[i]``/``target[i]``.
        ``categorical`` names numeric columns to treat as categories. ``progress`` is called
        with the rows of every chunk read. ``projections`` (default on; an int caps their
        number, ``False`` turns them off) learns multivariate projections of the numeric
        inputs, so that a correlation change is drift too (docs/drift-math.md section 8).
        Labels beyond a feature's ``max_categories`` top ones are also counted in
        ``tail_buckets`` buckets by their keyed hash (``MODELTEL_HASH_KEY``: build the
        baseline with the key production uses; 0: none).
        """
        if not model or not version:
            raise BaselineError("a baseline needs model= and version=")
        # Read once (then bucket counts come from the sample) or, when replayable, twice (the
        # second pass counts exactly on the edges fixed by the first).
        factory, replayable = _triples(X, predictions, targets)
        cats = frozenset(str(c) for c in categorical)
        rng = np.random.default_rng(seed)
        keys = ("features", "predictions", "targets")
        sections = {k: _Section(sample_size, rng) for k in keys}
        target_name = lambda n: "target" + n[len("prediction"):]  # noqa: E731

        def batches(chunk: tuple[Any, Any, Any]) -> Iterator[tuple[str, _Batch]]:
            x, p, t = chunk
            yield "features", _to_batch(x, role="input", feature_names=feature_names, categorical=cats)
            if p is not None:
                yield "predictions", _to_batch(p, role="output", feature_names=None, categorical=frozenset())
            if t is not None:
                yield "targets", _to_batch(
                    t, role="output", feature_names=None, categorical=frozenset(), rename=target_name
                )

        rows = 0
        reference = _reference.ReferenceGatherer()
        max_projections = (_projection.MAX_PROJECTIONS if projections is True else int(projections)) if projections else 0
        row_sample = _projection.RowSample(_projection.PROJECTION_ROWS, np.random.default_rng(seed + 1))
        for chunk in factory():
            reference.add(chunk[1], chunk[2])
            for key, batch in batches(chunk):
                sections[key].add(batch)
                if key == "features":
                    rows += batch.rows
                    if max_projections:
                        row_sample.add(batch.numeric, batch.rows)
                    if progress is not None:
                        progress(batch.rows)
        unknown = cats - set(sections["features"].order)
        if unknown:
            raise BaselineError(f"categorical= names unknown feature(s): {sorted(unknown)}")
        if rows == 0:
            raise BaselineError("no rows: a baseline needs training data")
        reserved = [n for n in sections["features"].order if _drift.is_projection(n)]
        if reserved:
            raise BaselineError(f"feature name(s) {reserved} are reserved for multivariate projections; rename them")
        for section in sections.values():
            section.fix_edges()
        if replayable:
            for chunk in factory():
                for key, batch in batches(chunk):
                    sections[key].count(batch)
                    if key == "features" and progress is not None:
                        progress(batch.rows)
        else:
            for section in sections.values():
                section.count_from_sample()
        return cls(
            model=str(model),
            version=str(version),
            rows=rows,
            features=sections["features"].finish(max_categories, tail_buckets),
            predictions=sections["predictions"].finish(max_categories, tail_buckets),
            targets=sections["targets"].finish(max_categories, tail_buckets),
            performance=reference.finish(),
            projection=_fit_projection(row_sample, max_projections, sample_size, seed) if max_projections else None,
        )

    # -- views ------------------------------------------------------------------------

    def all_features(self) -> dict[str, FeatureBaseline]:
        """Inputs, predictions, targets and projections in one mapping (names never collide)."""
        projections = self.projection.features if self.projection is not None else {}
        return {**self.features, **self.predictions, **self.targets, **projections}

    def histograms(self) -> dict[str, _drift.Histogram]:
        return {name: fb.histogram() for name, fb in self.all_features().items()}

    @property
    def schema(self) -> dict[str, Any]:
        """Feature names and order, kinds, nullability, ranges, allowed categories."""

        def entry(fb: FeatureBaseline) -> dict[str, Any]:
            d: dict[str, Any] = {"name": fb.name, "kind": fb.kind, "nullable": fb.nullable, "dtype": fb.dtype}
            if fb.kind == "numeric":
                d.update(min=fb.min, max=fb.max)
            else:
                d.update(categories=list(fb.categories), closed=fb.counts[-1] == 0)
            return d

        return {
            "features": [entry(fb) for fb in self.features.values()],
            "predictions": [entry(fb) for fb in self.predictions.values()],
            "targets": [entry(fb) for fb in self.targets.values()],
        }

    # -- persistence ------------------------------------------------------------------

    def _content(self) -> dict[str, Any]:
        content = {
            "schema_version": self.schema_version,
            "model": self.model,
            "version": self.version,
            "rows": self.rows,
            "features": [fb.to_dict() for fb in self.features.values()],
            "predictions": [fb.to_dict() for fb in self.predictions.values()],
            "targets": [fb.to_dict() for fb in self.targets.values()],
        }
        if self.performance is not None:  # absent in older files: their ids stay the same
            content["performance"] = self.performance
        if self.projection is not None:  # schema_version 2
            content["projection"] = self.projection.to_dict()
        return content

    def content_hash(self) -> str:
        """16 hex characters of SHA-256 over the canonical JSON of everything but id and created_at."""
        canonical = json.dumps(self._content(), sort_keys=True, separators=(",", ":"), allow_nan=False)
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        content = self._content()
        return {
            "schema_version": content.pop("schema_version"),
            "id": self.id,
            "model": content.pop("model"),
            "version": content.pop("version"),
            "created_at": self.created_at,
            "rows": content.pop("rows"),
            **content,
        }

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the baseline as JSON (atomically: a temporary file renamed into place)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=1, allow_nan=False) + "\n", encoding="utf-8")
        tmp.replace(path)
        return path

    @classmethod
    def from_dict(cls, d: Any, *, source: str = "baseline") -> Baseline:
        if not isinstance(d, Mapping) or "schema_version" not in d:
            raise BaselineError(f"{source}: not a modeltel baseline (no schema_version)")
        sv = d["schema_version"]
        if not isinstance(sv, int) or sv < 1:
            raise BaselineError(f"{source}: invalid schema_version {sv!r}")
        if sv > SCHEMA_VERSION:
            raise BaselineError(
                f"{source}: written by a newer modeltel (schema_version {sv}; this modeltel reads "
                f"up to {SCHEMA_VERSION}): upgrade modeltel to use it"
            )
        try:
            sections = {
                key: {
                    fb.name: fb
                    for fb in (
                        FeatureBaseline.from_dict(item, f"{source}: {key}[{i}]")
                        for i, item in enumerate(d.get(key, []))
                    )
                }
                for key in ("features", "predictions", "targets")
            }
            baseline = cls(
                model=str(d["model"]),
                version=str(d["version"]),
                rows=int(d["rows"]),
                created_at=str(d.get("created_at", "")),
                schema_version=sv,
                id=str(d["id"]),
                performance=_reference.check_performance(d.get("performance"), source),
                projection=_load_projection(d.get("projection"), source),
                **sections,
            )
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, BaselineError):
                raise
            raise BaselineError(f"{source}: missing or invalid field ({exc!r})") from None
        actual = baseline.content_hash()
        if actual != baseline.id:
            raise BaselineError(
                f"{source}: content does not match its id {baseline.id} (hash {actual}): "
                "the file was modified or damaged; rebuild it with `modeltel baseline create`"
            )
        return baseline

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Baseline:
        """Read a baseline file; :class:`BaselineError` says what is wrong with a bad one."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise BaselineError(f"{path}: cannot read ({exc.strerror or exc})") from None
        except UnicodeDecodeError:
            raise BaselineError(f"{path}: not a modeltel baseline (not UTF-8 JSON)") from None
        try:
            d = json.loads(text)
        except json.JSONDecodeError as exc:
            raise BaselineError(f"{path}: not a modeltel baseline (invalid JSON: {exc})") from None
        return cls.from_dict(d, source=str(path))

    def describe(self) -> str:
        """A short human-readable summary (``modeltel baseline show``)."""
        lines = [
            f"baseline {self.id}  model {self.model} {self.version}  rows {self.rows}  created {self.created_at}",
        ]
        for title, table in (("features", self.features), ("predictions", self.predictions), ("targets", self.targets)):
            if not table:
                continue
            lines.append(f"{title} ({len(table)}):")
            for fb in table.values():
                if fb.kind == "numeric":
                    if fb.min is None:
                        detail = "no finite values"
                    else:
                        detail = (
                            f"[{fb.min:.6g}, {fb.max:.6g}] mean {fb.mean:.6g} std {fb.std:.6g} "
                            f"{len(fb.counts)} buckets{' (discrete)' if fb.discrete else ''}"
                        )
                else:
                    shown = ", ".join(fb.categories[:6]) + (", ..." if len(fb.categories) > 6 else "")
                    detail = f"{len(fb.categories)} categories ({shown}); other {fb.counts[-1]}"
                lines.append(f"  {fb.name:<24} {fb.kind:<11} nulls {fb.null_rate:6.2%}  {detail}")
        if self.projection is not None:
            p = self.projection
            lines.append(
                f"projections ({len(p.names)}: {p.kinds.count('pc')} principal components, {p.kinds.count('pair')} pairwise axes) "
                f"of {len(p.columns)} columns ({', '.join(p.columns[:6])}{', ...' if len(p.columns) > 6 else ''}); "
                f"fitted on {p.fit_rows:,} rows, reference {p.reference_rows:,} rows"
            )
        return "\n".join(lines)


def _fit_projection(sample: _projection.RowSample, max_projections: int, sample_size: int, seed: int) -> _projection.Projection | None:
    """Fit the projections on half the row sample; reference histograms from the other half."""
    rng = np.random.default_rng(seed + 2)
    fitted = _projection.fit(sample, rng, max_projections)
    if fitted is None:
        return None
    proj, ref_rows = fitted
    values, skipped = proj.project(ref_rows)
    numeric = {name: values[:, k] for k, name in enumerate(proj.names)}
    # Skipped rows (a null or infinity in a projected column) are the projections' nulls.
    numeric = {name: np.concatenate((v, np.full(skipped, np.nan))) for name, v in numeric.items()}
    batch = _Batch(ref_rows.shape[0], list(proj.names), numeric, {}, dict.fromkeys(proj.names, "projection"))
    section = _Section(sample_size, rng, _projection.QUANTILES)
    section.add(batch)
    section.fix_edges()
    section.count(batch)
    proj.features = section.finish(MAX_CATEGORIES)
    return proj


def _load_projection(d: Any, source: str) -> _projection.Projection | None:
    if d is None:
        return None
    if not isinstance(d, Mapping):
        raise BaselineError(f"{source}: projection must be an object")
    try:
        proj = _projection.Projection.from_dict(d, f"{source}: projection", FeatureBaseline.from_dict)
    except (KeyError, TypeError) as exc:
        raise BaselineError(f"{source}: projection: missing or invalid field ({exc!r})") from None
    except ValueError as exc:
        if isinstance(exc, BaselineError):
            raise
        raise BaselineError(str(exc)) from None
    for fb in proj.features.values():
        if fb.kind != "numeric":
            raise BaselineError(f"{source}: projection {fb.name} must be numeric")
    return proj


_END = object()


@dataclass(frozen=True)
class ChunkSource:
    """Training data as (X, predictions, targets) chunks of one source, for
    :meth:`Baseline.from_data` (as ``X``): ``factory()`` returns a fresh iterable of them, read
    a second time for exact bucket counts when ``replayable``. The CLI reads a file this way,
    once per pass, instead of once per role."""

    factory: Callable[[], Iterable[tuple[Any, Any, Any]]]
    replayable: bool = True


def _triples(X: Any, predictions: Any, targets: Any) -> tuple[Callable[[], Iterable[tuple[Any, Any, Any]]], bool]:
    """The (X, predictions, targets) chunks of ``from_data``'s arguments, and whether they can be read twice."""
    if isinstance(X, ChunkSource):
        if predictions is not None or targets is not None:
            raise BaselineError("a ChunkSource carries its own predictions and targets")
        return X.factory, X.replayable
    if predictions is None and targets is None:
        return (lambda: ((x, None, None) for x in _chunks(X))), _replayable(X)

    def factory() -> Iterator[tuple[Any, Any, Any]]:
        xs = _chunks(X)
        ps = _chunks(predictions) if predictions is not None else None
        ts = _chunks(targets) if targets is not None else None
        while True:
            x = next(xs, _END)
            p = next(ps, _END) if ps is not None else None
            t = next(ts, _END) if ts is not None else None
            if x is _END and (p is _END or p is None) and (t is _END or t is None):
                return
            if x is _END or p is _END or t is _END:
                raise BaselineError("X, predictions and targets must have the same number of chunks")
            yield x, p, t

    return factory, _replayable(X) and _replayable(predictions) and _replayable(targets)


def _chunks(obj: Any) -> Iterator[Any]:
    """One in-memory object, or the chunks of an iterable / callable chunk source."""
    if callable(obj) and not hasattr(obj, "__array__") and not isinstance(obj, type):
        yield from obj()
        return
    if _is_chunk_iterable(obj):
        yield from obj
        return
    yield obj


def _is_chunk_iterable(obj: Any) -> bool:
    if isinstance(obj, (list, tuple)):
        # A list of DataFrames/arrays is chunks; a list of records or rows is data.
        return bool(obj) and all(
            type(c).__module__.split(".")[0] in ("pandas", "polars", "pyarrow", "numpy") and hasattr(c, "shape")
            or type(c).__module__.split(".")[0] == "pyarrow" and hasattr(c, "num_rows")
            for c in obj
        ) and not all(isinstance(c, np.ndarray) and c.ndim <= 1 for c in obj)
    if isinstance(obj, Iterator):
        return True
    mod = type(obj).__module__.split(".")[0]
    return mod == "pandas" and type(obj).__name__ == "TextFileReader"


def _replayable(obj: Any) -> bool:
    """Can the source be read a second time for exact bucket counts?"""
    if obj is None:
        return True
    if callable(obj) and not hasattr(obj, "__array__"):
        return True
    if isinstance(obj, Iterator):
        return False
    return not (type(obj).__module__.split(".")[0] == "pandas" and type(obj).__name__ == "TextFileReader")


# --------------------------------------------------------------------------- production data


class ProductionHistograms:
    """Production data binned on a baseline's edges and categories, chunk by chunk.

    Used by the offline drift report; the SDK does the same in its sketch store.
    """

    def __init__(self, baseline: Baseline) -> None:
        self.baseline = baseline
        self.rows = 0
        self._edges = {n: np.asarray(fb.edges) for n, fb in baseline.all_features().items() if fb.kind == "numeric"}
        self._counts = {n: np.zeros(len(fb.counts), dtype=np.int64) for n, fb in baseline.all_features().items()}
        self._min: dict[str, float] = {}
        self._max: dict[str, float] = {}
        self._index = {
            n: {c: i for i, c in enumerate(fb.categories)}
            for n, fb in baseline.all_features().items()
            if fb.kind == "categorical"
        }
        # Features whose tail buckets this process can fill (same MODELTEL_HASH_KEY): labels
        # beyond the top categories go to their bucket, after the top categories.
        self._secret = _hash_secret()
        self._tail = {
            n: len(fb.tail_counts)
            for n, fb in baseline.all_features().items()
            if fb.kind == "categorical" and fb.tail_usable(self._secret)
        }
        for n, buckets in self._tail.items():
            index = self._index[n]
            top = len(index)
            index.update((label, top + j) for j, label in enumerate(tail_labels(buckets)))
            self._counts[n] = np.zeros(top + buckets + 1, dtype=np.int64)
        self.nulls: Counter[str] = Counter()
        #: Values strictly below the baseline's min or above its max (the out_of_range check).
        self.outside: Counter[str] = Counter()
        self._range = {  # projections: no raw-value range check (the collector has none either)
            n: (fb.min, fb.max)
            for n, fb in baseline.all_features().items()
            if fb.kind == "numeric" and fb.min is not None and fb.max is not None and not _projection.is_projection(n)
        }
        self.seen: set[str] = set()

    def add(self, X: Any, *, predictions: Any = None, targets: Any = None) -> None:
        numeric_as_cat = frozenset(n for n, fb in self.baseline.features.items() if fb.kind == "categorical")
        parts: list[tuple[Any, str, Callable[[str], str] | None]] = [(X, "input", None)]
        if predictions is not None:
            parts.append((predictions, "output", None))
        if targets is not None:
            parts.append((targets, "output", lambda n: "target" + n[len("prediction"):]))
        for i, (obj, role, rename) in enumerate(parts):
            batch = _to_batch(
                obj,
                role=role,
                feature_names=None,
                categorical=numeric_as_cat if role == "input" else frozenset(),
                rename=rename,
            )
            if i == 0:
                self.rows += batch.rows
                self._add_projections(batch)
            self._add_batch(batch)

    def _add_projections(self, batch: _Batch) -> None:
        """Project the rows as the SDK does; a row with a null in a projected column is a null."""
        proj = self.baseline.projection
        if proj is None or batch.rows == 0:
            return
        if any(c not in batch.numeric for c in proj.columns):
            values, skipped = np.empty((0, len(proj.names))), batch.rows
        else:
            values, skipped = proj.project(np.column_stack([batch.numeric[c] for c in proj.columns]))
        for k, name in enumerate(proj.names):
            self.seen.add(name)
            self.nulls[name] += skipped
            self._counts[name] += _bucketize(self._edges[name], values[:, k])
            if values.shape[0]:
                self._min[name] = min(self._min.get(name, math.inf), float(values[:, k].min()))
                self._max[name] = max(self._max.get(name, -math.inf), float(values[:, k].max()))

    def _add_batch(self, batch: _Batch) -> None:
        self.seen.update(batch.names)
        for name, x in batch.numeric.items():
            if name not in self._edges:
                continue
            self.nulls[name] += int(np.isnan(x).sum())
            self._counts[name] += _bucketize(self._edges[name], x)
            if name in self._range:
                lo, hi = self._range[name]
                self.outside[name] += int(np.count_nonzero(x < lo) + np.count_nonzero(x > hi))
            finite = x[np.isfinite(x)]
            if finite.size:
                self._min[name] = min(self._min.get(name, math.inf), float(finite.min()))
                self._max[name] = max(self._max.get(name, -math.inf), float(finite.max()))
        for name, (counts, nulls) in batch.categorical.items():
            index = self._index.get(name)
            if index is None:
                continue
            self.nulls[name] += nulls
            arr = self._counts[name]
            buckets = self._tail.get(name, 0)
            for label, n in counts.items():
                i = index.get(label)
                if i is None:
                    i = index[tail_label(label, self._secret, buckets)] if buckets else len(arr) - 1
                arr[i] += n

    def histograms(self) -> dict[str, _drift.Histogram]:
        out: dict[str, _drift.Histogram] = {}
        for name, fb in self.baseline.all_features().items():
            if name not in self.seen:
                continue
            if fb.kind == "numeric":
                out[name] = _drift.Histogram.numeric(
                    fb.edges, self._counts[name], self._min.get(name), self._max.get(name), nulls=self.nulls[name],
                    outside=self.outside[name] if name in self._range else None,
                )
            else:
                buckets = self._tail.get(name, 0)
                out[name] = _drift.Histogram.categorical(
                    fb.categories + tail_labels(buckets), self._counts[name], nulls=self.nulls[name], tail=buckets
                )
        return out
