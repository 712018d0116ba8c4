"""The pipeline files in collector-config/: valid for the distribution, and built to one pattern.

Every file is accepted by `otelcol-modeltel validate` (the full build for the remote-write
file; the Datadog exporter file cannot be validated here, see test_datadog.py), takes every
credential from the environment, runs memory_limiter first, batch last and mldrift on
metrics, and gives every pushing exporter a persistent queue on file_storage.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from ._procs import BUILD
from .conftest import CONFIGS

# The backend pipelines (other files here, e.g. the agent/gateway topology, have their own tests).
BACKENDS = ["jaeger.yaml", "prometheus.yaml", "prometheus-remote-write.yaml", "honeycomb.yaml",
            "datadog.yaml", "datadog-agent.yaml"]
PIPELINES = [CONFIGS / name for name in BACKENDS]
NEEDS_FULL = {"prometheus-remote-write.yaml"}
NOT_BUILDABLE_HERE = {"datadog.yaml"}  # datadog exporter/connector: modules not served here
SECRET_KEYS = re.compile(r"(^key|api_key|token|password|secret|authorization|x-honeycomb-team|dd-api-key)$", re.I)


def _load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def test_there_is_one_file_per_backend():
    assert all(p.exists() for p in PIPELINES)


@pytest.mark.parametrize("path", [p for p in PIPELINES if p.name not in NOT_BUILDABLE_HERE], ids=lambda p: p.name)
def test_config_is_valid_for_the_distribution(path, collector_bin, tmp_path):
    """`otelcol-modeltel validate --config <file>` accepts it."""
    binary = BUILD / "otelcol-modeltel-full" / "otelcol-modeltel" if path.name in NEEDS_FULL else collector_bin
    assert binary.exists(), f"{binary} missing: make collector-full"
    env = {"PATH": "/usr/bin:/bin", "OTELCOL_STORAGE_DIR": str(tmp_path), "HONEYCOMB_API_KEY": "k", "DD_API_KEY": "k"}
    out = subprocess.run([binary, "validate", "--config", path], capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode == 0, out.stderr


def _walk(node, path=()):
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _walk(v, path + (str(k),))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _walk(v, path + (str(i),))
    else:
        yield path, node


@pytest.mark.parametrize("path", PIPELINES, ids=lambda p: p.name)
def test_credentials_only_from_environment(path):
    """No secret is written in a file: every key/token/header value is ${env:VAR}."""
    secrets = [(p, v) for p, v in _walk(_load(path)) if SECRET_KEYS.search(p[-1])]
    if path.name in ("honeycomb.yaml", "datadog.yaml", "prometheus-remote-write.yaml"):
        assert secrets, "the scan found none of the credentials this file has"
    for p, v in secrets:
        assert isinstance(v, str) and re.fullmatch(r"\$\{env:[A-Z0-9_]+(:-)?\}", v), f"{'.'.join(p)} = {v!r}"


@pytest.mark.parametrize("path", PIPELINES, ids=lambda p: p.name)
def test_pipelines_follow_the_pattern(path):
    """memory_limiter first, batch last, mldrift on metrics, the collector's own ports from env."""
    cfg = _load(path)
    pipelines = cfg["service"]["pipelines"]
    assert "metrics" in pipelines
    for name, pipeline in pipelines.items():
        procs = pipeline.get("processors", [])
        assert procs[0] == "memory_limiter" and procs[-1] == "batch", (name, procs)
        if name.startswith(("metrics", "logs")):
            assert "mldrift" in procs, (name, procs)
    assert cfg["extensions"]["health_check"]["endpoint"].startswith("${env:OTELCOL_HEALTH_ENDPOINT")
    port = cfg["service"]["telemetry"]["metrics"]["readers"][0]["pull"]["exporter"]["prometheus"]["port"]
    assert port.startswith("${env:OTELCOL_METRICS_PORT")


@pytest.mark.parametrize("path", PIPELINES, ids=lambda p: p.name)
def test_every_pushing_exporter_has_a_persistent_queue(path):
    """A sending_queue on file_storage (or, for remote write, its on-disk WAL) and unbounded retries."""
    cfg = _load(path)
    used = {e for p in cfg["service"]["pipelines"].values() for e in p["exporters"]}
    for name in used:
        exp = cfg["exporters"].get(name)
        if exp is None:  # a connector
            assert name in cfg.get("connectors", {}), name
            continue
        kind = name.split("/")[0]
        if kind in ("debug", "prometheus"):  # printed / scraped: nothing is sent that could fail
            continue
        if kind == "prometheusremotewrite":
            assert "OTELCOL_STORAGE_DIR" in exp["wal"]["directory"]
        else:
            queue = exp["sending_queue"]
            assert queue["enabled"] is True and queue["storage"] in cfg["extensions"], name
            assert queue["storage"].split("/")[0] == "file_storage"
            assert queue["storage"] in cfg["service"]["extensions"]
        assert exp["retry_on_failure"]["max_elapsed_time"] == "0s", name


def test_datadog_pipeline_wires_the_connector_for_trace_metrics():
    """datadog.yaml: traces feed the connector, whose metrics go to the exporter; key from DD_API_KEY."""
    cfg = _load(CONFIGS / "datadog.yaml")
    p = cfg["service"]["pipelines"]
    assert "datadog/connector" in p["traces"]["exporters"] and "datadog" in p["traces"]["exporters"]
    assert "datadog/connector" in p["metrics"]["receivers"]
    assert cfg["exporters"]["datadog"]["api"]["key"] == "${env:DD_API_KEY}"
    assert cfg["exporters"]["datadog"]["api"]["site"].startswith("${env:DD_SITE")


def test_full_manifest_is_the_default_one_plus_extras():
    """builder-full.yaml keeps every component, version and replace of builder.yaml."""
    base, full = _load(CONFIGS / "builder.yaml"), _load(CONFIGS / "builder-full.yaml")
    for section in ("receivers", "processors", "exporters", "extensions", "connectors", "providers"):
        base_mods = {(m["gomod"], m.get("path")) for m in base.get(section, [])}
        full_mods = {(m["gomod"], m.get("path")) for m in full.get(section, [])}
        assert base_mods <= full_mods, (section, base_mods - full_mods)
    assert set(base.get("replaces", [])) <= set(full.get("replaces", []))
    assert full["dist"]["output_path"] != base["dist"]["output_path"]
    assert any("prometheusremotewriteexporter" in m["gomod"] for m in full["exporters"])
