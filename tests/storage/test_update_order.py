"""Several workers on PostgreSQL: `updates.take` hands a person's update over until their
earlier one (another worker's, not committed) is done (issue 17)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.app import Storage
from handlers.kernel.dispatch import ORDER_WAIT
from storage import inbox, updates
from storage.models import InboxUpdate

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
NINA, OMAR = 501, 502


@pytest.fixture
def pg(pg_storage: Storage) -> Storage:
    """PostgreSQL at head (tests/conftest.py)."""
    return pg_storage


async def _received(storage: Storage, *rows: tuple[int, int, datetime]) -> None:
    async with storage.sessionmaker() as session, session.begin():
        for update_id, user_id, at in rows:
            await inbox.add(session, update_id, user_id, {"update_id": update_id}, at)


async def _take(storage: Storage, update_id: int, person: int) -> updates.Taken:
    """As the dispatcher takes an update: committed, but rolled back when it must wait."""
    async with storage.sessionmaker() as session, session.begin():
        taken = await updates.take(
            session, update_id, NOW, person=person, received_after=NOW - ORDER_WAIT
        )
        if taken is updates.Taken.AFTER_EARLIER:
            await session.rollback()
        return taken


async def test_a_later_update_waits_for_the_earlier_one_another_worker_holds(
    pg: Storage,
) -> None:
    await _received(pg, (1, NINA, NOW), (2, NINA, NOW), (3, OMAR, NOW))
    async with pg.sessionmaker() as first, first.begin():  # worker A handles update 1
        taken = await updates.take(first, 1, NOW, person=NINA, received_after=NOW - ORDER_WAIT)
        assert taken is updates.Taken.CLAIMED
        assert await _take(pg, 2, NINA) is updates.Taken.AFTER_EARLIER  # worker B: later
        assert await _take(pg, 3, OMAR) is updates.Taken.CLAIMED  # someone else: at once
    assert await _take(pg, 2, NINA) is updates.Taken.CLAIMED  # A committed: B's turn
    assert await _take(pg, 2, NINA) is updates.Taken.DUPLICATE
    async with pg.sessionmaker() as session:
        assert (await session.scalars(select(InboxUpdate.update_id))).all() == []


async def test_an_earlier_update_a_dead_worker_left_is_not_waited_for(pg: Storage) -> None:
    old = NOW - ORDER_WAIT - timedelta(seconds=1)
    await _received(pg, (1, NINA, old), (2, NINA, NOW))
    assert await _take(pg, 2, NINA) is updates.Taken.CLAIMED
    async with pg.sessionmaker() as session:
        assert (await session.scalars(select(InboxUpdate.update_id))).all() == [1]


async def test_a_duplicate_is_told_and_its_row_removed_whatever_waits_before_it(
    pg: Storage,
) -> None:
    await _received(pg, (2, NINA, NOW))
    assert await _take(pg, 2, NINA) is updates.Taken.CLAIMED
    await _received(pg, (1, NINA, NOW), (2, NINA, NOW))  # 2 again (a redelivery), 1 late
    assert await _take(pg, 2, NINA) is updates.Taken.DUPLICATE
    async with pg.sessionmaker() as session:
        assert (await session.scalars(select(InboxUpdate.update_id))).all() == [1]


async def test_a_chunk_is_taken_in_one_statement_as_its_updates_would_be_alone(
    pg: Storage,
) -> None:
    """`take_chunk` (a batch's chunk, issue 17): the person's earlier update of the chunk is
    not another worker's; one outside it, not committed, is; a copy handled before is told."""
    ada = 503
    await _received(pg, (1, NINA, NOW), (2, NINA, NOW), (3, OMAR, NOW), (4, OMAR, NOW))
    await _received(pg, (5, ada, NOW))
    assert await _take(pg, 5, ada) is updates.Taken.CLAIMED  # handled before
    await _received(pg, (5, ada, NOW))  # and received again
    async with pg.sessionmaker() as first, first.begin():  # worker A handles Nina's 1
        taken = await updates.take(first, 1, NOW, person=NINA, received_after=NOW - ORDER_WAIT)
        assert taken is updates.Taken.CLAIMED
        async with pg.sessionmaker() as second, second.begin():  # worker B's chunk
            chunk = [(2, NINA), (3, OMAR), (4, OMAR), (5, ada)]
            found = await updates.take_chunk(second, chunk, NOW, NOW - ORDER_WAIT)
            assert found == {
                2: updates.Taken.AFTER_EARLIER,  # after A's 1, not committed
                3: updates.Taken.CLAIMED,
                4: updates.Taken.CLAIMED,  # Omar's 3 is in the chunk: not waited for
                5: updates.Taken.DUPLICATE,
            }
            await second.rollback()  # the dispatcher hands the chunk over alone
    async with pg.sessionmaker() as session, session.begin():
        found = await updates.take_chunk(session, [(2, NINA), (3, OMAR)], NOW, NOW - ORDER_WAIT)
        assert found == {2: updates.Taken.CLAIMED, 3: updates.Taken.CLAIMED}  # A committed
    async with pg.sessionmaker() as session:
        assert sorted((await session.scalars(select(InboxUpdate.update_id))).all()) == [4, 5]
