"""The inbox: an update is written down before it is confirmed, and handled after a crash."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import event, func, select

from bot.app import Storage
from bot.inbox import Inbox
from handlers import build_router
from handlers.kernel.context import Services
from handlers.kernel.dispatch import Dispatcher
from storage.models import InboxUpdate, ProcessedUpdate
from tests.support.recording import RecordingMessenger

AMIRA = 100_002


def _start(update_id: int, text: str = "/start", *, is_bot: bool = False) -> dict[str, Any]:
    person = {"id": AMIRA, "is_bot": is_bot, "first_name": "Amira", "language_code": "en"}
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": 1_790_000_000,
            "chat": {"id": AMIRA, "type": "private"},
            "from": person,
            "text": text,
        },
    }


async def _count(services: Services, model: type[Any]) -> int:
    async with services.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_an_update_recorded_but_not_handled_is_handled_at_the_next_start(
    services: Services, messenger: RecordingMessenger
) -> None:
    crashed = Inbox(Dispatcher(build_router(), services))
    event = await crashed.record(_start(7))
    assert event is not None and event.update_id == 7
    await crashed.record(_start(7))  # received twice (redelivered): kept once
    assert await _count(services, InboxUpdate) == 1
    assert messenger.chats.get(AMIRA) is None  # the crash came before it was handled

    restarted = Inbox(Dispatcher(build_router(), services))
    assert await restarted.replay() == 1
    assert any("Welcome to" in shown.text for shown in messenger.chats[AMIRA])
    assert await _count(services, InboxUpdate) == 0
    assert await _count(services, ProcessedUpdate) == 1
    assert await restarted.replay() == 0


async def test_handling_an_update_empties_its_inbox_row_once(
    services: Services, messenger: RecordingMessenger
) -> None:
    dispatcher = Dispatcher(build_router(), services)
    inbox = Inbox(dispatcher)
    await inbox.receive(_start(8))
    await dispatcher.drain(10.0)
    assert await _count(services, InboxUpdate) == 0
    welcomes = [s for s in messenger.chats[AMIRA] if "Welcome to" in s.text]
    await inbox.receive(_start(8))  # Telegram sent it again: nothing happens twice
    await dispatcher.drain(10.0)
    assert [s for s in messenger.chats[AMIRA] if "Welcome to" in s.text] == welcomes
    assert await _count(services, InboxUpdate) == 0


async def test_updates_chorus_does_not_use_are_not_kept(services: Services) -> None:
    inbox = Inbox(Dispatcher(build_router(), services))
    assert await inbox.record(_start(9, is_bot=True)) is None
    assert await inbox.record({"update_id": 10, "edited_message": {}}) is None
    assert await _count(services, InboxUpdate) == 0


async def test_an_update_refused_by_the_rate_limit_leaves_the_inbox(services: Services) -> None:
    dispatcher = Dispatcher(build_router(), services)
    inbox = Inbox(dispatcher)
    for update_id in range(100, 140):  # a burst over the limit (30, then 2 a second)
        await inbox.receive(_start(update_id, "/help"))
    await dispatcher.drain(30.0)
    assert await _count(services, InboxUpdate) == 0


async def test_a_getupdates_batch_is_recorded_in_one_statement_then_handled_in_order(
    services: Services, storage: Storage, messenger: RecordingMessenger
) -> None:
    """Issue 17: a batch (up to 100 updates in a storm) is one INSERT in one transaction, not a
    transaction per update; what Chorus does not use is left out, a copy kept once."""
    dispatcher = Dispatcher(build_router(), services)
    inbox = Inbox(dispatcher)
    sent: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        sent.append(statement)

    batch = [_start(20), _start(21, is_bot=True), {"update_id": 22, "edited_message": {}}]
    event.listen(storage.engine.sync_engine, "before_cursor_execute", count)
    try:
        events = await inbox.record_batch([*batch, _start(23, "/help")])
    finally:
        event.remove(storage.engine.sync_engine, "before_cursor_execute", count)
    assert [e.update_id for e in events] == [20, 23]
    assert [s for s in sent if "inbox" in s and s.startswith("INSERT")] == sent[-1:]
    assert len([s for s in sent if s.startswith("INSERT")]) == 1
    assert await _count(services, InboxUpdate) == 2
    await inbox.receive_batch([_start(20), _start(23, "/help")])  # sent again: kept once
    await dispatcher.drain(10.0)
    assert await _count(services, InboxUpdate) == 0
    assert await _count(services, ProcessedUpdate) == 2
    texts = [shown.text for shown in messenger.chats[AMIRA]]
    assert sum("Welcome to" in text for text in texts) == 1


async def test_webhook_requests_arriving_together_are_written_together(
    services: Services, storage: Storage, messenger: RecordingMessenger
) -> None:
    """Issue 17: a storm of webhook requests (one update each) was a transaction per update.
    Those that arrive while a write is under way are written by the next one, together; each
    request still returns only once its update is written, and each update is handled once."""
    dispatcher = Dispatcher(build_router(), services)
    inbox = Inbox(dispatcher)
    people = [AMIRA + i for i in range(1, 21)]
    updates = []
    for number, person in enumerate(people, start=40):
        update = _start(number)
        update["message"]["chat"]["id"] = update["message"]["from"]["id"] = person
        updates.append(update)
    inserts: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.startswith("INSERT INTO inbox"):
            inserts.append(statement)

    event.listen(storage.engine.sync_engine, "before_cursor_execute", count)
    try:
        await asyncio.gather(*(inbox.accept(update, 5.0) for update in updates))
        recorded = 0
        async with services.sessionmaker() as session:  # one snapshot: handling goes on
            for model in (InboxUpdate, ProcessedUpdate):
                recorded += int(await session.scalar(select(func.count()).select_from(model)) or 0)
        await dispatcher.drain(10.0)
    finally:
        event.remove(storage.engine.sync_engine, "before_cursor_execute", count)
    assert recorded == 20  # every request returned after its update was written
    assert 1 <= len(inserts) <= 2, len(inserts)  # the first alone, the others together
    assert await _count(services, InboxUpdate) == 0
    assert await _count(services, ProcessedUpdate) == 20
    assert all(any("Welcome to" in m.text for m in messenger.chats[p]) for p in people)


async def test_a_failed_group_write_leaves_each_request_to_try_alone(
    services: Services, storage: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A group's write fails (the database refused it): no request is answered as written;
    each tries again alone, within its own time, and its update is kept."""
    dispatcher = Dispatcher(build_router(), services)
    inbox = Inbox(dispatcher)
    failed: list[int] = []

    async def refuse(updates: Any) -> Any:
        failed.append(len(updates))
        raise RuntimeError("database is locked")

    monkeypatch.setattr(inbox, "record_many", refuse)
    updates = [_start(60), _start(61, "/help")]
    await asyncio.gather(*(inbox.accept(update, 5.0) for update in updates))
    await dispatcher.drain(10.0)
    assert failed  # the group write was tried, and failed
    assert await _count(services, ProcessedUpdate) == 2


