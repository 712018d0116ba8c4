"""Backend outage: with the persistent sending queue, nothing sent during the outage is lost.

Jaeger (traces over OTLP/gRPC) and an OTLP/HTTP intake (Honeycomb's shape: traces, metrics,
logs) are stopped for 60 seconds while the model keeps sending; during the outage the
collector itself is restarted too, so the data has to survive in the file_storage queue on
disk, not only in memory. Then both backends come back on the same ports, and every span,
data point and log record sent meanwhile must arrive, counted one by one.
"""

from __future__ import annotations

import time

import pytest

from . import _otlp
from ._capture import OtlpCapture
from ._procs import BUILD, wait_until
from .conftest import HERE, collector_env

OUTAGE_SECONDS = 60
ROUNDS = 12  # requests sent during the outage, spread over it
SPANS_PER_ROUND = 50
POINTS_PER_ROUND = 40
LOGS_PER_ROUND = 30


@pytest.mark.timeout(420)
def test_outage_of_60s_loses_no_span_point_or_log_record(jaeger, start_collector, tmp_path):
    """Every span, data point and log record sent while the backends were down arrives afterwards."""
    capture = OtlpCapture(_free_port()).start()
    try:
        env = collector_env(
            tmp_path,
            JAEGER_OTLP_ENDPOINT=jaeger.otlp_grpc,
            HONEYCOMB_API_ENDPOINT=capture.endpoint,
            HONEYCOMB_API_KEY="outage-test-key",
        )
        configs = ["jaeger.yaml", "honeycomb.yaml", HERE / "configs" / "outage-pipelines.yaml"]
        collector = start_collector(configs, env)

        # Both backends up: one round goes through, proving the path works before the outage.
        trace_before = _otlp.random_trace_id()
        _otlp.post(collector.otlp_http, _otlp.trace_request("outage-svc", trace_before, 0, 5))
        wait_until(lambda: _span_count(jaeger, "outage-svc") == 5, 60, what="5 spans in Jaeger before the outage")

        # Outage: both backends stop. The model keeps sending for OUTAGE_SECONDS.
        jaeger.proc.stop()
        capture.stop()
        outage_started = time.monotonic()
        trace_ids = [_otlp.random_trace_id() for _ in range(ROUNDS)]
        sent_spans = sent_points = sent_logs = 0
        for i in range(ROUNDS):
            _otlp.post(collector.otlp_http, _otlp.trace_request("outage-svc", trace_ids[i], 1000 + i * SPANS_PER_ROUND, SPANS_PER_ROUND))
            _otlp.post(collector.otlp_http, _otlp.gauge_request("outage-svc", i * POINTS_PER_ROUND, POINTS_PER_ROUND))
            _otlp.post(collector.otlp_http, _otlp.log_request("outage-svc", i * LOGS_PER_ROUND, LOGS_PER_ROUND))
            sent_spans += SPANS_PER_ROUND
            sent_points += POINTS_PER_ROUND
            sent_logs += LOGS_PER_ROUND
            if i == ROUNDS // 2:
                # Mid-outage collector restart: only the on-disk queue can carry the data over.
                collector.proc.stop()
                assert any(collector.storage_dir.iterdir()), "no queue files in the storage directory"
                collector.proc.start(timeout=60)
            time.sleep(OUTAGE_SECONDS / ROUNDS / 2)
        queued_spans = collector.own_metric("otelcol_exporter_queue_size", exporter="otlp_grpc/jaeger")
        remaining = OUTAGE_SECONDS - (time.monotonic() - outage_started)
        if remaining > 0:
            time.sleep(remaining)
        outage = time.monotonic() - outage_started

        # Backends back, same addresses; Jaeger's memory store starts empty.
        jaeger.proc.start(timeout=60)
        capture.start()
        wait_until(lambda: _span_count(jaeger, "outage-svc") >= sent_spans, 120, interval=1,
                   what=f"{sent_spans} spans in Jaeger after the outage")
        wait_until(lambda: len(_seqs(capture.metric_points())) >= sent_points and
                   len(_seqs(capture.log_records())) >= sent_logs and
                   len(_seqs(capture.spans())) >= sent_spans + 5, 120, interval=1,
                   what="every point and log record at the OTLP/HTTP intake")
        time.sleep(3)  # anything duplicated would show up now

        jaeger_spans = _span_count(jaeger, "outage-svc")
        jaeger_copies = _span_count(jaeger, "outage-svc", unique=False)
        intake_spans = _seqs(capture.spans())
        points = _seqs(capture.metric_points())
        logs = _seqs(capture.log_records())
        # At-least-once delivery may repeat a batch; repeats are reported, not counted twice.
        repeats = sum(len(_seq_list(items)) - len(set(_seq_list(items)))
                      for items in (capture.spans(), capture.metric_points(), capture.log_records()))
        print(
            f"\noutage {outage:.0f}s with a collector restart: sent {sent_spans} spans, {sent_points} points, "
            f"{sent_logs} log records; {queued_spans:.0f} batches in the Jaeger queue at the end of the outage; "
            f"arrived: Jaeger {jaeger_spans} spans ({jaeger_copies - jaeger_spans} duplicates), intake {len(intake_spans)} spans, "
            f"{len(points)} points, {len(logs)} log records ({repeats} repeated at the intake)"
        )
        assert outage >= OUTAGE_SECONDS
        assert jaeger_spans == sent_spans
        # The intake was up for the 5 spans before the outage too.
        assert intake_spans == set(range(5)) | set(range(1000, 1000 + sent_spans))
        assert points == set(range(sent_points))
        assert logs == set(range(sent_logs))
        assert not capture.errors
    finally:
        capture.stop()


