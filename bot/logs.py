"""Logging set-up: one line per event, with the activity, job and network ids when known."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

FIELDS = ("activity_id", "job_id", "kind", "network", "conversation", "key", "type")


class ContextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = [
            f"{name}={getattr(record, name)}" for name in FIELDS if getattr(record, name, None) is not None
        ]
        return f"{line} [{' '.join(extras)}]" if extras else line


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "at": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(
            {name: getattr(record, name) for name in FIELDS if getattr(record, name, None) is not None}
        )
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure(level: str = "INFO", as_json: bool = False) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(
        JsonFormatter() if as_json else ContextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("aiohttp.access", "apscheduler", "alembic", "msal", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
