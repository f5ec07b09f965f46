"""Several workers: who may run beside whom.

SQLite is the embedded database of one process: a second `chorus run` on the same file would
share neither the per-person locks, the rate limit nor the delivery pace, and would fight for
the write lock. Each worker on SQLite therefore holds `<database>.worker` exclusively, and a
second one stops with one line saying to use PostgreSQL. On PostgreSQL any number of workers
run: updates, timers and outbox rows are claimed row by row, and what must run once has one
leader (bot/workers.py, `Leadership`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import IO

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.config import ConfigError, sqlite_path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no check
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)


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


LEADER_LOCK = 0x43484F5255530001  # the pg advisory lock key: "CHORUS" and 1 (a bigint)
TRY_EVERY = 5.0  # seconds between a follower's attempts (and the leader's connection checks)

OnChange = Callable[[], Awaitable[None]]


class Leadership:
    """One leader among the workers of a PostgreSQL database, for what must run once (the
    timer scheduler, hence the retention sweep and reminders).

    The leader holds `pg_try_advisory_lock(LEADER_LOCK)` on a connection of its own: PostgreSQL
    releases it when that connection ends, so a killed worker's lock is gone as soon as its
    socket closes. Followers try every TRY_EVERY seconds (a takeover within that, well inside
    15 s); the leader checks its connection as often and stands down if it is lost. Timers are
    still claimed row by row (storage/timers.py), so even two leaders for a moment fire each
    timer once. On SQLite (one worker) the only worker leads, at once.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        on_elected: OnChange,
        on_deposed: OnChange,
        *,
        try_every: float = TRY_EVERY,
    ) -> None:
        self.engine = engine
        self.on_elected = on_elected
        self.on_deposed = on_deposed
        self.try_every = try_every
        self.leader = False
        self.elected = asyncio.Event()  # set while this worker leads (tests)
        self._task: asyncio.Task[None] | None = None
        self._connection: AsyncConnection | None = None

    @property
    def shared(self) -> bool:
        """Whether several workers may share the database (PostgreSQL)."""
        return self.engine.dialect.name == "postgresql"

    async def start(self) -> None:
        """Leads at once on SQLite; on PostgreSQL tries now, then keeps trying in the
        background."""
        if not self.shared:
            await self._elected()
            return
        await self._attempt()
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.try_every)
            try:
                await self._attempt()
            except Exception:
                log.exception("the leader election failed; trying again")

    async def _attempt(self) -> None:
        if self.leader:
            try:
                assert self._connection is not None
                await self._connection.execute(text("SELECT 1"))
                return
            except Exception:
                log.warning("the leader lost its database connection: standing down")
                await self._drop_connection()
                self.leader = False
                self.elected.clear()
                await self.on_deposed()
        try:
            if self._connection is None:
                self._connection = await self.engine.connect()
            got = await self._connection.scalar(
                text("SELECT pg_try_advisory_lock(:key)"), {"key": LEADER_LOCK}
            )
            await self._connection.commit()  # the session lock outlives the transaction
        except Exception:
            await self._drop_connection()
            raise
        if got:
            await self._elected()

    async def _elected(self) -> None:
        log.info("this worker leads: it runs the timers")
        self.leader = True
        self.elected.set()
        await self.on_elected()

    async def _drop_connection(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.invalidate()
                await connection.close()

    async def stop(self) -> None:
        """Stops trying, and lets another worker lead (closing the lock's connection)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._connection is not None:
            with contextlib.suppress(Exception):
                await self._connection.execute(
                    text("SELECT pg_advisory_unlock(:key)"), {"key": LEADER_LOCK}
                )
            with contextlib.suppress(Exception):
                await self._connection.close()
            self._connection = None
        self.leader = False
        self.elected.clear()
