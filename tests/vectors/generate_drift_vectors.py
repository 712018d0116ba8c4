"""Generate the shared drift test vectors (tests/vectors/drift/*.json).

The expected values come from computations independent of ``modeltel._drift`` (which this
script never imports): scipy.stats / scipy.special / scipy.spatial, scipy.integrate.quad and
exact rational arithmetic, applied to the model of docs/drift-math.md. Run it from the
repository root with the test virtualenv:

    .venv/bin/python tests/vectors/generate_drift_vectors.py

It rewrites every file deterministically (fixed seeds), so a diff shows what changed.
"""

from __future__ import annotations

import json
import math
from fractions import Fraction
from pathlib import Path

import numpy as np
from scipy import integrate, optimize, special, stats
from scipy.spatial.distance import jensenshannon

OUT = Path(__file__).parent / "drift"
EPS = 1e-4


# ----------------------------------------------------------------------------- helpers


def quantile_bounds(x: np.ndarray) -> list[float]:
    """Bounds like a baseline: 20 quantile bins plus tail edges (deduplicated)."""
    qs = sorted(set([0.001, 0.01, 0.99, 0.999] + [i / 20 for i in range(1, 20)]))
    return [float(v) for v in np.unique(np.round(np.quantile(x, qs), 6))]


def bucketize(bounds: list[float], x: np.ndarray) -> list[int]:
    # searchsorted(side="left") puts x in bucket i with b[i-1] < x <= b[i]: OTLP semantics.
    idx = np.searchsorted(np.asarray(bounds), x, side="left")
    return [int(v) for v in np.bincount(idx, minlength=len(bounds) + 1)]


def hist(bounds, x):
    return {"counts": bucketize(bounds, x), "min": float(np.min(x)), "max": float(np.max(x))}


def props(counts) -> np.ndarray:
    c = np.asarray(counts, dtype=float)
    return c / c.sum()


def model_supports(bounds, h):
    """Section 1.3, written out bucket by bucket."""
    k = len(bounds)
    m = h.get("min")
    big_x = h.get("max")
    m = m if m is not None and math.isfinite(m) else (bounds[0] if k else 0.0)
    big_x = big_x if big_x is not None and math.isfinite(big_x) else (bounds[-1] if k else 0.0)
    if m > big_x:
        m = big_x
    out = []
    for i in range(k + 1):
        lower = -math.inf if i == 0 else bounds[i - 1]
        upper = math.inf if i == k else bounds[i]
        lo, hi = max(lower, m), min(upper, big_x)
        if lo > hi:
            lo = hi
        out.append((lo, hi))
    return out


def model_cdf(bounds, h):
    """CDF of the piecewise-uniform mixture, built from scipy.stats.uniform."""
    sup = model_supports(bounds, h)
    c = np.asarray(h["counts"], dtype=float)
    n = c.sum()
    parts = [(ci / n, lo, hi) for ci, (lo, hi) in zip(c, sup) if ci > 0]

    def cdf(x: float) -> float:
        total = 0.0
        for w, lo, hi in parts:
            if hi > lo:
                total += w * stats.uniform(loc=lo, scale=hi - lo).cdf(x)
            elif x >= lo:
                total += w
        return total

    points = sorted({p for _, lo, hi in parts for p in (lo, hi)})
    return cdf, points, parts


def w1_quad(bounds, ref, prod) -> float:
    """W1 = integral |F_P - F_R| by scipy.integrate.quad between breakpoints and crossings."""
    fr, pr, _ = model_cdf(bounds, ref)
    fp, pp, _ = model_cdf(bounds, prod)
    xs = sorted(set(pr) | set(pp))
    total = 0.0
    for a, b in zip(xs[:-1], xs[1:]):
        d = lambda x: fp(x) - fr(x)  # noqa: E731
        # Linear inside (a, b); evaluate just inside the ends to avoid the jumps at a and b.
        ia, ib = a + (b - a) * 1e-12, b - (b - a) * 1e-12
        da, db = d(ia), d(ib)
        pieces = [(a, b)]
        if da * db < 0:
            z = optimize.brentq(d, ia, ib, xtol=1e-15 * max(1.0, abs(a), abs(b)), rtol=1e-15)
            pieces = [(a, z), (z, b)]
        for lo, hi in pieces:
            val, _ = integrate.quad(lambda x, d=d: abs(d(x)), lo, hi, epsabs=1e-15, epsrel=1e-13, limit=200)
            total += val
    return total


def w1_quantized(bounds, ref, prod, per_bucket=4000) -> float:
    """Cross-check: scipy.stats.wasserstein_distance with weights on a fine quantisation."""

    def sample(h):
        _, _, parts = model_cdf(bounds, h)
        vals, wts = [], []
        for w, lo, hi in parts:
            if hi > lo:
                grid = lo + (np.arange(per_bucket) + 0.5) / per_bucket * (hi - lo)
                vals.append(grid)
                wts.append(np.full(per_bucket, w / per_bucket))
            else:
                vals.append(np.array([lo]))
                wts.append(np.array([w]))
        return np.concatenate(vals), np.concatenate(wts)

    u, uw = sample(ref)
    v, vw = sample(prod)
    return float(stats.wasserstein_distance(u, v, uw, vw))


