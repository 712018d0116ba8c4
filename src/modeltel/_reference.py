"""The reference performance a baseline carries: its validation figures and calibration.

``Baseline.from_data(X, predictions=..., targets=...)`` scores the predictions against the
targets with :func:`modeltel.performance_report` (the collector's rules) and keeps, in the
baseline file's ``performance`` section (docs/baseline-format.md):

- ``metrics``: accuracy, macro F1, ROC AUC, log loss, Brier (classifiers) or MAE, RMSE
  (regressors);
- ``labels``: the count of each actual label (classifiers), the label drift test's reference;
- ``calibration``, for a binary classifier's scores: equal-mass score bins, each as its mean
  score and its observed positive rate (a piecewise-linear map, the shape of the connector's
  ``calibration:`` config).

With ``outcomes=True`` and such a baseline (and no ``reference=``), the SDK sends the
reference and the calibration on the first joinable record of the process and then once every
30 s (the connector keeps them per version, in its storage), tagged as the baseline's
(``ml.performance.reference.source``): the mlperformance connector then judges the window
against the baseline's accuracy or MAE and estimates performance before labels with its
calibration, unless its own config names either for the model.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from modeltel import _registry
from modeltel import _semconv as sc
from modeltel._outcomes import SEPARATOR

__all__ = ["ReferenceGatherer", "check_performance", "wire_attributes"]

#: Calibration bins at most, and rows per bin at least (fewer rows: fewer bins).
CALIBRATION_BINS = 20
CALIBRATION_MIN_ROWS = 50
#: The figures kept per task (performance_report attribute -> file key).
_CLASSIFICATION = ("accuracy", "f1", "roc_auc", "log_loss", "brier")
_REGRESSION = ("mae", "rmse")


class ReferenceGatherer:
    """Predictions and targets over the chunks of ``Baseline.from_data`` (first pass only)."""

    def __init__(self) -> None:
        from modeltel._performance import Performance  # noqa: PLC0415 - _performance imports _outcomes

        self._performance = Performance()

    def add(self, predictions: Any, targets: Any) -> None:
        if predictions is None or targets is None:
            return
        p = np.asarray(predictions)
        if p.ndim == 2 and p.shape[1] == 2 and p.dtype.kind == "f":
            p = p[:, 1]  # predict_proba of a binary classifier: the positive class's score
        self._performance.add(p, targets)

    def finish(self) -> dict[str, Any] | None:
        """The ``performance`` section, or None when nothing could be scored."""
        perf = self._performance
        report = perf.report()
        if report is None or perf.skipped:
            return None
        names = _REGRESSION if perf.task == "regression" else _CLASSIFICATION
        values = {"f1": report.macro.get("f1", math.nan)}
        metrics = {}
        for name in names:
            v = values.get(name, getattr(report, name, math.nan))
            if v is not None and math.isfinite(v):
                metrics[name] = float(v)
        out: dict[str, Any] = {"task": perf.task, "rows": perf.rows, "metrics": metrics}
        if perf.task == "classification":  # the label drift test's reference
            out["labels"] = {c: int(v["support"]) for c, v in report.classes.items() if v["support"] > 0}
        if perf._binary_scores:  # noqa: SLF001 - the gatherer's own Performance
            scores = np.concatenate(perf._predictions).astype(np.float64)  # noqa: SLF001
            positive = np.concatenate(perf._targets).astype(np.float64) >= 0.5  # noqa: SLF001
            out["positive_class"] = "1"
            if scores.size >= CALIBRATION_MIN_ROWS:  # a bin's mean score never describes a few rows
                out["calibration"] = calibration(scores, positive)
        return out


def calibration(scores: np.ndarray, positive: np.ndarray) -> dict[str, list[float]]:
    """Equal-mass score bins as (mean score, observed positive rate, rows), by ascending score.

    Ties never straddle two bins (a bin ends where the score changes), so the mean scores
    ascend strictly.
    """
    order = np.argsort(scores, kind="stable")
    s, y = scores[order], positive[order]
    n = s.size
    bins = max(1, min(CALIBRATION_BINS, n // CALIBRATION_MIN_ROWS))
    cuts = [0]
    for i in range(1, bins):
        at = int(np.searchsorted(s, s[(i * n) // bins], side="left"))
        if at > cuts[-1]:
            cuts.append(at)
    cuts.append(n)
    out: dict[str, list[float]] = {"scores": [], "probabilities": [], "counts": []}
    for lo, hi in zip(cuts[:-1], cuts[1:]):
        if hi > lo:
            out["scores"].append(float(np.mean(s[lo:hi])))
            out["probabilities"].append(float(np.mean(y[lo:hi])))
            out["counts"].append(hi - lo)
    return out


def check_performance(d: Any, where: str) -> dict[str, Any] | None:
    """A file's ``performance`` section, checked (ValueError says what is wrong), or None."""
    if d is None:
        return None
    if not isinstance(d, Mapping) or d.get("task") not in ("classification", "regression"):
        raise ValueError(f"{where}: performance needs a task 'classification' or 'regression'")
    labels = d.get("labels", {})
    if not isinstance(labels, Mapping) or not all(isinstance(v, (int, float)) and v >= 0 for v in labels.values()):
        raise ValueError(f"{where}: performance.labels must map labels to counts")
    metrics = d.get("metrics", {})
    if not isinstance(metrics, Mapping) or not all(isinstance(v, (int, float)) for v in metrics.values()):
        raise ValueError(f"{where}: performance.metrics must map names to numbers")
    cal = d.get("calibration")
    if cal is not None:
        scores, probs = cal.get("scores", []), cal.get("probabilities", [])
        if len(scores) != len(probs) or any(b < a for a, b in zip(scores, scores[1:])) or any(
            not 0 <= p <= 1 for p in probs
        ):
            raise ValueError(f"{where}: performance.calibration needs ascending scores and probabilities in [0, 1]")
    return dict(d)


