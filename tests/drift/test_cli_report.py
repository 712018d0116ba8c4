"""The modeltel command line and the HTML drift report (rendered in headless Debian chromium)."""

from __future__ import annotations

import json
import re
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


# --------------------------------------------------------------------------- bad input, one line each


@pytest.fixture()
def bad_inputs(tmp_path):
    """A baseline of three features and production files that are wrong in every way a user hit."""
    rng = np.random.default_rng(3)
    n = 2000
    train = pd.DataFrame({"a": rng.normal(0, 1, n), "b": rng.normal(5, 2, n), "c": rng.choice(["x", "y", "z"], n)})
    train.to_csv(tmp_path / "train.csv", index=False)
    r = CliRunner().invoke(main, ["baseline", "create", str(tmp_path / "train.csv"), "--model", "m", "--version", "1",
                                  "-o", str(tmp_path / "b.json")])
    assert r.exit_code == 0, r.output
    prod = train.sample(frac=1.0, random_state=1)
    prod.to_csv(tmp_path / "semicolon.csv", index=False, sep=";")
    prod.rename(columns={"a": "alpha"}).to_csv(tmp_path / "renamed.csv", index=False)
    prod.rename(columns=str.upper).to_csv(tmp_path / "other_model.csv", index=False)
    prod.to_csv(tmp_path / "good.csv", index=False)
    (tmp_path / "empty.csv").write_bytes(b"")
    (tmp_path / "binary.csv").write_bytes(bytes(range(256)) * 64)
    (tmp_path / "header_only.csv").write_text("a,b,c\n")
    return tmp_path


BAD_REPORTS = [
    # (case, extra args, data file, message fragment)
    ("empty file", [], "empty.csv", "the file is empty"),
    ("binary file named .csv", [], "binary.csv", "a binary file, not a CSV"),
    ("header only", [], "header_only.csv", "no data"),
    ("wrong separator", [], "semicolon.csv", "is the separator ';'? (--sep)"),
    ("another model's columns", [], "other_model.csv", "no column of other_model.csv matches a feature of baseline m 1"),
    ("renamed column", [], "renamed.csv", "baseline feature(s) missing from renamed.csv: a"),
    ("chunk size 0", ["--chunk-size", "0"], "good.csv", "Invalid value for '--chunk-size': 0 is not in the range x>=1"),
    ("negative min samples", ["--min-samples", "-1"], "good.csv", "Invalid value for '--min-samples'"),
    ("every without time column", ["--every", "1d"], "good.csv", "--time-column and --every go together"),
    ("unknown time column", ["--time-column", "when", "--every", "1d"], "good.csv", "--time-column: no column(s) ['when']"),
    ("not a duration", ["--time-column", "a", "--every", "soon"], "good.csv", "'soon' is not a duration"),
    ("unknown prediction column", ["--prediction-col", "score"], "good.csv", "no column(s) ['score']"),
]