def ref_std_exact(bounds, ref) -> float:
    """std of the mixture of uniforms in exact rational arithmetic (E[X^2] - E[X]^2)."""
    sup = model_supports(bounds, ref)
    c = [Fraction(int(v)) for v in ref["counts"]]
    n = sum(c)
    ex = Fraction(0)
    ex2 = Fraction(0)
    for ci, (lo, hi) in zip(c, sup):
        if ci == 0:
            continue
        lo_f, hi_f = Fraction(lo), Fraction(hi)
        ex += ci / n * (lo_f + hi_f) / 2
        ex2 += ci / n * (lo_f * lo_f + lo_f * hi_f + hi_f * hi_f) / 3
    return math.sqrt(float(ex2 - ex * ex))


def psi_scipy(r_counts, p_counts) -> float:
    r = np.maximum(props(r_counts), EPS)
    p = np.maximum(props(p_counts), EPS)
    return float(np.sum(special.rel_entr(p, r)) + np.sum(special.rel_entr(r, p)))


def ks_exact(r_counts, p_counts) -> float:
    r = [int(v) for v in r_counts]
    p = [int(v) for v in p_counts]
    n, m = sum(r), sum(p)
    best = Fraction(0)
    cr = cp = 0
    for i in range(len(r) - 1):
        cr += r[i]
        cp += p[i]
        best = max(best, abs(Fraction(cp, m) - Fraction(cr, n)))
    return float(best)


def ks_pvalue_scipy(r_counts, p_counts) -> float:
    n, m = float(sum(r_counts)), float(sum(p_counts))
    d = ks_exact(r_counts, p_counts)
    return float(special.kolmogorov(math.sqrt(n * m / (n + m)) * d))


def chi2_scipy(r_counts, p_counts) -> float:
    r = np.asarray(r_counts, dtype=float)
    p = np.asarray(p_counts, dtype=float)
    keep = (r > 0) | (p > 0)
    if keep.sum() < 2:
        return 1.0
    rp = np.maximum(r[keep] / r.sum(), EPS)
    f_exp = p.sum() * rp / rp.sum()
    return float(stats.chisquare(p[keep], f_exp).pvalue)


# ----------------------------------------------------------------------------- 5 calibrated


def spec_collapse(r, p, ordered, min_expected):
    """Section 5.1 written out: groups of cells whose smaller expected count reaches min_expected."""
    r = [float(v) for v in r]
    p = [float(v) for v in p]
    n, m = sum(r), sum(p)
    cells = [i for i in range(len(r)) if r[i] + p[i] > 0]
    if not ordered:
        cells = sorted(cells, key=lambda i: (-(r[i] + p[i]), i))
    groups, cur = [], []
    for i in cells:
        cur.append(i)
        if min(n, m) * sum(r[j] + p[j] for j in cur) / (n + m) >= min_expected:
            groups.append(cur)
            cur = []
    if cur:
        if groups:
            groups[-1] = groups[-1] + cur
        else:
            groups.append(cur)
    return [sum(r[j] for j in g) for g in groups], [sum(p[j] for j in g) for g in groups]


def chi2_contingency_scipy(r, p, ordered, min_expected):
    rg, pg = spec_collapse(r, p, ordered, min_expected)
    if len(rg) < 2:
        return 1.0, rg, pg
    res = stats.chi2_contingency(np.array([rg, pg]), correction=False)
    return float(res.pvalue), rg, pg


def cohen_h_np(a, b):
    return float(abs(2 * np.arcsin(np.sqrt(a)) - 2 * np.arcsin(np.sqrt(b))))


def max_h(rg, pg):
    rp, pp = props(rg), props(pg)
    return max(cohen_h_np(x, y) for x, y in zip(pp, rp))


def rate_scipy(x, m, y, n):
    if x + y == 0:
        return 1.0
    return float(stats.hypergeom.sf(x - 1, n + m, x + y, m))


def outside_exact(x, m, n):
    """Exact rational sum of (k+1) C(n+m-k-2, n-2) / C(n+m, n) over k >= x."""
    total = Fraction(0)
    den = math.comb(n + m, n)
    for k in range(x, m + 1):
        total += Fraction((k + 1) * math.comb(n + m - k - 2, n - 2), den)
    return float(total)


def holm_loop(ps):
    """Holm step-down, literally: reject in order while p_(i) <= alpha/(n-i+1); adjusted values."""
    n = len(ps)
    order = sorted(range(n), key=lambda i: (ps[i], i))
    adj = [0.0] * n
    best = 0.0
    for rank, i in enumerate(order):
        best = max(best, min(1.0, (n - rank) * ps[i]))
        adj[i] = best
    return adj


