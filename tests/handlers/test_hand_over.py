"""A webhook worker's updates handed over as a group commit (Dispatcher.hand_over, issue 17):
each request brings one update and a worker's group write only the few that came together, so
what is handed over while HANDING_OVER_OPEN chunks hold their transaction waits and makes the
next chunk. Three workers behind a proxy used to handle a storm in chunks of 2–13 (a third of
one worker's); these pin chunks as full as the waiting allows, in order, whatever fails."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from bot.app import Storage
from bot.inbox import Inbox
from handlers.kernel.context import Context, Services
from handlers.kernel.dispatch import BATCH_MOST, HANDING_OVER_OPEN, Dispatcher
from handlers.kernel.events import Event
from storage import inbox
from tests.handlers.test_batch import PEOPLE, _people, _received, _statuses
from tests.handlers.test_rsvp_cost import _press, _setup, any_storage

__all__ = ["any_storage"]  # the fixture, imported for these tests


def _chunks_seen(
    dispatcher: Dispatcher, monkeypatch: pytest.MonkeyPatch, gate: asyncio.Event | None = None
) -> list[list[int]]:
    """The update ids of each chunk whose shared transaction the dispatcher goes to open, in
    order; with `gate`, each waits for it first (no transaction held meanwhile: on SQLite one
    would keep the inbox from recording)."""
    seen: list[list[int]] = []
    transact = dispatcher._transact_together

    async def recorded(events: list[Event], refused: list[tuple[Event, bool]]) -> object:
        seen.append([event.update_id for event in events])
        if gate is not None:
            await gate.wait()
        return await transact(events, refused)

    monkeypatch.setattr(dispatcher, "_transact_together", recorded)
    return seen


def _held_at(
    dispatcher: Dispatcher, monkeypatch: pytest.MonkeyPatch, held: set[int]
) -> tuple[asyncio.Event, list[int]]:
    """The presses of `held` wait in their transaction until the returned gate opens; the
    second item lists the ones waiting there."""
    gate, waiting = asyncio.Event(), []
    route = dispatcher.router.buttons["rv"]

    async def slow(ctx: Context) -> None:
        if ctx.user_id in held:
            waiting.append(ctx.user_id)
            await gate.wait()
        await route(ctx)

    monkeypatch.setitem(dispatcher.router.buttons, "rv", slow)
    return gate, waiting


async def _until(condition: Callable[[], bool]) -> None:
    """Lets the loop run until `condition` holds: turns of the loop first, then short naps
    while the database answers (on a loaded machine 10,000 turns passed before PostgreSQL
    did: the suite failed there). Gives up after a minute: a hang, not a slow machine."""
    for turn in range(16_000):
        if condition():
            return
        await asyncio.sleep(0 if turn < 10_000 else 0.01)
    raise AssertionError("never came")


async def _event_and_people(
    storage: Storage, services: Services
) -> tuple[Dispatcher, int, dict[int, int]]:
    """`_setup`'s event (10 places) and PEOPLE, each with the call they press; the dispatcher
    on `storage`."""
    services.sessionmaker = storage.sessionmaker
    dispatcher, action_id = await _setup(storage, services, 0)
    return dispatcher, action_id, await _people(storage, services)


async def test_what_is_handed_over_while_chunks_are_open_makes_one_chunk(
    any_storage: Storage, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    dispatcher, action_id, calls = await _event_and_people(any_storage, services)
    events = [_press(u, action_id, 5000 + u, message_id=calls[u]) for u in PEOPLE]
    await _received(any_storage, services, events)
    gate = asyncio.Event()
    seen = _chunks_seen(dispatcher, monkeypatch, gate)
    for opened, event in enumerate(events[:HANDING_OVER_OPEN], start=1):
        dispatcher.hand_over([event])  # one request: a chunk of its own, at once
        await _until(lambda opened=opened: len(seen) == opened)  # type: ignore[misc]
    for event in events[HANDING_OVER_OPEN:]:  # the requests that come meanwhile
        dispatcher.hand_over([event])
    for _ in range(100):
        await asyncio.sleep(0)
    assert len(seen) == HANDING_OVER_OPEN  # the others wait
    gate.set()
    await dispatcher.drain(10)
    rest = [event.update_id for event in events[HANDING_OVER_OPEN:]]
    assert seen[HANDING_OVER_OPEN:] == [rest]  # one chunk, in the order they came
    assert len(rest) == BATCH_MOST - HANDING_OVER_OPEN
    answered = {callback_id for callback_id, _, _ in services.messenger.answers}
    assert answered == {event.callback_id for event in events}  # every spinner stops
    assert set((await _statuses(any_storage, action_id)).values()) == {"going", "waitlist"}


async def test_a_persons_updates_handed_over_one_by_one_keep_their_order(
    any_storage: Storage, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A person's next press comes while their first waits in an open chunk (Telegram sends
    it once the first was recorded): it goes after it, and so do the ones after it."""
    dispatcher, action_id, calls = await _event_and_people(any_storage, services)
    me, other = PEOPLE[0], PEOPLE[1]
    answers = ["going", "cant", "maybe", "going", "cant"]
    mine = [
        _press(me, action_id, 6000 + i, message_id=calls[me], answer=answer)
        for i, answer in enumerate(answers)
    ]
    theirs = _press(other, action_id, 6100, message_id=calls[other])
    await _received(any_storage, services, [*mine, theirs])
    gate, waiting = _held_at(dispatcher, monkeypatch, {me})
    dispatcher.hand_over([mine[0]])
    await _until(lambda: bool(waiting))
    for event in [mine[1], theirs, *mine[2:]]:
        dispatcher.hand_over([event])
    gate.set()
    await dispatcher.drain(10)
    statuses = await _statuses(any_storage, action_id)
    assert statuses == {me: "cant", other: "going"}
    answered = [callback_id for callback_id, _, _ in services.messenger.answers]
    assert [a for a in answered if a != theirs.callback_id] == [e.callback_id for e in mine]


