"""Ground truth for joinable predictions: the wire format and ``record_outcome(s)``.

A model monitored with ``outcomes=True`` sends, per predict call, one OpenTelemetry log
record ``ml.outcome.predicted`` with the rows' join keys and outputs (class and score, or
value), its segments, and no input value. Ground truth comes later, from any process, as
``ml.outcome.observed`` records: ``record_outcome(s)`` here, or ``modeltel outcomes send``.
The collector's ``mlperformance`` connector joins them by key (docs/outcomes.md). Both
sides turn keys and labels into text with the same rule (:func:`labels`), the rule the
connector applies to numbers it receives.
"""

from __future__ import annotations

import atexit
import logging
import math
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from opentelemetry._logs import SeverityNumber

from modeltel import _registry
from modeltel import _semconv as sc
from modeltel import _telemetry
from modeltel._identity import number_label

__all__ = ["record_outcome", "record_outcomes", "emit_joinable", "predicted_records", "labels", "MAX_ROWS_PER_RECORD"]

_log = logging.getLogger("modeltel")

# Names: modeltel._semconv (shared with the Go connector's semconv.go).
EVENT_PREDICTED = sc.EVENT_OUTCOME_PREDICTED
EVENT_OBSERVED = sc.EVENT_OUTCOME_OBSERVED
ATTR_MODEL = sc.ATTR_MODEL_NAME
ATTR_VERSION = sc.ATTR_MODEL_VERSION
ATTR_PREDICTION_ID = sc.ATTR_PREDICTION_ID
ATTR_KEYS = sc.ATTR_OUTCOME_KEYS
ATTR_CLASSES = sc.ATTR_PREDICTION_CLASSES
ATTR_SCORES = sc.ATTR_PREDICTION_SCORES
ATTR_VALUES = sc.ATTR_PREDICTION_VALUES
ATTR_PROBABILITIES = sc.ATTR_PREDICTION_PROBABILITIES
ATTR_PROBABILITY_CLASSES = sc.ATTR_PREDICTION_PROBABILITY_CLASSES
ATTR_SEGMENTS = sc.ATTR_OUTCOME_SEGMENTS
ATTR_PARTITION = sc.ATTR_OUTCOME_PARTITION
ATTR_LABELS = sc.ATTR_OUTCOME_LABELS
ATTR_ACTUAL_VALUES = sc.ATTR_OUTCOME_VALUES
ATTR_REF_ACCURACY = sc.ATTR_REFERENCE_ACCURACY
ATTR_REF_MAE = sc.ATTR_REFERENCE_MAE

#: Rows per log record at most: a batch above it goes out as several records (each well
#: under the collector's 4 MiB default gRPC message size).
MAX_ROWS_PER_RECORD = 10_000

#: Per-row arrays travel packed (docs/semantic-conventions.md): texts as one string joined by
#: U+001F, numbers as little-endian float64 bytes. One attribute value instead of one per row
#: makes a 1,000-row record ~60x cheaper to build and encode; the connector also reads plain
#: OTLP arrays, for other senders.
SEPARATOR = "\x1f"
_TEXT = frozenset({ATTR_KEYS, ATTR_CLASSES, ATTR_SEGMENTS, ATTR_LABELS, ATTR_PROBABILITY_CLASSES})


def _pack(name: str, values: Any) -> Any:
    if name in _TEXT:
        texts = values.tolist() if hasattr(values, "tolist") else values
        joined = SEPARATOR.join(texts)
        # A text that contains the separator itself goes as a plain array.
        return joined if joined.count(SEPARATOR) == len(texts) - 1 else tuple(texts)
    np = _numpy()
    return np.asarray(values, dtype="<f8").tobytes()


def unpack(value: Any) -> list[Any]:
    """A per-row attribute as a list, whichever form it travels in (for tests and tools)."""
    if isinstance(value, bytes):
        return _numpy().frombuffer(value, dtype="<f8").tolist()
    if isinstance(value, str):
        return value.split(SEPARATOR)
    return list(value)


