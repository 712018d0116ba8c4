"""The modeltel command line and the HTML drift report (rendered in headless Debian chromium)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from modeltel._baseline import Baseline
from modeltel._report import drift_report
from modeltel.cli import main

ROOT = Path(__file__).resolve().parents[2]
BIKES = Path(__file__).parent / "data" / "bike-sharing-2011-jan-jul.csv"  # see data/README.md


def _frame(n: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "stable": rng.normal(0, 1, n),
            "moved": rng.normal(shift, 1, n),
            "color": rng.choice(["red", "green", "blue"], n, p=[0.5, 0.3, 0.2]),
            "score": rng.random(n),
        }
    )


@pytest.fixture()
def files(tmp_path):
    train = tmp_path / "train.csv"
    prod = tmp_path / "prod.parquet"
    _frame(5000, 1).to_csv(train, index=False)
    _frame(3000, 2, shift=1.5).to_parquet(prod)
    return train, prod, tmp_path


def test_baseline_create_show_and_drift_report(files):
    """create writes a loadable baseline; show prints it; report ranks the moved feature first."""
    train, prod, tmp = files
    runner = CliRunner()
    out = tmp / "b.json"
    r = runner.invoke(
        main,
        ["baseline", "create", str(train), "--model", "m", "--version", "2", "--prediction-col", "score",
         "--chunk-size", "700", "-o", str(out)],
    )
    assert r.exit_code == 0, r.output
    b = Baseline.load(out)
    assert list(b.features) == ["stable", "moved", "color"] and list(b.predictions) == ["prediction"]
    assert b.rows == 5000 and sum(b.features["moved"].counts) == 5000
    # Chunked reading gives the same distributions as reading the whole file at once.
    whole = Baseline.from_data(pd.read_csv(train)[["stable", "moved", "color"]], model="m", version="2")
    assert b.features["moved"].counts == whole.features["moved"].counts

    r = runner.invoke(main, ["baseline", "show", str(out)])
    assert r.exit_code == 0 and b.id in r.output and "color" in r.output and "categorical" in r.output

    html_path, json_path = tmp / "r.html", tmp / "r.json"
    r = runner.invoke(
        main,
        ["drift", "report", "--baseline", str(out), "--data", str(prod), "--prediction-col", "score",
         "-o", str(html_path), "--json", str(json_path)],
    )
    assert r.exit_code == 0, r.output
    doc = json.loads(json_path.read_text())
    assert doc["features"][0]["name"] == "moved" and doc["features"][0]["verdict"] == "drift"
    verdicts = {f["name"]: f["verdict"] for f in doc["features"]}
    assert verdicts["stable"] == "no_drift" and verdicts["color"] == "no_drift"
    assert doc["verdict"] == "no_drift"  # 1 of 3 inputs: below half
    assert "<script" not in html_path.read_text()  # self-contained, nothing to run or fetch


def test_cli_errors_are_clear(files):
    """A bad baseline file or an unknown column is a one-line error and a non-zero exit, no traceback."""
    train, prod, tmp = files
    bad = tmp / "bad.json"
    bad.write_text("{}")
    runner = CliRunner()
    r = runner.invoke(main, ["baseline", "show", str(bad)])
    assert r.exit_code != 0 and "not a modeltel baseline" in r.output
    r = runner.invoke(
        main, ["baseline", "create", str(train), "--model", "m", "--version", "1", "--prediction-col", "nope",
               "-o", str(tmp / "x.json")]
    )
    assert r.exit_code != 0 and "nope" in r.output and "Traceback" not in r.output


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _browser(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    cmd = [
        _chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run",
        f"--user-data-dir={tmp_path / 'chromium-profile'}", *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


@pytest.mark.skipif(_chromium() is None, reason="chromium not installed (make test installs it via mk/report.mk)")
def test_report_renders_in_chromium_with_verdicts_and_histograms(tmp_path):
    """Bike sharing, January 2011 vs July 2011: the page shows the dataset verdict on top, the
    features that really changed (temperature, season) ranked above those that did not (hour,
    weekday), and one SVG histogram with baseline and production bars per feature."""
    df = pd.read_csv(BIKES)
    cols = ["season", "hr", "weekday", "workingday", "weathersit", "temp", "atemp", "hum", "windspeed"]
    jan = df[df.mnth == 1]
    jul = df[df.mnth == 7]
    b = Baseline.from_data(jan[cols], model="bikes", version="1", categorical=["weathersit"],
                           predictions=jan["cnt"].to_numpy(dtype=float))
    report = drift_report(b, jul[cols], predictions=jul["cnt"].to_numpy(dtype=float))
    page = report.save(tmp_path / "report.html")

    dom = _browser(["--dump-dom", page.as_uri()], tmp_path)
    assert dom.returncode == 0, dom.stderr[-2000:]
    text = dom.stdout
    verdict = re.search(r'id="dataset-verdict"[^>]*data-verdict="([a-z_]+)"', text)
    assert verdict and verdict.group(1) == "drift"
    assert "Dataset drift" in text
    order = re.findall(r'<tr data-feature="([^"]+)" data-verdict="([a-z_]+)"', text)
    names = [n for n, _ in order]
    assert len(names) == len(cols) + 1
    for changed in ("temp", "atemp", "season"):
        for unchanged in ("hr", "weekday", "workingday"):
            assert names.index(changed) < names.index(unchanged), names
    assert dict(order)["temp"] == "drift" and dict(order)["hr"] == "no_drift"
    cards = re.findall(r'<section class="feature"[^>]*data-feature="([^"]+)"', text)
    assert cards == names  # the cards follow the ranking
    assert text.count("<svg") == len(names)
    assert text.count('class="base"') > 0 and text.count('class="prod"') > 0

    shot = _browser(["--window-size=1300,1800", f"--screenshot={tmp_path / 'report.png'}", page.as_uri()], tmp_path)
    assert shot.returncode == 0, shot.stderr[-2000:]
    png = (tmp_path / "report.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20000  # a real page, not a blank one
