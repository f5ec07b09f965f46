"""A getUpdates batch handled in as few transactions as may be (issue 17): counted statements,
the outcomes each update would have had alone, one person's updates in order."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.app import Storage
from handlers.kernel import dispatch
from handlers.kernel.context import Context, NotYet, Services
from handlers.kernel.dispatch import BATCH_MOST, Dispatcher, RateLimit, RateLimiter
from handlers.kernel.events import Event
from handlers.kernel.i18n import translator
from storage import inbox
from storage.actions import action_store
from storage.actions.action_models import Action, ActionSlot, Broadcast, Rsvp
from storage.models import OutboxMessage, ProcessedUpdate
from tests.handlers.test_rsvp_cost import (
    _press,
    _setup,
    any_storage,
    statements_of_first_transaction,
)
from tests.support.actions import make_volunteer

__all__ = ["any_storage"]  # the fixture, imported for these tests

PEOPLE = range(100, 100 + BATCH_MOST)


async def _people(storage: Storage, services: Services) -> dict[int, int]:
    """Volunteers 100…, each with the call they press: user id → message id."""
    calls = {}
    for user_id in PEOPLE:
        await make_volunteer(storage, user_id, now=services.clock.now())
        calls[user_id] = (await services.messenger.send_message(user_id, "The call")).message_id
    return calls


async def _received(storage: Storage, services: Services, events: list[Event]) -> None:
    """The updates are in the inbox, as the runtimes record them before handing them over."""
    async with storage.sessionmaker() as session, session.begin():
        for event in events:
            await inbox.add(
                session,
                event.update_id,
                event.user.id,
                {"update_id": event.update_id},
                services.clock.now(),
            )


async def _batch(dispatcher: Dispatcher, events: list[Event]) -> None:
    await dispatcher.feed_batch(events)
    await dispatcher.drain(10)


async def _statuses(storage: Storage, action_id: int) -> dict[int, str]:
    async with storage.sessionmaker() as session:
        rows = await session.execute(
            select(Rsvp.user_id, Rsvp.status).where(Rsvp.action_id == action_id)
        )
        return {user_id: status for user_id, status in rows}


async def test_a_batch_of_presses_is_one_transaction_of_two_statements_a_press(
    any_storage: Storage, services: Services
) -> None:
    """Alone, a press costs its transaction (BEGIN on SQLite, the claim, the commit), the
    person's context and its reply's INSERT besides its own read and write: 6–7 statements. In
    a batch the claims, the people's contexts and the replies are one statement each, and
    BEGIN and COMMIT are shared: the press's own two remain."""
    services.sessionmaker = any_storage.sessionmaker
    dispatcher, action_id = await _setup(any_storage, services, 0)  # 10 places
    calls = await _people(any_storage, services)
    events = [_press(u, action_id, 3000 + u, message_id=calls[u]) for u in PEOPLE]
    await _received(any_storage, services, events)
    with statements_of_first_transaction(any_storage.engine) as seen:
        await _batch(dispatcher, events)
    # BEGIN (SQLite), the claims, the contexts, the replies; and once, when the last place goes, the
    # answers, slots and posts read to show the event full.
    # The press that locks the event reads it, then writes; each later one writes its first
    # answer and reads what is its own in one statement (storage: `for_answer`'s `first`).
    assert len(seen) <= len(events) + 8, "\n".join(seen)
    print("COUNT", len(seen))
    answered = {callback_id for callback_id, _, _ in services.messenger.answers}
    assert answered == {event.callback_id for event in events}  # every spinner stops
    async with any_storage.sessionmaker() as session:
        action = await session.get(Action, action_id)
        assert action is not None
        assert action_store.counts_of(action) == {"going": 10, "waitlist": BATCH_MOST - 10}
        assert await inbox.waiting(session) == []
        processed = select(func.count()).select_from(ProcessedUpdate)
        assert await session.scalar(processed) == len(events)
    # Each volunteer's call shows their answer: the replies were recorded and sent.
    shown = [services.messenger.chats[u][-1] for u in PEOPLE]
    assert all(message.keyboard for message in shown)