def labels(values: Any) -> list[str]:
    """Keys and class labels as text: numbers by ``_identity.number_label`` (integers and
    integral floats in decimal, others in their shortest form), strings as they are, and
    booleans as ``1``/``0`` (not the sketches' ``true``/``false``: a classifier's ``True`` must
    join a label file's ``1``).

    Vectorised for numpy arrays and pandas Series; the Go connector applies the same rule to
    the numbers it receives, so ``1``, ``1.0``, ``True`` and ``"1"`` are the same class.
    """
    np = _numpy()
    if np is not None and hasattr(values, "dtype"):
        arr = np.asarray(values)
        kind = arr.dtype.kind
        if kind == "b":
            return np.where(arr, "1", "0").tolist()
        if kind in "iu":
            return arr.astype(str).tolist()
        if kind == "f":
            if bool(np.all(np.isfinite(arr))) and bool(np.all(arr == np.trunc(arr))) and bool(np.all(np.abs(arr) < 2**53)):
                return arr.astype(np.int64).astype(str).tolist()
        if kind == "U":
            return arr.tolist()
        values = arr.tolist()
    return [_label(v) for v in values]


def _label(v: Any) -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return number_label(v) or "nan"
    if hasattr(v, "item"):  # numpy scalars
        return _label(v.item())
    return str(v)


def _numpy() -> Any:
    try:
        import numpy as np
    except ImportError:  # pragma: no cover - numpy is a dependency, kept optional here
        return None
    return np


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def _as_list(values: Any, name: str) -> list[Any]:
    if isinstance(values, (str, bytes)):
        raise TypeError(f"{name} must be a sequence of values, not a single string")
    if hasattr(values, "tolist"):
        return values.tolist()
    return list(values)


def _partitions(keys: list[str], n: int) -> dict[int, list[int]]:
    """Row indexes per partition (crc32 of the key's UTF-8 text, modulo n)."""
    out: dict[int, list[int]] = {}
    for i, k in enumerate(keys):
        out.setdefault(zlib.crc32(k.encode()) % n, []).append(i)
    return out


def _chunks(rows: int) -> Iterable[slice]:
    for start in range(0, rows, MAX_ROWS_PER_RECORD):
        yield slice(start, min(start + MAX_ROWS_PER_RECORD, rows))


def _time_ns(at: datetime | float | int | None) -> int:
    if at is None:
        return time.time_ns()
    if isinstance(at, datetime):
        return int(at.timestamp() * 1e9)
    return int(float(at) * 1e9)


_warned_no_provider = False


def _emit(event: str, timestamp: int, attributes: dict[str, Any], rows: int, telemetry: Any = None) -> bool:
    """One log record through the OpenTelemetry logs API (``telemetry``'s logger, by default the
    current one); False when nothing can send it."""
    global _warned_no_provider
    if telemetry is None:
        telemetry = _telemetry.current()
    if not telemetry.otel_logs_enabled():
        if not _warned_no_provider:
            _warned_no_provider = True
            _log.warning(
                "modeltel: %s records are not sent: no OpenTelemetry logger provider "
                "(call modeltel.configure() with an OTLP endpoint first)", event,
            )
        return False
    telemetry.otel_logger.emit(
        timestamp=timestamp,
        observed_timestamp=time.time_ns(),
        severity_number=SeverityNumber.INFO,
        severity_text="INFO",
        event_name=event,
        body=f"{event}: {rows} rows",
        attributes=attributes,
    )
    return True


