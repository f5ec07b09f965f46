"""Several workers: who may run beside whom.

SQLite is the embedded database of one process: a second `chorus run` on the same file would
share neither the per-person locks, the rate limit nor the delivery pace, and would fight for
the write lock. Each worker on SQLite therefore holds `<database>.worker` exclusively, and a
second one stops with one line saying to use PostgreSQL. On PostgreSQL any number of workers
run: updates, timers and outbox rows are claimed row by row, and what must run once has one
leader (bot/workers.py, `Leadership`).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import IO

from bot.config import ConfigError, sqlite_path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no check
    fcntl = None  # type: ignore[assignment]


class WorkerLock:
    """The exclusive lock of the one worker on an SQLite database (nothing on PostgreSQL)."""

    def __init__(self, file: IO[str] | None) -> None:
        self._file = file

    def release(self) -> None:
        """Lets another worker start (this one has stopped)."""
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.truncate(0)
            self._file.close()
            self._file = None


def hold_only_worker(database_url: str) -> WorkerLock:
    """Marks this process as the worker of its SQLite database, or raises ConfigError (one
    line) when another worker runs on it. Nothing to hold on PostgreSQL."""
    path = sqlite_path(database_url)
    if path is None or fcntl is None:
        return WorkerLock(None)
    lock_path = Path(f"{path}.worker")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    file = lock_path.open("a+")
    try:
        fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        file.seek(0)
        holder = file.read().strip() or "another process"
        file.close()
        raise ConfigError(
            f"DATABASE_URL: a Chorus worker ({holder}) already runs on {path.name}; SQLite"
            " allows one worker: several need PostgreSQL (DATABASE_URL=postgresql+asyncpg://…)"
        ) from None
    file.truncate(0)
    file.write(f"process {os.getpid()}\n")
    file.flush()
    return WorkerLock(file)