def calibrated_case(name, kind, bounds, r_counts, p_counts, min_expected=5.0, categories=None):
    ref = {"counts": r_counts, "min": None, "max": None}
    prod = {"counts": p_counts, "min": None, "max": None}
    ordered = kind == "numeric"
    pv, rg, pg = chi2_contingency_scipy(r_counts, p_counts, ordered, min_expected)
    params = {"ordered": ordered, "min_expected": min_expected}
    add(f"{name}_chi2_contingency_pvalue", kind, "chi2_contingency_pvalue", bounds, ref, prod, pv,
        "scipy.stats.chi2_contingency(correction=False) on the cells collapsed as in 5.1", params, categories)
    add(f"{name}_chi2_contingency_effect", kind, "chi2_contingency_effect", bounds, ref, prod,
        max_h(rg, pg) if len(rg) > 1 else 0.0,
        "numpy arcsin: max Cohen's h over the collapsed cells", params, categories)


def rank_sum_scipy(r, p):
    r = np.repeat(np.arange(len(r)), np.asarray(r, dtype=np.int64))
    p = np.repeat(np.arange(len(p)), np.asarray(p, dtype=np.int64))
    if r.size == 0 or p.size == 0 or np.unique(np.concatenate([r, p])).size < 2:
        return 1.0
    return float(stats.mannwhitneyu(p, r, method="asymptotic", use_continuity=True).pvalue)


def rank_sum_case(name, bounds, r_counts, p_counts):
    ref = {"counts": r_counts, "min": None, "max": None}
    prod = {"counts": p_counts, "min": None, "max": None}
    add(f"{name}_rank_sum_pvalue", "numeric", "rank_sum_pvalue", bounds, ref, prod, rank_sum_scipy(r_counts, p_counts),
        "scipy.stats.mannwhitneyu(method='asymptotic', use_continuity=True) on the bucket indexes, expanded")


def scalar_case(name, method, params, expected, source):
    add(name, "pvalues", method, [], None, None, expected, source, params)


# ----------------------------------------------------------------------------- sequential (9)


def log_evalue_quad(p: float) -> float:
    """ln of the mixture calibrator, integral over k in (0, 1) of k p^(k-1), by quadrature (9.1)."""
    p = min(max(p, 1e-300), 1.0)
    a = -math.log(p)
    if a == 0.0:
        return math.log(0.5)
    # k p^(k-1) = k exp(-a k) / p: integrate k exp(-a k), then divide by p in logs.
    pts = [x / a for x in (1.0, 5.0, 20.0) if x / a < 1.0]
    val, _ = integrate.quad(lambda k: k * math.exp(-a * k), 0.0, 1.0, points=pts or None, epsabs=0.0,
                            epsrel=1e-13, limit=400)
    return math.log(val) + a


def sequential_expected(arl: float, steps) -> list[float]:
    """Per step, per feature: the e-CUSUM statistic then its alarm (1/0), written out (9.2)."""
    stats: dict[int, list] = {}
    out: list[float] = []
    for step in steps:
        threshold = math.log(arl * max(len(step), 1))
        for i, feature in enumerate(step):
            tests = feature["rules"]
            ps = [t[0] for t in tests]
            best = ps.index(min(ps))
            e = log_evalue_quad(min(1.0, len(tests) * ps[best]))
            if tests[best][1] < tests[best][2]:
                e = min(e, 0.0)
            stat, alarm = stats.get(i, [0.0, False])
            raw = max(stat, 0.0) + e
            if raw >= threshold:
                alarm = True
            elif alarm and e <= 0.0 and not feature["window"]:
                alarm, raw = False, 0.0
            stats[i] = [min(raw, threshold), alarm]
            out += [stats[i][0], 1.0 if alarm else 0.0]
    return out


def sequential_steps(rng: np.random.Generator) -> list:
    """Three features over 40 batches: no change, a change from batch 10 on (tiny p-values, one
    batch below the effect floor), then back to no change; the window verdict stays drift until
    batch 22, so the alarm ends after it."""
    steps = []
    for t in range(40):
        step = []
        for i in range(3):
            changed = i == 1 and 10 <= t < 18
            p = float(10.0 ** -rng.uniform(3, 9)) if changed else float(rng.uniform(0, 1))
            effect = 0.05 if (changed and t == 12) else float(rng.uniform(0.1, 0.4))
            rules = [[p, effect, 0.1], [float(rng.uniform(0, 1)), 0.3, 0.1]]
            if i == 2:
                rules.append([float(rng.uniform(0, 1)), 0.2, 0.1])
            step.append({"rules": rules, "window": 1 if (i == 1 and 14 <= t < 22) else 0})
        steps.append(step)
    return steps


