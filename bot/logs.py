"""Logging set-up: one line per event, with every structured field the code passed.

Fields come from ``extra=`` (``job_id``, ``job_kind``, ``attempt``, ``http_status``,
``retry_after``, ...) and from the log context: the turn being handled sets its activity id once
(:func:`set_activity`), and :class:`ContextFilter` adds it to every record logged while that turn
runs, in whatever module logs it.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

# Shown first, in this order, when present; any other field follows in the order it was given.
FIRST = ("activity_id", "job_id", "job_kind", "attempt", "network", "conversation")

# What every LogRecord has, so not a field of ours.
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "taskName",
}

_NONE: Mapping[str, Any] = MappingProxyType({})
_context: ContextVar[Mapping[str, Any]] = ContextVar("tapaamo_log_context", default=_NONE)


def set_activity(activity_id: str | None) -> None:
    """Mark what the current task logs from now on with ``activity_id`` (a turn's task)."""
    _context.set({**_context.get(), "activity_id": activity_id})


@contextlib.contextmanager
def context(**fields: Any) -> Iterator[None]:
    """Add ``fields`` to every record logged inside the block (in this task and those it starts)."""
    token = _context.set({**_context.get(), **fields})
    try:
        yield
    finally:
        _context.reset(token)


class ContextFilter(logging.Filter):
    """Adds the log context's fields to a record that does not carry them already."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in _context.get().items():
            if value is not None and getattr(record, name, None) is None:
                setattr(record, name, value)
        return True


def fields(record: logging.LogRecord) -> dict[str, Any]:
    """The record's structured fields (everything beyond what a LogRecord always has)."""
    found = {
        name: value
        for name, value in record.__dict__.items()
        if name not in _STANDARD and not name.startswith("_") and value is not None
    }
    ordered = {name: found.pop(name) for name in FIRST if name in found}
    return ordered | found


class ContextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = " ".join(f"{name}={value}" for name, value in fields(record).items())
        if not extras:
            return line
        # The fields belong to the message line, before any traceback.
        head, newline, rest = line.partition("\n")
        return f"{head} [{extras}]{newline}{rest}"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "at": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({name: value for name, value in fields(record).items() if name not in entry})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure(level: str = "INFO", as_json: bool = False) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(
        JsonFormatter() if as_json else ContextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("aiohttp.access", "apscheduler", "alembic", "msal", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