def _split(attributes: dict[str, Any], arrays: dict[str, Any], keys: list[str]) -> Iterable[tuple[dict[str, Any], int]]:
    """(attributes, rows) of each record of a batch: by partition, then by MAX_ROWS_PER_RECORD."""
    n = _telemetry.default_config().outcome_partitions
    groups: Iterable[tuple[int | None, list[int] | None]]
    groups = [(None, None)] if n <= 1 else sorted(_partitions(keys, n).items())
    for part, idx in groups:
        sub_keys = keys if idx is None else [keys[i] for i in idx]
        sub = arrays if idx is None else {name: _take(a, idx) for name, a in arrays.items()}
        for s in _chunks(len(sub_keys)):
            attrs = dict(attributes)
            if part is not None:
                attrs[ATTR_PARTITION] = part
            attrs[ATTR_KEYS] = _pack(ATTR_KEYS, sub_keys[s])
            for name, a in sub.items():
                attrs[name] = _pack(name, a[s])
            yield attrs, s.stop - s.start


def _take(values: Any, idx: list[int]) -> Any:
    if hasattr(values, "dtype"):
        return values[_numpy().asarray(idx, dtype=int)]
    return [values[i] for i in idx]


def record_outcomes(
    keys: Sequence[Any] | Any,
    actuals: Sequence[Any] | Any,
    *,
    model: str,
    task: str | None = None,
    observed_at: datetime | float | None = None,
) -> int:
    """Send the ground truth of many predictions, vectorised: one log record per 10,000 rows.

    Args:
        keys: the join keys, as the predictions were made with (``id_from=`` column values,
            or ``"<prediction id>:<row>"``); a list, numpy array or pandas Series.
        actuals: the actual class labels (classifiers) or values (regressors), one per key.
        model: the model name the predictions were made under (``@monitor(model=...)``).
        task: ``"classification"`` or ``"regression"``; default: floats that are not all
            integral are values, everything else labels (the connector accepts either for
            either task: ``1.0`` is class ``1``).
        observed_at: when the outcomes were observed (datetime or epoch seconds); default now.

    Returns the number of rows sent (rows whose key or actual is missing are skipped, and a
    warning says how many). Usable from any process, hours or weeks after the predictions,
    after ``modeltel.configure()``.

    Raises ``ValueError`` when keys and actuals differ in length or ``task`` is unknown.

    Example::

        modeltel.configure(service_name="label-service")
        modeltel.record_outcomes(df["transaction_id"], df["is_fraud"], model="fraud")
    """
    if task not in (None, "classification", "regression"):
        raise ValueError(f"task={task!r}: expected 'classification' or 'regression'")
    np = _numpy()
    key_list = _as_list(keys, "keys")
    regression = task == "regression"
    if task is None and np is not None and hasattr(actuals, "dtype") and np.asarray(actuals).dtype.kind == "f":
        arr = np.asarray(actuals)
        finite = arr[np.isfinite(arr)]
        regression = bool(len(finite)) and not bool(np.all(finite == np.trunc(finite)))
    actual_list = _as_list(actuals, "actuals")
    if len(key_list) != len(actual_list):
        raise ValueError(f"keys and actuals differ in length: {len(key_list)} keys, {len(actual_list)} actuals")
    keep = [i for i in range(len(key_list)) if not _missing(key_list[i]) and not _missing(actual_list[i])]
    skipped = len(key_list) - len(keep)
    if skipped:
        _log.warning("modeltel.record_outcomes: %d rows without a key or an actual were skipped", skipped)
        key_list = [key_list[i] for i in keep]
        actual_list = [actual_list[i] for i in keep]
    if not key_list:
        return 0
    text_keys = labels(key_list)
    if regression:
        arrays: dict[str, list[Any]] = {ATTR_ACTUAL_VALUES: [float(v) for v in actual_list]}
    else:
        arrays = {ATTR_LABELS: labels(actual_list)}
    timestamp = _time_ns(observed_at)
    sent = 0
    for attrs, rows in _split({ATTR_MODEL: model}, arrays, text_keys):
        if _emit(EVENT_OBSERVED, timestamp, attrs, rows):
            sent += rows
    return sent


