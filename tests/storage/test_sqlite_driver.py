"""The one-hop SQLite driver (storage/sqlite_driver.py) and its fallback to SQLAlchemy's own."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

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
