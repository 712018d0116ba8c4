"""The baseline carries the validation performance and calibration, and joinable records send it."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics

import modeltel
from modeltel import _outcomes
from modeltel.testing import capture


def _data(n=4000, seed=3):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"x": rng.normal(size=n), "region": rng.choice(["eu", "us"], size=n)})
    score = 1 / (1 + np.exp(-(1.5 * X["x"].to_numpy() + rng.normal(0, 0.5, n))))
    # Miscalibrated on purpose: the true positive rate is score**2, so calibration must show it.
    y = (rng.random(n) < score**2).astype(int)
    return X, score, y


def test_from_data_stores_scikit_learns_figures_and_an_observed_calibration(tmp_path):
    X, score, y = _data()
    b = modeltel.Baseline.from_data(X, model="fraud", version="1", predictions=np.column_stack([1 - score, score]),
                                    targets=y)
    perf = b.performance
    pred = (score >= 0.5).astype(int)
    assert perf["task"] == "classification" and perf["rows"] == len(y)
    m = perf["metrics"]
    assert m["accuracy"] == pytest.approx(metrics.accuracy_score(y, pred), abs=1e-9)
    assert m["f1"] == pytest.approx(metrics.f1_score(y, pred, average="macro"), abs=1e-9)
    assert m["log_loss"] == pytest.approx(metrics.log_loss(y, score), abs=1e-9)
    assert m["brier"] == pytest.approx(metrics.brier_score_loss(y, score), abs=1e-9)
    assert m["roc_auc"] == pytest.approx(metrics.roc_auc_score(y, score), abs=0.005)
    assert perf["labels"] == {"0": int(np.sum(y == 0)), "1": int(np.sum(y == 1))}
    cal = perf["calibration"]
    assert sum(cal["counts"]) == len(y) and len(cal["scores"]) == 20
    assert all(a < b for a, b in zip(cal["scores"], cal["scores"][1:]))
    # Each bin's rate is the observed positive rate of its rows (recomputed from the bin edges).
    order = np.argsort(score, kind="stable")
    edges = np.cumsum([0, *cal["counts"]])
    for i in range(len(cal["counts"])):
        rows = order[edges[i]:edges[i + 1]]
        assert cal["probabilities"][i] == pytest.approx(y[rows].mean(), abs=1e-12)
        assert cal["scores"][i] == pytest.approx(score[rows].mean(), abs=1e-12)
    # Miscalibration shows: the bins' rates sit below their scores (rate ~ score**2).
    assert np.mean(np.array(cal["probabilities"]) < np.array(cal["scores"])) > 0.8

    path = b.save(tmp_path / "b.json")
    again = modeltel.Baseline.load(path)
    assert again.performance == perf and again.id == b.id


def test_regression_baseline_stores_mae_and_rmse():
    rng = np.random.default_rng(1)
    X = pd.DataFrame({"x": rng.normal(size=500)})
    y = rng.normal(10, 2, 500)
    p = y + rng.normal(0, 1, 500)
    b = modeltel.Baseline.from_data(X, model="price", version="1", predictions=p, targets=y)
    assert b.performance["task"] == "regression" and "calibration" not in b.performance
    assert b.performance["metrics"]["mae"] == pytest.approx(metrics.mean_absolute_error(y, p), abs=1e-9)
    assert b.performance["metrics"]["rmse"] == pytest.approx(np.sqrt(metrics.mean_squared_error(y, p)), abs=1e-9)


def test_a_file_without_performance_loads_unchanged_and_a_bad_section_is_refused(tmp_path):
    X, score, y = _data(500)
    old = modeltel.Baseline.from_data(X, model="fraud", version="1", predictions=score)
    d = old.to_dict()
    assert "performance" not in d and old.performance is None  # no targets: the old format, the old id
    assert modeltel.Baseline.from_dict(json.loads(json.dumps(d))).id == old.id
    new = modeltel.Baseline.from_data(X, model="fraud", version="1", predictions=score, targets=y).to_dict()
    new["performance"]["calibration"]["probabilities"][0] = 1.5
    with pytest.raises(modeltel.BaselineError, match="calibration"):
        modeltel.Baseline.from_dict(new)


def test_joinable_records_carry_the_baselines_reference_unless_one_is_given():
    X, score, y = _data(1000)
    b = modeltel.Baseline.from_data(X, model="fraud", version="1", predictions=score, targets=y)

    def model(frame):
        return 1 / (1 + np.exp(-1.5 * frame["x"].to_numpy()))

    from_baseline = modeltel.monitor(model="fraud", version="1", baseline=b, outcomes=True)(model)
    explicit = modeltel.monitor(model="fraud", version="1", baseline=b, outcomes=True, reference={"accuracy": 0.5})(model)
    with capture() as cap:
        from_baseline(X.head(3))
        explicit(X.head(3))
        from_baseline(X.head(3))  # within RESEND_EVERY: the connector already has it
    recs = [r.log_record.attributes for r in cap.otel_logs if "ml.outcome.keys" in (r.log_record.attributes or {})]
    assert len(recs) == 3
    first, second, third = recs
    assert "ml.performance.reference.accuracy" not in third and "ml.performance.calibration.scores" not in third
    assert first["ml.performance.reference.accuracy"] == b.performance["metrics"]["accuracy"]
    assert first["ml.performance.reference.source"] == "baseline"
    assert _outcomes.unpack(first["ml.performance.calibration.scores"]) == b.performance["calibration"]["scores"]
    assert _outcomes.unpack(first["ml.performance.calibration.probabilities"]) == b.performance["calibration"]["probabilities"]
    assert _outcomes.unpack(first["ml.performance.reference.labels"]) == ["0", "1"]
    assert _outcomes.unpack(first["ml.performance.reference.label_counts"]) == [float(np.sum(y == 0)), float(np.sum(y == 1))]
    assert second["ml.performance.reference.accuracy"] == 0.5
    assert "ml.performance.reference.source" not in second and "ml.performance.calibration.scores" not in second