# A model of features for the end-to-end calibrated verdict (5.4): rules per feature in the
# spec's order, p-values from scipy, Holm by hand.
MODEL_FEATURES = [
    {"name": "num_same", "kind": "numeric", "bounds": [-1.0, 0.0, 1.0],
     "reference": [160, 340, 340, 160], "production": [80, 170, 168, 82], "ref_nulls": 0, "prod_nulls": 0},
    {"name": "num_shift", "kind": "numeric", "bounds": [-1.0, 0.0, 1.0],
     "reference": [160, 340, 340, 160], "production": [30, 120, 210, 140], "ref_nulls": 0, "prod_nulls": 0},
    {"name": "num_nulls", "kind": "numeric", "bounds": [-1.0, 0.0, 1.0],
     "reference": [160, 340, 340, 160], "production": [80, 170, 170, 80], "ref_nulls": 2, "prod_nulls": 40},
    {"name": "discrete_outside", "kind": "numeric", "bounds": [0.5, 1.0, 2.0, 3.0],
     "reference": [0, 300, 400, 300, 0], "production": [6, 150, 200, 140, 4], "ref_nulls": 0, "prod_nulls": 0},
    {"name": "num_outside_range", "kind": "numeric", "bounds": [-1.0, 0.0, 1.0],
     "reference": [160, 340, 340, 160], "production": [90, 160, 170, 80], "ref_nulls": 0, "prod_nulls": 0,
     "prod_outside": 9},
    {"name": "cat_new", "kind": "categorical", "categories": ["a", "b", "c"],
     "reference": [500, 300, 200, 0], "production": [240, 150, 100, 10], "ref_nulls": 0, "prod_nulls": 0},
    {"name": "cat_tiny", "kind": "categorical", "categories": ["a", "b"],
     "reference": [20, 10, 0], "production": [3, 2, 0], "ref_nulls": 0, "prod_nulls": 0},
]


# Categorical features with hashed tail buckets (docs/baseline-format.md): top labels, then
# `tail` buckets, then __other__.
TAIL_FEATURES = [
    {"name": "tail_same", "kind": "categorical", "tail": 4,
     "categories": ["a", "b", "__tail_0__", "__tail_1__", "__tail_2__", "__tail_3__"],
     "reference": [2000, 1000, 510, 480, 530, 480, 0], "production": [195, 105, 52, 49, 50, 49, 0],
     "ref_nulls": 0, "prod_nulls": 0},
    {"name": "tail_moved", "kind": "categorical", "tail": 4,
     "categories": ["a", "b", "__tail_0__", "__tail_1__", "__tail_2__", "__tail_3__"],
     "reference": [2000, 1000, 510, 480, 530, 480, 0], "production": [200, 100, 150, 20, 15, 15, 0],
     "ref_nulls": 0, "prod_nulls": 0},
    {"name": "tail_grew", "kind": "categorical", "tail": 4,
     "categories": ["a", "b", "__tail_0__", "__tail_1__", "__tail_2__", "__tail_3__"],
     "reference": [2000, 1000, 510, 480, 530, 480, 0], "production": [120, 60, 85, 80, 80, 75, 0],
     "ref_nulls": 0, "prod_nulls": 0},
    {"name": "tail_new_label", "kind": "categorical", "tail": 2,
     "categories": ["x", "y", "__tail_0__", "__tail_1__"],
     "reference": [3000, 2000, 0, 0, 0], "production": [297, 196, 0, 7, 0],
     "ref_nulls": 0, "prod_nulls": 0},
]


def model_expected(features, alpha, feature_alpha, floor_scale, min_expected, min_samples):
    tests = []  # (feature index, rule, p, effect, floor)
    evaluated = []
    for fi, f in enumerate(features):
        r = np.asarray(f["reference"], dtype=float)
        p = np.asarray(f["production"], dtype=float)
        n, m = r.sum(), p.sum()
        own = []
        floor = floor_scale * (n * m / (n + m)) ** -0.25
        if f["kind"] == "numeric":
            own.append(("rank_sum", rank_sum_scipy(f["reference"], f["production"]),
                        w1_quad(f["bounds"], {"counts": f["reference"], "min": None, "max": None},
                                {"counts": f["production"], "min": None, "max": None})
                        / ref_std_exact(f["bounds"], {"counts": f["reference"], "min": None, "max": None}),
                        floor))
        pv, rg, pg = chi2_contingency_scipy(r, p, f["kind"] == "numeric", min_expected)
        own.append(("chi2_contingency", pv, max_h(rg, pg) if len(rg) > 1 else 0.0, floor))
        if f["kind"] == "numeric" and f.get("prod_outside") is not None:
            x = int(f["prod_outside"])
            if x > 0:
                own.append(("out_of_range", outside_exact(x, int(m), int(n)), cohen_h_np(x / m, 0.0), floor))
        elif f["kind"] == "numeric" and r.size >= 3 and r[0] == 0 and r[-1] == 0 and p[0] + p[-1] > 0:
            x = int(p[0] + p[-1])
            own.append(("out_of_range", outside_exact(x, int(m), int(n)), cohen_h_np(x / m, 0.0), floor))
        k = f.get("tail", 0) + 1  # tail buckets count with __other__
        if f["kind"] == "categorical" and p[-k:].sum() + r[-k:].sum() > 0:
            x, y = p[-k:].sum(), r[-k:].sum()
            own.append(("unseen_category", rate_scipy(int(x), int(m), int(y), int(n)),
                        cohen_h_np(x / m, y / n), floor))
        x, y = f["prod_nulls"], f["ref_nulls"]
        if x + y > 0:
            mm, nn = m + x, n + y
            own.append(("null_rate", rate_scipy(x, int(mm), y, int(nn)), cohen_h_np(x / mm, y / nn),
                        floor_scale * (nn * mm / (nn + mm)) ** -0.25))
        ok = m + f["prod_nulls"] >= min_samples and own
        evaluated.append(bool(ok))
        if ok:
            tests += [(fi, *t) for t in own]
    k = sum(evaluated)
    level = min(alpha, feature_alpha * k)
    q = holm_loop([t[2] for t in tests])
    out = []
    for fi in range(len(features)):
        if not evaluated[fi]:
            out.append(-1.0)
            continue
        mine = [(t, qq) for t, qq in zip(tests, q) if t[0] == fi]
        fired = any(qq < level and t[3] >= t[4] for t, qq in mine)
        out.append(1.0 if fired else 0.0)
        out += [qq for _, qq in mine]
    return out


