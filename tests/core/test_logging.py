"""The ml.prediction JSON record goes through the user's structlog configuration when there is one."""

from __future__ import annotations

import io
import json

import structlog
from structlog.testing import capture_logs

from modeltel._logging import default_json_log, json_log_to


def test_users_structlog_configuration_is_respected_not_overwritten():
    emit = default_json_log()
    with capture_logs() as captured:  # the user's own structlog set-up, for the block
        emit("info", "ml.prediction", {"ml.prediction.id": "abc", "rows": 3})
    assert captured == [{"event": "ml.prediction", "log_level": "info", "ml.prediction.id": "abc", "rows": 3}]


def test_without_a_user_configuration_modeltel_writes_json_and_configures_nothing(capsys):
    structlog.reset_defaults()
    default_json_log()("info", "ml.prediction", {"rows": 2})
    assert not structlog.is_configured()  # modeltel never touches structlog's globals
    (line,) = capsys.readouterr().out.splitlines()
    assert json.loads(line)["event"] == "ml.prediction"


def test_private_pipeline_writes_one_json_line_with_level_and_utc_timestamp():
    stream = io.StringIO()
    json_log_to(stream)("error", "ml.prediction", {"rows": 1, "value": 1.5})
    (line,) = stream.getvalue().splitlines()
    record = json.loads(line)
    assert record["event"] == "ml.prediction"
    assert record["level"] == "error"
    assert record["timestamp"].endswith("Z")
    assert record["value"] == 1.5


def test_a_pre_rendered_record_gives_the_same_line_as_rendering_the_fields():
    """The OTel body, rendered once, is spliced into the console line: same keys, same order."""
    from modeltel._logging import safe_json

    fields = {"ml.prediction.id": "abc", "input": {"rows": 1, "missing": ["f3"]}, "duration_s": 2.5e-05}
    stream = io.StringIO()
    emit = json_log_to(stream)
    emit("info", "ml.prediction", fields, None)
    emit("info", "ml.prediction", fields, safe_json(fields))
    plain, spliced = (json.loads(line) for line in stream.getvalue().splitlines())
    assert list(spliced) == list(plain) == [*fields, "event", "level", "timestamp"]
    plain.pop("timestamp"), spliced.pop("timestamp")
    assert spliced == plain


def test_a_users_structlog_gets_the_fields_not_the_pre_rendered_string():
    emit = default_json_log()
    with capture_logs() as captured:
        emit("info", "ml.prediction", {"rows": 3}, '{"rows":3}')
    assert captured == [{"event": "ml.prediction", "log_level": "info", "rows": 3}]


def test_safe_json_is_strict_json_and_never_fails_on_a_type():
    """NaN and infinities become null (strict JSON), numpy values numbers, anything else its
    repr; an object whose item() returns itself does not loop."""
    import numpy as np

    from modeltel._logging import safe_json

    class Opaque:
        def item(self):
            return self

        def __repr__(self):
            return "<opaque>"

    text = safe_json({"nan": float("nan"), "inf": float("-inf"), "f32": np.float32(0.5), "i64": np.int64(7),
                      "arr": np.array([1.5, 2.0]), "obj": Opaque(), 3: "int key"})
    assert json.loads(text) == {"nan": None, "inf": None, "f32": 0.5, "i64": 7, "arr": [1.5, 2.0], "obj": "<opaque>", "3": "int key"}
