"""PostgreSQL connections are pinged before use only after resting (storage.db.ping_when_idle):
a ping is three round trips on asyncpg, which `pool_pre_ping` paid before every transaction;
a connection that rested and was closed by the server meanwhile is still replaced unseen."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from storage import db

pytestmark = pytest.mark.skipif(
    not os.environ.get("CHORUS_TEST_POSTGRES_URL"),
    reason="CHORUS_TEST_POSTGRES_URL is not set: PostgreSQL tests skipped",
)


class Clock:
    """`db.idle_clock`, moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def engine(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[AsyncEngine, Clock]]:
    clock = Clock()
    monkeypatch.setattr(db, "idle_clock", clock)
    engine = db.create_engine(os.environ["CHORUS_TEST_POSTGRES_URL"])
    yield engine, clock
    await engine.dispose()


def _counting_pings(engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    pings: list[int] = []
    dialect = engine.sync_engine.dialect
    ping = dialect.do_ping

    def counted(dbapi_connection: Any) -> bool:
        pings.append(1)
        return ping(dbapi_connection)

    monkeypatch.setattr(dialect, "do_ping", counted)
    return pings


async def _backend(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        return int((await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def test_a_connection_used_a_moment_ago_is_not_pinged(
    engine: tuple[AsyncEngine, Clock], monkeypatch: pytest.MonkeyPatch
) -> None:
    used, clock = engine
    pings = _counting_pings(used, monkeypatch)
    first = await _backend(used)
    for _ in range(5):
        clock.now += db.PING_AFTER_IDLE / 2
        assert await _backend(used) == first  # the same connection, taken again
    assert pings == []


async def test_a_rested_connection_the_server_closed_is_replaced_unseen(
    engine: tuple[AsyncEngine, Clock], monkeypatch: pytest.MonkeyPatch
) -> None:
    used, clock = engine
    pings = _counting_pings(used, monkeypatch)
    first = await _backend(used)
    other = db.create_engine(os.environ["CHORUS_TEST_POSTGRES_URL"])
    try:
        async with other.connect() as connection:  # a server restart, an idle timeout…
            await connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
    finally:
        await other.dispose()
    clock.now += db.PING_AFTER_IDLE
    assert await _backend(used) != first  # pinged, found closed, replaced: no error
    assert pings == [1]


async def test_an_update_whose_connection_the_server_just_closed_is_handled_all_the_same(
    services: Any, storage: Any
) -> None:
    """A connection used a moment ago goes unpinged: if the server closed it meanwhile (a
    restart, a failover), the update's first statement fails; the dispatcher tries once more
    on another connection (SQLAlchemy invalidated the pool) instead of apologising."""
    from bot.app import open_storage
    from tests.handlers.test_batch import PEOPLE, _people, _received, _statuses
    from tests.handlers.test_rsvp_cost import _press, _setup

    url = os.environ["CHORUS_TEST_POSTGRES_URL"]
    reset = db.create_engine(url)
    async with reset.begin() as connection:
        await connection.execute(text("DROP SCHEMA public CASCADE"))
        await connection.execute(text("CREATE SCHEMA public"))
    opened = await open_storage(url)
    try:
        services.sessionmaker = opened.sessionmaker
        dispatcher, action_id = await _setup(opened, services, 0)
        calls = await _people(opened, services)
        me = PEOPLE[0]
        press = _press(me, action_id, 4242, message_id=calls[me])
        await _received(opened, services, [press])
        async with reset.connect() as connection:  # every connection of the bot's pool
            await connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
        await dispatcher.feed(press)
        assert (await _statuses(opened, action_id))[me] == "going"
        answers = [text for callback_id, text, _ in services.messenger.answers]
        assert answers and "wrong" not in str(answers[-1]).lower()
    finally:
        await opened.engine.dispose()
        async with reset.begin() as connection:
            await connection.execute(text("DROP SCHEMA public CASCADE"))
            await connection.execute(text("CREATE SCHEMA public"))
        await reset.dispose()