# ----------------------------------------------------------------------------- writing

VECTORS: list[dict] = []


def add(name, kind, method, bounds, ref, prod, expected, source, params=None, categories=None):
    VECTORS.append(
        {
            "name": name,
            "kind": kind,
            "method": method,
            "bounds": bounds,
            "categories": categories,
            "reference": ref,
            "production": prod,
            "params": params or {},
            "expected": expected,
            "source": source,
        }
    )


def numeric_case(name, bounds, ref, prod, methods=None):
    methods = methods or [
        "psi", "wasserstein", "wasserstein_normalized", "reference_std",
        "ks_statistic", "ks_pvalue", "jensen_shannon",
    ]
    w1 = None
    if {"wasserstein", "wasserstein_normalized"} & set(methods):
        w1 = w1_quad(bounds, ref, prod)
        check = w1_quantized(bounds, ref, prod)
        assert abs(w1 - check) <= 1e-3 * max(1.0, abs(w1)) + 1e-6, (name, w1, check)
    for method in methods:
        if method == "psi":
            add(f"{name}_psi", "numeric", "psi", bounds, ref, prod,
                psi_scipy(ref["counts"], prod["counts"]),
                "scipy.special.rel_entr(p',r') + rel_entr(r',p') on proportions floored at 1e-4",
                {"epsilon": EPS})
        elif method == "wasserstein":
            add(f"{name}_wasserstein", "numeric", "wasserstein", bounds, ref, prod, w1,
                "scipy.integrate.quad of |F_P - F_R| (CDFs from scipy.stats.uniform mixtures) between "
                "breakpoints and brentq sign changes; cross-checked against "
                "scipy.stats.wasserstein_distance with weights on a 4000-point-per-bucket quantisation")
        elif method == "wasserstein_normalized":
            add(f"{name}_wasserstein_normalized", "numeric", "wasserstein_normalized", bounds, ref, prod,
                w1 / ref_std_exact(bounds, ref),
                "quad W1 (as 'wasserstein') / reference std in exact rational arithmetic")
        elif method == "reference_std":
            add(f"{name}_reference_std", "numeric", "reference_std", bounds, ref, prod,
                ref_std_exact(bounds, ref),
                "exact rational arithmetic (fractions): sqrt(E[X^2] - E[X]^2) of the uniform mixture")
        elif method == "ks_statistic":
            add(f"{name}_ks_statistic", "numeric", "ks_statistic", bounds, ref, prod,
                ks_exact(ref["counts"], prod["counts"]),
                "exact rational cumulative sums at the bounds")
        elif method == "ks_pvalue":
            add(f"{name}_ks_pvalue", "numeric", "ks_pvalue", bounds, ref, prod,
                ks_pvalue_scipy(ref["counts"], prod["counts"]),
                "scipy.special.kolmogorov(sqrt(nm/(n+m)) * D), D from exact cumulative sums")
        elif method == "jensen_shannon":
            add(f"{name}_jensen_shannon", "numeric", "jensen_shannon", bounds, ref, prod,
                float(jensenshannon(props(ref["counts"]), props(prod["counts"]), base=2)),
                "scipy.spatial.distance.jensenshannon(p, r, base=2)")


def categorical_case(name, categories, r_counts, p_counts):
    ref = {"counts": r_counts, "min": None, "max": None}
    prod = {"counts": p_counts, "min": None, "max": None}
    add(f"{name}_psi", "categorical", "psi", [], ref, prod, psi_scipy(r_counts, p_counts),
        "scipy.special.rel_entr(p',r') + rel_entr(r',p') on proportions floored at 1e-4",
        {"epsilon": EPS}, categories)
    add(f"{name}_jensen_shannon", "categorical", "jensen_shannon", [], ref, prod,
        float(jensenshannon(props(r_counts), props(p_counts), base=2)),
        "scipy.spatial.distance.jensenshannon(p, r, base=2)", None, categories)
    add(f"{name}_chi2_pvalue", "categorical", "chi2_pvalue", [], ref, prod, chi2_scipy(r_counts, p_counts),
        "scipy.stats.chisquare(f_obs, f_exp) over cells non-empty on either side, "
        "f_exp from reference proportions floored at 1e-4 and renormalised",
        {"epsilon": EPS}, categories)
    add(f"{name}_linf", "categorical", "linf", [], ref, prod,
        float(np.max(np.abs(props(p_counts) - props(r_counts)))),
        "numpy max |p - r|", None, categories)