def record_outcome(key: Any, actual: Any, *, model: str, task: str | None = None,
                   observed_at: datetime | float | None = None) -> int:
    """Send the ground truth of one prediction (see :func:`record_outcomes`).

    Example::

        modeltel.record_outcome("tx-42", 1, model="fraud")
    """
    if task is None and isinstance(actual, float) and math.isfinite(actual) and actual != math.trunc(actual):
        task = "regression"
    return record_outcomes([key], [actual], model=model, task=task, observed_at=observed_at)


def predicted_records(
    *,
    model: str,
    version: str,
    prediction_id: str,
    keys: list[str],
    classes: Any = None,
    scores: Any = None,
    values: Any = None,
    segments: list[str] | None = None,
    reference: dict[str, float] | None = None,
    baseline_reference: dict[str, Any] | None = None,
    probabilities: Any = None,
) -> Iterable[tuple[dict[str, Any], int]]:
    """(attributes, rows) of the ``ml.outcome.predicted`` record(s) of one predict call.

    ``reference`` (the user's) wins over ``baseline_reference`` (``_reference.wire_attributes``).
    ``probabilities`` (an ``(n, k)`` array) is every class's probability per row, its columns
    the classes ``0 .. k-1``: multiclass log loss and Brier score in the connector.
    """
    attributes: dict[str, Any] = {ATTR_MODEL: model, ATTR_VERSION: version, ATTR_PREDICTION_ID: prediction_id}
    if baseline_reference and not reference:
        attributes.update(baseline_reference)
    for metric, attr in (("accuracy", ATTR_REF_ACCURACY), ("mae", ATTR_REF_MAE)):
        if reference and reference.get(metric) is not None:
            attributes[attr] = float(reference[metric])
    arrays: dict[str, list[Any]] = {}
    for name, a in ((ATTR_CLASSES, classes), (ATTR_SCORES, scores), (ATTR_VALUES, values), (ATTR_SEGMENTS, segments),
                    (ATTR_PROBABILITIES, probabilities)):
        if a is not None:
            arrays[name] = a
    if probabilities is not None:
        attributes[ATTR_PROBABILITY_CLASSES] = _pack(ATTR_PROBABILITY_CLASSES, _column_labels(probabilities.shape[1]))
    return _split(attributes, arrays, keys)


def emit_predicted(timestamp: int, records: Iterable[tuple[dict[str, Any], int]]) -> None:
    """Send the records :func:`predicted_records` built."""
    for attrs, rows in records:
        _emit(EVENT_PREDICTED, timestamp, attrs, rows)


def output_rows(output: Any, task: str | None = None) -> dict[str, list[Any]]:
    """Per-row classes and scores, or values, of a model output (the joinable part).

    A 2-D float output is class probabilities: the class is the column's index of the largest;
    with two columns the score is the second's (the positive class ``1``), with more every
    column's probability goes too (``ml.prediction.probabilities``: multiclass log loss and
    Brier score). A 1-D float
    output with every value in [0, 1] is a binary classifier's positive-class score (class
    ``1`` from 0.5) unless ``task="regression"``; other floats are values; integers, booleans
    and strings are classes.
    """
    if isinstance(output, (bool, int, float, str)) or (hasattr(output, "shape") and output.shape == ()):
        v = output.item() if hasattr(output, "item") else output
        if isinstance(v, float):
            if task == "classification" or (task is None and 0.0 <= v <= 1.0):
                return {ATTR_CLASSES: ["1" if v >= 0.5 else "0"], ATTR_SCORES: [v]}
            return {ATTR_VALUES: [v]}
        return {ATTR_CLASSES: [_label(v)]}
    np = _numpy()
    if hasattr(output, "to_numpy"):
        output = output.to_numpy()
    arr = np.asarray(output)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim == 2 and arr.dtype.kind == "f":
        if arr.shape[1] == 2:  # argmax of two columns, ties to the first
            return {ATTR_CLASSES: np.where(arr[:, 1] > arr[:, 0], "1", "0"), ATTR_SCORES: arr[:, 1]}
        return {ATTR_CLASSES: _column_labels(arr.shape[1], np.argmax(arr, axis=1)), ATTR_PROBABILITIES: arr}
    if arr.ndim != 1:
        raise ValueError(f"an output of shape {arr.shape} has no per-row class or value")
    if arr.dtype.kind == "f":
        scores = task == "classification" or (
            task != "regression" and bool(np.all((arr >= 0.0) & (arr <= 1.0)))
        )
        if scores:
            return {ATTR_CLASSES: np.where(arr >= 0.5, "1", "0"), ATTR_SCORES: arr}
        return {ATTR_VALUES: arr}
    return {ATTR_CLASSES: labels(arr)}


