"""modeltel's own sketch store: per-feature distributions, exported as delta histograms.

Keyed by model, version, role (``input``/``output``) and feature, the store keeps for every
numeric feature a base-2 exponential histogram (the OpenTelemetry data model: bucket ``i``
at scale ``s`` is ``(2**(i/2**s), 2**((i+1)/2**s)]``, at most ``max_histogram_buckets``
buckets per sign, downscaled to fit as the OpenTelemetry SDK's aggregation does) or, once a
baseline is set, counts on the baseline's explicit bucket edges (OTLP upper-inclusive
buckets ``(b[i-1], b[i]]``); for every categorical feature counts per label (capped: the
rest in hashed tail buckets ``__tail_<j>__``, or ``__other__`` where a baseline has none);
and per feature the count of missing values.

Cost model: a batch is binned in one vectorised numpy pass over all its numeric features
(one ``log2`` and one ``bincount`` over the whole matrix, processed in cache-sized row
chunks) *outside* the lock; the lock is held only to merge the small per-feature bucket
arrays. A single record is not binned at all on the caller's thread: its values are
appended to a per-stream buffer (a list append under the lock) and binned as a batch when
the buffer fills or at the next :meth:`SketchStore.collect`.

:meth:`SketchStore.collect` returns everything recorded since the previous collect (delta
temporality) plus the constant in-band baseline points, and the ``ml.prediction.duration``
histograms of every model (:class:`Durations`, cumulative like the SDK's default). ``STORE`` is process-global; in a
forked child (gunicorn pre-fork) its data is cleared (the parent exports its own), its
baselines are kept.
"""

from __future__ import annotations

import datetime as _dt
import math
from bisect import bisect_left
import threading
import time
import weakref
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from modeltel import _registry
from modeltel._identity import number_label
from modeltel._telemetry import DURATION_BUCKETS, default_config
from modeltel._columns import (
    OTHER, TAIL_BUCKETS, CategoryCounts, Columns, Record, hash_label, label_is_clear, tail_key_id, tail_label, tail_labels,
)
from modeltel._summary import _batch_stats

__all__ = [
    "SketchStore",
    "STORE",
    "Snapshot",
    "ExpHistogramPoint",
    "HistogramPoint",
    "CountPoint",
    "DurationPoint",
    "Durations",
    "OverflowPoint",
    "exp_index",
    "MAX_SCALE",
]

#: Highest exponential-histogram scale (as the OpenTelemetry SDK's default max_scale).
MAX_SCALE = 20
#: Single records buffered per stream before they are binned as one batch (binning has a
#: fixed cost per batch and per feature: 256 rows cost 5.2 us a 20-feature row, 1024 rows
#: 2.6 us), and at most ``ROW_BUFFER_VALUES`` buffered values (a wide record fills it sooner).
ROW_BUFFER = 1024
ROW_BUFFER_VALUES = 16384
#: Below this many rows, a batch's explicit-bucket columns are counted one by one.
_SMALL_BATCH = 256
#: Streams (model, version, role) tracked; more are dropped and counted.
MAX_STREAMS = 256
#: Seconds without a record after which a stream's slot is freed.
STREAM_TTL = 300.0
#: The scale of an exponential histogram point over fewer than ``min_aggregate_count`` values:
#: buckets (2^i, 2^(i+1)].
_PRIVATE_SCALE = 0
#: Values binned per numpy chunk, so that a chunk's temporaries stay in the CPU cache.
_CHUNK_VALUES = 1 << 16
#: Values per column-major block when a row-major batch is counted on explicit buckets.
_BLOCK_VALUES = 1 << 19
#: log2 of the smallest normal float64.
_MIN_NORMAL_LOG2 = -1022.0


# --------------------------------------------------------------------------------------
# snapshot points (plain data; _export turns them into OTLP)


@dataclass(frozen=True, slots=True)
class _StreamPoint:
    """The stream every snapshot point belongs to: its first fields."""

    model: str
    version: str
    role: str


@dataclass(frozen=True, slots=True)
class _FeaturePoint(_StreamPoint):
    """A point of one feature (input column or output) of a stream."""

    feature: str


@dataclass(frozen=True, slots=True)
class ExpHistogramPoint(_FeaturePoint):
    """A base-2 exponential histogram of one feature's finite values (delta)."""

    count: int
    sum: float
    min: float
    max: float
    scale: int
    zero_count: int
    positive_offset: int
    positive: tuple[int, ...]
    negative_offset: int
    negative: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class HistogramPoint(_FeaturePoint):
    """An explicit-bucket histogram: production values on a baseline's edges, or the baseline."""

    baseline_id: str
    bounds: tuple[float, ...]
    counts: tuple[int, ...]
    count: int
    sum: float
    min: float
    max: float
    #: Only for in-band baseline points (cumulative): the baseline's creation time.
    start_time_unix_nano: int = 0


@dataclass(frozen=True, slots=True)
class CountPoint(_FeaturePoint):
    """A count: per category (``category`` set) or of missing values (``category`` None)."""

    value: int
    category: str | None = None
    baseline_id: str | None = None
    start_time_unix_nano: int = 0


