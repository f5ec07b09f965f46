"""What one RSVP press costs in SQL (issue 17): counted statements, never timings.

A press through the dispatcher — claim, the person's context, the answer, the action's counts,
the reply recorded in the outbox — is a handful of statements, the same however many answered
before: the counts are kept on the action, not recounted (a storm used to grow with the square
of its size)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.app import Storage, open_storage
from handlers import build_router
from handlers.kernel.context import Services
from handlers.kernel.dispatch import Dispatcher
from handlers.kernel.events import Chat, ChatType, Event, EventKind, Person
from storage import inbox, sqlite_driver
from storage.actions import action_store
from storage.actions.action_models import Action, Broadcast, Rsvp
from storage.models import OutboxMessage, ProcessedUpdate
from tests.support.actions import engine_for, make_volunteer

# One press of "Going", counted by the engine (the commit is not a cursor statement). SQLite:
# BEGIN IMMEDIATE, claim the update (its trigger removes the inbox row), the person's context,
# the action with the person's answer and their announcements to refresh, the answer (its
# trigger moves the action's counts; a first answer's INSERT returns its place on the waitlist),
# the reply recorded in the outbox. PostgreSQL: no BEGIN statement, the claim a common table
# expression of the context's SELECT, the action locked (with the announcements), a first answer
# written once the lock is held by an INSERT … ON CONFLICT DO NOTHING (an answer already given
# is read then, a statement more), the reply. Before issue 17: 20 on SQLite.
MOST_STATEMENTS = {"sqlite": 6, "postgresql": 4}


@pytest.fixture(params=["sqlite", "postgres"])
async def any_storage(request: pytest.FixtureRequest, storage: Storage) -> AsyncIterator[Storage]:
    """The database at head: SQLite, and PostgreSQL when CHORUS_TEST_POSTGRES_URL is set."""
    if request.param == "sqlite":
        yield storage
        return
    url = os.environ.get("CHORUS_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("CHORUS_TEST_POSTGRES_URL is not set: PostgreSQL tests skipped")
    from storage import create_engine

    async def reset(engine: AsyncEngine) -> None:
        async with engine.begin() as connection:
            await connection.execute(text("DROP SCHEMA public CASCADE"))
            await connection.execute(text("CREATE SCHEMA public"))

    engine = create_engine(url)
    await reset(engine)
    await engine.dispose()
    opened = await open_storage(url)
    yield opened
    await reset(opened.engine)
    await opened.engine.dispose()


@contextmanager
def statements_of_first_transaction(
    engine: AsyncEngine, every: list[str] | None = None
) -> Iterator[list[str]]:
    """The statements sent until the first commit (the update's transaction); all of them,
    later ones included, in `every` when given. SQLite's BEGIN IMMEDIATE counts as one: the
    one-hop driver sends it with the transaction's first statement (storage/sqlite_driver.py),
    so that no cursor event shows it."""
    seen: list[str] = []
    committed = [False]

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if every is not None:
            every.append(" ".join(statement.split()))
        if not committed[0]:
            seen.append(" ".join(statement.split()))

    def begin(connection: Any) -> None:
        if isinstance(connection.connection.dbapi_connection, sqlite_driver.OneHopConnection):
            count(None, None, "BEGIN IMMEDIATE")

    def commit(_conn: Any) -> None:
        committed[0] = True

    sync = engine.sync_engine
    event.listen(sync, "before_cursor_execute", count)
    event.listen(sync, "begin", begin)
    event.listen(sync, "commit", commit)
    try:
        yield seen
    finally:
        event.remove(sync, "before_cursor_execute", count)
        event.remove(sync, "begin", begin)
        event.remove(sync, "commit", commit)


async def _setup(storage: Storage, services: Services, answers: int) -> tuple[Dispatcher, int]:
    now = services.clock.now()
    for user_id in (1, 2):
        await make_volunteer(storage, user_id, now=now)
    async with storage.sessionmaker() as session, session.begin():
        action = await action_store.create(
            session,
            {
                "kind": "meeting",
                "title": "Storm",
                "description": "d",
                "at": now + timedelta(days=1),
                "timezone": "UTC",
                "capacity": answers + 10,
                "audience": {},
                "group_ids": [],
                "reminder_minutes": [],
                "created_by": 1,
            },
            now,
        )
        if answers:  # earlier answers, as migration 0015 counts them
            await session.execute(
                insert(Rsvp),
                [
                    {
                        "action_id": action.id,
                        "user_id": 10_000 + i,
                        "status": "going",
                        "answered_at": now,
                    }
                    for i in range(answers)
                ],
            )
            await session.execute(
                update(Action).where(Action.id == action.id).values(going_count=answers)
            )
        action_id = action.id
    services.delivery = engine_for(services)  # replies recorded in the outbox, as in the bot
    return Dispatcher(build_router(), services), action_id


def _press(
    user_id: int, action_id: int, update_id: int, *, message_id: int = 1, answer: str = "going"
) -> Event:
    return Event(
        update_id,
        EventKind.CALLBACK,
        Person(user_id, f"V{user_id}"),
        Chat(user_id, ChatType.PRIVATE),
        callback_id=f"q{update_id}",
        data=f"rv:{action_id}:{answer}",
        message_id=message_id,
    )


def _reads_every_answer(statement: str) -> bool:
    """A statement that counts or reads all of an action's answers (not one person's)."""
    if "GROUP BY" in statement:
        return True
    reads = "FROM rsvps" in statement or "JOIN rsvps" in statement
    return reads and "rsvps.user_id =" not in statement and "rsvps.id =" not in statement


async def _one_press(any_storage: Storage, services: Services, answers: int) -> list[str]:
    dispatcher, action_id = await _setup(any_storage, services, answers)
    call = await services.messenger.send_message(1, "The call")  # the message pressed
    every: list[str] = []
    with statements_of_first_transaction(any_storage.engine, every) as seen:
        await dispatcher.feed(_press(1, action_id, 500, message_id=call.message_id))
    # After the commit only the delivery engine writes the reply's result: the action, posted
    # in no group, is not read again to refresh group posts.
    after = every[len(seen) :]
    assert not [s for s in after if "actions" in s or "broadcasts" in s], "\n".join(after)
    assert [s for s in seen if s.startswith("INSERT INTO outbox")], "the reply is recorded"
    async with any_storage.sessionmaker() as session:
        action = await session.get(Action, action_id)
        assert action is not None and action.going_count == answers + 1
        going = await session.scalar(
            select(func.count()).where(Rsvp.action_id == action_id, Rsvp.status == "going")
        )
        assert going == answers + 1
    return seen


async def test_a_press_is_a_handful_of_statements(any_storage: Storage, services: Services) -> None:
    services.sessionmaker = any_storage.sessionmaker
    seen = await _one_press(any_storage, services, 0)
    assert len(seen) <= MOST_STATEMENTS[any_storage.engine.dialect.name], "\n".join(seen)
    assert not [s for s in seen if _reads_every_answer(s)]


async def test_a_press_costs_the_same_after_thousands_of_answers(
    any_storage: Storage, services: Services
) -> None:
    services.sessionmaker = any_storage.sessionmaker
    seen = await _one_press(any_storage, services, 3000)
    assert len(seen) <= MOST_STATEMENTS[any_storage.engine.dialect.name], "\n".join(seen)
    assert not [s for s in seen if _reads_every_answer(s)], "\n".join(seen)


async def test_a_replayed_press_changes_nothing(any_storage: Storage, services: Services) -> None:
    services.sessionmaker = any_storage.sessionmaker
    dispatcher, action_id = await _setup(any_storage, services, 0)
    first = (await services.messenger.send_message(1, "The call")).message_id
    second = (await services.messenger.send_message(2, "The call")).message_id
    await dispatcher.feed(_press(1, action_id, 600, message_id=first))
    async with any_storage.sessionmaker() as session, session.begin():  # received again
        await inbox.add(session, 600, 1, {"update_id": 600}, services.clock.now())
    await dispatcher.feed(_press(1, action_id, 600, message_id=first))
    await dispatcher.feed(_press(2, action_id, 601, message_id=second))
    async with any_storage.sessionmaker() as session:
        action = await session.get(Action, action_id)
        assert action is not None
        assert action_store.counts_of(action) == {"going": 2}
        assert await session.scalar(select(func.count()).select_from(ProcessedUpdate)) == 2
        assert await inbox.waiting(session) == []


async def test_concurrent_presses_never_exceed_the_places(
    any_storage: Storage, services: Services
) -> None:
    services.sessionmaker = any_storage.sessionmaker
    dispatcher, action_id = await _setup(any_storage, services, 0)  # 10 places
    now = services.clock.now()
    people = range(100, 130)
    calls = {}
    for user_id in people:
        await make_volunteer(any_storage, user_id, now=now)
        calls[user_id] = (await services.messenger.send_message(user_id, "The call")).message_id
    await asyncio.gather(
        *(dispatcher.feed(_press(u, action_id, 1000 + u, message_id=calls[u])) for u in people)
    )
    async with any_storage.sessionmaker() as session:
        action = await session.get(Action, action_id)
        assert action is not None
        assert action_store.counts_of(action) == {"going": 10, "waitlist": 20}
        assert (await action_store.standing(session, action_id)).counts == {
            "going": 10,
            "waitlist": 20,
        }


async def test_concurrent_changes_of_mind_keep_the_counts_true(
    any_storage: Storage, services: Services
) -> None:
    """Going, then some say Can't while others press Going, all at once: the places freed go to
    the waitlist, and the counts kept on the action are the answers recounted."""
    services.sessionmaker = any_storage.sessionmaker
    dispatcher, action_id = await _setup(any_storage, services, 0)  # 10 places
    now = services.clock.now()
    people = range(100, 140)
    calls = {}
    for user_id in people:
        await make_volunteer(any_storage, user_id, now=now)
        calls[user_id] = (await services.messenger.send_message(user_id, "The call")).message_id

    def press(user_id: int, update_id: int, answer: str) -> Event:
        return _press(user_id, action_id, update_id, message_id=calls[user_id], answer=answer)

    await asyncio.gather(*(dispatcher.feed(press(u, 1000 + u, "going")) for u in range(100, 120)))
    await asyncio.gather(
        *(dispatcher.feed(press(u, 2000 + u, "cant")) for u in range(100, 110)),
        *(dispatcher.feed(press(u, 2000 + u, "going")) for u in range(120, 140)),
        *(dispatcher.feed(press(u, 2000 + u, "maybe")) for u in range(110, 115)),
    )
    async with any_storage.sessionmaker() as session:
        action = await session.get(Action, action_id)
        assert action is not None
        recounted = (await action_store.standing(session, action_id)).counts
        assert action_store.counts_of(action) == dict(recounted)
        assert recounted["going"] == 10
        assert sum(recounted.values()) == 40


async def test_a_press_onto_the_waitlist_reads_its_place_with_the_counts(
    any_storage: Storage, services: Services
) -> None:
    """Three presses in four of a storm join the waitlist: the place they are told is returned
    by the statement that writes their answer, not read by one of its own."""
    services.sessionmaker = any_storage.sessionmaker
    dispatcher, action_id = await _setup(any_storage, services, 0)
    async with any_storage.sessionmaker() as session, session.begin():
        await session.execute(update(Action).where(Action.id == action_id).values(capacity=1))
    await make_volunteer(any_storage, 3, now=services.clock.now())
    calls = {
        u: (await services.messenger.send_message(u, "The call")).message_id for u in (1, 2, 3)
    }
    await dispatcher.feed(_press(2, action_id, 700, message_id=calls[2]))  # the one place
    await dispatcher.feed(_press(1, action_id, 701, message_id=calls[1]))  # waitlist #1
    with statements_of_first_transaction(any_storage.engine) as seen:
        await dispatcher.feed(_press(3, action_id, 702, message_id=calls[3]))  # waitlist #2
    assert len(seen) <= MOST_STATEMENTS[any_storage.engine.dialect.name], "\n".join(seen)
    assert not [s for s in seen if s.startswith("SELECT (SELECT count(*)")], "\n".join(seen)
    told = {callback: text for callback, text, _ in services.messenger.answers}  # type: ignore[attr-defined]
    assert "#1 on the waitlist" in (told["q701"] or "")
    assert "#2 on the waitlist" in (told["q702"] or "")


async def test_a_press_refreshes_its_presser_s_announcement_read_with_the_action(
    any_storage: Storage, services: Services
) -> None:
    """The presser's announcement (its places-left line) is edited after their press; the
    outbox rows that locate it are read by the statement that reads the action, not by one of
    their own. Another volunteer's announcement is not edited."""
    services.sessionmaker = any_storage.sessionmaker
    dispatcher, action_id = await _setup(any_storage, services, 0)
    now = services.clock.now()
    calls = {u: (await services.messenger.send_message(u, "The call")).message_id for u in (1, 2)}
    async with any_storage.sessionmaker() as session, session.begin():
        broadcast = Broadcast(action_id=action_id, purpose="announce", created_at=now)
        session.add(broadcast)
        await session.flush()
        for user_id, message_id in calls.items():
            session.add(
                OutboxMessage(
                    purpose="broadcast",
                    ref=f"b{broadcast.id}",
                    chat_id=user_id,
                    text="The call",
                    state="sent",
                    attempts=1,
                    message_id=message_id,
                    created_at=now,
                )
            )
    with statements_of_first_transaction(any_storage.engine) as seen:
        await dispatcher.feed(_press(1, action_id, 800, message_id=calls[1]))
    assert not [s for s in seen if s.startswith("SELECT outbox.")], "\n".join(seen)
    # The refresh's edit is queued by a statement of its own (paced, not a reply).
    assert len(seen) <= MOST_STATEMENTS[any_storage.engine.dialect.name] + 1, "\n".join(seen)
    async with any_storage.sessionmaker() as session:
        edits = (
            await session.execute(
                select(OutboxMessage.chat_id, OutboxMessage.edit_of, OutboxMessage.text).where(
                    OutboxMessage.ref == f"e{action_id}"
                )
            )
        ).all()
    assert [(chat, edit_of) for chat, edit_of, _ in edits] == [(1, calls[1])]
    assert "9 of 10 places left" in edits[0][2]


