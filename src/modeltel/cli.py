"""The ``modeltel`` command line: baselines from training files, offline drift reports.

    modeltel baseline create train.parquet --model fraud --version 3.1.0 \\
        --prediction-col score --target-col label -o baselines/fraud-3.1.0.json
    modeltel baseline show baselines/fraud-3.1.0.json
    modeltel drift report --baseline baselines/fraud-3.1.0.json --data last_week.parquet -o drift.html

CSV and Parquet files are read in chunks (``--chunk-size`` rows), so files larger than
memory work; a progress bar is shown for large files. Reading them needs pandas and pyarrow
(``pip install 'modeltel[cli]'``).

Exit codes, for CI: 0 done; 1 a check asked for failed (``--fail-on-drift``,
``--fail-on-data-quality``); 2 the input cannot be used (unreadable file, bad option, no
baseline feature in the data, a missing column, an unwritable output), with a one-line reason.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import click

from modeltel._baseline import Baseline, BaselineError, ChunkSource
from modeltel._dataquality import small_baseline_warning
from modeltel._drift import DriftConfig

__all__ = ["main"]

#: Files at least this large get a progress bar.
PROGRESS_BYTES = 20 * 1024 * 1024


# --------------------------------------------------------------------------- reading files


def _split_list(values: Sequence[str]) -> list[str]:
    """--categorical a --categorical b,c -> [a, b, c]."""
    return [v.strip() for value in values for v in value.split(",") if v.strip()]


def _file_format(path: Path) -> str:
    suffix = "".join(path.suffixes[-2:]).lower()
    if suffix.endswith((".parquet", ".pq")):
        return "parquet"
    if suffix.endswith((".csv", ".csv.gz", ".tsv")):
        return "csv"
    raise DataError(f"{path}: expected a .csv, .csv.gz, .tsv or .parquet file")


def _count_rows(path: Path, fmt: str) -> int:
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return int(pq.ParquetFile(path).metadata.num_rows)
    if path.suffix == ".gz":
        return 0  # unknown without decompressing: the bar shows bytes-free progress
    n = 0
    with path.open("rb") as f:
        while block := f.read(1 << 24):
            n += block.count(b"\n")
    return max(n - 1, 0)  # the header line


def _needs(module: str, what: str) -> None:
    """A clear message naming the extra when the core install lacks a reader."""
    try:
        __import__(module)
    except ImportError:
        raise DataError(f"reading {what} needs {module}: pip install 'modeltel[cli]'") from None


def _reader(path: Path, fmt: str, chunk_size: int, sep: str | None = None) -> Callable[[], Iterator[Any]]:
    """A factory of fresh iterators over pandas DataFrame chunks of the file.

    Whatever the file holds (nothing, binary, another encoding), a read error is a one-line
    :class:`DataError`, never a traceback.
    """
    _needs("pandas", "CSV or Parquet files")
    import pandas as pd

    if fmt == "parquet":
        _needs("pyarrow", "Parquet files")
        import pyarrow.parquet as pq

        def chunks() -> Iterator[Any]:
            for batch in pq.ParquetFile(path).iter_batches(batch_size=chunk_size):
                yield batch.to_pandas()

    else:
        if sep is None:
            sep = "\t" if path.name.lower().endswith(".tsv") else ","
        if not path.name.lower().endswith(".gz"):
            with path.open("rb") as f:
                if b"\0" in f.read(8192):
                    raise DataError(f"{path}: a binary file, not a CSV text file")

        def chunks() -> Iterator[Any]:
            with pd.read_csv(path, sep=sep, chunksize=chunk_size) as reader:
                yield from reader

    def guarded() -> Iterator[Any]:
        try:
            yield from chunks()
        except pd.errors.EmptyDataError:
            raise DataError(f"{path}: the file is empty (no header, no rows)") from None
        except UnicodeDecodeError:
            raise DataError(f"{path}: not a text CSV file (cannot decode it as UTF-8)") from None
        except (pd.errors.ParserError, ValueError, OSError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise DataError(f"{path}: cannot read it as {'CSV' if fmt == 'csv' else 'Parquet'}: {first}") from None
        except Exception as exc:  # pyarrow's errors (ArrowInvalid, ...) have no common base in our imports
            if type(exc).__module__.split(".")[0] != "pyarrow":
                raise
            raise DataError(f"{path}: cannot read it as Parquet: {exc}") from None

    return guarded


class DataError(click.ClickException):
    """The input cannot be used (unreadable file, columns that do not fit): exit code 2."""

    exit_code = 2


def _check_columns(frame_columns: Sequence[str], wanted: Sequence[str], option: str) -> None:
    missing = [c for c in wanted if c not in frame_columns]
    if missing:
        raise DataError(f"{option}: no column(s) {missing} in the data (columns: {_some(frame_columns)})")


def _some(names: Sequence[Any], n: int = 12) -> str:
    names = [str(x) for x in names]
    return ", ".join(names[:n]) + (f" and {len(names) - n} more" if len(names) > n else "")


def _first_chunk(chunks: Callable[[], Iterator[Any]], path: Path) -> Any:
    first = next(iter(chunks()), None)
    if first is None or len(first.columns) == 0 or len(first) == 0:
        raise DataError(f"{path}: no data (no columns or no rows)")
    return first


def _separator_hint(columns: Sequence[Any]) -> str:
    if len(columns) == 1:
        for sep in (";", "\t", "|"):
            if sep in str(columns[0]):
                return f"; the file has a single column {str(columns[0])[:60]!r}: is the separator {sep!r}? (--sep)"
    return ""


def _write_output(path: Path, write: Callable[[Path], Any]) -> None:
    try:
        write(path)
    except OSError as exc:
        raise DataError(f"cannot write {path}: {exc.strerror or exc}") from None


def _outputs(frame: Any, cols: list[str], numeric: bool) -> Any:
    """Prediction/target columns as an array (1-D for one column); floats if ``numeric``."""
    if not cols:
        return None
    values = frame[cols[0]].to_numpy() if len(cols) == 1 else frame[cols].to_numpy()
    if numeric and values.dtype.kind in "iub":
        values = values.astype("float64")
    return values


class _Progress:
    """click.progressbar over rows for large files; a no-op for small ones."""

    def __init__(self, path: Path, total_rows: int, label: str) -> None:
        self.bar = None
        if path.stat().st_size >= PROGRESS_BYTES and total_rows > 0:
            self.bar = click.progressbar(length=total_rows, label=label, file=sys.stderr)
            self.bar.__enter__()

    def __call__(self, rows: int) -> None:
        if self.bar is not None:
            self.bar.update(rows)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)


# --------------------------------------------------------------------------- commands

_CHUNK = click.option(
    "--chunk-size", type=click.IntRange(min=1), default=100_000, show_default=True,
    help="Rows read at a time (memory use grows with it; any size gives the same result).",
)
_SEP = click.option("--sep", default=None, help="CSV field separator (default: ',' for .csv, tab for .tsv).")


@click.group()
@click.version_option(package_name="modeltel")
def main() -> None:
    """modeltel: baselines and drift reports for monitored models.

    Exit codes: 0 done; 1 a check asked for with --fail-on-* failed; 2 the command could
    not run or the data does not fit the baseline (the message says why).
    """


@main.group()
def baseline() -> None:
    """Create and inspect baselines (the training data's distributions)."""


@baseline.command("create")
@click.argument("data", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--model", required=True, help="Model name (as in @monitor(model=...)).")
@click.option("--version", "model_version", required=True, help="Model version.")
@click.option("--prediction-col", multiple=True, help="Column(s) holding the model's predictions.")
@click.option("--target-col", multiple=True, help="Column(s) holding the targets (ground truth).")
@click.option("--categorical", multiple=True, help="Numeric column(s) to treat as categories (repeat or comma-separate).")
@click.option("--exclude", multiple=True, help="Column(s) to leave out (ids, timestamps; repeat or comma-separate).")
@click.option("--numeric-outputs", is_flag=True, help="Integer prediction/target columns are values (regression), not class labels.")
@click.option("--max-categories", type=click.IntRange(min=1), default=32, show_default=True, help="Top categories kept per categorical feature (the rest count as 'other').")
@click.option("--projections", type=click.IntRange(min=0), default=32, show_default=True, help="Multivariate projections of the numeric inputs (0: none; docs/drift-math.md section 8).")
@_CHUNK
@_SEP
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Baseline JSON file to write.")
def baseline_create(
    data: Path,
    model: str,
    model_version: str,
    prediction_col: tuple[str, ...],
    target_col: tuple[str, ...],
    categorical: tuple[str, ...],
    exclude: tuple[str, ...],
    numeric_outputs: bool,
    max_categories: int,
    projections: int,
    chunk_size: int,
    sep: str | None,
    output: Path,
) -> None:
    """Build a baseline from a CSV or Parquet file of training data."""
    fmt = _file_format(data)
    preds = _split_list(prediction_col)
    targets = _split_list(target_col)
    dropped = set(_split_list(exclude)) | set(preds) | set(targets)
    chunks = _reader(data, fmt, chunk_size, sep)
    first = _first_chunk(chunks, data)
    _check_columns(list(first.columns), preds, "--prediction-col")
    _check_columns(list(first.columns), targets, "--target-col")
    _check_columns(list(first.columns), _split_list(exclude), "--exclude")
    _check_columns(list(first.columns), _split_list(categorical), "--categorical")

    def pick(frame: Any, cols: list[str]) -> Any:
        return _outputs(frame, cols, numeric_outputs)

    def source() -> Iterator[tuple[Any, Any, Any]]:
        for frame in chunks():
            features = frame.drop(columns=[c for c in frame.columns if c in dropped])
            yield features, pick(frame, preds), pick(frame, targets)

    progress = _Progress(data, 2 * _count_rows(data, fmt) if data.stat().st_size >= PROGRESS_BYTES else 0, "baseline")
    try:
        b = Baseline.from_data(
            ChunkSource(source),
            model=model,
            version=model_version,
            categorical=_split_list(categorical),
            max_categories=max_categories,
            progress=progress,
            projections=projections or False,
        )
    except BaselineError as exc:
        raise DataError(str(exc)) from None
    finally:
        progress.close()
    _write_output(output, b.save)
    click.echo(
        f"wrote {output}: baseline {b.id} for {b.model} {b.version}, {b.rows:,} rows, "
        f"{len(b.features)} features, {len(b.predictions)} prediction(s), {len(b.targets)} target(s), "
        f"{len(b.projection.names) if b.projection is not None else 0} projection(s)"
    )
    small = small_baseline_warning(b.rows)
    if small:
        click.echo(f"warning: {small}", err=True)
    for name in _numbers_read_as_labels(b, set(_split_list(categorical))):
        click.echo(
            f"warning: feature {name!r} is mostly numbers but was read as categories (some values are not "
            "numbers); clean the column, or name it with --categorical if categories are meant",
            err=True,
        )


def _numbers_read_as_labels(b: Baseline, declared: set[str]) -> list[str]:
    """Categorical features whose training labels are mostly numbers: a numeric column with text in it."""
    out = []
    for name, fb in b.features.items():
        if fb.kind != "categorical" or name in declared or fb.dtype == "numeric-as-category":
            continue
        counts = dict(zip(fb.categories, fb.counts))
        numeric = sum(c for label, c in counts.items() if _is_number(label))
        named = sum(counts.values())  # the top categories (the rest went to "other")
        if named and numeric / named >= 0.5:
            out.append(name)
    return out


def _is_number(label: str) -> bool:
    try:
        float(label)
    except ValueError:
        return False
    return True


@baseline.command("show")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the schema as JSON instead.")
def baseline_show(path: Path, as_json: bool) -> None:
    """Summarise a baseline file."""
    b = _load_baseline(path)
    if as_json:
        click.echo(json.dumps({"id": b.id, "model": b.model, "version": b.version, "rows": b.rows, **b.schema}, indent=1))
    else:
        click.echo(b.describe())


def _load_baseline(path: Path) -> Baseline:
    try:
        return Baseline.load(path)
    except BaselineError as exc:
        raise DataError(str(exc)) from None
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from None


@main.group()
def drift() -> None:
    """Compare production data with a baseline."""


@drift.command("report")
@click.option("--baseline", "baseline_path", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Baseline JSON file (from `modeltel baseline create`).")
@click.option("--data", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Production data (CSV or Parquet), columns named as in the baseline.")
@click.option("--prediction-col", multiple=True, help="Column(s) holding the predictions (names as in the baseline).")
@click.option("--target-col", multiple=True, help="Column(s) holding the targets.")
@click.option("--numeric-outputs", is_flag=True, help="As for baseline create: integer outputs are values.")
@click.option("--mode", type=click.Choice(["calibrated", "fixed", "adaptive"]), default="calibrated", show_default=True, help="Calibrated two-sample tests (docs/drift-math.md section 5), fixed thresholds or sample-size-aware ones.")
@click.option("--min-samples", type=click.IntRange(min=1), default=None, help="Rows below which a feature gets no verdict  [default: 50 calibrated, 500 fixed/adaptive].")
@click.option("--time-column", default=None, help="Timestamp column: adds a verdict per period and a timeline per feature (needs --every).")
@click.option("--every", default=None, help="Period length of the time split: 1h, 6h, 1d, 7d, ...")
@_CHUNK
@_SEP
@click.option("--format", "fmt_out", type=click.Choice(["html", "json"]), default="html", show_default=True, help="Format of the -o file (whatever its name).")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), help="Also write the scores as JSON to this exact path.")
@click.option("--fail-on-drift", is_flag=True, help="Exit 1 when the dataset verdict is drift (for CI).")
@click.option("--fail-on-data-quality", is_flag=True, help="Exit 1 when a feature has data-quality issues.")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Report file to write (HTML unless --format json).")
def drift_report_cmd(
    baseline_path: Path,
    data: Path,
    prediction_col: tuple[str, ...],
    target_col: tuple[str, ...],
    numeric_outputs: bool,
    mode: Literal["calibrated", "fixed", "adaptive"],
    min_samples: int | None,
    time_column: str | None,
    every: str | None,
    chunk_size: int,
    sep: str | None,
    fmt_out: str,
    json_path: Path | None,
    fail_on_drift: bool,
    fail_on_data_quality: bool,
    output: Path,
) -> None:
    """Write a drift and data-quality report of DATA against a baseline.

    Exits 0 whatever the verdict unless --fail-on-drift / --fail-on-data-quality is given
    (then 1 when that check fails); 2 when a baseline feature is missing from the data or
    none matches (the report is still written when some match).
    """
    from modeltel._report import ReportInputs

    if (time_column is None) != (every is None):
        raise click.UsageError("--time-column and --every go together (e.g. --time-column ts --every 1d)")
    b = _load_baseline(baseline_path)
    fmt = _file_format(data)
    preds = _split_list(prediction_col)
    targets = _split_list(target_col)
    chunks = _reader(data, fmt, chunk_size, sep)
    first = _first_chunk(chunks, data)
    columns = list(first.columns)
    _check_columns(columns, preds + targets, "--prediction-col/--target-col")
    if time_column is not None:
        _check_columns(columns, [time_column], "--time-column")
    matched = [n for n in b.features if n in columns]
    if not matched:
        raise DataError(
            f"no column of {data.name} matches a feature of baseline {b.model} {b.version} "
            f"(baseline: {_some(list(b.features))}; data: {_some(columns)}){_separator_hint(columns)}"
        )
    try:
        inputs = ReportInputs(b, time_column=time_column, every=every)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--every") from None
    total = _count_rows(data, fmt) if data.stat().st_size >= PROGRESS_BYTES else 0
    progress = _Progress(data, total, "drift")
    try:
        for frame in chunks():
            _check_columns(list(frame.columns), preds + targets, "--prediction-col/--target-col")
            inputs.add(
                frame,
                _outputs(frame, preds, numeric_outputs),
                _outputs(frame, targets, numeric_outputs),
            )
            progress(len(frame))
    except (ValueError, BaselineError) as exc:
        raise DataError(str(exc)) from None
    finally:
        progress.close()
    config = DriftConfig(mode=mode) if min_samples is None else DriftConfig(mode=mode, min_samples=min_samples)
    report = inputs.report(config)
    _write_output(output, report.write_json if fmt_out == "json" else report.write_html)
    if json_path is not None:
        _write_output(json_path, report.write_json)
    _summary(report, output)
    if report.missing:
        raise DataError(
            f"baseline feature(s) missing from {data.name}: {_some(report.missing)} "
            f"(the report covers the {len(matched)} that match)"
        )
    if fail_on_drift and report.verdict == "drift":
        sys.exit(1)
    if fail_on_data_quality and report.quality_issues:
        sys.exit(1)


def _summary(report: Any, output: Path) -> None:
    """What the terminal shows after a report: the headline, warnings, issues, the top features."""
    res = report.result
    verdict = {"drift": "dataset drift", "no_drift": "below the dataset-drift share"}.get(res.verdict, "no dataset verdict")
    click.echo(
        f"wrote {output}: {res.drifted} of {res.evaluated} input features drifted ({verdict}; {report.rows:,} rows)"
    )
    for warning in report.warnings:
        click.echo(f"warning: {warning}", err=True)
    for name, found in report.quality_issues.items():
        for issue in found:
            click.echo(f"data quality: {name}: {issue}")
    if report.performance is not None and report.performance.rows:
        shown = ", ".join(f"{k} {v:.4g}" for k, v in report.performance.metrics().items())
        click.echo(f"performance ({report.performance.task}, {report.performance.rows:,} rows): {shown}")
    if report.periods:
        drifted = sum(p.result.verdict == "drift" for p in report.periods)
        click.echo(f"{len(report.periods)} periods of {report.every}: {drifted} with dataset drift")
    if res.multivariate is not None:
        moved = [fd.name for fd in res.features if fd.role == "projection" and fd.drifted]
        total = sum(fd.role == "projection" for fd in res.features)
        click.echo(f"multivariate: {res.multivariate}" + (f" ({len(moved)} of {total} projections: {_some(moved)})" if moved else ""))
    for fd in [fd for fd in res.features if fd.role != "projection"][:10]:
        fired = ", ".join(getattr(fd, "reason_codes", []) or [])
        click.echo(
            f"  {fd.name:<24} {fd.verdict:<18} PSI {fd.scores.get('psi', float('nan')):.3f}"
            + (f"  ({fired})" if fired else "")
        )


# Further command groups (e.g. `outcomes`) are added below with @main.group() / @main.command().

from modeltel import _outcomes_cli  # noqa: E402 - needs the helpers above

main.add_command(_outcomes_cli.outcomes)  # type: ignore[has-type]  # the import is circular: mypy cannot type the group here


if __name__ == "__main__":  # pragma: no cover
    main()