def critical_case(name, r_counts, p_counts, alpha):
    n, m = float(sum(r_counts)), float(sum(p_counts))
    b = int(np.count_nonzero(np.asarray(r_counts) > 0))
    x = float(stats.chi2.isf(alpha, b - 1))
    k = len(r_counts) - 1
    bounds = [float(i) for i in range(k)]
    ref = {"counts": r_counts, "min": None, "max": None}
    prod = {"counts": p_counts, "min": None, "max": None}
    add(f"{name}_psi_critical", "numeric", "psi_critical", bounds, ref, prod, (1 / n + 1 / m) * x,
        "(1/N + 1/M) * scipy.stats.chi2.isf(alpha, B-1)", {"alpha": alpha})
    add(f"{name}_js_critical", "numeric", "js_critical", bounds, ref, prod,
        math.sqrt((1 / n + 1 / m) * x / (8 * math.log(2))),
        "sqrt((1/N + 1/M) * scipy.stats.chi2.isf(alpha, B-1) / (8 ln 2))", {"alpha": alpha})


def bh_case(name, pvalues):
    add(f"{name}_benjamini_hochberg", "pvalues", "benjamini_hochberg", [], None, None,
        [float(v) for v in stats.false_discovery_control(pvalues, method="bh")],
        "scipy.stats.false_discovery_control(p, method='bh')", {"pvalues": list(pvalues)})


