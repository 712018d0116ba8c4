"""Model performance of local data for the offline report: predictions next to their targets.

The figures are :func:`modeltel.performance_report`'s (the mlperformance connector's rules,
held to scikit-learn by the shared vectors); this module only gathers the rows chunk by chunk
and decides what the prediction column is. Scores in [0, 1] against 0/1 targets are a binary
classifier's: labels at 0.5, and the scores give log loss, Brier, ROC AUC and PR AUC. A 2-D
float prediction is ``predict_proba``'s: with two columns the second is the positive class's
score, with more the class is the column of the largest and every column's probability gives
the multiclass log loss and Brier score (columns are the classes ``0 .. k-1``). With the
baseline's label counts, the label drift of the targets is scored too. Only one prediction
(or one probability matrix) and one target column are scored; rows where either is missing are counted, not
scored. The two columns are kept in memory (8 bytes a value for numbers) until the report is
made.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from modeltel._outcome_metrics import PerformanceReport, performance_report

__all__ = ["Performance"]

#: The figures the report shows, in order, with their names.
FIGURES = {
    "accuracy": "accuracy",
    "f1": "macro F1",
    "precision": "macro precision",
    "recall": "macro recall",
    "roc_auc": "ROC AUC",
    "pr_auc": "PR AUC",
    "log_loss": "log loss",
    "brier": "Brier score",
    "mae": "mean absolute error",
    "rmse": "root mean squared error",
    "bias": "bias (mean error)",
    "r2": "R²",
    "label_drift_distance": "label drift (distance)",
    "label_drift_pvalue": "label drift (p-value)",
}


@dataclass
class Performance:
    """Predictions and targets gathered over chunks; :meth:`metrics` scores them."""

    task: str = ""
    #: The baseline's label counts (its ``performance.labels``): the label drift test.
    reference_labels: dict[str, float] | None = None
    rows: int = 0
    missing: int = 0
    #: Why nothing was scored (several prediction columns, ...), else "".
    skipped: str = ""
    _predictions: list[np.ndarray] = field(default_factory=list, repr=False)
    _targets: list[np.ndarray] = field(default_factory=list, repr=False)
    _probabilities: list[np.ndarray] = field(default_factory=list, repr=False)
    _report: PerformanceReport | None = field(default=None, repr=False)
    _binary_scores: bool = False

    def add(self, predictions: Any, targets: Any) -> None:
        p = np.asarray(predictions)
        t = np.asarray(targets)
        probabilities = None
        if p.ndim == 2 and p.dtype.kind == "f" and p.shape[1] == 2:
            p = p[:, 1]  # a binary predict_proba: the positive class's score
        elif p.ndim == 2 and p.dtype.kind == "f" and p.shape[1] > 2 and t.ndim == 1 and not self._binary_scores:
            if self.task and not self._probabilities:
                self.skipped = "chunks of different prediction shapes"
                return
            probabilities = p
            with np.errstate(invalid="ignore"):
                p = np.where(np.isnan(p).any(axis=1), np.nan, np.argmax(np.nan_to_num(p, nan=-1.0), axis=1).astype(float))
        if p.ndim != 1 or t.ndim != 1:
            self.skipped = "only one prediction and one target column are scored"
            return
        if p.shape != t.shape:
            self.skipped = f"{p.size} predictions but {t.size} targets"
            return
        if not self.task:  # decided by the first chunk: one task per report
            self._binary_scores = probabilities is None and _is_score(p) and _is_binary(t)
            self.task = "classification" if self._binary_scores or probabilities is not None else _task(p, t)
        ok = ~(_missing(p) | _missing(t))
        if probabilities is not None:
            self._probabilities.append(probabilities[ok])
        self._predictions.append(p[ok] if probabilities is None else p[ok].astype(np.int64))
        self._targets.append(t[ok])
        self.rows += int(ok.sum())
        self.missing += int(p.size - ok.sum())
        self._report = None

    def report(self) -> PerformanceReport | None:
        if not self.rows:
            return None
        if self._report is None:
            p = np.concatenate(self._predictions)
            t = np.concatenate(self._targets)
            labels = self.reference_labels if self.task == "classification" else None
            if self._binary_scores:
                scores = p.astype(np.float64)
                self._report = performance_report(
                    (t.astype(np.float64) >= 0.5).astype(np.int64), (scores >= 0.5).astype(np.int64),
                    scores=scores, positive="1", task="classification", reference_labels=labels,
                )
            elif self._probabilities:
                self._report = performance_report(t, p, task="classification", reference_labels=labels,
                                                  probabilities=np.concatenate(self._probabilities))
            else:
                self._report = performance_report(t, p, task=self.task, reference_labels=labels)
        return self._report

    def metrics(self) -> dict[str, float]:
        """The figures that apply to this task (no NaN), in :data:`FIGURES` order."""
        r = self.report()
        if r is None:
            return {}
        values = {
            "accuracy": r.accuracy,
            "f1": r.macro.get("f1", math.nan),
            "precision": r.macro.get("precision", math.nan),
            "recall": r.macro.get("recall", math.nan),
            "roc_auc": r.roc_auc,
            "pr_auc": r.pr_auc,
            "log_loss": r.log_loss,
            "brier": r.brier,
            "mae": r.mae,
            "rmse": r.rmse,
            "bias": r.bias,
            "r2": r.r2,
            "label_drift_distance": r.label_drift_distance,
            "label_drift_pvalue": r.label_drift_pvalue,
        }
        return {k: float(v) for k, v in values.items() if v is not None and math.isfinite(v)}

    def to_dict(self) -> dict[str, Any]:
        r = self.report()
        out: dict[str, Any] = {"task": self.task, "rows": self.rows, "missing": self.missing, "skipped": self.skipped}
        out.update(self.metrics())
        if r is not None and r.classes:
            out["classes"] = r.classes
        if r is not None and math.isfinite(r.roc_auc_error_bound):
            out["roc_auc_error_bound"] = float(r.roc_auc_error_bound)
        if r is not None and math.isfinite(r.pr_auc_error_bound):
            out["pr_auc_error_bound"] = float(r.pr_auc_error_bound)
        return out


def _missing(a: np.ndarray) -> np.ndarray:
    if a.dtype.kind == "f":
        return np.isnan(a)
    if a.dtype.kind == "O":
        return np.asarray([v is None or (isinstance(v, float) and v != v) for v in a], dtype=bool)
    return np.zeros(a.shape, dtype=bool)


def _numeric(a: np.ndarray) -> bool:
    return a.dtype.kind in "iuf"


def _integral(a: np.ndarray) -> bool:
    if a.dtype.kind in "iu":
        return True
    if a.dtype.kind != "f":
        return False
    finite = a[np.isfinite(a)]
    return bool(np.all(finite == np.round(finite)))


def _is_score(a: np.ndarray) -> bool:
    if a.dtype.kind != "f":
        return False
    finite = a[np.isfinite(a)]
    return bool(finite.size) and bool(np.all((finite >= 0) & (finite <= 1))) and not _integral(a)


def _is_binary(a: np.ndarray) -> bool:
    if a.dtype.kind == "b":
        return True
    if not _numeric(a):
        return False
    values = np.unique(a[np.isfinite(a.astype(np.float64))])
    return bool(values.size) and set(values.tolist()) <= {0, 1}


def _task(p: np.ndarray, t: np.ndarray) -> str:
    """Class labels (strings, bools, integer-valued numbers) or values."""
    if not (_numeric(p) and _numeric(t)):
        return "classification"
    return "classification" if _integral(p) and _integral(t) else "regression"