@dataclass(frozen=True, slots=True)
class OverflowPoint(_StreamPoint):
    """Things not tracked because a cap was hit (``kind``: feature, string, column, stream)."""

    kind: str
    value: int


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What :meth:`SketchStore.collect` returns: deltas since the previous collect."""

    start_time_unix_nano: int
    time_unix_nano: int
    exponential: list[ExpHistogramPoint] = field(default_factory=list)
    explicit: list[HistogramPoint] = field(default_factory=list)
    categories: list[CountPoint] = field(default_factory=list)
    missing: list[CountPoint] = field(default_factory=list)
    overflow: list[OverflowPoint] = field(default_factory=list)
    #: In-band baselines (cumulative, constant), re-sent on every collect.
    baseline_histograms: list[HistogramPoint] = field(default_factory=list)
    baseline_categories: list[CountPoint] = field(default_factory=list)
    #: ``ml.prediction.duration``, one point per series (cumulative unless ``durations_delta``).
    durations: list["DurationPoint"] = field(default_factory=list)
    durations_delta: bool = False
    #: In-band baselines' null counts per feature (what the collector's null_rate rule needs).
    baseline_missing: list[CountPoint] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        """True when nothing was recorded since the previous collect (baselines aside)."""
        return not (self.exponential or self.explicit or self.categories or self.missing or self.overflow)


@dataclass(frozen=True, slots=True)
class DurationPoint:
    """``ml.prediction.duration`` of one (model, version, error type) series on
    ``_telemetry.DURATION_BUCKETS``; ``model`` None is the series overflow (``otel.metric.overflow``).
    ``sum``/``min``/``max`` are NaN (withheld) over fewer than ``min_aggregate_count`` calls."""

    model: str | None
    version: str | None
    error_type: str | None
    start_time_unix_nano: int
    counts: tuple[int, ...]
    count: int
    sum: float
    min: float
    max: float


# --------------------------------------------------------------------------------------
# exponential-histogram index math


def exp_index(value: float, scale: int) -> int:
    """Bucket index of ``abs(value) > 0`` at ``scale``: ``ceil(log2(v) * 2**scale) - 1``.

    Bucket ``i`` is ``(2**(i/2**scale), 2**((i+1)/2**scale)]`` (upper-inclusive, as in
    OTLP); exact powers of two fall in the bucket they close. The vectorised path uses the
    same formula on numpy's log2.
    """
    return math.ceil(max(math.log2(abs(value)), _MIN_NORMAL_LOG2) * math.ldexp(1.0, scale)) - 1


def _fit_scale(lo_log2: float, hi_log2: float, max_size: int, max_scale: int = MAX_SCALE) -> int:
    """Largest scale at which magnitudes in [2**lo, 2**hi] fit in ``max_size`` buckets.

    The rule of the OpenTelemetry SDK's exponential aggregation: start at the maximum scale
    and lower it until ``index(hi) - index(lo) + 1 <= max_size``.
    """
    scale = max_scale
    while scale > -10:
        f = math.ldexp(1.0, scale)
        if (math.ceil(hi_log2 * f) - 1) - (math.ceil(lo_log2 * f) - 1) + 1 <= max_size:
            return scale
        scale -= 1
    return scale


def _downscale(offset: int, counts: np.ndarray, change: int) -> tuple[int, np.ndarray]:
    """Merge buckets pairwise ``change`` times: index i at scale s -> i >> change."""
    if change <= 0 or counts.size == 0:
        return offset, counts
    idx = (np.arange(offset, offset + counts.size, dtype=np.int64)) >> change
    new_off = int(idx[0])
    out = np.bincount(idx - new_off, weights=counts).astype(np.int64)
    return new_off, out


def _trim(offset: int, counts: np.ndarray) -> tuple[int, np.ndarray]:
    nz = np.flatnonzero(counts)
    if nz.size == 0:
        return 0, counts[:0]
    return offset + int(nz[0]), counts[nz[0] : nz[-1] + 1]


def _add(a: tuple[int, np.ndarray], b: tuple[int, np.ndarray]) -> tuple[int, np.ndarray]:
    if a[1].size == 0:
        return b
    if b[1].size == 0:
        return a
    lo = min(a[0], b[0])
    hi = max(a[0] + a[1].size, b[0] + b[1].size)
    out = np.zeros(hi - lo, dtype=np.int64)
    out[a[0] - lo : a[0] - lo + a[1].size] += a[1]
    out[b[0] - lo : b[0] - lo + b[1].size] += b[1]
    return lo, out


_EMPTY = np.zeros(0, dtype=np.int64)


class _ExpPart:
    """One batch's contribution to one feature's exponential histogram."""

    __slots__ = ("count", "sum", "min", "max", "scale", "zero", "pos", "neg")

    def __init__(self, count: int, s: float, mn: float, mx: float, scale: int, zero: int, pos: tuple[int, np.ndarray], neg: tuple[int, np.ndarray]) -> None:
        self.count = count
        self.sum = s
        self.min = mn
        self.max = mx
        self.scale = scale
        self.zero = zero
        self.pos = pos
        self.neg = neg


class _Exp:
    """Accumulated exponential histogram of one feature (delta since the last collect)."""

    __slots__ = ("count", "sum", "min", "max", "scale", "zero", "pos", "neg")

    def __init__(self) -> None:
        self.count = 0
        self.sum = 0.0
        self.min = math.inf
        self.max = -math.inf
        self.scale = MAX_SCALE
        self.zero = 0
        self.pos: tuple[int, np.ndarray] = (0, _EMPTY)
        self.neg: tuple[int, np.ndarray] = (0, _EMPTY)

    def merge(self, p: _ExpPart, max_size: int) -> None:
        if p.count == 0:
            return
        self.count += p.count
        self.sum += p.sum
        self.min = min(self.min, p.min)
        self.max = max(self.max, p.max)
        self.zero += p.zero
        if p.pos[1].size == 0 and p.neg[1].size == 0:
            return  # only zeros: nothing to bin, and no reason to lower the scale
        scale = min(self.scale, p.scale)
        # the union of both windows must fit at the common scale: downscale until it does
        while scale > -10:
            mine = self.scale - scale
            theirs = p.scale - scale
            if (
                _span_pair(self.pos, mine, p.pos, theirs) <= max_size
                and _span_pair(self.neg, mine, p.neg, theirs) <= max_size
            ):
                break
            scale -= 1
        self.pos = _add(_downscale(*self.pos, self.scale - scale), _downscale(*p.pos, p.scale - scale))
        self.neg = _add(_downscale(*self.neg, self.scale - scale), _downscale(*p.neg, p.scale - scale))
        self.scale = scale

    def point(self, model: str, version: str, role: str, feature: str, least: int) -> ExpHistogramPoint:
        """The exported point: no min/max ever; below ``least`` values no sum either, and the
        buckets coarsened to powers of two, so that a lone value is not sent to six digits."""
        scale = self.scale
        pos, neg = self.pos, self.neg
        private = self.count < least
        if private and scale > _PRIVATE_SCALE:
            pos = _downscale(*pos, scale - _PRIVATE_SCALE)
            neg = _downscale(*neg, scale - _PRIVATE_SCALE)
            scale = _PRIVATE_SCALE
        pos_off, pos_counts = _trim(*pos)
        neg_off, neg_counts = _trim(*neg)
        return ExpHistogramPoint(
            model, version, role, feature,
            count=self.count, sum=math.nan if private else self.sum, min=math.nan, max=math.nan,
            scale=scale if (pos_counts.size or neg_counts.size) else 0,
            zero_count=self.zero,
            positive_offset=pos_off, positive=tuple(pos_counts.tolist()),
            negative_offset=neg_off, negative=tuple(neg_counts.tolist()),
        )


def _span_pair(a: tuple[int, np.ndarray], ca: int, b: tuple[int, np.ndarray], cb: int) -> int:
    lo = hi = None
    for (off, c), ch in ((a, ca), (b, cb)):
        if c.size == 0:
            continue
        x = off >> ch
        y = (off + c.size - 1) >> ch
        lo = x if lo is None else min(lo, x)
        hi = y if hi is None else max(hi, y)
    return 0 if lo is None or hi is None else hi - lo + 1


class _Explicit:
    """Accumulated counts on a baseline's explicit bucket bounds (delta)."""

    __slots__ = ("bounds", "counts", "count", "sum", "min", "max")

    def __init__(self, bounds: np.ndarray) -> None:
        self.bounds = bounds
        self.counts = np.zeros(bounds.size + 1, dtype=np.int64)
        self.count = 0
        self.sum = 0.0
        self.min = math.inf
        self.max = -math.inf


