"""Logging for operators: text or JSON lines on stderr, no bot token in any line, quiet libraries.

The token is part of every Bot API URL (`…/bot123456:SECRET/getUpdates`), and HTTP clients log
URLs (httpx at INFO under python-telegram-bot), as do error messages and tracebacks. So a filter
on every root handler masks, in the message, the traceback and the stack, the configured secrets
and anything shaped like a bot token — at every level, whatever logger the line comes from.

`LOG_FORMAT=json` writes one JSON object a line: `time` (ISO 8601, UTC), `level`, `logger`,
`message`, the record's extra fields (`update_id`, `kind`, `duration_ms`, `outcome` for the line
the dispatcher writes per update) and `traceback` when there is one.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Literal, TextIO

MASK = "***"
# A bot token anywhere (digits, a colon, 30+ URL-safe characters), the colon maybe URL-encoded.
TOKEN_SHAPE = re.compile(r"(?<![A-Za-z0-9_-])(\d{3,20})(:|%3A|%3a)[A-Za-z0-9_-]{30,64}")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Libraries that log each request, update or job at INFO: warnings only, unless LOG_LEVEL=DEBUG.
CHATTY_LOGGERS = (
    "httpx",
    "httpcore",
    "aiohttp.access",
    "aiogram.event",
    "aiogram.dispatcher",
    "apscheduler",
    "telegram.ext",
    "alembic",
)
_RECORD_FIELDS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class Redactor(logging.Filter):
    """Masks secrets in a record before any handler formats it; never drops a record."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        wanted: set[str] = set()
        for secret in secrets:
            # A token's secret half: masks the whole token (keeping the public bot id, which
            # tells operators which bot), URL-encoded forms, and the half quoted alone.
            _, colon, after = secret.partition(":")
            if secret:
                wanted.add(after if colon and after else secret)
        self.secrets = sorted(wanted, key=len, reverse=True)
        self._formatter = logging.Formatter()

    def mask(self, text: str) -> str:
        """`text` with every secret and token-shaped string replaced by `***`."""
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        return TOKEN_SHAPE.sub(lambda m: f"{m[1]}{m[2]}{MASK}", text)

    def filter(self, record: logging.LogRecord) -> bool:
        """Renders the message, traceback and stack once, masked (the record is shared)."""
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return True  # the handler reports the broken format; nothing was rendered
        masked = self.mask(message)
        if masked != message or record.args:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.mask(record.exc_text)
        if record.stack_info:
            record.stack_info = self.mask(record.stack_info)
        for name, value in vars(record).items():
            if name not in _RECORD_FIELDS and isinstance(value, str):
                setattr(record, name, self.mask(value))
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line (see the module's docstring for the fields)."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name, value in vars(record).items():
            if name not in _RECORD_FIELDS and not name.startswith("_"):
                entry[name] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["traceback"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure(
    level: str = "INFO",
    fmt: Literal["text", "json"] = "text",
    *,
    secrets: Iterable[str] = (),
    stream: TextIO | None = None,
) -> logging.Handler:
    """Sets up the root logger: one stderr handler (or `stream`) with the redactor; chatty
    libraries at WARNING unless `level` is DEBUG. Replaces handlers set up before. Returns the
    handler (tests read it)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    handler.addFilter(Redactor(secrets))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(level)
    for name in CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG if level == "DEBUG" else logging.WARNING)
    return handler
