"""The ``modeltel`` command line: baselines from training files, offline drift reports.

    modeltel baseline create train.parquet --model fraud --version 3.1.0 \\
        --prediction-col score --target-col label -o baselines/fraud-3.1.0.json
    modeltel baseline show baselines/fraud-3.1.0.json
    modeltel drift report --baseline baselines/fraud-3.1.0.json --data last_week.parquet -o drift.html

CSV and Parquet files are read in chunks (``--chunk-size`` rows), so files larger than
memory work; a progress bar is shown for large files.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import click

from modeltel._baseline import Baseline, BaselineError, ProductionHistograms
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
    raise click.BadParameter(f"{path}: expected a .csv, .csv.gz, .tsv or .parquet file")


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


def _reader(path: Path, fmt: str, chunk_size: int) -> Callable[[], Iterator[Any]]:
    """A factory of fresh iterators over pandas DataFrame chunks of the file."""
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is in the test extra
        raise click.ClickException("reading CSV/Parquet needs pandas: pip install 'modeltel[pandas,pyarrow]'") from None

    if fmt == "parquet":
        try:
            import pyarrow.parquet as pq
        except ImportError:  # pragma: no cover
            raise click.ClickException("reading Parquet needs pyarrow: pip install 'modeltel[pyarrow]'") from None

        def parquet_chunks() -> Iterator[Any]:
            for batch in pq.ParquetFile(path).iter_batches(batch_size=chunk_size):
                yield batch.to_pandas()

        return parquet_chunks

    sep = "\t" if path.name.lower().endswith(".tsv") else ","

    def csv_chunks() -> Iterator[Any]:
        with pd.read_csv(path, sep=sep, chunksize=chunk_size) as reader:
            yield from reader

    return csv_chunks


def _check_columns(frame_columns: Sequence[str], wanted: Sequence[str], option: str) -> None:
    missing = [c for c in wanted if c not in frame_columns]
    if missing:
        raise click.UsageError(f"{option}: no column(s) {missing} in the data (columns: {list(frame_columns)})")


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


@click.group()
@click.version_option(package_name="modeltel")
def main() -> None:
    """modeltel: baselines and drift reports for monitored models."""


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
@click.option("--max-categories", default=32, show_default=True, help="Top categories kept per categorical feature.")
@click.option("--chunk-size", default=100_000, show_default=True, help="Rows read at a time.")
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
    chunk_size: int,
    output: Path,
) -> None:
    """Build a baseline from a CSV or Parquet file of training data."""
    fmt = _file_format(data)
    preds = _split_list(prediction_col)
    targets = _split_list(target_col)
    dropped = set(_split_list(exclude)) | set(preds) | set(targets)
    chunks = _reader(data, fmt, chunk_size)
    first = next(iter(chunks()), None)
    if first is None or len(first.columns) == 0:
        raise click.ClickException(f"{data}: no data")
    _check_columns(list(first.columns), preds, "--prediction-col")
    _check_columns(list(first.columns), targets, "--target-col")
    _check_columns(list(first.columns), _split_list(exclude), "--exclude")

    def pick(frame: Any, cols: list[str]) -> Any:
        return _outputs(frame, cols, numeric_outputs)

    def source() -> Iterator[tuple[Any, Any, Any]]:
        for frame in chunks():
            features = frame.drop(columns=[c for c in frame.columns if c in dropped])
            yield features, pick(frame, preds), pick(frame, targets)

    progress = _Progress(data, 2 * _count_rows(data, fmt) if data.stat().st_size >= PROGRESS_BYTES else 0, "baseline")
    try:
        b = Baseline._from_source(
            source,
            replayable=True,
            model=model,
            version=model_version,
            categorical=_split_list(categorical),
            max_categories=max_categories,
            progress=progress,
        )
    except BaselineError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        progress.close()
    b.save(output)
    click.echo(
        f"wrote {output}: baseline {b.id} for {b.model} {b.version}, {b.rows:,} rows, "
        f"{len(b.features)} features, {len(b.predictions)} prediction(s), {len(b.targets)} target(s)"
    )


@baseline.command("show")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the schema as JSON instead.")
def baseline_show(path: Path, as_json: bool) -> None:
    """Summarise a baseline file."""
    try:
        b = Baseline.load(path)
    except BaselineError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps({"id": b.id, "model": b.model, "version": b.version, "rows": b.rows, **b.schema}, indent=1))
    else:
        click.echo(b.describe())


@main.group()
def drift() -> None:
    """Compare production data with a baseline."""


@drift.command("report")
@click.option("--baseline", "baseline_path", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--data", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Production data (CSV or Parquet).")
@click.option("--prediction-col", multiple=True, help="Column(s) holding the predictions (names as in the baseline).")
@click.option("--target-col", multiple=True, help="Column(s) holding the targets.")
@click.option("--numeric-outputs", is_flag=True, help="As for baseline create: integer outputs are values.")
@click.option("--mode", type=click.Choice(["fixed", "adaptive"]), default="fixed", show_default=True, help="Fixed thresholds or sample-size-aware ones.")
@click.option("--min-samples", type=int, default=None, help="Rows below which no verdict is given (default 500).")
@click.option("--chunk-size", default=100_000, show_default=True)
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), help="Also write the scores as JSON.")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path), help="HTML report to write.")
def drift_report_cmd(
    baseline_path: Path,
    data: Path,
    prediction_col: tuple[str, ...],
    target_col: tuple[str, ...],
    numeric_outputs: bool,
    mode: str,
    min_samples: int | None,
    chunk_size: int,
    json_path: Path | None,
    output: Path,
) -> None:
    """Write an HTML drift report of DATA against a baseline; exits 0 whatever the verdict."""
    from modeltel._report import _compare

    try:
        b = Baseline.load(baseline_path)
    except BaselineError as exc:
        raise click.ClickException(str(exc)) from None
    fmt = _file_format(data)
    preds = _split_list(prediction_col)
    targets = _split_list(target_col)
    chunks = _reader(data, fmt, chunk_size)
    prod = ProductionHistograms(b)
    total = _count_rows(data, fmt) if data.stat().st_size >= PROGRESS_BYTES else 0
    progress = _Progress(data, total, "drift")
    try:
        for frame in chunks():
            _check_columns(list(frame.columns), preds + targets, "--prediction-col/--target-col")
            features = frame[[c for c in frame.columns if c in b.features]]
            prod.add(
                features,
                predictions=_outputs(frame, preds, numeric_outputs),
                targets=_outputs(frame, targets, numeric_outputs),
            )
            progress(len(frame))
    finally:
        progress.close()
    missing = [n for n in b.features if n not in prod.seen]
    config = DriftConfig(mode=mode) if min_samples is None else DriftConfig(mode=mode, min_samples=min_samples)
    report = _compare(b, prod, config, None)
    report.save(output)
    if json_path is not None:
        report.save(json_path if json_path.suffix == ".json" else json_path.with_suffix(".json"))
    res = report.result
    click.echo(
        f"wrote {output}: {res.verdict} ({res.drifted} of {res.evaluated} input features drifted, "
        f"{prod.rows:,} rows)" + (f"; features missing from the data: {missing}" if missing else "")
    )
    for fd in res.features[:10]:
        click.echo(f"  {fd.name:<24} {fd.verdict:<18} PSI {fd.scores.get('psi', float('nan')):.3f}")


if __name__ == "__main__":  # pragma: no cover
    main()
