"""No raw value leaves the process by default: the sentinel matrix.

Each case is a real process (tests/privacy/_sentinel_app.py) that puts a sentinel number and
a sentinel string where a user's data would be (single rows and batches; numpy, pandas, dict,
list and records inputs; outputs; an exception that quotes the input; an unseen category; a
hostile object whose ``__len__`` fails inside modeltel; keys that are data) and exports over
OTLP/HTTP to a loopback capture. Everything that left is scanned: every OTLP request body (the
protobuf bytes, where the number would be its 8 IEEE-754 bytes or a decimal string), stdout
(the JSON log lines) and stderr (modeltel's own log). With raw capture opted in, the sentinels
must be found, and only in the raw fields: the scan is proven able to see them.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from backends._capture import OtlpCapture
from backends._procs import free_port

pytestmark = pytest.mark.e2e

APP = Path(__file__).with_name("_sentinel_app.py")
NUMBER = 7002.123456789
TEXT = "Zq7SentinelQx"
REDACTED = "Rd4RedactedKp"

DEFAULT_CASES = [
    "single_dict",
    "single_numpy",
    "single_list",
    "batch_numpy",
    "batch_pandas",
    "batch_records",
    "batch_dict_columns",
    "output_single",
    "output_batch",
    "output_labels",
    "exception",
    "unseen_category",
    "projection",
    "internal_error",
    "keys_are_data",
    "baseline_extremes",
]
ALL_CASES = DEFAULT_CASES + ["raw_capture_on"]

#: What the sentinel number looks like on the wire: its double and float bytes, and decimal text.
NUMBER_FORMS = (struct.pack("<d", NUMBER), struct.pack("<f", NUMBER), b"7002.12", b"7002123")


@dataclass
class Run:
    case: str
    returncode: int
    stdout: str
    stderr: str
    capture: OtlpCapture


#: The unkeyed hash a label once left as: anyone can recompute it from a guess of the value.
GUESSABLE_HASH = ("#" + hashlib.blake2b(TEXT.encode(), digest_size=6).hexdigest()).encode()


def _leaks(data: bytes) -> list[str]:
    found = [f"number as {form!r}" for form in NUMBER_FORMS if form in data]
    if GUESSABLE_HASH in data:
        found.append("string as an unkeyed hash")
    for text in (TEXT, REDACTED):
        if text.encode() in data:
            found.append(f"string {text}")
    return found


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    """Every case at once, each in its own process with its own capture."""
    started = []
    for case in ALL_CASES:
        capture = OtlpCapture(free_port()).start()
        env = {
            **os.environ,
            "OTEL_EXPORTER_OTLP_ENDPOINT": capture.endpoint,
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            "MODELTEL_EXPORT_INTERVAL": "0.2",
            "OTEL_METRIC_EXPORT_INTERVAL": "200",
            "MODELTEL_SHUTDOWN_TIMEOUT": "10",
            # Both log destinations at once (the console line is off beside OTLP by default),
            # so that both are scanned.
            "MODELTEL_LOG_CONSOLE": "true",
            # Every prediction logged (by default a traced success is not), so that the log
            # records of successes are scanned too.
            "MODELTEL_LOG_SAMPLE_RATE": "1",
        }
        for name in ("MODELTEL_CAPTURE_ERROR_MESSAGES", "MODELTEL_CAPTURE_RAW", "MODELTEL_HASH_CATEGORIES"):
            env.pop(name, None)
        proc = subprocess.Popen(
            [sys.executable, str(APP), case], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        started.append((case, proc, capture))
    out: dict[str, Run] = {}
    try:
        for case, proc, capture in started:
            stdout, stderr = proc.communicate(timeout=120)
            out[case] = Run(case, proc.returncode, stdout, stderr, capture)
    finally:
        for _, proc, capture in started:
            if proc.poll() is None:
                proc.kill()
            capture.stop()
    return out


@pytest.mark.parametrize("case", DEFAULT_CASES)
def test_no_sentinel_leaves_the_process_by_default(runs: dict[str, Run], case: str) -> None:
    """Default settings: neither sentinel is in any OTLP request, stdout line or stderr line,
    and the case did produce telemetry (spans, distributions and its log record)."""
    run = runs[case]
    assert run.returncode == 0, run.stderr[-2000:]
    assert not run.capture.errors
    paths = {r.path for r in run.capture.requests}
    assert {"/v1/traces", "/v1/metrics", "/v1/logs"} <= paths, paths
    leaks = {
        f"{r.path} #{i}": found
        for i, r in enumerate(run.capture.requests)
        if (found := _leaks(r.body))
    }
    for stream, text in (("stdout", run.stdout), ("stderr", run.stderr)):
        if found := _leaks(text.encode()):
            leaks[stream] = found
    assert leaks == {}


def test_the_exception_case_is_recorded_by_type_only(runs: dict[str, Run]) -> None:
    """The failed prediction is on the span (ERROR, error.type, an exception event) and in the
    log record, described by its type: the scan above would not see a message that was never
    recorded, so the recording itself is checked here."""
    run = runs["exception"]
    (span,) = [s for _, s in run.capture.spans() if s.name == "predict m"]
    assert span.status.code == span.status.STATUS_CODE_ERROR and span.status.message == "ValueError"
    (event,) = [e for e in span.events if e.name == "exception"]
    attrs = {kv.key: kv.value.string_value for kv in event.attributes}
    assert attrs["exception.type"] == "ValueError" and "exception.message" not in attrs
    assert "Traceback" in attrs["exception.stacktrace"] and "raise ValueError" in attrs["exception.stacktrace"]
    (line,) = [json.loads(x) for x in run.stdout.splitlines() if '"ml.prediction"' in x]
    assert line["error.type"] == "ValueError" and "error.message" not in line


def test_the_internal_error_case_is_logged_without_its_text(runs: dict[str, Run]) -> None:
    """modeltel contained the hostile __len__ and said so on stderr, type and frames only."""
    stderr = runs["internal_error"].stderr
    assert "contained an internal error in" in stderr and "RuntimeError" in stderr


def _strip_raw(record: dict) -> dict:
    return {k: v for k, v in record.items() if k not in ("ml.input.raw", "ml.output.raw")}


def test_raw_capture_puts_values_only_in_the_raw_fields(runs: dict[str, Run]) -> None:
    """Opted in (capture_raw, rate 1, redact=["ssn"]): the sentinels are in ml.input.raw of the
    log record (stdout and OTLP body), the redacted one nowhere, and nothing else carries them."""
    run = runs["raw_capture_on"]
    assert run.returncode == 0, run.stderr[-2000:]
    (line,) = [json.loads(x) for x in run.stdout.splitlines() if '"ml.prediction"' in x]
    assert line["ml.input.raw"] == {"income": NUMBER, "city": TEXT, "ssn": "[REDACTED]"}
    assert _leaks(json.dumps(_strip_raw(line)).encode()) == []
    (record,) = [r for _, r in run.capture.log_records()]
    body = json.loads(record.body.string_value)
    assert body["ml.input.raw"]["income"] == NUMBER
    assert _leaks(json.dumps(_strip_raw(body)).encode()) == []
    for r in run.capture.requests:
        if r.path != "/v1/logs":
            assert _leaks(r.body) == [], r.path
    for text in (run.stdout, run.stderr):
        assert REDACTED not in text
    assert all(REDACTED.encode() not in r.body for r in run.capture.requests)


def test_a_per_model_opt_in_captures_the_exception_text_of_that_model_only() -> None:
    """capture_error_messages=True on one model: its span and log record carry the text, a
    model without the option still only its type (in process, modeltel.testing)."""
    import modeltel
    from modeltel.testing import capture

    def fail(X):
        raise ValueError(f"bad row {TEXT}")

    with capture() as cap:
        for options in ({"capture_error_messages": True}, {}):
            predict = modeltel.monitor(model=f"m{len(options)}", **options)(fail)
            with pytest.raises(ValueError):
                predict({"a": 1.0})
        spans = {s.attributes["ml.model.name"]: s for s in cap.spans}
        logs = {line["ml.model.name"]: line for line in cap.logs}
    assert TEXT in spans["m1"].status.description and "error.message" in logs["m1"]
    assert spans["m0"].status.description == "ValueError" and "error.message" not in logs["m0"]
