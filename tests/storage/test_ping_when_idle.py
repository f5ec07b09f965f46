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


@pytest.fixture
async def fresh() -> AsyncIterator[Any]:
    """Chorus's storage on a PostgreSQL schema of its own (dropped after)."""
    from bot.app import open_storage

    url = os.environ["CHORUS_TEST_POSTGRES_URL"]

    async def drop() -> None:  # on an engine of its own: the test closes the others'
        reset = db.create_engine(url)
        try:
            async with reset.begin() as connection:
                await connection.execute(text("DROP SCHEMA public CASCADE"))
                await connection.execute(text("CREATE SCHEMA public"))
        finally:
            await reset.dispose()

    await drop()
    opened = await open_storage(url)
    try:
        yield opened
    finally:
        await opened.engine.dispose()
        await drop()


async def _server_restarted() -> None:
    """Every other connection to the database closed by the server (a restart, a failover)."""
    other = db.create_engine(os.environ["CHORUS_TEST_POSTGRES_URL"])
    try:
        async with other.connect() as connection:
            await connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
    finally:
        await other.dispose()


async def test_an_update_whose_connection_the_server_just_closed_is_handled_all_the_same(
    services: Any, fresh: Any
) -> None:
    """A connection used a moment ago goes unpinged: if the server closed it meanwhile (a
    restart, a failover), the update's first statement fails; the dispatcher tries once more
    on another connection (SQLAlchemy invalidated the pool) instead of apologising."""
    from tests.handlers.test_batch import PEOPLE, _people, _received, _statuses
    from tests.handlers.test_rsvp_cost import _press, _setup

    services.sessionmaker = fresh.sessionmaker
    dispatcher, action_id = await _setup(fresh, services, 0)
    calls = await _people(fresh, services)
    me = PEOPLE[0]
    press = _press(me, action_id, 4242, message_id=calls[me])
    await _received(fresh, services, [press])
    await _server_restarted()
    await dispatcher.feed(press)
    assert (await _statuses(fresh, action_id))[me] == "going"
    answers = [text for callback_id, text, _ in services.messenger.answers]
    assert answers and "wrong" not in str(answers[-1]).lower()


async def test_a_timer_due_just_after_the_server_closed_its_connection_still_runs(
    services: Any, fresh: Any
) -> None:
    """Found by review: the retry was the updates' alone; a timer whose transaction lost its
    connection was marked failed for good (a reminder never sent, a vote never closed)."""
    from datetime import timedelta

    from handlers import build_router
    from handlers.kernel.dispatch import Dispatcher
    from storage import timers

    services.sessionmaker = fresh.sessionmaker
    dispatcher = Dispatcher(build_router(), services)
    ran: list[int] = []

    async def probe(ctx: Any) -> None:
        ran.append(1)

    dispatcher.router.events.setdefault("timer:probe", []).append(probe)  # type: ignore[arg-type]
    now = services.clock.now()
    async with fresh.sessionmaker() as session, session.begin():  # the pool's connection used
        timer = await timers.schedule(session, "probe", "k", now - timedelta(seconds=1), now)
    await _server_restarted()
    assert await dispatcher.fire_timer(timer.id)
    async with fresh.sessionmaker() as session:
        found = await timers.get(session, timer.id)
    assert found is not None and (ran, found.status) == ([1], timers.DONE)