def _of(update_id: int, person: int, text: str = "/start") -> dict[str, Any]:
    update = _start(update_id, text)
    update["message"]["chat"]["id"] = update["message"]["from"]["id"] = person
    return update


async def _payloads(services: Services) -> dict[int, dict[str, Any]]:
    async with services.sessionmaker() as session:
        rows = await session.execute(select(InboxUpdate.update_id, InboxUpdate.payload))
        return {update_id: dict(payload) for update_id, payload in rows}


@pytest.fixture(params=["sqlite", "postgresql"])
def kept_in(request: pytest.FixtureRequest) -> Storage:
    """SQLite, then PostgreSQL (a skip without CHORUS_TEST_POSTGRES_URL)."""
    name = "storage" if request.param == "sqlite" else "pg_storage"
    opened: Storage = request.getfixturevalue(name)
    return opened


async def test_a_getupdates_batch_keeps_its_good_updates_when_one_cannot_be_kept(
    services: Services, kept_in: Storage, caplog: pytest.LogCaptureFixture
) -> None:
    """An update_id no BIGINT holds (or a sender's id) used to fail the batch's one INSERT,
    tried again for ever (the polling stuck), as did a NaN on PostgreSQL (a lenient parser's,
    no JSON); a lone UTF-16 surrogate (a lenient parser's too) was kept as it came. Now the
    batch is still one INSERT, of the updates that can be kept: the surrogate as U+FFFD, the
    NaN as null; the others are logged and dropped."""
    services.sessionmaker = kept_in.sessionmaker
    inbox = Inbox(Dispatcher(build_router(), services))
    too_far = _of(2**63, AMIRA + 1)
    nobody = _of(301, 2**64)
    mended = _of(302, AMIRA + 2, "caf\ud83d")
    no_number = _of(303, AMIRA + 3)
    no_number["message"]["date"] = float("nan")
    inserts: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.startswith("INSERT INTO inbox"):
            inserts.append(statement)

    event.listen(kept_in.engine.sync_engine, "before_cursor_execute", count)
    try:
        batch = [_of(300, AMIRA), too_far, nobody, mended, no_number]
        events = await inbox.record_batch(batch)
    finally:
        event.remove(kept_in.engine.sync_engine, "before_cursor_execute", count)
    assert [e.update_id for e in events] == [300, 302, 303]
    assert events[1].text == "caf\ufffd"
    assert len(inserts) == 1
    kept = await _payloads(services)
    assert sorted(kept) == [300, 302, 303]
    assert kept[302]["message"]["text"] == "caf\ufffd"
    assert kept[303]["message"]["date"] is None
    dropped = [r.getMessage() for r in caplog.records if "cannot be read" in r.getMessage()]
    assert len(dropped) == 2, dropped