async def test_a_failing_update_in_a_batch_costs_only_itself(
    any_storage: Storage, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    services.sessionmaker = any_storage.sessionmaker
    dispatcher, action_id = await _setup(any_storage, services, 0)
    calls = await _people(any_storage, services)
    route = dispatcher.router.buttons["rv"]
    unlucky = PEOPLE[3]

    async def failing(ctx: Context) -> None:
        await route(ctx)
        if ctx.user_id == unlucky:
            raise RuntimeError("a bug")

    monkeypatch.setitem(dispatcher.router.buttons, "rv", failing)
    events = [_press(u, action_id, 4000 + u, message_id=calls[u]) for u in PEOPLE]
    await _received(any_storage, services, events)
    await _batch(dispatcher, events)
    statuses = await _statuses(any_storage, action_id)
    assert unlucky not in statuses  # its transaction rolled back
    assert len(statuses) == len(events) - 1  # the others' answers kept
    sorry = translator("en")("errors.internal")
    answers = {callback_id: text for callback_id, text, _ in services.messenger.answers}
    assert answers[f"q{4000 + unlucky}"] == sorry
    assert sorry not in [text for key, text in answers.items() if key != f"q{4000 + unlucky}"]
    async with any_storage.sessionmaker() as session:
        assert await inbox.waiting(session) == []  # the failed one too: never replayed
        processed = select(func.count()).select_from(ProcessedUpdate)
        assert await session.scalar(processed) == len(events)


async def test_one_persons_updates_in_a_batch_keep_their_order(
    any_storage: Storage, services: Services
) -> None:
    services.sessionmaker = any_storage.sessionmaker
    dispatcher, action_id = await _setup(any_storage, services, 0)
    calls = await _people(any_storage, services)
    first, second = PEOPLE[0], PEOPLE[1]
    events = [
        _press(first, action_id, 5001, message_id=calls[first]),
        _press(second, action_id, 5002, message_id=calls[second]),
        _press(first, action_id, 5003, message_id=calls[first], answer="cant"),
        _press(first, action_id, 5004, message_id=calls[first], answer="maybe"),
    ]
    await _received(any_storage, services, events)
    await _batch(dispatcher, events)
    assert await _statuses(any_storage, action_id) == {first: "maybe", second: "going"}
    # The same person busy when the next batch comes: theirs waits for it, in order.
    again = [
        _press(first, action_id, 5005, message_id=calls[first], answer="cant"),
        _press(second, action_id, 5006, message_id=calls[second], answer="cant"),
    ]
    later = [_press(first, action_id, 5007, message_id=calls[first])]
    await _received(any_storage, services, again + later)
    await dispatcher.feed_batch(again)
    await dispatcher.feed_batch(later)  # `first` is still being handled: after it
    await dispatcher.drain(10)
    assert await _statuses(any_storage, action_id) == {first: "going", second: "cant"}


async def test_a_replayed_batch_changes_nothing_and_stops_every_spinner(
    any_storage: Storage, services: Services
) -> None:
    services.sessionmaker = any_storage.sessionmaker
    dispatcher, action_id = await _setup(any_storage, services, 0)
    calls = await _people(any_storage, services)
    events = [_press(u, action_id, 6000 + u, message_id=calls[u]) for u in PEOPLE]
    await _received(any_storage, services, events)
    await _batch(dispatcher, events)
    before = await _statuses(any_storage, action_id)
    services.messenger.answers.clear()
    await _received(any_storage, services, events)  # Telegram sent the batch again
    await _batch(dispatcher, events + events[:3])  # and a copy within the batch
    assert await _statuses(any_storage, action_id) == before
    answered = [callback_id for callback_id, _, _ in services.messenger.answers]
    assert sorted(answered) == sorted(event.callback_id for event in events)  # once each
    async with any_storage.sessionmaker() as session:
        assert await inbox.waiting(session) == []


async def test_a_person_of_a_later_chunk_keeps_their_order_while_it_waits(
    any_storage: Storage, services: Services
) -> None:
    """A batch of more than BATCH_MOST updates in which someone has an update in each chunk:
    the second chunk waits for the first to release that person's lock. Meanwhile another
    person of the second chunk, whose lock it has not taken yet, sends a later update (the
    next batch, or a webhook's): it must still come after their update of this batch."""
    services.sessionmaker = any_storage.sessionmaker
    dispatcher, action_id = await _setup(any_storage, services, 0)
    calls = await _people(any_storage, services)
    spans, later = PEOPLE[0], PEOPLE[1]  # `spans` has an update in both chunks
    others = PEOPLE[2:]
    first_chunk = [_press(spans, action_id, 7000, message_id=calls[spans])]
    first_chunk += [_press(u, action_id, 7000 + u, message_id=calls[u]) for u in others]
    first_chunk.append(_press(spans, action_id, 7200, message_id=calls[spans], answer="maybe"))
    assert len(first_chunk) == BATCH_MOST
    second_chunk = [
        _press(spans, action_id, 7201, message_id=calls[spans], answer="cant"),
        _press(later, action_id, 7202, message_id=calls[later]),  # going
    ]
    next_one = _press(later, action_id, 7300, message_id=calls[later], answer="cant")
    await _received(any_storage, services, first_chunk + second_chunk + [next_one])
    dispatcher.spawn_batch(first_chunk + second_chunk)  # as the inbox hands them over
    dispatcher.spawn_batch([next_one])  # the next getUpdates (or a webhook request)
    await dispatcher.drain(10)
    statuses = await _statuses(any_storage, action_id)
    assert statuses[spans] == "cant"
    assert statuses[later] == "cant"  # their last press, handled last


async def test_a_kill_right_after_a_batch_is_handed_over_leaves_no_lock_held(
    any_storage: Storage, services: Services
) -> None:
    """A stop that cancels the work (Dispatcher.drain with cancel) when a batch's chunks hold
    their people's locks but have not started: no lock stays held, nobody stays waiting
    (their updates stay in the inbox, for the next start)."""
    services.sessionmaker = any_storage.sessionmaker
    dispatcher, action_id = await _setup(any_storage, services, 0)
    calls = await _people(any_storage, services)
    events = [_press(u, action_id, 8000 + u, message_id=calls[u]) for u in PEOPLE]
    await _received(any_storage, services, events)
    await dispatcher.feed_batch(events)  # returns once every chunk holds its locks
    await dispatcher.drain(10, cancel=True)
    assert not [key for key, lock in dispatcher._locks.items() if lock.locked()]
    assert not dispatcher._waiting
    async with any_storage.sessionmaker() as session:
        assert len(await inbox.waiting(session)) == len(events)  # replayed at the next start


async def test_over_the_rate_limit_a_persons_later_press_is_the_one_refused(
    any_storage: Storage, services: Services
) -> None:
    """The rate limit refuses what goes over it: a person's later update, not an earlier one
    of theirs still waiting in a batch's chunk when the later one comes (next getUpdates)."""
    services.sessionmaker = any_storage.sessionmaker
    dispatcher, action_id = await _setup(any_storage, services, 0)
    dispatcher.limiter = RateLimiter(RateLimit(burst=1, per_second=0.001), services.clock)
    calls = await _people(any_storage, services)
    me, other = PEOPLE[0], PEOPLE[1]
    first = [
        _press(me, action_id, 9001, message_id=calls[me]),  # going
        _press(other, action_id, 9002, message_id=calls[other]),
    ]
    later = _press(me, action_id, 9003, message_id=calls[me], answer="cant")
    await _received(any_storage, services, [*first, later])
    dispatcher.spawn_batch(first)
    dispatcher.spawn_batch([later])
    await dispatcher.drain(10)
    assert (await _statuses(any_storage, action_id))[me] == "going"


async def test_a_persons_update_after_one_handed_over_again_comes_after_it(
    any_storage: Storage, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An update deferred (NotYet) and received again in a batch is handled alone, after its
    person's earlier ones: their next update in the same batch must come after it too."""
    services.sessionmaker = any_storage.sessionmaker
    dispatcher, action_id = await _setup(any_storage, services, 0)
    calls = await _people(any_storage, services)
    me = PEOPLE[0]
    deferred = _press(me, action_id, 9101, message_id=calls[me], answer="cant")
    route = dispatcher.router.buttons["rv"]
    tried: list[int] = []

    async def not_yet_once(ctx: Context) -> None:
        if ctx.event.update_id == deferred.update_id and not tried:
            tried.append(ctx.event.update_id)
            raise NotYet  # the first time only
        await route(ctx)

    monkeypatch.setitem(dispatcher.router.buttons, "rv", not_yet_once)
    monkeypatch.setattr(dispatch, "DEFER_DELAYS", (0.0,) * 4)  # no wall-clock wait
    after = _press(me, action_id, 9102, message_id=calls[me])  # going
    other = _press(PEOPLE[1], action_id, 9103, message_id=calls[PEOPLE[1]])
    await _received(any_storage, services, [deferred, after, other])
    await dispatcher.feed(deferred)  # NotYet: handed over again shortly
    await dispatcher.feed_batch([deferred, after, other])  # Telegram sent it again, and more
    await dispatcher.drain(10)
    assert (await _statuses(any_storage, action_id))[me] == "going"


async def test_a_persons_updates_beyond_a_full_chunk_keep_their_order(
    any_storage: Storage, services: Services
) -> None:
    """More than BATCH_MOST updates of one person in a batch: a chunk holds BATCH_MOST, the
    rest go alone after it, in order."""
    services.sessionmaker = any_storage.sessionmaker
    dispatcher, action_id = await _setup(any_storage, services, 0)
    calls = await _people(any_storage, services)
    me = PEOPLE[0]
    answers = ["going", "cant", "maybe"] * 9
    events = [
        _press(me, action_id, 9200 + i, message_id=calls[me], answer=answer)
        for i, answer in enumerate(answers[: BATCH_MOST + 3])
    ]
    await _received(any_storage, services, events)
    dispatcher.spawn_batch(events)
    await dispatcher.drain(10)
    assert (await _statuses(any_storage, action_id))[me] == answers[BATCH_MOST + 2]
    answered = [callback_id for callback_id, _, _ in services.messenger.answers]
    assert answered == [event.callback_id for event in events]  # in order, once each


async def test_a_slow_down_that_fails_costs_no_other_update_of_the_chunk(
    any_storage: Storage, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Saying "slow down" reads the person's language: if that read fails (the database
    busy, a connection lost), the refused update is lost anyway — the chunk's others must
    still be handled, as each was alone."""
    services.sessionmaker = any_storage.sessionmaker
    dispatcher, action_id = await _setup(any_storage, services, 0)
    dispatcher.limiter = RateLimiter(RateLimit(burst=1, per_second=0.001), services.clock)
    calls = await _people(any_storage, services)
    me = PEOPLE[0]

    async def unreadable(*_: object) -> None:
        raise RuntimeError("the database is locked")

    monkeypatch.setattr(dispatch.volunteers, "get", unreadable)
    events = [
        _press(me, action_id, 9301, message_id=calls[me]),
        _press(me, action_id, 9302, message_id=calls[me], answer="cant"),  # over the limit
        *(_press(u, action_id, 9300 + u, message_id=calls[u]) for u in PEOPLE[1:]),
    ]
    await _received(any_storage, services, events)
    await _batch(dispatcher, events)
    statuses = await _statuses(any_storage, action_id)
    assert set(statuses) == set(PEOPLE)  # everyone's first press recorded
    assert statuses[me] == "going"
    async with any_storage.sessionmaker() as session:
        assert await inbox.waiting(session) == []


async def test_one_persons_updates_in_a_chunk_share_its_transaction(
    any_storage: Storage, services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    """PostgreSQL's claim checks that the person has no earlier update still in the inbox
    (another worker's): their earlier update of the same chunk, claimed in this transaction,
    is not one — no NotYet, no fallback to one transaction each."""
    services.sessionmaker = any_storage.sessionmaker
    dispatcher, action_id = await _setup(any_storage, services, 0)
    calls = await _people(any_storage, services)
    me, other = PEOPLE[0], PEOPLE[1]
    events = [
        _press(me, action_id, 9401, message_id=calls[me]),
        _press(other, action_id, 9402, message_id=calls[other]),
        _press(me, action_id, 9403, message_id=calls[me], answer="cant"),
        _press(me, action_id, 9404, message_id=calls[me], answer="maybe"),
    ]
    await _received(any_storage, services, events)
    with caplog.at_level("INFO", logger="handlers.kernel.dispatch"):
        await _batch(dispatcher, events)
    assert not [r for r in caplog.records if "rolled back together" in r.getMessage()]
    assert not [r for r in caplog.records if "not recorded yet" in r.getMessage()]
    assert await _statuses(any_storage, action_id) == {me: "maybe", other: "going"}


async def test_a_chunk_reads_its_action_once_and_its_counts_stay_true(
    any_storage: Storage, services: Services
) -> None:
    """On PostgreSQL the first press of a chunk locks and loads the event; the later ones read
    only what is theirs (issue 17: each loaded the whole action again, under a lock it held
    already). The counts it holds follow every answer of the chunk: people filling it, two of
    them changing their minds (the first two waiting are promoted), more joining the waitlist."""
    services.sessionmaker = any_storage.sessionmaker
    dispatcher, action_id = await _setup(any_storage, services, 0)  # 10 places
    calls = await _people(any_storage, services)
    people = list(PEOPLE)
    events = [_press(u, action_id, 4000 + u, message_id=calls[u]) for u in people[:12]]
    events += [
        _press(u, action_id, 4100 + u, message_id=calls[u], answer="cant") for u in people[:2]
    ]
    events += [_press(u, action_id, 4000 + u, message_id=calls[u]) for u in people[12:16]]
    await _received(any_storage, services, events)
    every: list[str] = []
    with statements_of_first_transaction(any_storage.engine, every) as seen:
        await _batch(dispatcher, events)
    statuses = await _statuses(any_storage, action_id)
    assert [statuses[u] for u in people[:16]] == (["cant"] * 2 + ["going"] * 10 + ["waitlist"] * 4)
    async with any_storage.sessionmaker() as session:
        action = await session.get(Action, action_id)
        assert action is not None
        assert action_store.counts_of(action) == {"going": 10, "waitlist": 4, "cant": 2}
    if any_storage.engine.dialect.name == "postgresql":
        locking = [s for s in seen if s.startswith("SELECT actions.id") and "FOR UPDATE" in s]
        assert len(locking) == 1, "\n".join(seen)


async def test_a_locked_action_is_not_reused_by_the_next_transaction(
    any_storage: Storage, services: Services
) -> None:
    """The actions a transaction read under their lock are remembered by transaction, which
    is None before an autobegun transaction's first statement: a `for_answer` opening two
    transactions in turn (no explicit begin()) found the first one's action, without the lock
    and with its counts, the session keeping it loaded after the commit."""
    if any_storage.engine.dialect.name != "postgresql":
        return
    now = services.clock.now()
    async with any_storage.sessionmaker() as session, session.begin():
        action = await action_store.create(
            session,
            {
                "kind": "meeting",
                "title": "T",
                "description": "d",
                "at": now + timedelta(days=1),
                "timezone": "UTC",
                "capacity": 1,
                "audience": {},
                "group_ids": [],
                "reminder_minutes": [],
                "created_by": 1,
            },
            now,
        )
        action_id = action.id
    async with any_storage.sessionmaker() as session:
        found = await action_store.for_answer(session, action_id, 7)  # autobegins
        assert found is not None and found.action.going_count == 0
        await session.commit()
        # meanwhile another transaction fills the only place
        async with any_storage.sessionmaker() as other, other.begin():
            locked = await action_store.get(other, action_id, lock=True)
            assert locked is not None
            await action_store.set_answer(other, action_id, 8, action_store.GOING, now)
        again = await action_store.for_answer(session, action_id, 7)  # autobegins again
        assert again is not None
        assert again.action.going_count == 1, "stale action from the previous transaction"
        await session.rollback()


async def _held_event(session: AsyncSession, services: Services, capacity: int) -> int:
    """An event created and locked by this session's transaction, as a chunk's first press
    leaves it."""
    now = services.clock.now()
    action = await action_store.create(
        session,
        {
            "kind": "meeting",
            "title": "T",
            "description": "d",
            "at": now + timedelta(days=1),
            "timezone": "UTC",
            "capacity": capacity,
            "audience": {},
            "group_ids": [],
            "reminder_minutes": [],
            "created_by": 1,
        },
        now,
    )
    await session.commit()
    await session.begin()  # as the dispatcher begins a chunk's transaction
    found = await action_store.for_answer(session, action.id, 7)
    assert found is not None
    assert action_store.held_for_answer(session, action.id) == (found.action, False)
    return action.id


async def test_a_later_press_writes_nothing_for_an_event_deleted_meanwhile(
    any_storage: Storage, services: Services
) -> None:
    """The first answer written in `for_answer`'s statement (a chunk's later presses) is
    written only while the event exists: deleted by the same transaction, the press finds
    nothing (a stale button), and no answer points at no event."""
    async with any_storage.sessionmaker() as session:
        action_id = await _held_event(session, services, 5)
        await session.execute(delete(Action).where(Action.id == action_id))
        first = action_store.FirstAnswer(action_store.GOING, services.clock.now())
        found = await action_store.for_answer(session, action_id, 8, first=first)
        assert found is None
        written = select(func.count()).select_from(Rsvp).where(Rsvp.action_id == action_id)
        assert await session.scalar(written) == 0
        await session.rollback()


async def test_a_later_press_writes_no_plain_answer_once_roles_were_added(
    any_storage: Storage, services: Services
) -> None:
    """Roles added by the same transaction after the event was locked: the first answer in
    `for_answer`'s statement is not written (Going would need a role) and the press is told
    the event has roles, so the handler asks which one, as for any event with roles."""
    async with any_storage.sessionmaker() as session:
        action_id = await _held_event(session, services, 5)
        session.add(ActionSlot(action_id=action_id, position=1, name="Steward", capacity=2))
        first = action_store.FirstAnswer(action_store.GOING, services.clock.now())
        found = await action_store.for_answer(session, action_id, 8, first=first)
        assert found is not None and found.has_slots and not found.first_written
        assert await action_store.answer_of(session, action_id, 8) is None
        assert found.action.going_count == 0
        await session.rollback()


async def test_a_later_press_onto_the_waitlist_is_told_its_place(
    any_storage: Storage, services: Services
) -> None:
    """A first answer on the waitlist written in `for_answer`'s statement returns its place
    (after those waiting before it), and the counts held follow it."""
    now = services.clock.now()
    async with any_storage.sessionmaker() as session:
        action_id = await _held_event(session, services, 1)
        for user_id, status in ((8, action_store.GOING), (9, action_store.WAITLIST)):
            first = action_store.FirstAnswer(status, now)
            found = await action_store.for_answer(session, action_id, user_id, first=first)
            assert found is not None and found.first_written
        first = action_store.FirstAnswer(action_store.WAITLIST, now + timedelta(seconds=1))
        found = await action_store.for_answer(session, action_id, 10, first=first)
        assert found is not None and found.first_written and found.first_place == 2
        assert action_store.counts_of(found.action) == {"going": 1, "waitlist": 2}
        again = await action_store.for_answer(session, action_id, 10, first=first)
        assert again is not None and not again.first_written
        assert again.previous is None or again.previous.status == action_store.WAITLIST
        await session.rollback()


async def test_an_outdated_notice_is_not_noticed_by_a_later_first_answer(
    any_storage: Storage, services: Services
) -> None:
    """A "changed" notice (broadcast, not the announcement) whose buttons the bot took away
    (an edit of it without any: marked outdated) is no copy to give buttons back to, when the
    press's first answer is written in its read too (a cold review's finding: on SQLite the
    check compiled to `chat_id = chat_id` inside the INSERT's RETURNING clause)."""
    now = services.clock.now()
    async with any_storage.sessionmaker() as session:
        action_id = await _held_event(session, services, 5)
        broadcast = Broadcast(action_id=action_id, purpose="update", created_at=now)
        session.add(broadcast)
        await session.flush()
        common = {"chat_id": 8, "text": "x", "attempts": 1, "created_at": now}
        session.add(
            OutboxMessage(
                purpose="broadcast",
                ref=f"b{broadcast.id}",
                state="sent",
                message_id=100,
                keyboard=[[{"text": "Going", "callback_data": "r"}]],
                **common,
            )
        )
        session.add(  # marked outdated: its buttons taken away
            OutboxMessage(
                purpose="action_edit",
                ref=f"e{action_id}",
                state="sent",
                edit_of=100,
                keyboard=None,
                **common,
            )
        )
        await session.flush()
        # The same read without the first answer: the outdated notice is not noticed.
        plain = await action_store.for_answer(session, action_id, 9)
        assert plain is not None and plain.noticed == ()
        first = action_store.FirstAnswer(action_store.GOING, now)
        found = await action_store.for_answer(session, action_id, 8, first=first)
        assert found is not None and found.first_written
        assert found.noticed == (), "an outdated notice would get its buttons back"
        await session.rollback()


async def test_a_later_press_in_a_batch_gives_no_buttons_back_to_an_outdated_notice(
    any_storage: Storage, services: Services
) -> None:
    """Through the dispatcher: person 2's press is a chunk's later press (person 1 locked the
    event); their notice marked outdated (shown without buttons) must stay without any."""
    dispatcher, action_id = await _setup(any_storage, services, 0)
    now = services.clock.now()
    messenger = services.messenger
    calls = {u: (await messenger.send_message(u, "The call")).message_id for u in (1, 2)}
    notice = await messenger.send_message(2, "Outdated: changed")  # shown without buttons
    async with any_storage.sessionmaker() as session, session.begin():
        broadcast = Broadcast(action_id=action_id, purpose="update", created_at=now)
        session.add(broadcast)
        await session.flush()
        common = {"chat_id": 2, "text": "x", "attempts": 1, "created_at": now, "state": "sent"}
        session.add(
            OutboxMessage(
                purpose="broadcast",
                ref=f"b{broadcast.id}",
                message_id=notice.message_id,
                keyboard=[[{"text": "Going", "callback_data": "r"}]],
                **common,
            )
        )
        session.add(
            OutboxMessage(
                purpose="action_edit",
                ref=f"e{action_id}",
                edit_of=notice.message_id,
                keyboard=None,
                **common,
            )
        )
    events = [_press(u, action_id, 900 + u, message_id=calls[u]) for u in (1, 2)]
    await _received(any_storage, services, events)
    await _batch(dispatcher, events)
    shown = next(m for m in messenger.chats[2] if m.message_id == notice.message_id)
    assert shown.labels == [], f"the outdated notice got buttons back: {shown.labels}"
