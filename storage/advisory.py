"""Work one worker at a time may do, whichever worker it is (PostgreSQL advisory locks).

A lock is taken in a transaction of its own and held until the block ends; PostgreSQL frees it
when the connection goes, so the lock of a worker that died is free at once. SQLite has one
worker: nothing to take there (its callers keep a lock of their own in the process).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

REPORT_START = 0x43525054  # "CRPT": posting a broadcast's progress message (key: its id)


@asynccontextmanager
async def held(
    sessionmaker: async_sessionmaker[AsyncSession], space: int, key: int, *, wait: bool
) -> AsyncIterator[bool]:
    """Holds the lock (`space`, `key`) for the block; with `wait` False, yields False at once
    when another worker holds it (and True otherwise, as always on SQLite)."""
    async with sessionmaker() as session:
        if session.bind is None or session.bind.dialect.name != "postgresql":
            yield True
            return
        async with session.begin():
            if wait:
                await session.execute(select(func.pg_advisory_xact_lock(space, key)))
                yield True
            else:
                got = await session.scalar(select(func.pg_try_advisory_xact_lock(space, key)))
                yield bool(got)
