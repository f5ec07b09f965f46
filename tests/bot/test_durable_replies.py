"""Replies are recorded with the change they answer, and delivered through floods and crashes."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from sqlalchemy import select

from bot.delivery import DeliveryConfig, DeliveryEngine, MessengerTransport
from handlers import build_router
from handlers.kernel.context import Services
from handlers.kernel.dispatch import Dispatcher
from handlers.kernel.ports import BotBlocked, RetryAfter, TransientError
from storage import outbox
from storage.models import OutboxMessage
from storage.outbox import Claimed
from tests.support.recording import Conversation, RecordingMessenger

AMIRA = 100_002


class Stuck:
    """A transport whose sends never come back: the bot dies with them in flight."""

    def __init__(self) -> None:
        self.called = asyncio.Event()

    async def send(self, item: Claimed, paid: bool) -> int:
        self.called.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


class Flooded(MessengerTransport):
    """Telegram refusing the first `refusals` sends with 429 (then 502s), then accepting."""

    def __init__(self, messenger: RecordingMessenger, refusals: int, errors: int = 0) -> None:
        super().__init__(messenger)
        self.refusals = refusals
        self.errors = errors

    async def send(self, item: Claimed, paid: bool) -> int:
        if self.refusals:
            self.refusals -= 1
            raise RetryAfter(0.01, "Too Many Requests: retry after 1")
        if self.errors:
            self.errors -= 1
            raise TransientError("Bad Gateway")
        return await super().send(item, paid)


def _engine(services: Services, transport: Any) -> DeliveryEngine:
    return DeliveryEngine(
        services.sessionmaker,
        transport,
        services.clock,
        DeliveryConfig(retry_base=0.01, flush_interval=0.01, private_interval=0.05),
    )


async def _states(services: Services) -> list[tuple[str, str]]:
    async with services.sessionmaker() as session:
        rows = await session.execute(
            select(OutboxMessage.purpose, OutboxMessage.state).order_by(OutboxMessage.id)
        )
        return [(purpose, state) for purpose, state in rows]


def _welcomes(messenger: RecordingMessenger) -> list[str]:
    return [s.text for s in messenger.chats.get(AMIRA, []) if "Welcome to" in s.text]


async def test_a_kill_between_commit_and_send_loses_no_reply(
    services: Services, messenger: RecordingMessenger
) -> None:
    stuck = Stuck()
    services.delivery = crashed = _engine(services, stuck)
    await crashed.start()
    dispatcher = Dispatcher(build_router(), services)
    amira = Conversation(dispatcher, messenger).person("Amira", user_id=AMIRA)
    handling = asyncio.create_task(amira.send("/start"))
    await asyncio.wait_for(stuck.called.wait(), 10.0)  # committed; the welcome is on its way
    handling.cancel()  # the kill
    await crashed.abort()
    assert _welcomes(messenger) == []
    assert ("reply", "sending") in await _states(services)

    services.delivery = restarted = _engine(services, MessengerTransport(messenger))
    await restarted.start()
    await restarted.wait_until_idle(30.0)
    await restarted.stop()
    assert len(_welcomes(messenger)) == 1
    assert restarted.stats.recovered >= 1
    assert await _states(services) == []  # delivered replies leave no row


async def test_a_reply_meeting_429s_and_5xx_is_sent_again_until_delivered(
    services: Services, messenger: RecordingMessenger
) -> None:
    services.delivery = engine = _engine(services, Flooded(messenger, refusals=6, errors=3))
    await engine.start()
    dispatcher = Dispatcher(build_router(), services)
    amira = Conversation(dispatcher, messenger).person("Amira", user_id=AMIRA)
    await amira.send("/start")
    await engine.wait_until_idle(30.0)
    await engine.stop()
    assert len(_welcomes(messenger)) == 1
    assert engine.stats.rate_limited == 6
    assert await _states(services) == []  # delivered replies leave no row


async def test_delivered_replies_are_no_longer_held_by_the_engine(
    services: Services, messenger: RecordingMessenger
) -> None:
    """The rows an engine holds are renewed (several workers) until their result is written:
    delivered replies stayed held forever, so the set (and each renewal's list of ids) grew
    with every reply the worker ever sent."""
    services.delivery = engine = _engine(services, MessengerTransport(messenger))
    await engine.start()
    dispatcher = Dispatcher(build_router(), services)
    amira = Conversation(dispatcher, messenger).person("Amira", user_id=AMIRA)
    await amira.send("/start")
    await amira.send("/help")
    await engine.wait_until_idle(30.0)
    await engine.stop()
    assert len(_welcomes(messenger)) == 1
    assert engine._held == set()


async def test_replies_delivered_do_not_send_the_engine_looking_for_rows(
    services: Services, messenger: RecordingMessenger, monkeypatch: Any
) -> None:
    """Each flush of delivered replies woke the engine's loop, which then claimed (finding
    nothing: replies are recorded already in flight) and looked for the next row due: four
    statements a flush, a third of a webhook worker's statements in a storm."""
    claims: list[int] = []
    claim = outbox.claim

    async def counted(*args: Any, **kwargs: Any) -> Any:
        claims.append(1)
        return await claim(*args, **kwargs)

    monkeypatch.setattr(outbox, "claim", counted)
    services.delivery = engine = _engine(services, MessengerTransport(messenger))
    await engine.start()
    await engine.wait_until_idle(30.0)
    claims.clear()
    dispatcher = Dispatcher(build_router(), services)
    amira = Conversation(dispatcher, messenger).person("Amira", user_id=AMIRA)
    for command in ("/start", "/help", "/help", "/help"):
        await amira.send(command)
        await engine.wait_until_idle(30.0)
    await engine.stop()
    assert len(_welcomes(messenger)) == 1
    assert claims == [], len(claims)


