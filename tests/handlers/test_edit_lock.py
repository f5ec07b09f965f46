"""A coordinator adds places while a volunteer's press holds the event (PostgreSQL, where two
workers' transactions run side by side): the place the press freed goes to the first waiting,
the place added to the next, whichever commits first. apply_edit takes the event's lock
(`action_store.get` with `lock`); this outcome holds without it too (the promotion reads the
counts again once the press has committed), so the lock is a guard, not pinned here."""

from __future__ import annotations

import asyncio
import os

import pytest
from sqlalchemy import text

from bot.app import Storage
from handlers.kernel.callbacks import pack
from handlers.kernel.context import Context, Services
from handlers.kernel.events import Chat, ChatType, Event, EventKind, Person
from storage import create_engine
from tests.conftest import COORDINATOR_ID
from tests.handlers.test_batch import PEOPLE, _people, _received, _statuses
from tests.handlers.test_rsvp_cost import _press, _setup, any_storage

__all__ = ["any_storage"]  # the fixture, imported for these tests

CAPACITY = 10  # `_setup`'s event


async def _waiting_on_a_lock(url: str) -> bool:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            found = await connection.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND wait_event_type = 'Lock'"
                )
            )
    finally:
        await engine.dispose()
    return bool(found)


async def test_more_places_promote_from_the_counts_a_press_left_meanwhile(
    any_storage: Storage, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    if any_storage.engine.dialect.name != "postgresql":
        pytest.skip("SQLite runs one write transaction at a time: nothing changes meanwhile")
    url = os.environ["CHORUS_TEST_POSTGRES_URL"]
    services.sessionmaker = any_storage.sessionmaker
    dispatcher, action_id = await _setup(any_storage, services, 0)
    calls = await _people(any_storage, services)
    going, first_waiting, second_waiting = PEOPLE[:CAPACITY], PEOPLE[CAPACITY], PEOPLE[CAPACITY + 1]
    presses = [_press(u, action_id, 3000 + u, message_id=calls[u]) for u in PEOPLE[: CAPACITY + 2]]
    await _received(any_storage, services, presses)
    for press in presses:
        await dispatcher.feed(press)
    statuses = await _statuses(any_storage, action_id)
    assert [statuses[u] for u in (first_waiting, second_waiting)] == ["waitlist", "waitlist"]

    leaving = going[0]
    gate, held = asyncio.Event(), asyncio.Event()
    route = dispatcher.router.buttons["rv"]

    async def slow(ctx: Context) -> None:
        await route(ctx)  # the place freed goes to the first waiting, in this transaction
        if ctx.user_id == leaving:
            held.set()
            await gate.wait()

    monkeypatch.setitem(dispatcher.router.buttons, "rv", slow)
    cant = _press(leaving, action_id, 4000, message_id=calls[leaving], answer="cant")
    coordinator = Person(COORDINATOR_ID, "Coral")
    in_private = Chat(COORDINATOR_ID, ChatType.PRIVATE)
    field = Event(  # the coordinator's "Edit → Places" on the action's card
        3999,
        EventKind.CALLBACK,
        coordinator,
        in_private,
        callback_id="q3999",
        data=pack("ac", "field", action_id, "capacity"),
        message_id=76,
    )
    await _received(any_storage, services, [field])
    await dispatcher.feed(field)
    edit = Event(
        4001,
        EventKind.MESSAGE,
        coordinator,
        in_private,
        text=str(CAPACITY + 1),
        message_id=77,
    )
    await _received(any_storage, services, [cant, edit])
    pressing = asyncio.create_task(dispatcher.feed(cant))
    await held.wait()
    editing = asyncio.create_task(dispatcher.feed(edit))
    try:
        for _ in range(5000):  # until the edit waits for the press's lock
            if await _waiting_on_a_lock(url) or editing.done():
                break
            await asyncio.sleep(0)
        assert not editing.done(), "the edit ended while the press held the event"
    finally:
        gate.set()
        await asyncio.gather(pressing, editing)
    statuses = await _statuses(any_storage, action_id)
    assert statuses[leaving] == "cant"
    assert statuses[first_waiting] == "going"  # the place the press freed
    assert statuses[second_waiting] == "going"  # the place the edit added
