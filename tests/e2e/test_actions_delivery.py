"""The delivery engine against the emulator: Telegram's limits, injected errors, a crash."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Sequence

import pytest
from sqlalchemy import select

from bot.aiogram_runtime import AiogramTransport, create_bot
from bot.app import Storage
from bot.botapi import BulkSender
from bot.delivery import DeliveryConfig, DeliveryEngine
from botapi_emulator.emulator import RunningEmulator
from botapi_emulator.faults import FaultRule
from handlers.kernel.ports import ShiftedClock
from storage import outbox
from storage.models import OutboxMessage, UserPreference
from storage.outbox import Claimed, Outgoing


def people(emulator: RunningEmulator, count: int) -> list[int]:
    """Users who have started the bot (so it may write to them)."""
    ids = []
    for index in range(count):
        user = emulator.state.create_user(f"P{index}")
        emulator.state.chats[user.id].started = True
        ids.append(user.id)
    return ids


def shown(emulator: RunningEmulator, chat_id: int) -> list[str]:
    """Texts of the bot's messages in a chat."""
    return [m.text or "" for m in emulator.state.chats[chat_id].messages.values()]


async def enqueue(storage: Storage, clock: ShiftedClock, chats: Sequence[int]) -> None:
    """One message per chat (in this order) under the ref "t"."""
    messages = [Outgoing(chat, f"Hello <b>{chat}</b> #{i}") for i, chat in enumerate(chats)]
    async with storage.sessionmaker() as session, session.begin():
        await outbox.enqueue(session, messages, purpose="broadcast", ref="t", now=clock.now())


async def states(storage: Storage) -> dict[int, tuple[str, str | None, int]]:
    """Each row's (state, failure, attempts), by chat."""
    async with storage.sessionmaker() as session:
        rows = await session.execute(
            select(
                OutboxMessage.chat_id,
                OutboxMessage.state,
                OutboxMessage.failure,
                OutboxMessage.attempts,
            )
        )
        return {chat: (state, failure, attempts) for chat, state, failure, attempts in rows}


class Engines:
    """Starts engines on the emulator's lean send path; closes everything at the end."""

    def __init__(self, storage: Storage, emulator: RunningEmulator, clock: ShiftedClock) -> None:
        self.bot = create_bot(emulator.token, emulator.url)
        self.storage = storage
        self.clock = clock
        self.started: list[DeliveryEngine] = []

    async def start(self, **config: object) -> DeliveryEngine:
        engine = DeliveryEngine(
            self.storage.sessionmaker,
            BulkSender(AiogramTransport(self.bot)),
            self.clock,
            DeliveryConfig(**config),  # type: ignore[arg-type]
        )
        await engine.start()
        self.started.append(engine)
        return engine


@pytest.fixture
async def engines(
    storage: Storage, emulator: RunningEmulator, clock: ShiftedClock
) -> AsyncIterator[Engines]:
    """Delivery engines talking to the emulator."""
    made = Engines(storage, emulator, clock)
    yield made
    for engine in made.started:
        await engine.stop()
    await made.bot.session.close()


