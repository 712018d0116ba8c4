"""Sequential drift detection over a stream of batches (docs/drift-math.md section 9).

Every batch of new production rows (disjoint from the previous ones) is tested against the
reference with the calibrated rules (section 5); each feature's Bonferroni p-value over its
rules becomes an e-value through the mixture calibrator, and a per-feature e-CUSUM adds the
evidence up across batches. With the alarm threshold ``arl * features`` the model raises a
false alarm after ``arl`` batches on average at the least (9.2). The collector's ``mldrift``
runs the same statistic on the batches its windows receive between emits (the shared vectors
under tests/vectors/drift keep the two equal).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

from modeltel._drift import DriftConfig, Histogram, RuleTest, evaluate

#: The rule name reported when the sequential statistic raises an alarm.
RULE_SEQUENTIAL = "sequential"
#: Average run length to a false alarm, in batches, when none is given.
DEFAULT_ARL = 1000.0
#: The smallest reference (values) a feature's sequential rule runs against (9.2): every batch
#: is compared with the same reference sample, and a small one's own sampling error is found
#: again and again as the batches add up. mldrift's SequentialMinReference.
SEQUENTIAL_MIN_REFERENCE = 1000
_MIN_PVALUE = 1e-300


def log_evalue(p: float) -> float:
    """ln E(p) of the mixture calibrator E(p) = (e^u - 1 - u) / u^2, u = -ln p (9.1)."""
    p = min(max(p, _MIN_PVALUE), 1.0)
    u = -math.log(p)
    if u < 0.01:
        term, acc = 0.5, 0.0
        for k in range(9):
            acc += term
            term *= u / (k + 3)
        return math.log(acc)
    return u + math.log1p(-(1.0 + u) * math.exp(-u)) - 2.0 * math.log(u)


def batch_log_evalue(tests: Sequence[RuleTest]) -> float:
    """ln e-value of one feature's batch: min(1, k * min p) calibrated, at most 0 below the floor."""
    if not tests:
        return 0.0
    best = min(range(len(tests)), key=lambda j: (tests[j].pvalue, j))
    e = log_evalue(min(1.0, len(tests) * tests[best].pvalue))
    if tests[best].effect < tests[best].floor:
        e = min(e, 0.0)
    return e


def sequential_threshold(arl: float, features: int) -> float:
    """ln(arl * features): the alarm threshold of each feature's e-CUSUM (9.2)."""
    return math.log(arl * max(features, 1))


def cusum_step(stat: float, alarm: bool, log_e: float, threshold: float, window_drift: bool) -> tuple[float, bool]:
    """One e-CUSUM step in logs: raw = max(stat, 0) + log_e, capped at threshold (9.2).

    The alarm starts when raw reaches the threshold; it ends, and the CUSUM restarts from 0, at
    the first step without evidence (``log_e <= 0``) while the window verdict is not drift.
    """
    raw = max(stat, 0.0) + log_e
    if raw >= threshold:
        alarm = True
    elif alarm and log_e <= 0.0 and not window_drift:
        alarm, raw = False, 0.0
    return min(raw, threshold), alarm


@dataclass
class SequentialFeature:
    """The e-CUSUM state of one feature: ``stat`` is ln of the e-detector, ``alarm`` its state."""

    stat: float = 0.0
    alarm: bool = False
    log_evalue: float = 0.0


@dataclass
class SequentialDrift:
    """A stream of drift evaluations: feed it disjoint batches, read which features alarm.

    >>> detector = SequentialDrift(reference)              # doctest: +SKIP
    >>> for batch in batches:                              # each a mapping name -> Histogram
    ...     alarms = detector.update(batch)                # features whose alarm is on
    """

    reference: Mapping[str, Histogram]
    config: DriftConfig = field(default_factory=DriftConfig)
    arl: float = DEFAULT_ARL
    outputs: Sequence[str] = ()
    features: dict[str, SequentialFeature] = field(default_factory=dict)

    def update(self, batch: Mapping[str, Histogram], window_drift: Collection[str] = ()) -> set[str]:
        """Test one batch against the reference and advance every feature's e-CUSUM.

        ``window_drift`` names the features whose window verdict (without this rule) is drift
        now: an alarm only ends while its feature's window does not drift.
        """
        result = evaluate(self.reference, batch, self.config, outputs=self.outputs)
        # Projections feed the model's multivariate verdict, not per-feature alarms (as mldrift).
        scored = [
            fd for fd in result.features
            if fd.verdict != "insufficient_data" and fd.role != "projection" and fd.n_reference >= SEQUENTIAL_MIN_REFERENCE
        ]
        threshold = sequential_threshold(self.arl, len(scored))
        for fd in scored:
            state = self.features.setdefault(fd.name, SequentialFeature())
            state.log_evalue = batch_log_evalue(fd.tests)
            state.stat, state.alarm = cusum_step(
                state.stat, state.alarm, state.log_evalue, threshold, fd.name in window_drift
            )
        return {name for name, s in self.features.items() if s.alarm}
