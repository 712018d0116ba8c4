"""Data quality of local production data against a baseline, for the offline report.

The SDK and the collector see summaries only; the offline report has the rows, so it can
name what is wrong: the values of a numeric column that are not numbers (counted, with the
most frequent ones quoted), null rates against the baseline's, values outside the training
range, and labels the baseline never saw, by name.

:class:`DataQuality` reads pandas DataFrame chunks. :meth:`DataQuality.add` returns the
chunk with the non-numbers of each numeric feature turned into nulls, so that the drift
scores are computed over the values that are numbers and the rest is reported here, never
silently dropped (a column of ``"n/a"`` strings is not an "insufficient data" row).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from modeltel._baseline import Baseline, FeatureBaseline
from modeltel._identity import number_label

__all__ = ["SMALL_BASELINE_ROWS", "DataQuality", "FeatureQuality", "QualityLimits", "small_baseline_warning"]

#: Below this many training rows the quantile edges and reference shares are noisy: two samples
#: of the same data can score as drift (a 124-row baseline against 54 rows of the same set
#: flagged 13 of 14 features).
SMALL_BASELINE_ROWS = 1000

#: Distinct offending values remembered per feature (the report quotes the most frequent).
EXAMPLES_KEPT = 64
#: Quoted values are cut to this many characters.
EXAMPLE_CHARS = 40


def small_baseline_warning(rows: int) -> str | None:
    """The warning for a baseline of ``rows`` training rows, or None when it is large enough."""
    if rows >= SMALL_BASELINE_ROWS:
        return None
    return (
        f"small baseline: {rows:,} training rows (at least {SMALL_BASELINE_ROWS:,} recommended); its bucket "
        "edges and shares are noisy, so scores against it overstate drift"
    )


@dataclass(frozen=True)
class QualityLimits:
    """When a data-quality finding counts as an issue (named in the report's banner and section)."""

    #: Share of a numeric column's rows that are not numbers.
    non_numeric_share: float = 0.0
    #: Null rate above the baseline's by at least this much (absolute).
    null_rate_increase: float = 0.05
    #: Share of rows outside the training [min, max].
    out_of_range_share: float = 0.01
    #: Share of rows with a label the baseline does not know.
    unseen_share: float = 0.01


@dataclass
class FeatureQuality:
    """What one feature's production values look like next to its baseline."""

    name: str
    kind: str
    baseline_null_rate: float
    rows: int = 0
    nulls: int = 0
    non_numeric: int = 0
    non_numeric_values: Counter[str] = field(default_factory=Counter)
    below: int = 0
    above: int = 0
    unseen: int = 0
    unseen_labels: Counter[str] = field(default_factory=Counter)
    #: True when the baseline counted labels beyond its top categories (then an "unseen" label
    #: may have been in the training data, just not among its most frequent).
    baseline_has_other: bool = False

    @property
    def null_rate(self) -> float:
        return self.nulls / self.rows if self.rows else 0.0

    @property
    def out_of_range(self) -> int:
        return self.below + self.above

    def share(self, count: int) -> float:
        return count / self.rows if self.rows else 0.0

    def issues(self, limits: QualityLimits) -> list[str]:
        """One sentence per finding over ``limits``, worst first."""
        out: list[str] = []
        if self.non_numeric and self.share(self.non_numeric) > limits.non_numeric_share:
            out.append(
                f"{self.non_numeric:,} of {self.rows:,} values ({self.share(self.non_numeric):.1%}) are not numbers: "
                + _examples(self.non_numeric_values)
            )
        if self.rows and self.null_rate - self.baseline_null_rate >= limits.null_rate_increase:
            out.append(f"null rate {self.null_rate:.1%} (baseline {self.baseline_null_rate:.1%})")
        if self.out_of_range and self.share(self.out_of_range) >= limits.out_of_range_share:
            out.append(
                f"{self.out_of_range:,} values ({self.share(self.out_of_range):.1%}) outside the training range "
                f"({self.below:,} below, {self.above:,} above)"
            )
        if self.unseen and self.share(self.unseen) >= limits.unseen_share:
            where = "not among the baseline's top categories" if self.baseline_has_other else "never seen in training"
            out.append(
                f"{self.unseen:,} values ({self.share(self.unseen):.1%}) {where}: " + _examples(self.unseen_labels)
            )
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "rows": self.rows,
            "nulls": self.nulls,
            "null_rate": self.null_rate,
            "baseline_null_rate": self.baseline_null_rate,
            "non_numeric": self.non_numeric,
            "non_numeric_values": dict(self.non_numeric_values.most_common(10)),
            "below_range": self.below,
            "above_range": self.above,
            "unseen": self.unseen,
            "unseen_labels": dict(self.unseen_labels.most_common(10)),
        }


