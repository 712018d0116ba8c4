"""Model performance of local data for the offline report: predictions next to their targets.

The report has the rows, so when it is given both it scores the model row by row: accuracy
for class labels (scores in [0, 1] against 0/1 targets are labels at 0.5), mean absolute and
root mean squared error for values. The names follow the ``ml.performance.*`` metrics of the
collector's performance connector (accuracy, mae). Only one prediction and one target column
are scored; rows where either is missing are counted, not scored.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Performance"]


@dataclass
class Performance:
    """Running accuracy (classification) or MAE/RMSE (regression) over chunks."""

    task: str = ""
    rows: int = 0
    missing: int = 0
    correct: int = 0
    abs_error: float = 0.0
    sq_error: float = 0.0
    #: Why nothing was scored (several prediction columns, ...), else "".
    skipped: str = ""

    def add(self, predictions: Any, targets: Any) -> None:
        p = np.asarray(predictions)
        t = np.asarray(targets)
        if p.ndim != 1 or t.ndim != 1:
            self.skipped = "only one prediction and one target column are scored"
            return
        if p.shape != t.shape:
            self.skipped = f"{p.size} predictions but {t.size} targets"
            return
        task = _task(p, t)
        if self.task and task != self.task:
            task = self.task  # decided by the first chunk: one task per report
        self.task = task
        if task == "regression":
            pf, tf = p.astype(np.float64), t.astype(np.float64)
            ok = np.isfinite(pf) & np.isfinite(tf)
            err = pf[ok] - tf[ok]
            self.abs_error += float(np.abs(err).sum())
            self.sq_error += float((err * err).sum())
        else:
            ok = ~(_missing(p) | _missing(t))
            if _is_score(p) and _is_binary(t):
                hits = (p[ok].astype(np.float64) >= 0.5) == (t[ok].astype(np.float64) >= 0.5)
            else:
                hits = np.asarray([_label(a) == _label(b) for a, b in zip(p[ok], t[ok])], dtype=bool)
            self.correct += int(hits.sum())
        scored = int(ok.sum())
        self.rows += scored
        self.missing += int(p.size - scored)

    def metrics(self) -> dict[str, float]:
        if not self.rows:
            return {}
        if self.task == "regression":
            return {"mae": self.abs_error / self.rows, "rmse": math.sqrt(self.sq_error / self.rows)}
        return {"accuracy": self.correct / self.rows}

    def to_dict(self) -> dict[str, Any]:
        return {"task": self.task, "rows": self.rows, "missing": self.missing, "skipped": self.skipped, **self.metrics()}


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
    """Class labels (strings, bools, integer-valued numbers, scores against 0/1) or values."""
    if not (_numeric(p) and _numeric(t)):
        return "classification"
    if _is_score(p) and _is_binary(t):
        return "classification"
    return "classification" if _integral(p) and _integral(t) else "regression"


def _label(v: Any) -> str:
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return str(int(v))
    return str(v)
