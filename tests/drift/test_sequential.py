"""modeltel._sequential: the sequential rule over a stream of batches (docs/drift-math.md 9)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from modeltel._baseline import Baseline, ProductionHistograms
from modeltel._sequential import SequentialDrift


def _frame(rng: np.random.Generator, n: int, shift: float = 0.0) -> pd.DataFrame:
    return pd.DataFrame({"x": rng.normal(shift, 1.0, n), "y": rng.normal(0.0, 1.0, n),
                         "c": rng.choice(["a", "b", "c"], n, p=[0.5, 0.3, 0.2])})


def _batch(baseline: Baseline, rows: pd.DataFrame):
    prod = ProductionHistograms(baseline)
    prod.add(rows)
    return prod.histograms()


def test_a_shift_raises_the_alarm_of_that_feature_within_a_few_batches_and_the_window_ends_it():
    """100-row batches: 20 unchanged batches raise no alarm; after a +0.6 sigma shift of x the
    alarm of x (and of no other feature, projections included) is on within 4 batches; once the
    shift is over and the window no longer drifts, the first batch without evidence ends it."""
    rng = np.random.default_rng(5)
    baseline = Baseline.from_data(_frame(rng, 5000), model="m", version="1", categorical=["c"])
    detector = SequentialDrift(baseline.histograms())
    for _ in range(20):
        assert detector.update(_batch(baseline, _frame(rng, 100))) == set()
    alarms: set[str] = set()
    for _ in range(4):
        alarms = detector.update(_batch(baseline, _frame(rng, 100, shift=0.6)), window_drift={"x"})
        if alarms:
            break
    assert alarms == {"x"}, {n: s.stat for n, s in detector.features.items()}
    assert any(name.startswith("__projection_") for name in baseline.histograms())
    assert set(detector.features) == {"x", "y", "c"}
    # The change stays flagged while the window drifts, and ends after it without evidence.
    assert detector.update(_batch(baseline, _frame(rng, 100)), window_drift={"x"}) == {"x"}
    ended = [detector.update(_batch(baseline, _frame(rng, 100))) for _ in range(5)]
    assert set() in ended


def test_features_with_a_reference_below_1000_values_take_no_part():
    """A 500-row baseline: even a +1 sigma shift raises no sequential alarm (the rule needs a
    reference of SEQUENTIAL_MIN_REFERENCE values), and no feature gets a sequential state."""
    rng = np.random.default_rng(6)
    baseline = Baseline.from_data(_frame(rng, 500), model="m", version="1", categorical=["c"])
    detector = SequentialDrift(baseline.histograms())
    for _ in range(5):
        assert detector.update(_batch(baseline, _frame(rng, 100, shift=1.0))) == set()
    assert detector.features == {}
