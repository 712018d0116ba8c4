"""mldrift's own telemetry in the built collector: bad points are counted, never fatal."""

from __future__ import annotations

import json
import time
import urllib.request

from e2e._collector import latest


def _post(collector, body: dict) -> int:
    req = urllib.request.Request(
        collector.http_endpoint + "/v1/metrics", data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=5) as r:
        return r.status


def _histogram(attrs: dict[str, str], bounds: list[float], counts: list[int]) -> dict:
    return {
        "attributes": [{"key": k, "value": {"stringValue": v}} for k, v in attrs.items()],
        "explicitBounds": bounds, "bucketCounts": [str(c) for c in counts], "count": str(sum(counts)),
    }


def test_malformed_points_are_counted_and_the_rest_still_processed(start_collector):
    """OTLP with a malformed ml.feature.value point (no feature name, no baseline id) and a
    valid one: the collector accepts the request, counts the bad point in
    otelcol_processor_mldrift_points_dropped{reason="malformed"}, passes the data through,
    and still windows the good point."""
    collector = start_collector(MLDRIFT_EMIT_INTERVAL="1s")
    good = {"ml.model.name": "m", "ml.model.version": "1", "ml.feature.name": "x",
            "ml.feature.role": "input", "ml.baseline.id": "b"}
    body = {"resourceMetrics": [{"resource": {}, "scopeMetrics": [{"metrics": [{
        "name": "ml.feature.value",
        "histogram": {"aggregationTemporality": 1, "dataPoints": [
            _histogram({"ml.model.name": "m"}, [1.0], [1, 2]),
            _histogram(good, [1.0], [3, 4]),
        ]},
    }]}]}]}
    assert _post(collector, body) == 200
    deadline = time.monotonic() + 20
    dropped = counted = None
    while time.monotonic() < deadline:
        dropped = collector.own_metrics().get('otelcol_processor_mldrift_points_dropped{reason="malformed"}')
        counted = latest(collector.lines(), "ml.drift.sample_count").get(("x", None))
        if dropped == 1 and counted == 7:
            break
        time.sleep(0.5)
    assert dropped == 1
    assert counted == 7
    passed = [line for line in collector.lines() if "ml.feature.value" in json.dumps(line)]
    assert passed, "the incoming metrics, bad point included, were exported unchanged"
    assert collector.proc.poll() is None
