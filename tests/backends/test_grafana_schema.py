"""collector-config/dashboards/grafana-model.json against Grafana's published schema.

No Grafana server can be installed here (Debian main has none; PyPI and npm carry client and
schema libraries, not the server; the Go module is AGPL and a server build needs its web
front end too), so the dashboard is checked with grafana-foundation-sdk, the Python types
Grafana generates from its schema (the dashboard kind, every core panel plugin's options and
field config, the Prometheus query): every key of the JSON must be a schema field (a key the
types do not know is dropped in a decode/encode round trip), every panel type and query must
decode to its plugin's types, and every enumerated value must be one the schema allows. Its
PromQL is run against a real Prometheus in tests/backends/test_prometheus.py.
"""

from __future__ import annotations

import copy
import enum
import json
import re
import types
import typing
from pathlib import Path

import pytest

sdk = pytest.importorskip("grafana_foundation_sdk")
from grafana_foundation_sdk.cog import plugins  # noqa: E402
from grafana_foundation_sdk.cog.encoder import JSONEncoder  # noqa: E402
from grafana_foundation_sdk.models import dashboard, prometheus  # noqa: E402

DASHBOARD = Path(__file__).resolve().parents[2] / "collector-config" / "dashboards" / "grafana-model.json"

#: Keys Grafana itself writes that are outside the dashboard schema: `__inputs` (the data-source
#: inputs of an exported dashboard, consumed by the import dialog) and a query variable's
#: `definition` (the query text the variable editor shows).
OUTSIDE_SCHEMA = ("/__inputs", "/templating/list[*]/definition")


def _paths(x: typing.Any, prefix: str = "") -> set[str]:
    out: set[str] = set()
    if isinstance(x, dict):
        for k, v in x.items():
            out.add(f"{prefix}/{k}")
            out |= _paths(v, f"{prefix}/{k}")
    elif isinstance(x, list):
        for i, v in enumerate(x):
            out |= _paths(v, f"{prefix}[{i}]")
    return out


def _outside_schema(path: str) -> bool:
    return any(re.fullmatch(re.escape(p).replace(r"\[\*\]", r"\[\d+\]") + r"(/.*|\[.*)?", path) for p in OUTSIDE_SCHEMA)


def _enum_errors(obj: typing.Any, path: str = "") -> list[str]:
    """Values of enum-typed fields that are not members of their enum, anywhere in the tree."""
    errors: list[str] = []
    if isinstance(obj, list):
        for i, item in enumerate(obj):
            errors += _enum_errors(item, f"{path}[{i}]")
        return errors
    if not type(obj).__module__.startswith("grafana_foundation_sdk"):
        return errors
    try:
        hints = typing.get_type_hints(type(obj))
    except Exception:  # a hint that does not resolve: nothing to check there
        return errors
    for name, hint in hints.items():
        value = getattr(obj, name, None)
        if value is None:
            continue
        choices = [hint]
        if typing.get_origin(hint) in (typing.Union, types.UnionType):
            choices = [a for a in typing.get_args(hint) if a is not type(None)]
        enums = [c for c in choices if isinstance(c, type) and issubclass(c, enum.Enum)]
        if enums and len(enums) == len(choices):
            allowed = {m.value for e in enums for m in e}
            raw = value.value if isinstance(value, enum.Enum) else value
            if raw not in allowed:
                errors.append(f"{path}/{name}: {raw!r} not in {sorted(map(str, allowed))}")
        else:
            errors += _enum_errors(value, f"{path}/{name}")
    return errors


def _check(raw: dict[str, typing.Any]) -> list[str]:
    """Every way `raw` departs from Grafana's schema, as readable lines (empty: it conforms)."""
    plugins.register_default_plugins()
    dash = dashboard.Dashboard.from_json(copy.deepcopy(raw))
    encoded = json.loads(json.dumps(dash, cls=JSONEncoder))
    problems = [f"{p}: not in the schema" for p in sorted(_paths(raw) - _paths(encoded)) if not _outside_schema(p)]
    for i, panel in enumerate(dash.panels or []):
        if isinstance(panel, dashboard.RowPanel):
            continue
        if isinstance(panel.options, dict):
            problems.append(f"/panels[{i}] ({panel.type_val}): options not decoded: no such panel plugin")
        for j, target in enumerate(panel.targets or []):
            if not isinstance(target, prometheus.Dataquery):
                problems.append(f"/panels[{i}]/targets[{j}]: not a Prometheus query ({type(target).__name__})")
    problems += _enum_errors(dash)
    return problems


def test_shipped_dashboard_conforms_to_grafanas_schema():
    """The shipped dashboard: no key outside the schema, every panel a core plugin with typed options,
    every query a Prometheus query, every enumerated value allowed."""
    raw = json.loads(DASHBOARD.read_text())
    assert len(raw["panels"]) >= 12
    assert _check(raw) == []


@pytest.mark.parametrize(
    "break_it,expected",
    [
        (lambda d: d["panels"][1].update(gridpos=d["panels"][1].pop("gridPos")), "/panels[1]/gridpos: not in the schema"),
        (lambda d: d["panels"][1]["options"]["legend"].update(displayMode="sideways"), "/panels[1]/options/legend/display_mode: 'sideways' not in"),
        (lambda d: d["panels"][1].update(type="no-such-panel"), "no such panel plugin"),
        (lambda d: d["panels"][10]["options"].update(legend={"showLegend": True}), "/panels[10]/options/legend: not in the schema"),
    ],
    ids=["misspelt key", "bad enum value", "unknown panel type", "option of another panel type"],
)
def test_the_check_catches_what_grafana_would_ignore_or_reject(break_it, expected):
    """The check is not vacuous: a misspelt key, an enum value the schema does not allow, an unknown
    panel type and a time-series option on a stat panel (what the dashboard had) are each reported."""
    raw = json.loads(DASHBOARD.read_text())
    break_it(raw)
    problems = _check(raw)
    assert any(expected in p for p in problems), problems
