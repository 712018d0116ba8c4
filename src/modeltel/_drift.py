"""Drift math over histograms (never raw rows).

This module is the Python half of a contract: the ``mldrift`` collector processor (Go)
implements the same formulas, and both are checked against the JSON vectors under
``tests/vectors/drift/``. The specification is docs/drift-math.md; section numbers in the
comments below refer to it. numpy only: the special functions (the Kolmogorov
distribution, the regularized incomplete gamma, the chi-squared quantile) are implemented
here so that the runtime needs no scipy.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike

from modeltel._semconv import PROJECTION_FEATURE_PREFIX

__all__ = [
    "DatasetDrift",
    "DriftConfig",
    "FeatureDrift",
    "Histogram",
    "RuleTest",
    "benjamini_hochberg",
    "calibrated_tests",
    "chi2_isf",
    "chi2_pvalue",
    "chi2_two_sample",
    "cohen_h",
    "collapse",
    "effect_floor",
    "evaluate",
    "gammaincc",
    "holm",
    "jensen_shannon",
    "js_critical",
    "kolmogorov_sf",
    "ks_pvalue",
    "ks_statistic",
    "is_projection",
    "linf",
    "max_cohen_h",
    "multivariate_verdict",
    "outside_pvalue",
    "psi",
    "psi_critical",
    "rank_sum_pvalue",
    "rate_pvalue",
    "reference_mean_std",
    "score_feature",
    "supports",
    "wasserstein",
    "wasserstein_normalized",
]

EPSILON = 1e-4
Verdict = Literal["drift", "no_drift", "insufficient_data"]


# --------------------------------------------------------------------------- histograms


@dataclass(frozen=True)
class Histogram:
    """One feature's distribution: explicit buckets (numeric) or category counts.

    Numeric: ``bounds`` b[0..k-1], ``counts`` of length k+1, bucket i = (b[i-1], b[i]]
    (OTLP explicit-bucket semantics). Categorical: ``categories`` and ``counts`` of
    length len(categories)+1, ``__other__`` last; the last ``tail`` categories before it are
    hashed tail buckets (``__tail_<j>__``: labels beyond the top categories).
    """

    kind: Literal["numeric", "categorical"]
    counts: np.ndarray
    bounds: np.ndarray = field(default_factory=lambda: np.empty(0))
    categories: tuple[str, ...] = ()
    min: float | None = None
    max: float | None = None
    #: Null/NaN values seen beside the counts (not in any bucket); the null-rate test uses them.
    nulls: float = 0.0
    #: Numeric production: values strictly below the reference's min or above its max (the
    #: SDK's out_of_range count); None when unknown. The out_of_range rule uses it (5.2).
    outside: float | None = None
    #: Categorical: how many cells before ``__other__`` are tail buckets (5.2: the unseen rate
    #: counts them with ``__other__``).
    tail: int = 0

    @classmethod
    def numeric(
        cls,
        bounds: ArrayLike,
        counts: ArrayLike,
        min: float | None = None,  # noqa: A002 - mirrors the OTLP field names
        max: float | None = None,  # noqa: A002
        *,
        nulls: float = 0.0,
        outside: float | None = None,
    ) -> Histogram:
        b = np.asarray(bounds, dtype=np.float64)
        c = np.asarray(counts, dtype=np.float64)
        if c.shape != (b.size + 1,):
            raise ValueError(f"{b.size} bounds need {b.size + 1} counts, got {c.size}")
        return cls("numeric", c, b, (), min, max, float(nulls), None if outside is None else float(outside))

    @classmethod
    def categorical(
        cls, categories: Sequence[str], counts: ArrayLike, *, nulls: float = 0.0, tail: int = 0
    ) -> Histogram:
        c = np.asarray(counts, dtype=np.float64)
        if c.shape != (len(categories) + 1,):
            raise ValueError(
                f"{len(categories)} categories need {len(categories) + 1} counts "
                f"(the last is __other__), got {c.size}"
            )
        if not 0 <= tail <= len(categories):
            raise ValueError(f"tail must be in [0, {len(categories)}], not {tail}")
        return cls("categorical", c, np.empty(0), tuple(categories), None, None, float(nulls), None, int(tail))

    @property
    def total(self) -> float:
        return float(self.counts.sum())


def _proportions(counts: np.ndarray) -> np.ndarray:
    counts = np.asarray(counts, dtype=np.float64)
    return counts / counts.sum()


# --------------------------------------------------------------------------- 2.1 / 3 PSI


def psi(reference: ArrayLike, production: ArrayLike, epsilon: float = EPSILON) -> float:
    """Population stability index; every proportion floored at ``epsilon`` (2.1)."""
    r = np.maximum(_proportions(np.asarray(reference)), epsilon)
    p = np.maximum(_proportions(np.asarray(production)), epsilon)
    return float(np.sum((p - r) * np.log(p / r)))


# --------------------------------------------------------------------------- 2.6 JS


def jensen_shannon(reference: ArrayLike, production: ArrayLike) -> float:
    """Jensen-Shannon distance, base 2, no epsilon (2.6)."""
    r = _proportions(np.asarray(reference))
    p = _proportions(np.asarray(production))
    m = (p + r) / 2.0

    def half_kl(x: np.ndarray) -> float:
        nz = x > 0
        return float(np.sum(x[nz] * np.log2(x[nz] / m[nz])))

    jsd = 0.5 * half_kl(p) + 0.5 * half_kl(r)
    return math.sqrt(max(jsd, 0.0))


# --------------------------------------------------------------------------- 3 L-inf


def linf(reference: ArrayLike, production: ArrayLike) -> float:
    """Largest absolute difference of proportions (3)."""
    return float(np.max(np.abs(_proportions(np.asarray(production)) - _proportions(np.asarray(reference)))))


# --------------------------------------------------------------------------- 2.4 / 2.5 KS


def ks_statistic(reference: ArrayLike, production: ArrayLike) -> float:
    """KS statistic from cumulative counts at the bucket bounds (2.4)."""
    r = np.asarray(reference, dtype=np.float64)
    p = np.asarray(production, dtype=np.float64)
    if r.size <= 1:
        return 0.0
    cr = np.cumsum(r)[:-1] / r.sum()
    cp = np.cumsum(p)[:-1] / p.sum()
    return float(np.max(np.abs(cp - cr)))


def kolmogorov_sf(lam: float) -> float:
    """Survival function of the Kolmogorov distribution, 10 terms per branch (2.5)."""
    if lam <= 0.0:
        return 1.0
    j = np.arange(1, 11, dtype=np.float64)
    if lam < 1.0:
        s = float(np.sum(np.exp(-((2.0 * j - 1.0) ** 2) * math.pi**2 / (8.0 * lam * lam))))
        p = 1.0 - math.sqrt(2.0 * math.pi) / lam * s
    else:
        signs = np.where(j % 2 == 1, 1.0, -1.0)
        p = 2.0 * float(np.sum(signs * np.exp(-2.0 * j * j * lam * lam)))
    return min(max(p, 0.0), 1.0)


def ks_pvalue(d: float, n: float, m: float) -> float:
    """Asymptotic two-sample KS p-value with n_eff = n*m/(n+m) (2.5)."""
    if n <= 0 or m <= 0:
        return float("nan")
    return kolmogorov_sf(math.sqrt(n * m / (n + m)) * d)


# --------------------------------------------------------------------------- 1.3 / 2.2 / 2.3


def supports(
    bounds: ArrayLike, counts: ArrayLike, vmin: float | None, vmax: float | None
) -> tuple[np.ndarray, np.ndarray]:
    """Per-bucket support [lo, hi] under the piecewise-uniform model (1.3)."""
    b = np.asarray(bounds, dtype=np.float64)
    k = b.size
    fallback_lo = b[0] if k else 0.0
    fallback_hi = b[-1] if k else 0.0
    lo_close = float(vmin) if vmin is not None and math.isfinite(vmin) else fallback_lo
    hi_close = float(vmax) if vmax is not None and math.isfinite(vmax) else fallback_hi
    if lo_close > hi_close:
        lo_close = hi_close
    lower_edges = np.concatenate(([-np.inf], b))
    upper_edges = np.concatenate((b, [np.inf]))
    lo = np.maximum(lower_edges, lo_close)
    hi = np.minimum(upper_edges, hi_close)
    lo = np.where(lo > hi, hi, lo)
    return lo, hi


def reference_mean_std(
    bounds: ArrayLike, counts: ArrayLike, vmin: float | None, vmax: float | None
) -> tuple[float, float]:
    """Mean and std of a histogram under the piecewise-uniform model (2.2)."""
    lo, hi = supports(bounds, counts, vmin, vmax)
    r = _proportions(np.asarray(counts))
    mid = (lo + hi) / 2.0
    w = hi - lo
    mean = float(np.sum(r * mid))
    var = float(np.sum(r * (w * w / 12.0 + (mid - mean) ** 2)))
    return mean, math.sqrt(max(var, 0.0))


def _cdf_parts(
    lo: np.ndarray, hi: np.ndarray, c: np.ndarray, xs: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Linear part of the CDF at xs, and point mass at or below xs (unnormalised)."""
    w = hi - lo
    spread = (w > 0) & (c > 0)
    if spread.any():
        frac = np.clip((xs[:, None] - lo[spread][None, :]) / w[spread][None, :], 0.0, 1.0)
        linear = frac @ c[spread]
    else:
        linear = np.zeros(xs.size)
    point = (w <= 0) & (c > 0)
    if point.any():
        order = np.argsort(lo[point], kind="stable")
        pos = lo[point][order]
        cum = np.concatenate(([0.0], np.cumsum(c[point][order])))
        atmost = cum[np.searchsorted(pos, xs, side="right")]
    else:
        atmost = np.zeros(xs.size)
    return linear, atmost


