"""Multivariate drift from sketches: rows projected on directions learnt from the training data.

Only histograms leave the process, so a change in how features move *together* (a correlation
that breaks while every margin stays the same) is invisible to per-feature tests. A baseline
therefore learns a small set of linear projections of the standardised numeric inputs
(docs/drift-math.md section 8): the principal components of their correlation matrix and, per
pair of features, the pair's minor axis. The SDK projects every row of a prediction's input and
records each projection as an input feature with a reserved name (``__projection_<i>__``),
binned on the baseline's edges like any feature; the collector and ``drift_report`` score them
with the same rules and report a model-level ``multivariate`` verdict.

The directions are fitted on one random half of the sampled training rows and the reference
histograms are built from the other half: a direction fitted on the same rows it is measured on
has a biased-low variance (the smallest sample eigenvalue), which would read as drift on fresh
data from the same population.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from modeltel._drift import is_projection
from modeltel._semconv import PROJECTION_FEATURE_PREFIX

__all__ = [
    "MAX_PROJECTED_COLUMNS",
    "MAX_PROJECTIONS",
    "PROJECTION_ROWS",
    "Projection",
    "QUANTILES",
    "RowSample",
    "fit",
    "is_projection",
    "projection_name",
]

#: Rows of the training data kept (uniform sample) to fit the directions and the reference.
PROJECTION_ROWS = 20_000
#: Numeric input columns projected (the first ones in input order).
MAX_PROJECTED_COLUMNS = 32
#: Projections per baseline: principal components first, then pairwise minor axes.
MAX_PROJECTIONS = 32
#: Principal components kept at each end of the spectrum when there are more than 2x this many.
PC_EACH_END = 4
#: A column is projected only if at least this share of the sampled rows has a finite value.
MIN_FINITE_SHARE = 0.5
#: The projections' reference edges: deciles plus tails (15 edges, 16 buckets). Coarser than a
#: feature's 23 edges: every row pays for every projection's edges, and a change of spread or
#: shape (what a projection shows) needs no finer cells once the chi-squared test merges them.
QUANTILES: tuple[float, ...] = (0.001, 0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 0.999)


def projection_name(i: int) -> str:
    """The reserved feature name of projection ``i``: ``__projection_<i>__``."""
    return f"{PROJECTION_FEATURE_PREFIX}{i}__"


@dataclass
class Projection:
    """The learnt projection: ``value_k = sum_j directions[k][j] * (x_j - mean_j) / scale_j``.

    ``kinds[k]`` is ``pc`` (a principal component of the correlation matrix, by eigenvalue
    ascending: the lowest-variance ones catch correlation breaks) or ``pair`` (the minor axis
    ``(e_a - sign(r_ab) e_b) / sqrt 2`` of one pair of columns). The reference histograms are
    ordinary numeric FeatureBaselines named ``projection_name(k)``; a row with a null or an
    infinity in any projected column is skipped and counted as missing for every projection.
    """

    columns: list[str]
    mean: list[float]
    scale: list[float]
    directions: list[list[float]]
    kinds: list[str]
    #: Rows the directions were fitted on, and rows the reference histograms were built from.
    fit_rows: int = 0
    reference_rows: int = 0
    features: dict[str, Any] = field(default_factory=dict)  # name -> FeatureBaseline

    def __post_init__(self) -> None:
        d = np.asarray(self.directions, dtype=np.float64).reshape(len(self.directions), len(self.columns))
        scale = np.asarray(self.scale, dtype=np.float64)
        #: value = x @ weights.T - offset: the standardisation folded into the directions.
        self.weights = d / scale[None, :]
        self.offset = self.weights @ np.asarray(self.mean, dtype=np.float64)
        self._names = tuple(projection_name(k) for k in range(len(self.directions)))

    @property
    def names(self) -> tuple[str, ...]:
        return self._names

    def project(self, matrix: np.ndarray) -> tuple[np.ndarray, int]:
        """Project the rows of ``matrix`` (rows x len(columns), float64, NaN = null).

        Returns (values: complete rows x projections, skipped rows).
        """
        values, skipped = self.project_t(matrix)
        return values.T, skipped

    def project_t(self, matrix: np.ndarray) -> tuple[np.ndarray, int]:
        """As :meth:`project`, the values as projections x rows (C-contiguous: one row per
        projection, the layout its binning reads)."""
        ok = np.isfinite(matrix).all(axis=1)
        skipped = int(matrix.shape[0] - np.count_nonzero(ok))
        if skipped:
            matrix = matrix[ok]
        values = self.weights @ matrix.T
        values -= self.offset[:, None]
        return values, skipped

    def project_columns(self, names: Sequence[str], matrix: np.ndarray) -> tuple[np.ndarray, int] | None:
        """Project a batch whose numeric columns are ``names`` (values as projections x rows,
        as :meth:`project_t`); None when a column is absent (every row is then skipped: the
        caller counts them)."""
        index = {n: j for j, n in enumerate(names)}
        try:
            cols = [index[c] for c in self.columns]
        except KeyError:
            return None
        if cols == list(range(len(cols))) and matrix.shape[1] == len(cols):
            sub = matrix
        else:
            sub = matrix[:, cols]
        return self.project_t(np.asarray(sub, dtype=np.float64))

    def to_dict(self) -> dict[str, Any]:
        return {
            "columns": list(self.columns),
            "mean": [float(x) for x in self.mean],
            "scale": [float(x) for x in self.scale],
            "directions": [[float(x) for x in row] for row in self.directions],
            "kinds": list(self.kinds),
            "fit_rows": self.fit_rows,
            "reference_rows": self.reference_rows,
            "features": [fb.to_dict() for fb in self.features.values()],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], where: str, feature_from_dict: Any) -> Projection:
        columns = [str(c) for c in d["columns"]]
        directions = [[float(x) for x in row] for row in d["directions"]]
        mean = [float(x) for x in d["mean"]]
        scale = [float(x) for x in d["scale"]]
        kinds = [str(k) for k in d["kinds"]]
        k = len(directions)
        if len(mean) != len(columns) or len(scale) != len(columns) or len(kinds) != k:
            raise ValueError(f"{where}: columns, mean, scale, directions and kinds disagree in length")
        if any(len(row) != len(columns) for row in directions) or not all(s > 0 and math.isfinite(s) for s in scale):
            raise ValueError(f"{where}: every direction needs one weight per column, every scale > 0")
        features = {}
        for i, item in enumerate(d["features"]):
            fb = feature_from_dict(item, f"{where}.features[{i}]")
            features[fb.name] = fb
        if list(features) != [projection_name(i) for i in range(k)]:
            raise ValueError(f"{where}: one reference histogram per direction, named __projection_<i>__ in order")
        return cls(columns, mean, scale, directions, kinds, int(d.get("fit_rows", 0)), int(d.get("reference_rows", 0)), features)


class RowSample:
    """A uniform sample (bottom-k random keys) of whole rows of the numeric input columns."""

    def __init__(self, size: int, rng: np.random.Generator) -> None:
        self.size = size
        self.rng = rng
        self.columns: list[str] | None = None
        self.rows = np.empty((0, 0))
        self.keys = np.empty(0)

    def add(self, numeric: Mapping[str, np.ndarray], n: int) -> None:
        if n == 0:
            return
        if self.columns is None:
            self.columns = list(numeric)[:MAX_PROJECTED_COLUMNS]
            self.rows = np.empty((0, len(self.columns)))
        if not self.columns:
            return
        block = np.full((n, len(self.columns)), np.nan)
        for j, name in enumerate(self.columns):
            col = numeric.get(name)
            if col is not None and col.shape == (n,):
                block[:, j] = col
        self.rows, self.keys = keep_sample(self.rows, self.keys, block, self.rng, self.size)


def keep_sample(
    kept: np.ndarray, keys: np.ndarray, new: np.ndarray, rng: np.random.Generator, size: int
) -> tuple[np.ndarray, np.ndarray]:
    """A uniform sample of at most ``size`` rows of everything seen: each row (of ``kept`` and
    then ``new``, along the first axis) keeps a random key, the smallest ``size`` keys stay."""
    rows = np.concatenate((kept, new))
    keys = np.concatenate((keys, rng.random(len(new))))
    if keys.size > size:
        keep = np.argpartition(keys, size)[:size]
        rows, keys = rows[keep], keys[keep]
    return rows, keys


def fit(sample: RowSample, rng: np.random.Generator, max_projections: int = MAX_PROJECTIONS) -> tuple[Projection, np.ndarray] | None:
    """Fit the directions on a random half of the sample (docs/drift-math.md 8.1).

    Returns the projection (without reference histograms) and the other half's rows (all
    columns, NaN kept: the caller projects them and counts the skipped ones), or None when
    fewer than two columns or too few complete rows make a projection meaningless.
    """
    if not sample.columns or max_projections <= 0:
        return None
    rows = sample.rows[np.argsort(sample.keys, kind="stable")]  # a deterministic order
    finite = np.isfinite(rows)
    usable = [j for j in range(rows.shape[1]) if finite[:, j].mean() >= MIN_FINITE_SHARE]
    if len(usable) < 2:
        return None
    rows = rows[:, usable]
    order = rng.permutation(rows.shape[0])
    half = rows.shape[0] // 2
    fit_rows, ref_rows = rows[order[:half]], rows[order[half:]]
    complete = fit_rows[np.isfinite(fit_rows).all(axis=1)]
    with np.errstate(over="ignore", invalid="ignore"):
        mean = complete.mean(axis=0) if complete.shape[0] else np.zeros(len(usable))
        scale = complete.std(axis=0) if complete.shape[0] else np.zeros(len(usable))
    keep = np.isfinite(mean) & np.isfinite(scale) & (scale > 0)
    if keep.sum() < 2 or complete.shape[0] < 4:
        return None
    columns = [sample.columns[usable[j]] for j in np.flatnonzero(keep)]
    mean, scale = mean[keep], scale[keep]
    z = (complete[:, keep] - mean) / scale
    ref_rows = ref_rows[:, keep]
    d = len(columns)
    corr = np.clip((z.T @ z) / z.shape[0], -1.0, 1.0)
    np.fill_diagonal(corr, 1.0)
    directions: list[np.ndarray] = []
    kinds: list[str] = []
    # Principal components, eigenvalue ascending: the low-variance end first (correlation
    # breaks of existing structure show there), then the high-variance end.
    _, vecs = np.linalg.eigh(corr)
    pcs = list(range(d)) if d <= 2 * PC_EACH_END else list(range(PC_EACH_END)) + list(range(d - PC_EACH_END, d))
    for i in pcs:
        v = vecs[:, i]
        v = v if v[np.argmax(np.abs(v))] > 0 else -v  # a sign convention: the same data, the same file
        directions.append(v)
        kinds.append("pc")
    # Pairwise minor axes: a correlation appearing between two features that were independent
    # in training is spread over every component when there is no structure to align with.
    pairs = [(a, b) for a in range(d) for b in range(a + 1, d)] if d > 2 else []
    pairs.sort(key=lambda ab: (-abs(corr[ab]), ab))  # strongest training correlations first
    for a, b in pairs:
        if len(directions) >= max_projections:
            break
        v = np.zeros(d)
        v[a] = 1.0 / math.sqrt(2.0)
        v[b] = -math.copysign(1.0, corr[a, b]) / math.sqrt(2.0) if corr[a, b] != 0 else -1.0 / math.sqrt(2.0)
        directions.append(v)
        kinds.append("pair")
    directions, kinds = directions[:max_projections], kinds[:max_projections]
    proj = Projection(
        columns=columns,
        mean=[float(x) for x in mean],
        scale=[float(x) for x in scale],
        directions=[[float(x) for x in v] for v in directions],
        kinds=kinds,
        fit_rows=int(complete.shape[0]),
        reference_rows=int(ref_rows.shape[0]),
    )
    return proj, ref_rows
