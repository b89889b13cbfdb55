"""Logging for Assay's entry points, and the context fields every log line carries.

Libraries only ever ``logging.getLogger(__name__)``; the entry points (the CLI,
``assay serve``, ``assay worker``) call ``configure_logging`` once. Context such
as the HTTP request id or the job being run is bound with ``log_context`` (a
context variable, so concurrent requests and worker threads keep their own) and
lands in every record logged inside it: as ``key=value`` pairs on the console,
as fields of the JSON object with ``log_format=json``.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, TextIO

from assay.errors import ConfigError

FORMATS = ("console", "json")
_context: ContextVar[dict[str, Any] | None] = ContextVar("assay_log_context", default=None)

# Attributes every LogRecord has; anything else on a record came from ``extra=``
# (except uvicorn's ``color_message``, the same message with terminal colours).
_STANDARD = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__.keys()
    | {"message", "asctime", "taskName", "color_message"}
)


def current_context() -> dict[str, Any]:
    return dict(_context.get() or {})


@contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Add ``fields`` (request_id, job_id, run_id, ...) to the records logged inside."""
    token = _context.set({**(_context.get() or {}), **fields})
    try:
        yield
    finally:
        _context.reset(token)


def record_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The context and ``extra=`` fields of a record."""
    fields = current_context()
    fields.update(
        (key, value)
        for key, value in record.__dict__.items()
        if key not in _STANDARD and not key.startswith("_")
    )
    return fields


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, then the fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(record_fields(record))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class ConsoleFormatter(logging.Formatter):
    """``time level logger: message key=value ...`` for people reading a terminal."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = record_fields(record)
        if not fields:
            return line
        pairs = " ".join(f"{key}={value}" for key, value in fields.items())
        head, newline, rest = line.partition("\n")  # keep tracebacks below the fields
        return f"{head} {pairs}{newline}{rest}"


def configure_logging(
    log_format: str = "console", level: str | int = "INFO", stream: TextIO | None = None
) -> None:
    """Send the root logger's records to ``stream`` (stderr) in ``log_format``.

    Replaces handlers an earlier call installed, so it may be called again (tests,
    ``--verbose`` after the settings were read).
    """
    if log_format not in FORMATS:
        raise ConfigError(f"log_format must be one of {', '.join(FORMATS)}, not {log_format!r}")
    numeric = logging.getLevelName(level.upper()) if isinstance(level, str) else level
    if not isinstance(numeric, int):
        raise ConfigError(f"unknown log level {level!r}")
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else ConsoleFormatter())
    handler.set_name("assay")
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "assay"]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(numeric)
    # uvicorn's own handlers would print every line twice; let them propagate to ours.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