def wasserstein(reference: Histogram, production: Histogram) -> float:
    """Wasserstein-1 distance between two numeric histograms, exact (2.3)."""
    rc, pc = reference.counts, production.counts
    rlo, rhi = supports(reference.bounds, rc, reference.min, reference.max)
    plo, phi = supports(production.bounds, pc, production.min, production.max)
    xs = np.unique(np.concatenate((rlo[rc > 0], rhi[rc > 0], plo[pc > 0], phi[pc > 0])))
    if xs.size < 2:
        return 0.0
    r_lin, r_pt = _cdf_parts(rlo, rhi, rc, xs)
    p_lin, p_pt = _cdf_parts(plo, phi, pc, xs)
    n, m = rc.sum(), pc.sum()
    d_a = (p_lin[:-1] + p_pt[:-1]) / m - (r_lin[:-1] + r_pt[:-1]) / n
    d_b = (p_lin[1:] + p_pt[:-1]) / m - (r_lin[1:] + r_pt[:-1]) / n
    h = np.diff(xs)
    aa, ab = np.abs(d_a), np.abs(d_b)
    same = d_a * d_b >= 0
    denom = np.where(same, 1.0, aa + ab)
    seg = np.where(same, h * (aa + ab) / 2.0, h * (d_a * d_a + d_b * d_b) / (2.0 * denom))
    return float(np.sum(seg))