def main() -> None:
    rng = np.random.default_rng(20260123)
    base = rng.normal(0.0, 1.0, 20000)
    b = quantile_bounds(base)
    ref = hist(b, base)

    numeric_case("normal_same_distribution", b, ref, hist(b, rng.normal(0.0, 1.0, 5000)))
    numeric_case("normal_shift_0_2sigma", b, ref, hist(b, rng.normal(0.2, 1.0, 5000)))
    numeric_case("normal_shift_0_5sigma", b, ref, hist(b, rng.normal(0.5, 1.0, 5000)))
    numeric_case("normal_shift_2sigma", b, ref, hist(b, rng.normal(2.0, 1.0, 3000)))
    numeric_case("normal_shift_negative_1sigma", b, ref, hist(b, rng.normal(-1.0, 1.0, 3000)))
    numeric_case("normal_scale_x1_5", b, ref, hist(b, rng.normal(0.0, 1.5, 5000)))
    numeric_case("normal_scale_x0_5", b, ref, hist(b, rng.normal(0.0, 0.5, 5000)))
    numeric_case("heavy_tail_student_t2", b, ref, hist(b, rng.standard_t(2.0, 5000)))
    numeric_case("small_window_200_rows", b, ref, hist(b, rng.normal(0.0, 1.0, 200)))

    # Heavy-tailed reference (lognormal), production with a longer tail.
    ln = rng.lognormal(0.0, 1.0, 20000)
    bl = quantile_bounds(ln)
    numeric_case("lognormal_longer_tail", bl, hist(bl, ln), hist(bl, rng.lognormal(0.0, 1.4, 4000)))

    # Empty bins: production lives in three buckets only; reference has empty buckets too.
    eb = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]
    numeric_case("empty_bins_both_sides", eb,
                 {"counts": [0, 40, 0, 300, 500, 0, 60, 0, 0], "min": 0.5, "max": 6.5},
                 {"counts": [0, 0, 0, 0, 700, 20, 280, 0, 0], "min": 3.2, "max": 6.9})

    # Production entirely in a tail bucket never seen in the reference.
    numeric_case("production_in_unseen_tail", eb,
                 {"counts": [10, 100, 200, 300, 200, 100, 50, 40, 0], "min": -0.4, "max": 6.8},
                 {"counts": [0, 0, 0, 0, 0, 0, 0, 0, 900], "min": 7.5, "max": 12.0})

    # A single bucket (no bounds) and a single bound (two buckets).
    numeric_case("single_bucket_no_bounds", [],
                 {"counts": [1000], "min": -2.0, "max": 3.0},
                 {"counts": [800], "min": 0.0, "max": 5.0},
                 ["psi", "wasserstein", "wasserstein_normalized", "reference_std",
                  "ks_statistic", "ks_pvalue", "jensen_shannon"])
    numeric_case("single_bound_two_buckets", [10.0],
                 {"counts": [600, 400], "min": 2.0, "max": 20.0},
                 {"counts": [300, 700], "min": 4.0, "max": 25.0})

    # Tiny counts.
    numeric_case("tiny_counts", [-1.0, 0.0, 1.0],
                 {"counts": [2, 5, 4, 1], "min": -1.7, "max": 1.2},
                 {"counts": [0, 1, 3, 3], "min": -0.5, "max": 2.6})

    # Huge counts (sums far beyond 2^32, still exact as doubles).
    numeric_case("huge_counts_small_shift", [-1.0, -0.5, 0.0, 0.5, 1.0],
                 {"counts": [160000000000, 150000000000, 190000000000, 190000000000, 150000000000, 160000000000],
                  "min": -9.0, "max": 9.0},
                 {"counts": [150000000000, 148000000000, 191000000000, 193000000000, 152000000000, 166000000000],
                  "min": -9.5, "max": 8.5})

    # min/max not recorded: outer buckets collapse onto the outer bounds (1.3 fallbacks).
    numeric_case("min_max_missing", [0.0, 1.0, 2.0, 3.0],
                 {"counts": [50, 200, 300, 200, 50], "min": None, "max": None},
                 {"counts": [20, 100, 300, 300, 80], "min": None, "max": None})

    # A constant production window (point mass) against a spread reference.
    numeric_case("production_constant_point_mass", [0.0, 1.0, 2.0, 3.0],
                 {"counts": [50, 200, 300, 200, 50], "min": -1.0, "max": 4.0},
                 {"counts": [0, 0, 0, 600, 0], "min": 3.0, "max": 3.0})

    # A discrete feature (edges at its values, as the baseline does for few distinct values).
    db = [1.0, 2.0, 3.0, 4.0]
    numeric_case("discrete_values", db,
                 {"counts": [400, 300, 200, 100, 0], "min": 1.0, "max": 4.0},
                 {"counts": [100, 200, 300, 400, 0], "min": 1.0, "max": 4.0})

    # Bimodal reference, production losing one mode; large offset values (precision).
    bm = np.concatenate([rng.normal(1000.0, 1.0, 10000), rng.normal(1010.0, 1.0, 10000)])
    bb = quantile_bounds(bm)
    numeric_case("bimodal_offset_mode_lost", bb, hist(bb, bm), hist(bb, rng.normal(1000.0, 1.0, 3000)))

    # Categoricals.
    cats = ["red", "green", "blue", "yellow"]
    categorical_case("cat_same", cats, [4000, 3000, 2000, 900, 100], [410, 290, 205, 85, 10])
    categorical_case("cat_shifted", cats, [4000, 3000, 2000, 900, 100], [200, 300, 400, 90, 10])
    categorical_case("cat_unseen_values_in_other", cats, [4000, 3000, 2000, 1000, 0],
                     [380, 290, 190, 90, 50])
    categorical_case("cat_missing_category", cats, [4000, 3000, 2000, 1000, 0], [500, 0, 300, 200, 0])
    categorical_case("cat_two_categories_large", ["yes", "no"], [700000, 300000, 0], [69000, 31000, 0])
    categorical_case("cat_tiny_counts", ["a", "b", "c"], [3, 2, 1, 0], [0, 1, 1, 2])
    categorical_case("cat_single_cell", ["only"], [5000, 0], [700, 0])
    categorical_case("cat_huge_counts", ["a", "b", "c", "d", "e"],
                     [3e11, 2e11, 1e11, 5e10, 4e10, 1e10], [2.9e11, 2.1e11, 1e11, 5e10, 4e10, 1e10])

    critical_case("crit_25_bins_500_rows", [1] * 0 + [20, 200, 780, 1000, 1000, 1000, 1000, 1000, 1000,
                  1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 780, 200, 20],
                  [250] + [10] * 23 + [10], 0.01)
    critical_case("crit_5_cells_10000_rows", [400, 300, 200, 90, 10], [4000, 3000, 2000, 900, 100], 0.05)
    critical_case("crit_empty_reference_cells", [0, 100, 0, 300, 600], [10, 90, 0, 300, 600], 0.01)

    bh_case("bh_mixed", [0.01, 0.04, 0.03, 0.2, 0.5, 0.001])
    bh_case("bh_ties", [0.02, 0.02, 0.02, 0.9])
    bh_case("bh_single", [0.03])

    # Calibrated mode (section 5).
    calibrated_case("cal_normal_same", "numeric", b, ref["counts"], hist(b, rng.normal(0.0, 1.0, 500))["counts"])
    calibrated_case("cal_normal_shift_small_window", "numeric", b, ref["counts"], hist(b, rng.normal(0.3, 1.0, 60))["counts"])
    calibrated_case("cal_normal_scale_x1_5", "numeric", b, ref["counts"], hist(b, rng.normal(0.0, 1.5, 2000))["counts"],
                    min_expected=10.0)
    calibrated_case("cal_tiny_counts", "numeric", [-1.0, 0.0, 1.0], [2, 5, 4, 1], [0, 1, 3, 3])
    calibrated_case("cal_empty_bins", "numeric", eb, [0, 40, 0, 300, 500, 0, 60, 0, 0], [0, 0, 0, 0, 700, 20, 280, 0, 0])
    calibrated_case("cal_cat_shift", "categorical", [], [4000, 3000, 2000, 900, 100], [200, 300, 400, 90, 10],
                    categories=cats)
    calibrated_case("cal_cat_rare_tail", "categorical", [], [5000, 3000, 40, 30, 20, 5, 0], [480, 300, 2, 6, 1, 0, 11],
                    categories=["a", "b", "c", "d", "e", "f"])
    calibrated_case("cal_cat_one_group", "categorical", [], [3, 2, 0], [1, 1, 0], categories=["a", "b"])
    rank_sum_case("rank_same", b, ref["counts"], hist(b, rng.normal(0.0, 1.0, 500))["counts"])
    rank_sum_case("rank_shift_0_2sigma", b, ref["counts"], hist(b, rng.normal(0.2, 1.0, 1000))["counts"])
    rank_sum_case("rank_small_window", b, ref["counts"], hist(b, rng.normal(0.5, 1.0, 50))["counts"])
    rank_sum_case("rank_tiny_counts", [-1.0, 0.0, 1.0], [2, 5, 4, 1], [0, 1, 3, 3])
    rank_sum_case("rank_discrete", [1.0, 2.0, 3.0, 4.0], [400, 300, 200, 100, 0], [100, 200, 300, 400, 0])
    for x, m, y, n in ((10, 1000, 0, 5000), (25, 500, 10, 1000), (3, 50, 5, 100), (0, 100, 4, 100),
                       (50, 20000, 100, 5000), (400, 20000, 0, 100), (1, 1, 0, 1)):
        scalar_case(f"rate_{x}_of_{m}_vs_{y}_of_{n}", "rate_pvalue", {"x": x, "m": m, "y": y, "n": n},
                    rate_scipy(x, m, y, n), "scipy.stats.hypergeom.sf(x-1, n+m, x+y, m)")
    for x, m, n in ((1, 100, 50), (10, 500, 1000), (40, 20000, 5000), (5, 50, 2), (3, 10, 100)):
        scalar_case(f"outside_{x}_of_{m}_vs_{n}", "outside_pvalue", {"x": x, "m": m, "n": n},
                    outside_exact(x, m, n), "exact rational sum (fractions, math.comb)")
    for n, m, scale in ((5000, 1000, 0.5), (100, 50, 0.5), (5000, 20000, 0.25)):
        scalar_case(f"floor_{n}_{m}_{scale}", "effect_floor", {"n": n, "m": m, "scale": scale},
                    float(Fraction(scale).__float__() * (n * m / (n + m)) ** -0.25), "python float power")
    for label, ps in (("mixed", [0.01, 0.04, 0.03, 0.2, 0.5, 0.001]), ("ties", [0.02, 0.02, 0.02, 0.9]),
                      ("single", [0.03]), ("capped", [0.4, 0.3, 0.9])):
        scalar_case(f"holm_{label}", "holm", {"pvalues": ps}, holm_loop(ps), "Holm step-down written out")
    model_params = {"features": MODEL_FEATURES, "alpha": 0.05, "feature_alpha": 0.01, "effect_floor": 0.5,
                    "min_expected": 5.0, "min_samples": 50}
    scalar_case("calibrated_model_verdicts", "calibrated_model", model_params,
                model_expected(MODEL_FEATURES, 0.05, 0.01, 0.5, 5.0, 50),
                "per feature: verdict (1 drift, 0 no_drift, -1 insufficient_data) then the Holm q-value of each "
                "rule in spec order; p-values from scipy.special.kolmogorov, scipy.stats.chi2_contingency, "
                "scipy.stats.hypergeom and exact sums, Holm written out")

    tail_params = {"features": TAIL_FEATURES, "alpha": 0.05, "feature_alpha": 0.01, "effect_floor": 0.5,
                   "min_expected": 5.0, "min_samples": 50}
    scalar_case("calibrated_model_tail_buckets", "calibrated_model", tail_params,
                model_expected(TAIL_FEATURES, 0.05, 0.01, 0.5, 5.0, 50),
                "as calibrated_model_verdicts, for categorical features with hashed tail buckets (the last "
                "`tail` categories before __other__): unseen_category tests the tail and __other__ together")
    evalue_ps = [1.0, 0.999999, 0.99, math.exp(-0.01), 0.98, 0.9, 0.5, 0.2, 0.05, 0.01, 1e-3, 1e-6, 1e-20,
                 1e-200, 0.0]
    scalar_case("sequential_evalue_calibrator", "sequential_evalue", {"pvalues": evalue_ps},
                [log_evalue_quad(p) for p in evalue_ps], "scipy.integrate.quad of k p^(k-1) over (0, 1), logged")
    seq_steps = sequential_steps(np.random.default_rng(8))
    scalar_case("sequential_cusum_stream", "sequential_cusum", {"arl": 100.0, "steps": seq_steps},
                sequential_expected(100.0, seq_steps),
                "e-values by scipy.integrate.quad, Bonferroni, floor cap and the e-CUSUM written out")

    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.glob("*.json"):
        old.unlink()
    names = set()
    for v in VECTORS:
        assert v["name"] not in names, v["name"]
        names.add(v["name"])
        (OUT / f"{v['name']}.json").write_text(json.dumps(v, indent=1, allow_nan=False) + "\n")
    print(f"wrote {len(VECTORS)} vectors to {OUT}")


if __name__ == "__main__":
    main()