async def test_every_write_of_an_answer_moves_the_counts(
    any_storage: Storage, services: Services
) -> None:
    """The counts are kept by the database (migration 0019), whoever writes the answers: a bulk
    INSERT, a change of answer, a deletion; an erasure (a new user id) moves nothing."""
    _, action_id = await _setup(any_storage, services, 0)
    now = services.clock.now()
    statuses = ["going"] * 3 + ["waitlist"] * 2 + ["maybe", "cant", "done"]
    async with any_storage.sessionmaker() as session, session.begin():
        await session.execute(
            insert(Rsvp),
            [
                {"action_id": action_id, "user_id": 50 + i, "status": s, "answered_at": now}
                for i, s in enumerate(statuses)
            ],
        )
    async with any_storage.sessionmaker() as session, session.begin():
        await session.execute(update(Rsvp).where(Rsvp.user_id == 50).values(status="cant"))
        await session.execute(update(Rsvp).where(Rsvp.user_id == 51).values(user_id=-1))
        await session.execute(Rsvp.__table__.delete().where(Rsvp.user_id == 55))
    async with any_storage.sessionmaker() as session:
        action = await session.get(Action, action_id)
        assert action is not None
        recounted = (await action_store.standing(session, action_id)).counts
        assert action_store.counts_of(action) == dict(recounted)
        assert dict(recounted) == {"going": 2, "waitlist": 2, "cant": 2, "done": 1}


