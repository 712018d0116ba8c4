"""configure(): OTLP and console export from a real process, privacy by default, idempotency.

configure() installs global OpenTelemetry providers, so each case runs in its own Python
process and reads what actually arrived (an OTLP/HTTP capture server, or the console file).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from backends._capture import OtlpCapture
from backends._procs import free_port

SENTINEL = "SENTINEL-7f3a9c"


def _run(code: str, env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "app.py"
    script.write_text(textwrap.dedent(code))
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "MODELTEL_"))}
    full_env.update(env)
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120, env=full_env
    )
    assert result.returncode == 0, result.stderr
    return result


APP = f"""
    import numpy as np
    import modeltel

    modeltel.configure(service_name="privacy-app")

    @modeltel.monitor(model="fraud", version="3.1.0")
    def predict(X):
        return [0.25 for _ in X]

    records = [{{"amount": 10.0 + i, "country": "{SENTINEL}", "note": "{SENTINEL} free text"}} for i in range(50)]
    predict(records)
    predict(records[0])
    predict(np.arange(40.0).reshape(20, 2))
    modeltel.shutdown()
"""


@pytest.fixture
def otlp():
    with OtlpCapture(free_port()) as capture:
        yield capture


def test_otlp_export_sends_spans_metrics_distributions_and_logs(otlp, tmp_path):
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": otlp.endpoint, "MODELTEL_EXPORT_INTERVAL": "0.2", "MODELTEL_LOG_SAMPLE_RATE": "1"}
    _run(APP, env, tmp_path)
    assert not otlp.errors
    spans = [span for _, span in otlp.spans()]
    assert [s.name for s in spans].count("predict fraud") == 3
    resources = [res for res, _ in otlp.spans()]
    assert resources[0]["service.name"] == "privacy-app"
    assert any(v.startswith("numpy==") for v in resources[0]["ml.library.versions"])
    names = {name for _, name, _ in otlp.metric_points()}
    assert {"ml.prediction.duration", "ml.prediction.rows", "ml.feature.value"} <= names
    logs = otlp.by_path("/v1/logs")
    events = [
        record.event_name
        for request in logs
        for rl in request.message.resource_logs
        for sl in rl.scope_logs
        for record in sl.log_records
    ]
    assert events.count("ml.prediction") == 3


def test_no_raw_input_value_leaves_the_process_by_default(otlp, tmp_path):
    """A sentinel string in every input record never appears in any exported payload (every
    prediction logged, so that the log records are scanned too)."""
    result = _run(
        APP,
        {"OTEL_EXPORTER_OTLP_ENDPOINT": otlp.endpoint, "MODELTEL_EXPORT_INTERVAL": "0.2", "MODELTEL_LOG_SAMPLE_RATE": "1"},
        tmp_path,
    )
    assert otlp.requests, "nothing was exported"
    assert {r.path for r in otlp.requests} == {"/v1/traces", "/v1/metrics", "/v1/logs"}
    for request in otlp.requests:
        assert SENTINEL.encode() not in request.body, request.path
    assert SENTINEL not in result.stdout  # the JSON log lines
    assert SENTINEL not in result.stderr


def test_raw_payload_is_sent_only_when_the_model_opts_in(otlp, tmp_path):
    opted_in = APP.replace(
        '@modeltel.monitor(model="fraud", version="3.1.0")',
        '@modeltel.monitor(model="fraud", version="3.1.0", capture_raw=True, raw_sample_rate=1.0, redact=["note"])',
    )
    result = _run(
        opted_in, {"OTEL_EXPORTER_OTLP_ENDPOINT": otlp.endpoint, "MODELTEL_EXPORT_INTERVAL": "0.2"}, tmp_path
    )
    log_bodies = b"".join(r.body for r in otlp.by_path("/v1/logs"))
    assert SENTINEL.encode() in log_bodies  # the opted-in raw payload
    assert b"free text" not in log_bodies  # the redacted field
    for request in otlp.by_path("/v1/traces") + otlp.by_path("/v1/metrics"):
        assert SENTINEL.encode() not in request.body
    assert b"[REDACTED]" in log_bodies
    # One log path per destination: the OTLP log record, no console JSON line beside it.
    assert '"ml.prediction"' not in result.stdout


def test_no_console_line_when_the_exporter_is_none_unless_asked(tmp_path):
    quiet = _run(APP, {"MODELTEL_EXPORTER": "none"}, tmp_path)
    assert "ml.prediction" not in quiet.stdout
    asked = _run(APP, {"MODELTEL_EXPORTER": "none", "MODELTEL_LOG_CONSOLE": "true"}, tmp_path)
    assert '"event":"ml.prediction"' in asked.stdout.replace(" ", "")


UNCONFIGURED = """
    import modeltel

    @modeltel.monitor(model="fraud", version="3.1.0")
    def predict(rows):
        return [0.25 for _ in rows]

    for i in range(5):
        assert predict([{"amount": 10.0 + i}]) == [0.25]
