"""A 429 on a post the bot must make (a new vote, a result, a roster file): waited out within
a bound, and the person who asked is told why when it finally fails."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from bot.botapi.patience import patient
from handlers.kernel.context import Services
from handlers.kernel.ports import Messenger, RetryAfter, ShiftedClock
from storage.decisions import decision_store
from tests.conftest import COORDINATOR_ID
from tests.support.actions import engine_for
from tests.support.groups import CountingMessenger, Group, make_volunteer
from tests.support.recording import Conversation


class FloodedMessenger(CountingMessenger):
    """Answers 429 (retry after 5 s) to the next `floods[method]` calls of each method."""

    def __init__(self) -> None:
        super().__init__()
        self.floods: dict[str, int] = {}

    def _flood(self, method: str) -> None:
        if self.floods.get(method, 0) > 0:
            self.floods[method] -= 1
            raise RetryAfter(5, "Too Many Requests: retry after 5")

    async def send_message(self, *args: Any, **kwargs: Any) -> Any:
        self._flood("send_message")
        return await super().send_message(*args, **kwargs)

    async def send_poll(self, *args: Any, **kwargs: Any) -> Any:
        self._flood("send_poll")
        return await super().send_poll(*args, **kwargs)


@pytest.fixture
def flooded() -> FloodedMessenger:
    return FloodedMessenger()


@pytest.fixture
def slept() -> list[float]:
    return []


@pytest.fixture
def messenger(flooded: FloodedMessenger, slept: list[float]) -> Messenger:
    """The flooded messenger behind the bot's patience, sleeping on a list."""

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    return patient(flooded, sleep=sleep)  # type: ignore[arg-type]


async def test_a_new_vote_waits_out_a_429_and_is_posted(
    conversation: Conversation, flooded: FloodedMessenger, slept: list[float]
) -> None:
    group = Group(conversation)
    coral = conversation.person("Coral", user_id=COORDINATOR_ID)
    flooded.floods = {"send_poll": 1, "send_message": 1}
    await group.say(coral, "/poll Venue? | Hall | Park | in 2h")
    assert slept == [5, 5]
    assert any(m.text == "Venue?" for m in group.messages)  # the native poll
    assert "Rule:" in group.find("Venue?").text or group.find("Hall")
    async with conversation.dispatcher.services.sessionmaker() as session:
        decision = await decision_store.get(session, 1)
        assert decision is not None and decision.status == decision_store.OPEN


async def test_a_vote_flooded_past_the_bound_is_failed_and_its_author_told(
    conversation: Conversation, flooded: FloodedMessenger, slept: list[float], services: Services
) -> None:
    group = Group(conversation)
    coral = conversation.person("Coral", user_id=COORDINATOR_ID)
    flooded.floods = {"send_message": 5}
    await group.say(coral, "/poll Venue? | Hall | Park | anonymous | in 2h")
    assert slept == [5, 5, 5, 5]  # five tries, then it gives up
    async with services.sessionmaker() as session:
        decision = await decision_store.get(session, 1)
        assert decision is not None and decision.status == decision_store.FAILED
    await engine_for(services).drain()
    told = group.find("could not post the vote")
    assert "Telegram kept asking me to slow down" in told.text
    assert "send it again" in told.text


async def test_a_result_flooded_past_the_bound_is_sent_to_who_started_the_vote(
    conversation: Conversation,
    flooded: FloodedMessenger,
    services: Services,
    clock: ShiftedClock,
) -> None:
    group = Group(conversation)
    coral = conversation.person("Coral", user_id=COORDINATOR_ID)
    amira = conversation.person("Amira")
    await make_volunteer(conversation, amira)
    await group.join(amira)
    await group.say(coral, "/poll Venue? | Hall | Park | anonymous | in 2h")
    await group.press(amira, "Hall")
    flooded.floods = {"send_message": 5}
    clock.advance(timedelta(hours=2, seconds=1))
    await conversation.dispatcher.run_due_timers()
    await engine_for(services).drain()
    told = coral.last.text
    assert "could not post the result of “Venue?” in the group" in told
    assert "Adopted: <b>Hall</b>" in told