_COLUMN_LABELS: dict[int, list[str]] = {}


def _column_labels(k: int, index: Any = None) -> list[str]:
    """The class labels of k probability columns ("0" .. "k-1"), or of the columns ``index`` names."""
    names = _COLUMN_LABELS.get(k)
    if names is None:
        names = _COLUMN_LABELS[k] = [str(i) for i in range(k)]
    return names if index is None else [names[i] for i in index.tolist()]


def emit_joinable(
    *,
    model: str,
    version: str,
    prediction_id: str,
    output: Any,
    keys: list[str] | None = None,
    segments: list[str] | None = None,
    task: str | None = None,
    reference: dict[str, float] | None = None,
    timestamp: int | None = None,
) -> int:
    """Send the ``ml.outcome.predicted`` record(s) of one predict call; returns the rows sent.

    ``keys`` default to ``"<prediction_id>:<row index>"``. Raises ``ValueError`` when the
    output has no per-row value or the keys or segments do not match its rows (the caller,
    the prediction lifecycle, contains it: fail-open).
    """
    records = joinable_records(model=model, version=version, prediction_id=prediction_id, output=output,
                               keys=keys, segments=segments, task=task, reference=reference)
    emit_predicted(time.time_ns() if timestamp is None else timestamp, records)
    return sum(rows for _, rows in records)


def _column(X: Any, name: str) -> list[Any] | None:
    """The values of column or field ``name`` of a model input, one per row; None if absent."""
    if isinstance(X, dict):
        if name not in X:
            return None
        v = X[name]
        return _as_list(v, name) if hasattr(v, "__len__") and not isinstance(v, (str, bytes)) else [v]
    if isinstance(X, (list, tuple)):
        if X and isinstance(X[0], dict):
            return [row.get(name) for row in X]
        return None
    columns = getattr(X, "columns", None)  # pandas, polars
    if columns is not None and name in columns:
        if hasattr(X, "iat") and len(X) == 1:  # one pandas row: no Series (a third of the cost)
            return [X.iat[0, columns.get_loc(name)]]
        col = X[name]
        return col.to_list() if hasattr(col, "to_list") else _as_list(col, name)
    names = getattr(getattr(X, "schema", None), "names", None)  # pyarrow
    if names is not None and name in names:
        return X.column(name).to_pylist()
    return None


def without_column(X: Any, name: str) -> Any:
    """The input without its join-key column or field (a new object; ``X`` is left as it is).

    The key identifies a row; summarised as a feature it would be a high-cardinality label
    that drifts by construction. Inputs of other shapes are returned unchanged.
    """
    if isinstance(X, dict):
        return {k: v for k, v in X.items() if k != name} if name in X else X
    if isinstance(X, (list, tuple)) and X and isinstance(X[0], dict):
        return [{k: v for k, v in row.items() if k != name} for row in X]
    columns = getattr(X, "columns", None)
    if columns is not None and name in columns:
        return X.drop(columns=[name]) if hasattr(X, "iat") else X.drop(name)  # pandas / polars
    names = getattr(getattr(X, "schema", None), "names", None)
    if names is not None and name in names:
        return X.drop_columns([name])  # pyarrow
    return X