def wasserstein_normalized(reference: Histogram, production: Histogram) -> float:
    """W1 divided by the reference histogram's std (2.3)."""
    w1 = wasserstein(reference, production)
    _, std = reference_mean_std(reference.bounds, reference.counts, reference.min, reference.max)
    if std <= 0.0:
        return 0.0 if w1 == 0.0 else math.inf
    return w1 / std


# --------------------------------------------------------------------------- 3.1 gamma


def gammaincc(a: float, x: float) -> float:
    """Regularized upper incomplete gamma Q(a, x), Numerical-Recipes style (3.1)."""
    if a <= 0:
        raise ValueError("a must be > 0")
    if x <= 0.0:
        return 1.0
    if math.isinf(x):
        return 0.0
    log_front = -x + a * math.log(x) - math.lgamma(a)
    if x < a + 1.0:
        ap = a
        term = total = 1.0 / a
        for _ in range(10000):
            ap += 1.0
            term *= x / ap
            total += term
            if abs(term) < abs(total) * 1e-17:
                break
        q = 1.0 - math.exp(log_front) * total
    else:
        tiny = 1e-300
        b = x + 1.0 - a
        c = 1.0 / tiny
        d = 1.0 / b
        h = d
        for i in range(1, 10001):
            an = -i * (i - a)
            b += 2.0
            d = an * d + b
            if abs(d) < tiny:
                d = tiny
            c = b + an / c
            if abs(c) < tiny:
                c = tiny
            d = 1.0 / d
            delta = d * c
            h *= delta
            if abs(delta - 1.0) < 1e-16:
                break
        q = math.exp(log_front) * h
    return min(max(q, 0.0), 1.0)


def chi2_isf(alpha: float, df: float) -> float:
    """x with P(chi2(df) > x) = alpha, by bracketing and bisection (4.3)."""
    if df <= 0:
        return math.inf
    lo, hi = 0.0, df + 10.0
    while gammaincc(df / 2.0, hi / 2.0) >= alpha:
        hi *= 2.0
    for _ in range(200):
        mid = (lo + hi) / 2.0
        if gammaincc(df / 2.0, mid / 2.0) >= alpha:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-13 * hi:
            break
    return (lo + hi) / 2.0


# --------------------------------------------------------------------------- 3 chi-squared


def chi2_pvalue(reference: ArrayLike, production: ArrayLike, epsilon: float = EPSILON) -> float:
    """Chi-squared goodness-of-fit p-value of production against reference proportions (3)."""
    rc = np.asarray(reference, dtype=np.float64)
    pc = np.asarray(production, dtype=np.float64)
    keep = (rc > 0) | (pc > 0)
    df = int(keep.sum()) - 1
    if df < 1:
        return 1.0
    r = np.maximum(rc[keep] / rc.sum(), epsilon)
    expected = pc.sum() * (r / r.sum())
    stat = float(np.sum((pc[keep] - expected) ** 2 / expected))
    return gammaincc(df / 2.0, stat / 2.0)


# --------------------------------------------------------------------------- 5 calibrated tests