async def test_a_first_answer_s_place_is_the_waitlist_s_order(
    any_storage: Storage, services: Services
) -> None:
    """The place returned with a first answer is its place in the waitlist's order (queued
    time, then id): one queued at the same instant before it is ahead, one queued later (a
    clock set back since) is behind; as `place_of` and `standing` count it."""
    _, action_id = await _setup(any_storage, services, 0)
    now = services.clock.now()
    async with any_storage.sessionmaker() as session, session.begin():
        await session.execute(
            insert(Rsvp),
            [
                {"action_id": action_id, "user_id": 60, "status": "waitlist", "queued_at": now}
                | {"answered_at": now},
                {"action_id": action_id, "user_id": 61, "status": "waitlist"}
                | {"queued_at": now + timedelta(hours=1), "answered_at": now},
            ],
        )
        place = await action_store.set_answer_placed(
            session, action_id, 62, "waitlist", now, previous=None
        )
        assert place == 2
        rsvp = await action_store.answer_of(session, action_id, 62)
        assert rsvp is not None and await action_store.place_of(session, rsvp) == 2
        assert (await action_store.standing(session, action_id)).positions == {
            60: 1,
            62: 2,
            61: 3,
        }
        action = await session.get(Action, action_id)
        assert action is not None and action.waitlist_count == 3


