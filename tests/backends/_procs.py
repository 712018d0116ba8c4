"""Real servers as child processes on loopback: start, wait until ready, stop, restart.

Every process writes its output to a log file under the test's temporary directory; a test
failure message includes the tail of it. `stop()` sends SIGTERM to the process it started (by
pid, never by name) and SIGKILL after a grace period.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Callable, Sequence

import requests

__all__ = ["Proc", "free_port", "wait_until"]

REPO = Path(__file__).resolve().parents[2]
BUILD = REPO / "_build"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(check: Callable[[], object], timeout: float, interval: float = 0.25, what: str = "") -> object:
    """Poll `check` until it returns something truthy; bounded in time, raises on timeout."""
    deadline = time.monotonic() + timeout
    last_exc: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = check()
            if result:
                return result
        except Exception as exc:  # the server may not be up yet
            last_exc = exc
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what or check}: last error {last_exc!r}")


class Proc:
    """One child process with a readiness URL."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log_dir: Path,
        env: dict[str, str] | None = None,
        ready_url: str | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.argv = [str(a) for a in argv]
        self.env = {**os.environ, **(env or {})}
        self.ready_url = ready_url
        self.cwd = cwd
        self.log_path = Path(log_dir) / f"{name}.log"
        self.popen: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self, timeout: float = 60) -> "Proc":
        self.starts += 1
        log = open(self.log_path, "ab")
        log.write(f"\n===== start #{self.starts}: {' '.join(self.argv)}\n".encode())
        log.flush()
        self.popen = subprocess.Popen(
            self.argv, stdout=log, stderr=subprocess.STDOUT, env=self.env, cwd=self.cwd,
            start_new_session=True,
        )
        log.close()
        if self.ready_url:
            self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float = 60) -> None:
        def ready() -> bool:
            if self.popen is not None and self.popen.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.popen.returncode}:\n{self.log_tail()}")
            return requests.get(self.ready_url, timeout=2).status_code == 200

        try:
            wait_until(ready, timeout, what=f"{self.name} at {self.ready_url}")
        except RuntimeError:
            raise
        except TimeoutError as exc:
            raise TimeoutError(f"{exc}\n--- {self.name} log ---\n{self.log_tail()}") from None

    def stop(self, grace: float = 15) -> int | None:
        if self.popen is None:
            return None
        p, self.popen = self.popen, None
        started = time.monotonic()
        how = "exited"
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            how = "stopped by SIGTERM"
            try:
                p.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=10)
                how = f"killed after {grace}s"
        with open(self.log_path, "a") as log:
            log.write(f"\n===== {how} in {time.monotonic() - started:.1f}s, code {p.returncode}\n")
        return p.returncode

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "<no log>"

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""


class Started:
    """The processes one factory fixture started: ``with Started() as started:`` around its
    ``yield``, ``started.start(proc)`` for each; all stopped, newest first, when it ends."""

    def __init__(self) -> None:
        self.procs: list[Proc] = []

    def __enter__(self) -> "Started":
        return self

    def __exit__(self, *exc: object) -> None:
        for p in reversed(self.procs):
            p.stop()

    def start(self, proc: Proc, timeout: float = 60) -> Proc:
        self.procs.append(proc)  # before starting: one that fails to get ready is stopped too
        return proc.start(timeout=timeout)
