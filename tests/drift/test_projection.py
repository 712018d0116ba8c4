"""Multivariate projections in the baseline (format version 2) and the multivariate verdict."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import modeltel
from modeltel import _drift
from modeltel._baseline import Baseline, BaselineError, ProductionHistograms

DATA = Path(__file__).parent / "data"
VECTORS = sorted((Path(__file__).parents[1] / "vectors" / "multivariate").glob("*.json"))


def frame(rng: np.random.Generator, n: int, rho: float = 0.0) -> pd.DataFrame:
    a = rng.normal(0, 1, n)
    b = rho * a + np.sqrt(1 - rho * rho) * rng.normal(0, 1, n)
    return pd.DataFrame({"a": a, "b": b, "c": rng.exponential(1.0, n), "d": rng.uniform(0, 1, n),
                         "color": rng.choice(["red", "green", "blue"], n)})


def report(baseline: Baseline, window: pd.DataFrame) -> _drift.DatasetDrift:
    prod = ProductionHistograms(baseline)
    prod.add(window)
    return _drift.evaluate(baseline.histograms(), prod.histograms())


def test_a_file_written_by_the_previous_format_still_loads_with_the_same_id():
    """tests/drift/data/baseline_v1.json was written by modeltel before projections existed:
    it loads, has no projection, and the same data built without projections gives the same id."""
    old = Baseline.load(DATA / "baseline_v1.json")
    assert old.schema_version == 1 and old.projection is None
    rng = np.random.default_rng(7)
    n = 300
    a = rng.normal(0, 1, n)
    X = pd.DataFrame({"a": a, "b": 0.6 * a + 0.8 * rng.normal(0, 1, n), "c": rng.exponential(1.0, n),
                      "color": rng.choice(["red", "green", "blue"], n)})
    again = Baseline.from_data(X, model="fixture", version="1", predictions=rng.random(n), projections=False)
    assert again.schema_version == 1 and again.id == old.id
    assert report(old, X).multivariate is None


def test_projections_are_saved_as_schema_version_2_and_load_unchanged(tmp_path):
    """A baseline with projections is format 2; save/load keeps the projection and the id."""
    b = Baseline.from_data(frame(np.random.default_rng(1), 2000), model="m", version="1")
    assert b.schema_version == 2 and b.projection is not None
    assert b.projection.columns == ["a", "b", "c", "d"]
    # 4 columns: all 4 principal components, then the 6 pairs' minor axes.
    assert b.projection.kinds == ["pc"] * 4 + ["pair"] * 6
    assert list(b.projection.features) == [f"__projection_{i}__" for i in range(10)]
    assert b.projection.fit_rows + b.projection.reference_rows == 2000
    loaded = Baseline.load(b.save(tmp_path / "b.json"))
    assert loaded.id == b.id and loaded.schema_version == 2
    assert loaded.projection.to_dict() == b.projection.to_dict()
    assert set(loaded.histograms()) >= set(b.projection.features)


def test_projection_count_can_be_capped_or_turned_off():
    X = frame(np.random.default_rng(2), 500)
    assert len(Baseline.from_data(X, model="m", version="1", projections=3).projection.names) == 3
    assert Baseline.from_data(X, model="m", version="1", projections=False).projection is None
    one = pd.DataFrame({"x": np.arange(100.0), "k": ["a"] * 100})
    assert Baseline.from_data(one, model="m", version="1").projection is None  # one numeric column


def test_a_damaged_projection_or_a_newer_format_is_refused(tmp_path):
    b = Baseline.from_data(frame(np.random.default_rng(3), 400), model="m", version="1")
    d = b.to_dict()
    d["projection"]["directions"][0] = d["projection"]["directions"][0][:-1]
    with pytest.raises(BaselineError, match="one weight per column"):
        Baseline.from_dict(d)
    d = b.to_dict()
    d["schema_version"] = 3
    with pytest.raises(BaselineError, match="newer modeltel"):
        Baseline.from_dict(d)


def test_a_correlation_break_with_unchanged_margins_is_multivariate_drift_and_nothing_else():
    """rho 0 -> 0.8 between a and b: no input feature drifts (margins are unchanged), the
    multivariate verdict does; the same traffic without the break is no_drift."""
    rng = np.random.default_rng(4)
    b = Baseline.from_data(frame(rng, 5000), model="m", version="1")
    broken = report(b, frame(rng, 1000, rho=0.8))
    assert broken.multivariate == "drift"
    assert [fd.name for fd in broken.features if fd.drifted and fd.role == "input"] == []
    assert broken.verdict == "no_drift"  # projections do not count towards the dataset share
    same = report(b, frame(rng, 1000))
    assert same.multivariate == "no_drift"
    assert not any(fd.drifted for fd in same.features)


def test_rows_with_a_null_in_a_projected_column_are_skipped_and_counted():
    rng = np.random.default_rng(5)
    b = Baseline.from_data(frame(rng, 1000), model="m", version="1")
    window = frame(rng, 200)
    window.loc[:9, "c"] = np.nan
    prod = ProductionHistograms(b)
    prod.add(window)
    h = prod.histograms()["__projection_0__"]
    assert h.total == 190 and h.nulls == 10


def test_projected_values_are_the_standardised_rows_times_the_directions():
    rng = np.random.default_rng(6)
    b = Baseline.from_data(frame(rng, 1000), model="m", version="1")
    p = b.projection
    x = rng.normal(size=(5, 4))
    values, skipped = p.project(x)
    z = (x - np.asarray(p.mean)) / np.asarray(p.scale)
    np.testing.assert_allclose(values, z @ np.asarray(p.directions).T, rtol=1e-12, atol=1e-12)
    assert skipped == 0


def _multivariate_model(params: dict) -> list[float]:
    ref, prod = {}, {}
    for f in params["features"]:
        ref[f["name"]] = _drift.Histogram.numeric(f["bounds"], f["reference"], nulls=f["ref_nulls"])
        prod[f["name"]] = _drift.Histogram.numeric(f["bounds"], f["production"], nulls=f["prod_nulls"])
    cfg = _drift.DriftConfig(alpha=params["alpha"], feature_alpha=params["feature_alpha"],
                             effect_floor=params["effect_floor"], min_expected=params["min_expected"],
                             min_samples=params["min_samples"])
    result = _drift.evaluate(ref, prod, cfg)
    code = {"drift": 1.0, "no_drift": 0.0, "insufficient_data": -1.0}
    by_name = {fd.name: fd for fd in result.features}
    out: list[float] = []
    for f in params["features"]:
        fd = by_name[f["name"]]
        out.append(code[fd.verdict])
        if fd.verdict != "insufficient_data":
            out += [t.qvalue for t in fd.tests]
    return out + [code[result.verdict], code[result.multivariate]]


@pytest.mark.parametrize("path", VECTORS, ids=[p.stem for p in VECTORS])
def test_multivariate_vector_matches_to_1e_9(path: Path):
    """The shared multivariate vectors (scipy-generated; Go checks the same files)."""
    v = json.loads(path.read_text())
    got, want = _multivariate_model(v["params"]), v["expected"]
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert abs(g - w) <= 1e-9 * max(1.0, abs(w)), (v["name"], got, want)


def test_there_are_multivariate_vectors_for_drift_no_drift_and_insufficient_data():
    outcomes = {json.loads(p.read_text())["expected"][-1] for p in VECTORS}
    assert outcomes == {1.0, 0.0, -1.0}


def test_a_user_column_with_a_reserved_projection_name_is_refused():
    X = pd.DataFrame({"__projection_0__": np.arange(10.0), "x": np.arange(10.0)})
    with pytest.raises(BaselineError, match="reserved"):
        modeltel.Baseline.from_data(X, model="m", version="1")


def test_the_cli_builds_projections_and_reports_the_multivariate_verdict(tmp_path):
    """`modeltel baseline create` writes the projections (--projections 0: none) and
    `modeltel drift report` prints the multivariate verdict for a correlation break."""
    from click.testing import CliRunner

    from modeltel.cli import main

    rng = np.random.default_rng(8)
    frame(rng, 3000).to_csv(tmp_path / "train.csv", index=False)
    frame(rng, 1000, rho=0.8).to_csv(tmp_path / "prod.csv", index=False)
    runner = CliRunner()
    made = runner.invoke(main, ["baseline", "create", str(tmp_path / "train.csv"), "--model", "m", "--version", "1",
                                "-o", str(tmp_path / "b.json")])
    assert made.exit_code == 0, made.output
    assert "10 projection(s)" in made.output
    none = runner.invoke(main, ["baseline", "create", str(tmp_path / "train.csv"), "--model", "m", "--version", "1",
                                "--projections", "0", "-o", str(tmp_path / "b0.json")])
    assert none.exit_code == 0 and Baseline.load(tmp_path / "b0.json").projection is None
    report = runner.invoke(main, ["drift", "report", "--baseline", str(tmp_path / "b.json"), "--data",
                                  str(tmp_path / "prod.csv"), "-o", str(tmp_path / "r.html")])
    assert report.exit_code == 0, report.output
    assert "multivariate: drift (" in report.output
    assert "__projection_" not in report.output.split("multivariate:")[1].split("\n", 1)[1]
