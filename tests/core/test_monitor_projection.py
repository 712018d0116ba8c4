"""@monitor(baseline=...) with multivariate projections: rows projected and binned as features."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import modeltel
from modeltel._baseline import Baseline, ProductionHistograms
from modeltel.testing import capture


@pytest.fixture(scope="module")
def baseline():
    rng = np.random.default_rng(11)
    n = 4000
    train = pd.DataFrame({"a": rng.normal(0, 1, n), "b": rng.normal(5, 2, n), "c": rng.exponential(1.0, n),
                          "country": rng.choice(["NL", "DE"], n)})
    return Baseline.from_data(train, model="mv", version="1")


def _points(data, name):
    return [p for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics if m.name == name
            for p in m.data.data_points]


def _window(rng, n):
    return pd.DataFrame({"a": rng.normal(0, 1, n), "b": rng.normal(5, 2, n), "c": rng.exponential(1.0, n),
                         "country": rng.choice(["NL", "DE"], n)})


@pytest.mark.parametrize(("single_rows", "rows"), [(False, 300), (False, 3000), (True, 300)],
                         ids=["batch", "large batch", "single rows"])
def test_projections_go_out_as_input_features_equal_to_the_offline_histograms(baseline, single_rows, rows):
    """Batches and buffered single rows give the projection histograms drift_report computes
    offline (ProductionHistograms), on the baseline's edges, tagged with its id; the reference
    histograms go out in-band; no min/max leaves, and a row with a null is counted missing."""
    rng = np.random.default_rng(12)
    window = _window(rng, rows)
    window.loc[:4, "b"] = np.nan

    @modeltel.monitor(model="mv", version="1", baseline=baseline)
    def predict(X):
        return [0.5] * len(X)

    with capture() as cap:
        if single_rows:
            for rec in window.to_dict("records"):
                predict(rec)
        else:
            predict(window)
        data = cap.distributions()
    offline = ProductionHistograms(baseline)
    offline.add(window)
    expected = offline.histograms()
    points = {p.attributes["ml.feature.name"]: p for p in _points(data, "ml.feature.value")}
    for name, fb in baseline.projection.features.items():
        p = points[name]
        assert p.attributes["ml.feature.role"] == "input" and p.attributes["ml.baseline.id"] == baseline.id
        assert list(p.explicit_bounds) == pytest.approx(fb.edges)
        assert list(p.bucket_counts) == expected[name].counts.astype(int).tolist()
        assert sum(p.bucket_counts) == rows - 5
        assert p.min is None or math.isnan(p.min)  # privacy: no min/max of a projection either
    missing = {p.attributes["ml.feature.name"]: p.value for p in _points(data, "ml.feature.missing")}
    assert all(missing[name] == 5 for name in baseline.projection.names)
    in_band = {p.attributes["ml.feature.name"]: p for p in _points(data, "ml.baseline.feature.value")}
    assert list(in_band["__projection_0__"].bucket_counts) == baseline.projection.features["__projection_0__"].counts


def test_a_batch_without_a_projected_column_skips_every_row(baseline):
    @modeltel.monitor(model="mv", version="1", baseline=baseline)
    def predict(X):
        return [0.5] * len(X)

    with capture() as cap:
        predict(pd.DataFrame({"a": [1.0, 2.0], "country": ["NL", "DE"]}))
        data = cap.distributions()
    missing = {p.attributes["ml.feature.name"]: p.value for p in _points(data, "ml.feature.missing")}
    assert missing["__projection_0__"] == 2