async def test_a_bad_webhook_update_costs_its_group_nothing(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A lenient parse let through an update_id of 2**63 (no BIGINT holds it) into a group
    write: the group's write failed and each of its requests was written again alone. Now it
    is answered 400 before it joins (as a body that is no update, or no JSON: NaN, which no
    PostgreSQL json takes); one whose sender's id no BIGINT holds is answered 200 and dropped
    (as an unreadable one); a lone surrogate is kept as U+FFFD; the good updates that arrived
    together are written together, once."""
    import json

    from aiohttp import web
    from aiohttp.test_utils import TestClient, TestServer

    from bot.webhook import SECRET_HEADER, update_handler

    dispatcher = Dispatcher(build_router(), services)
    inbox = Inbox(dispatcher)
    handed: list[list[int]] = []
    monkeypatch.setattr(
        dispatcher, "hand_over", lambda events: handed.append([e.update_id for e in events])
    )
    monkeypatch.setattr(dispatcher, "spawn", lambda event: handed.append([-event.update_id]))
    writes: list[int] = []
    alone: list[Any] = []
    record_many, record = inbox.record_many, inbox.record
    bodies = {
        400: json.dumps(_of(400, AMIRA)),
        401: json.dumps(_of(401, AMIRA + 1)),
        402: json.dumps(_of(402, AMIRA + 2, "caf\ud83d")),  # "caf\\ud83d": orjson refuses it
        2**63: json.dumps(_of(2**63, AMIRA + 3)),
        0: json.dumps(_of(0, AMIRA + 4)),
        403: json.dumps(_of(403, 2**64)),
        404: json.dumps(_of(404, AMIRA + 5)),
        405: json.dumps(_of(405, AMIRA + 6)).replace("1790000000", "NaN"),  # no JSON
    }
    answered: list[int] = []

    def all_in() -> bool:  # every request is in a write, waiting for one, or answered
        return sum(writes) + len(inbox._waiting) + len(answered) >= len(bodies)

    async def held(updates: Any) -> Any:
        writes.append(len(updates))
        if len(writes) == 1:  # the first write waits for the others to arrive
            async with asyncio.timeout(30):
                # Turns of the loop, no time: what it waits for happens inside the inbox.
                while not all_in():  # noqa: ASYNC110
                    await asyncio.sleep(0)
        return await record_many(updates)

    async def counted(update: Any) -> Any:
        alone.append(update.get("update_id"))
        return await record(update)

    monkeypatch.setattr(inbox, "record_many", held)
    monkeypatch.setattr(inbox, "record", counted)
    app = web.Application()
    app.router.add_post("/hook", update_handler(inbox, "s3cret"))

    async with TestClient(TestServer(app)) as client:

        async def post(update_id: int) -> tuple[int, int]:
            answer = await client.post(
                "/hook", data=bodies[update_id].encode(), headers={SECRET_HEADER: "s3cret"}
            )
            answered.append(update_id)
            return update_id, answer.status

        statuses = dict(await asyncio.gather(*(post(update_id) for update_id in bodies)))
    assert alone == []  # no request was written again alone
    assert len(writes) <= 2 and sum(writes) == 4, writes  # at most the first, then the others
    assert statuses == {
        **{400: 200, 401: 200, 402: 200, 403: 200, 404: 200},
        **{2**63: 400, 0: 400, 405: 400},
    }
    assert sorted(i for group in handed for i in group) == [400, 401, 402, 404]  # in groups
    kept = await _payloads(services)
    assert sorted(kept) == [400, 401, 402, 404]
    assert kept[402]["message"]["text"] == "caf\ufffd"
