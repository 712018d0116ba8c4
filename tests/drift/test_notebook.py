"""docs/notebooks/drift.ipynb runs top to bottom in a real Jupyter kernel (nbclient), and its
outputs are the inline report, the scores table and the captured span."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOK = Path(__file__).resolve().parents[2] / "docs" / "notebooks" / "drift.ipynb"


@pytest.mark.timeout(300)
def test_notebook_renders_the_report_inline_and_the_scores_as_a_dataframe(tmp_path, monkeypatch):
    """The report cell's output is text/html holding the full report in an iframe (the data-quality
    section names the unseen 'kiosk' channel, 'age' drifts), the to_pandas cell is a DataFrame with
    one PSI row per feature (projections included), and the capture cell shows one 'predict fraud' span of 100 rows."""
    nb = nbformat.read(NOTEBOOK, as_version=4)
    # Jupyter's runtime files (the kernel's connection file) and IPython's profile in the test's
    # own directory: nothing depends on HOME or is left behind.
    for var, sub in (("JUPYTER_RUNTIME_DIR", "runtime"), ("JUPYTER_DATA_DIR", "data"), ("IPYTHONDIR", "ipython")):
        monkeypatch.setenv(var, str(tmp_path / sub))
    # "python3" is ipykernel's own kernel spec: this interpreter, so the test's virtualenv.
    nbclient.NotebookClient(nb, timeout=240, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    cells = [c for c in nb.cells if c.cell_type == "code"]
    outputs = [c.outputs for c in cells]
    for out in outputs:
        assert not [o for o in out if o.output_type == "error"], out

    def result(i: int) -> dict:
        (out,) = [o for o in outputs[i] if o.output_type == "execute_result"]
        return out["data"]

    report_html = result(1)["text/html"]
    assert report_html.startswith('<iframe class="modeltel-report"')
    page = html.unescape(re.search(r'srcdoc="([^"]*)"', report_html).group(1))
    assert page.startswith("<!DOCTYPE html>") and 'id="data-quality"' in page
    assert "never seen in training: &#x27;kiosk&#x27;" in page or "never seen in training: 'kiosk'" in page
    assert re.search(r'<tr data-feature="age" data-verdict="drift"', page)

    table = result(2)
    assert "text/html" in table and "<table" in table["text/html"]
    rows = table["text/plain"].splitlines()[1:]
    # the inputs, then the baseline's multivariate projections of age and amount (role projection)
    assert sorted(r.split()[1] for r in rows if r.split()[2] != "projection") == ["age", "amount", "channel"]
    assert sorted(r.split()[1] for r in rows if r.split()[2] == "projection") == ["__projection_0__", "__projection_1__"]
    assert all(" psi " in f" {r} " for r in rows)

    spans = result(3)["text/plain"]
    assert spans == "[('predict fraud', 100)]"

