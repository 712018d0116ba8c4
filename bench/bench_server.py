"""Requests per second and latency of the FastAPI example with and without modeltel.

Same run, same machine: every server runs for the whole benchmark and the load moves from
one to the next in short bursts, round after round (peer, otel, modeltel, then otel,
modeltel, peer, ...: each round starts one variant later), so that a slow spell of the
machine hits the variants of a round alike; changes are the median over rounds of the ratio
within each round:

  peer      examples/fastapi_server.py with EXAMPLE_NO_MODELTEL=1 and MODELTEL_ENABLED=false:
            no configure(), no instrument_fastapi(), the predict_route decorator a pass-through
  otel      the peer plus OpenTelemetry's FastAPI instrumentation and SDK export only
            (bench/_otel_only_app.py): what a service already on OpenTelemetry pays
  modeltel  the example as shipped: OpenTelemetry FastAPI instrumentation (HTTP spans and
            metrics), predict spans, input/output summaries, sketches, one JSON log record
            per prediction, exported over OTLP/HTTP (batching) to a sink that accepts and
            discards, in this process

With --trees N every variant serves a random forest of N trees trained on the same data
instead of the example's logistic regression (IRIS_MODEL_PATH): a model that costs
milliseconds per prediction, as many in production do, to show how the same absolute
telemetry cost weighs against a heavier model.

With --log-sample-rate R a fourth variant, "modeltel@R", is the example with
MODELTEL_LOG_SAMPLE_RATE=R (share of successful predictions that get a JSON log record).

With --compare-src DIR another variant, "modeltel(DIR)", is the example and modeltel of another
checkout (DIR/examples, DIR/src first on PYTHONPATH; e.g. ``git archive <commit> | tar -x -C
DIR``), in the same rounds: a before/after comparison that the machine's drift does not bias.

With --profile DIR py-spy (bench/requirements-profile.txt) samples every server while the
benchmark runs (non-blocking, so the figures stay comparable) and writes DIR/<variant>.txt,
collapsed stacks for any flame-graph tool; the share of modeltel's functions in the modeltel
server's samples is printed.

Each server is uvicorn (one process) on 127.0.0.1; the load comes from a second process
(a bounded async httpx loop with keep-alive connections) posting one iris flower per
request for a fixed time after a warm-up. Target (issue 13): modeltel at most 10% fewer
requests per second than the otel variant (the HTTP instrumentation a user already runs);
against the peer (no instrumentation) the change is reported. The server's CPU time per
request (from /proc, all threads, export threads included) is printed too: on a machine
shared with other work it is the steadier figure, and on a CPU-bound server it is what
throughput follows. Prints a table and writes JSON (bench/results/server.json).

    .venv/bin/python bench/bench_server.py [--seconds 4] [--rounds 5] [--concurrency 8] [--log-sample-rate 0.1] [--trees 100] [--compare-src DIR] [--profile DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
BODY = b'{"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}'


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- the load generator (runs in its own process) ------------------------------------------


async def _load(url: str, seconds: float, warmup: float, concurrency: int) -> dict[str, Any]:
    import httpx

    latencies: list[float] = []
    errors = 0
    total = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=10) as client:
        start = time.perf_counter()
        measure_from = start + warmup
        stop_at = measure_from + seconds

        async def worker() -> None:
            nonlocal errors, total
            headers = {"content-type": "application/json"}
            while True:
                t0 = time.perf_counter()
                if t0 >= stop_at:
                    return
                try:
                    r = await client.post(url, content=BODY, headers=headers)
                    ok = r.status_code == 200
                except httpx.HTTPError:
                    ok = False
                t1 = time.perf_counter()
                total += ok
                if t0 >= measure_from:
                    if ok:
                        latencies.append(t1 - t0)
                    else:
                        errors += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    latencies.sort()
    n = len(latencies)
    return {
        "requests": n,
        "total_requests": total,
        "errors": errors,
        "rps": n / seconds,
        "p50_ms": 1000 * latencies[n // 2] if n else None,
        "p99_ms": 1000 * latencies[min(n - 1, int(n * 0.99))] if n else None,
    }


# -- the OTLP sink: accepts and discards ----------------------------------------------------


class _Sink(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    received = 0

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        type(self).received += 1
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()


# -- orchestration --------------------------------------------------------------------------


def _forest(trees: int, directory: Path) -> tuple[Path, float]:
    """A random forest on the iris data saved for IRIS_MODEL_PATH, and its median time (ms)
    for one single-row ``predict`` (the model's own cost per request)."""
    import joblib
    from sklearn.datasets import load_iris
    from sklearn.ensemble import RandomForestClassifier

    X, y = load_iris(return_X_y=True)
    model = RandomForestClassifier(n_estimators=trees, random_state=0).fit(X, y)
    path = directory / f"forest-{trees}.joblib"
    joblib.dump(model, path)
    row = [[5.1, 3.5, 1.4, 0.2]]
    times = []
    for _ in range(50):
        t0 = time.perf_counter()
        model.predict(row)
        times.append(time.perf_counter() - t0)
    return path, 1000 * statistics.median(times)


def _start_server(
    variant: str, sink_port: int, model_path: Path | None = None, compare_src: Path | None = None
) -> tuple[subprocess.Popen[bytes], int]:
    # "modeltel@0.1": the modeltel variant with MODELTEL_LOG_SAMPLE_RATE=0.1;
    # "modeltel(DIR)": the modeltel variant of the checkout in DIR
    other = variant.startswith("modeltel(")
    variant, _, log_rate = ("modeltel" if other else variant).partition("@")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "MODELTEL_"))}
    env.update(IRIS_MODEL_VERSION="1.0.0", MODELTEL_EXPORTER="none" if variant == "peer" else "otlp")
    if model_path is not None:
        env["IRIS_MODEL_PATH"] = str(model_path)
    app_dir, target = EXAMPLES, "fastapi_server:app"
    if other and compare_src is not None:
        app_dir = compare_src / "examples"
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(compare_src / "src"), env.get("PYTHONPATH")) if p)
    if variant == "peer":
        env.update(EXAMPLE_NO_MODELTEL="1", MODELTEL_ENABLED="false")
    else:
        if variant == "otel":
            app_dir, target = ROOT / "bench", "_otel_only_app:app"
        if log_rate:
            env["MODELTEL_LOG_SAMPLE_RATE"] = log_rate
        env.update(
            OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{sink_port}",
            OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf",
        )
    bin_dir = Path(sys.executable).parent
    proc = subprocess.Popen(
        [str(bin_dir / "uvicorn"), "--app-dir", str(app_dir), target,
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", "--no-access-log"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    import httpx

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{variant} server exited: {proc.stderr.read().decode() if proc.stderr else ''}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc, port
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"{variant} server did not start")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _profile(variant: str, pid: int, directory: Path) -> subprocess.Popen[bytes]:
    """py-spy sampling ``pid`` into ``directory/<variant>.txt`` until it gets SIGINT."""
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    directory.mkdir(parents=True, exist_ok=True)
    name = "".join(c if c.isalnum() or c in "@.-" else "_" for c in variant)
    return subprocess.Popen(
        [py_spy, "record", "--pid", str(pid), "--nonblocking", "--threads", "--rate", "200",
         "--format", "raw", "--output", str(directory / f"{name}.txt")],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )


def _modeltel_shares(path: Path, top: int = 15) -> list[tuple[str, float]]:
    """The share of the samples in which each modeltel function is on the stack."""
    inclusive: dict[str, int] = {}
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        n = int(count)
        total += n
        for frame in {f.rsplit(":", 1)[0] + ")" for f in stack.split(";") if "modeltel/" in f}:
            inclusive[frame] = inclusive.get(frame, 0) + n
    ranked = sorted(inclusive.items(), key=lambda item: -item[1])[:top]
    return [(frame, 100 * n / max(1, total)) for frame, n in ranked]


def _burst(variant: str, proc: subprocess.Popen[bytes], port: int, args: argparse.Namespace) -> dict[str, Any]:
    cpu_before = _cpu_seconds(proc.pid)
    out = subprocess.run(
        [sys.executable, __file__, "--load", f"http://127.0.0.1:{port}/predict",
         "--seconds", str(args.seconds), "--warmup", str(args.warmup), "--concurrency", str(args.concurrency)],
        capture_output=True, text=True, timeout=args.seconds + args.warmup + 60, check=True,
    )
    cpu = _cpu_seconds(proc.pid) - cpu_before
    result = json.loads(out.stdout)
    # CPU the server spent per request: robust to other load on the machine, unlike req/s.
    result["server_cpu_us_per_request"] = 1e6 * cpu / max(1, result["total_requests"])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description="FastAPI example throughput with and without modeltel")
    parser.add_argument("--seconds", type=float, default=4.0, help="measured seconds per burst")
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--log-sample-rate", type=float, help="also run modeltel with this MODELTEL_LOG_SAMPLE_RATE")
    parser.add_argument("--trees", type=int, help="serve a random forest of this many trees instead of the example's model")
    parser.add_argument("--compare-src", type=Path, help="also run the modeltel variant of the checkout in this directory")
    parser.add_argument("--profile", type=Path, help="sample every server with py-spy into this directory")
    parser.add_argument("--load", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help="JSON results (default bench/results/server.json, server-forest<N>.json with --trees)")
    args = parser.parse_args()
    if args.load:
        print(json.dumps(asyncio.run(_load(args.load, args.seconds, args.warmup, args.concurrency))))
        return 0
    if args.out is None:
        name = f"server-forest{args.trees}.json" if args.trees else "server.json"
        args.out = ROOT / "bench" / "results" / name
    model_path = None
    model_ms = None
    tmp = tempfile.TemporaryDirectory()
    if args.trees:
        model_path, model_ms = _forest(args.trees, Path(tmp.name))
        print(f"model: random forest of {args.trees} trees, {model_ms:.2f} ms per single-row predict")

    sink = ThreadingHTTPServer(("127.0.0.1", free_port()), _Sink)
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    results: dict[str, list[dict[str, Any]]] = {"peer": [], "otel": [], "modeltel": []}
    if args.log_sample_rate is not None:
        results[f"modeltel@{args.log_sample_rate:g}"] = []
    if args.compare_src is not None:
        args.compare_src = args.compare_src.resolve()
        results[f"modeltel({args.compare_src.name})"] = []
    # Every server runs for the whole benchmark (idle when not under load) and the load
    # moves from one to the next in short bursts, round after round: a slow spell of the
    # machine hits the variants of a round alike, and the figures compare within rounds.
    servers: dict[str, tuple[subprocess.Popen[bytes], int]] = {}
    profilers: list[subprocess.Popen[bytes]] = []
    try:
        for variant in results:
            servers[variant] = _start_server(variant, sink.server_address[1], model_path, args.compare_src)
            if args.profile is not None:
                profilers.append(_profile(variant, servers[variant][0].pid, args.profile))
        order = list(results)
        for i in range(args.rounds):
            # Each round starts one variant later: no variant always follows the same one
            # (whose export work may still be running) or always runs first.
            for variant in order[i % len(order):] + order[:i % len(order)]:
                r = _burst(variant, *servers[variant], args)
                results[variant].append(r)
                print(f"round {i + 1} {variant:14s} {r['rps']:8.1f} req/s  p50 {r['p50_ms']:.2f} ms  p99 {r['p99_ms']:.2f} ms  server CPU {r['server_cpu_us_per_request']:.0f} us/req  errors {r['errors']}", flush=True)
    finally:
        for profiler in profilers:
            profiler.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
            try:
                profiler.wait(timeout=30)
            except subprocess.TimeoutExpired:
                profiler.kill()
        for proc, _ in servers.values():
            _stop(proc)
        sink.shutdown()
        tmp.cleanup()

    def med(variant: str, key: str) -> float:
        return statistics.median(r[key] for r in results[variant])

    summary = {
        v: {"rps": med(v, "rps"), "p50_ms": med(v, "p50_ms"), "p99_ms": med(v, "p99_ms"),
            "cpu_us": med(v, "server_cpu_us_per_request")}
        for v in results
    }
    def ratio(variant: str, peer: str, key: str) -> float:
        """Median over rounds of variant/peer within each round."""
        return statistics.median(a[key] / b[key] for a, b in zip(results[variant], results[peer]))

    def change(variant: str, peer: str, key: str) -> float:
        return ratio(variant, peer, key) - 1

    print()
    width = max(14, *(len(v) for v in results))
    print(f"{'':{width}s} {'req/s':>9s} {'p50 ms':>8s} {'p99 ms':>8s} {'CPU us/req':>11s}   (median of {args.rounds} rounds, {args.seconds:g}s each, concurrency {args.concurrency})")
    for v in results:
        s = summary[v]
        print(f"{v:{width}s} {s['rps']:9.1f} {s['p50_ms']:8.2f} {s['p99_ms']:8.2f} {s['cpu_us']:11.0f}")
    print("changes below: median over rounds of the ratio within each round")
    against: dict[str, dict[str, dict[str, float]]] = {}
    for variant in results:
        if not variant.startswith("modeltel"):
            continue
        against[variant] = {
            peer: {key: change(variant, peer, key) for key in ("rps", "p99_ms", "server_cpu_us_per_request")}
            for peer in ("otel", "peer")
        }
        vs_otel, vs_peer = against[variant]["otel"], against[variant]["peer"]
        print(f"{variant} against the OpenTelemetry-only server (otel): {100 * vs_otel['rps']:+.1f}% req/s "
              f"(target >= -10%), p99 {100 * vs_otel['p99_ms']:+.1f}%, CPU/request {100 * vs_otel['server_cpu_us_per_request']:+.1f}%")
        print(f"{variant} against no instrumentation (peer): {100 * vs_peer['rps']:+.1f}% req/s, "
              f"p99 {100 * vs_peer['p99_ms']:+.1f}%, CPU/request {100 * vs_peer['server_cpu_us_per_request']:+.1f}%")
    for variant in results:
        if variant.startswith("modeltel("):
            print(f"modeltel against {variant}: {100 * change('modeltel', variant, 'rps'):+.1f}% req/s, "
                  f"CPU/request {100 * change('modeltel', variant, 'server_cpu_us_per_request'):+.1f}%")
    print(f"otel against peer: {100 * change('otel', 'peer', 'rps'):+.1f}% req/s, "
          f"CPU/request {100 * change('otel', 'peer', 'server_cpu_us_per_request'):+.1f}%")
    print(f"OTLP requests received by the sink: {_Sink.received}")
    profile = args.profile / "modeltel.txt" if args.profile is not None else None
    if profile is not None and profile.exists():
        print(f"modeltel's functions in the modeltel server's samples (inclusive), from {profile}:")
        for frame, share in _modeltel_shares(profile):
            print(f"  {share:5.1f}%  {frame}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    arguments = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items() if k not in ("out", "load")}
    args.out.write_text(json.dumps({"rounds": results, "median": summary, "changes": against,
                                    "otlp_requests": _Sink.received, "model_predict_ms": model_ms, "args": arguments}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
