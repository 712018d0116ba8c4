"""``modeltel outcomes send``: ground truth from a CSV or Parquet file, in bulk.

    modeltel outcomes send labels.parquet --key-column transaction_id \\
        --label-column is_fraud --model fraud

Reads the file in chunks, sends each chunk with :func:`modeltel.record_outcomes` (one log
record per 10,000 rows) to the OTLP endpoint of the standard ``OTEL_EXPORTER_OTLP_*``
variables (or ``--endpoint``), shows a progress bar for large files, and ends with a summary
of what was sent. Registered on the ``modeltel`` command group by cli.py.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import click

from modeltel import _outcomes
from modeltel.cli import (
    PROGRESS_BYTES,
    DataError,
    _check_columns,
    _count_rows,
    _file_format,
    _first_chunk,
    _Progress,
    _reader,
    _separator_hint,
)

__all__ = ["outcomes"]


@click.group()
def outcomes() -> None:
    """Send ground truth (actual labels or values) for predictions made with outcomes=True."""


@outcomes.command("send")
@click.argument("data", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--key-column", required=True, help="Column holding the join key (the id_from= column of the predictions).")
@click.option("--label-column", required=True, help="Column holding the actual label (classifiers) or value (regressors).")
@click.option("--model", required=True, help="Model name the predictions were made under (as in @monitor(model=...)).")
@click.option("--task", type=click.Choice(["classification", "regression"]), default=None,
              help="Default: float columns that are not all integral are values, others labels.")
@click.option("--time-column", default=None, help="Column with when each outcome was observed (default: now).")
@click.option("--endpoint", default=None, help="OTLP/HTTP endpoint, e.g. http://localhost:4318 (default: OTEL_EXPORTER_OTLP_ENDPOINT).")
@click.option("--chunk-size", type=click.IntRange(min=1), default=100_000, show_default=True, help="Rows read at a time.")
@click.option("--sep", default=None, help="CSV field separator (default: ',' for .csv, tab for .tsv).")
def send(data: Path, key_column: str, label_column: str, model: str, task: str | None, time_column: str | None,
         endpoint: str | None, chunk_size: int, sep: str | None) -> None:
    """Send the outcomes in DATA (CSV or Parquet) to the collector."""
    import modeltel

    fmt = _file_format(data)
    chunks = _reader(data, fmt, chunk_size, sep)
    first = _first_chunk(chunks, data)
    wanted = [key_column, label_column] + ([time_column] if time_column else [])
    try:
        _check_columns(list(first.columns), wanted, "--key-column/--label-column/--time-column")
    except DataError as exc:
        raise DataError(exc.message + _separator_hint(list(first.columns))) from None
    if endpoint:
        os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"] = endpoint
    if not os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") and not os.environ.get("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT"):
        raise DataError("no collector to send to: pass --endpoint or set OTEL_EXPORTER_OTLP_ENDPOINT")
    modeltel.configure(service_name=os.environ.get("OTEL_SERVICE_NAME", "modeltel-outcomes"), exporter="otlp")
    total = _count_rows(data, fmt) if data.stat().st_size >= PROGRESS_BYTES else 0
    progress = _Progress(data, total, "outcomes")
    rows = sent = 0
    began = time.monotonic()
    try:
        for frame in chunks():
            rows += len(frame)
            if time_column:
                import pandas as pd

                times = pd.to_datetime(frame[time_column], utc=True, errors="coerce")
                for at, part in frame.groupby(times, sort=False):  # rows without a time are skipped
                    sent += _outcomes.record_outcomes(part[key_column], part[label_column], model=model, task=task,
                                                      observed_at=at.to_pydatetime())
            else:
                sent += _outcomes.record_outcomes(frame[key_column], frame[label_column], model=model, task=task)
            progress(len(frame))
    finally:
        progress.close()
    flushed = modeltel.force_flush()
    modeltel.shutdown()
    missing = rows - sent
    click.echo(
        f"sent {sent:,} outcomes of model {model!r} from {data} ({rows:,} rows, {missing:,} skipped for a "
        f"missing key, label or time) in {time.monotonic() - began:.1f} s"
        + ("" if flushed else "; WARNING: the exporter did not confirm every record (is the collector up?)")
    )
    if not flushed:
        raise SystemExit(1)
