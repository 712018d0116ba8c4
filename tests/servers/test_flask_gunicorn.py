"""Flask under gunicorn with 2 pre-forked workers (``--preload``: modeltel is configured in
the master before the fork), driven over HTTP on loopback, exporting OTLP to a local capture.

gunicorn's access log records, per request, the worker pid and the request's traceparent,
so the test knows which worker served which trace without any help from the app.
"""

from __future__ import annotations

import json
import re

import httpx
import pytest

from ._harness import (
    BIN,
    EXAMPLES,
    FLOWER,
    SERVER,
    STATUS_ERROR,
    Server,
    free_port,
    http_status,
    log_records,
    metric_points,
    otel_env,
    spans,
    traceparent,
)

VERSION = "4.0.1"
_ACCESS = re.compile(r"^pid=(\d+) tp=00-([0-9a-f]{32})-")


@pytest.fixture
def gunicorn_server(otlp, iris_model_path, tmp_path):
    port = free_port()
    access_log = tmp_path / "access.log"
    server = Server(
        [
            str(BIN / "gunicorn"), "--chdir", str(EXAMPLES), "--workers", "2", "--preload",
            "--bind", f"127.0.0.1:{port}", "--graceful-timeout", "20",
            "--access-logfile", str(access_log), "--access-logformat", "pid=%(p)s tp=%({traceparent}i)s",
            "flask_server:app",
        ],
        # every prediction logged: the records of both workers are checked on shutdown too
        otel_env(otlp, IRIS_MODEL_PATH=str(iris_model_path), IRIS_MODEL_VERSION=VERSION, MODELTEL_LOG_SAMPLE_RATE="1"),
        port,
        tmp_path,
    )
    server.start()
    server.access_log = access_log  # type: ignore[attr-defined]
    try:
        yield server
    finally:
        server.stop()


def _served_by(access_log) -> dict[str, str]:
    """trace id -> "<pid>" of the worker that served it (from gunicorn's access log)."""
    out = {}
    for line in access_log.read_text().splitlines():
        match = _ACCESS.match(line.replace("<", "").replace(">", ""))
        if match:
            out[match.group(2)] = match.group(1)
    return out


def test_both_workers_export_after_fork_and_nothing_is_lost_on_graceful_shutdown(gunicorn_server, otlp):
    sent: dict[str, str] = {}  # trace id -> prediction id
    # New connection per request: the two workers race for accept(), so both serve.
    for _ in range(120):
        header, trace_id = traceparent()
        with httpx.Client() as client:
            response = client.post(gunicorn_server.url + "/predict", json=FLOWER, headers={"traceparent": header})
        assert response.status_code == 200, response.text
        sent[trace_id] = response.headers["x-prediction-id"]
        if len(sent) >= 40 and len(set(_served_by(gunicorn_server.access_log).values())) >= 2:
            break
    # Stop at once: whatever is still buffered in the workers must be flushed on the way out.
    assert gunicorn_server.stop() == 0
    served = _served_by(gunicorn_server.access_log)
    assert len(set(served[t] for t in sent)) == 2, "both workers served requests"

    by_trace: dict[str, list] = {}
    for span in spans(otlp):
        by_trace.setdefault(span.trace_id, []).append(span)
    missing = [t for t in sent if len(by_trace.get(t, [])) < 2]
    assert not missing, f"{len(missing)} of {len(sent)} requests lost their spans"
    for trace_id, prediction_id in sent.items():
        (http_span,) = [s for s in by_trace[trace_id] if s.kind == SERVER]
        (predict,) = [s for s in by_trace[trace_id] if s.name == "predict iris"]
        assert predict.parent_span_id == http_span.span_id
        assert predict.attributes["ml.prediction.id"] == prediction_id
        assert predict.attributes["ml.model.version"] == VERSION
        assert predict.attributes["http.route"] == "/predict"
        assert http_span.attributes["ml.model.name"] == "iris"
        assert http_status(http_span) == 200
    # One ml.prediction log record per request, and the metrics of both workers add up.
    logged = [r for r in log_records(otlp) if r["event_name"] == "ml.prediction"]
    assert sorted(json.loads(r["body"])["ml.prediction.id"] for r in logged) == sorted(sent.values())
    assert all(r["attributes"]["ml.model.name"] == "iris" for r in logged)
    # Cumulative points per worker (each worker has its own start time): the last point of
    # each series, summed over workers, is the number of requests.
    last: dict[int, int] = {}
    for attrs, point in metric_points(otlp, "ml.prediction.duration"):
        if attrs["ml.model.name"] == "iris":
            last[point.start_time_unix_nano] = max(last.get(point.start_time_unix_nano, 0), point.count)
    assert len(last) == 2 and sum(last.values()) == len(sent)


def test_flask_predict_error_gives_error_span_under_500_and_one_error_log(gunicorn_server, otlp):
    header, trace_id = traceparent()
    body = '[{"sepal_length": Infinity, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}]'
    response = httpx.post(
        gunicorn_server.url + "/predict", content=body, headers={"traceparent": header, "content-type": "application/json"}
    )
    assert response.status_code == 500
    assert gunicorn_server.stop() == 0
    found = [s for s in spans(otlp) if s.trace_id == trace_id]
    (http_span,) = [s for s in found if s.kind == SERVER]
    (predict,) = [s for s in found if s.name == "predict iris"]
    assert predict.parent_span_id == http_span.span_id
    assert predict.status_code == STATUS_ERROR and predict.attributes["error.type"] == "ValueError"
    assert http_status(http_span) == 500
    errors = [r for r in log_records(otlp) if r["event_name"] == "ml.prediction" and r["trace_id"] == trace_id]
    assert len(errors) == 1 and errors[0]["severity_number"] == 17


def test_flask_health_is_not_traced(gunicorn_server, otlp):
    for _ in range(3):
        assert httpx.get(gunicorn_server.url + "/health").status_code == 200
    header, trace_id = traceparent()
    assert httpx.post(gunicorn_server.url + "/predict", json=FLOWER, headers={"traceparent": header}).status_code == 200
    assert gunicorn_server.stop() == 0
    assert [s.trace_id for s in spans(otlp) if s.kind == SERVER] == [trace_id]
