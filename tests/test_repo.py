"""Repository-level contracts: docs run as written, names are registered, public API is documented."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import modeltel

ROOT = Path(__file__).resolve().parents[1]
CONVENTIONS = (ROOT / "docs" / "semantic-conventions.md").read_text()

# An ml.* name in code: a string literal that starts with "ml." (f-string prefixes excluded).
_NAME = re.compile(r"""["'](ml\.[a-z0-9_]+(?:\.[a-z0-9_]+)*)["']""")


def _python_blocks(markdown: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", markdown, flags=re.S)


def _run(code: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "snippet.py"
    script.write_text(code)
    return subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120, cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "MODELTEL_EXPORTER": "console", "HOME": str(tmp_path)},
    )


def test_readme_example_runs_as_written_and_prints_the_span_of_a_prediction(tmp_path):
    """Console mode: the predict span is printed; by the default log rule a successful,
    traced prediction has no log line of its own."""
    (block,) = _python_blocks((ROOT / "README.md").read_text())
    result = _run(block, tmp_path)
    assert result.returncode == 0, result.stderr
    spans = [json.loads(line) for line in result.stdout.splitlines() if '"predict fraud"' in line]
    assert [span["attributes"]["ml.model.name"] for span in spans] == ["fraud"]
    assert '"event":"ml.prediction"' not in result.stdout


def test_quickstart_examples_run_as_written(tmp_path):
    blocks = _python_blocks((ROOT / "docs" / "quickstart.md").read_text())
    assert len(blocks) >= 3
    for block in blocks:
        result = _run(block, tmp_path)
        assert result.returncode == 0, f"{block}\n{result.stderr}"


def _names_in(paths: list[Path]) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for path in paths:
        for name in _NAME.findall(path.read_text()):
            found.setdefault(name, path)
    return found


def test_every_ml_name_in_code_is_registered_in_semantic_conventions():
    sources = list((ROOT / "src" / "modeltel").rglob("*.py"))
    sources += [p for p in (ROOT / "src").rglob("*.go") if not p.name.endswith("_test.go")]
    names = _names_in(sources)
    assert "ml.prediction.duration" in names  # the scan itself works
    missing = {n: str(p.relative_to(ROOT)) for n, p in names.items() if f"`{n}`" not in CONVENTIONS}
    assert not missing, f"names used in code but not in docs/semantic-conventions.md: {missing}"


def test_public_api_is_sorted_and_each_name_exists():
    assert modeltel.__all__ == sorted(modeltel.__all__)
    for name in modeltel.__all__:
        assert getattr(modeltel, name) is not None
    public = {n for n in dir(modeltel) if not n.startswith("_")}
    modules = {"testing", "instrumentation", "cli"}
    assert public - modules - set(modeltel.__all__) == set(), "public names missing from __all__"


def test_public_api_is_documented():
    docs = "\n".join(p.read_text() for p in (ROOT / "docs").glob("*.md")) + (ROOT / "README.md").read_text()
    undocumented = [n for n in modeltel.__all__ if f"modeltel.{n}" not in docs and f"`{n}`" not in docs]
    assert not undocumented, f"public names with no mention in docs/ or README: {undocumented}"
