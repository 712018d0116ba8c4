"""Generate the shared performance test vectors (tests/vectors/performance/*.json).

Each vector is a list of joined rows (actual, predicted class, positive-class score; or
actual and predicted value) and the figures scikit-learn computes from them. The Go
connector (src/mlperformanceconnector/internal/perf) must reproduce every figure to 1e-9,
and its ROC AUC from score histograms must lie within its stated binning error of the exact
AUC and within 0.005 of it. Run from the repository root with the test virtualenv:

    .venv/bin/python tests/vectors/generate_performance_vectors.py
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from scipy import stats
from sklearn import metrics

OUT = Path(__file__).parent / "performance"
RESIDUAL_BOUNDS = sorted({s * m * 10.0**k for k in range(-3, 6) for m in (1, 2, 5) for s in (1, -1)} | {0.0, 1e6, -1e6})


def classification(name: str, y: np.ndarray, score: np.ndarray | None, pred: np.ndarray,
                   reference_labels: dict[str, int] | None = None) -> None:
    labels = sorted(set(y.tolist()) | set(pred.tolist()))
    p, r, f, s = metrics.precision_recall_fscore_support(y, pred, labels=labels, zero_division=0)
    expected = {
        "accuracy": metrics.accuracy_score(y, pred),
        "classes": {
            str(c): {"precision": p[i], "recall": r[i], "f1": f[i], "support": int(s[i])}
            for i, c in enumerate(labels)
        },
        "macro": {
            "precision": float(np.mean(p)),
            "recall": float(np.mean(r)),
            "f1": metrics.f1_score(y, pred, labels=labels, average="macro", zero_division=0),
        },
    }
    rows = {"actual": [str(v) for v in y.tolist()], "predicted": [str(v) for v in pred.tolist()]}
    if score is not None:
        positive = (y == 1).astype(int)
        expected |= {
            "log_loss": metrics.log_loss(positive, score, labels=[0, 1]),
            "brier": metrics.brier_score_loss(positive, score),
            "roc_auc": metrics.roc_auc_score(positive, score),
            "calibration_error": calibration_error(positive, score),
            "pr_auc": metrics.average_precision_score(positive, score),
            # The histogram's AP: scikit-learn's on the scores' slots (a slot's scores tied).
            "pr_auc_tied_in_slots": metrics.average_precision_score(positive, slots(score)),
        }
        rows["score"] = score.tolist()
    vector = {"task": "classification", "positive": "1", "rows": rows, "expected": expected}
    if reference_labels:
        # Label drift: scipy's chi-squared goodness of fit of the actual labels against the
        # reference shares (labels in either), and the total variation distance.
        names = sorted(set(reference_labels) | {str(v) for v in y.tolist()})
        observed = np.array([np.sum(y.astype(str) == n) for n in names], dtype=float)
        ref = np.array([reference_labels.get(n, 0) for n in names], dtype=float)
        expected["label_drift_pvalue"] = stats.chisquare(observed, observed.sum() * ref / ref.sum()).pvalue
        expected["label_drift_distance"] = float(np.abs(ref / ref.sum() - observed / observed.sum()).sum() / 2)
        vector["reference_labels"] = reference_labels
    write(name, vector)


def multiclass_probabilities(name: str, y: np.ndarray, proba: np.ndarray, columns: list[str]) -> None:
    """A multiclass classifier with every class's probability per row (ml.prediction.probabilities):
    log loss and Brier by scikit-learn over the given columns, the predicted class the argmax."""
    pred = np.array(columns)[np.argmax(proba, axis=1)]
    labels = sorted(set(y.tolist()) | set(pred.tolist()))
    p, r, f, s = metrics.precision_recall_fscore_support(y, pred, labels=labels, zero_division=0)
    expected = {
        "accuracy": metrics.accuracy_score(y, pred),
        "classes": {c: {"precision": p[i], "recall": r[i], "f1": f[i], "support": int(s[i])} for i, c in enumerate(labels)},
        "macro": {"precision": float(np.mean(p)), "recall": float(np.mean(r)),
                  "f1": metrics.f1_score(y, pred, labels=labels, average="macro", zero_division=0)},
        "log_loss": metrics.log_loss(y, proba, labels=columns),
        "brier": metrics.brier_score_loss(y, proba, labels=columns),
    }
    rows = {"actual": y.tolist(), "predicted": pred.tolist(), "probabilities": proba.tolist()}
    write(name, {"task": "classification", "positive": "1", "probability_classes": columns, "rows": rows,
                 "expected": expected})


def slots(score: np.ndarray, bins: int = 200, limit: float = 10.0) -> np.ndarray:
    """The connector's histogram slot of each score: 200 bins uniform in logit(score) over
    [-10, 10] plus one below and one above (docs/outcomes.md)."""
    with np.errstate(divide="ignore"):
        logit = np.log(score) - np.log1p(-score)
    idx = np.where(score <= 0, 0, np.where(score >= 1, bins + 1,
                   np.clip(np.floor((logit + limit) / (2 * limit) * bins).astype(int) + 1, 0, bins + 1)))
    return np.where((score > 0) & (score < 1) & (logit < -limit), 0, idx)


def calibration_error(positive: np.ndarray, score: np.ndarray, bins: int = 200) -> float:
    """Expected calibration error over the connector's histogram slots, computed here from
    the definition: sum over slots of |sum of scores - positives| / rows."""
    idx = slots(score, bins)
    gap = sum(abs(score[idx == b].sum() - positive[idx == b].sum()) for b in range(bins + 2))
    return float(gap / score.size)


def regression(name: str, y: np.ndarray, pred: np.ndarray) -> None:
    expected = {
        "mae": metrics.mean_absolute_error(y, pred),
        "rmse": float(np.sqrt(metrics.mean_squared_error(y, pred))),
        "bias": float(np.mean(pred - y)),
        "r2": metrics.r2_score(y, pred),
        "mape": metrics.mean_absolute_percentage_error(y, pred),
        # The residual histogram over the connector's bounds (docs/outcomes.md), counted here.
        "residual_counts": np.histogram(pred - y, bins=[-np.inf, *RESIDUAL_BOUNDS, np.inf])[0].tolist(),
    }
    write(name, {"task": "regression", "rows": {"actual": y.tolist(), "predicted": pred.tolist()},
                 "expected": expected})


def write(name: str, data: dict) -> None:
    def plain(o):  # numpy scalars to JSON numbers
        if isinstance(o, dict):
            return {k: plain(v) for k, v in o.items()}
        if isinstance(o, list):
            return [plain(v) for v in o]
        return o.item() if hasattr(o, "item") else o

    (OUT / f"{name}.json").write_text(json.dumps(plain(data), indent=1) + "\n")


def main() -> None:
    OUT.mkdir(exist_ok=True)
    rng = np.random.default_rng(16)
    # A calibrated logistic classifier: y ~ Bernoulli(sigmoid(z)), score = sigmoid(z).
    z = rng.normal(0, 2.5, 3000)
    score = 1 / (1 + np.exp(-z))
    y = (rng.random(3000) < score).astype(int)
    classification("binary_calibrated", y, score, (score >= 0.5).astype(int), reference_labels={"0": 700, "1": 300})
    # Scores piled near 0 and 1 (a confident model), with mistakes.
    z = rng.normal(0, 7, 2000)
    score = 1 / (1 + np.exp(-z))
    y = np.where(rng.random(2000) < 0.85, (z > 0).astype(int), (z <= 0).astype(int))
    classification("binary_confident", y, score, (score >= 0.5).astype(int))
    # A small binary case with ties and a score of exactly 0 and 1.
    y = np.array([0, 0, 1, 1, 0, 1, 1, 0])
    score = np.array([0.0, 0.3, 0.3, 0.8, 0.8, 1.0, 0.6, 0.1])
    classification("binary_ties", y, score, (score >= 0.5).astype(int))
    # Three classes, labels only; one class never predicted, one never actual.
    y = rng.choice([0, 1, 2, 3], 500, p=[0.5, 0.3, 0.2, 0.0])
    pred = np.where(rng.random(500) < 0.7, y, rng.choice([0, 1, 3], 500))
    classification("multiclass", y, None, pred, reference_labels={"0": 480, "1": 320, "2": 200})
    # Regression with a bias.
    y = rng.normal(100, 20, 1000)
    regression("regression", y, y + rng.normal(2, 5, 1000))
    # Four classes with every class's probability (softmax of noisy logits), columns in
    # scikit-learn's order; one class almost never predicted, some probabilities exactly 0 and 1.
    columns = ["bus", "car", "tram", "walk"]
    logits = rng.normal(0, 1.5, (1500, 4)) + np.array([0.5, 0.3, 0.0, -1.5])
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y = np.array([rng.choice(4, p=row) for row in proba])
    proba[:5] = [[1.0, 0.0, 0.0, 0.0]] * 5  # confident rows, two of them wrong (clipped log loss)
    y[:5] = [0, 0, 0, 1, 3]
    multiclass_probabilities("multiclass_probabilities", np.array(columns)[y], proba, columns)


if __name__ == "__main__":
    main()