def join_columns(X: Any, id_from: str | None, segment_by: Sequence[str]) -> tuple[list[str] | None, list[str] | None]:
    """The join keys (``id_from``) and segments (``segment_by``, joined by ``|``) of an input.

    Raises ``ValueError`` when a named column is not in the input (the lifecycle contains it
    and counts it as an SDK error; the keys then default to the prediction id and row).
    """
    keys = None
    if id_from is not None:
        values = _column(X, id_from)
        if values is None:
            raise ValueError(f"id_from={id_from!r}: no such column or field in the input")
        keys = labels(values)
    segments = None
    if segment_by:
        parts = []
        for name in segment_by:
            values = _column(X, name)
            if values is None:
                raise ValueError(f"segment_by: no column or field {name!r} in the input")
            parts.append(labels(["" if v is None else v for v in values]))
        segments = parts[0] if len(parts) == 1 else ["|".join(p) for p in zip(*parts)]
    return keys, segments


def joinable_records(
    *,
    model: str,
    version: str,
    prediction_id: str,
    output: Any,
    keys: list[str] | None,
    segments: list[str] | None,
    task: str | None,
    reference: dict[str, float] | None,
    baseline_reference: dict[str, Any] | Callable[[], dict[str, Any] | None] | None = None,
    coalesce: bool = False,
) -> list[tuple[dict[str, Any], int]]:
    """(attributes, rows) of the ``ml.outcome.predicted`` record(s) of one predict call's output.

    With ``coalesce``, a one-row output's row is queued with other one-row calls' (see
    :data:`COALESCE_ROWS`) and nothing is returned. ``baseline_reference`` may be a function
    (called once, only for a row that goes out: it is sent once every so often).
    Raises ``ValueError`` when the output has no per-row value or keys/segments do not fit it.
    """
    one = _one_row(output, task)
    if one is not None and (keys is None or len(keys) == 1) and (segments is None or len(segments) == 1):
        if coalesce:
            key = f"{prediction_id}:0" if keys is None else keys[0]
            _COALESCER.add(model, version, reference, _called(baseline_reference), key, one,
                           None if segments is None else segments[0])
            return []
        if _telemetry.default_config().outcome_partitions <= 1:
            return [(_one_record(model, version, prediction_id, one, keys, segments, reference,
                                 _called(baseline_reference)), 1)]
    sent_reference = _called(baseline_reference)
    rows = output_rows(output, task)
    n = len(next(iter(rows.values())))
    if keys is None:
        keys = [f"{prediction_id}:{i}" for i in range(n)]
    elif len(keys) != n:
        raise ValueError(f"{len(keys)} join keys for an output of {n} rows")
    if segments is not None and len(segments) != n:
        raise ValueError(f"{len(segments)} segments for an output of {n} rows")
    return list(predicted_records(
        model=model, version=version, prediction_id=prediction_id, keys=keys,
        classes=rows.get(ATTR_CLASSES), scores=rows.get(ATTR_SCORES), values=rows.get(ATTR_VALUES),
        segments=segments, reference=reference, baseline_reference=sent_reference,
        probabilities=rows.get(ATTR_PROBABILITIES),
    ))


_PACK_DOUBLE = struct.Struct("<d").pack


def _one_row(output: Any, task: str | None) -> tuple[str | None, float] | None:
    """The one row of the output shapes a single-row call returns most (a ``(1, 2)`` or ``(1,)``
    float array, a float), as (attribute, packed value) pairs by :func:`output_rows`' rules,
    without its numpy calls: the single-row path's budget is a fraction of a span. None for
    any other output (the general path handles it)."""
    shape = getattr(output, "shape", None)
    if shape is None or getattr(output, "dtype", None) is None or output.dtype.kind != "f":
        if type(output) is float:
            shape, output = (), output
        else:
            return None
    if shape == (1, 2):
        first, second = output[0, 0], output[0, 1]
        return ("1" if second > first else "0"), float(second)
    if shape in ((1,), (1, 1), ()):
        v = float(output.flat[0]) if shape else output
        if task == "classification" or (task is None and 0.0 <= v <= 1.0):
            return ("1" if v >= 0.5 else "0"), v
        return None, v
    return None


