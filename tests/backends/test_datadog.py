"""Datadog: OTLP into a Datadog Agent (collector-config/datadog-agent.yaml), captured on loopback,
and the Datadog dashboard and monitors checked against what actually arrives.

The Datadog exporter and connector (collector-config/datadog.yaml) cannot be built here: the
Go module proxy does not serve the DataDog/datadog-agent modules they need. What is proven is
the Agent path: a local OTLP/HTTP capture stands in for the Agent's OTLP intake and the test
asserts paths, payloads, and that every metric and tag the Datadog dashboard and monitors
query is among what the collector sends. datadog.yaml itself is only checked statically
(test_configs.py).
"""

from __future__ import annotations

import json
import re

import pytest

from ._capture import attributes
from ._procs import wait_until
from .conftest import CONFIGS, HERE, collector_env, send_traffic

DASHBOARD = CONFIGS / "dashboards" / "datadog-dashboard.json"
MONITORS = CONFIGS / "dashboards" / "datadog-monitors.json"

# aggregator:metric{filter} [by {tags}]
_QUERY = re.compile(r"(?:avg|max|min|sum|count|p\d\d):([a-z0-9_.]+)\{([^}]*)\}(?:\s*by\s*\{([^}]*)\})?")


def _queries(obj) -> list[str]:
    out = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k in ("query", "q") and isinstance(v, str):
                out.append(v)
            else:
                out.extend(_queries(v))
    elif isinstance(obj, list):
        for v in obj:
            out.extend(_queries(v))
    return out


def _metric_refs(*paths) -> list[tuple[str, set[str]]]:
    """(metric, tag keys it is filtered or grouped by) for every query of the dashboard and
    monitor files (default: the model dashboard and its monitors)."""
    refs = []
    for q in [q for path in (paths or (DASHBOARD, MONITORS)) for q in _queries(json.loads(path.read_text()))]:
        found = _QUERY.findall(q)
        assert found, f"no metric in query {q!r}"
        for metric, filt, by in found:
            keys = {part.split(":", 1)[0].strip() for part in re.split(r",| OR | AND ", filt)
                    if ":" in part}
            keys |= {k.strip() for k in by.split(",") if k.strip()}
            refs.append((metric, keys))
    return refs


def check_query_alerts(path, count: int) -> str:
    """Each monitor of the file: a query alert whose threshold matches options, a runbook, a
    name or message with the model. Returns the monitors' names, lower case."""
    monitors = json.loads(path.read_text())
    assert len(monitors) == count
    for m in monitors:
        assert m["type"] == "query alert"
        threshold = float(re.search(r"[<>]=?\s*([0-9.]+)\s*$", m["query"]).group(1))
        assert threshold == m["options"]["thresholds"]["critical"], m["name"]
        assert "Runbook: first" in m["message"], m["name"]
        assert "{{ml.model.name.name}}" in m["name"] + m["message"]
    return " ".join(m["name"] for m in monitors).lower()


def check_templated(path) -> None:
    """The dashboard's template variables are model and version, and every query uses both."""
    dash = json.loads(path.read_text())
    assert {v["prefix"] for v in dash["template_variables"]} == {"ml.model.name", "ml.model.version"}
    for q in _queries(dash):
        assert "$model" in q and "$version" in q, q


def test_datadog_monitors_are_complete_query_alerts():
    """Each monitor: a query alert whose threshold matches options, a runbook, a name with the model."""
    topics = check_query_alerts(MONITORS, 10)
    for topic in ("feature", "predictions", "null", "out-of-range", "schema", "error rate", "p99", "no predictions"):
        assert topic in topics, topic


def test_datadog_dashboard_is_templated_on_model_and_version():
    check_templated(DASHBOARD)


@pytest.mark.timeout(240)
def test_datadog_agent_otlp_path_carries_everything_the_dashboard_and_monitors_query(
        start_collector, start_model_app, otlp_capture, tmp_path):
    """Traces, metrics and logs reach the Agent's OTLP intake; every queried metric and tag is in them."""
    env = collector_env(tmp_path, DD_AGENT_OTLP_ENDPOINT=otlp_capture.endpoint)
    collector = start_collector(["datadog-agent.yaml", HERE / "configs" / "fast-drift.yaml"], env)
    app = start_model_app(collector)
    sent = send_traffic(app, requests_=20, rows=100, amount_factor=3.0, fail_every=5)
    app.flush()

    def metric_tags() -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        for _, name, point in otlp_capture.metric_points():
            out.setdefault(name, set()).update(attributes(point.attributes))
        return out

    refs = _metric_refs()
    wanted = {m for m, _ in refs}
    wait_until(lambda: wanted <= set(metric_tags()), 60, interval=1,
               what=f"every metric the Datadog dashboard and monitors query: {sorted(wanted)}")
    wait_until(lambda: len([s for _, s in otlp_capture.spans() if s.name == "predict fraud"]) == sent["requests"],
               30, interval=1, what="every predict span")
    wait_until(lambda: otlp_capture.log_records(), 30, interval=1, what="log records")

    tags = metric_tags()
    for metric, keys in refs:
        # Datadog tags are the point attributes: $model and $version filter on these two.
        assert keys | {"ml.model.name", "ml.model.version"} <= tags[metric], (metric, keys - tags[metric])
    assert not otlp_capture.errors
    assert {r.path for r in otlp_capture.requests} == {"/v1/traces", "/v1/metrics", "/v1/logs"}
    assert all(r.headers.get("content-encoding") == "gzip" for r in otlp_capture.requests)
    assert {res["service.name"] for res, _ in otlp_capture.spans()} == {"fraud-api"}
    psi = [p.as_double for _, name, p in otlp_capture.metric_points()
           if name == "ml.drift.score" and attributes(p.attributes).get("ml.feature.name") == "amount"
           and attributes(p.attributes).get("ml.drift.method") == "psi"]
    assert psi and max(psi) > 0.2
