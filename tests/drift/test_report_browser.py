"""The HTML drift report rendered in headless Chromium (Debian's chromium, mk/report.mk): a clean
case, a case with bad data and a report split by time."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from modeltel._baseline import Baseline
from modeltel._report import drift_report

BIKES = Path(__file__).parent / "data" / "bike-sharing-2011-jan-jul.csv"  # see data/README.md


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
    assert "input features drifted (dataset drift)" in text
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


def _dom(page: Path, tmp_path: Path) -> str:
    dom = _browser(["--dump-dom", page.as_uri()], tmp_path)
    assert dom.returncode == 0, dom.stderr[-2000:]
    return dom.stdout


def _screenshot(page: Path, tmp_path: Path) -> bytes:
    shot = _browser(["--window-size=1300,2400", f"--screenshot={tmp_path / 'shot.png'}", page.as_uri()], tmp_path)
    assert shot.returncode == 0, shot.stderr[-2000:]
    png = (tmp_path / "shot.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20000
    return png


BIKE_COLS = ["season", "hr", "weekday", "workingday", "weathersit", "temp", "atemp", "hum", "windspeed"]


@pytest.mark.skipif(_chromium() is None, reason="chromium not installed (make test installs it via mk/report.mk)")
def test_clean_case_all_clear_banner_and_no_quality_issue(tmp_path):
    """The whole file (1,432 rows, enough for no small-baseline warning) against itself shuffled: green
    "0 of 9 drifted" banner, a data-quality section that says there is no issue, no timeline, and a
    real value axis on the temperature card."""
    df = pd.read_csv(BIKES)
    b = Baseline.from_data(df[BIKE_COLS], model="bikes", version="1", categorical=["weathersit"])
    page = drift_report(b, df[BIKE_COLS].sample(frac=1.0, random_state=0)).save(tmp_path / "clean.html")
    text = _dom(page, tmp_path)
    banner = re.search(r'id="dataset-verdict"[^>]*data-verdict="([a-z_]+)" data-state="([a-z_]+)"', text)
    assert banner.groups() == ("no_drift", "clear"), banner.groups()
    assert "0 of 9 input features drifted" in text
    assert 'id="data-quality"' in text and "No issues" in text
    assert 'data-issue="yes"' not in text
    assert 'id="timeline"' not in text and 'class="timeline"' not in text
    temp = text.split('id="f-temp"', 1)[1].split("</section>", 1)[0]
    assert "value axis" in temp
    # Round ticks on the value axis (0.1, 0.2, ... for a 0..1 temperature), not bucket edges like 0.1793.
    ticks = re.findall(r'<text[^>]*text-anchor="middle" fill="#444">([0-9.]+)</text>', temp)
    assert len(ticks) >= 3 and all(len(t) <= 4 for t in ticks), ticks
    _screenshot(page, tmp_path)


@pytest.mark.skipif(_chromium() is None, reason="chromium not installed (make test installs it via mk/report.mk)")
def test_garbage_case_names_the_bad_values_and_no_green_banner(tmp_path):
    """July with two thirds of temp turned into text and 40% of weathersit a code never seen: the
    banner is not green, the data-quality section counts the text with examples and names the new
    label, and the weathersit histogram labels its last bucket with it."""
    df = pd.read_csv(BIKES)
    jan = df[df.mnth == 1]
    b = Baseline.from_data(jan[BIKE_COLS], model="bikes", version="1", categorical=["weathersit"])
    bad = jan[BIKE_COLS].sample(frac=1.0, random_state=1).reset_index(drop=True).astype({"temp": object})
    n = len(bad)
    bad.loc[: n // 3, "temp"] = "abc"
    bad.loc[n // 3 : 2 * n // 3, "temp"] = "n.a."
    bad.loc[: int(0.4 * n), "weathersit"] = 7
    page = drift_report(b, bad).save(tmp_path / "garbage.html")
    text = _dom(page, tmp_path)
    state = re.search(r'id="dataset-verdict"[^>]*data-state="([a-z_]+)"', text).group(1)
    assert state in ("attention", "drift")
    assert "#2e7d32" not in re.search(r'<div id="dataset-verdict"[^>]*>', text).group(0)  # not the green one
    quality = text.split('id="quality"', 1)[1].split("</table>", 1)[0]
    temp_row = re.search(r'<tr data-feature="temp" data-issue="yes">.*?</tr>', quality).group(0)
    temp_row = temp_row.replace("&#x27;", "'")
    assert "459 of 688 values (66.7%) are not numbers:" in temp_row
    assert "'abc' x229" in temp_row and "'n.a.' x230" in temp_row
    weather_row = re.search(r'<tr data-feature="weathersit" data-issue="yes">.*?</tr>', quality).group(0)
    assert "never seen in training: '7' x" in weather_row.replace("&#x27;", "'")
    card = text.split('id="f-weathersit"', 1)[1].split("</section>", 1)[0]
    assert ">other: 7<" in card and "__other__" not in card
    # temp's 229 numbers are too few for a verdict, and its card says why, next to the bad values.
    card = text.split('id="f-temp"', 1)[1].split("</section>", 1)[0]
    assert "229 rows" in card and "are not numbers" in card
    assert "data quality: 2 feature(s) with issues (weathersit, temp)" in text
    _screenshot(page, tmp_path)


@pytest.mark.skipif(_chromium() is None, reason="chromium not installed (make test installs it via mk/report.mk)")
def test_time_split_case_has_a_verdict_per_period_and_a_timeline_per_feature(tmp_path):
    """January and July by week against January: one row per week with its verdict (weeks with fewer
    than 100 rows get none), July's weeks all with dataset drift, one timeline per feature with
    one point per week, and season (1 all January, 3 all July) red in every July week and in no
    January week; a dashed PSI threshold line."""
    df = pd.read_csv(BIKES)
    jan = df[df.mnth == 1]
    b = Baseline.from_data(jan[BIKE_COLS], model="bikes", version="1", categorical=["weathersit"])
    # Rebuild timestamps: the file has month and hour; rows are in time order within a month.
    data = df[df.mnth.isin([1, 7])].copy()
    data["ts"] = [
        pd.Timestamp(2011, m, 1) + pd.Timedelta(hours=int(i)) for m, i in
        zip(data.mnth, data.groupby("mnth").cumcount())
    ]
    report = drift_report(b, data[[*BIKE_COLS, "ts"]], time_column="ts", every="7d",
                          config=__import__("modeltel").DriftConfig(mode="fixed", min_samples=100))
    page = report.save(tmp_path / "time.html")
    text = _dom(page, tmp_path)
    periods = re.findall(r'<tr data-period="([^"]+)" data-verdict="([a-z_]+)">', text)
    assert len(periods) == len(report.periods) >= 6
    rows = {p.start: p.rows for p in report.periods}
    jul_weeks = [v for p, v in periods if p >= "2011-06" and rows[p] >= 100]
    assert len(jul_weeks) == 4 and set(jul_weeks) == {"drift"}, periods
    assert all(v == "insufficient_data" for p, v in periods if rows[p] < 100)
    assert text.count('class="timeline"') == sum(fd.role != "projection" for fd in report.result.features)
    season = text.split('id="f-season"', 1)[1].split("</section>", 1)[0]
    points = re.findall(r'<circle class="point" data-period="([^"]+)" data-verdict="([a-z_]+)"', season)
    assert [p for p, _ in points] == [p for p, _ in periods]
    assert {v for p, v in points if p >= "2011-06" and rows[p] >= 100} == {"drift"}
    assert "drift" not in {v for p, v in points if p < "2011-06"}
    assert 'class="threshold"' in season
    _screenshot(page, tmp_path)
