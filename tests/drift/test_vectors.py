"""The Python drift math agrees with every shared vector (tests/vectors/drift) to 1e-9.

The vectors' expected values were computed by tests/vectors/generate_drift_vectors.py with
scipy and exact arithmetic, never with modeltel; the Go processor checks the same files.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from modeltel import _drift, _sequential

VECTOR_DIR = Path(__file__).resolve().parents[1] / "vectors" / "drift"
VECTORS = sorted(VECTOR_DIR.glob("*.json"))


def _hist(v: dict, side: str) -> _drift.Histogram:
    h = v[side]
    if v["kind"] == "categorical":
        return _drift.Histogram.categorical(v["categories"], h["counts"])
    return _drift.Histogram.numeric(v["bounds"], h["counts"], h["min"], h["max"])


def compute(v: dict):
    method = v["method"]
    params = v["params"]
    if method == "benjamini_hochberg":
        return _drift.benjamini_hochberg(params["pvalues"])
    if method == "holm":
        return _drift.holm(params["pvalues"])
    if method == "rate_pvalue":
        return _drift.rate_pvalue(params["x"], params["m"], params["y"], params["n"])
    if method == "outside_pvalue":
        return _drift.outside_pvalue(params["x"], params["m"], params["n"])
    if method == "effect_floor":
        return _drift.effect_floor(params["n"], params["m"], params["scale"])
    if method == "calibrated_model":
        return calibrated_model(params)
    if method == "sequential_evalue":
        return [_sequential.log_evalue(p) for p in params["pvalues"]]
    if method == "sequential_cusum":
        return sequential_cusum(params)
    ref, prod = _hist(v, "reference"), _hist(v, "production")
    rc, pc = ref.counts, prod.counts
    if method == "psi":
        return _drift.psi(rc, pc, params["epsilon"])
    if method == "jensen_shannon":
        return _drift.jensen_shannon(rc, pc)
    if method == "ks_statistic":
        return _drift.ks_statistic(rc, pc)
    if method == "ks_pvalue":
        return _drift.ks_pvalue(_drift.ks_statistic(rc, pc), rc.sum(), pc.sum())
    if method == "wasserstein":
        return _drift.wasserstein(ref, prod)
    if method == "wasserstein_normalized":
        return _drift.wasserstein_normalized(ref, prod)
    if method == "reference_std":
        return _drift.reference_mean_std(ref.bounds, rc, ref.min, ref.max)[1]
    if method == "chi2_pvalue":
        return _drift.chi2_pvalue(rc, pc, params["epsilon"])
    if method == "linf":
        return _drift.linf(rc, pc)
    if method == "rank_sum_pvalue":
        return _drift.rank_sum_pvalue(rc, pc)
    if method in ("chi2_contingency_pvalue", "chi2_contingency_effect"):
        p, rg, pg = _drift.chi2_two_sample(rc, pc, ordered=params["ordered"], min_expected=params["min_expected"])
        if method.endswith("pvalue"):
            return p
        return _drift.max_cohen_h(rg, pg) if rg.size > 1 else 0.0
    bins = int(np.count_nonzero(rc > 0))
    if method == "psi_critical":
        return _drift.psi_critical(rc.sum(), pc.sum(), bins, params["alpha"])
    if method == "js_critical":
        return _drift.js_critical(rc.sum(), pc.sum(), bins, params["alpha"])
    raise AssertionError(f"unknown method {method}")


def calibrated_model(params: dict) -> list[float]:
    """Per feature: verdict (1, 0, -1 for insufficient_data), then each rule's Holm q-value."""
    ref, prod = {}, {}
    for f in params["features"]:
        if f["kind"] == "numeric":
            ref[f["name"]] = _drift.Histogram.numeric(f["bounds"], f["reference"], nulls=f["ref_nulls"])
            prod[f["name"]] = _drift.Histogram.numeric(
                f["bounds"], f["production"], nulls=f["prod_nulls"], outside=f.get("prod_outside")
            )
        else:
            tail = f.get("tail", 0)
            ref[f["name"]] = _drift.Histogram.categorical(f["categories"], f["reference"], nulls=f["ref_nulls"], tail=tail)
            prod[f["name"]] = _drift.Histogram.categorical(
                f["categories"], f["production"], nulls=f["prod_nulls"], tail=tail
            )
    cfg = _drift.DriftConfig(
        alpha=params["alpha"], feature_alpha=params["feature_alpha"], effect_floor=params["effect_floor"],
        min_expected=params["min_expected"], min_samples=params["min_samples"],
    )
    by_name = {fd.name: fd for fd in _drift.evaluate(ref, prod, cfg).features}
    out: list[float] = []
    for f in params["features"]:
        fd = by_name[f["name"]]
        out.append({"drift": 1.0, "no_drift": 0.0, "insufficient_data": -1.0}[fd.verdict])
        if fd.verdict != "insufficient_data":
            out += [t.qvalue for t in fd.tests]
    return out


def sequential_cusum(params: dict) -> list[float]:
    """Per step and feature: the e-CUSUM statistic, then its alarm (1/0), from the rules' p-values."""
    state: dict[int, tuple[float, bool]] = {}
    out: list[float] = []
    for step in params["steps"]:
        threshold = _sequential.sequential_threshold(params["arl"], len(step))
        for i, feature in enumerate(step):
            tests = [_drift.RuleTest("r", p, effect, floor) for p, effect, floor in feature["rules"]]
            stat, alarm = state.get(i, (0.0, False))
            log_e = _sequential.batch_log_evalue(tests)
            state[i] = _sequential.cusum_step(stat, alarm, log_e, threshold, bool(feature["window"]))
            out += [state[i][0], 1.0 if state[i][1] else 0.0]
    return out


def test_there_are_at_least_40_vectors_covering_every_method():
    """The vector set is big enough and exercises every method of docs/drift-math.md."""
    assert len(VECTORS) >= 40
    methods = {json.loads(p.read_text())["method"] for p in VECTORS}
    assert methods == {
        "psi", "wasserstein", "wasserstein_normalized", "reference_std", "ks_statistic",
        "ks_pvalue", "jensen_shannon", "chi2_pvalue", "linf", "psi_critical", "js_critical",
        "benjamini_hochberg", "chi2_contingency_pvalue", "chi2_contingency_effect", "rate_pvalue",
        "outside_pvalue", "effect_floor", "holm", "calibrated_model", "rank_sum_pvalue",
        "sequential_evalue", "sequential_cusum",
    }


@pytest.mark.parametrize("path", VECTORS, ids=[p.stem for p in VECTORS])
def test_vector_matches_to_1e_9(path: Path):
    """|got - expected| <= 1e-9 * max(1, |expected|) for this vector."""
    v = json.loads(path.read_text())
    got = compute(v)
    expected = v["expected"]
    if isinstance(expected, list):
        assert len(got) == len(expected)
        for g, e in zip(got, expected):
            assert abs(g - e) <= 1e-9 * max(1.0, abs(e)), (g, e)
    else:
        assert math.isfinite(got)
        assert abs(got - expected) <= 1e-9 * max(1.0, abs(expected)), (got, expected)
