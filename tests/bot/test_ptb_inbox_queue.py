"""The PTB runtime's update queue: a getUpdates answer is recorded in one transaction, and no
getUpdates (which confirms what came before) goes out while an update put in the queue is not
recorded."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy import event, func, select
from sqlalchemy.engine import Engine
from telegram import Update

from bot.inbox import Inbox
from bot.ops.health import Heartbeat
from bot.ptb_runtime import InboxQueue, UpdatesRequest
from handlers import build_router
from handlers.kernel.context import Services
from handlers.kernel.dispatch import Dispatcher
from handlers.kernel.events import Event
from storage.models import InboxUpdate


def _start(update_id: int, person: int) -> dict[str, Any]:
    sender = {"id": person, "is_bot": False, "first_name": "Amira", "language_code": "en"}
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": 1_790_000_000,
            "chat": {"id": person, "type": "private"},
            "from": sender,
            "text": "/start",
        },
    }


ANSWER = [_start(31, 100_031), _start(32, 100_032), _start(33, 100_033)]


@pytest.fixture
async def url() -> AsyncIterator[str]:
    """A Bot API that answers every getUpdates with ANSWER."""

    async def get_updates(_: web.Request) -> web.Response:
        return web.json_response({"ok": True, "result": ANSWER})

    app = web.Application()
    app.router.add_post("/bot/getUpdates", get_updates)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/bot/getUpdates"
    finally:
        await runner.cleanup()


@pytest.fixture
def commits() -> Iterator[list[int]]:
    """One entry per committed transaction, on every engine."""
    seen: list[int] = []

    def one(*_: Any) -> None:
        seen.append(1)

    event.listen(Engine, "commit", one)
    yield seen
    event.remove(Engine, "commit", one)


async def _recorded(services: Services) -> int:
    async with services.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(InboxUpdate)) or 0)


async def _queue(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> tuple[InboxQueue, UpdatesRequest, list[int]]:
    """A queue whose dispatcher notes the updates handed over instead of handling them."""
    dispatcher = Dispatcher(build_router(), services)
    handed: list[int] = []
    monkeypatch.setattr(dispatcher, "spawn", lambda event: handed.append(event.update_id))
    monkeypatch.setattr(
        dispatcher, "spawn_batch", lambda events: handed.extend(e.update_id for e in events)
    )
    request = UpdatesRequest(Heartbeat(), connection_pool_size=1)
    await request.initialize()
    queue = InboxQueue(request)
    queue.inbox = Inbox(dispatcher)
    return queue, request, handed


async def test_an_answer_is_recorded_in_one_transaction_when_its_last_update_is_put(
    services: Services, monkeypatch: pytest.MonkeyPatch, url: str, commits: list[int]
) -> None:
    queue, request, handed = await _queue(services, monkeypatch)
    try:
        status, _ = await request.do_request(url, "POST")
        assert status == 200
        updates = [Update.de_json(raw, None) for raw in ANSWER]
        await queue.put(updates[0])
        await queue.put(updates[1])
        assert await _recorded(services) == 0 and handed == []  # kept: the offset has not moved
        before = len(commits)
        await queue.put(updates[2])  # PTB moves its offset past the answer once this returns
        assert len(commits) - before == 1
        assert await _recorded(services) == 3
        assert handed == [31, 32, 33]
    finally:
        await request.shutdown()


async def test_updates_kept_are_recorded_before_the_next_get_updates_goes_out(
    services: Services, monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    queue, request, handed = await _queue(services, monkeypatch)
    try:
        await request.do_request(url, "POST")
        await queue.put(Update.de_json(ANSWER[0], None))
        assert await _recorded(services) == 0
        await request.do_request(url, "POST")  # it would confirm update 31
        assert await _recorded(services) == 1 and handed == [31]
    finally:
        await request.shutdown()


async def test_the_inbox_keeps_updates_as_telegram_sent_them(
    services: Services, monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    queue, request, _ = await _queue(services, monkeypatch)
    recorded: list[Any] = []
    record_batch = Inbox.record_batch

    async def noting(inbox: Inbox, updates: Any) -> list[Event]:
        recorded.extend(updates)
        return await record_batch(inbox, updates)

    monkeypatch.setattr(Inbox, "record_batch", noting)
    try:
        await request.do_request(url, "POST")
        for raw in ANSWER:
            await queue.put(Update.de_json(raw, None))
        assert recorded == ANSWER  # not PTB's Update.to_dict of them
        alone = _start(40, 100_040)  # not in the latest answer: recorded at once, as PTB sees it
        await queue.put(Update.de_json(alone, None))
        assert recorded[-1]["update_id"] == 40 and await _recorded(services) == 4
    finally:
        await request.shutdown()


async def test_an_answer_with_a_lone_surrogate_is_recorded_as_it_came_in_one_transaction(
    services: Services, monkeypatch: pytest.MonkeyPatch, url: str, commits: list[int]
) -> None:
    """orjson refuses a lone UTF-16 surrogate ("\\ud83d" alone), which PTB's parser takes: the
    answer's updates then came as PTB's to_dict of them, each recorded alone. Now the answer
    is read as PTB reads it and recorded in one transaction, the surrogate kept as U+FFFD."""
    odd = _start(35, 100_035)
    odd["message"]["text"] = "caf\ud83d"
    answer = [_start(34, 100_034), odd]
    monkeypatch.setitem(globals(), "ANSWER", answer)  # what the Bot API answers
    queue, request, handed = await _queue(services, monkeypatch)
    try:
        await request.do_request(url, "POST")
        before = len(commits)
        for raw in answer:
            await queue.put(Update.de_json(raw, None))
        assert len(commits) - before == 1
        assert handed == [34, 35]
        async with services.sessionmaker() as session:
            kept = await session.scalar(
                select(InboxUpdate.payload).where(InboxUpdate.update_id == 35)
            )
        assert kept is not None and kept["message"]["text"] == "caf\ufffd"
    finally:
        await request.shutdown()