async def test_a_change_of_answer_reads_the_answer_given(
    any_storage: Storage, services: Services
) -> None:
    """A first answer is written without reading it first (PostgreSQL: after the lock); an
    answer already given is then read and changed, and the same answer again changes nothing."""
    services.sessionmaker = any_storage.sessionmaker
    dispatcher, action_id = await _setup(any_storage, services, 0)
    call = (await services.messenger.send_message(1, "The call")).message_id
    await dispatcher.feed(_press(1, action_id, 900, message_id=call, answer="maybe"))
    await dispatcher.feed(_press(1, action_id, 901, message_id=call, answer="going"))
    await dispatcher.feed(_press(1, action_id, 902, message_id=call, answer="going"))
    told = {callback: text for callback, text, _ in services.messenger.answers}  # type: ignore[attr-defined]
    assert (told["q901"] or "").startswith("Noted:")
    assert told["q902"] == "That is already your answer."
    async with any_storage.sessionmaker() as session:
        action = await session.get(Action, action_id)
        assert action is not None and action_store.counts_of(action) == {"going": 1}
        answer = await action_store.answer_of(session, action_id, 1)
        assert answer is not None and answer.status == "going"


async def test_joining_a_long_waitlist_does_not_count_it(
    any_storage: Storage, services: Services
) -> None:
    """A place on the waitlist is the waitlist's count kept on the action less those queued
    after (none here): it counted every answer waiting before it, so that joining a waitlist
    of 100,000 read 100,000 rows (issue 17). The place told is still the right one, for a
    first answer and for a change of mind."""
    services.sessionmaker = any_storage.sessionmaker
    dispatcher, action_id = await _setup(any_storage, services, 0)
    now = services.clock.now()
    async with any_storage.sessionmaker() as session, session.begin():
        await session.execute(update(Action).where(Action.id == action_id).values(capacity=0))
        await session.execute(
            insert(Rsvp),
            [
                {"action_id": action_id, "user_id": 20_000 + i, "status": "waitlist"}
                | {"queued_at": now - timedelta(minutes=1), "answered_at": now}
                for i in range(3000)
            ],
        )
        await session.execute(
            update(Action).where(Action.id == action_id).values(waitlist_count=3000)
        )
    await make_volunteer(any_storage, 3, now=now)
    calls = {u: (await services.messenger.send_message(u, "The call")).message_id for u in (1, 3)}
    await dispatcher.feed(_press(3, action_id, 800, message_id=calls[3], answer="maybe"))
    every: list[str] = []
    with statements_of_first_transaction(any_storage.engine, every) as seen:
        await dispatcher.feed(_press(1, action_id, 801, message_id=calls[1]))  # first answer
    with statements_of_first_transaction(any_storage.engine, every):
        await dispatcher.feed(_press(3, action_id, 802, message_id=calls[3]))  # changes mind
    assert len(seen) <= MOST_STATEMENTS[any_storage.engine.dialect.name], "\n".join(seen)
    counting = [s for s in every if "queued_at <=" in s or "queued_at <" in s]
    assert not counting, "\n".join(counting)
    told = {callback: text for callback, text, _ in services.messenger.answers}  # type: ignore[attr-defined]
    assert "#3,001 on the waitlist" in (told["q801"] or ""), told["q801"]
    assert "#3,002 on the waitlist" in (told["q802"] or ""), told["q802"]


