"""The examples run as documented in their docstrings, and export what they promise."""

from __future__ import annotations

import csv
import subprocess
import sys

import httpx

from ._harness import EXAMPLES, FLOWER, SERVER, Server, free_port, log_records, metric_points, otel_env, spans


def test_batch_scoring_scores_a_csv_in_chunks_one_span_per_chunk(otlp, tmp_path):
    source = tmp_path / "flowers.csv"
    with source.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(list(FLOWER))
        for i in range(250):
            writer.writerow([5.0 + (i % 10) / 10, 3.4, 1.5 + (i % 3), 0.2])
    out = tmp_path / "scores.csv"
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "batch_scoring.py"), str(source), str(out), "--chunk-size", "100"],
        env=otel_env(otlp), capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "scored 250 rows" in result.stdout
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 250 and {r["species"] for r in rows} <= {"setosa", "versicolor", "virginica"}
    predicts = [s for s in spans(otlp) if s.name == "predict iris"]
    assert sorted(s.attributes["ml.input.rows"] for s in predicts) == [50, 100, 100]
    features = {attrs["ml.feature.name"] for attrs, _ in metric_points(otlp, "ml.feature.value")}
    assert {"sepal_length", "petal_width"} <= features
    # The default log rule: a successful, traced prediction's record is its span (no log record,
    # no JSON line).
    assert [r for r in log_records(otlp) if r["event_name"] == "ml.prediction"] == []
    assert "ml.prediction" not in result.stdout


def test_batch_scoring_demo_mode_runs_with_console_export(tmp_path):
    out = tmp_path / "scores.csv"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "MODELTEL_EXPORTER": "console",
           "MODELTEL_CONSOLE_PATH": str(tmp_path / "telemetry.jsonl")}
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "batch_scoring.py"), "--demo", "300", str(out)],
        env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert len(out.read_text().splitlines()) == 301
    assert '"predict iris"' in (tmp_path / "telemetry.jsonl").read_text()


def test_fastapi_example_runs_with_python_as_documented(otlp, tmp_path):
    port = free_port()
    server = Server(
        [sys.executable, str(EXAMPLES / "fastapi_server.py")], otel_env(otlp, PORT=str(port)), port, tmp_path
    ).start()
    try:
        response = httpx.post(server.url + "/predict", json=FLOWER)
        assert response.status_code == 200 and response.json() == {"species": "setosa"}
    finally:
        server.stop()
    assert [s.name for s in spans(otlp) if s.name.startswith("predict ")] == ["predict iris"]


def test_flask_example_runs_with_python_as_documented(otlp, tmp_path):
    port = free_port()
    server = Server(
        [sys.executable, str(EXAMPLES / "flask_server.py")], otel_env(otlp, PORT=str(port)), port, tmp_path
    ).start()
    try:
        response = httpx.post(server.url + "/predict", json=[FLOWER, FLOWER])
        assert response.status_code == 200 and response.json() == {"species": ["setosa", "setosa"]}
        prediction_id = response.headers["x-prediction-id"]
    finally:
        server.stop()
    (predict,) = [s for s in spans(otlp) if s.name == "predict iris"]
    assert predict.attributes["ml.prediction.id"] == prediction_id
    assert predict.attributes["ml.input.rows"] == 2
    assert [s.kind for s in spans(otlp) if s.span_id == predict.parent_span_id] == [SERVER]