# --------------------------------------------------------------------------------------
# vectorised binning (no lock held)


def _exp_parts(m: np.ndarray, count: np.ndarray, s: np.ndarray, mn: np.ndarray, mx: np.ndarray, all_finite: bool, max_size: int) -> list[_ExpPart | None]:
    """Bin every column of ``m`` (rows x k, float64) into exponential buckets at once.

    One pass of log2 over the matrix gives every value's bucket index at its column's
    scale; a per-column offset maps those into disjoint ranges of one flat array, and a
    single bincount counts them all. Zeros, NaN and inf go to a dump slot (zeros are
    counted separately, non-finite values are not in the histogram).

    The scale of a column is the largest at which its magnitude range (smallest non-zero
    to largest |x|) fits ``max_size`` buckets: the OpenTelemetry SDK's rule for one-signed
    data; for mixed signs the two signs share the range, which can cost one scale step.
    """
    n, k = m.shape
    parts: list[_ExpPart | None] = [None] * k
    if n == 0 or k == 0:
        return parts
    # Row chunks of a cache-sized buffer: no full-size temporary, and a row-major (C-order)
    # matrix is read in contiguous blocks (no column-major copy of the input is needed).
    step = max(1, _CHUNK_VALUES // k)
    buf = np.empty((min(step, n), k))
    lo_abs, has_zero = _smallest_magnitudes(m, mn, mx, count, step, buf)
    with np.errstate(divide="ignore", invalid="ignore"):
        lo_log = np.log2(lo_abs)  # log2 is monotonic: the extremes give the range
        subnormal = bool((lo_log < _MIN_NORMAL_LOG2).any())
        if subnormal:
            # Subnormals go to the lowest normal bucket, as in the OpenTelemetry SDK (rare path).
            lo_log = np.maximum(lo_log, _MIN_NORMAL_LOG2)
        hi_log = np.log2(np.maximum(np.abs(mn), np.abs(mx)))
    side = max_size + 2  # one spare slot at each end absorbs a one-ulp log2 difference
    # Per column, 2*side+1 slots: negative buckets reversed, one unused slot, positive buckets.
    width = 2 * side + 1
    dump = k * width
    scales = np.zeros(k, dtype=np.int64)
    window = np.zeros(k, dtype=np.int64)  # bucket index of each column's first slot
    has_values = np.zeros(k, dtype=bool)
    for j in range(k):
        lo_j = float(lo_log[j])
        if count[j] > 0 and math.isfinite(lo_j):
            sc = _fit_scale(lo_j, max(lo_j, float(hi_log[j])), max_size)
            scales[j] = sc
            window[j] = math.ceil(lo_j * math.ldexp(1.0, sc)) - 2
            has_values[j] = True
    factor = np.ldexp(1.0, scales)  # 2**scale per column
    # w = ceil(log2|x| * 2**s) - window = (bucket index - window) + 1, in [1, side];
    # copysign(w, x) + side + j*width puts positives above the middle slot, negatives below.
    minus_window = (-window).astype(np.float64)
    column_base = np.arange(k, dtype=np.float64) * width + side
    any_neg = bool((mn < 0).any())
    special = (not all_finite) or bool(has_zero.any())  # zeros, NaN or inf to divert
    total = np.zeros(dump + 1, dtype=np.int64)
    zero_counts = np.zeros(k, dtype=np.int64)
    for start in range(0, n, step):
        chunk = m[start : start + step]
        b = buf[: chunk.shape[0]]
        with np.errstate(divide="ignore", invalid="ignore"):
            np.abs(chunk, out=b)
            np.log2(b, out=b)  # zeros -> -inf, NaN -> NaN, inf -> inf
        if subnormal:
            b[(b < _MIN_NORMAL_LOG2) & ~np.isneginf(b)] = _MIN_NORMAL_LOG2
        np.multiply(b, factor, out=b)
        np.ceil(b, out=b)
        np.add(b, minus_window, out=b)
        if any_neg:
            np.copysign(b, chunk, out=b)
        np.add(b, column_base, out=b)
        if special:
            bad = ~np.isfinite(b)  # log2(0) = -inf; NaN and inf inputs
            if bad.any():
                zero_counts += np.count_nonzero(chunk == 0, axis=0)
                b[bad] = dump
        np.clip(b, 0, dump, out=b)  # never index outside the flat range
        total += np.bincount(b.astype(np.intp).ravel(order="K"), minlength=dump + 1)
    per_col = total[:dump].reshape(k, width)
    for j in range(k):
        if count[j] == 0:
            continue
        if not has_values[j]:  # only zeros
            parts[j] = _ExpPart(int(count[j]), float(s[j]), float(mn[j]), float(mx[j]), 0, int(zero_counts[j]), (0, _EMPTY), (0, _EMPTY))
            continue
        # trimmed first, then copied: the part keeps only its occupied buckets, not a view
        # into the whole row (which held every bucket of the window alive, per feature)
        pos_off, pos_view = _trim(int(window[j]), per_col[j, side + 1 :])
        neg_off, neg_view = _trim(int(window[j]), per_col[j, side - 1 :: -1] if side else _EMPTY)
        pos, neg = (pos_off, pos_view.copy()), (neg_off, neg_view.copy())
        parts[j] = _ExpPart(int(count[j]), float(s[j]), float(mn[j]), float(mx[j]), int(scales[j]), int(zero_counts[j]), pos, neg)
    return parts


def _smallest_magnitudes(
    m: np.ndarray, mn: np.ndarray, mx: np.ndarray, count: np.ndarray, step: int, buf: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per column of ``m``: the smallest non-zero |x| (inf when none) and whether it holds a
    zero. A one-signed column reads them off its min/max; otherwise one pass of row chunks."""
    k = m.shape[1]
    with np.errstate(invalid="ignore"):
        one_signed = (mn > 0) | (mx < 0) | (count == 0)
        lo_abs = np.where(mn > 0, mn, np.where(mx < 0, -mx, np.inf)).astype(np.float64)
    has_zero = np.zeros(k, dtype=bool)
    if one_signed.all():
        return lo_abs, has_zero
    lo_abs[:] = np.inf
    for start in range(0, m.shape[0], step):
        chunk = m[start : start + step]
        a = buf[: chunk.shape[0]]
        np.abs(chunk, out=a)
        low = np.fmin.reduce(a, axis=0)  # NaN left out
        zero = low == 0
        if zero.any():
            has_zero |= zero
            for z in np.flatnonzero(zero):
                col = a[:, z]
                nonzero = col[col > 0]
                low[z] = nonzero.min() if nonzero.size else np.inf
        np.fmin(lo_abs, low, out=lo_abs)
    return lo_abs, has_zero


def _explicit_counts(col: np.ndarray, bounds: np.ndarray, all_finite: bool) -> np.ndarray:
    """Counts on OTLP upper-inclusive buckets: value x goes to the first i with x <= b[i].

    For the usual handful of baseline edges, one SIMD compare-and-count per edge (cumulative
    counts, then differences) is several times faster than a binary search per value.
    """
    if not all_finite:
        col = col[np.isfinite(col)]
    if bounds.size > 128:
        return np.bincount(np.searchsorted(bounds, col, side="left"), minlength=bounds.size + 1)
    cumulative = np.empty(bounds.size + 2, dtype=np.int64)
    cumulative[0] = 0
    for i, b in enumerate(bounds.tolist()):
        cumulative[i + 1] = np.count_nonzero(col <= b)
    cumulative[-1] = col.size
    return np.diff(cumulative)


def _explicit_columns(m: np.ndarray, js: list[int], bounds: list[Any], all_finite: bool) -> dict[int, np.ndarray]:
    """:func:`_explicit_counts` of columns ``js`` of ``m`` on their ``bounds``. A row-major
    batch is counted in row chunks copied column-major into a cache-sized block (a column of
    a row-major matrix is strided: every compare would read the whole matrix)."""
    if not js:
        return {}
    n = m.shape[0]
    if m.flags.f_contiguous or n < _SMALL_BATCH:
        return {j: _explicit_counts(m[:, j], b, all_finite) for j, b in zip(js, bounds)}
    out = {j: np.zeros(b.size + 1, dtype=np.int64) for j, b in zip(js, bounds)}
    idx: Any = slice(None) if len(js) == m.shape[1] else np.asarray(js)
    # large blocks (a few MB, not the batch): each column of a block is one contiguous run,
    # and the per-edge compares stay few numpy calls per column
    step = max(1, _BLOCK_VALUES // len(js))
    for start in range(0, n, step):
        block = np.asfortranarray(m[start : start + step][:, idx])
        for i, (j, b) in enumerate(zip(js, bounds)):
            out[j] += _explicit_counts(block[:, i], b, all_finite)
    return out


def _numeric_labels(col: np.ndarray) -> dict[str, int]:
    """Counts of a numeric column's distinct values as labels (the baseline's naming rule:
    integral values without a decimal point, others as repr); NaN is missing, not a label."""
    values, counts = np.unique(col[~np.isnan(col)], return_counts=True)
    out: dict[str, int] = {}
    for v, n in zip(values.tolist(), counts.tolist()):
        label = number_label(v)
        if label is not None:
            out[label] = out.get(label, 0) + n
    return out


# --------------------------------------------------------------------------------------
# baselines


@dataclass(slots=True)
class _FeatureRef:
    kind: str  # numeric | categorical
    bounds: np.ndarray | None
    categories: frozenset[str]
    #: Tail buckets of the baseline this process fills (0: none, or hashed with another key).
    tail: int = 0
    tail_key: str = ""


@dataclass(slots=True)
class _BaselineView:
    id: str
    features: dict[str, dict[str, _FeatureRef]]  # role -> feature -> ref
    histograms: list[HistogramPoint]
    categories: list[CountPoint]
    missing: list[CountPoint]
    #: The baseline's multivariate projections (modeltel._projection), binned on ``bounds``
    #: (projections x edges, padded with +inf; ``widths`` the real edge counts).
    projection: Any = None
    bounds: np.ndarray | None = None
    widths: np.ndarray | None = None


def _created_ns(baseline: Any) -> int:
    for attr in ("created_unix_nano", "created_at", "created"):
        v = getattr(baseline, attr, None)
        if v is None:
            continue
        if isinstance(v, _dt.datetime):
            if v.tzinfo is None:
                v = v.replace(tzinfo=_dt.timezone.utc)
            return int(v.timestamp() * 1e9)
        if isinstance(v, str):
            try:
                d = _dt.datetime.fromisoformat(v.replace("Z", "+00:00"))
            except ValueError:
                continue
            if d.tzinfo is None:
                d = d.replace(tzinfo=_dt.timezone.utc)
            return int(d.timestamp() * 1e9)
        if isinstance(v, (int, float)):
            return int(v) if v > 1e15 else int(v * 1e9)
    return time.time_ns()


def _baseline_view(model: str, version: str, baseline: Any, secret: str | None = None, least: int = 10) -> _BaselineView:
    """The baseline as the store bins with it and exports it in-band.

    Privacy: the in-band points carry the training data's edges, counts, null counts and sum
    (over ``least`` values or more), never its min/max: those are values of single training
    rows (docs/privacy.md). A collector that needs the exact range reads the baseline file.
    """
    bid = str(baseline.id)
    start = _created_ns(baseline)
    features: dict[str, dict[str, _FeatureRef]] = {"input": {}, "output": {}}
    hists: list[HistogramPoint] = []
    cats: list[CountPoint] = []
    missing: list[CountPoint] = []
    projection = getattr(baseline, "projection", None)
    projections = getattr(projection, "features", None) or {}
    for role, table in (
        ("input", {**(getattr(baseline, "features", None) or {}), **projections}),
        ("output", getattr(baseline, "predictions", None) or {}),
    ):
        for name, fb in table.items():
            name = str(getattr(fb, "name", name) or name)
            counts = [int(c) for c in fb.counts]
            missing.append(CountPoint(model, version, role, name, int(getattr(fb, "null_count", 0) or 0), None, bid, start))
            if fb.kind == "numeric":
                bounds = np.asarray(fb.edges, dtype=np.float64)
                features[role][name] = _FeatureRef("numeric", bounds, frozenset())
                total = int(getattr(fb, "count", None) or sum(counts))
                mean = getattr(fb, "mean", None)
                hists.append(
                    HistogramPoint(
                        model, version, role, name, bid,
                        bounds=tuple(float(b) for b in bounds), counts=tuple(counts),
                        count=total,
                        sum=float(mean) * total if mean is not None and total >= least else math.nan,
                        min=math.nan, max=math.nan,
                        start_time_unix_nano=start,
                    )
                )
            else:
                categories = [str(c) for c in fb.categories]
                tail_counts = [int(c) for c in getattr(fb, "tail_counts", None) or ()]
                key = str(getattr(fb, "tail_key", ""))
                if tail_counts and key != tail_key_id(secret):
                    tail_counts = []  # hashed with another MODELTEL_HASH_KEY: __other__ only
                features[role][name] = _FeatureRef("categorical", None, frozenset(categories), len(tail_counts), key)
                labels = categories + [OTHER]
                if tail_counts:
                    labels = categories + tail_labels(len(tail_counts)) + [OTHER]
                    counts = counts[:-1] + tail_counts + [0]
                for label, n in zip(labels, counts):
                    cats.append(CountPoint(model, version, role, name, n, label, bid, start))
    view = _BaselineView(bid, features, hists, cats, missing)
    if projections:
        edges = [np.asarray(fb.edges, dtype=np.float64) for fb in projections.values()]
        width = max((e.size for e in edges), default=0)
        view.projection = projection
        view.bounds = np.full((len(edges), width), np.inf)
        for k, e in enumerate(edges):
            view.bounds[k, : e.size] = e
        view.widths = np.asarray([e.size for e in edges])
    return view


#: From this many rows on, projections are binned by one vectorised compare per edge (SIMD,
#: no branches); below, one binary search per projection costs fewer numpy calls.
_PROJECTION_COMPARE_ROWS = 1024


def _projection_counts(values: np.ndarray, bounds: np.ndarray, widths: np.ndarray) -> list[np.ndarray]:
    """OTLP upper-inclusive bucket counts of every projection (a row of ``values``, projections
    x rows) on its own edges (row ``k`` of ``bounds``, the first ``widths[k]`` entries)."""
    k, n = values.shape
    out = []
    if n < _PROJECTION_COMPARE_ROWS:
        for j in range(k):
            w = int(widths[j])
            out.append(np.bincount(np.searchsorted(bounds[j, :w], values[j], side="left"), minlength=w + 1))
        return out
    for j in range(k):
        w = int(widths[j])
        col = values[j]
        cumulative = np.empty(w + 2, dtype=np.int64)
        cumulative[0] = 0
        for i, b in enumerate(bounds[j, :w].tolist()):
            cumulative[i + 1] = np.count_nonzero(col <= b)
        cumulative[-1] = n
        out.append(np.diff(cumulative))
    return out


# --------------------------------------------------------------------------------------
# prediction durations

#: Duration series (model, version, error type) kept; later ones share the overflow series
#: (the OpenTelemetry SDK's default cardinality limit).
MAX_DURATION_SERIES = 2000
_DURATION_OVERFLOW = (None, None, None)


class _DurationSeries:
    __slots__ = ("start", "count", "sum", "min", "max", "counts")

    def __init__(self, start: int) -> None:
        self.start = start
        self.count = 0
        self.sum = 0.0
        self.min = math.inf
        self.max = -math.inf
        self.counts = [0] * (len(DURATION_BUCKETS) + 1)


class Durations:
    """``ml.prediction.duration`` aggregated in the store: one bucket search and a few adds
    under a lock per call (the OpenTelemetry SDK's ``Histogram.record`` costs about as much
    as half a bare span). Cumulative per series, as the SDK's default temporality."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._series: dict[tuple[Any, Any, Any], _DurationSeries] = {}

    def record(self, model: str, version: str, error_type: str | None, seconds: float) -> None:
        key = (model, version, error_type)
        bucket = bisect_left(DURATION_BUCKETS, seconds)
        with self._lock:
            series = self._series.get(key)
            if series is None:
                series = self._new_series(key)
            series.count += 1
            series.sum += seconds
            if seconds < series.min:
                series.min = seconds
            if seconds > series.max:
                series.max = seconds
            series.counts[bucket] += 1

    def _new_series(self, key: tuple[Any, Any, Any]) -> _DurationSeries:
        if len(self._series) >= MAX_DURATION_SERIES:
            key = _DURATION_OVERFLOW
            series = self._series.get(key)
            if series is not None:
                return series
        series = self._series[key] = _DurationSeries(time.time_ns())
        return series

    def points(self, least: int, reset: bool = False) -> list[DurationPoint]:
        """One point per series; ``reset``: the calls since the previous reset (delta)."""
        with self._lock:
            items = list(self._series.items())
            if reset:
                self._series = {}
            out = []
            for (model, version, error_type), s in items:
                shown = s.count >= least  # privacy: no sum, min or max of a few calls
                out.append(DurationPoint(
                    model, version, error_type, s.start, tuple(s.counts), s.count,
                    s.sum if shown else math.nan, s.min if shown else math.nan, s.max if shown else math.nan,
                ))
        return out

    def clear(self) -> None:
        self._lock = threading.Lock()
        self._series = {}


# --------------------------------------------------------------------------------------
# the store


class _Stream:
    """Everything recorded for one (model, version, role)."""

    __slots__ = ("key", "exp", "explicit", "cats", "missing", "overflow", "rows", "known", "labels", "config",
                 "touched", "last_seen", "dead")

    def __init__(self, key: tuple[str, str, str]) -> None:
        self.key = key
        #: Recorded into since the previous collect; the time of the last collect that saw it
        #: touched; removed from the store (a record that still holds it takes the new one).
        self.touched = True
        self.last_seen = time.monotonic()
        self.dead = False
        self.exp: dict[str, _Exp] = {}
        # keyed by (feature, baseline id): a baseline change mid-interval keeps both apart
        self.explicit: dict[tuple[str, str], _Explicit] = {}
        self.cats: dict[tuple[str, str | None], dict[str, int]] = {}
        self.missing: dict[str, int] = {}
        self.overflow: dict[str, int] = {}
        #: buffered single records: (numeric names, values, null idx, categorical)
        self.rows: list[tuple[tuple[str, ...], list[float], tuple[int, ...], dict[str, str | None]]] = []
        # sticky state (survives collect): features tracked, raw label -> exported label
        self.known: set[str] = set()
        self.labels: dict[str, dict[str, str]] = {}
        self.config: Any = None

    def least(self) -> int:
        """Values a point must cover for its sum to be sent (``min_aggregate_count``)."""
        return int(self.config.min_aggregate_count) if self.config is not None else 10

    def take_delta(self) -> tuple[Any, ...]:
        out = (self.exp, self.explicit, self.cats, self.missing, self.overflow)
        self.exp, self.explicit, self.cats, self.missing, self.overflow = {}, {}, {}, {}, {}
        return out


class _Batch:
    """A batch's contributions, computed without the lock."""

    __slots__ = ("names", "exp", "explicit", "cats", "missing", "overflow", "config")

    def __init__(self, config: Any) -> None:
        self.names: list[str] = []
        self.exp: dict[str, _ExpPart] = {}
        self.explicit: dict[tuple[str, str], tuple[np.ndarray, np.ndarray, int, float, float, float]] = {}
        self.cats: dict[str, tuple[str | None, _FeatureRef | None, dict[str, int]]] = {}
        self.missing: dict[str, int] = {}
        self.overflow: dict[str, int] = {}
        self.config = config


_STORES: "weakref.WeakSet[SketchStore]" = weakref.WeakSet()


class SketchStore:
    """Thread-safe per-feature distributions for every monitored model; see the module doc."""

    def __init__(self, stream_ttl: float | None = None) -> None:
        self._lock = threading.Lock()
        #: Seconds without a record after which a stream's slot is freed (at a collect);
        #: None: the stream's ``MODELTEL_STREAM_TTL``.
        self.stream_ttl = stream_ttl
        #: Streams removed after ``stream_ttl`` without a record.
        self.expired_streams = 0
        self._streams: dict[tuple[str, str, str], _Stream] = {}
        self._baselines: dict[tuple[str, str], _BaselineView] = {}
        # The model's own output labels (a classifier's classes_): not user data, sent in clear.
        self._vocabularies: dict[tuple[str, str], frozenset[str]] = {}
        self._dropped_streams = 0
        self._last_collect = time.time_ns()
        #: ``ml.prediction.duration`` (see :meth:`record_duration`).
        self.durations = Durations()
        #: True once something exports this store (a :class:`~modeltel._export.SketchExporter`,
        #: ``modeltel.testing.capture``): predictions then record their duration here, else
        #: through the OpenTelemetry metrics API (nobody would export it from here).
        self.exports_durations = False
        _STORES.add(self)

    def record_duration(self, model: str, version: str, error_type: str | None, seconds: float) -> None:
        """One prediction's duration (``error_type``: the failed call's ``error.type``)."""
        self.durations.record(model, version, error_type, seconds)

    # -- recording ---------------------------------------------------------------------

    def record(self, model: str, version: str, role: str, summary: Any) -> None:
        """Add one summary (input or output of one prediction) to the distributions.

        A single record is buffered (cheap); a batch is binned here, outside the lock.
        """
        cols = summary.columns
        key = (model, version, role)
        stream = self._streams.get(key)
        if stream is None:
            stream = self._new_stream(key)
            if stream is None:
                return
        config = summary.config
        stream.config = config
        if isinstance(cols, Record):
            rows = None
            with self._lock:
                if stream.dead:  # expired since the lookup: the stream that replaced it
                    stream = self._alive(stream)
                    if stream is None:
                        return
                stream.touched = True
                stream.config = config
                stream.rows.append((cols.numeric_names, cols.numeric, cols.numeric_null_idx, cols.categorical))
                if cols.overflow or cols.skipped or cols.truncated:
                    self._count_caps(stream, cols.overflow, cols.skipped, cols.truncated)
                buffered = len(stream.rows)
                if buffered >= ROW_BUFFER or buffered * (len(cols.numeric) + 1) >= ROW_BUFFER_VALUES:
                    rows, stream.rows = stream.rows, []
            if rows is not None:
                self._flush_rows(key, stream, rows)
            return
        batch = self._bin(key, stream, cols, summary.stats(), config)
        with self._lock:
            stream = self._alive(stream)
            if stream is None:
                return
            stream.config = config
            self._merge(stream, batch)
            truncated = sum(cc.truncated for cc in cols.categorical.values())
            if cols.overflow or cols.skipped or truncated:
                self._count_caps(stream, cols.overflow, cols.skipped, truncated)

    def _new_stream(self, key: tuple[str, str, str]) -> _Stream | None:
        with self._lock:
            return self._stream_locked(key)

    def _stream_locked(self, key: tuple[str, str, str]) -> _Stream | None:
        stream = self._streams.get(key)
        if stream is None:
            if len(self._streams) >= MAX_STREAMS:
                self._dropped_streams += 1
                return None
            stream = self._streams[key] = _Stream(key)
        return stream

    def _alive(self, stream: _Stream) -> _Stream | None:
        """Under the lock: ``stream``, marked as used, or the one that replaced it after it
        expired between the caller's lookup and the lock (None: the stream cap is hit)."""
        if stream.dead:
            replacement = self._stream_locked(stream.key)
            if replacement is None:
                return None
            replacement.config = stream.config
            stream = replacement
        stream.touched = True
        return stream

    @staticmethod
    def _count_caps(stream: _Stream, overflow: int, skipped: int, truncated: int) -> None:
        for kind, n in (("feature", overflow), ("column", skipped), ("string", truncated)):
            if n:
                stream.overflow[kind] = stream.overflow.get(kind, 0) + n

    def _refs(self, key: tuple[str, str, str]) -> tuple[str | None, dict[str, _FeatureRef]]:
        view = self._baselines.get((key[0], key[1]))
        if view is None:
            return None, {}
        return view.id, view.features.get(key[2], {})

    def _bin(self, key: tuple[str, str, str], stream: _Stream, cols: Columns, st: Any, config: Any) -> _Batch:
        batch = _Batch(config)
        bid, refs = self._refs(key)
        m = cols.numeric
        names = cols.numeric_names
        max_size = max(2, int(config.max_histogram_buckets))
        # missing = None/NaN (inf is neither a value nor missing)
        missing = np.asarray(st.nulls) + np.asarray(st.nan)
        exp_cols = [j for j, name in enumerate(names) if name not in refs]
        if exp_cols:
            idx = np.arange(len(names)) if len(exp_cols) == len(names) else np.asarray(exp_cols)
            sub = m if len(exp_cols) == len(names) else m[:, idx]
            parts = _exp_parts(
                sub,
                np.asarray(st.count)[idx], np.asarray(st.sum)[idx], np.asarray(st.min)[idx], np.asarray(st.max)[idx],
                bool(st.all_finite), max_size,
            )
            for j, part in zip(exp_cols, parts):
                if part is not None:
                    batch.exp[names[j]] = part
        explicit = [j for j, name in enumerate(names) if (ref := refs.get(name)) is not None and ref.kind == "numeric"]
        explicit_counts = _explicit_columns(m, explicit, [refs[names[j]].bounds for j in explicit], bool(st.all_finite))
        for j, name in enumerate(names):
            ref = refs.get(name)
            if ref is not None and ref.kind == "categorical":
                # a numeric column the baseline treats as categories (Baseline.from_data(...,
                # categorical=[...])): its distinct values become labels, 3.0 -> "3"
                batch.cats[name] = (bid, ref, _numeric_labels(m[:, j]))
            elif ref is not None and ref.kind == "numeric":
                assert ref.bounds is not None
                counts = explicit_counts[j]
                batch.explicit[(name, bid or "")] = (ref.bounds, counts, int(st.count[j]), float(st.sum[j]), float(st.min[j]), float(st.max[j]))
            if missing[j]:
                batch.missing[name] = int(missing[j])
        for name, cc in cols.categorical.items():
            ref = refs.get(name)
            if ref is not None and ref.kind == "categorical":
                batch.cats[name] = (bid, ref, cc.counts)
            else:
                batch.cats[name] = (None, None, cc.counts)
            if cc.nulls:
                batch.missing[name] = batch.missing.get(name, 0) + cc.nulls
        batch.names = list(cols.names)
        if key[2] == "input":
            view = self._baselines.get((key[0], key[1]))
            if view is not None and view.projection is not None:
                self._bin_projections(batch, view, cols)
        return batch

    @staticmethod
    def _bin_projections(batch: _Batch, view: _BaselineView, cols: Columns) -> None:
        """Project every row on the baseline's directions (docs/drift-math.md section 8) and
        bin each projection on its reference edges like a numeric input feature. Rows with a
        null or an infinity in a projected column are skipped and counted as its missing."""
        proj = view.projection
        assert view.bounds is not None and view.widths is not None
        projected = proj.project_columns(cols.numeric_names, cols.numeric)
        if projected is None:  # a projected column is absent: nothing to project
            values, skipped = np.empty((len(proj.names), 0)), cols.rows
        else:
            values, skipped = projected
        counts = _projection_counts(values, view.bounds, view.widths)
        n = values.shape[1]
        sums = values.sum(axis=1)
        lows = values.min(axis=1) if n else np.full(len(proj.names), math.inf)
        highs = values.max(axis=1) if n else np.full(len(proj.names), -math.inf)
        for k, name in enumerate(proj.names):
            batch.explicit[(name, view.id)] = (view.bounds[k, : view.widths[k]], counts[k], n, float(sums[k]), float(lows[k]), float(highs[k]))
            if skipped:
                batch.missing[name] = skipped
        batch.names.extend(proj.names)

    def _merge(self, stream: _Stream, batch: _Batch) -> None:
        """Under the lock: add a batch's small per-feature arrays to the stream."""
        config = batch.config
        max_size = max(2, int(config.max_histogram_buckets))
        admitted = self._admit(stream, batch.names, config.max_features)
        for name, part in batch.exp.items():
            if name not in admitted:
                continue
            acc = stream.exp.get(name)
            if acc is None:
                acc = stream.exp[name] = _Exp()
            acc.merge(part, max_size)
        for ekey, (bounds, counts, n, s, mn, mx) in batch.explicit.items():
            if ekey[0] not in admitted:
                continue
            ex = stream.explicit.get(ekey)
            if ex is None or ex.bounds.shape != bounds.shape:
                ex = stream.explicit[ekey] = _Explicit(bounds)
            ex.counts += counts
            ex.count += n
            if n:
                ex.sum += s
                ex.min = min(ex.min, mn)
                ex.max = max(ex.max, mx)
        for name, n in batch.missing.items():
            if name in admitted:
                stream.missing[name] = stream.missing.get(name, 0) + n
        for name, (bid, ref, labels) in batch.cats.items():
            if name not in admitted:
                continue
            if ref is not None:
                # with a baseline: its categories in clear, every other label in its tail
                # bucket (or __other__ when the baseline has none this process can fill)
                cell = stream.cats.setdefault((name, bid), {})
                tail = ref.tail if ref.tail and tail_key_id(config.hash_key) == ref.tail_key else 0
                for label, seen in labels.items():
                    if label in ref.categories:
                        out = label
                    else:
                        out = tail_label(label, config.hash_key, tail) if tail else OTHER
                    cell[out] = cell.get(out, 0) + seen
            else:
                self._merge_labels(stream, name, labels, config)

    @staticmethod
    def _admit(stream: _Stream, names: list[str], max_features: int) -> set[str]:
        known = stream.known
        if known.issuperset(names):
            return known
        for name in names:
            if name not in known:
                if len(known) < max_features:
                    known.add(name)
                else:
                    stream.overflow["feature"] = stream.overflow.get("feature", 0) + 1
        return known

    def _merge_labels(self, stream: _Stream, name: str, counts: dict[str, int], config: Any) -> None:
        mapping = stream.labels.get(name)
        if mapping is None:
            mapping = stream.labels[name] = {}
        acc = stream.cats.get((name, None))
        if acc is None:
            acc = stream.cats[(name, None)] = {}
        for label, n in counts.items():
            out = mapping.get(label)
            if out is None:
                out = self._label_for(stream, name, label, mapping, config)
            acc[out] = acc.get(out, 0) + n

    def _label_for(self, stream: _Stream, name: str, label: str, mapping: dict[str, str], config: Any) -> str:
        """The label a raw label is exported as (no baseline); remembered, bounded, per feature."""
        role = stream.key[2]
        if len(mapping) >= config.max_categories:
            # not remembered (the cap holds): its hashed tail bucket keeps its mass visible
            return tail_label(label, config.hash_key, TAIL_BUCKETS)
        vocabulary = self._vocabularies.get((stream.key[0], stream.key[1]), frozenset()) if role == "output" else ()
        if config.hash_categories and not label_is_clear(label, role) and label not in vocabulary:
            out = hash_label(label, config.hash_key)
        else:
            out = label
        mapping[label] = out
        return out

    def _flush_rows(self, key: tuple[str, str, str], stream: _Stream, rows: list[Any]) -> None:
        """Bin buffered single records as batches (grouped by their numeric layout)."""
        config = stream.config
        groups: dict[tuple[str, ...], list[Any]] = {}
        layout = rows[0][0]
        if all(r[0] == layout for r in rows):  # the usual case: one model, one layout
            groups[layout] = rows
        else:
            for r in rows:
                groups.setdefault(r[0], []).append(r)
        for num_names, group in groups.items():
            n = len(group)
            if num_names:
                m = np.array([r[1] for r in group], dtype=np.float64).reshape(n, len(num_names))
            else:
                m = np.empty((n, 0), dtype=np.float64)
            nulls = np.zeros(len(num_names), dtype=np.int64)
            cat_names: dict[str, None] = {}
            for r in group:
                if r[2]:  # most records have no nulls and no categorical values
                    for i in r[2]:
                        nulls[i] += 1
                if r[3]:
                    for c in r[3]:
                        cat_names.setdefault(c, None)
            cats = {}
            for c in cat_names:
                counts: dict[str, int] = {}
                nulls_c = 0
                for r in group:
                    if c in r[3]:
                        v = r[3][c]
                        if v is None:
                            nulls_c += 1
                        else:
                            counts[v] = counts.get(v, 0) + 1
                cats[c] = CategoryCounts(counts, nulls_c)
            names = list(num_names) + [c for c in cat_names if c not in num_names]
            cols = Columns(n, "records", tuple(names), num_names, m, nulls if nulls.any() else None, cats)
            st = _batch_stats(m, cols.numeric_nulls)
            batch = self._bin(key, stream, cols, st, config)
            with self._lock:
                live = self._alive(stream)
                if live is None:
                    continue
                self._merge(live, batch)

    # -- baselines ---------------------------------------------------------------------

    def set_baseline(self, model: str, version: str, baseline: Any, secret: str | None = None, least: int = 10) -> None:
        """From now on bin this model's features on the baseline's edges and categories,
        and export the baseline in-band (``None`` removes it). ``secret`` is the
        ``MODELTEL_HASH_KEY`` production labels are hashed with (its tail buckets), ``least``
        the ``MODELTEL_MIN_AGGREGATE_COUNT`` its sums need."""
        view = None if baseline is None else _baseline_view(model, version, baseline, secret, least)
        with self._lock:
            if view is None:
                self._baselines.pop((model, version), None)
            else:
                self._baselines[(model, version)] = view

    def set_vocabulary(self, model: str, version: str, labels: frozenset[str]) -> None:
        """The model's own output labels (its classes), exported in clear as output
        categories; every other string label stays hashed."""
        with self._lock:
            self._vocabularies[(model, version)] = labels

    # -- collecting --------------------------------------------------------------------

    def flush(self) -> None:
        """Bin every buffered single record now."""
        with self._lock:
            pending = [(k, s, s.rows) for k, s in self._streams.items() if s.rows]
            for _, s, _ in pending:
                s.rows = []
        for key, stream, rows in pending:
            self._flush_rows(key, stream, rows)

    def collect(self, durations_delta: bool = False) -> Snapshot:
        """Everything recorded since the previous collect, the in-band baselines, and the
        prediction durations (cumulative; ``durations_delta``: since the previous collect)."""
        self.flush()
        now = time.time_ns()
        with self._lock:
            start, self._last_collect = self._last_collect, now
            deltas = [(k, (*s.take_delta(), s.least())) for k, s in self._streams.items()]
            self._expire_locked()
            views = list(self._baselines.values())
            dropped, self._dropped_streams = self._dropped_streams, 0
        snap = Snapshot(
            start_time_unix_nano=start, time_unix_nano=now, durations_delta=durations_delta,
            durations=self.durations.points(default_config().min_aggregate_count, reset=durations_delta),
        )
        for (model, version, role), (exp, explicit, cats, missing, overflow, least) in deltas:
            for name, acc in exp.items():
                if acc.count:
                    snap.exponential.append(acc.point(model, version, role, name, least))
            for (name, bid), ex in explicit.items():
                if ex.count or ex.counts.any():
                    # privacy: min/max never leave, a sum only over ``least`` values or more
                    snap.explicit.append(
                        HistogramPoint(
                            model, version, role, name, bid,
                            bounds=tuple(ex.bounds.tolist()), counts=tuple(ex.counts.tolist()),
                            count=ex.count, sum=ex.sum if ex.count >= least else math.nan,
                            min=math.nan, max=math.nan,
                        )
                    )
            for (name, bid), counts in cats.items():
                for label, n in counts.items():
                    snap.categories.append(CountPoint(model, version, role, name, n, label, bid))
            for name, n in missing.items():
                snap.missing.append(CountPoint(model, version, role, name, n))
            for kind, n in overflow.items():
                snap.overflow.append(OverflowPoint(model, version, role, kind, n))
        if dropped:
            snap.overflow.append(OverflowPoint("", "", "", "stream", dropped))
        for view in views:
            snap.baseline_histograms.extend(view.histograms)
            snap.baseline_categories.extend(view.categories)
            snap.baseline_missing.extend(view.missing)
        return snap

    def snapshot_durations(self) -> Snapshot:
        """The prediction durations alone (cumulative), the distributions left uncollected."""
        return Snapshot(
            start_time_unix_nano=self._last_collect, time_unix_nano=time.time_ns(),
            durations=self.durations.points(default_config().min_aggregate_count),
        )

    def _expire_locked(self) -> None:
        """Free the slots of streams nothing was recorded into for ``stream_ttl`` seconds, so
        that after a spike of model names new models get distributions again."""
        now = time.monotonic()
        for key, stream in list(self._streams.items()):
            if stream.touched or stream.rows:
                stream.touched = False
                stream.last_seen = now
            elif now - stream.last_seen > self._ttl(stream):
                stream.dead = True
                del self._streams[key]
                self.expired_streams += 1

    def _ttl(self, stream: _Stream) -> float:
        if self.stream_ttl is not None:
            return self.stream_ttl
        return float(getattr(stream.config, "stream_ttl", STREAM_TTL))

    # -- fork --------------------------------------------------------------------------

    def _after_fork_in_child(self) -> None:
        # A forked child starts empty: the parent exports what it recorded. Baselines are
        # configuration (set at import time in a pre-fork server) and are kept.
        self._lock = threading.Lock()
        self._streams = {}
        self._dropped_streams = 0
        self._last_collect = time.time_ns()
        self.durations.clear()


def _reset_stores_in_child() -> None:
    for store in list(_STORES):
        store._after_fork_in_child()


_registry.register("sketch.stores", fork=_reset_stores_in_child)

#: The process-global store every monitored prediction records into.
STORE = SketchStore()
