"""@monitor(baseline=...): explicit buckets on the baseline's edges, in-band baseline, schema checks."""

from __future__ import annotations

import logging

import numpy as np
import pytest

import modeltel
from modeltel._baseline import Baseline
from modeltel.testing import capture


@pytest.fixture(scope="module")
def baseline_path(tmp_path_factory):
    rng = np.random.default_rng(3)
    n = 5_000
    train = [
        {"amount": float(a), "age": float(g), "country": c}
        for a, g, c in zip(rng.gamma(2.0, 30.0, n), rng.normal(40, 10, n), rng.choice(["NL", "DE", "FR"], n))
    ]
    baseline = Baseline.from_data(
        train, model="fraud", version="3.1.0", predictions=rng.uniform(0, 1, n), categorical=["country"]
    )
    path = tmp_path_factory.mktemp("baseline") / "fraud.json"
    baseline.save(path)
    return path


def _metrics(data, name):
    return [
        m
        for rm in data.resource_metrics
        for sm in rm.scope_metrics
        for m in sm.metrics
        if m.name == name
    ]


def test_numeric_features_go_out_on_the_baseline_edges_with_the_baseline_in_band(baseline_path):
    baseline = Baseline.load(baseline_path)

    @modeltel.monitor(model="fraud", version="3.1.0", baseline=baseline_path)
    def predict(X):
        return [0.5] * len(X)

    with capture() as cap:
        predict([{"amount": 10.0, "age": 30.0, "country": "NL"}] * 20)
        data = cap.distributions()
    (feature_metric,) = _metrics(data, "ml.feature.value")
    amount = [p for p in feature_metric.data.data_points if p.attributes["ml.feature.name"] == "amount"]
    assert amount, "no histogram for amount"
    assert list(amount[0].explicit_bounds) == pytest.approx(baseline.features["amount"].edges)
    assert amount[0].attributes["ml.baseline.id"] == baseline.id
    assert sum(amount[0].bucket_counts) == 20
    (in_band,) = _metrics(data, "ml.baseline.feature.value")
    ids = {p.attributes["ml.baseline.id"] for p in in_band.data.data_points}
    assert ids == {baseline.id}
    reference = next(p for p in in_band.data.data_points if p.attributes["ml.feature.name"] == "amount")
    assert list(reference.bucket_counts) == baseline.features["amount"].counts


def test_schema_violations_are_counted_per_feature_and_check(baseline_path):
    @modeltel.monitor(model="fraud", version="3.1.0", baseline=baseline_path)
    def predict(X):
        return [0.5] * len(X)

    with capture() as cap:
        result = predict(
            [
                {"amount": 1e9, "country": "XX", "extra": 1.0},  # out of range, unseen, missing age, unexpected
                {"amount": None, "country": "NL", "extra": 2.0},
            ]
        )
    assert result == [0.5, 0.5]
    counts = {
        (p.attributes["ml.feature.name"], p.attributes["ml.data_quality.check"]): p.value
        for p in cap.metric_points("ml.data_quality.violations")
    }
    assert counts[("amount", "out_of_range")] == 1
    assert counts[("amount", "null")] == 1
    assert counts[("country", "unseen_category")] == 1
    assert counts[("age", "missing_feature")] == 2
    assert counts[("extra", "unexpected_feature")] == 2


def test_outlier_rows_are_flagged_on_the_span_when_asked(baseline_path):
    @modeltel.monitor(model="fraud", version="3.1.0", baseline=baseline_path, flag_outliers=True)
    def predict(X):
        return [0.5] * len(X)

    with capture() as cap:
        predict([{"amount": 50.0, "age": 40.0, "country": "NL"}, {"amount": 1e6, "age": 40.0, "country": "NL"}])
    (span,) = cap.spans
    assert span.attributes["ml.data_quality.outlier_rows"] == 1


def test_a_baseline_file_that_cannot_be_loaded_is_logged_and_monitoring_goes_on(tmp_path, caplog):
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with caplog.at_level(logging.ERROR, logger="modeltel"):

        @modeltel.monitor(model="fraud", baseline=broken)
        def predict(X):
            return 1

    assert any(str(broken) in r.getMessage() for r in caplog.records)
    with capture() as cap:
        assert predict([1.0, 2.0]) == 1
    assert len(cap.spans) == 1
