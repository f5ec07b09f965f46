"""SQLite writers take turns in this process (storage/db.py `WriteGate`), not in SQLite's busy
handler, whose growing sleeps kept a volunteer's press waiting up to 100 ms after a
coordinator's transaction had ended (issue 17)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError

from storage import create_engine, create_read_sessionmaker, create_sessionmaker


async def test_a_writer_waits_for_the_one_before_in_the_process_not_in_sqlite(
    tmp_path: Path,
) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'gate.sqlite3'}")
    began: list[str] = []
    checked_out = asyncio.Event()

    @event.listens_for(engine.sync_engine, "begin")  # after the engine's own: the gate
    def _begun(_conn: Any) -> None:
        task = asyncio.current_task()
        if task is not None:
            began.append(task.get_name())

    async def second() -> None:
        async with engine.connect() as connection:
            checked_out.set()
            async with connection.begin():
                await connection.execute(text("INSERT INTO t (n) VALUES (2)"))

    try:
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE t (n INTEGER)"))
        async with engine.begin() as connection:
            await connection.execute(text("INSERT INTO t (n) VALUES (1)"))
            writer = asyncio.create_task(second(), name="second")
            await checked_out.wait()  # it runs up to where it waits for the write lock
            # not in SQLite's busy handler (its transaction not begun): on the gate
            assert "second" not in began
        await writer  # the first committed: the second began and committed
        assert began[-1] == "second"
        async with engine.connect() as connection:
            rows = await connection.execute(text("SELECT n FROM t ORDER BY n"))
            assert [n for (n,) in rows] == [1, 2]
    finally:
        await engine.dispose()


async def test_a_transaction_ended_any_way_lets_the_next_writer_in(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'gate.sqlite3'}")
    try:
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE t (n INTEGER)"))
        try:  # rolled back by an error
            async with engine.begin() as connection:
                await connection.execute(text("INSERT INTO t (n) VALUES (1)"))
                raise RuntimeError("boom")
        except RuntimeError:
            pass
        connection = await engine.connect()  # left mid-transaction: the pool resets it
        await connection.begin()
        await connection.execute(text("INSERT INTO t (n) VALUES (2)"))
        await connection.close()
        async with engine.begin() as connection:  # would wait for ever on a gate left held
            await connection.execute(text("INSERT INTO t (n) VALUES (3)"))
            rows = await connection.execute(text("SELECT n FROM t"))
            assert [n for (n,) in rows] == [3]
    finally:
        await engine.dispose()


async def _read_while_writing(engine: Any, *, seen_after: int) -> None:
    reads = create_read_sessionmaker(engine)
    writes = create_sessionmaker(engine)
    async with engine.begin() as connection:
        await connection.execute(text("DROP TABLE IF EXISTS reads_t"))
        await connection.execute(text("CREATE TABLE reads_t (n INTEGER)"))
        await connection.execute(text("INSERT INTO reads_t (n) VALUES (1)"))
    async with reads() as reader, reader.begin():
        assert (await reader.scalar(text("SELECT count(*) FROM reads_t"))) == 1
        # a writer commits while the read-only transaction is open (it would wait for ever
        # behind a reader that held the write lock: same task)
        async with writes() as writer, writer.begin():
            await writer.execute(text("INSERT INTO reads_t (n) VALUES (2)"))
        # SQLite: its snapshot; PostgreSQL (read committed): what was committed
        assert (await reader.scalar(text("SELECT count(*) FROM reads_t"))) == seen_after
        with pytest.raises(DBAPIError):  # it can never write by mistake
            await reader.execute(text("INSERT INTO reads_t (n) VALUES (3)"))
    async with writes() as writer, writer.begin():  # the same connections write again
        await writer.execute(text("INSERT INTO reads_t (n) VALUES (4)"))
        rows = await writer.execute(text("SELECT n FROM reads_t ORDER BY n"))
        assert [n for (n,) in rows] == [1, 2, 4]


async def test_a_writer_commits_while_a_read_only_session_reads(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'reads.sqlite3'}")
    try:
        await _read_while_writing(engine, seen_after=1)
    finally:
        await engine.dispose()


async def test_a_read_only_session_on_postgresql_is_read_only(postgres_url: str) -> None:
    engine = create_engine(postgres_url)
    try:
        await _read_while_writing(engine, seen_after=2)
        async with engine.begin() as connection:
            await connection.execute(text("DROP TABLE reads_t"))
    finally:
        await engine.dispose()
