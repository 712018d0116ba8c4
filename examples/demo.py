"""modeltel demo: an instrumented model server under traffic, drift computed by the collector.

Run with `make demo` (it builds the otelcol-modeltel collector first when needed). The demo

1. starts the collector (collector-config/outcomes.yaml: OTLP in, mldrift, the mlperformance
   connector with its state in file_storage, JSON-lines files out)
   on free loopback ports, with a one-minute drift window so that things happen quickly;
2. trains a small bike-demand model and builds its baseline from the training data;
3. serves the model over HTTP (``POST /predict``, one ``@modeltel.monitor`` on predict) and
   sends it traffic: first like the training data, then, midway, with warmer weather and
   more rain (drift injected on ``temp`` and ``weather``); then a concept-drift phase: a
   classifier of busy hours whose inputs stay like the training data while its labels flip
   (joinable predictions, labels through ``record_outcomes``, the mlperformance connector);
4. prints the first ``ml.prediction`` log records as one labelled line each, after each phase
   the per-feature drift table read from the collector's output, and the drift log records
   (WARN when a feature enters drift);
5. writes the offline drift report of the same window (``_build/demo/drift-report.html``,
   with the rows and the baseline next to it), prints its path and the next steps;
6. stops everything it started.

``--stack`` (``make demo-stack``) keeps going instead: a real Prometheus (Debian's package)
scrapes the collector every 2 s with the shipped alert rules (their ``for:`` shortened to
20 s), traffic keeps flowing, and the URLs to graph drift over time are printed; Ctrl-C
stops everything.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
COLLECTOR = ROOT / "_build" / "otelcol-modeltel" / "otelcol-modeltel"
NUMERIC = ["temp", "humidity", "windspeed", "hour"]
WEATHER = ["clear", "mist", "rain"]
ROWS_PER_PHASE = 900
BATCH = 30
REPORT_DIR = ROOT / "_build" / "demo"
ALERT_RULES = ROOT / "collector-config" / "alerts" / "modeltel.rules.yml"
#: Prometheus settings of --stack: quick enough to see a drift line within seconds.
SCRAPE_INTERVAL = "2s"
ALERT_FOR = "20s"
# mldrift settings for the demo (the defaults are a 1 h window and a 60 s emit interval).
DRIFT_SETTINGS = {
    "MLDRIFT_WINDOW": "60s",
    "MLDRIFT_SLOT_SIZE": "1s",
    "MLDRIFT_EMIT_INTERVAL": "1s",
    "MLDRIFT_MIN_SAMPLES": "300",
    # mlperformance (phase 3): a 60 s window of 1 s slots, verdicts from 300 joined rows.
    "MLPERF_WINDOW": "60s",
    "MLPERF_SLOTS": "60",
    "MLPERF_EMIT_INTERVAL": "1s",
    "MLPERF_MIN_SAMPLES": "300",
}
#: Phase 3's classifier: is the hour busy (demand above the training median)?
BUSY = "bike-busy"


# ------------------------------------------------------------------------ the collector


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Collector:
    """otelcol-modeltel with collector-config/outcomes.yaml (local.yaml plus the mlperformance
    connector) on free loopback ports."""

    def __init__(self, workdir: Path) -> None:
        if not COLLECTOR.exists():  # `make demo` builds it; running the script alone too
            subprocess.run(["make", "-s", "collector"], cwd=ROOT, check=True)
        self.output = workdir / "collector-output.jsonl"
        self.log = workdir / "collector.log"
        self.http_port, self.health_port, self.scrape_port = free_port(), free_port(), free_port()
        env = {
            **os.environ,
            **DRIFT_SETTINGS,
            "OTELCOL_OTLP_GRPC_ENDPOINT": f"127.0.0.1:{free_port()}",
            "OTELCOL_OTLP_HTTP_ENDPOINT": f"127.0.0.1:{self.http_port}",
            "OTELCOL_HEALTH_ENDPOINT": f"127.0.0.1:{self.health_port}",
            "OTELCOL_METRICS_PORT": str(free_port()),
            "OTELCOL_FILE_PATH": str(self.output),
            "PROMETHEUS_EXPORTER_ENDPOINT": f"127.0.0.1:{self.scrape_port}",
            "OTELCOL_STORAGE_DIR": str(workdir / "storage"),
        }
        self.proc = _start(
            [str(COLLECTOR), "--config", str(ROOT / "collector-config" / "outcomes.yaml")],
            env, self.log, f"http://127.0.0.1:{self.health_port}/", "the collector",
        )

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def stop(self) -> None:
        _stop(self.proc)

    def lines(self) -> list[dict[str, Any]]:
        out = []
        # metrics in the file itself, logs, traces and the connector's events beside it
        for path in (self.output, *(Path(f"{self.output}.{kind}") for kind in ("logs", "traces", "events"))):
            if path.exists():
                for line in path.read_text().splitlines():
                    try:
                        out.append(json.loads(line))
                    except json.JSONDecodeError:  # the line being written right now
                        pass
        return out


def _start(cmd: list[str], env: dict[str, str], log_path: Path, ready_url: str, what: str) -> subprocess.Popen:
    """Start a server logging to `log_path`; return once `ready_url` answers (30 s at most)."""
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited:\n{log_path.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(ready_url, timeout=1):
                return proc
        except OSError:
            time.sleep(0.1)
    _stop(proc)
    raise TimeoutError(f"{what} was not ready in 30 s")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Prometheus:
    """Debian's prometheus scraping the collector, with the shipped alert rules (quick `for:`)."""

    def __init__(self, workdir: Path, scrape_port: int) -> None:
        binary = shutil.which("prometheus")
        if binary is None:
            raise RuntimeError("--stack needs prometheus on PATH (Debian: apt-get install prometheus; `make prometheus`)")
        rules = workdir / "modeltel.rules.yml"
        rules.write_text(re.sub(r"(?m)^(\s+for:)\s*\S+", rf"\1 {ALERT_FOR}", ALERT_RULES.read_text()))
        config = workdir / "prometheus.yml"
        config.write_text(
            f"global: {{scrape_interval: {SCRAPE_INTERVAL}, evaluation_interval: {SCRAPE_INTERVAL}}}\n"
            f"rule_files: [{json.dumps(str(rules))}]\n"
            "scrape_configs:\n"
            f"  - {{job_name: otelcol-modeltel, honor_labels: true, static_configs: [{{targets: ['127.0.0.1:{scrape_port}']}}]}}\n"
        )
        self.port = free_port()
        self.log = workdir / "prometheus.log"
        self.proc = _start(
            [binary, f"--config.file={config}", f"--storage.tsdb.path={workdir / 'prometheus-data'}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--storage.tsdb.retention.time=2h"],
            dict(os.environ), self.log, f"{self.url}/-/ready", "prometheus",
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def graph(self, expr: str) -> str:
        from urllib.parse import quote

        return f"{self.url}/graph?g0.expr={quote(expr)}&g0.tab=0&g0.range_input=15m"

    def stop(self) -> None:
        _stop(self.proc)


def _attrs(item: dict[str, Any]) -> dict[str, Any]:
    return {kv["key"]: next(iter(kv["value"].values()), None) for kv in item.get("attributes", [])}


def _value(point: dict[str, Any]) -> float:
    v = point.get("asDouble", point.get("asInt", 0))
    return float(str(v).replace("Infinity", "inf"))


def gauges(lines: list[dict[str, Any]], model: str) -> dict[str, dict[tuple[str, ...], float]]:
    """The latest value of every mldrift gauge of `model`, by metric and attributes."""
    out: dict[str, dict[tuple[str, ...], float]] = {}
    for line in lines:
        for rm in line.get("resourceMetrics", []):
            for sm in rm.get("scopeMetrics", []):
                for m in sm.get("metrics", []):
                    if not m["name"].startswith(("ml.drift.", "ml.data_quality.rate")) or "gauge" not in m:
                        continue
                    for p in m["gauge"].get("dataPoints", []):
                        a = _attrs(p)
                        if a.get("ml.model.name") != model:
                            continue
                        key = (a.get("ml.feature.name", ""), a.get("ml.drift.method") or a.get("ml.data_quality.check", ""))
                        out.setdefault(m["name"], {})[key] = _value(p)
    return out


def log_records(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        r
        for line in lines
        for rl in line.get("resourceLogs", [])
        for sl in rl.get("scopeLogs", [])
        for r in sl.get("logRecords", [])
    ]


# ------------------------------------------------------------------------ the model


def make_data(rng: np.random.Generator, n: int, *, drift: bool = False) -> tuple[list[dict[str, Any]], np.ndarray]:
    temp = rng.normal(0.75 if drift else 0.5, 0.15, n)
    humidity = rng.uniform(0.2, 1.0, n)
    windspeed = rng.exponential(0.2, n)
    hour = rng.integers(0, 24, n)
    weather = rng.choice(WEATHER, n, p=[0.2, 0.2, 0.6] if drift else [0.6, 0.3, 0.1])
    y = 300 * temp - 100 * humidity + 5 * hour - 40 * (weather == "rain") + rng.normal(0, 10, n)
    rows = [
        {"temp": float(t), "humidity": float(h), "windspeed": float(w), "hour": int(hr), "weather": str(we)}
        for t, h, w, hr, we in zip(temp, humidity, windspeed, hour, weather)
    ]
    return rows, y


def design(rows: list[dict[str, Any]]) -> np.ndarray:
    X = np.array([[r[f] for f in NUMERIC] for r in rows], dtype=float)
    rain = np.array([r["weather"] == "rain" for r in rows], dtype=float)
    return np.c_[X, rain, np.ones(len(rows))]


class DemandModel:
    """A tiny linear model of hourly bike demand, fitted with numpy least squares."""

    def __init__(self, rows: list[dict[str, Any]], y: np.ndarray) -> None:
        self.coef, *_ = np.linalg.lstsq(design(rows), y, rcond=None)

    def predict(self, rows: list[dict[str, Any]]) -> np.ndarray:
        return design(rows) @ self.coef


def serve(predict) -> ThreadingHTTPServer:
    """POST /predict with a JSON list of records; answers the predictions."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            rows = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            body = json.dumps([float(v) for v in predict(rows)]).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:  # quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def send_traffic(port: int, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), BATCH):
        req = urllib.request.Request(
            f"http://127.0.0.1:{port}/predict", data=json.dumps(rows[start : start + BATCH]).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=10) as r:
            r.read()


# ------------------------------------------------------------------------ the report


def print_table(collector: Collector, model: str, title: str) -> None:
    g = gauges(collector.lines(), model)
    samples = g.get("ml.drift.sample_count", {})
    scores, limits = g.get("ml.drift.score", {}), g.get("ml.drift.threshold", {})
    detected, quality = g.get("ml.drift.detected", {}), g.get("ml.data_quality.rate", {})
    print(f"\n== {title}: drift per feature, as the collector computed it (window {DRIFT_SETTINGS['MLDRIFT_WINDOW']}) ==")
    print(f"{'feature':12s} {'values':>7s} {'PSI':>7s} {'JS':>7s} {'decisive rule':>32s} {'null %':>7s}  verdict")
    for feature in sorted({f for f, _ in samples}):
        if not feature or feature.startswith("__projection_"):  # summed up in the multivariate row
            continue
        psi = scores.get((feature, "psi"))
        js = scores.get((feature, "jensen_shannon"))
        # The rule the verdict used: each method with a threshold is one of them.
        order = ["psi", "wasserstein_normalized", "ks_qvalue", "chi2_qvalue", "jensen_shannon"]
        rules = sorted(
            ((m, scores[(f, m)], t) for (f, m), t in limits.items() if f == feature and (f, m) in scores),
            key=lambda r: order.index(r[0]) if r[0] in order else len(order),
        )
        fired = [(m, s, t) for m, s, t in rules if (s < t if m.endswith("qvalue") else s >= t)]
        shown = fired[0] if fired else (rules[0] if rules else None)
        rule = f"{shown[0]} {shown[1]:.3g} vs {shown[2]:.3g}" if shown else "-"
        verdict = {1.0: "DRIFT", 0.0: "ok"}.get(detected.get((feature, "")), "too few values")
        null = quality.get((feature, "null"))
        print(
            f"{feature:12s} {int(samples[(feature, '')]):7d} "
            f"{psi if psi is not None else float('nan'):7.3f} {js if js is not None else float('nan'):7.3f} "
            f"{rule:>32s} {100 * null if null is not None else 0:6.1f}%  {verdict}"
        )
    projections = sorted(f for f, _ in samples if f.startswith("__projection_"))
    if projections:
        # The baseline's projections of the numeric inputs (docs/drift-math.md section 8): one
        # model-level verdict, drift when the inputs' joint distribution moved.
        drifting = sum(detected.get((f, "")) == 1.0 for f in projections)
        mv = {1.0: "DRIFT", 0.0: "ok"}.get(g.get("ml.drift.multivariate.detected", {}).get(("", "")), "too few values")
        print(f"{'multivariate':12s} {int(samples[(projections[0], '')]):7d} {'':7s} {'':7s} "
              f"{f'{drifting} of {len(projections)} projections drift':>32s} {'':7s}  {mv}")


def wait_for_window(collector: Collector, model: str, rows: int, timeout: float = 30) -> None:
    """Until the collector's window of every feature holds `rows` values (all exported)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        counts = gauges(collector.lines(), model).get("ml.drift.sample_count", {})
        if counts and all(v >= rows for (f, _), v in counts.items() if f):
            time.sleep(1.5)  # one more emit over the complete window
            return
        time.sleep(0.5)
    print(f"(the collector had not received all {rows} rows after {timeout:.0f} s)")


class PredictionLines:
    """A structlog processor for the demo: the first ``shown`` ml.prediction records as one
    labelled line each (the full JSON goes to the collector over OTLP); the rest are counted."""

    def __init__(self, shown: int = 3) -> None:
        self.shown = shown
        self.count = 0

    def __call__(self, logger: Any, method: str, event: dict[str, Any]) -> Any:
        import structlog

        if event.get("event") == "ml.prediction":
            self.count += 1
            if self.count <= self.shown:
                print(
                    f"log record  ml.prediction  {event.get('ml.model.name')} {event.get('ml.model.version')}  "
                    f"{event.get('rows')} rows  {1000 * float(event.get('duration_s', 0)):.2f} ms  "
                    f"id {str(event.get('ml.prediction.id'))[:12]}  trace {str(event.get('trace_id'))[:12]}",
                    flush=True,
                )
        raise structlog.DropEvent


def write_report(baseline: Any, baseline_path: Path, rows: list[dict[str, Any]], predictions: np.ndarray, out: Path) -> Any:
    """The offline drift report of the rows the collector's window holds, with the data next to it."""
    import pandas as pd

    import modeltel

    out.parent.mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame(rows)
    data = out.parent / "window.csv"
    frame.assign(prediction=predictions).to_csv(data, index=False)
    kept_baseline = out.parent / baseline_path.name
    shutil.copyfile(baseline_path, kept_baseline)
    report = modeltel.drift_report(baseline, frame, predictions=predictions, title="Drift report: bike-demand 1.0.0, the demo's window")
    report.write_html(out)
    res = report.result
    drifted = [fd.name for fd in res.features if fd.drifted and fd.role == "input"]
    rel = lambda p: p.relative_to(ROOT) if p.is_relative_to(ROOT) else p  # noqa: E731
    print(f"\n== drift report of the demo's window ({report.rows:,} rows, computed offline from the same rows) ==")
    print(f"report:   {out}")
    print(f"verdict:  {res.drifted} of {res.evaluated} input features drifted: {', '.join(drifted) or 'none'}")
    print("\nnext steps:")
    print(f"  open the report              {out.as_uri()}")
    print(f"  the same from the CLI        .venv/bin/modeltel drift report --baseline {rel(kept_baseline)} "
          f"--data {rel(data)} --prediction-col prediction -o {rel(out)}")
    print("  graph drift over time        make demo-stack   (collector + Prometheus kept running)")
    print("  monitor your own model       docs/quickstart.md")
    return report


def main(argv: list[str] | None = None) -> int:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--stack", action="store_true", help="keep the collector and a Prometheus running until Ctrl-C")
    args.add_argument("--report", type=Path, default=REPORT_DIR / "drift-report.html", help="where to write the HTML report")
    opts = args.parse_args(argv)
    # SIGTERM stops the demo as Ctrl-C does: through the finally blocks below.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    workdir = Path(tempfile.mkdtemp(prefix="modeltel-demo-"))
    collector = Collector(workdir)
    server = None
    prometheus = None
    try:
        # The demo's own collector, whatever the environment names.
        os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"] = collector.endpoint
        os.environ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf"
        os.environ.setdefault("MODELTEL_EXPORT_INTERVAL", "1")
        os.environ.setdefault("OTEL_METRIC_EXPORT_INTERVAL", "1000")
        os.environ.setdefault("OTEL_BLRP_SCHEDULE_DELAY", "500")
        import structlog

        import modeltel

        lines = PredictionLines()
        # The demo is the application: its structlog set-up is what modeltel's JSON records go through.
        structlog.configure(processors=[lines])
        # One ml.prediction log record in 10 (to the collector over OTLP; the first few shown here).
        modeltel.configure(service_name="bike-demand-api", exporter="otlp", log_sample_rate=0.1)
        if opts.stack:
            prometheus = Prometheus(workdir, collector.scrape_port)
        rng = np.random.default_rng(7)
        train, y = make_data(rng, 5_000)
        model = DemandModel(train, y)
        baseline = modeltel.Baseline.from_data(
            train, model="bike-demand", version="1.0.0", predictions=model.predict(train)
        )
        baseline_path = baseline.save(workdir / "bike-demand-1.0.0.json")
        predict = modeltel.monitor(model="bike-demand", version="1.0.0", baseline=str(baseline_path))(model.predict)
        server = serve(predict)
        port = server.server_address[1]
        print(f"collector: {COLLECTOR.relative_to(ROOT)}, collector pid {collector.proc.pid}, output {collector.output}")
        print(f"model server: http://127.0.0.1:{port}/predict, baseline {baseline.id}")

        print(f"\n-- phase 1: {ROWS_PER_PHASE} rows like the training data --", flush=True)
        phase1 = make_data(rng, ROWS_PER_PHASE)[0]
        send_traffic(port, phase1)
        wait_for_window(collector, "bike-demand", ROWS_PER_PHASE)
        print(f"({lines.count} ml.prediction log records so far, 1 in 10 predictions sampled; at most {lines.shown} shown)")
        print_table(collector, "bike-demand", "after phase 1")

        print(f"\n-- phase 2: {2 * ROWS_PER_PHASE} rows, warmer and rainier (drift injected on temp and weather) --", flush=True)
        phase2 = make_data(rng, 2 * ROWS_PER_PHASE, drift=True)[0]
        send_traffic(port, phase2)
        wait_for_window(collector, "bike-demand", 3 * ROWS_PER_PHASE)
        print_table(collector, "bike-demand", "after phase 2")
        print("\n== drift log records ==")
        for r in log_records(collector.lines()):
            body = r["body"].get("stringValue", "")
            # the projections' own records are summed up by the model-level multivariate one
            if r.get("eventName", "").startswith("ml.drift.") and not body.startswith("feature __projection_"):
                print(f"{r.get('severityText', ''):5s} {body}")
        concept_drift(collector, model, rng)
        window = phase1 + phase2
        write_report(baseline, baseline_path, window, model.predict(window), opts.report)
        if prometheus is not None:
            keep_running(prometheus, port, rng)
    except KeyboardInterrupt:
        print("\nstopping", flush=True)
    finally:
        if server is not None:
            server.shutdown()
        try:
            import modeltel

            modeltel.shutdown()
        finally:
            if prometheus is not None:
                prometheus.stop()
            collector.stop()
    return 0


def concept_drift(collector: Collector, model: DemandModel, rng: np.random.Generator) -> None:
    """Phase 3: a classifier whose inputs stay like the training data while its labels flip.

    ``bike-busy`` scores whether an hour is busy; its baseline holds its validation accuracy and
    calibration (predictions and targets). Its predictions are joinable (``outcomes=True``,
    key ``ride``); the labels come later through ``record_outcomes``. First they agree with the
    model, then the world changes (the busy hours are now the quiet ones): the input drift
    verdicts stay ok, accuracy falls, and the collector fires ``ml.performance.degraded``.
    """
    import modeltel

    train, demand = make_data(rng, 5_000)
    median = float(np.median(demand))

    def busy(rows: list[dict[str, Any]]) -> np.ndarray:
        return 1 / (1 + np.exp(-(model.predict(rows) - median) / 25))

    baseline = modeltel.Baseline.from_data(train, model=BUSY, version="1.0.0", predictions=busy(train),
                                           targets=(demand > median).astype(int))
    reference = baseline.performance["metrics"]["accuracy"]
    classify = modeltel.monitor(model=BUSY, version="1.0.0", baseline=baseline, outcomes=True, id_from="ride")(busy)
    print(f"\n-- phase 3: concept drift. {BUSY} (busy hour or not; baseline accuracy {reference:.3f}): "
          f"{2 * ROWS_PER_PHASE} rows like the training data; the labels of the second half flip --", flush=True)
    for part, flipped in (("a", False), ("b", True)):
        rows, y = make_data(rng, ROWS_PER_PHASE)
        for i, row in enumerate(rows):
            row["ride"] = f"{part}-{i}"
        for start in range(0, len(rows), BATCH):
            classify(rows[start : start + BATCH])
        actual = (y > median) != flipped
        modeltel.record_outcomes([r["ride"] for r in rows], actual.astype(int), model=BUSY)
    modeltel.force_flush()
    wait_for_window(collector, BUSY, 2 * ROWS_PER_PHASE)
    deadline = time.monotonic() + 30
    events: list[dict[str, Any]] = []
    while time.monotonic() < deadline and not events:
        events = [r for r in log_records(collector.lines()) if r.get("eventName") == "ml.performance.degraded"
                  and _attrs(r).get("ml.model.name") == BUSY]
        time.sleep(0.5)
    print_table(collector, BUSY, "after phase 3 (inputs)")
    figures: dict[str, float] = {}
    for line in collector.lines():
        for rm in line.get("resourceMetrics", []):
            for sm in rm.get("scopeMetrics", []):
                for m in sm.get("metrics", []):
                    for p in m.get("gauge", {}).get("dataPoints", []):
                        a = _attrs(p)
                        if a.get("ml.model.name") == BUSY and "ml.segment" not in a and "ml.performance.class" not in a:
                            figures[m["name"]] = _value(p)
    print(f"\n== after phase 3 (performance): {int(figures.get('ml.performance.sample_count', 0))} joined rows in the window ==")
    for name in ("ml.performance.accuracy", "ml.performance.estimated.accuracy", "ml.performance.reference"):
        print(f"{name:36s} {figures.get(name, float('nan')):.3f}")
    print("\n== performance log records ==")
    for r in events:
        print(f"{r.get('severityText', ''):5s} {r['body'].get('stringValue', '')}")
    if not events:
        print("(no ml.performance.degraded yet)")


def keep_running(prometheus: Prometheus, port: int, rng: np.random.Generator) -> None:
    """Drifted traffic, a batch a second, until Ctrl-C; the URLs to look at first."""
    print(
        f"\n== the stack keeps running (Ctrl-C stops it): Prometheus {prometheus.url} (prometheus pid {prometheus.proc.pid}), "
        f"scrape and rules every {SCRAPE_INTERVAL} =="
    )
    queries = {
        "drift score per feature": 'ml_drift_score_ratio{ml_model_name="bike-demand", ml_drift_method="psi"}',
        "drift verdicts": 'ml_drift_detected_ratio{ml_model_name="bike-demand"}',
        "prediction rate": "sum by (ml_model_name) (rate(ml_prediction_duration_seconds_count[1m]))",
    }
    for label, expr in queries.items():
        print(f"{label:<26}{prometheus.graph(expr)}")
    print(f"alerts (for: {ALERT_FOR})        {prometheus.url}/alerts")
    print("Grafana: import collector-config/dashboards/grafana-model.json with this Prometheus as its data source", flush=True)
    while True:
        send_traffic(port, make_data(rng, BATCH, drift=True)[0])
        time.sleep(1)


if __name__ == "__main__":
    raise SystemExit(main())
