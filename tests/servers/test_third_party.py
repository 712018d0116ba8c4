"""Model servers written as a third party would, run for real (uvicorn, gunicorn) under
``opentelemetry-instrument`` or with the one call: byte-identical responses, a Pipeline
monitored whatever the import order with the request's columns as features, a detected
version, a baseline by ``MODELTEL_BASELINE``, ``jsonify`` outputs read, and a 400 from bad
JSON counted as a rejected input like FastAPI's 422."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from modeltel._semconv import PROJECTION_FEATURE_PREFIX

from ._harness import BIN, FLOWER, Server, free_port, log_records, metric_points, otel_env, spans, wait_until

APPS = Path(__file__).resolve().parent / "apps"
FEATURES = ["petal_length", "petal_width", "sepal_length", "sepal_width"]


@pytest.fixture(scope="session")
def frame_model(tmp_path_factory):
    """A Pipeline fitted on a DataFrame with string classes, and a baseline of its data."""
    import joblib
    import pandas as pd
    from sklearn.datasets import load_iris
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    import modeltel

    iris = load_iris(as_frame=True)
    X = iris.data.set_axis(["sepal_length", "sepal_width", "petal_length", "petal_width"], axis=1)
    y = pd.Series(iris.target_names[iris.target])
    model = make_pipeline(StandardScaler(), RandomForestClassifier(n_estimators=10, random_state=0)).fit(X, y)
    folder = tmp_path_factory.mktemp("frame-model")
    joblib.dump(model, folder / "iris.joblib")
    baseline = modeltel.Baseline.from_data(X, model="iris-pipeline", version="2.0.0", predictions=model.predict(X))
    baseline.save(folder / "baseline.json")
    return folder / "iris.joblib", folder / "baseline.json"


def _env(otlp, model_path, **extra):
    settings = {"OTEL_SERVICE_NAME": "iris-pipeline-api", **extra}
    return otel_env(
        otlp, IRIS_MODEL_PATH=str(model_path),
        OTEL_TRACES_EXPORTER="otlp", OTEL_METRICS_EXPORTER="otlp", OTEL_LOGS_EXPORTER="otlp", **settings,
    )


def _serve_pipeline(otlp, model_path, tmp_path, instrument: bool, **extra) -> tuple[list[bytes], Server]:
    port = free_port()
    argv = [str(BIN / "uvicorn"), "--app-dir", str(APPS), "pipeline_fastapi:app", "--host", "127.0.0.1", "--port", str(port)]
    if instrument:
        argv = [str(BIN / "opentelemetry-instrument"), *argv]
    server = Server(argv, _env(otlp, model_path, **extra), port, tmp_path).start()
    try:
        bodies = [httpx.post(server.url + "/predict", json=FLOWER).content for _ in range(3)]
        assert httpx.post(server.url + "/predict", json={**FLOWER, "sepal_width": "x"}).status_code == 422
    finally:
        server.stop()
    return bodies, server


def _feature_names(otlp, role: str, metric: str = "ml.feature.value") -> set[str]:
    """The model's own features of ``role`` (a baseline's multivariate projections aside)."""
    return {n for n in _all_feature_names(otlp, role, metric) if not n.startswith(PROJECTION_FEATURE_PREFIX)}


def _all_feature_names(otlp, role: str, metric: str = "ml.feature.value") -> set[str]:
    return {a["ml.feature.name"] for a, _ in metric_points(otlp, metric) if a.get("ml.feature.role") == role}


def _projections(otlp) -> set[str]:
    return _all_feature_names(otlp, "input") - _feature_names(otlp, "input")


def test_zero_code_pipeline_is_one_prediction_with_the_request_columns_and_a_detected_version(otlp, frame_model, tmp_path):
    model_path, _ = frame_model
    plain, _ = _serve_pipeline(otlp, model_path, tmp_path, instrument=False)
    otlp.requests.clear()
    # every prediction logged (by default a traced success is not), to check the log path
    bodies, server = _serve_pipeline(otlp, model_path, tmp_path, instrument=True, MODELTEL_LOG_SAMPLE_RATE="1")
    assert bodies == plain  # byte-identical responses
    assert "partially initialized" not in server.stderr()
    predicts = [s for s in spans(otlp) if s.name.startswith("predict ")]
    assert len(predicts) == 3  # the pipeline's steps add no spans of their own
    (name,) = {s.name for s in predicts}
    assert name == "predict RandomForestClassifier"  # a pipeline is named after its final step
    (version,) = {s.attributes["ml.model.version"] for s in predicts}
    assert version.startswith("sha-") and len(version) == 16
    assert {s.attributes["ml.input.features"] for s in predicts} == {4}
    assert sorted(_feature_names(otlp, "input")) == FEATURES  # the request's columns, not x0..x3
    # The output distribution: the predicted classes, by the model's own vocabulary.
    classes = {a["ml.feature.category"] for a, _ in metric_points(otlp, "ml.feature.category.count") if a.get("ml.feature.role") == "output"}
    assert classes == {"setosa"}, classes
    rejected = [a for a, _ in metric_points(otlp, "ml.input.rejected")]
    assert rejected and rejected[-1]["ml.model.name"] == "RandomForestClassifier"
    # One log path: OTLP log records, no JSON line on stdout.
    assert len([r for r in log_records(otlp) if r["event_name"] == "ml.prediction"]) == 3
    assert "ml.prediction" not in server.stdout()


def test_modeltel_baseline_names_the_zero_code_model_and_travels_in_band(otlp, frame_model, tmp_path):
    model_path, baseline_path = frame_model
    _serve_pipeline(otlp, model_path, tmp_path, instrument=True, MODELTEL_BASELINE=str(baseline_path))
    predicts = [s for s in spans(otlp) if s.name.startswith("predict ")]
    assert {(s.attributes["ml.model.name"], s.attributes["ml.model.version"]) for s in predicts} == {("iris-pipeline", "2.0.0")}
    baseline_points = metric_points(otlp, "ml.baseline.feature.value")
    assert {a["ml.model.name"] for a, _ in baseline_points} == {"iris-pipeline"}
    # Production numeric features go out on the baseline's bin edges (explicit buckets), and
    # beside them each row's projections on the baseline's directions (multivariate drift).
    assert sorted(_feature_names(otlp, "input")) == FEATURES
    assert _projections(otlp)


def _gunicorn(otlp, model_path, tmp_path, instrument: bool, **extra) -> Server:
    port = free_port()
    argv = [str(BIN / "gunicorn"), "--chdir", str(APPS), "--workers", "2", "--bind", f"127.0.0.1:{port}", "jsonify_flask:app"]
    if instrument:
        argv = [str(BIN / "opentelemetry-instrument"), *argv]
    return Server(argv, _env(otlp, model_path, OTEL_SERVICE_NAME="iris-flask", **extra), port, tmp_path)


def _drive_flask(server: Server) -> list[bytes]:
    server.start()
    try:
        bodies = [httpx.post(server.url + "/predict", json=FLOWER).content for _ in range(4)]
        bad = httpx.post(server.url + "/predict", content=b"{not json", headers={"content-type": "application/json"})
        assert bad.status_code == 400
    finally:
        assert server.stop() == 0
    return bodies


@pytest.mark.parametrize("mode", ["one_call", "zero_code"])
def test_flask_jsonify_output_is_read_and_bad_json_is_a_rejected_input(otlp, iris_model_path, tmp_path, mode):
    plain = _drive_flask(_gunicorn(otlp, iris_model_path, tmp_path, instrument=False))
    otlp.requests.clear()
    if mode == "one_call":
        server = _gunicorn(otlp, iris_model_path, tmp_path, instrument=False, MODELTEL_ONE_CALL="1", MODELTEL_EXPORT_INTERVAL="0.3")
        model = "iris-flask"
    else:
        server = _gunicorn(otlp, iris_model_path, tmp_path, instrument=True, MODELTEL_MODEL_NAME="iris", MODELTEL_MODEL_VERSION="1")
        model = "iris"
    assert _drive_flask(server) == plain
    wait_until(lambda: metric_points(otlp, "ml.input.rejected"), timeout=10)
    predicts = [s for s in spans(otlp) if s.name == f"predict {model}"]
    assert len(predicts) == 4
    assert all(s.status_code != 2 for s in predicts)  # the 400 is no failed prediction
    assert metric_points(otlp, "ml.feature.value")
    outputs = _feature_names(otlp, "output")
    assert outputs  # jsonify's body (one call) or predict_proba's output (zero-code) read
    if mode == "one_call":
        assert outputs == {"prediction.probability"}  # the jsonify body's field
    (attrs, point) = metric_points(otlp, "ml.input.rejected")[-1]
    assert attrs == {"ml.model.name": model, "ml.model.version": "1.0" if mode == "one_call" else "1",
                     "error.type": "werkzeug.exceptions.BadRequest"}
    assert point.as_int == 1 or point.as_double == 1
    failed = [a for a, _ in metric_points(otlp, "ml.prediction.duration") if "error.type" in a]
    assert failed == []


def test_one_call_baseline_names_a_numpy_model_and_rejections_are_counted(otlp, frame_model, tmp_path):
    """instrument_fastapi(app, baseline=path): the route's model and version come from the
    baseline, its distributions go out on the baseline's edges with the baseline in-band, and
    a 422 is a rejected input of that model."""
    _, baseline_path = frame_model
    port = free_port()
    argv = [str(BIN / "uvicorn"), "--app-dir", str(APPS), "numpy_fastapi:app", "--host", "127.0.0.1", "--port", str(port)]
    server = Server(argv, _env(otlp, baseline_path, IRIS_BASELINE_PATH=str(baseline_path), MODELTEL_EXPORT_INTERVAL="0.3"), port, tmp_path).start()
    try:
        for _ in range(3):
            assert httpx.post(server.url + "/predict", json=FLOWER).status_code == 200
        assert httpx.post(server.url + "/predict", json={**FLOWER, "petal_width": "x"}).status_code == 422
    finally:
        server.stop()
    predicts = [s for s in spans(otlp) if s.name.startswith("predict ")]
    assert [(s.attributes["ml.model.name"], s.attributes["ml.model.version"]) for s in predicts] == [("iris-pipeline", "2.0.0")] * 3
    assert {a["ml.model.name"] for a, _ in metric_points(otlp, "ml.baseline.feature.value")} == {"iris-pipeline"}
    assert sorted(_feature_names(otlp, "input")) == FEATURES
    assert _projections(otlp)
    (attrs, _) = metric_points(otlp, "ml.input.rejected")[-1]
    assert (attrs["ml.model.name"], attrs["ml.model.version"]) == ("iris-pipeline", "2.0.0")


def test_zero_code_console_exporters_send_no_distribution_over_otlp(otlp, iris_model_path, tmp_path):
    """OTEL_*_EXPORTER=console: modeltel's distributions follow to the console too (no OTLP
    connection attempts, nothing sent to an OTLP endpoint)."""
    port = free_port()
    env = otel_env(
        otlp, IRIS_MODEL_PATH=str(iris_model_path), MODELTEL_MODEL_NAME="iris",
        OTEL_TRACES_EXPORTER="console", OTEL_METRICS_EXPORTER="console", OTEL_LOGS_EXPORTER="console",
        MODELTEL_EXPORT_INTERVAL="0.3",
    )
    env.pop("OTEL_EXPORTER_OTLP_ENDPOINT")
    env["OTEL_EXPORTER_OTLP_ENDPOINT"] = otlp.endpoint  # a listening endpoint: nothing may reach it
    argv = [str(BIN / "opentelemetry-instrument"), str(BIN / "uvicorn"), "--app-dir", str(APPS), "plain_fastapi:app",
            "--host", "127.0.0.1", "--port", str(port)]
    server = Server(argv, env, port, tmp_path).start()
    try:
        for _ in range(3):
            assert httpx.post(server.url + "/predict", json=FLOWER).status_code == 200
        wait_until(lambda: "ml.feature.value" in server.stdout(), timeout=10)
    finally:
        server.stop()
    assert "ml.feature.value" in server.stdout()  # the distributions, as console JSON
    assert otlp.requests == []
    assert "Connection refused" not in server.stderr()