def _examples(counts: Counter[str], n: int = 3) -> str:
    shown = ", ".join(f"{label!r} x{c:,}" for label, c in counts.most_common(n))
    more = len(counts) - n
    return shown + (f" and {more}{'+' if len(counts) >= EXAMPLES_KEPT else ''} more" if more > 0 else "")


def _remember(counter: Counter[str], values: Iterable[Any], weight: int = 1) -> None:
    """Count offending values; at most EXAMPLES_KEPT distinct ones are kept (bounded memory)."""
    for value, c in Counter(str(v)[:EXAMPLE_CHARS] for v in values).items():
        if value in counter or len(counter) < EXAMPLES_KEPT:
            counter[value] += c * weight


class DataQuality:
    """Data quality of production chunks against a baseline's features (not its outputs)."""

    def __init__(self, baseline: Baseline, limits: QualityLimits | None = None) -> None:
        self.baseline = baseline
        self.limits = limits or QualityLimits()
        self.features: dict[str, FeatureQuality] = {
            name: FeatureQuality(
                name, fb.kind, fb.null_rate,
                baseline_has_other=fb.kind == "categorical" and bool(fb.counts) and fb.counts[-1] > 0,
            )
            for name, fb in baseline.features.items()
        }
        self.checked = False

    def add(self, frame: Any) -> Any:
        """Count one pandas DataFrame chunk; returns it with non-numbers of numeric features as NaN."""
        import pandas as pd

        self.checked = True
        cleaned: dict[str, Any] = {}
        for name, fq in self.features.items():
            if name not in frame.columns:
                continue
            fb = self.baseline.features[name]
            col = frame[name]
            fq.rows += len(col)
            if fb.kind == "numeric":
                values, bad = _as_numbers(pd, col)
                if bad is not None:
                    fq.non_numeric += int(bad.sum())
                    _remember(fq.non_numeric_values, col[bad].tolist())
                    cleaned[name] = values
                x = values.to_numpy(dtype=np.float64, na_value=np.nan)
                fq.nulls += int(np.isnan(x).sum()) - (int(bad.sum()) if bad is not None else 0)
                if fb.min is not None and fb.max is not None:
                    fq.below += int((x < fb.min).sum())
                    fq.above += int((x > fb.max).sum())
            else:
                self._categorical(fq, fb, col)
        if cleaned:
            frame = frame.assign(**cleaned)
        return frame

    def _categorical(self, fq: FeatureQuality, fb: FeatureBaseline, col: Any) -> None:
        nulls = col.isna()
        fq.nulls += int(nulls.sum())
        present = col[~nulls]
        if fb.dtype == "numeric-as-category" and present.dtype.kind in "iufb":
            labels = present.astype("float64").map(number_label)
        else:
            labels = present.astype(str)
        known = set(fb.categories)
        counts = labels.value_counts()
        for label, c in counts.items():
            if label not in known:
                fq.unseen += int(c)
                _remember(fq.unseen_labels, [label], int(c))

    def issues(self) -> dict[str, list[str]]:
        """feature -> its findings over the limits (features without any are left out)."""
        out = {}
        for name, fq in self.features.items():
            found = fq.issues(self.limits)
            if found:
                out[name] = found
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "checked": self.checked,
            "issues": self.issues(),
            "features": [fq.to_dict() for fq in self.features.values() if fq.rows],
        }


def _as_numbers(pd: Any, col: Any) -> tuple[Any, Any]:
    """(numeric Series, mask of non-null values that are not numbers, or None when all are)."""
    if col.dtype.kind in "iufb":
        return col.astype("float64"), None
    if col.dtype.kind == "M" or col.dtype.kind == "m":
        return col.astype("int64").astype("float64"), None
    values = pd.to_numeric(col, errors="coerce")
    bad = values.isna() & col.notna()
    return values, (bad if bool(bad.any()) else None)
