"""Fault tests use the end-to-end fixtures: the built collector and ``start_collector``."""

from __future__ import annotations

from e2e.conftest import collector_bin, start_collector  # noqa: F401 - fixtures, shared

__all__ = ["collector_bin", "start_collector"]