def _one_record(model: str, version: str, prediction_id: str, row: tuple[str | None, float],
                keys: list[str] | None, segments: list[str] | None, reference: dict[str, float] | None,
                baseline_reference: dict[str, Any] | None) -> dict[str, Any]:
    """The attributes :func:`predicted_records` makes for one row (same names, same packed forms)."""
    attributes: dict[str, Any] = {ATTR_MODEL: model, ATTR_VERSION: version, ATTR_PREDICTION_ID: prediction_id}
    if baseline_reference and not reference:
        attributes.update(baseline_reference)
    if reference:
        for metric, attr in (("accuracy", ATTR_REF_ACCURACY), ("mae", ATTR_REF_MAE)):
            if reference.get(metric) is not None:
                attributes[attr] = float(reference[metric])
    key = f"{prediction_id}:0" if keys is None else keys[0]
    attributes[ATTR_KEYS] = key if SEPARATOR not in key else (key,)
    cls, value = row
    if cls is None:
        attributes[ATTR_VALUES] = _PACK_DOUBLE(value)
    else:
        attributes[ATTR_CLASSES] = cls
        attributes[ATTR_SCORES] = _PACK_DOUBLE(value)
    if segments is not None:
        attributes[ATTR_SEGMENTS] = segments[0] if SEPARATOR not in segments[0] else (segments[0],)
    return attributes


# -- one-row calls, coalesced ----------------------------------------------------------------

#: A one-row call's joinable row waits for others of its model: one ``ml.outcome.predicted``
#: record per :data:`COALESCE_ROWS` rows or per :data:`COALESCE_SECONDS`, whichever comes
#: first. A record of its own per call costs more than the call's span (an OpenTelemetry log
#: record: ~45 us); a row appended here costs ~1 us. The record's time is its first row's, so
#: a row is attributed to its window up to COALESCE_SECONDS early; rows still waiting are sent
#: by force_flush(), shutdown(), the exit hook and the flush of a server's lifespan.
COALESCE_ROWS = 512
COALESCE_SECONDS = 1.0


class _Rows:
    """The rows of one model (version, reference, partition, output kind) waiting to be sent."""

    __slots__ = ("telemetry", "attributes", "baseline_reference", "keys", "classes", "numbers", "segments", "started")

    def __init__(self, telemetry: Any, attributes: dict[str, Any], started: int) -> None:
        self.telemetry = telemetry
        self.attributes = attributes
        self.baseline_reference: dict[str, Any] | None = None
        self.keys: list[str] = []
        self.classes: list[str] = []
        self.numbers: list[float] = []
        self.segments: list[str] = []
        self.started = started

    def record(self) -> dict[str, Any]:
        attributes = dict(self.attributes)
        if self.baseline_reference and ATTR_REF_ACCURACY not in attributes and ATTR_REF_MAE not in attributes:
            attributes.update(self.baseline_reference)
        attributes[ATTR_KEYS] = _pack(ATTR_KEYS, self.keys)
        if self.classes:
            attributes[ATTR_CLASSES] = _pack(ATTR_CLASSES, self.classes)
            attributes[ATTR_SCORES] = _pack(ATTR_SCORES, self.numbers)
        else:
            attributes[ATTR_VALUES] = _pack(ATTR_VALUES, self.numbers)
        if self.segments:
            attributes[ATTR_SEGMENTS] = _pack(ATTR_SEGMENTS, self.segments)
        return attributes


