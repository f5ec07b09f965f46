"""The one-hop SQLite driver (storage/sqlite_driver.py) and its fallback to SQLAlchemy's own."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from storage import create_engine, sqlite_driver


async def _round_trip(url: str) -> list[tuple[int, str]]:
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE t (n INTEGER PRIMARY KEY, s TEXT)"))
            inserted = await connection.execute(
                text("INSERT INTO t (s) VALUES (:s)"), [{"s": "a"}, {"s": "b"}]
            )
            assert inserted.rowcount == 2
            one = await connection.execute(text("INSERT INTO t (s) VALUES ('c') RETURNING n"))
            assert one.scalar_one() == 3
        async with engine.connect() as connection:
            rows = await connection.execute(text("SELECT n, s FROM t ORDER BY n"))
            return [(row.n, row.s) for row in rows]
    finally:
        await engine.dispose()


async def test_the_one_hop_driver_reads_writes_and_counts(tmp_path: Path) -> None:
    assert sqlite_driver.dbapi() is not None  # the installed SQLAlchemy fits it
    rows = await _round_trip(f"sqlite+aiosqlite:///{tmp_path / 'one.sqlite3'}")
    assert rows == [(1, "a"), (2, "b"), (3, "c")]


async def test_without_what_it_relies_on_the_engine_keeps_sqlalchemys_driver(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_driver, "await_", None)  # as on an SQLAlchemy without it
    assert sqlite_driver.dbapi() is None
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'x.sqlite3'}")
    assert not isinstance(engine.sync_engine.dialect.dbapi, sqlite_driver.OneHopDBAPI)
    await engine.dispose()
    rows = await _round_trip(f"sqlite+aiosqlite:///{tmp_path / 'two.sqlite3'}")
    assert rows == [(1, "a"), (2, "b"), (3, "c")]


def _driver_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the calls sent to aiosqlite's connection threads from now on."""
    calls: list[str] = []
    original = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(getattr(fn, "__name__", repr(fn)))
        return await original(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    return calls


async def test_a_transaction_begins_immediately_with_its_first_statement_in_one_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'begin.sqlite3'}")
    try:
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE t (n INTEGER PRIMARY KEY)"))
        calls = _driver_calls(monkeypatch)
        async with engine.begin() as connection:
            await connection.execute(text("INSERT INTO t (n) VALUES (1)"))
            # The write lock was taken up front (BEGIN IMMEDIATE), not at the first write:
            raw = await connection.get_raw_connection()
            assert raw.driver_connection is not None
            in_transaction = await raw.driver_connection._execute(
                lambda: raw.driver_connection._conn.in_transaction  # type: ignore[union-attr]
            )
            assert in_transaction
        # BEGIN IMMEDIATE and the INSERT in one call; the commit; no rollback when the pool
        # takes the connection back (the transaction was ended: there is nothing to roll back)
        assert calls == ["_run", "<lambda>", "commit"]
        async with engine.connect() as connection:
            assert (await connection.execute(text("SELECT count(*) FROM t"))).scalar_one() == 1
    finally:
        await engine.dispose()


async def test_the_deferred_begin_takes_the_write_lock_before_the_first_read(
    tmp_path: Path,
) -> None:
    """A transaction that reads first still holds the write lock from its start: a second
    writer cannot slip in between its read and its write (what BEGIN IMMEDIATE is for)."""
    path = tmp_path / "lock.sqlite3"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    try:
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE t (n INTEGER)"))
        async with engine.begin() as connection:
            await connection.execute(text("SELECT count(*) FROM t"))  # a read, first
            other = sqlite3.connect(path, timeout=0)
            try:
                with pytest.raises(sqlite3.OperationalError, match="locked"):
                    other.execute("BEGIN IMMEDIATE")
            finally:
                other.close()
    finally:
        await engine.dispose()


async def test_a_begin_that_fails_is_tried_again_and_a_rollback_after_it_ends_cleanly(
    tmp_path: Path,
) -> None:
    path = tmp_path / "busy.sqlite3"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    try:
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE t (n INTEGER)"))
        holder = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            async with engine.connect() as connection:
                await connection.exec_driver_sql("PRAGMA busy_timeout=0")  # no 30 s wait
                await connection.commit()
                holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock
                with pytest.raises(OperationalError, match="locked"):
                    async with connection.begin():
                        await connection.execute(text("INSERT INTO t VALUES (1)"))
        finally:
            holder.rollback()
            holder.close()
        async with engine.begin() as connection:  # the pooled connection works again
            await connection.execute(text("INSERT INTO t VALUES (2)"))
        async with engine.connect() as connection:
            rows = (await connection.execute(text("SELECT n FROM t"))).scalars().all()
        assert rows == [2]
    finally:
        await engine.dispose()


async def test_a_rollback_is_skipped_only_when_nothing_was_begun_since_the_last_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pool's rollback of a connection coming back costs no call after a commit; but once
    a cursor was made (a statement sent, maybe still running after its caller was cancelled),
    the rollback goes to the connection's thread, after that statement, and ends what it
    began."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'end.sqlite3'}")
    try:
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE t (n INTEGER)"))
        calls = _driver_calls(monkeypatch)
        async with engine.connect() as connection:
            raw = await connection.get_raw_connection()
            adapted = raw.dbapi_connection
            assert isinstance(adapted, sqlite_driver.OneHopConnection)
            await connection.run_sync(lambda _: adapted.rollback())  # just ended: no call
            assert calls == []
            await connection.run_sync(lambda _: adapted.cursor())  # a statement on its way
            await connection.run_sync(lambda _: adapted.rollback())
            assert calls == ["rollback"]
    finally:
        await engine.dispose()
