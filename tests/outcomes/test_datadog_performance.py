"""The Datadog performance dashboard and monitors: well formed, templated, names registered.

What they query is checked against the real collector's output in test_e2e_join.py.
"""

from __future__ import annotations

import json
import re

from backends.test_datadog import _metric_refs, check_query_alerts, check_templated
from e2e._collector import CONFIGS

DASHBOARD = CONFIGS / "dashboards" / "datadog-performance-dashboard.json"
MONITORS = CONFIGS / "dashboards" / "datadog-performance-monitors.json"
SEMCONV = CONFIGS.parent / "docs" / "semantic-conventions.md"


def test_performance_monitors_are_complete_query_alerts():
    """Each monitor: a query alert whose threshold matches options, a runbook, the model in its name."""
    topics = check_query_alerts(MONITORS, 5)
    assert all("{{ml.model.name.name}}" in m["name"] for m in json.loads(MONITORS.read_text()))
    for topic in ("degraded", "estimated accuracy", "unmatched", "late", "label distribution"):
        assert topic in topics, topic


def test_performance_dashboard_is_templated_and_covers_the_issue():
    """Templated on model and version; realised vs estimated, per segment, label delay, unmatched."""
    check_templated(DASHBOARD)
    metrics = {m for m, _ in _metric_refs(DASHBOARD)}
    assert {"ml.performance.correct", "ml.performance.sample_count", "ml.performance.estimated.accuracy", "ml.performance.reference",
            "ml.outcome.delay", "ml.outcome.unmatched", "ml.performance.verdict"} <= metrics
    assert any("ml.segment" in keys for _, keys in _metric_refs(DASHBOARD))


def test_every_queried_name_is_registered():
    registered = set(re.findall(r"`(ml\.[a-z0-9_.]+)`", SEMCONV.read_text()))
    for metric, keys in _metric_refs(DASHBOARD, MONITORS):
        assert metric in registered, metric
        assert keys <= registered, (metric, keys - registered)