class _Coalescer:
    """Joinable rows of one-row calls, grouped until a group is full or old; a daemon thread
    sends the groups that traffic alone would leave waiting."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._groups: dict[tuple[Any, ...], _Rows] = {}
        self._thread: threading.Thread | None = None
        self._exit_hook = False

    def add(self, model: str, version: str, reference: dict[str, float] | None, baseline_reference: dict[str, Any] | None,
            key: str, row: tuple[str | None, float], segment: str | None) -> None:
        cls, value = row
        telemetry = _telemetry.current()
        n = _telemetry.default_config().outcome_partitions
        part = zlib.crc32(key.encode()) % n if n > 1 else None
        ref = tuple(sorted(reference.items())) if reference else None
        group = (id(telemetry), model, version, ref, cls is None, segment is not None, part)
        now = time.time_ns()
        full = None
        with self._lock:
            rows = self._groups.get(group)
            if rows is None:
                rows = self._groups[group] = _Rows(telemetry, _group_attributes(model, version, reference, part), now)
            if baseline_reference:
                rows.baseline_reference = baseline_reference
            rows.keys.append(key)
            rows.numbers.append(value)
            if cls is not None:
                rows.classes.append(cls)
            if segment is not None:
                rows.segments.append(segment)
            if len(rows.keys) >= COALESCE_ROWS or now - rows.started >= COALESCE_SECONDS * 1e9:
                full = self._groups.pop(group)
            if self._thread is None:
                self._start()
        if full is not None:
            _send(full)

    def flush(self, telemetry: Any = None) -> int:
        """Send every waiting group (only ``telemetry``'s, when given); the rows sent."""
        with self._lock:
            taken = [g for g, rows in self._groups.items() if telemetry is None or rows.telemetry is telemetry]
            groups = [self._groups.pop(g) for g in taken]
        for rows in groups:
            _send(rows)
        return sum(len(rows.keys) for rows in groups)

    def _start(self) -> None:
        # Under the lock. The exit hook is registered after the providers exist (the first
        # row comes after them), so it runs before their own exit hooks (atexit is LIFO).
        self._thread = threading.Thread(target=self._run, name="modeltel-outcomes", daemon=True)
        self._thread.start()
        if not self._exit_hook:
            atexit.register(self.flush)
            self._exit_hook = True

    def _run(self) -> None:
        while True:
            time.sleep(COALESCE_SECONDS / 2)
            limit = time.time_ns() - COALESCE_SECONDS * 1e9
            with self._lock:
                old = [g for g, rows in self._groups.items() if rows.started <= limit]
                groups = [self._groups.pop(g) for g in old]
            for rows in groups:
                _send(rows)

    def _after_fork_in_child(self) -> None:
        # The parent sends the rows it holds; the child starts empty, with a thread of its own.
        self._lock = threading.Lock()
        self._groups = {}
        self._thread = None

    def _reset(self) -> None:
        with self._lock:
            self._groups = {}


def _group_attributes(model: str, version: str, reference: dict[str, float] | None, part: int | None) -> dict[str, Any]:
    attributes: dict[str, Any] = {ATTR_MODEL: model, ATTR_VERSION: version}
    if reference:
        for metric, attr in (("accuracy", ATTR_REF_ACCURACY), ("mae", ATTR_REF_MAE)):
            if reference.get(metric) is not None:
                attributes[attr] = float(reference[metric])
    if part is not None:
        attributes[ATTR_PARTITION] = part
    return attributes


def _send(rows: _Rows) -> None:
    try:
        _emit(EVENT_PREDICTED, rows.started, rows.record(), len(rows.keys), rows.telemetry)
    except Exception as exc:  # noqa: BLE001 - the exit hook and the thread must not raise
        _telemetry.report_internal_error("outcomes.coalesced_send", exc)


_COALESCER = _Coalescer()
_registry.register("outcomes.coalesced", fork=_COALESCER._after_fork_in_child, reset=_COALESCER._reset)


def _called(value: Any) -> dict[str, Any] | None:
    return value() if callable(value) else value


def flush_rows(telemetry: Any = None) -> int:
    """Send the one-row calls' joinable rows still waiting; the number of rows sent."""
    return _COALESCER.flush(telemetry)