async def test_a_place_counted_from_the_counts_keeps_the_waitlist_s_order(
    any_storage: Storage, services: Services
) -> None:
    """With the action read under its lock (as a press reads it), the place comes from its
    count: one queued later (a clock set back since) is still behind the new answer."""
    _, action_id = await _setup(any_storage, services, 0)
    now = services.clock.now()
    async with any_storage.sessionmaker() as session, session.begin():
        await session.execute(
            insert(Rsvp),
            [
                {"action_id": action_id, "user_id": 60, "status": "waitlist", "queued_at": now}
                | {"answered_at": now},
                {"action_id": action_id, "user_id": 61, "status": "waitlist"}
                | {"queued_at": now + timedelta(hours=1), "answered_at": now},
                {"action_id": action_id, "user_id": 63, "status": "maybe", "answered_at": now},
            ],
        )
    async with any_storage.sessionmaker() as session, session.begin():
        found = await action_store.for_answer(session, action_id, 62)
        assert found is not None and found.action.waitlist_count == 2
        written, place = await action_store.first_answer(session, action_id, 62, "waitlist", now)
        assert written and place == 2
        previous = await action_store.answer_of(session, action_id, 63)
        later = now + timedelta(seconds=1)
        place = await action_store.set_answer_placed(
            session, action_id, 63, "waitlist", later, previous=previous
        )
        assert place == 3  # after 60 and 62, before 61
        positions = (await action_store.standing(session, action_id)).positions
        assert positions == {60: 1, 62: 2, 63: 3, 61: 4}


