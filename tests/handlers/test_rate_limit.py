"""The per-person rate limit on commands and buttons, and messages from other bots."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from typing import Any

import pytest

from handlers.kernel.dispatch import RateLimit, RateLimiter
from handlers.kernel.events import Chat, ChatType, Event, EventKind, Person
from handlers.kernel.ports import ShiftedClock
from tests.support.recording import Conversation


async def test_too_many_commands_get_one_slow_down_then_work_again(
    conversation: Conversation, clock: ShiftedClock
) -> None:
    dispatcher = conversation.dispatcher
    dispatcher.limiter = RateLimiter(RateLimit(burst=3, per_second=0.001, warn_every=60), clock)
    lee = conversation.person("Lee", language_code="fr")
    for _ in range(6):
        await lee.send("/help")
    texts = [m.text for m in lee.messages]
    assert sum("Doucement" in t for t in texts) == 1
    assert len(texts) == 4  # three answers and one "slow down"
    text, alert = await lee.press_data(1, "lang:fr")
    assert text is None and not alert  # silently: one warning per window
    await lee.send("I am typing an answer")  # dialog answers are not limited
    assert len(lee.messages) == 5
    clock.advance(timedelta(seconds=3600))
    await lee.send("/help")
    assert "Doucement" not in lee.last.text
    other = conversation.person("Kim")
    await other.send("/help")
    assert "Slow down" not in other.last.text


async def test_messages_from_other_bots_are_ignored(conversation: Conversation) -> None:
    robot = Person(4444, "Spam", is_bot=True)
    event = Event(1, EventKind.MESSAGE, robot, Chat(4444, ChatType.PRIVATE), text="/start")
    await conversation.dispatcher.feed(event)
    assert conversation.messenger.chats == {}


async def test_an_update_handed_over_again_counts_once_against_the_rate_limit(
    conversation: Conversation, clock: ShiftedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Several workers: a command waiting for the person's earlier update (another worker's)
    is handed over again a few times (NotYet). It is one command: it must cost one unit of the
    budget, not one per try — else a person's own deferred commands push the next ones over
    the limit, and those are dropped."""
    from handlers.kernel import dispatch
    from storage import updates

    real = updates.take
    waits = 2

    async def after_an_earlier_one(*args: Any, **kwargs: Any) -> updates.Taken:
        nonlocal waits
        if waits:
            waits -= 1
            return updates.Taken.AFTER_EARLIER
        return await real(*args, **kwargs)

    monkeypatch.setattr(updates, "take", after_an_earlier_one)
    monkeypatch.setattr(dispatch, "DEFER_DELAYS", (0.0,) * 4)  # no wall-clock wait
    dispatcher = conversation.dispatcher
    dispatcher.limiter = RateLimiter(RateLimit(burst=3, per_second=0.001, warn_every=60), clock)
    lee = conversation.person("Lee")
    await lee.send("/help")
    await dispatcher.drain(10.0)
    assert waits == 0 and len(lee.messages) == 1
    await lee.send("/help")
    await lee.send("/help")
    texts = [m.text for m in lee.messages]
    assert len(texts) == 3 and not any("Slow down" in t for t in texts)


async def test_a_stop_waits_for_an_update_still_asking_the_rate_limit(
    conversation: Conversation,
) -> None:
    """An update whose rate limit is being decided (on Redis, several workers: a round trip)
    is already being handled: a kill's drain must cancel it, or its reply goes out after the
    bot stopped (a PTB stop then waits for it without bound)."""

    class Deciding:
        def __init__(self) -> None:
            self.asked = asyncio.Event()
            self.answer = asyncio.Event()

        async def acquire(self, user_id: int) -> tuple[bool, bool]:
            self.asked.set()
            await self.answer.wait()
            return True, False

    dispatcher = conversation.dispatcher
    limiter = Deciding()
    dispatcher.limiter = limiter
    lee = conversation.person("Lee")
    handling = asyncio.create_task(lee.send("/help"))
    await asyncio.wait_for(limiter.asked.wait(), 5)
    await dispatcher.drain(1.0, cancel=True)  # a kill
    limiter.answer.set()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.wait_for(handling, 5)
    assert handling.cancelled() and lee.messages == []


class _FailingFor:
    """A limiter that raises for one person (a broken shared store, a bug), and refuses
    everyone else's second update."""

    def __init__(self, broken: int) -> None:
        self.broken = broken
        self.seen: set[int] = set()

    async def acquire(self, user_id: int) -> tuple[bool, bool]:
        if user_id == self.broken:
            raise RuntimeError("the limiter's store is gone")
        allowed = user_id not in self.seen
        self.seen.add(user_id)
        return allowed, not allowed


async def test_a_limiter_that_fails_lets_the_update_through_alone_and_in_a_batch(
    conversation: Conversation,
) -> None:
    """A limit must never cost an update: mid-chunk, a limiter raising left the updates it had
    refused unanswered and the rest of the chunk waiting for a restart."""
    dispatcher = conversation.dispatcher
    dispatcher.limiter = _FailingFor(broken=7)
    broken = conversation.person("Lee", user_id=7)
    await broken.send("/help")
    assert "/start" in broken.last.text  # handled
    people = [conversation.person(f"P{i}", user_id=100 + i) for i in range(3)]
    events = []
    for someone in (*people, broken, *people):
        update_id = conversation.next_update_id()
        chat = Chat(someone.person.id, ChatType.PRIVATE)
        events.append(Event(update_id, EventKind.MESSAGE, someone.person, chat, text="/help"))
    await dispatcher.feed_batch(events)
    await dispatcher.drain(10)
    assert len(broken.messages) == 2  # both of theirs handled
    for someone in people:  # one answered, one refused with "slow down"
        texts = [shown.text for shown in someone.messages]
        assert len(texts) == 2 and sum("Slow down" in text for text in texts) == 1
