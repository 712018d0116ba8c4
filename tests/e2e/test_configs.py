"""Every collector config in collector-config/ passes `otelcol-modeltel validate`."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from e2e._collector import CONFIGS, ROOT, ensure_collector

FULL = ROOT / "_build" / "otelcol-modeltel-full" / "otelcol-modeltel"


def _configs() -> list[Path]:
    # builder*.yaml are OpenTelemetry Collector Builder manifests, not collector configs.
    return sorted(p for p in CONFIGS.glob("*.yaml") if not p.name.startswith("builder"))


def _binary_for(config: Path) -> Path:
    """The default build, or the full build for configs whose header says they need it."""
    header = "".join(line for line in config.read_text().splitlines(keepends=True) if line.startswith("#"))
    if "builder-full.yaml" in header or "collector-full" in header:
        if not FULL.exists():
            subprocess.run(["make", "-s", "collector-full"], cwd=ROOT, check=True)
        return FULL
    return ensure_collector()


def test_there_are_configs_to_check() -> None:
    """collector-config/ holds at least the local demo pipeline."""
    assert (CONFIGS / "local.yaml") in _configs()


@pytest.mark.parametrize("config", _configs(), ids=lambda p: p.name)
def test_config_validates(config: Path) -> None:
    """`otelcol-modeltel validate --config` accepts the file with only its defaults set."""
    binary = _binary_for(config)
    result = subprocess.run(
        [str(binary), "validate", "--config", str(config)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, f"{config.name}:\n{result.stdout}\n{result.stderr}"
