"""storage/direct.py: a statement run as its compiled text in the session's transaction."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import bindparam, func, select
from sqlalchemy.exc import IntegrityError, PendingRollbackError

from bot.app import Storage
from storage import direct, inbox
from storage.models import InboxUpdate
from tests.handlers.test_rsvp_cost import any_storage

__all__ = ["any_storage"]  # the fixture (SQLite, and PostgreSQL when configured)

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
COUNT = select(func.count()).select_from(InboxUpdate).where(InboxUpdate.user_id == bindparam("u"))


async def test_a_direct_statement_is_part_of_the_session_s_transaction(
    any_storage: Storage,
) -> None:
    """What a direct statement reads includes the transaction's own writes, and is undone with
    it: it runs on the transaction's connection, never beside it."""
    async with any_storage.sessionmaker() as session:
        await session.begin()
        await inbox.add(session, 1, 5, {"update_id": 1}, NOW)
        assert await direct.first(session, COUNT, {"u": 5}) == (1,)
        await session.rollback()
        await session.begin()
        assert await direct.first(session, COUNT, {"u": 5}) == (0,)
        await session.rollback()


async def test_a_direct_statement_flushes_what_the_session_holds_first(
    any_storage: Storage,
) -> None:
    """As `AsyncSession.execute` autoflushes: an object added and not flushed is seen."""
    async with any_storage.sessionmaker() as session, session.begin():
        session.add(InboxUpdate(update_id=2, user_id=6, payload={}, received_at=NOW))
        assert await direct.first(session, COUNT, {"u": 6}) == (1,)


async def test_direct_refuses_a_transaction_a_failed_flush_rolled_back(
    any_storage: Storage,
) -> None:
    """A cold review's finding: the connection kept for the transaction took statements after
    a failed flush had rolled it back, beginning another transaction outside the session's."""
    async with any_storage.sessionmaker() as session:
        await session.begin()
        await inbox.add(session, 1, 5, {"update_id": 1}, NOW)
        await direct.execute(session, COUNT, {"u": 5})  # the connection is kept
        session.add(InboxUpdate(update_id=1, user_id=5, payload={}, received_at=NOW))
        with pytest.raises(IntegrityError):
            await session.flush()
        with pytest.raises(PendingRollbackError):
            await direct.execute(session, COUNT, {"u": 5})
        await session.rollback()


def test_a_statement_whose_text_depends_on_its_parameters_is_refused(any_storage: Storage) -> None:
    """An expanding IN has no one text to keep."""
    listed = select(InboxUpdate.update_id).where(
        InboxUpdate.user_id.in_(bindparam("u", expanding=True))
    )
    with pytest.raises(ValueError, match="post-compile"):
        direct.compiled(listed, any_storage.engine.dialect)
