"""The ``ml.prediction`` JSON log record, through structlog.

A user's own structlog configuration is respected: when ``structlog.is_configured()``,
records go through ``structlog.get_logger("modeltel")`` and the user's processors and
renderer. Otherwise modeltel uses a private structlog pipeline (ISO timestamp, level,
JSON) that writes one line per record to stdout, without touching structlog's globals.

A record is rendered to JSON once: when the caller already has the fields as a JSON object
(the body of the OpenTelemetry log record), the private pipeline splices the event, level
and timestamp onto it instead of rendering the fields a second time.
"""

from __future__ import annotations

import sys
from typing import IO, Any, Callable, MutableMapping, TextIO, cast

import orjson
import structlog

__all__ = ["default_json_log", "json_log_to", "safe_json"]

#: A JSON log sink: ``sink(level, event, fields, rendered)``, where ``rendered`` is
#: ``safe_json(fields)`` when the caller already made it, else ``None``.
JsonLog = Callable[[str, str, dict[str, Any], "str | None"], None]

# The event-dict key carrying the pre-rendered fields through the private pipeline.
_RENDERED = "_modeltel_rendered"


def _json_default(value: Any) -> Any:
    # numpy scalars and anything else unusual: never fail a log line on a type.
    item = getattr(value, "item", None)
    if callable(item):
        try:
            plain = item()
        except Exception:  # noqa: BLE001
            pass
        else:
            if type(plain) is not type(value):  # else orjson would ask again, forever
                return plain
    return repr(value)


_ORJSON_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


def safe_json(value: Any) -> str:
    """Compact JSON that never fails on a type: numpy values as numbers, NaN and infinities
    as ``null`` (strict JSON, which log backends parse), anything else as its ``repr``."""
    return orjson.dumps(value, default=_json_default, option=_ORJSON_OPTIONS).decode()


def _render(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> str:
    """The private pipeline's renderer: the pre-rendered fields, then the rest of the
    event dict (event, level, timestamp), in the order structlog's JSONRenderer would use."""
    rendered = event_dict.pop(_RENDERED, None)
    rest = safe_json(event_dict)
    if rendered is None or rendered == "{}":
        return rest
    return rendered[:-1] + "," + rest[1:]


def _private_pipeline(stream: IO[str] | None) -> Any:
    return structlog.wrap_logger(
        structlog.PrintLogger(cast(TextIO, stream if stream is not None else sys.stdout)),
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _render,
        ],
        cache_logger_on_first_use=True,
    )


def json_log_to(stream: IO[str] | None) -> JsonLog:
    """A JSON log sink writing to ``stream`` (stdout when ``None``) with modeltel's pipeline."""
    logger = _private_pipeline(stream)

    def emit(level: str, event: str, fields: dict[str, Any], rendered: str | None = None) -> None:
        if rendered is None:
            getattr(logger, level)(event, **fields)
        else:
            getattr(logger, level)(event, **{_RENDERED: rendered})

    return emit


def default_json_log() -> JsonLog:
    """The user's structlog configuration if there is one, else modeltel's JSON to stdout."""
    private = json_log_to(None)

    def emit(level: str, event: str, fields: dict[str, Any], rendered: str | None = None) -> None:
        # Checked per record: the application may configure structlog after importing modeltel.
        if structlog.is_configured():
            getattr(structlog.get_logger("modeltel"), level)(event, **fields)
        else:
            private(level, event, fields, rendered)

    return emit