async def test_a_chunk_that_fails_frees_its_place(
    any_storage: Storage, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A shared transaction that raises (each of its updates then goes alone) no longer
    counts as open: what waits behind it is handled."""
    dispatcher, action_id, calls = await _event_and_people(any_storage, services)
    route = dispatcher.router.buttons["rv"]
    unlucky = set(PEOPLE[: HANDING_OVER_OPEN + 1])

    async def failing(ctx: Context) -> None:
        await route(ctx)
        if ctx.user_id in unlucky:
            raise RuntimeError("a bug")

    monkeypatch.setitem(dispatcher.router.buttons, "rv", failing)
    events = [_press(u, action_id, 7000 + u, message_id=calls[u]) for u in PEOPLE]
    await _received(any_storage, services, events)
    for event in events:
        dispatcher.hand_over([event])
    await dispatcher.drain(10)
    assert dispatcher._open_chunks == 0
    statuses = await _statuses(any_storage, action_id)
    assert set(statuses) == set(PEOPLE) - unlucky  # the others' answers kept
    answered = {callback_id for callback_id, _, _ in services.messenger.answers}
    assert {e.callback_id for e in events if e.user.id not in unlucky} <= answered


async def test_a_kill_while_updates_wait_for_a_chunk_leaves_them_in_the_inbox(
    any_storage: Storage, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    dispatcher, action_id, calls = await _event_and_people(any_storage, services)
    events = [_press(u, action_id, 8000 + u, message_id=calls[u]) for u in PEOPLE]
    async with any_storage.sessionmaker() as session, session.begin():  # as Inbox records
        for event in events:
            await inbox.add(
                session, event.update_id, event.user.id, _as_update(event), services.clock.now()
            )
    gate, waiting = _held_at(dispatcher, monkeypatch, set(PEOPLE))
    seen = _chunks_seen(dispatcher, monkeypatch)
    for opened, event in enumerate(events[:HANDING_OVER_OPEN], start=1):
        dispatcher.hand_over([event])
        await _until(lambda opened=opened: len(seen) == opened)  # type: ignore[misc]
    for event in events[HANDING_OVER_OPEN:]:  # waiting for a chunk
        dispatcher.hand_over([event])
    await _until(lambda: bool(waiting))
    await dispatcher.drain(10, cancel=True)
    assert not [key for key, lock in dispatcher._locks.items() if lock.locked()]
    assert not dispatcher._waiting
    assert await _statuses(any_storage, action_id) == {}  # nothing half done
    replayed = Inbox(dispatcher)  # the next start
    gate.set()
    assert await replayed.replay() == len(events)
    assert len(await _statuses(any_storage, action_id)) == len(events)


async def test_a_webhook_workers_requests_are_handled_in_chunks_as_full_as_waiting_allows(
    any_storage: Storage, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the inbox as the webhook records them (Inbox.accept: one update a request,
    answered once recorded): requests arriving while the chunks' transactions are open are
    handled together, not in a transaction per group written."""
    dispatcher, action_id, calls = await _event_and_people(any_storage, services)
    events = [_press(u, action_id, 9000 + u, message_id=calls[u]) for u in PEOPLE]
    updates = [_as_update(event) for event in events]
    gate = asyncio.Event()
    seen = _chunks_seen(dispatcher, monkeypatch, gate)
    received = Inbox(dispatcher)
    for opened, update in enumerate(updates[:HANDING_OVER_OPEN], start=1):
        await received.accept(update, 20.0)  # recorded: the 200 may go
        await _until(lambda opened=opened: len(seen) == opened)  # type: ignore[misc]
    for update in updates[HANDING_OVER_OPEN:]:  # one request after the other
        await received.accept(update, 20.0)
    gate.set()
    await dispatcher.drain(10)
    assert len(seen) == HANDING_OVER_OPEN + 1, seen
    assert len(await _statuses(any_storage, action_id)) == len(events)


async def test_a_later_update_written_alone_does_not_overtake_an_earlier_one_waiting(
    any_storage: Storage, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by review: a request whose group write failed is written alone; handed straight
    to the dispatcher, it overtook its person's earlier update still waiting for a chunk
    (SQLite keeps the order by the in-process locks alone)."""
    dispatcher, action_id, calls = await _event_and_people(any_storage, services)
    me, others = PEOPLE[0], PEOPLE[1 : 1 + HANDING_OVER_OPEN]
    gate = asyncio.Event()
    seen = _chunks_seen(dispatcher, monkeypatch, gate)
    received = Inbox(dispatcher)
    for opened, user in enumerate(others, start=1):  # the chunks are open
        press = _press(user, action_id, 5000 + user, message_id=calls[user])
        await received.accept(_as_update(press), 20.0)
        await _until(lambda opened=opened: len(seen) == opened)  # type: ignore[misc]
    going = _press(me, action_id, 6000, message_id=calls[me], answer="going")
    cant = _press(me, action_id, 6001, message_id=calls[me], answer="cant")
    await received.accept(_as_update(going), 20.0)  # waits for a chunk
    record_many = received.record_many

    async def fails_once(updates: object) -> object:
        monkeypatch.setattr(received, "record_many", record_many)
        raise RuntimeError("database is locked")

    monkeypatch.setattr(received, "record_many", fails_once)
    await received.accept(_as_update(cant), 20.0)  # its group failed: written alone
    for _ in range(200):
        await asyncio.sleep(0)
    gate.set()
    await dispatcher.drain(10)
    mine = {going.callback_id, cant.callback_id}
    order = [callback_id for callback_id, _, _ in services.messenger.answers if callback_id in mine]
    assert order == [going.callback_id, cant.callback_id]
    assert (await _statuses(any_storage, action_id))[me] == "cant"


async def test_saying_slow_down_does_not_hold_a_chunks_place(
    any_storage: Storage, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by review: a chunk counted as open while it answered its refused presses (each
    "slow down" may wait up to SLOW_DOWN_WAIT for Telegram), so two chunks of refused presses
    held up every other update of the worker."""
    dispatcher, action_id, calls = await _event_and_people(any_storage, services)
    flooding = set(PEOPLE[:HANDING_OVER_OPEN])
    limiter = dispatcher.limiter

    class Refusing:
        async def acquire(self, user_id: int) -> tuple[bool, bool]:
            if user_id in flooding:
                return False, True
            return await limiter.acquire(user_id)

    dispatcher.limiter = Refusing()
    telegram_slow = asyncio.Event()
    answer = services.messenger.answer_button
    refused = {f"q{7000 + u}" for u in flooding}

    async def slow(callback_id: str, text: str | None = None, alert: bool = False) -> None:
        if callback_id in refused:
            await telegram_slow.wait()
        await answer(callback_id, text, alert)

    monkeypatch.setattr(services.messenger, "answer_button", slow)
    seen = _chunks_seen(dispatcher, monkeypatch)
    for opened, user in enumerate(sorted(flooding), start=1):
        dispatcher.hand_over([_press(user, action_id, 7000 + user, message_id=calls[user])])
        await _until(lambda opened=opened: len(seen) == opened)  # type: ignore[misc]
    other = PEOPLE[-1]
    press = _press(other, action_id, 7000 + other, message_id=calls[other])
    await _received(any_storage, services, [press])
    dispatcher.hand_over([press])
    answered = services.messenger.answers
    await _until(lambda: any(callback_id == press.callback_id for callback_id, _, _ in answered))
    telegram_slow.set()
    await dispatcher.drain(10)
    assert (await _statuses(any_storage, action_id)) == {other: "going"}


def _as_update(event: Event) -> dict[str, object]:
    """The Bot API Update (JSON) a button press of `event` comes as."""
    user = {"id": event.user.id, "is_bot": False, "first_name": event.user.first_name}
    chat = {"id": event.chat.id, "type": "private", "first_name": event.user.first_name}
    message = {"message_id": event.message_id, "date": 0, "chat": chat, "text": "The call"}
    query = {
        "id": event.callback_id,
        "from": user,
        "message": message,
        "chat_instance": "1",
        "data": event.data,
    }
    return {"update_id": event.update_id, "callback_query": query}
