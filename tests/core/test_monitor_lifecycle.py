"""The one prediction lifecycle: options, containment sites, semconv, sampling, config errors."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ParentBased, TraceIdRatioBased

import modeltel
from modeltel import _semconv
from modeltel.testing import capture

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "modeltel"


def _run(code: str, env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "app.py"
    script.write_text(textwrap.dedent(code))
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "MODELTEL_"))}
    full_env.update(env)
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, env=full_env)
    assert result.returncode == 0, result.stderr
    return result


def test_every_containment_site_name_is_unique():
    """A count of ml.sdk.errors must say where it happened: no two places share a site."""
    pattern = re.compile(r"""(?:contained|report_internal_error)\(\s*f?["']([^"']+)["']""")
    sites: dict[str, list[str]] = {}
    for path in SRC.rglob("*.py"):
        for site in pattern.findall(path.read_text()):
            sites.setdefault(site, []).append(path.name)
    assert len(sites) > 20
    duplicated = {site: files for site, files in sites.items() if len(files) > 1 and site != "site"}
    assert duplicated == {}


def test_python_semconv_carries_every_name_of_the_go_semconv():
    go = (ROOT / "src" / "mldriftprocessor" / "semconv.go").read_text()
    go_names = dict(re.findall(r"^\s*(\w+)\s*=\s*\"([^\"]+)\"", go, flags=re.M))
    python_values = {v for k, v in vars(_semconv).items() if k.isupper()}
    # The Python module mirrors what the SDK writes and the processor reads.
    read = [v for k, v in go_names.items() if k.startswith(("attrModel", "attrFeature", "attrCategory", "attrBaseline", "attrCheck", "check", "role", "default", "projection"))]
    read += [go_names[k] for k in ("metricFeatureValue", "metricCategoryCount", "metricMissing", "metricBaselineValue", "metricBaselineCategories", "metricViolations")]
    assert len(read) > 15
    assert set(read) - python_values == set()


def test_package_version_comes_from_the_installed_metadata():
    import importlib.metadata

    version = importlib.metadata.version("modeltel")
    assert modeltel.__version__ == version
    copies = [p.name for p in SRC.rglob("*.py") if f'"{version}"' in p.read_text()]
    assert copies == []


def test_unknown_option_is_a_clear_error_at_decoration():
    with pytest.raises(TypeError, match="unknown option.*colour"):
        modeltel.monitor(model="m", colour="blue")  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="log_sample_rate"):
        modeltel.observe("m", log_sample_rate=2.0)


def test_unsampled_prediction_has_no_span_work_and_no_log_but_complete_metrics():
    """A 0% sampler: no exported span, no log record (it would point at a trace that is
    never exported), but the duration, rows and distributions count every prediction;
    a failed prediction is still logged."""

    @modeltel.monitor(model="m", version="1")
    def predict(X):
        if X[0]["a"] < 0:
            raise ValueError("negative")
        return [0.5 for _ in X]

    provider = TracerProvider(sampler=ParentBased(ALWAYS_OFF))
    with capture(tracer_provider=provider) as cap:
        for i in range(5):
            predict([{"a": float(i)}, {"a": 1.0}])
        with pytest.raises(ValueError):
            predict([{"a": -1.0}])
    assert cap.spans == []
    assert [log["level"] for log in cap.logs] == ["error"]
    durations = cap.metric_points("ml.prediction.duration")
    assert sum(p.count for p in durations) == 6
    (rows,) = cap.metric_points("ml.prediction.rows")
    assert rows.value == 10
    names = {m.name for rm in cap.distributions().resource_metrics for sm in rm.scope_metrics for m in sm.metrics}
    assert "ml.feature.value" in names


def test_ratio_sampler_at_log_rate_1_logs_only_the_sampled_share():
    @modeltel.monitor(model="m", version="1")
    def predict(X):
        return 1.0

    provider = TracerProvider(sampler=ParentBased(TraceIdRatioBased(0.25)))
    with capture(tracer_provider=provider, log_sample_rate=1.0) as cap:
        for _ in range(400):
            predict([1.0])
    assert 40 < len(cap.spans) < 160
    logged = {log["ml.prediction.id"] for log in cap.logs}
    assert logged == {span.attributes["ml.prediction.id"] for span in cap.spans}


def test_default_log_rule_the_span_is_the_record_failures_always_logged():
    """Default (MODELTEL_LOG_SAMPLE_RATE unset): a successful prediction with a sampled span
    gets no log record (the span is its record), a failed one always does."""
    @modeltel.monitor(model="m", version="1")
    def predict(X):
        if X[0] < 0:
            raise ValueError("negative")
        return 1.0

    with capture() as cap:
        for _ in range(20):
            predict([1.0])
        with pytest.raises(ValueError):
            predict([-1.0])
    assert len(cap.spans) == 21
    assert [log["level"] for log in cap.logs] == ["error"]
    assert len(cap.otel_logs) == 1
    (failed,) = [s for s in cap.spans if s.status.status_code.name == "ERROR"]
    assert cap.logs[0]["ml.prediction.id"] == failed.attributes["ml.prediction.id"]
    assert sum(p.count for p in cap.metric_points("ml.prediction.duration")) == 21


def test_default_log_rule_without_a_tracing_sdk_logs_every_prediction():
    """No tracing SDK (the API's no-op tracer: no span context): the log record is the only
    per-prediction record, so by default every prediction is logged."""
    from opentelemetry.trace import NoOpTracerProvider

    @modeltel.monitor(model="m", version="1")
    def predict(X):
        return 1.0

    with capture(tracer_provider=NoOpTracerProvider()) as cap:
        for _ in range(5):
            predict([1.0])
    assert cap.spans == []
    assert len(cap.logs) == len(cap.otel_logs) == 5


def test_otel_log_body_does_not_repeat_the_span():
    @modeltel.monitor(model="m", version="1")
    def predict(X):
        return [0.5]

    with capture(log_sample_rate=1.0) as cap:
        predict([{"a": 1.0}])
    (record,) = cap.otel_logs
    body = json.loads(record.log_record.body)
    assert set(body) == {"ml.prediction.id", "input", "output"}
    assert dict(record.log_record.attributes) == {"ml.model.name": "m", "ml.model.version": "1"}
    assert record.log_record.trace_id == cap.spans[0].context.trace_id


def test_otel_sdk_disabled_builds_nothing(monkeypatch):
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    result = object()

    @modeltel.monitor(model="m")
    def predict(X):
        return result

    with capture() as cap:
        assert predict(np.ones((3, 2))) is result
        with modeltel.observe("m") as p:
            p.record_input([1.0])
    assert cap.spans == [] and cap.logs == [] and cap.otel_logs == []
    assert cap.metric_points("ml.prediction.duration") == []
    names = {m.name for rm in cap.distributions().resource_metrics for sm in rm.scope_metrics for m in sm.metrics}
    assert "ml.feature.value" not in names


def test_an_invalid_env_setting_is_logged_once_and_never_raised_into_predict(tmp_path):
    result = _run(
        """
        import modeltel

        @modeltel.monitor(model="m")
        def predict(X):
            return [x * 2 for x in X]

        print([predict([1.0, 2.0]) for _ in range(3)])
        """,
        {"MODELTEL_LOG_SAMPLE_RATE": "abc", "MODELTEL_EXPORTER": "none"},
        tmp_path,
    )
    assert "[[2.0, 4.0], [2.0, 4.0], [2.0, 4.0]]" in result.stdout
    assert result.stderr.count("MODELTEL_LOG_SAMPLE_RATE='abc'") == 1


def test_monitor_on_a_pydantic_handler_logs_a_hint(caplog):
    pydantic = pytest.importorskip("pydantic")

    class Iris(pydantic.BaseModel):
        sepal_length: float

    @modeltel.monitor(model="iris")
    def handler(request: Iris) -> dict:
        return {"species": 0}

    with caplog.at_level("WARNING", logger="modeltel"), capture() as cap:
        for _ in range(3):
            assert handler(Iris(sepal_length=5.1)) == {"species": 0}
    hints = [r for r in caplog.records if "predict_route" in r.getMessage()]
    assert len(hints) == 1
    (point,) = cap.metric_points("ml.input.unsupported")
    assert point.value == 3


def test_number_labels_are_one_rule_for_baselines_sketches_and_columns():
    from modeltel._identity import number_label, value_label

    assert [number_label(v) for v in (3.0, 2.5, float("nan"))] == ["3", "2.5", None]
    assert [value_label(v) for v in (np.int64(3), 3.0, np.float32(2.5), True, None)] == ["3", "3", "2.5", "true", None]


def test_under_an_unsampled_parent_no_span_is_started_and_metrics_stay_complete():
    from opentelemetry import trace
    from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

    @modeltel.monitor(model="m", version="1")
    def predict(X):
        return modeltel.current_prediction().span.get_span_context(), trace.get_current_span().get_span_context()

    parent = SpanContext(trace_id=0x1234, span_id=0x99, is_remote=True, trace_flags=TraceFlags(0))
    with capture() as cap:
        with trace.use_span(NonRecordingSpan(parent)):
            inner, current = predict([1.0, 2.0])
            after = trace.get_current_span().get_span_context()
    assert inner == current == after == parent  # the parent stays current: no span of modeltel's own
    assert cap.spans == [] and cap.logs == []
    assert sum(p.count for p in cap.metric_points("ml.prediction.duration")) == 1