class Held(MessengerTransport):
    """Records what is sent; the first send waits until released (a slow answer)."""

    def __init__(self, messenger: RecordingMessenger) -> None:
        super().__init__(messenger)
        self.release = asyncio.Event()
        self.started = asyncio.Event()
        self.sent: list[Claimed] = []

    async def send(self, item: Claimed, paid: bool) -> int:
        if not self.sent:
            self.sent.append(item)
            self.started.set()
            await self.release.wait()
            return item.edit_of or 1
        self.sent.append(item)
        return item.edit_of or 1


async def test_edits_of_a_message_queued_together_send_only_the_latest(
    services: Services, messenger: RecordingMessenger
) -> None:
    """Can't, Maybe, Can't, Maybe pressed within a second: each press edits the card, and the
    edits queued behind the first went out one a second, the card replaying every answer for
    seconds after the last (sandbox, both languages). A queued edit is dropped for a later
    edit of the same message; an edit of the text is not dropped for one of the buttons."""
    transport = Held(messenger)
    services.delivery = engine = _engine(services, transport)
    await engine.start()

    def edit(row: int, keyboard_only: bool = True) -> Claimed:
        text = f"card {row}"
        return Claimed(row, AMIRA, text, None, None, 1, 77, True, keyboard_only)

    first = asyncio.create_task(engine.send_reply(edit(1)))
    async with asyncio.timeout(5):
        await transport.started.wait()
    for row, keyboard_only in ((2, True), (3, False), (4, True), (5, True)):
        await engine.send_reply(edit(row, keyboard_only))
    transport.release.set()
    await first
    await engine.wait_until_idle(30.0)
    await engine.stop()
    # 2 gives way to 3 (the whole message), 4 to 5; 3 changes the text, so it goes.
    assert [item.id for item in transport.sent] == [1, 3, 5]
    assert engine.stats.superseded == 2


async def test_without_a_delivery_engine_replies_are_sent_directly(
    services: Services, messenger: RecordingMessenger
) -> None:
    dispatcher = Dispatcher(build_router(), services)
    await Conversation(dispatcher, messenger).person("Amira", user_id=AMIRA).send("/start")
    assert len(_welcomes(messenger)) == 1
    assert await _states(services) == []


async def test_an_edit_is_recorded_and_sent_as_an_edit(
    services: Services, messenger: RecordingMessenger
) -> None:
    services.delivery = engine = _engine(services, MessengerTransport(messenger))
    await engine.start()
    dispatcher = Dispatcher(build_router(), services)
    amira = Conversation(dispatcher, messenger).person("Amira", user_id=AMIRA)
    await amira.send("/start")
    shown = len(amira.messages)
    await amira.press("English")  # edits the language question, then asks the next one
    await engine.wait_until_idle(30.0)
    await engine.stop()
    assert any("individual" in text for text in amira.texts_since(shown - 1))
    assert await _states(services) == []  # delivered replies leave no row


