"""One-row calls with outcomes=True: their joinable rows travel together, nothing is lost.

A record of its own per one-row call costs more than the call's span; the rows of one model
wait (at most COALESCE_ROWS rows or COALESCE_SECONDS) and go out as one ml.outcome.predicted
record. These tests hold the promise that goes with it: every row arrives once, with its own
key and output, whether the group fills up, ages out, or the process exits.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import modeltel
from modeltel import _outcomes
from modeltel.testing import capture

from backends._capture import OtlpCapture, any_value
from backends._procs import free_port


def _predicted(records):
    return [r for r in records if r.event_name == "ml.outcome.predicted"]


def _rows(attrs, name):
    return _outcomes.unpack(attrs[name])


def test_many_one_row_calls_go_out_in_few_records_with_every_row():
    scores = np.random.default_rng(7).random(1100)

    @modeltel.monitor(model="churn", version="2", outcomes=True)
    def predict(X):
        p = float(X[0, 0])
        return np.array([[1 - p, p]])

    @modeltel.monitor(model="price", version="1", outcomes="regression")
    def price(X):
        return np.array([float(X[0, 0]) * 100])

    with capture() as cap:
        for s in scores:
            predict(np.array([[s]]))
        price(np.array([[0.5]]))
        records = _predicted(r.log_record for r in cap.otel_logs)
    churn = [r for r in records if r.attributes["ml.model.name"] == "churn"]
    prices = [r for r in records if r.attributes["ml.model.name"] == "price"]
    # 1,100 rows: two full records of COALESCE_ROWS and the rest, sent by the flush.
    assert [len(_rows(r.attributes, "ml.outcome.keys")) for r in churn] == [
        _outcomes.COALESCE_ROWS, _outcomes.COALESCE_ROWS, 1100 - 2 * _outcomes.COALESCE_ROWS]
    keys = [k for r in churn for k in _rows(r.attributes, "ml.outcome.keys")]
    assert len(set(keys)) == 1100 and all(k.endswith(":0") for k in keys)
    got_scores = [v for r in churn for v in _rows(r.attributes, "ml.prediction.scores")]
    got_classes = [c for r in churn for c in _rows(r.attributes, "ml.prediction.classes")]
    assert got_scores == pytest.approx(scores.tolist(), abs=0, rel=0)
    assert got_classes == ["1" if s > 1 - s else "0" for s in scores]
    assert all(r.attributes["ml.model.version"] == "2" for r in churn)
    # Another model's rows are another record, with values, not classes.
    (p,) = prices
    assert _rows(p.attributes, "ml.prediction.values") == [50.0] and "ml.prediction.classes" not in p.attributes


def test_a_lone_row_is_sent_by_the_thread_within_about_a_second():
    @modeltel.monitor(model="lone", version="1", outcomes=True, id_from="tx")
    def predict(X):
        return np.array([[0.25, 0.75]])

    with capture() as cap:
        started = time.monotonic()
        predict({"tx": 424242, "x": 1.0})
        deadline = started + 10
        seen = []
        while time.monotonic() < deadline and not seen:
            seen = _predicted(r.log_record for r in cap._otel_logs.get_finished_logs())  # no flush here
            time.sleep(0.05)
        waited = time.monotonic() - started
    (rec,) = seen
    assert _rows(rec.attributes, "ml.outcome.keys") == ["424242"]
    assert _rows(rec.attributes, "ml.prediction.classes") == ["1"]
    assert waited >= _outcomes.COALESCE_SECONDS * 0.9  # it waited for company
    assert waited < _outcomes.COALESCE_SECONDS * 6  # and not for long (a loaded machine is slow)


def test_logged_and_failed_calls_keep_their_rows_on_their_own_record():
    @modeltel.monitor(model="fraud", version="1", outcomes=True)
    def predict(X):
        return np.array([[0.4, 0.6]])

    with capture(log_sample_rate=1.0) as cap:
        predict(np.zeros((1, 2)))
        records = [r.log_record for r in cap.otel_logs]
    (rec,) = [r for r in records if "ml.outcome.keys" in (r.attributes or {})]
    assert rec.event_name == "ml.prediction"  # the prediction's own record carries the row


APP = textwrap.dedent(
    """
    import numpy as np
    import modeltel

    modeltel.configure(service_name="coalesce")

    @modeltel.monitor(model="exit", version="1", outcomes=True, id_from="order")
    def predict(X):
        return np.array([[0.1, 0.9]])

    for i in range(37):
        predict({"order": f"o-{i}", "x": float(i)})
    # no flush, no shutdown: the exit hook sends the rows still waiting
    """
)


def test_rows_still_waiting_at_exit_are_sent(tmp_path):
    capture_server = OtlpCapture(free_port()).start()
    try:
        script = tmp_path / "app.py"
        script.write_text(APP)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "MODELTEL_"))}
        env.update({
            "OTEL_EXPORTER_OTLP_ENDPOINT": capture_server.endpoint,
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            "MODELTEL_HASH_KEY": "coalesce-test",
        })
        done = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        keys = []
        for _res, rec in capture_server.log_records():
            attrs = {kv.key: any_value(kv.value) for kv in rec.attributes}
            if rec.event_name == "ml.outcome.predicted":
                keys.extend(_outcomes.unpack(attrs["ml.outcome.keys"]))
        assert sorted(keys) == sorted(f"o-{i}" for i in range(37))
    finally:
        capture_server.stop()