#: Seconds between two records of a process that carry a baseline's reference: the connector
#: keeps what it got per version (in its storage), and the attributes cost ~1 bare span a record.
RESEND_EVERY = 30.0

_WIRE: dict[str, dict[str, Any]] = {}
_SENT: dict[str, float] = {}


def _clear() -> None:
    _WIRE.clear()
    _SENT.clear()


_registry.register("reference.wire", fork=_clear, reset=_clear)


def wire_attributes(baseline: Any) -> dict[str, Any]:
    """The attributes of a baseline's reference for this call's joinable record(s): on the
    first call of the process and then once every :data:`RESEND_EVERY` seconds, else none."""
    if baseline is None or getattr(baseline, "performance", None) is None:
        return {}
    now = time.monotonic()
    if now - _SENT.get(baseline.id, -math.inf) < RESEND_EVERY:
        return {}
    if len(_SENT) > 64:  # a handful of baselines per process; never unbounded
        _clear()
    _SENT[baseline.id] = now
    cached = _WIRE.get(baseline.id)
    if cached is not None:
        return cached
    perf = baseline.performance
    attrs: dict[str, Any] = {}
    for metric, attr in (("accuracy", sc.ATTR_REFERENCE_ACCURACY), ("mae", sc.ATTR_REFERENCE_MAE)):
        if metric in perf.get("metrics", {}):
            attrs[attr] = float(perf["metrics"][metric])
    labels = perf.get("labels")
    if labels:
        attrs[sc.ATTR_REFERENCE_LABELS] = SEPARATOR.join(labels)
        attrs[sc.ATTR_REFERENCE_LABEL_COUNTS] = np.asarray(list(labels.values()), dtype="<f8").tobytes()
    cal = perf.get("calibration")
    if cal and cal.get("scores"):
        attrs[sc.ATTR_CALIBRATION_SCORES] = np.asarray(cal["scores"], dtype="<f8").tobytes()
        attrs[sc.ATTR_CALIBRATION_PROBABILITIES] = np.asarray(cal["probabilities"], dtype="<f8").tobytes()
    if attrs:
        attrs[sc.ATTR_REFERENCE_SOURCE] = sc.REFERENCE_SOURCE_BASELINE
    _WIRE[baseline.id] = attrs
    return attrs
