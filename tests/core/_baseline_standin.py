"""A baseline with hand-picked edges and categories, for the sketch store and exporter tests.

It has the attributes of ``modeltel.Baseline`` that the store reads, so a test can fix the
exact bucket bounds it checks against; tests of baselines made from data use the real class.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class FeatureBaseline:
    name: str
    kind: str
    edges: list[float] = field(default_factory=list)
    counts: list[int] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    min: float | None = None
    max: float | None = None
    mean: float | None = None
    std: float | None = None
    count: int = 0
    null_count: int = 0


@dataclass
class Baseline:
    id: str
    model: str
    version: str
    features: dict[str, FeatureBaseline]
    predictions: dict[str, FeatureBaseline] = field(default_factory=dict)
    created_at: str | None = None
