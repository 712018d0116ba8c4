"""performance_report: the collector's figures offline, held to the shared vectors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import modeltel
from modeltel._outcome_metrics import score_bins

VECTORS = sorted((Path(__file__).resolve().parents[1] / "vectors" / "performance").glob("*.json"))


@pytest.mark.parametrize("path", VECTORS, ids=lambda p: p.stem)
def test_shared_vectors(path):
    """Every figure equals scikit-learn's to 1e-9 (the Go connector is held to the same file);
    ROC AUC from histograms is within its stated bound and 0.005 of the exact one."""
    v = json.loads(path.read_text())
    rows, want = v["rows"], v["expected"]
    r = modeltel.performance_report(np.array(rows["actual"]), np.array(rows["predicted"]),
                                    scores=rows.get("score"), task=v["task"], reference_labels=v.get("reference_labels"),
                                    probabilities=rows.get("probabilities"), probability_classes=v.get("probability_classes"))
    for name in ("accuracy", "log_loss", "brier", "calibration_error", "mae", "mape", "rmse", "bias", "r2",
                 "label_drift_pvalue", "label_drift_distance"):
        if name in want:
            assert getattr(r, name) == pytest.approx(want[name], abs=1e-9), name
    for cls, w in want.get("classes", {}).items():
        for m in ("precision", "recall", "f1"):
            assert r.classes[cls][m] == pytest.approx(w[m], abs=1e-9), (cls, m)
        assert r.classes[cls]["support"] == w["support"]
    for m, w in want.get("macro", {}).items():
        assert r.macro[m] == pytest.approx(w, abs=1e-9), m
    if "residual_counts" in want:
        assert r.residual_counts == want["residual_counts"]
    if "pr_auc" in want:
        assert r.pr_auc == pytest.approx(want["pr_auc_tied_in_slots"], abs=1e-9)
        assert abs(r.pr_auc - want["pr_auc"]) <= r.pr_auc_error_bound + 1e-12
    if "roc_auc" in want:
        assert abs(r.roc_auc - want["roc_auc"]) <= r.roc_auc_error_bound + 1e-12
        assert abs(r.roc_auc - want["roc_auc"]) < 0.005


def test_score_bins_match_the_go_slots():
    """The slots of the Go TestBinsIndex cases, with the default grid's ends."""
    s = np.array([0.0, -1.0, 1.0, 2.0, 0.5, 1 / (1 + np.exp(11)), 1 / (1 + np.exp(-11))])
    assert score_bins(s).tolist() == [0, 0, 201, 201, 101, 0, 201]


def test_bad_shapes_are_a_clear_error():
    with pytest.raises(ValueError, match="1-D of one length"):
        modeltel.performance_report([1, 0], [1])


@pytest.mark.parametrize("k", [2, 5])
def test_multiclass_log_loss_and_brier_equal_scikit_learn(k):
    """performance_report(probabilities=) gives scikit-learn's log_loss and brier_score_loss over
    the given columns (Brier halved below three columns, as its scale_by_half="auto"), including
    probabilities of exactly 0 and 1."""
    from sklearn import metrics

    rng = np.random.default_rng(k)
    proba = rng.dirichlet(np.ones(k), 400)
    proba[:3] = np.eye(k)[0]
    classes = [f"c{i}" for i in range(k)]
    actual = np.array(classes)[rng.integers(0, k, 400)]
    predicted = np.array(classes)[np.argmax(proba, axis=1)]
    r = modeltel.performance_report(actual, predicted, probabilities=proba, probability_classes=classes)
    assert r.log_loss == pytest.approx(metrics.log_loss(actual, proba, labels=classes), abs=1e-9)
    assert r.brier == pytest.approx(metrics.brier_score_loss(actual, proba, labels=classes), abs=1e-9)


def test_probabilities_of_the_wrong_shape_are_a_clear_error():
    with pytest.raises(ValueError, match="probability_classes"):
        modeltel.performance_report(["a", "b"], ["a", "a"], probabilities=[[0.5, 0.5], [0.4, 0.6]],
                                    probability_classes=["a", "b", "c"])
