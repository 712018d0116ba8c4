"""Fault tests: the built collector (e2e/_collector.py builds it if missing) and loopback stand-ins."""

from __future__ import annotations

from pathlib import Path

import pytest

from e2e._collector import ensure_collector


@pytest.fixture(scope="session")
def collector_bin() -> Path:
    return ensure_collector()


@pytest.fixture
def start_collector(collector_bin: Path, tmp_path: Path):
    """Start collectors from collector-config/; all are stopped afterwards."""
    from e2e._collector import CONFIGS, Collector

    started: list[Collector] = []

    def start(config: str = "local.yaml", name: str = "collector", **env: str) -> Collector:
        c = Collector(CONFIGS / config, tmp_path, env=env, name=name)
        started.append(c)
        return c.start()

    try:
        yield start
    finally:
        for c in started:
            c.stop()
