"""Every drop counted, nothing counted twice, shutdown bounded: the SDK under endpoint faults.

A real SDK process (tests/faults/_traffic_app.py: 200 predictions/s for 4 s, one span, one log
record and two feature values each) exports over OTLP/HTTP to a loopback stand-in whose
behaviour changes during the run: refusing (closed port), 503, 429, never answering. Time is
compressed: the fault lasts 2 s, exporters time out after 1 s, queues hold 100 items, so the
fault outlasts both and drops are certain. Accounting is exact per signal, from both ends:

    confirmed + counted as dropped by the SDK == produced      (spans, log records, values)
    confirmed <= accepted by the endpoint <= confirmed + dropped as "unanswered"

and no span arrives twice. ``shutdown()`` must return within MODELTEL_SHUTDOWN_TIMEOUT also
when the endpoint stops answering just before it (there the spans, logs and distribution
values still queued or in flight are counted as dropped on the way out). The predict p50/p99 of each run are printed
(compared with the healthy run by bench-style figures, not asserted).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from backends._procs import free_port
from faults._standin import StandIn

pytestmark = pytest.mark.e2e

TRAFFIC = Path(__file__).with_name("_traffic_app.py")
SECONDS, RATE, LIMIT = 4.0, 200, 2.0
FAULT_START, FAULT_END = 0.8, 2.8


def _run(standin: StandIn, script: list[tuple[float, object]], tmp_path: Path, **settings: str) -> dict:
    env = {
        **os.environ,
        "OTEL_EXPORTER_OTLP_ENDPOINT": standin.endpoint,
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_EXPORTER_OTLP_TIMEOUT": "1",
        "OTEL_BSP_SCHEDULE_DELAY": "100",
        "OTEL_BSP_MAX_QUEUE_SIZE": "100",
        "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "50",
        "OTEL_BLRP_SCHEDULE_DELAY": "100",
        "OTEL_BLRP_MAX_QUEUE_SIZE": "100",
        "OTEL_BLRP_MAX_EXPORT_BATCH_SIZE": "50",
        "OTEL_METRIC_EXPORT_INTERVAL": "300",
        "MODELTEL_EXPORT_INTERVAL": "0.3",
        "MODELTEL_SHUTDOWN_TIMEOUT": str(LIMIT),
        "MODELTEL_EXPORTER": "otlp",
        "MODELTEL_LOG_CONSOLE": "false",
        # every prediction logged (by default a traced success is not): the log queue is
        # one of the signals whose losses are counted
        "MODELTEL_LOG_SAMPLE_RATE": "1",
        "TRAFFIC_STARTED": str(tmp_path / "traffic.started"),
        **settings,
    }
    marker = Path(env["TRAFFIC_STARTED"])
    marker.unlink(missing_ok=True)
    log = open(tmp_path / "app.err", "w")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, str(TRAFFIC), str(SECONDS), str(RATE)], env=env, stdout=subprocess.PIPE, stderr=log, text=True
    )

    def play() -> None:
        # The script's times count from the first prediction, not from the process start.
        deadline = time.monotonic() + 30
        while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        started = time.monotonic()
        for at, action in script:
            time.sleep(max(0.0, started + at - time.monotonic()))
            action() if callable(action) else standin.set_mode(str(action))

    player = threading.Thread(target=play, daemon=True)
    player.start()
    out, _ = proc.communicate(timeout=60)
    player.join(10)
    log.close()
    assert proc.returncode == 0, (tmp_path / "app.err").read_text()[-3000:]
    result = json.loads(out.strip().splitlines()[-1])
    time.sleep(0.3)  # the stand-in's last handler threads
    print(f"\n{script!r}: {result}")
    return result


def _dropped(result: dict, signal: str) -> int:
    return sum(n for key, n in result["dropped"].items() if key.startswith(f"{signal}/"))


FAULTS = {
    "503": [(FAULT_START, "503"), (FAULT_END, "ok")],
    "429": [(FAULT_START, "429"), (FAULT_END, "ok")],
    "never_answering": [(FAULT_START, "hang"), (FAULT_END, "ok")],
}


@pytest.fixture
def standin() -> StandIn:
    s = StandIn(free_port()).start()
    yield s
    s.stop()


def _check_exact(result: dict, standin: StandIn) -> None:
    """Both ends agree: the SDK accounts for every item (delivered + dropped = produced) and the
    endpoint holds every confirmed item, plus at most those sent but never answered in time
    (``unanswered``: they may have arrived; none does in these runs unless a request was caught
    by the port closing), and no span twice."""
    produced = result["predictions"]
    spans = sum(standin.span_ids.values())
    assert max(standin.span_ids.values(), default=1) == 1, "a span arrived twice"
    for signal, accepted in (("spans", spans), ("logs", standin.logs)):
        delivered = result["delivered"].get(signal, 0)
        assert delivered + _dropped(result, signal) == produced, signal
        assert delivered <= accepted <= delivered + result["dropped"].get(f"{signal}/unanswered", 0), signal
    delivered = result["sketch_delivered_values"]
    assert delivered + result["sketch_dropped_values"] == result["values"]
    assert delivered <= standin.values <= delivered + result["sketch_unanswered_values"]
    assert result["shutdown_s"] < LIMIT + 0.5


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_fault_loses_only_what_is_counted(standin: StandIn, tmp_path: Path, fault: str) -> None:
    """503, 429, an endpoint that never answers: exact accounting per signal, drops > 0."""
    result = _run(standin, FAULTS[fault], tmp_path)
    _check_exact(result, standin)
    assert _dropped(result, "spans") > 0 and _dropped(result, "logs") > 0 and result["sketch_dropped_values"] > 0
    # only a request that was sent and never answered is "unanswered" (it may have arrived)
    unanswered = result["dropped"].get("spans/unanswered", 0)
    assert (unanswered > 0) == (fault == "never_answering"), result["dropped"]


def test_a_refusing_endpoint_loses_only_what_is_counted(standin: StandIn, tmp_path: Path) -> None:
    """The port is closed for 2 s (connection refused), then open again: exact accounting."""
    result = _run(standin, [(FAULT_START, standin.stop), (FAULT_END, standin.start)], tmp_path)
    _check_exact(result, standin)
    assert _dropped(result, "spans") > 0 and result["sketch_dropped_values"] > 0


def test_absent_at_start_then_up(tmp_path: Path) -> None:
    """Nothing listens for the first 2 s of the run: exact accounting once it is there."""
    standin = StandIn(free_port())
    try:
        result = _run(standin, [(FAULT_END - 0.8, standin.start)], tmp_path)
        _check_exact(result, standin)
        assert _dropped(result, "spans") > 0
    finally:
        standin.stop()


def test_shutdown_is_bounded_when_the_endpoint_stops_answering(standin: StandIn, tmp_path: Path) -> None:
    """The endpoint hangs from 3.5 s on (through shutdown): shutdown() returns within its
    limit, and spans/logs still queued or in flight are counted as dropped on the way out."""
    result = _run(standin, [(SECONDS - 0.5, "hang"), (SECONDS + LIMIT + 3, "ok")], tmp_path)
    produced = result["predictions"]
    assert result["shutdown_s"] < LIMIT + 0.5
    assert max(standin.span_ids.values(), default=1) == 1
    assert sum(standin.span_ids.values()) + _dropped(result, "spans") == produced
    assert standin.logs + _dropped(result, "logs") == produced
    assert any(key.endswith("/shutdown") for key in result["dropped"]), result["dropped"]
    assert standin.values + result["sketch_dropped_values"] <= result["values"]  # never twice


def test_distribution_values_in_flight_at_shutdown_are_counted(standin: StandIn, tmp_path: Path) -> None:
    """The endpoint hangs from 3.5 s on and exports wait 5 s for an answer, but shutdown gives
    up after 0.5 s: the distribution export in flight and the values still in the store are
    counted as dropped (``shutdown``), exactly, and the late end of that export counts nothing."""
    result = _run(
        standin, [(SECONDS - 0.5, "hang"), (SECONDS + 1, "ok")], tmp_path,
        OTEL_EXPORTER_OTLP_TIMEOUT="5", MODELTEL_SHUTDOWN_TIMEOUT="0.5",
    )
    assert result["shutdown_s"] < 1.0
    assert result["sketch_dropped_by_reason"].get("shutdown", 0) > 0, result
    assert result["sketch_delivered_values"] + result["sketch_dropped_values"] == result["values"]
    assert standin.values == result["sketch_delivered_values"]  # a held request is never accepted


def test_a_healthy_run_drops_nothing(standin: StandIn, tmp_path: Path) -> None:
    """The same run without a fault: everything arrives once, nothing is counted as dropped
    (the baseline for the p50/p99 figures printed by the fault runs)."""
    result = _run(standin, [], tmp_path)
    _check_exact(result, standin)
    assert result["dropped"] == {} and result["sketch_dropped_values"] == 0


# -- the real collector: frozen (SIGSTOP) and killed (SIGKILL, then restarted) ------------


def _collector_spans(collector: object) -> list[str]:
    ids = []
    for line in collector.lines():  # type: ignore[attr-defined]
        for rs in line.get("resourceSpans", []):
            for ss in rs.get("scopeSpans", []):
                ids.extend(s["spanId"] for s in ss.get("spans", []) if s["name"] == "predict traffic")
    return ids


def _signal_collector(collector: object, signum: int) -> None:
    collector.proc.send_signal(signum)  # type: ignore[attr-defined]


def test_a_frozen_collector_gets_nothing_twice_and_shutdown_stays_bounded(start_collector, tmp_path: Path) -> None:
    """SIGSTOP for 2 s (compressed from the 30 s of the issue), then SIGCONT: no span arrives
    twice (a timed-out export is never re-sent), every span is delivered or counted as dropped;
    an export sent to the frozen collector and not answered in time is counted under
    ``unanswered`` (it may arrive after SIGCONT; the SDK cannot know), so the collector holds
    between the confirmed spans and the confirmed plus the unanswered ones."""
    import signal

    collector = start_collector("local.yaml", name="frozen")
    standin = type("Endpoint", (), {"endpoint": collector.http_endpoint, "set_mode": lambda self, m: None})()
    result = _run(
        standin,  # type: ignore[arg-type]
        [(FAULT_START, lambda: _signal_collector(collector, signal.SIGSTOP)),
         (FAULT_START + 2.0, lambda: _signal_collector(collector, signal.SIGCONT))],
        tmp_path,
    )
    time.sleep(2.0)  # the collector's batch processor (1 s) writes what it holds
    ids = _collector_spans(collector)
    assert len(ids) == len(set(ids)), "a span arrived twice"
    delivered = result["delivered"]["spans"]
    unanswered = result["dropped"].get("spans/unanswered", 0)
    assert delivered + _dropped(result, "spans") == result["predictions"]
    # every confirmed span arrived; of the unanswered ones, those the frozen collector had
    # read arrived too, and no others
    assert delivered <= len(ids) <= delivered + unanswered
    assert result["shutdown_s"] < LIMIT + 0.5


def test_a_killed_and_restarted_collector_gets_nothing_twice(start_collector, tmp_path: Path) -> None:
    """SIGKILL at 0.8 s, a new collector on the same ports 2 s later: no span twice, and what
    the SDK counted as delivered or dropped adds up to what it produced (the killed collector's
    unwritten batch is the collector's loss: arrived <= delivered)."""
    import signal

    collector = start_collector("local.yaml", name="killed")

    def kill() -> None:
        _signal_collector(collector, signal.SIGKILL)
        collector.proc.wait(5)  # type: ignore[union-attr]

    standin = type("Endpoint", (), {"endpoint": collector.http_endpoint, "set_mode": lambda self, m: None})()
    result = _run(standin, [(FAULT_START, kill), (FAULT_END, collector.start)], tmp_path)  # type: ignore[arg-type]
    time.sleep(2.0)
    ids = _collector_spans(collector)
    assert len(ids) == len(set(ids)), "a span arrived twice"
    assert result["delivered"]["spans"] + _dropped(result, "spans") == result["predictions"]
    assert len(ids) <= result["delivered"]["spans"]
    assert _dropped(result, "spans") > 0
    assert result["shutdown_s"] < LIMIT + 0.5