class SlowFirstAnswer(MessengerTransport):
    """Telegram answering a chat's first message late, and then with 429 — at least until it
    has been asked to send that chat's next message, or for 0.5 s."""

    def __init__(self, messenger: RecordingMessenger) -> None:
        super().__init__(messenger)
        self.first: int | None = None
        self.asked_for_a_later_one = asyncio.Event()

    async def send(self, item: Claimed, paid: bool) -> int:
        if self.first is None:
            self.first = item.id
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.asked_for_a_later_one.wait(), 0.5)
            raise RetryAfter(0.01, "Too Many Requests: retry after 1")
        if item.id != self.first:
            self.asked_for_a_later_one.set()
        return await super().send(item, paid)


async def test_a_429_after_a_slow_answer_keeps_a_chats_messages_in_order(
    services: Services, messenger: RecordingMessenger
) -> None:
    """/start answers with the welcome, then the language question. Telegram took longer than a
    chat's interval to answer the welcome, with a 429: the question had gone meanwhile, and the
    welcome came after it (CI, python-telegram-bot, 100 people starting at once). A chat's next
    message now waits for the answer to its previous one."""
    services.delivery = engine = _engine(services, SlowFirstAnswer(messenger))
    await engine.start()
    dispatcher = Dispatcher(build_router(), services)
    amira = Conversation(dispatcher, messenger).person("Amira", user_id=AMIRA)
    await amira.send("/start")
    await engine.wait_until_idle(30.0)
    await engine.stop()
    texts = [s.text for s in messenger.chats.get(AMIRA, [])]
    welcome = next(i for i, text in enumerate(texts) if "Welcome to" in text)
    question = next(i for i, text in enumerate(texts) if "Which language" in text)
    assert welcome < question, texts
    assert engine.stats.rate_limited == 1


async def test_a_progress_report_waiting_out_a_429_does_not_hold_the_results(
    services: Services, messenger: RecordingMessenger
) -> None:
    """The broadcast's progress report (the engine's `on_flush`) can wait out a 429 while it
    edits the coordinator's message. The flush used to await it: no result was recorded
    meanwhile, and the rows in flight held the window. Now the report runs beside."""
    gate, reporting, release = asyncio.Event(), asyncio.Event(), asyncio.Event()
    reported: list[set[str]] = []

    class Gated(MessengerTransport):
        async def send(self, item: Claimed, paid: bool) -> int:
            if item.chat_id == AMIRA + 1:
                await gate.wait()  # the second message's answer comes after the first report
            return await super().send(item, paid)

    async def report(refs: set[str]) -> None:
        reported.append(refs)
        reporting.set()
        await release.wait()  # waiting out Telegram's "retry after"

    engine = DeliveryEngine(
        services.sessionmaker,
        Gated(messenger),
        services.clock,
        DeliveryConfig(flush_interval=0.01, report_interval=0.0),
        on_flush=report,
    )
    async with services.sessionmaker() as session, session.begin():
        messages = [outbox.Outgoing(AMIRA, "first"), outbox.Outgoing(AMIRA + 1, "second")]
        await outbox.enqueue(
            session, messages, purpose="broadcast", ref="b7", now=services.clock.now()
        )
    await engine.start()
    try:
        async with asyncio.timeout(10):
            await reporting.wait()
            gate.set()
            while [state for _, state in await _states(services)] != [outbox.SENT] * 2:
                await engine.wait_for_flush()
        assert reported == [{"b7"}]  # still editing: the second result waits for the next one
        release.set()
    finally:
        release.set()
        await engine.stop()
    assert reported == [{"b7"}, {"b7"}]  # reported again once idle


async def test_a_person_who_unblocks_the_bot_is_written_to_while_a_broadcast_runs(
    services: Services, messenger: RecordingMessenger
) -> None:
    """A 403 ("blocked") marked the chat unreachable in the engine until nothing was out: never
    during a long broadcast, so a volunteer who unblocked the bot got none of their notices
    until the outbox ran dry. It now holds for the rows claimed with it, not later ones."""
    blocked, stuck, sent_again = {AMIRA}, asyncio.Event(), asyncio.Event()

    class Telegram(MessengerTransport):
        async def send(self, item: Claimed, paid: bool) -> int:
            if item.chat_id == AMIRA + 1:
                stuck.set()
                await asyncio.Event().wait()  # a send still out: the engine is never idle
            if item.chat_id in blocked:
                raise BotBlocked("Forbidden: bot was blocked by the user")
            if item.chat_id == AMIRA:
                sent_again.set()
            return await super().send(item, paid)

    engine = DeliveryEngine(
        services.sessionmaker,
        Telegram(messenger),
        services.clock,
        DeliveryConfig(flush_interval=3600.0),
    )

    async def enqueue(*messages: outbox.Outgoing) -> None:
        async with services.sessionmaker() as session, session.begin():
            now = services.clock.now()
            await outbox.enqueue(session, messages, purpose="notice", ref=None, now=now)

    await enqueue(outbox.Outgoing(AMIRA + 1, "still out"), outbox.Outgoing(AMIRA, "refused"))
    await engine.start()
    try:
        async with asyncio.timeout(10):
            await stuck.wait()
            while ("notice", outbox.FAILED) not in await _states(services):
                await engine._flush()
                await asyncio.sleep(0)
            blocked.clear()  # they unblock the bot
            await engine._flush()
            await engine._flush()
            await enqueue(outbox.Outgoing(AMIRA, "you were promoted"))
            engine.wake()
            await sent_again.wait()
        assert "you were promoted" in [s.text for s in messenger.chats[AMIRA]]
    finally:
        await engine.abort()