def collapse(
    reference: ArrayLike, production: ArrayLike, *, ordered: bool, min_expected: float = 5.0
) -> tuple[np.ndarray, np.ndarray]:
    """Cells merged until each group's expected count reaches ``min_expected`` on both sides (5.1).

    Which cells merge depends only on the pooled counts ``R + P`` (ancillary under the null of
    the conditional test), so the collapsed test keeps its level. Numeric (``ordered``): adjacent
    buckets, left to right; categorical: cells by pooled count descending (ties: index order).
    """
    rc = np.asarray(reference, dtype=np.float64)
    pc = np.asarray(production, dtype=np.float64)
    n, m = float(rc.sum()), float(pc.sum())
    pooled = rc + pc
    idx = [i for i in range(rc.size) if pooled[i] > 0]
    if not ordered:
        idx.sort(key=lambda i: (-pooled[i], i))
    scale = min(n, m) / (n + m) if n + m > 0 else 0.0
    groups: list[list[float]] = []
    cur_r = cur_p = 0.0
    open_group = False
    for i in idx:
        cur_r += rc[i]
        cur_p += pc[i]
        open_group = True
        if scale * (cur_r + cur_p) >= min_expected:
            groups.append([cur_r, cur_p])
            cur_r = cur_p = 0.0
            open_group = False
    if open_group:
        if groups:
            groups[-1][0] += cur_r
            groups[-1][1] += cur_p
        else:
            groups.append([cur_r, cur_p])
    g = np.asarray(groups, dtype=np.float64).reshape(-1, 2)
    return g[:, 0], g[:, 1]


def chi2_two_sample(
    reference: ArrayLike, production: ArrayLike, *, ordered: bool, min_expected: float = 5.0
) -> tuple[float, np.ndarray, np.ndarray]:
    """Pearson chi-squared test of homogeneity of two samples on collapsed cells (5.1).

    Returns (p-value, collapsed reference counts, collapsed production counts).
    """
    r, p = collapse(reference, production, ordered=ordered, min_expected=min_expected)
    df = r.size - 1
    if df < 1:
        return 1.0, r, p
    n, m = float(r.sum()), float(p.sum())
    t = r + p
    er = n * t / (n + m)
    ep = m * t / (n + m)
    stat = float(np.sum((r - er) ** 2 / er + (p - ep) ** 2 / ep))
    return gammaincc(df / 2.0, stat / 2.0), r, p


def rank_sum_pvalue(reference: ArrayLike, production: ArrayLike) -> float:
    """Two-sided Mann-Whitney (Wilcoxon rank-sum) p-value on ordered buckets (5.1b).

    Buckets are ties: midranks, the tie-corrected variance, a continuity correction of 0.5 and
    the normal approximation (``scipy.stats.mannwhitneyu(method="asymptotic")`` on the values'
    bucket indexes).
    """
    r = np.asarray(reference, dtype=np.float64)
    p = np.asarray(production, dtype=np.float64)
    n, m = float(r.sum()), float(p.sum())
    if n <= 0 or m <= 0:
        return 1.0
    t = r + p
    total = n + m
    below = 0.0
    rank_sum = 0.0
    ties = 0.0
    for i in range(t.size):
        if t[i] > 0:
            rank_sum += p[i] * (below + (t[i] + 1.0) / 2.0)
            ties += t[i] * t[i] * t[i] - t[i]
            below += t[i]
    u = rank_sum - m * (m + 1.0) / 2.0
    var = n * m / 12.0 * ((total + 1.0) - ties / (total * (total - 1.0)))
    if var <= 0.0:
        return 1.0
    z = (abs(u - n * m / 2.0) - 0.5) / math.sqrt(var)
    if z <= 0.0:
        return 1.0
    return min(max(math.erfc(z / math.sqrt(2.0)), 0.0), 1.0)


def _lchoose(a: float, b: float) -> float:
    return math.lgamma(a + 1.0) - math.lgamma(b + 1.0) - math.lgamma(a - b + 1.0)


def rate_pvalue(x: float, m: float, y: float, n: float) -> float:
    """One-sided exact test that a rate went up: x events of m vs y of n (5.2).

    P(X >= x) for X hypergeometric (population n + m, x + y events, m draws): Fisher's exact
    test, alternative "greater", conditional on the pooled count of events.
    """
    t = x + y
    if t <= 0 or m <= 0 or n <= 0:
        return 1.0
    lo, hi = max(0.0, t - n), min(t, m)
    if x <= lo:
        return 1.0
    total = n + m

    def logpmf(k: float) -> float:
        return _lchoose(t, k) + _lchoose(total - t, m - k) - _lchoose(total, m)

    if x * total > m * t:  # above the mean: the upper tail, terms decrease from x on
        term = math.exp(logpmf(x))
        acc = term
        k = x
        while k < hi:
            term *= (t - k) * (m - k) / ((k + 1.0) * (n - t + k + 1.0))
            k += 1.0
            acc += term
            if term < 1e-17 * acc:
                break
        return min(max(acc, 0.0), 1.0)
    # at or below the mean: 1 - P(X <= x - 1), terms decrease from x - 1 down
    k = x - 1.0
    term = math.exp(logpmf(k))
    acc = term
    while k > lo:
        term *= k * (n - t + k) / ((t - k + 1.0) * (m - k + 1.0))
        k -= 1.0
        acc += term
        if term < 1e-17 * acc:
            break
    return min(max(1.0 - acc, 0.0), 1.0)


