"""Generate the shared multivariate-verdict vectors (tests/vectors/multivariate/*.json).

    .venv/bin/python tests/vectors/generate_multivariate_vectors.py

docs/drift-math.md section 8: projection features (``__projection_<i>__``) are ordinary numeric
features in the model's one Holm family; the dataset verdict (4.4) leaves them out and the
multivariate verdict is drift when any of them drifts. The expected values come from the
independent scipy computation of generate_drift_vectors.py (``model_expected``), never from the
code under test; the histograms are numpy simulations of a correlation break with unchanged
margins. Python (tests/drift/test_projection.py) and Go (internal/drift/multivariate_test.go) check
every vector to 1e-9.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from generate_drift_vectors import model_expected  # noqa: E402

OUT = HERE / "multivariate"
PARAMS = {"alpha": 0.05, "feature_alpha": 0.01, "effect_floor": 0.5, "min_expected": 5.0, "min_samples": 50}
BOUNDS = [-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0]


def counts(x: np.ndarray) -> list[int]:
    """OTLP upper-inclusive buckets on BOUNDS."""
    return np.bincount(np.searchsorted(BOUNDS, x, side="left"), minlength=len(BOUNDS) + 1).astype(int).tolist()


def features(rng: np.random.Generator, n: int, m: int, rho: float) -> list[dict]:
    """Two standard-normal inputs a and b (correlation 0 in training, ``rho`` in production) and
    three projections: the pair's minor axis, its major axis and a sum of both."""
    a_r, b_r = rng.normal(size=n), rng.normal(size=n)
    a_p = rng.normal(size=m)
    b_p = rho * a_p + np.sqrt(1 - rho * rho) * rng.normal(size=m)
    s = np.sqrt(0.5)
    out = [
        {"name": "a", "kind": "numeric", "bounds": BOUNDS, "reference": counts(a_r), "production": counts(a_p)},
        {"name": "b", "kind": "numeric", "bounds": BOUNDS, "reference": counts(b_r), "production": counts(b_p)},
        {"name": "__projection_0__", "kind": "numeric", "bounds": BOUNDS,
         "reference": counts(s * (a_r - b_r)), "production": counts(s * (a_p - b_p))},
        {"name": "__projection_1__", "kind": "numeric", "bounds": BOUNDS,
         "reference": counts(s * (a_r + b_r)), "production": counts(s * (a_p + b_p))},
        {"name": "__projection_2__", "kind": "numeric", "bounds": BOUNDS,
         "reference": counts(0.8 * a_r + 0.6 * b_r), "production": counts(0.8 * a_p + 0.6 * b_p)},
    ]
    for f in out:
        f.update(ref_nulls=0, prod_nulls=0)
    return out


def expected(feats: list[dict]) -> list[float]:
    """model_expected's list (per feature: verdict, then each rule's Holm q), then the dataset
    verdict over the inputs (share 0.5) and the multivariate verdict over the projections
    (1 drift, 0 no_drift, -1 insufficient_data)."""
    out = model_expected(feats, PARAMS["alpha"], PARAMS["feature_alpha"], PARAMS["effect_floor"],
                         PARAMS["min_expected"], PARAMS["min_samples"])
    verdicts, i = [], 0
    for f in feats:
        # Every feature here has exactly two rules (rank_sum, chi2_contingency): no nulls, and
        # the reference's outer buckets are never empty.
        assert f["reference"][0] > 0 and f["reference"][-1] > 0 and not f["ref_nulls"] and not f["prod_nulls"]
        verdicts.append(out[i])
        i += 1 if out[i] == -1.0 else 3
    assert i == len(out)
    inputs = [v for f, v in zip(feats, verdicts) if not f["name"].startswith("__projection_")]
    projections = [v for f, v in zip(feats, verdicts) if f["name"].startswith("__projection_")]
    scored = [v for v in inputs if v >= 0]
    dataset = -1.0 if not scored else float(sum(scored) >= 0.5 * len(scored))
    scored = [v for v in projections if v >= 0]
    multivariate = -1.0 if not scored else float(any(scored))
    return out + [dataset, multivariate]


def case(name: str, feats: list[dict], source: str) -> dict:
    return {"name": name, "method": "multivariate_model", "params": {"features": feats, **PARAMS},
            "expected": expected(feats), "source": source}


def main() -> None:
    rng = np.random.default_rng(20261201)
    src = ("scipy (generate_drift_vectors.model_expected: rank-sum, chi2_contingency, Holm by hand); "
           "histograms simulated with numpy")
    vectors = [
        case("mv_correlation_break", features(rng, 2000, 1000, 0.8), src),
        case("mv_no_change", features(rng, 2000, 1000, 0.0), src),
        case("mv_small_break", features(rng, 2000, 300, 0.5), src),
    ]
    few = features(rng, 2000, 1000, 0.8)
    for f in few[2:]:  # projections with fewer rows than min_samples: insufficient_data
        f["production"] = (np.asarray(f["production"]) // 25).tolist()
    vectors.append(case("mv_projections_insufficient", few, src))
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.glob("*.json"):
        old.unlink()
    for v in vectors:
        (OUT / f"{v['name']}.json").write_text(json.dumps(v, indent=1, allow_nan=False) + "\n")
    print(f"wrote {len(vectors)} vectors to {OUT}: " + ", ".join(f"{v['name']} -> {v['expected'][-2:]}" for v in vectors))


if __name__ == "__main__":
    main()
