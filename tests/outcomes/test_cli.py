"""`modeltel outcomes send`: a clear one-line error (exit 2) for every input it cannot use."""

from __future__ import annotations

import pandas as pd
import pytest
from click.testing import CliRunner

from modeltel.cli import main


@pytest.fixture
def labels_csv(tmp_path):
    path = tmp_path / "labels.csv"
    pd.DataFrame({"tx": ["a", "b"], "y": [1, 0]}).to_csv(path, index=False)
    return path


def _send(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(main, ["outcomes", "send", *args], env={"OTEL_EXPORTER_OTLP_ENDPOINT": "", **(env or {})})


def test_missing_column_names_the_columns_there_are(labels_csv):
    r = _send(str(labels_csv), "--key-column", "id", "--label-column", "y", "--model", "m")
    assert r.exit_code == 2
    assert "no column(s) ['id'] in the data (columns: tx, y)" in r.output


def test_wrong_separator_is_hinted(tmp_path):
    path = tmp_path / "semi.csv"
    path.write_text("tx;y\na;1\n")
    r = _send(str(path), "--key-column", "tx", "--label-column", "y", "--model", "m")
    assert r.exit_code == 2
    assert "is the separator ';'?" in r.output


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.csv", b"", "the file is empty"),
        ("binary.csv", b"\x00\x01\x02PK", "a binary file"),
        ("labels.json", b"{}", "expected a .csv, .csv.gz, .tsv or .parquet file"),
        ("broken.parquet", b"not parquet", "cannot read it as PARQUET"),
    ],
)
def test_unusable_files(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    r = _send(str(path), "--key-column", "tx", "--label-column", "y", "--model", "m")
    assert r.exit_code == 2, r.output
    assert message.lower() in r.output.lower()
    assert "Traceback" not in r.output


def test_no_endpoint_is_an_error_before_anything_is_sent(labels_csv):
    r = _send(str(labels_csv), "--key-column", "tx", "--label-column", "y", "--model", "m")
    assert r.exit_code == 2
    assert "no collector to send to: pass --endpoint or set OTEL_EXPORTER_OTLP_ENDPOINT" in r.output