def outside_pvalue(x: float, m: float, n: float) -> float:
    """P(X >= x): production values below the smallest and above the largest of n reference
    values, of m production values, exchangeable under no drift (5.2).

    P(X = k) = (k + 1) C(n + m - k - 2, n - 2) / C(n + m, n); exact for continuous data,
    conservative with ties or when the outer buckets lie beyond the reference's extremes.
    """
    if x <= 0 or m <= 0 or n < 2:
        return 1.0
    total = n + m
    log_den = _lchoose(total, n)
    acc = 0.0
    k = x
    while k <= m:
        term = math.exp(math.log(k + 1.0) + _lchoose(total - k - 2.0, n - 2.0) - log_den)
        acc += term
        if term < 1e-17 * acc:
            break
        k += 1.0
    return min(max(acc, 0.0), 1.0)


def cohen_h(p1: float, p2: float) -> float:
    """Cohen's h, |2 asin(sqrt(p1)) - 2 asin(sqrt(p2))|: the effect size of two proportions (5.3)."""
    return abs(2.0 * math.asin(math.sqrt(min(max(p1, 0.0), 1.0))) - 2.0 * math.asin(math.sqrt(min(max(p2, 0.0), 1.0))))


def max_cohen_h(reference: ArrayLike, production: ArrayLike) -> float:
    """The largest Cohen's h over cells (5.3)."""
    r = _proportions(np.asarray(reference))
    p = _proportions(np.asarray(production))
    return max((cohen_h(float(a), float(b)) for a, b in zip(p, r)), default=0.0)


def effect_floor(n: float, m: float, scale: float) -> float:
    """The practical-significance floor ``scale * n_eff**-0.25``, n_eff = n*m/(n+m) (5.3)."""
    if n <= 0 or m <= 0:
        return math.inf
    return scale * (n * m / (n + m)) ** -0.25


def _adjust(pvalues: ArrayLike, step: Callable[[np.ndarray], np.ndarray]) -> list[float]:
    """Sort the p-values (stable), adjust them in sorted order with ``step``, return in input order."""
    p = np.asarray(pvalues, dtype=np.float64)
    if p.size == 0:
        return []
    order = np.argsort(p, kind="stable")
    q = np.empty(p.size)
    q[order] = step(p[order])
    return [float(v) for v in q]


def holm(pvalues: ArrayLike) -> list[float]:
    """Holm's step-down adjusted p-values, in input order (5.4)."""
    return _adjust(pvalues, lambda s: np.maximum.accumulate(np.minimum(1.0, s * (s.size - np.arange(s.size)))))


# --------------------------------------------------------------------------- 4.3 adaptive


def _occupied(reference: ArrayLike) -> int:
    return int(np.count_nonzero(np.asarray(reference) > 0))


def psi_critical(n: float, m: float, bins: int, alpha: float) -> float:
    """PSI critical value under no drift: (1/N + 1/M) * chi2_{1-alpha}(B-1) (4.3)."""
    if bins < 2:
        return math.inf
    return (1.0 / n + 1.0 / m) * chi2_isf(alpha, bins - 1)


def js_critical(n: float, m: float, bins: int, alpha: float) -> float:
    """Jensen-Shannon distance critical value under no drift (4.3)."""
    if bins < 2:
        return math.inf
    return math.sqrt((1.0 / n + 1.0 / m) * chi2_isf(alpha, bins - 1) / (8.0 * math.log(2.0)))


# --------------------------------------------------------------------------- 4.2 BH


def benjamini_hochberg(pvalues: ArrayLike) -> list[float]:
    """Benjamini-Hochberg adjusted p-values, in input order (4.2)."""
    return _adjust(
        pvalues, lambda s: np.minimum.accumulate(np.minimum(1.0, s * s.size / np.arange(1, s.size + 1))[::-1])[::-1]
    )


# --------------------------------------------------------------------------- 4 verdicts


Mode = Literal["calibrated", "fixed", "adaptive"]
MODES: tuple[str, ...] = ("calibrated", "fixed", "adaptive")
#: min_samples when it is not set: calibrated tests hold their level from 50 values on.
DEFAULT_MIN_SAMPLES = {"calibrated": 50, "fixed": 500, "adaptive": 500}