def _free_port() -> int:
    from ._procs import free_port

    return free_port()


def _span_count(jaeger, service: str, unique: bool = True) -> int:
    """Spans of `service` in Jaeger: distinct span ids (or every stored copy if not unique)."""
    try:
        traces = jaeger.traces(service, limit=1000)
    except Exception:
        return -1
    spans = [(s["traceID"], s["spanID"]) for t in traces for s in t["spans"]]
    return len(set(spans)) if unique else len(spans)


def _seq_list(items) -> list[int]:
    """The `seq` attribute of every span/point/record that has one, repeats included."""
    from ._capture import attributes

    out = []
    for item in items:
        seq = attributes(item[-1].attributes).get("seq")
        if seq is not None:
            out.append(int(seq))
    return out


def _seqs(items) -> set[int]:
    """The distinct `seq` values: a repeated delivery does not count twice."""
    return set(_seq_list(items))


@pytest.mark.timeout(420)
def test_remote_write_outage_of_60s_loses_no_point(start_prometheus, start_collector, tmp_path):
    """Prometheus down for 60 s behind the remote-write pipeline: its WAL delivers every point later."""
    full = BUILD / "otelcol-modeltel-full" / "otelcol-modeltel"
    assert full.exists(), "build it with `make collector-full`"
    prom = start_prometheus()
    env = collector_env(tmp_path, PROMETHEUS_REMOTE_WRITE_URL=f"http://{prom.address}/api/v1/write")
    collector = start_collector(["prometheus-remote-write.yaml"], env, binary=full)

    def arrived(first: int, last: int) -> int:
        r = prom.query(f'count(outage_test_value_ratio{{seq=~"{"|".join(str(i) for i in range(first, last))}"}})')
        return int(float(r[0]["value"][1])) if r else 0

    _otlp.post(collector.otlp_http, _otlp.gauge_request("rw-outage", 0, 10))
    wait_until(lambda: arrived(0, 10) == 10, 60, interval=1, what="10 points before the outage")

    prom.proc.stop()
    started = time.monotonic()
    sent = 0
    for i in range(ROUNDS):
        _otlp.post(collector.otlp_http, _otlp.gauge_request("rw-outage", 100 + i * POINTS_PER_ROUND, POINTS_PER_ROUND))
        sent += POINTS_PER_ROUND
        time.sleep(OUTAGE_SECONDS / ROUNDS / 2)
    time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - started)))
    outage = time.monotonic() - started
    prom.proc.start(timeout=60)  # same address, same TSDB directory

    wait_until(lambda: arrived(100, 100 + sent) >= sent, 150, interval=2, what=f"{sent} points after the outage")
    got = arrived(100, 100 + sent)
    print(f"\nremote-write outage {outage:.0f}s: sent {sent} points during it, {got} in Prometheus afterwards")
    assert got == sent
    assert arrived(0, 10) == 10  # what came before the outage is still there
