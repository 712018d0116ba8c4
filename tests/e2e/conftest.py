"""Fixtures of the end-to-end tests: the built collector, started on free loopback ports."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator

import pytest

from e2e._collector import CONFIGS, Collector, ensure_collector


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def collector_bin() -> Path:
    return ensure_collector()


@pytest.fixture
def start_collector(collector_bin: Path, tmp_path: Path) -> Iterator[Callable[..., Collector]]:
    """Start collectors (default: collector-config/local.yaml); all are stopped afterwards."""
    started: list[Collector] = []

    def start(config: str | Path = "local.yaml", name: str = "collector", **env: str) -> Collector:
        path = Path(config) if Path(config).is_absolute() else CONFIGS / config
        c = Collector(path, tmp_path, env=env, name=name)
        started.append(c)
        return c.start()

    try:
        yield start
    finally:
        for c in started:
            c.stop()
