"""What an exception may say once it leaves the process.

Exception text often quotes the input (``ValueError(f"bad row {row}")``), so by default only
the exception's type leaves: on the span status, the span's ``exception`` event (type and the
stack's frames, no message) and the ``ml.prediction`` log record. ``MODELTEL_CAPTURE_ERROR_MESSAGES``
(or ``capture_error_messages=True`` on ``configure()``) opts in to the text, cut to 512
characters. modeltel's own internal-error log follows the same rule: a user object whose
``__len__`` fails must not have its message written to stderr.
"""

from __future__ import annotations

import traceback
from typing import Any

from opentelemetry.trace import Span, Status, StatusCode

from modeltel._config import Config
from modeltel._identity import type_name

__all__ = ["error_message", "error_type", "record_error", "describe_exception"]

_MAX_ERROR_MESSAGE = 512


def error_type(exc: BaseException) -> str:
    """The exception's qualified type name (``ValueError``, ``pkg.mod.MyError``): ``error.type``."""
    return type_name(exc)


def error_message(error: BaseException, config: Config) -> str | None:
    """The exception text when opted in (cut to 512 characters), else ``None``."""
    if not config.capture_error_messages:
        return None
    text = str(error)
    return text if len(text) <= _MAX_ERROR_MESSAGE else text[:_MAX_ERROR_MESSAGE] + "..."


def _frames(error: BaseException) -> str:
    """The traceback's frames (file, line, code) and the type: no exception text."""
    return "Traceback (most recent call last):\n" + "".join(traceback.format_tb(error.__traceback__)) + error_type(error)


def record_error(span: Span, error: BaseException, config: Config) -> str:
    """Mark ``span`` failed by ``error`` (status, ``error.type``, an ``exception`` event).

    The event follows the OpenTelemetry exception conventions, but ``exception.message`` is
    there only when opted in, and ``exception.stacktrace`` then is the full formatted
    exception; by default it lists the frames only. Returns the error type.
    """
    kind = error_type(error)
    message = error_message(error, config)
    attributes: dict[str, Any] = {"exception.type": kind}
    if message is None:
        attributes["exception.stacktrace"] = _frames(error)
    else:
        attributes["exception.message"] = message
        attributes["exception.stacktrace"] = "".join(traceback.format_exception(error))
    span.set_attribute("error.type", kind)
    span.add_event("exception", attributes)
    span.set_status(Status(StatusCode.ERROR, message if message is not None else kind))
    return kind


def describe_exception(exc: BaseException, config: Config) -> str:
    """An exception for modeltel's own log lines: type and frames, the text only when opted in."""
    if config.capture_error_messages:
        return "".join(traceback.format_exception(exc)).rstrip()
    return _frames(exc)