@pytest.mark.parametrize("case,args,data,message", BAD_REPORTS, ids=[c[0] for c in BAD_REPORTS])
def test_drift_report_bad_input_is_one_line_and_exit_2(bad_inputs, case, args, data, message):
    """Each bad input a user met ends with exit code 2 and a one-line reason, never a traceback
    and never an exit 0 over an empty table."""
    tmp = bad_inputs
    r = CliRunner().invoke(
        main, ["drift", "report", "--baseline", str(tmp / "b.json"), "--data", str(tmp / data), "-o", str(tmp / "r.html"), *args]
    )
    assert r.exit_code == 2, (case, r.exit_code, r.output)
    assert message in r.output, r.output
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exc_info
    assert "Traceback" not in r.output
    errors = [line for line in r.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1


def test_renamed_column_still_writes_the_report_of_the_rest(bad_inputs):
    """A missing feature fails the run (exit 2) but the report of the features that match is written,
    and says which one is missing."""
    tmp = bad_inputs
    out = tmp / "r.html"
    r = CliRunner().invoke(main, ["drift", "report", "--baseline", str(tmp / "b.json"), "--data", str(tmp / "renamed.csv"), "-o", str(out)])
    assert r.exit_code == 2
    page = out.read_text()
    assert 'data-feature="a" data-issue="missing"' in page and "missing from the data: a" in page


def test_unwritable_output_and_bad_baseline_options(bad_inputs):
    """-o under /proc, --max-categories 0 and a baseline path that is a directory: one line, exit 2."""
    tmp = bad_inputs
    runner = CliRunner()
    r = runner.invoke(main, ["drift", "report", "--baseline", str(tmp / "b.json"), "--data", str(tmp / "good.csv"), "-o", "/proc/r.html"])
    assert r.exit_code == 2 and "cannot write /proc/r.html" in r.output, r.output
    assert r.exception is None or isinstance(r.exception, SystemExit)
    r = runner.invoke(main, ["baseline", "create", str(tmp / "train.csv"), "--model", "m", "--version", "1",
                             "--max-categories", "0", "-o", str(tmp / "x.json")])
    assert r.exit_code == 2 and "'--max-categories': 0 is not in the range x>=1" in r.output
    r = runner.invoke(main, ["baseline", "create", str(tmp / "empty.csv"), "--model", "m", "--version", "1", "-o", str(tmp / "x.json")])
    assert r.exit_code == 2 and "the file is empty" in r.output
    r = runner.invoke(main, ["baseline", "create", str(tmp / "train.csv"), "--model", "m", "--version", "1", "-o", "/proc/b.json"])
    assert r.exit_code == 2 and "cannot write /proc/b.json" in r.output


def test_output_format_is_the_format_flag_not_the_file_name(bad_inputs):
    """-o out.json writes HTML unless --format json; --json writes exactly the path given."""
    tmp = bad_inputs
    runner = CliRunner()
    base = ["drift", "report", "--baseline", str(tmp / "b.json"), "--data", str(tmp / "good.csv")]
    r = runner.invoke(main, [*base, "-o", str(tmp / "out.json")])
    assert r.exit_code == 0, r.output
    assert (tmp / "out.json").read_text().startswith("<!DOCTYPE html>")
    r = runner.invoke(main, [*base, "-o", str(tmp / "scores.txt"), "--format", "json", "--json", str(tmp / "also.txt")])
    assert r.exit_code == 0, r.output
    assert json.loads((tmp / "scores.txt").read_text())["verdict"] == "no_drift"
    assert json.loads((tmp / "also.txt").read_text())["rows"] == 2000
    assert not (tmp / "also.json").exists() and not (tmp / "scores.json").exists()


def test_fail_on_drift_and_on_data_quality_exit_1_for_ci(bad_inputs):
    """--fail-on-drift exits 1 on dataset drift and 0 without; --fail-on-data-quality exits 1 when a
    numeric column holds text."""
    tmp = bad_inputs
    rng = np.random.default_rng(9)
    shifted = pd.DataFrame({"a": rng.normal(2, 1, 2000), "b": rng.normal(9, 2, 2000), "c": rng.choice(["x", "y", "z"], 2000)})
    shifted.to_csv(tmp / "shifted.csv", index=False)
    dirty = pd.read_csv(tmp / "good.csv").astype({"b": object})
    dirty.loc[:99, "b"] = "oops"
    dirty.to_csv(tmp / "dirty.csv", index=False)
    runner = CliRunner()

    def run(data: str, *flags: str) -> int:
        r = runner.invoke(main, ["drift", "report", "--baseline", str(tmp / "b.json"), "--data", str(tmp / data),
                                 "-o", str(tmp / "r.html"), *flags])
        return r.exit_code

    assert run("shifted.csv") == 0
    assert run("shifted.csv", "--fail-on-drift") == 1
    assert run("good.csv", "--fail-on-drift") == 0
    assert run("dirty.csv", "--fail-on-drift") == 0
    assert run("dirty.csv", "--fail-on-data-quality") == 1
    assert run("good.csv", "--fail-on-data-quality") == 0


def test_small_baseline_warns_at_creation_and_in_the_report(tmp_path):
    """A 124-row training set: `baseline create` warns on stderr, and the report repeats it."""
    rng = np.random.default_rng(4)
    pd.DataFrame({"a": rng.normal(0, 1, 124)}).to_csv(tmp_path / "small.csv", index=False)
    r = CliRunner().invoke(main, ["baseline", "create", str(tmp_path / "small.csv"), "--model", "m", "--version", "1",
                                  "-o", str(tmp_path / "b.json")])
    assert r.exit_code == 0
    assert "warning: small baseline: 124 training rows (at least 1,000 recommended)" in r.stderr
    r = CliRunner().invoke(main, ["drift", "report", "--baseline", str(tmp_path / "b.json"), "--data", str(tmp_path / "small.csv"),
                                  "--min-samples", "50", "-o", str(tmp_path / "r.html")])
    assert r.exit_code == 0 and "small baseline: 124 training rows" in r.stderr
    assert "small baseline: 124 training rows" in (tmp_path / "r.html").read_text()


def test_every_option_has_help():
    """Each option of each command says what it does in --help."""
    def commands(group, path=()):
        for name, cmd in group.commands.items():
            if hasattr(cmd, "commands"):
                yield from commands(cmd, (*path, name))
            else:
                yield (*path, name), cmd

    for path, cmd in commands(main):
        for param in cmd.params:
            if isinstance(param, __import__("click").Option):
                assert param.help, f"modeltel {' '.join(path)} {param.opts[0]} has no help"


def test_core_install_without_pandas_names_the_extra(tmp_path):
    """Without pandas (the core install), reading a CSV is a one-line message naming modeltel[cli]."""
    (tmp_path / "t.csv").write_text("a\n1\n")
    code = (
        "import sys; sys.modules['pandas'] = None\n"
        "from modeltel.cli import main\n"
        f"main(['baseline', 'create', {str(tmp_path / 't.csv')!r}, '--model', 'm', '--version', '1', '-o', 'x.json'])\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    assert "pip install 'modeltel[cli]'" in r.stderr and "Traceback" not in r.stderr


def test_garbage_in_a_numeric_column_is_counted_named_and_scored_on_the_rest(tmp_path):
    """Two thirds of a shifted numeric column are text or n/a: the report counts the text values with
    examples, the null rate against the baseline's, scores the remaining numbers (drift, not
    'insufficient data'), names a new label and its share, and does not show an all-clear banner."""
    rng = np.random.default_rng(5)
    n = 3000
    train = pd.DataFrame({"a": rng.normal(0, 1, n), "b": rng.normal(5, 2, n), "c": rng.choice(["x", "y", "z"], n)})
    b = Baseline.from_data(train, model="m", version="1")
    prod = pd.DataFrame({"a": rng.normal(1.0, 1, n).astype(object), "b": rng.normal(5, 2, n),
                         "c": rng.choice(["x", "y", "purple"], n, p=[0.3, 0.3, 0.4])})
    idx = rng.permutation(n)
    prod.loc[idx[:1000], "a"] = None
    prod.loc[idx[1000:1600], "a"] = "abc"
    prod.loc[idx[1600:2000], "a"] = "n.a."
    report = drift_report(b, prod)
    issues = report.quality_issues
    assert set(issues) == {"a", "c"}
    assert issues["a"][0].startswith("1,000 of 3,000 values (33.3%) are not numbers: 'abc' x600, 'n.a.' x400")
    assert issues["a"][1] == "null rate 33.3% (baseline 0.0%)"
    assert issues["c"][0].startswith("1,2") and "never seen in training: 'purple' x1,2" in issues["c"][0]
    verdicts = {fd.name: fd for fd in report.result.features}
    assert verdicts["a"].verdict == "drift" and verdicts["a"].n_production == 1000
    page = report.to_html()
    assert 'data-state="attention"' in page or 'data-state="drift"' in page
    assert "other: purple" in page  # the new label by name on the histogram, not "__other__"
    doc = report.to_dict()
    assert doc["data_quality"]["issues"]["a"] == issues["a"]
    # Calibrated verdicts (the default): the card lists every rule; the null-rate rule fired for a.
    card = page.split('id="f-a"', 1)[1].split("</section>", 1)[0]
    assert '<tr data-rule="null_rate" data-fired="yes">' in card
    assert 'q (Holm)' in page and "Holm-adjusted" in page


def test_time_split_from_the_cli_counts_unreadable_times_and_writes_periods(tmp_path):
    """--time-column/--every: one period per day in the JSON, each with its verdict; rows whose time
    cannot be read are said (stderr and report), never silently left out."""
    rng = np.random.default_rng(6)
    n = 3000
    train = pd.DataFrame({"a": rng.normal(0, 1, n)})
    train.to_csv(tmp_path / "train.csv", index=False)
    prod = pd.DataFrame({"a": np.r_[rng.normal(0, 1, 1500), rng.normal(2, 1, 1500)],
                         "ts": pd.date_range("2026-03-01", periods=n, freq="min").astype(str)})
    prod.loc[:4, "ts"] = "yesterday-ish"
    prod.to_csv(tmp_path / "prod.csv", index=False)
    runner = CliRunner()
    r = runner.invoke(main, ["baseline", "create", str(tmp_path / "train.csv"), "--model", "m", "--version", "1",
                             "-o", str(tmp_path / "b.json")])
    assert r.exit_code == 0
    r = runner.invoke(main, ["drift", "report", "--baseline", str(tmp_path / "b.json"), "--data", str(tmp_path / "prod.csv"),
                             "--time-column", "ts", "--every", "1d", "--min-samples", "100", "--chunk-size", "700",
                             "--format", "json", "-o", str(tmp_path / "r.json")])
    assert r.exit_code == 0, r.output
    assert "5 rows with no readable time in 'ts'" in r.stderr
    doc = json.loads((tmp_path / "r.json").read_text())
    # 2026-03-01 00:00 + 3000 minutes: three days, the shift starts 25 h in (second day).
    assert [p["start"] for p in doc["periods"]] == ["2026-03-01", "2026-03-02", "2026-03-03"]
    assert [p["verdict"] for p in doc["periods"]] == ["no_drift", "drift", "drift"]
    assert sum(p["rows"] for p in doc["periods"]) == n - 5 and doc["rows"] == n


def test_performance_section_matches_scikit_learn(tmp_path):
    """With --prediction-col and --target-col the report scores the model row by row: accuracy of
    class labels equals scikit-learn's, per period too; MAE and RMSE of values equal scikit-learn's."""
    from sklearn.metrics import accuracy_score, mean_absolute_error, mean_squared_error

    rng = np.random.default_rng(8)
    n = 4000
    x = rng.normal(0, 1, n)
    frame = pd.DataFrame({"x": x, "label": np.where(x + rng.normal(0, 0.5, n) > 0, "yes", "no"),
                          "pred": np.where(x > 0.2, "yes", "no"),
                          "value": 3 * x + rng.normal(0, 1, n), "fit": 3 * x,
                          "ts": pd.date_range("2026-04-01", periods=n, freq="min")})
    frame.to_csv(tmp_path / "data.csv", index=False)
    runner = CliRunner()
    for name, pred, target in (("cls", "pred", "label"), ("reg", "fit", "value")):
        r = runner.invoke(main, ["baseline", "create", str(tmp_path / "data.csv"), "--model", name, "--version", "1",
                                 "--prediction-col", pred, "--target-col", target, "--exclude", "ts",
                                 "--exclude", "label,pred,value,fit", "-o", str(tmp_path / f"{name}.json")])
        assert r.exit_code == 0, r.output
        r = runner.invoke(main, ["drift", "report", "--baseline", str(tmp_path / f"{name}.json"), "--data", str(tmp_path / "data.csv"),
                                 "--prediction-col", pred, "--target-col", target, "--time-column", "ts", "--every", "1d",
                                 "--chunk-size", "900", "--format", "json", "-o", str(tmp_path / f"{name}-r.json"),
                                 "--json", str(tmp_path / f"{name}-copy.json")])
        assert r.exit_code == 0, r.output
        doc = json.loads((tmp_path / f"{name}-r.json").read_text())
        perf = doc["performance"]
        assert perf["rows"] == n and perf["missing"] == 0
        if name == "cls":
            assert perf["task"] == "classification"
            assert perf["accuracy"] == pytest.approx(accuracy_score(frame.label, frame.pred), abs=1e-12)
            day2 = frame[frame.ts.dt.day == 2]
            assert doc["periods"][1]["performance"]["accuracy"] == pytest.approx(accuracy_score(day2.label, day2.pred), abs=1e-12)
        else:
            assert perf["task"] == "regression"
            assert perf["mae"] == pytest.approx(mean_absolute_error(frame.value, frame.fit), rel=1e-9)
            assert perf["rmse"] == pytest.approx(mean_squared_error(frame.value, frame.fit) ** 0.5, rel=1e-9)
    html_page = drift_report(Baseline.load(tmp_path / "cls.json"), frame[["x"]], predictions=frame.pred.to_numpy(),
                             targets=frame.label.to_numpy()).to_html()
    assert 'id="performance"' in html_page and 'data-metric="accuracy"' in html_page


def test_baseline_create_warns_when_a_numeric_column_holds_text(tmp_path):
    """A training column of numbers with some 'n.a.' strings becomes categorical; create says so."""
    rng = np.random.default_rng(10)
    frame = pd.DataFrame({"age": rng.integers(18, 90, 2000).astype(object), "ok": rng.normal(0, 1, 2000)})
    frame.loc[:99, "age"] = "n.a."
    frame.to_csv(tmp_path / "t.csv", index=False)
    r = CliRunner().invoke(main, ["baseline", "create", str(tmp_path / "t.csv"), "--model", "m", "--version", "1",
                                  "-o", str(tmp_path / "b.json")])
    assert r.exit_code == 0
    assert "warning: feature 'age' is mostly numbers but was read as categories" in r.stderr
    assert "'ok'" not in r.stderr


def test_drift_report_doc_example_runs_as_written(tmp_path):
    """docs/drift-report.md's Python example runs and prints the verdict, the unseen-label finding
    and the number of daily periods."""
    block = re.search(r"```python\n(.*?)```", (ROOT / "docs" / "drift-report.md").read_text(), re.S).group(1)
    (tmp_path / "example.py").write_text(block)
    r = subprocess.run([sys.executable, "example.py"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "never seen in training: 'kiosk'" in r.stdout
    assert r.stdout.rstrip().endswith(" 7")  # 2,000 five-minute rows from 2026-03-02: 7 days
    assert (tmp_path / "drift.html").exists() and (tmp_path / "drift.json").exists()


def test_performance_of_a_scoring_classifier_uses_the_connectors_figures():
    """Scores in [0, 1] against 0/1 targets: accuracy at 0.5, log loss and Brier equal to
    scikit-learn's, ROC AUC within the histogram's stated error bound of scikit-learn's."""
    from sklearn.metrics import accuracy_score, brier_score_loss, log_loss, roc_auc_score

    rng = np.random.default_rng(12)
    n = 3000
    train = pd.DataFrame({"a": rng.normal(0, 1, n)})
    b = Baseline.from_data(train, model="m", version="1", predictions=rng.random(n), targets=rng.integers(0, 2, n))
    x = rng.normal(0, 1, n)
    score = 1 / (1 + np.exp(-2 * x))
    label = (x + rng.normal(0, 1, n) > 0).astype(int)
    perf = drift_report(b, pd.DataFrame({"a": x}), predictions=score, targets=label).to_dict()["performance"]
    assert perf["task"] == "classification" and perf["rows"] == n
    assert perf["accuracy"] == pytest.approx(accuracy_score(label, score >= 0.5), abs=1e-12)
    assert perf["log_loss"] == pytest.approx(log_loss(label, score), rel=1e-9)
    assert perf["brier"] == pytest.approx(brier_score_loss(label, score), rel=1e-9)
    assert abs(perf["roc_auc"] - roc_auc_score(label, score)) <= perf["roc_auc_error_bound"] + 1e-12


def test_performance_section_shows_pr_auc_label_drift_and_multiclass_log_loss():
    """The HTML report's performance table has the performance_report figures beyond accuracy:
    PR AUC of a scoring classifier, label drift of the targets against the baseline's label
    counts, and the log loss and Brier score of a multiclass predict_proba, each equal to what
    performance_report (held to scikit-learn) computes."""
    from sklearn.metrics import brier_score_loss, log_loss

    from modeltel._outcome_metrics import performance_report

    rng = np.random.default_rng(21)
    n = 2000
    train = pd.DataFrame({"a": rng.normal(0, 1, n)})
    s = rng.random(n)
    b = Baseline.from_data(train, model="m", version="1", predictions=np.column_stack([1 - s, s]),
                           targets=(rng.random(n) < s).astype(int))
    x = rng.normal(0, 1, n)
    score = 1 / (1 + np.exp(-2 * x))
    label = (x + rng.normal(0, 1, n) > 0.5).astype(int)  # fewer positives than the baseline's half
    report = drift_report(b, pd.DataFrame({"a": x}), predictions=np.column_stack([1 - score, score]), targets=label)
    want = performance_report(label, (score >= 0.5).astype(int), scores=score, reference_labels=b.performance["labels"])
    perf = report.to_dict()["performance"]
    assert perf["pr_auc"] == pytest.approx(want.pr_auc, abs=1e-12)
    assert perf["label_drift_distance"] == pytest.approx(want.label_drift_distance, abs=1e-12) and perf["label_drift_distance"] > 0.05
    assert perf["label_drift_pvalue"] == pytest.approx(want.label_drift_pvalue, rel=1e-9)
    html_page = report.to_html()
    for metric in ("pr_auc", "label_drift_distance", "label_drift_pvalue"):
        assert f'data-metric="{metric}"' in html_page
    assert "PR AUC" in html_page and "label drift (distance)" in html_page

    k = 4
    proba = rng.dirichlet(np.ones(k), n)
    actual = rng.integers(0, k, n)
    bm = Baseline.from_data(train, model="m", version="2", predictions=rng.integers(0, k, n), targets=rng.integers(0, k, n))
    multi = drift_report(bm, pd.DataFrame({"a": x}), predictions=proba, targets=actual)
    perf = multi.to_dict()["performance"]
    assert perf["log_loss"] == pytest.approx(log_loss(actual, proba, labels=list(range(k))), abs=1e-9)
    assert perf["brier"] == pytest.approx(brier_score_loss(actual, proba, labels=list(range(k))), abs=1e-9)
    assert 'data-metric="log_loss"' in multi.to_html() and 'data-metric="brier"' in multi.to_html()