async def test_errors_injected_by_the_emulator_are_handled_each_its_way(
    emulator: RunningEmulator, storage: Storage, clock: ShiftedClock, engines: Engines
) -> None:
    ok, blocked, flaky, refused, dropped, slow = people(emulator, 6)
    faults = emulator.state.faults
    faults.add(FaultRule("sendMessage", chat_id=blocked, error_code=403, count=None))
    faults.add(FaultRule("sendMessage", chat_id=flaky, error_code=502, count=2))
    faults.add(
        FaultRule(
            "sendMessage",
            chat_id=refused,
            error_code=400,
            description="Bad Request: message is too long",
            count=None,
        )
    )
    faults.add(FaultRule("sendMessage", chat_id=dropped, action="drop", count=1))
    faults.add(FaultRule("sendMessage", chat_id=slow, error_code=429, retry_after=1, count=1))
    await enqueue(storage, clock, [slow, ok, blocked, blocked, flaky, refused, dropped])
    engine = await engines.start(retry_base=0.05)
    await engine.wait_until_idle(timeout=20)
    result = await states(storage)
    assert result[ok][0] == "sent" and result[slow][0] == "sent"
    assert result[flaky] == ("sent", None, 3)
    assert result[dropped][0] == "sent"
    assert result[blocked][:2] == ("failed", "blocked")
    assert result[refused][:2] == ("failed", "bad_request")
    assert shown(emulator, ok) == [f"Hello {ok} #1"]
    assert shown(emulator, flaky) == [f"Hello {flaky} #4"]
    sends = [e for e in emulator.state.request_log if e["method"] == "sendMessage"]
    assert sum(1 for e in sends if e["params"]["chat_id"] == blocked) == 1, "stopped after 403"
    limited = next(e for e in sends if e["status"] == 429)
    after = [e["time"] - limited["time"] for e in sends if e["id"] > limited["id"]]
    # At most the one send already in flight arrives before retry_after is over, however late a
    # busy machine lets it arrive; every other send waited for the pause (no stopwatch upper
    # bound on "in flight", which load would break).
    early = [t for t in after if t < 0.95]
    assert len(early) <= 1 and len(after) > len(early), "the whole sender waited retry_after"
    assert engine.stats.rate_limited == 1
    async with storage.sessionmaker() as session:
        preference = await session.get(UserPreference, blocked)
    assert preference is not None and preference.blocked_bot_at is not None


async def test_each_kind_of_403_is_recorded_for_what_it_says(
    emulator: RunningEmulator, storage: Storage, clock: ShiftedClock, engines: Engines
) -> None:
    blocked, gone, stranger = people(emulator, 3)
    emulator.state.chats[stranger].started = False  # never wrote to the bot
    emulator.state.users[gone].deactivated = True
    emulator.state.chats[blocked].blocked = True
    group = emulator.state.create_group("Old coalition", [blocked]).id
    emulator.state.remove_member(group, emulator.state.bot.id, kicked=True)
    await enqueue(storage, clock, [blocked, gone, stranger, group, group])
    engine = await engines.start()
    await engine.wait_until_idle(timeout=20)
    result = await states(storage)
    assert {chat: row[:2] for chat, row in result.items()} == {
        blocked: ("failed", "blocked"),
        gone: ("failed", "deactivated"),
        stranger: ("failed", "not_started"),
        group: ("failed", "not_in_chat"),
    }
    async with storage.sessionmaker() as session:
        reasons = {
            chat: (await session.get(UserPreference, chat))
            for chat in (blocked, gone, stranger, group)
        }
    assert {chat: p and p.unreachable_reason for chat, p in reasons.items()} == {
        blocked: "blocked",
        gone: "deactivated",
        stranger: "not_started",
        group: None,  # a group is not a person
    }


async def test_pacing_stays_under_telegrams_limits_overall_and_per_chat(
    emulator: RunningEmulator, storage: Storage, clock: ShiftedClock, engines: Engines
) -> None:
    chats = people(emulator, 40)
    await enqueue(storage, clock, [*chats, chats[0], chats[0]])
    engine = await engines.start(rate=30)
    await engine.wait_until_idle(timeout=20)
    sends = [e for e in emulator.state.request_log if e["method"] == "sendMessage"]
    assert [e["status"] for e in sends if e["status"] != 200] == []
    assert len(sends) == 42
    times = sorted(e["time"] for e in sends)
    assert max(sum(1 for t in times if s <= t < s + 1.0) for s in times) <= 30
    firsts = sorted({e["params"]["chat_id"]: e["time"] for e in reversed(sends)}.values())
    rate = (len(firsts) - 1) / (firsts[-1] - firsts[0])
    assert rate <= 30.5, "never faster than the configured rate (the target rate is a benchmark)"
    to_first = sorted(e["time"] for e in sends if e["params"]["chat_id"] == chats[0])
    assert all(b - a >= 0.95 for a, b in itertools.pairwise(to_first))


