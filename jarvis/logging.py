"""structlog set-up: JSON lines when not on a TTY, secrets always redacted."""

from __future__ import annotations

import logging
import sys
from typing import Literal, TextIO

import structlog

from jarvis.redaction import redact_event

LogFormat = Literal["auto", "json", "console"]


def _drop_exception_locals(
    _logger: object, _method: str, event_dict: structlog.typing.EventDict
) -> structlog.typing.EventDict:
    """Render exceptions as type and message only, so frame locals never reach a log."""
    exc_info = event_dict.pop("exc_info", None)
    if exc_info:
        if exc_info is True:
            exc_info = sys.exc_info()
        if isinstance(exc_info, BaseException):
            event_dict["error"] = f"{type(exc_info).__name__}: {exc_info}"
        elif isinstance(exc_info, tuple) and exc_info[1] is not None:
            event_dict["error"] = f"{type(exc_info[1]).__name__}: {exc_info[1]}"
    return event_dict


def configure_logging(level: str = "info", log_format: LogFormat = "auto", stream: TextIO | None = None) -> None:
    """Configure structlog for the process.

    Log lines go to ``stream``, or else to whatever ``sys.stderr`` is at the time of each line.
    """
    fixed_stream = stream

    def make_logger(*_args: object) -> structlog.PrintLogger:
        return structlog.PrintLogger(file=fixed_stream or sys.stderr)

    stream = stream or sys.stderr
    use_json = log_format == "json" or (log_format == "auto" and not stream.isatty())
    renderer: structlog.typing.Processor
    if use_json:
        renderer = structlog.processors.JSONRenderer(sort_keys=False)
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=stream.isatty())
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _drop_exception_locals,
            redact_event,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelNamesMapping()[level.upper()]),
        logger_factory=make_logger,
        cache_logger_on_first_use=False,
    )
