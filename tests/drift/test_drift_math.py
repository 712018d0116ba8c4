"""Special functions and verdict rules of modeltel._drift (docs/drift-math.md)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import special, stats

from modeltel import _drift
from modeltel._drift import DriftConfig, Histogram


@pytest.mark.parametrize("a", [0.5, 1.0, 2.5, 12.0, 49.5, 300.0])
def test_gammaincc_matches_scipy_across_the_range(a):
    """Our regularized upper incomplete gamma agrees with scipy.special.gammaincc to 1e-12."""
    for x in np.concatenate([np.linspace(0.0, 4 * a + 20, 97), [1e-8, a, a + 1, 1e4]]):
        assert abs(_drift.gammaincc(a, float(x)) - special.gammaincc(a, x)) < 1e-12, (a, x)


def test_kolmogorov_sf_matches_scipy_on_both_branches():
    """The 10-term Kolmogorov survival function agrees with scipy.special.kolmogorov to 1e-13."""
    for lam in np.concatenate([np.linspace(0.0, 4.0, 401), [0.999999, 1.0, 1.000001, 8.0]]):
        assert abs(_drift.kolmogorov_sf(float(lam)) - special.kolmogorov(lam)) < 1e-13, lam


@pytest.mark.parametrize("df", [1, 2, 4, 24, 99])
@pytest.mark.parametrize("alpha", [0.05, 0.01, 1e-4])
def test_chi2_isf_matches_scipy(df, alpha):
    """The bisection chi-squared quantile agrees with scipy.stats.chi2.isf to 1e-11 relative."""
    assert _drift.chi2_isf(alpha, df) == pytest.approx(stats.chi2.isf(alpha, df), rel=1e-11)


def _normal_hist(rng, bounds, n, loc=0.0, scale=1.0):
    x = rng.normal(loc, scale, n)
    idx = np.searchsorted(bounds, x, side="left")
    return Histogram.numeric(bounds, np.bincount(idx, minlength=len(bounds) + 1), x.min(), x.max())


BOUNDS = np.quantile(np.random.default_rng(0).normal(size=50000), np.linspace(0.05, 0.95, 19))


def test_small_window_is_insufficient_data_never_drift():
    """Below min_samples a feature gets scores but the verdict insufficient_data, even when shifted."""
    rng = np.random.default_rng(1)
    ref = {"x": _normal_hist(rng, BOUNDS, 20000)}
    prod = {"x": _normal_hist(rng, BOUNDS, 300, loc=3.0)}
    result = _drift.evaluate(ref, prod, DriftConfig(mode="fixed"))
    fd = result.features[0]
    assert fd.verdict == "insufficient_data"
    assert fd.scores["psi"] > 1.0
    assert result.verdict == "insufficient_data"


def test_shift_drifts_and_same_distribution_does_not():
    """A 1-sigma mean shift is drift; a window from the reference distribution is not."""
    rng = np.random.default_rng(2)
    ref = {"a": _normal_hist(rng, BOUNDS, 20000), "b": _normal_hist(rng, BOUNDS, 20000)}
    prod = {"a": _normal_hist(rng, BOUNDS, 5000, loc=1.0), "b": _normal_hist(rng, BOUNDS, 5000)}
    result = _drift.evaluate(ref, prod)
    by_name = {fd.name: fd for fd in result.features}
    assert by_name["a"].verdict == "drift"
    assert by_name["b"].verdict == "no_drift"
    assert result.features[0].name == "a"  # most drifted first
    assert result.verdict == "drift"  # 1 of 2 features >= half
    assert "rank_sum_qvalue" in by_name["b"].scores


def test_wasserstein_gate_blocks_tiny_but_significant_shift():
    """A huge window makes a 0.05-sigma shift KS-significant; the effect-size gate keeps it no_drift."""
    rng = np.random.default_rng(3)
    ref = {"x": _normal_hist(rng, BOUNDS, 400000)}
    prod = {"x": _normal_hist(rng, BOUNDS, 400000, loc=0.05)}
    fd = _drift.evaluate(ref, prod, DriftConfig(mode="fixed")).features[0]
    assert fd.scores["ks_qvalue"] < 0.05
    assert fd.scores["wasserstein_normalized"] < 0.1
    assert fd.verdict == "no_drift"


def test_categorical_uses_chi2_below_1000_rows_and_js_above():
    """Categoricals: chi-squared decides below chi2_max_rows, Jensen-Shannon at or above."""
    cats = ["a", "b", "c"]
    ref = {"c": Histogram.categorical(cats, [5000, 3000, 2000, 0])}
    small = {"c": Histogram.categorical(cats, [400, 300, 200, 30])}  # unseen values in __other__
    fixed = DriftConfig(mode="fixed")
    fd = _drift.evaluate(ref, small, fixed).features[0]
    assert fd.verdict == "drift" and "chi-squared" in fd.reasons[0]
    big = {"c": Histogram.categorical(cats, [5100, 2950, 1950, 0])}
    fd = _drift.evaluate(ref, big, fixed).features[0]
    assert fd.verdict == "no_drift" and "chi2_qvalue" not in fd.scores


def test_per_feature_override_changes_only_that_feature():
    """overrides={'a': {...}} applies to feature a only; an unknown setting is a clear error."""
    rng = np.random.default_rng(4)
    ref = {n: _normal_hist(rng, BOUNDS, 20000) for n in "ab"}
    prod = {n: _normal_hist(rng, BOUNDS, 5000, loc=1.0) for n in "ab"}
    cfg = DriftConfig(mode="fixed", overrides={"a": {"psi_threshold": 100.0, "wasserstein_threshold": 100.0}})
    by_name = {fd.name: fd.verdict for fd in _drift.evaluate(ref, prod, cfg).features}
    assert by_name == {"a": "no_drift", "b": "drift"}
    with pytest.raises(ValueError, match="psi_treshold"):
        DriftConfig(overrides={"a": {"psi_treshold": 1}})


def test_adaptive_thresholds_shrink_with_window_size():
    """In adaptive mode the PSI threshold is (1/N+1/M) * chi2 quantile: smaller for bigger windows."""
    rng = np.random.default_rng(5)
    ref = {"x": _normal_hist(rng, BOUNDS, 20000)}
    cfg = DriftConfig(mode="adaptive")
    t = []
    for m in (1000, 10000):
        fd = _drift.evaluate(ref, {"x": _normal_hist(rng, BOUNDS, m)}, cfg).features[0]
        expected = (1 / 20000 + 1 / m) * stats.chi2.isf(0.01, 19)
        assert fd.scores["psi_threshold"] == pytest.approx(expected, rel=1e-10)
        t.append(fd.scores["psi_threshold"])
    assert t[1] < t[0]


def test_outputs_do_not_count_towards_dataset_drift():
    """A drifting prediction feature gets a verdict but not the dataset verdict."""
    rng = np.random.default_rng(6)
    ref = {"x": _normal_hist(rng, BOUNDS, 20000), "prediction": _normal_hist(rng, BOUNDS, 20000)}
    prod = {"x": _normal_hist(rng, BOUNDS, 3000), "prediction": _normal_hist(rng, BOUNDS, 3000, loc=2.0)}
    result = _drift.evaluate(ref, prod, outputs=["prediction"])
    assert {fd.name: fd.verdict for fd in result.features} == {"x": "no_drift", "prediction": "drift"}
    assert result.verdict == "no_drift" and result.evaluated == 1


def test_std_zero_reference_gives_infinite_normalised_wasserstein():
    """A constant reference (std 0) against a different window gives W = inf, not a crash."""
    ref = Histogram.numeric([1.0], [100, 0], 1.0, 1.0)
    prod = Histogram.numeric([1.0], [50, 50], 0.5, 2.0)
    assert math.isinf(_drift.wasserstein_normalized(ref, prod))
    assert _drift.wasserstein_normalized(ref, ref) == 0.0


@pytest.mark.parametrize("m", [500, 5000])
def test_adaptive_psi_threshold_keeps_false_alarms_near_target(m):
    """Under no drift, PSI exceeds psi_critical(alpha=0.05) in about 5% of windows (chi-squared
    approximation): checked on 600 multinomial windows, accepted band 2.5%..9%."""
    rng = np.random.default_rng(m)
    probs = np.full(24, 1 / 24)
    n = 5000
    crit = _drift.psi_critical(n, m, 24, 0.05)
    hits = 0
    for _ in range(600):
        ref_i = rng.multinomial(n, probs)
        prod = rng.multinomial(m, probs)
        hits += _drift.psi(ref_i, prod) >= crit
    assert 0.025 <= hits / 600 <= 0.09, hits / 600


# --------------------------------------------------------------------------- calibrated mode


def _cat(rng: np.random.Generator, probs: list[float], n: int, nulls: int = 0) -> Histogram:
    counts = rng.multinomial(n, probs)
    return Histogram.categorical([f"c{i}" for i in range(len(probs) - 1)], counts, nulls=nulls)


def test_calibrated_is_the_default_and_gives_verdicts_from_50_values():
    """DriftConfig() is calibrated with min_samples 50: 40 rows are insufficient, 60 shifted rows drift."""
    assert DriftConfig().mode == "calibrated" and DriftConfig().min_samples == 50
    assert DriftConfig(mode="fixed").min_samples == 500
    rng = np.random.default_rng(11)
    ref = {"x": _normal_hist(rng, BOUNDS, 5000)}
    assert _drift.evaluate(ref, {"x": _normal_hist(rng, BOUNDS, 40, loc=2.0)}).features[0].verdict == "insufficient_data"
    fd = _drift.evaluate(ref, {"x": _normal_hist(rng, BOUNDS, 60, loc=2.0)}).features[0]
    assert fd.verdict == "drift" and "rank_sum" in fd.reason_codes
    assert {t.rule for t in fd.tests} >= {"rank_sum", "chi2_contingency"}


def test_calibrated_null_rate_rise_is_drift_with_reason_null_rate():
    """Nulls 0 -> 5% of 1,000 rows drift with reason null_rate while the values are unchanged."""
    rng = np.random.default_rng(12)
    probs = [0.5, 0.3, 0.2, 0.0]
    ref = {"c": _cat(rng, probs, 5000)}
    fd = _drift.evaluate(ref, {"c": _cat(rng, probs, 950, nulls=50)}).features[0]
    assert fd.verdict == "drift" and fd.reason_codes == ["null_rate"]
    fd = _drift.evaluate(ref, {"c": _cat(rng, probs, 1000)}).features[0]
    assert fd.verdict == "no_drift" and "null_rate" not in {t.rule for t in fd.tests}


def test_calibrated_new_category_at_1_percent_has_no_cliff():
    """A label unseen in training on 1% of rows drifts at 500, 999, 1,000 and 20,000 rows (unseen_category)."""
    rng = np.random.default_rng(13)
    ref = {"c": _cat(rng, [0.5, 0.3, 0.2, 0.0], 5000)}
    for m in (500, 999, 1000, 20000):
        fd = _drift.evaluate(ref, {"c": _cat(rng, [0.495, 0.297, 0.198, 0.01], m)}).features[0]
        assert fd.verdict == "drift", m
        assert "unseen_category" in fd.reason_codes, m


def test_calibrated_effect_floor_blocks_a_trivial_shift_in_a_huge_window():
    """0.012 sigma at 1M/1M rows is significant but below the floor 0.5 * n_eff**-0.25; 0.1 sigma at 20k is drift."""
    rng = np.random.default_rng(14)
    ref = {"x": _normal_hist(rng, BOUNDS, 1_000_000)}
    fd = _drift.evaluate(ref, {"x": _normal_hist(rng, BOUNDS, 1_000_000, loc=0.012)}).features[0]
    ks = next(t for t in fd.tests if t.rule == "rank_sum")
    assert ks.pvalue < 1e-4 and ks.effect < ks.floor
    assert fd.verdict == "no_drift"
    ref = {"x": _normal_hist(rng, BOUNDS, 5000)}
    assert _drift.evaluate(ref, {"x": _normal_hist(rng, BOUNDS, 20000, loc=0.1)}).features[0].verdict == "drift"


def test_calibrated_family_level_is_capped_per_feature():
    """One feature: level feature_alpha (0.01); ten features: alpha (0.05); Holm q-values over all rules."""
    rng = np.random.default_rng(15)
    one = _drift.evaluate({"x": _normal_hist(rng, BOUNDS, 1000)}, {"x": _normal_hist(rng, BOUNDS, 1000)})
    assert one.features[0].tests[0].alpha == pytest.approx(0.01)
    refs = {f"x{i}": _normal_hist(rng, BOUNDS, 1000) for i in range(10)}
    prods = {f"x{i}": _normal_hist(rng, BOUNDS, 1000) for i in range(10)}
    res = _drift.evaluate(refs, prods)
    tests = [t for fd in res.features for t in fd.tests]
    assert all(t.alpha == pytest.approx(0.05) for t in tests)
    ps = sorted(t.pvalue for t in tests)
    assert min(t.qvalue for t in tests) == pytest.approx(min(1.0, ps[0] * len(tests)))


@pytest.mark.parametrize("n,m", [(100, 50), (1000, 500), (5000, 20000)])
def test_calibrated_any_feature_false_alarm_rate_stays_at_most_5_percent(n, m):
    """No drift, 12 mixed features: the share of evaluations with any feature flagged is <= 5% (+ noise)."""
    rng = np.random.default_rng(16 + n + m)
    probs = [0.4, 0.3, 0.15, 0.1, 0.05, 0.0]
    alarms = 0
    trials = 150
    for _ in range(trials):
        refs, prods = {}, {}
        for i in range(6):
            refs[f"n{i}"], prods[f"n{i}"] = _normal_hist(rng, BOUNDS, n), _normal_hist(rng, BOUNDS, m)
            refs[f"c{i}"], prods[f"c{i}"] = _cat(rng, probs, n), _cat(rng, probs, m)
        alarms += any(fd.drifted for fd in _drift.evaluate(refs, prods).features)
    # 5% of 150 = 7.5; binomial(150, 0.05) exceeds 15 with probability < 0.2%.
    assert alarms <= 15, alarms
