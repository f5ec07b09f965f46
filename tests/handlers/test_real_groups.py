"""Real groups (issue 12): forum topics, anonymous admins, a removed bot, migrations, members
never heard from."""

from __future__ import annotations

from datetime import timedelta

import pytest

from handlers.kernel.ports import ShiftedClock
from tests.conftest import COORDINATOR_ID
from tests.handlers.test_polls import close_all, members
from tests.support.groups import CountingMessenger, Group
from tests.support.recording import Conversation, Someone

TOPIC = 77


@pytest.fixture
def messenger() -> CountingMessenger:
    """A messenger that also counts edits and pins."""
    return CountingMessenger()


@pytest.fixture
def coral(conversation: Conversation) -> Someone:
    """A coordinator (from ADMIN_IDS)."""
    return conversation.person("Coral", user_id=COORDINATOR_ID)


@pytest.fixture
def group(conversation: Conversation) -> Group:
    """The coalition's supergroup (a forum)."""
    return Group(conversation)


async def test_a_vote_typed_in_a_topic_is_posted_and_closed_there(
    conversation: Conversation, group: Group, coral: Someone, clock: ShiftedClock
) -> None:
    (amira,) = await members(conversation, group, "Amira")
    await group.say(coral, "/poll", thread_id=TOPIC)
    assert group.last.thread_id == TOPIC  # the usage
    await group.say(coral, "/poll Venue? | Hall | Park | anonymous | in 1h", thread_id=TOPIC)
    live = group.find("Anonymous vote")
    assert live.thread_id == TOPIC
    await group.press(amira, "Hall")
    await close_all(conversation, clock, timedelta(hours=1, seconds=1))
    assert group.find("Result:").thread_id == TOPIC


async def test_a_native_poll_goes_to_the_topic(
    conversation: Conversation, group: Group, coral: Someone
) -> None:
    await members(conversation, group, "Amira")
    await group.say(coral, "/poll Venue? | Hall | Park | in 1h", thread_id=TOPIC)
    assert {m.thread_id for m in group.messages} == {TOPIC}