@dataclass(frozen=True)
class DriftConfig:
    """Settings of the drift verdicts (docs/drift-math.md sections 4 and 5).

    ``mode="calibrated"`` (the default) runs two-sample tests with a per-model family-wise
    error rate of ``alpha`` (Holm over every feature and rule), never more than
    ``feature_alpha`` per feature, and an effect-size floor; ``"fixed"`` and ``"adaptive"`` are
    the classic threshold rules. ``overrides`` maps a feature name to a mapping of field names
    to values, e.g. ``DriftConfig(overrides={"age": {"effect_floor": 1.0}})``.
    """

    #: Fewer production rows than this: scores only, verdict ``insufficient_data``. None: the
    #: mode's default (50 calibrated, 500 fixed and adaptive).
    min_samples: int | None = None
    psi_threshold: float = 0.2
    ks_alpha: float = 0.05
    wasserstein_threshold: float = 0.1
    chi2_alpha: float = 0.05
    chi2_max_rows: int = 1000
    js_threshold: float = 0.1
    dataset_drift_share: float = 0.5
    mode: Mode = "calibrated"
    adaptive_alpha: float = 0.01
    epsilon: float = EPSILON
    #: Calibrated: the per-model family-wise false-alarm rate (Holm over features x rules).
    alpha: float = 0.05
    #: Calibrated: the per-feature cap; the family level is min(alpha, feature_alpha * features).
    feature_alpha: float = 0.01
    #: Calibrated: the effect-size floor is effect_floor * n_eff ** -0.25 (5.3).
    effect_floor: float = 0.5
    #: Calibrated: cells are merged until each expects this many values on both sides (5.1).
    min_expected: float = 5.0
    overrides: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(map(repr, MODES))}, not {self.mode!r}")
        if self.min_samples is None:  # resolved once: the mode's default
            object.__setattr__(self, "min_samples", DEFAULT_MIN_SAMPLES[self.mode])
        for name in ("alpha", "feature_alpha"):
            if not 0.0 < getattr(self, name) < 1.0:
                raise ValueError(f"{name} must be in (0, 1), not {getattr(self, name)!r}")
        if not self.effect_floor >= 0.0 or not self.min_expected > 0.0:
            raise ValueError("effect_floor must be >= 0 and min_expected > 0")
        known = {f.name for f in fields(self)} - {"overrides"}
        for feature, values in self.overrides.items():
            unknown = set(values) - known
            if unknown:
                raise ValueError(f"unknown drift setting(s) for {feature!r}: {sorted(unknown)}")

    @property
    def samples_needed(self) -> int:
        """min_samples (resolved to the mode's default when it was not given)."""
        return int(self.min_samples or 0)

    def for_feature(self, name: str) -> DriftConfig:
        values = self.overrides.get(name)
        return replace(self, overrides={}, **values) if values else self


@dataclass
class RuleTest:
    """One calibrated rule of one feature (docs/drift-math.md section 5).

    ``rule`` is ``rank_sum``, ``chi2_contingency``, ``null_rate``, ``out_of_range`` or
    ``unseen_category``; ``qvalue`` is Holm-adjusted over the model's family and the rule
    fires when ``qvalue < alpha`` and ``effect >= floor``.
    """

    rule: str
    pvalue: float
    effect: float
    floor: float
    qvalue: float = 1.0
    alpha: float = 0.0
    fired: bool = False


@dataclass
class FeatureDrift:
    """Scores and verdict of one feature in one window.

    ``reasons`` are human-readable; ``reason_codes`` the rules that fired (calibrated: the
    ``RuleTest.rule`` names, e.g. ``null_rate``); ``tests`` every calibrated rule evaluated.
    """

    name: str
    kind: str
    n_reference: int
    n_production: int
    scores: dict[str, float]
    verdict: Verdict = "no_drift"
    reasons: list[str] = field(default_factory=list)
    role: str = "input"
    tests: list[RuleTest] = field(default_factory=list)
    reason_codes: list[str] = field(default_factory=list)

    @property
    def drifted(self) -> bool:
        return self.verdict == "drift"

    def severity(self) -> float:
        """A sort key: how far past its threshold the feature's strongest score is."""
        if self.tests:
            return max(
                (min(t.effect, 1e6) / t.floor if t.floor > 0 else min(t.effect, 1e6)) * (2.0 if t.fired else 1.0)
                for t in self.tests
            )
        s = self.scores
        if self.kind == "numeric":
            return max(s.get("psi", 0.0) / 0.2, min(s.get("wasserstein_normalized", 0.0), 1e6) / 0.1)
        return max(s.get("psi", 0.0) / 0.2, s.get("jensen_shannon", 0.0) / 0.1)


@dataclass
class DatasetDrift:
    """Per-feature results, the dataset verdict (4.4) and the multivariate verdict (8.3).

    ``multivariate`` is None when the baseline has no projections, else ``drift`` when any
    projection feature (role ``projection``) drifts, ``no_drift`` when some were scored and none
    drifts, ``insufficient_data`` when none was scored.
    """

    features: list[FeatureDrift]
    verdict: Verdict
    drifted: int
    evaluated: int
    config: DriftConfig
    multivariate: Verdict | None = None

    @property
    def share(self) -> float:
        return self.drifted / self.evaluated if self.evaluated else 0.0


