"""Offline performance: the mlperformance connector's figures from rows in memory.

:func:`performance_report` takes actual outcomes next to predictions (classes and
positive-class scores, or values) and computes what the collector computes for joined rows,
with the same rules: scikit-learn's accuracy, per-class and macro precision/recall/F1
(``zero_division=0``), log loss (probabilities clipped to [eps, 1-eps]), Brier score, the
calibration error over the histogram's slots, MAE, RMSE, MAPE, bias and R^2, and ROC AUC from the same logit-binned score histograms with their
error bound. The shared vectors in tests/vectors/performance hold both to scikit-learn.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from modeltel._drift import chi2_pvalue
from modeltel._outcomes import labels

__all__ = ["PerformanceReport", "performance_report", "score_bins"]

#: numpy's float64 machine epsilon, scikit-learn's clip for log loss (Go: perf.LogLossEpsilon).
LOG_LOSS_EPSILON = 2.220446049250313e-16
#: The connector's default score histogram: 200 bins uniform in logit over [-10, 10].
BINS, LIMIT = 200, 10.0
#: The residual histogram's bounds (Go: perf.ResidualBounds): 0, ±{1, 2, 5} x 10^-3..10^5, ±10^6.
_POSITIVE = sorted({m * 10.0**k for k in range(-3, 6) for m in (1, 2, 5)} | {1e6})
RESIDUAL_BOUNDS = tuple([-b for b in reversed(_POSITIVE)] + [0.0] + _POSITIVE)


def score_bins(scores: np.ndarray, bins: int = BINS, limit: float = LIMIT) -> np.ndarray:
    """The histogram slot of each score: 0 below the logit grid, ``bins + 1`` above it (Go: Bins.Index)."""
    s = np.asarray(scores, dtype=float)
    out = np.zeros(s.shape, dtype=np.int64)
    inside = (s > 0) & (s < 1)
    with np.errstate(divide="ignore"):
        logit = np.log(s[inside] / (1 - s[inside]))
    idx = np.floor((logit + limit) / (2 * limit) * bins).astype(np.int64) + 1
    idx[logit < -limit] = 0
    out[inside] = np.minimum(idx, bins + 1)
    out[s >= 1] = bins + 1
    return out


@dataclass
class PerformanceReport:
    """Performance figures of joined rows; a figure that does not apply is NaN."""

    rows: int
    accuracy: float = math.nan
    #: class label -> {"precision", "recall", "f1", "support"}
    classes: dict[str, dict[str, float]] = field(default_factory=dict)
    macro: dict[str, float] = field(default_factory=dict)
    roc_auc: float = math.nan
    #: Largest possible |histogram AUC - exact AUC| (half the share of pairs in one bin).
    roc_auc_error_bound: float = math.nan
    #: Average precision (PR AUC, scikit-learn's rule) of the histograms, a slot's scores tied.
    pr_auc: float = math.nan
    #: Largest possible |histogram PR AUC - exact average precision|.
    pr_auc_error_bound: float = math.nan
    log_loss: float = math.nan
    brier: float = math.nan
    #: Expected calibration error over the histogram's slots (sum |scores - positives| / rows).
    calibration_error: float = math.nan
    mae: float = math.nan
    #: scikit-learn's mean_absolute_percentage_error (|actual| floored at eps).
    mape: float = math.nan
    rmse: float = math.nan
    bias: float = math.nan
    r2: float = math.nan
    #: Counts of predicted - actual over RESIDUAL_BOUNDS (OTLP explicit buckets), regression.
    residual_counts: list[int] = field(default_factory=list)
    #: Label drift against ``reference_labels``: chi-squared goodness-of-fit p-value of the
    #: actual labels and the total variation distance of the two distributions.
    label_drift_pvalue: float = math.nan
    label_drift_distance: float = math.nan


def performance_report(
    actual: Any,
    predicted: Any,
    *,
    scores: Any = None,
    positive: str = "1",
    task: str | None = None,
    reference_labels: Mapping[str, float] | None = None,
    probabilities: Any = None,
    probability_classes: Sequence[Any] | None = None,
) -> PerformanceReport:
    """The collector's performance figures for rows in memory.

    Args:
        actual: the actual labels (classification) or values (regression), one per row.
        predicted: the predicted labels or values.
        scores: for a binary classifier, each row's probability of the ``positive`` class
            (log loss, Brier, ROC AUC).
        task: ``"classification"`` or ``"regression"``; default: floats that are not all
            integral are values.
        reference_labels: label -> count of a reference (a baseline's targets): the label
            drift test (``label_drift_pvalue``, ``label_drift_distance``).
        probabilities: for a multiclass classifier, every class's probability per row (an
            ``(n, k)`` array, ``predict_proba``'s): log loss and Brier score as scikit-learn's
            ``log_loss`` / ``brier_score_loss(labels=probability_classes)``.
        probability_classes: the class of each column (default ``0 .. k-1``, the SDK's).

    Example::

        r = modeltel.performance_report(y_true, clf.predict(X), scores=clf.predict_proba(X)[:, 1])
        r.accuracy, r.macro["f1"], r.roc_auc
    """
    a, p = np.asarray(actual), np.asarray(predicted)
    if a.shape != p.shape or a.ndim != 1:
        raise ValueError(f"actual and predicted must be 1-D of one length, got {a.shape} and {p.shape}")
    if task is None:
        floats = p.dtype.kind == "f" and not bool(np.all(p[np.isfinite(p)] == np.trunc(p[np.isfinite(p)])))
        task = "regression" if floats else "classification"
    report = PerformanceReport(rows=int(a.size))
    if a.size == 0:
        return report
    if task == "regression":
        y, yhat = a.astype(float), p.astype(float)
        e = yhat - y
        report.mae = float(np.sum(np.abs(e)) / y.size)
        report.rmse = math.sqrt(float(np.sum(e * e)) / y.size)
        report.bias = float(np.sum(e) / y.size)
        report.mape = float(np.sum(np.abs(e) / np.maximum(np.abs(y), LOG_LOSS_EPSILON)) / y.size)
        sst = float(np.sum(y * y)) - float(np.sum(y)) ** 2 / y.size
        report.r2 = 1 - float(np.sum(e * e)) / sst if sst > 0 else math.nan
        buckets = np.searchsorted(np.asarray(RESIDUAL_BOUNDS), e, side="left")
        report.residual_counts = np.bincount(buckets, minlength=len(RESIDUAL_BOUNDS) + 1).tolist()
        return report
    ya, yp = np.array(labels(a)), np.array(labels(p))
    report.accuracy = float(np.mean(ya == yp))
    for c in sorted(set(ya.tolist()) | set(yp.tolist())):
        tp = int(np.sum((ya == c) & (yp == c)))
        npred, nact = int(np.sum(yp == c)), int(np.sum(ya == c))
        report.classes[c] = {
            "precision": tp / npred if npred else 0.0,
            "recall": tp / nact if nact else 0.0,
            "f1": 2 * tp / (npred + nact) if npred + nact else 0.0,
            "support": nact,
        }
    if reference_labels:
        report.label_drift_pvalue, report.label_drift_distance = label_drift(reference_labels, ya)
    k = len(report.classes)
    report.macro = {m: sum(v[m] for v in report.classes.values()) / k for m in ("precision", "recall", "f1")}
    if probabilities is not None:
        report.log_loss, report.brier = _probabilistic(ya, probabilities, probability_classes)
    if scores is not None:
        s = np.asarray(scores, dtype=float)
        pos = ya == positive
        clipped = np.clip(s, LOG_LOSS_EPSILON, 1 - LOG_LOSS_EPSILON)
        report.log_loss = float(-np.sum(np.where(pos, np.log(clipped), np.log(1 - clipped))) / s.size)
        report.brier = float(np.sum((s - pos) ** 2) / s.size)
        slots = score_bins(s)
        score_sum = np.bincount(slots, weights=s, minlength=BINS + 2)
        report.calibration_error = float(np.sum(np.abs(score_sum - np.bincount(slots[pos], minlength=BINS + 2))) / s.size)
        hp = np.bincount(slots[pos], minlength=BINS + 2).astype(float)
        hn = np.bincount(slots[~pos], minlength=BINS + 2).astype(float)
        if hp.sum() and hn.sum():
            below = np.concatenate([[0.0], np.cumsum(hn)[:-1]])
            ties = float(np.sum(hp * hn))
            report.roc_auc = (float(np.sum(hp * below)) + ties / 2) / (hp.sum() * hn.sum())
            report.roc_auc_error_bound = ties / 2 / (hp.sum() * hn.sum())
        report.pr_auc, report.pr_auc_error_bound = average_precision(hp, hn)
    return report


def _probabilistic(actual: np.ndarray, probabilities: Any, classes: Sequence[Any] | None) -> tuple[float, float]:
    """Multiclass log loss and Brier score (Go: perf.AddProbabilities): the actual class's
    probability clipped to [eps, 1-eps] (0 for a class without a column), squared errors summed
    over the columns, halved for fewer than three (scikit-learn's ``scale_by_half="auto"``)."""
    p = np.asarray(probabilities, dtype=float)
    if p.ndim != 2 or p.shape[0] != actual.size:
        raise ValueError(f"probabilities must be (rows, classes) for {actual.size} rows, got {p.shape}")
    names = labels(range(p.shape[1])) if classes is None else labels(list(classes))
    if len(names) != p.shape[1]:
        raise ValueError(f"{len(names)} probability_classes for {p.shape[1]} columns")
    column = {name: i for i, name in enumerate(names)}
    idx = np.array([column.get(a, -1) for a in actual.tolist()], dtype=np.int64)
    onehot = (idx[:, None] == np.arange(p.shape[1])[None, :]).astype(float)
    actual_p = np.where(idx >= 0, p[np.arange(p.shape[0]), np.maximum(idx, 0)], 0.0)
    log_loss = float(-np.sum(np.log(np.clip(actual_p, LOG_LOSS_EPSILON, 1 - LOG_LOSS_EPSILON))) / p.shape[0])
    sq = np.sum((p - onehot) ** 2, axis=1) + (idx < 0)
    brier = float(np.sum(sq) / p.shape[0]) * (0.5 if p.shape[1] < 3 else 1.0)
    return log_loss, brier


def label_drift(reference: Mapping[str, float], actual: np.ndarray) -> tuple[float, float]:
    """Chi-squared goodness-of-fit p-value and total variation distance (Go: perf.LabelDrift)."""
    names = sorted(set(reference) | set(actual.tolist()))
    observed = np.array([np.sum(actual == n) for n in names], dtype=float)
    ref = np.array([float(reference.get(n, 0)) for n in names])
    if ref.sum() <= 0 or observed.sum() <= 0:
        return math.nan, math.nan
    distance = float(np.sum(np.abs(ref / ref.sum() - observed / observed.sum())) / 2)
    return chi2_pvalue(ref, observed), distance


def average_precision(pos: np.ndarray, neg: np.ndarray) -> tuple[float, float]:
    """PR AUC of score histograms and its binning bound (Go: perf.AveragePrecision).

    scikit-learn's average_precision_score with each slot one threshold; the exact AP lies
    between the orders that put a slot's positives all first and all last.
    """
    total = float(np.sum(pos))
    if total == 0:
        return math.nan, math.nan
    tp = fp = ap = best = worst = 0.0
    for p, n in zip(pos[::-1].tolist(), neg[::-1].tolist()):
        if p > 0:
            ap += p * (tp + p) / (tp + fp + p + n)
            best += _precision_sum(tp, tp + fp, p)
            worst += _precision_sum(tp, tp + fp + n, p)
        tp, fp = tp + p, fp + n
    ap, best, worst = ap / total, best / total, worst / total
    return ap, max(best - ap, ap - worst)


def _precision_sum(a: float, c: float, p: float) -> float:
    """Sum over k = 1..p of (a + k) / (c + k)."""
    return p - (c - a) * (_harmonic(c + p) - _harmonic(c))


def _harmonic(n: float) -> float:
    if n < 64:
        return sum(1.0 / k for k in range(1, int(n) + 1))
    return math.log(n) + 0.5772156649015329 + 1 / (2 * n) - 1 / (12 * n * n) + 1 / (120 * n**4)
