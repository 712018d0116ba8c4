"""Every collector config in collector-config/ is checked with `otelcol-modeltel validate`."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from e2e._collector import CONFIGS, ROOT, ensure_collector

FULL = ROOT / "_build" / "otelcol-modeltel-full" / "otelcol-modeltel"


def _configs() -> list[Path]:
    # builder*.yaml are OpenTelemetry Collector Builder manifests, not collector configs.
    return sorted(p for p in CONFIGS.glob("*.yaml") if not p.name.startswith("builder"))


def _header(config: Path) -> str:
    return "".join(line for line in config.read_text().splitlines(keepends=True) if line.startswith("#"))


def _needs_other_components(config: Path) -> list[str]:
    """Component types a config's header says no build here can have (e.g. Datadog's)."""
    header = _header(config)
    if "NEEDS a distribution" not in header:
        return []
    return sorted(set(re.findall(r"/(\w+?)(?:exporter|connector|receiver|processor) v\d", header)))


def _binary_for(config: Path) -> Path:
    """The default build, or the full build for configs whose header says they need it."""
    header = _header(config)
    if "builder-full.yaml" in header and not _needs_other_components(config):
        if not FULL.exists():
            subprocess.run(["make", "-s", "collector-full"], cwd=ROOT, check=True)
        return FULL
    return ensure_collector()


def _validate(config: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "OTELCOL_STORAGE_DIR": str(tmp_path),
        "HONEYCOMB_API_KEY": "test-key",
        "DD_API_KEY": "test-key",
    }
    return subprocess.run(
        [str(_binary_for(config)), "validate", "--config", str(config)],
        capture_output=True, text=True, timeout=60, env=env,
    )


def test_there_are_configs_to_check() -> None:
    """collector-config/ holds at least the local demo pipeline and the agent/gateway pair."""
    names = {p.name for p in _configs()}
    assert {"local.yaml", "agent.yaml", "gateway.yaml"} <= names


@pytest.mark.parametrize("config", _configs(), ids=lambda p: p.name)
def test_config_validates(config: Path, tmp_path: Path) -> None:
    """`otelcol-modeltel validate --config` accepts the file with only its defaults set. A file
    whose header says it needs components that cannot be built here (the Datadog exporter)
    must fail on exactly those unknown component types and nothing else."""
    result = _validate(config, tmp_path)
    missing = _needs_other_components(config)
    if not missing:
        assert result.returncode == 0, f"{config.name}:\n{result.stdout}\n{result.stderr}"
        return
    assert result.returncode != 0
    problems = [line for line in result.stderr.splitlines() if line.startswith("'")]
    assert problems, result.stderr
    for line in problems:
        m = re.match(r"'(\w+)' unknown type: \"(\w+)\"", line)
        assert m and m.group(2) in missing, f"{config.name}: unexpected problem {line!r} (declared missing: {missing})"