async def test_a_crash_mid_broadcast_loses_nothing_and_duplicates_at_most_the_window(
    emulator: RunningEmulator, storage: Storage, clock: ShiftedClock, engines: Engines
) -> None:
    chats = people(emulator, 300)
    # The sends to the last 100 hang a while (once each): the crash below surely finds sends in
    # flight, however fast or slow the machine (unhindered, a loaded machine's first engine
    # could deliver all 300 before the test looked).
    for chat in chats[200:]:
        emulator.state.faults.add(FaultRule("sendMessage", chat_id=chat, action="delay", delay=4))
    await enqueue(storage, clock, chats)
    first = await engines.start(rate=300)
    delivered = 0
    while delivered < 100:
        await first.wait_for_flush()
        delivered = sum(len(emulator.state.chats[c].messages) for c in chats)
    await first.abort()
    engines.started.remove(first)
    second = await engines.start(rate=300)
    assert 0 < second.stats.recovered <= first.window
    await second.wait_until_idle(timeout=20)
    counts = [len(emulator.state.chats[c].messages) for c in chats]
    assert min(counts) == 1, "nobody is skipped"
    duplicates = sum(counts) - len(chats)
    assert duplicates <= second.stats.recovered
    assert {s for s, _, _ in (await states(storage)).values()} == {"sent"}


async def test_a_graceful_stop_lets_a_database_call_in_progress_finish(
    engines: Engines,
    emulator: RunningEmulator,
    storage: Storage,
    clock: ShiftedClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """stop() cancels the engine's loops; a claim (a write transaction) running then must
    finish, not be cancelled halfway: an SQLite call cancelled inside its transaction kept
    the write lock, and the bot's next start failed with "database is locked"."""
    chats = people(emulator, 3)
    inside, release = asyncio.Event(), asyncio.Event()
    finished: list[int] = []
    real_claim = DeliveryEngine._claim

    async def slow_claim(self: DeliveryEngine, limit: int) -> list[Claimed]:
        inside.set()
        await release.wait()  # the write is under way when the engine is told to stop
        claimed = await real_claim(self, limit)
        finished.append(len(claimed))
        return claimed

    monkeypatch.setattr(DeliveryEngine, "_claim", slow_claim)
    await enqueue(storage, clock, chats)
    engine = await engines.start(rate=30)
    await asyncio.wait_for(inside.wait(), 10)
    stopping = asyncio.create_task(engine.stop())
    await asyncio.sleep(0.05)
    release.set()
    await asyncio.wait_for(stopping, 10)
    assert finished, "the claim was cancelled halfway"
    # What it claimed went back to the queue, so nothing waits for a recovery.
    assert {state for state, _, _ in (await states(storage)).values()} <= {"pending", "sent"}


async def test_sends_go_on_while_the_next_claim_waits_for_the_database(
    engines: Engines,
    emulator: RunningEmulator,
    storage: Storage,
    clock: ShiftedClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The next batch is claimed in the background: the rows in hand go on being sent while
    the claim waits (for SQLite's write lock, its thread, a loaded machine). The engine used
    to await each claim between two sends, and the pace lost that time."""
    chats = people(emulator, 120)
    claims = 0
    inside, release = asyncio.Event(), asyncio.Event()
    real_claim = DeliveryEngine._claim

    async def slow_second_claim(self: DeliveryEngine, limit: int) -> list[Claimed]:
        nonlocal claims
        claims += 1
        if claims == 2:
            inside.set()
            await release.wait()
        return await real_claim(self, limit)

    monkeypatch.setattr(DeliveryEngine, "_claim", slow_second_claim)
    await enqueue(storage, clock, chats)
    engine = await engines.start(rate=300)  # a window of 68 rows: claims of 34
    try:
        await asyncio.wait_for(inside.wait(), 10)
        delivered = sum(len(emulator.state.chats[c].messages) for c in chats)
        while delivered < 34:  # the whole first claim goes while the second one waits
            await asyncio.wait_for(engine.wait_for_flush(), 10)
            delivered = sum(len(emulator.state.chats[c].messages) for c in chats)
    finally:
        release.set()
    await engine.wait_until_idle(timeout=20)
    assert sum(len(emulator.state.chats[c].messages) for c in chats) == 120