async def test_a_press_finds_its_presser_s_copies_without_reading_everyone_s(
    any_storage: Storage, services: Services
) -> None:
    """The statement that reads the action reads the presser's copies of its messages (the
    announcement, other notices with its buttons) by chat and ref: through an index, not
    through every row of an announcement to the whole coalition (its 100,000 rows were read
    at every press: 12 ms a press on PostgreSQL)."""
    _, action_id = await _setup(any_storage, services, 0)
    now = services.clock.now()
    async with any_storage.sessionmaker() as session, session.begin():
        broadcast = Broadcast(action_id=action_id, purpose="announce", created_at=now)
        session.add(broadcast)
        await session.flush()
        await session.execute(
            insert(OutboxMessage),
            [
                {"purpose": "broadcast", "ref": f"b{broadcast.id}", "chat_id": 10_000 + i}
                | {"text": "The call", "state": "sent", "attempts": 1, "message_id": i + 1}
                | {"created_at": now}
                for i in range(3000)
            ],
        )
    postgresql = any_storage.engine.dialect.name == "postgresql"
    async with any_storage.engine.connect() as connection:
        if postgresql:
            await connection.execute(text("ANALYZE outbox"))
        statement = (
            action_store._for_answer_postgresql()
            if postgresql
            else action_store._for_answer_sqlite()
        )
        compiled = statement.compile(dialect=any_storage.engine.dialect)
        values = {"answer_action": action_id, "answer_user": 10_042, "answer_notice": "p1"}
        values["answer_pressed"] = 7
        parameters = compiled.construct_params(values)
        explain = "EXPLAIN " if postgresql else "EXPLAIN QUERY PLAN "
        positional = tuple(parameters[name] for name in compiled.positiontup or [])
        rows = await connection.exec_driver_sql(explain + str(compiled), positional)
        plan = "\n".join(" ".join(str(part) for part in row) for row in rows)
    assert "ix_outbox_chat_ref" in plan, plan
    assert "Seq Scan on outbox" not in plan and "SCAN outbox" not in plan, plan
