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


#: The vectors' methods by what they are called with: named params; the two histograms'
#: counts; the counts and the vector's epsilon; the two histograms; the critical values' totals,
#: occupied reference bins and alpha.
_ON_PARAMS = {
    "benjamini_hochberg": (_drift.benjamini_hochberg, ("pvalues",)),
    "holm": (_drift.holm, ("pvalues",)),
    "rate_pvalue": (_drift.rate_pvalue, ("x", "m", "y", "n")),
    "outside_pvalue": (_drift.outside_pvalue, ("x", "m", "n")),
    "effect_floor": (_drift.effect_floor, ("n", "m", "scale")),
}
_ON_COUNTS = {f.__name__: f for f in (_drift.jensen_shannon, _drift.ks_statistic, _drift.linf, _drift.rank_sum_pvalue)}
_ON_COUNTS_EPSILON = {f.__name__: f for f in (_drift.psi, _drift.chi2_pvalue)}
_ON_HISTOGRAMS = {f.__name__: f for f in (_drift.wasserstein, _drift.wasserstein_normalized)}
_CRITICAL = {f.__name__: f for f in (_drift.psi_critical, _drift.js_critical)}


def compute(v: dict):
    method = v["method"]
    params = v["params"]
    if method in _ON_PARAMS:
        f, names = _ON_PARAMS[method]
        return f(*(params[name] for name in names))
    if method == "calibrated_model":
        return calibrated_model(params)
    if method == "sequential_evalue":
        return [_sequential.log_evalue(p) for p in params["pvalues"]]
    if method == "sequential_cusum":
        return sequential_cusum(params)
    ref, prod = _hist(v, "reference"), _hist(v, "production")
    rc, pc = ref.counts, prod.counts
    if method in _ON_COUNTS:
        return _ON_COUNTS[method](rc, pc)
    if method in _ON_COUNTS_EPSILON:
        return _ON_COUNTS_EPSILON[method](rc, pc, params["epsilon"])
    if method in _ON_HISTOGRAMS:
        return _ON_HISTOGRAMS[method](ref, prod)
    if method in _CRITICAL:
        return _CRITICAL[method](rc.sum(), pc.sum(), int(np.count_nonzero(rc > 0)), params["alpha"])
    if method == "ks_pvalue":
        return _drift.ks_pvalue(_drift.ks_statistic(rc, pc), rc.sum(), pc.sum())
    if method == "reference_std":
        return _drift.reference_mean_std(ref.bounds, rc, ref.min, ref.max)[1]
    if method in ("chi2_contingency_pvalue", "chi2_contingency_effect"):
        p, rg, pg = _drift.chi2_two_sample(rc, pc, ordered=params["ordered"], min_expected=params["min_expected"])
        if method.endswith("pvalue"):
            return p
        return _drift.max_cohen_h(rg, pg) if rg.size > 1 else 0.0
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