async def test_rows_claimed_with_a_row_answered_403_are_not_sent(
    services: Services, messenger: RecordingMessenger
) -> None:
    """Two notices to a person who blocked the bot are claimed in one batch. The first is
    answered 403; the second waits its turn (the chat's 1 s interval, while the flush loop
    turns every 50 ms). It fails unsent, however many flushes pass meanwhile (a hold of two
    flushes let it be sent, and refused again)."""
    gate, holding = asyncio.Event(), asyncio.Event()
    tried: list[int] = []

    class Telegram(MessengerTransport):
        async def send(self, item: Claimed, paid: bool) -> int:
            tried.append(item.chat_id)
            if item.chat_id == AMIRA:
                raise BotBlocked("Forbidden: bot was blocked by the user")
            if item.chat_id == AMIRA + 1:
                holding.set()
                await gate.wait()  # the only request slot is busy meanwhile
            return await super().send(item, paid)

    engine = DeliveryEngine(
        services.sessionmaker,
        Telegram(messenger),
        services.clock,
        DeliveryConfig(flush_interval=3600.0, max_in_flight=1, paced=False),
    )
    async with services.sessionmaker() as session, session.begin():
        now = services.clock.now()
        await outbox.enqueue(
            session,
            [
                outbox.Outgoing(AMIRA, "first notice"),
                outbox.Outgoing(AMIRA + 1, "someone else"),
                outbox.Outgoing(AMIRA + 2, "someone else again"),
                outbox.Outgoing(AMIRA, "second notice, claimed with the first"),
            ],
            purpose="notice",
            ref=None,
            now=now,
        )
    await engine.start()
    try:
        async with asyncio.timeout(10):
            await holding.wait()
            # the flush loop's turns while the second row to AMIRA waits its turn
            await engine._flush()
            await engine._flush()
            gate.set()
            for _ in range(100_000):  # event-loop turns, until the engine has done its work
                if len(tried) >= 3 and not (engine._ready or engine._sends or engine._deferred):
                    break
                await asyncio.sleep(0)
    finally:
        await engine.stop()
    # one request to a chat known to refuse; the row claimed with it fails unsent
    assert tried.count(AMIRA) == 1, tried


async def test_stop_leaves_no_report_running(
    services: Services, messenger: RecordingMessenger
) -> None:
    """stop() waits up to 10 s for the report still running, then cancels it, and returns
    only once it is done (the app then closes the messenger and the database engine). The
    10 s wait is shortened here."""
    reporting = asyncio.Event()

    async def report(refs: set[str]) -> None:
        reporting.set()
        await asyncio.Event().wait()  # editing the report, waiting out a long 429

    engine = DeliveryEngine(
        services.sessionmaker,
        MessengerTransport(messenger),
        services.clock,
        DeliveryConfig(flush_interval=0.01, report_interval=0.0),
        on_flush=report,
    )
    original = engine._reports_done

    async def shortly(timeout: float) -> None:  # noqa: ASYNC109
        await original(0.0)

    engine._reports_done = shortly  # type: ignore[method-assign]
    async with services.sessionmaker() as session, session.begin():
        await outbox.enqueue(
            session,
            [outbox.Outgoing(AMIRA, "x")],
            purpose="broadcast",
            ref="b1",
            now=services.clock.now(),
        )
    await engine.start()
    async with asyncio.timeout(10):
        await reporting.wait()
    await engine.stop()
    assert engine._reporting is not None
    assert engine._reporting.done(), "stop() returned with the report task still pending"