"""


def test_nothing_configured_is_quiet_and_says_once_where_telemetry_goes(tmp_path):
    """A notebook or script that never calls configure(): no line per call on stdout, one
    notice on stderr naming configure() and MODELTEL_LOG_CONSOLE; asked for, the lines come."""
    quiet = _run(UNCONFIGURED, {}, tmp_path)
    assert quiet.stdout == ""
    notices = [line for line in quiet.stderr.splitlines() if "nothing is configured" in line]
    assert len(notices) == 1, quiet.stderr
    assert "modeltel.configure()" in notices[0] and "MODELTEL_LOG_CONSOLE=true" in notices[0]
    asked = _run(UNCONFIGURED, {"MODELTEL_LOG_CONSOLE": "true"}, tmp_path)
    lines = [json.loads(line) for line in asked.stdout.splitlines()]
    assert [line["event"] for line in lines] == ["ml.prediction"] * 5
    assert "nothing is configured" not in asked.stderr


def test_console_exporter_writes_json_lines_to_a_file(tmp_path):
    path = tmp_path / "telemetry.jsonl"
    _run(APP, {"MODELTEL_EXPORTER": "console", "MODELTEL_CONSOLE_PATH": str(path)}, tmp_path)
    items = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    span_names = [i["name"] for i in items if "context" in i]
    assert span_names.count("predict fraud") == 3
    metric_names = {
        m["name"]
        for i in items
        if "resource_metrics" in i
        for rm in i["resource_metrics"]
        for sm in rm["scope_metrics"]
        for m in sm["metrics"]
    }
    assert {"ml.prediction.duration", "ml.feature.value"} <= metric_names


def test_configure_is_idempotent_and_respects_an_application_set_up(tmp_path):
    code = """
        import logging
        logging.basicConfig(level=logging.INFO)
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        import modeltel

        app_provider = TracerProvider()
        trace.set_tracer_provider(app_provider)
        modeltel.configure(service_name="a", exporter="console", console_path="/dev/null")
        modeltel.configure(service_name="b")
        assert trace.get_tracer_provider() is app_provider
        modeltel.shutdown()
    """
    result = _run(code, {}, tmp_path)
    assert "using the application's tracer provider" in result.stderr
    assert "already configured" in result.stderr


def test_invalid_protocol_and_settings_are_clear_errors(tmp_path):
    code = """
        import modeltel
        try:
            modeltel.configure(log_sample_rate=2.0)
        except modeltel.ConfigError as exc:
            print("config:", exc)
        import os
        os.environ.pop("MODELTEL_LOG_SAMPLE_RATE")
        try:
            modeltel.configure(log_sample_rate=2.0)
        except modeltel.ConfigError as exc:
            print("argument:", exc)
        os.environ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "carrier-pigeon"
        try:
            modeltel.configure(exporter="otlp")
        except ValueError as exc:
            print("protocol:", exc)
    """
    result = _run(code, {"MODELTEL_LOG_SAMPLE_RATE": "2"}, tmp_path)
    assert "config: MODELTEL_LOG_SAMPLE_RATE='2'" in result.stdout
    assert "argument: log_sample_rate=2.0" in result.stdout
    assert "protocol: OTEL_EXPORTER_OTLP_PROTOCOL='carrier-pigeon'" in result.stdout
