"""`storage.db.id_rows`: a batch's id pairs as a statement built once per dialect, the pairs
bound as parameters (PostgreSQL: two BIGINT arrays; SQLite: a JSON array)."""

from __future__ import annotations

from sqlalchemy import select

from bot.app import Storage
from storage.db import id_rows, id_rows_values
from tests.handlers.test_rsvp_cost import any_storage

__all__ = ["any_storage"]  # the fixture, imported for these tests

NAMES = ("user_id", "chat_id")


async def test_the_pairs_come_back_as_given_whatever_their_size(any_storage: Storage) -> None:
    """The extremes Telegram uses: a supergroup's -100… id, the largest id a BIGINT holds."""
    pairs = [(1, 1), (2**63 - 1, -1001234567890123), (42, -(2**63)), (7, 7), (1, 1)]
    dialect = any_storage.engine.dialect.name
    rows = id_rows(NAMES, dialect).subquery("rows")
    async with any_storage.sessionmaker() as session:
        found = await session.execute(
            select(rows.c.user_id, rows.c.chat_id), id_rows_values(NAMES, dialect, pairs)
        )
        assert sorted((int(a), int(b)) for a, b in found) == sorted(pairs)
    assert id_rows(NAMES, dialect) is id_rows(NAMES, dialect)  # built once


async def test_one_pair(any_storage: Storage) -> None:
    dialect = any_storage.engine.dialect.name
    async with any_storage.sessionmaker() as session:
        found = await session.execute(
            id_rows(NAMES, dialect), id_rows_values(NAMES, dialect, [(5, -5)])
        )
        assert [tuple(row) for row in found] == [(5, -5)]