def score_feature(reference: Histogram, production: Histogram, epsilon: float = EPSILON) -> dict[str, float]:
    """Every score of section 2 (numeric) or 3 (categorical) for one feature."""
    n, m = reference.total, production.total
    if n <= 0 or m <= 0:
        return {}
    rc, pc = reference.counts, production.counts
    scores = {"psi": psi(rc, pc, epsilon), "jensen_shannon": jensen_shannon(rc, pc)}
    if reference.kind == "numeric":
        d = ks_statistic(rc, pc)
        scores["ks_statistic"] = d
        scores["ks_pvalue"] = ks_pvalue(d, n, m)
        scores["wasserstein"] = wasserstein(reference, production)
        scores["wasserstein_normalized"] = wasserstein_normalized(reference, production)
    else:
        scores["chi2_pvalue"] = chi2_pvalue(rc, pc, epsilon)
        scores["linf"] = linf(rc, pc)
    return scores


def evaluate(
    reference: Mapping[str, Histogram],
    production: Mapping[str, Histogram],
    config: DriftConfig | None = None,
    *,
    outputs: Sequence[str] = (),
) -> DatasetDrift:
    """Score every feature present in both mappings and apply the verdict rules (4, 5).

    Names in ``outputs`` are prediction features: they get verdicts but do not count towards
    the dataset verdict. In calibrated mode inputs and outputs form one Holm family; in the
    fixed and adaptive modes each role has its own Benjamini-Hochberg family.
    """
    config = config or DriftConfig()
    output_names = set(outputs)
    results: list[FeatureDrift] = []
    for name, ref in reference.items():
        prod = production.get(name)
        if prod is None:
            continue
        cfg = config.for_feature(name)
        scores = score_feature(ref, prod, cfg.epsilon)
        fd = FeatureDrift(
            name=name,
            kind=ref.kind,
            n_reference=int(ref.total),
            n_production=int(prod.total),
            scores=scores,
            role="output" if name in output_names else "projection" if is_projection(name) else "input",
        )
        rows = prod.total + prod.nulls
        if cfg.mode == "calibrated":
            fd.tests = calibrated_tests(ref, prod, cfg)
            if rows < cfg.samples_needed or not fd.tests:
                fd.verdict = "insufficient_data"
        elif not scores or prod.total < cfg.samples_needed:
            fd.verdict = "insufficient_data"
        if fd.verdict == "insufficient_data":
            fd.reasons.append(f"{int(rows)} rows < min_samples {cfg.samples_needed}")
        results.append(fd)

    _calibrate(results, config)
    # Benjamini-Hochberg per family (inputs, outputs) over the p-values fixed-mode verdicts use.
    for role in ("input", "output", "projection"):
        family: list[tuple[FeatureDrift, str]] = []
        for fd in results:
            cfg = config.for_feature(fd.name)
            if fd.role != role or fd.verdict == "insufficient_data" or cfg.mode == "calibrated":
                continue
            if fd.kind == "numeric":
                family.append((fd, "ks_pvalue"))
            elif fd.n_production < cfg.chi2_max_rows:
                family.append((fd, "chi2_pvalue"))
        adjusted = benjamini_hochberg([fd.scores[key] for fd, key in family])
        for (fd, key), q in zip(family, adjusted):
            fd.scores[key.replace("pvalue", "qvalue")] = q

    for fd in results:
        if fd.verdict == "insufficient_data" or config.for_feature(fd.name).mode == "calibrated":
            continue
        _decide(fd, reference[fd.name], config.for_feature(fd.name))

    inputs = [fd for fd in results if fd.role == "input" and fd.verdict != "insufficient_data"]
    drifted = sum(fd.drifted for fd in inputs)
    if not inputs:
        verdict: Verdict = "insufficient_data"
    else:
        verdict = "drift" if drifted >= config.dataset_drift_share * len(inputs) else "no_drift"
    results.sort(key=lambda fd: (fd.verdict != "drift", fd.verdict == "insufficient_data", -fd.severity()))
    return DatasetDrift(results, verdict, drifted, len(inputs), config, multivariate_verdict(results))


def is_projection(name: str) -> bool:
    """A multivariate projection feature (``__projection_<i>__``, docs/drift-math.md 8)."""
    return name.startswith(PROJECTION_FEATURE_PREFIX) and name.endswith("__")


def multivariate_verdict(results: Sequence[FeatureDrift]) -> Verdict | None:
    """The model-level multivariate verdict (8.3): drift when any projection drifts.

    The projections are in the model's one Holm family with every other feature and rule
    (5.4), so the verdict's false-alarm rate is part of the per-model ``alpha``.
    """
    projections = [fd for fd in results if fd.role == "projection"]
    if not projections:
        return None
    scored = [fd for fd in projections if fd.verdict != "insufficient_data"]
    if not scored:
        return "insufficient_data"
    return "drift" if any(fd.drifted for fd in scored) else "no_drift"


