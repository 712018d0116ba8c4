"""Fault tests: the built collector (e2e/_collector.py builds it if missing) and loopback stand-ins."""

from __future__ import annotations

from pathlib import Path

import pytest

from e2e._collector import ensure_collector


@pytest.fixture(scope="session")
def collector_bin() -> Path:
    return ensure_collector()