def calibrated_tests(reference: Histogram, production: Histogram, cfg: DriftConfig) -> list[RuleTest]:
    """The calibrated rules of one feature with their p-values, effects and floors (5)."""
    n, m = reference.total, production.total
    tests: list[RuleTest] = []
    rc, pc = reference.counts, production.counts
    if n > 0 and m > 0:
        floor = effect_floor(n, m, cfg.effect_floor)
        ordered = reference.kind == "numeric"
        if ordered:
            w = wasserstein_normalized(reference, production)
            tests.append(RuleTest("rank_sum", rank_sum_pvalue(rc, pc), w, floor))
        p, rg, pg = chi2_two_sample(rc, pc, ordered=ordered, min_expected=cfg.min_expected)
        tests.append(RuleTest("chi2_contingency", p, max_cohen_h(rg, pg) if rg.size > 1 else 0.0, floor))
        if ordered and production.outside is not None:
            # Values outside the reference's [min, max], counted from the raw values (5.2).
            x = production.outside
            if x > 0:
                tests.append(RuleTest("out_of_range", outside_pvalue(x, m, n), cohen_h(min(x / m, 1.0), 0.0), floor))
        elif ordered and rc.size >= 3 and rc[0] == 0 and rc[-1] == 0:
            # Outer buckets the reference left empty: values outside its range (5.2).
            x = float(pc[0] + pc[-1])
            if x > 0:
                tests.append(RuleTest("out_of_range", outside_pvalue(x, m, n), cohen_h(x / m, 0.0), floor))
        elif not ordered:
            # labels outside the top categories: the tail buckets and __other__
            k = reference.tail + 1
            x, y = float(pc[-k:].sum()), float(rc[-k:].sum())
            if x + y > 0:
                tests.append(RuleTest("unseen_category", rate_pvalue(x, m, y, n), cohen_h(x / m, y / n), floor))
    x, y = production.nulls, reference.nulls
    mm, nn = m + x, n + y
    if x + y > 0 and mm > 0 and nn > 0:
        tests.append(
            RuleTest("null_rate", rate_pvalue(x, mm, y, nn), cohen_h(x / mm, y / nn), effect_floor(nn, mm, cfg.effect_floor))
        )
    return tests


def _calibrate(results: list[FeatureDrift], config: DriftConfig) -> None:
    """Holm over every rule of every calibrated feature of the model, then the verdicts (5.4)."""
    family = [
        (fd, t)
        for fd in results
        if fd.verdict != "insufficient_data" and config.for_feature(fd.name).mode == "calibrated"
        for t in fd.tests
    ]
    if not family:
        return
    features = len({id(fd) for fd, _ in family})
    level = min(config.alpha, config.feature_alpha * features)
    for (_fd, t), q in zip(family, holm([t.pvalue for _, t in family])):
        t.qvalue, t.alpha = q, level
        t.fired = q < level and t.effect >= t.floor
    for fd in {id(fd): fd for fd, _ in family}.values():
        s = fd.scores
        for t in fd.tests:
            s[f"{t.rule}_pvalue"] = t.pvalue
            s[f"{t.rule}_qvalue"] = t.qvalue
            s[f"{t.rule}_effect"] = t.effect
            if t.fired:
                fd.reason_codes.append(t.rule)
                fd.reasons.append(
                    f"{t.rule}: Holm q {t.qvalue:.3g} < {t.alpha:.3g} and effect {t.effect:.3g} >= floor {t.floor:.3g}"
                )
        if fd.n_reference > 0 and fd.n_production > 0:
            s["effect_floor"] = effect_floor(fd.n_reference, fd.n_production, config.for_feature(fd.name).effect_floor)
        s["alpha"] = level
        fd.verdict = "drift" if fd.reason_codes else "no_drift"


def _decide(fd: FeatureDrift, ref: Histogram, cfg: DriftConfig) -> None:
    s = fd.scores
    n, m = fd.n_reference, fd.n_production
    bins = _occupied(ref.counts)
    if cfg.mode == "adaptive":
        psi_limit = psi_critical(n, m, bins, cfg.adaptive_alpha)
        js_limit = js_critical(n, m, bins, cfg.adaptive_alpha)
        s["psi_threshold"] = psi_limit
        s["js_threshold"] = js_limit
    else:
        psi_limit, js_limit = cfg.psi_threshold, cfg.js_threshold
    if fd.kind == "numeric":
        if s["psi"] >= psi_limit:
            fd.reasons.append(f"PSI {s['psi']:.3g} >= {psi_limit:.3g}")
        if s["ks_qvalue"] < cfg.ks_alpha and s["wasserstein_normalized"] >= cfg.wasserstein_threshold:
            fd.reasons.append(
                f"KS q {s['ks_qvalue']:.3g} < {cfg.ks_alpha:g} and "
                f"Wasserstein {s['wasserstein_normalized']:.3g} >= {cfg.wasserstein_threshold:g}"
            )
    elif m < cfg.chi2_max_rows:
        if s["chi2_qvalue"] < cfg.chi2_alpha:
            fd.reasons.append(f"chi-squared q {s['chi2_qvalue']:.3g} < {cfg.chi2_alpha:g}")
    elif s["jensen_shannon"] >= js_limit:
        fd.reasons.append(f"Jensen-Shannon {s['jensen_shannon']:.3g} >= {js_limit:.3g}")
    fd.verdict = "drift" if fd.reasons else "no_drift"
