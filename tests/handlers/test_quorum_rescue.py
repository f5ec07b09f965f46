"""Quorum rescue: an hour before the close, a vote short of its quorum tells its author, who may
give it one more day, once."""

from __future__ import annotations

from datetime import timedelta

import pytest

from handlers.kernel.ports import ShiftedClock
from tests.conftest import COORDINATOR_ID
from tests.support.groups import Group, make_volunteer
from tests.support.recording import Conversation


@pytest.fixture
def group(conversation: Conversation) -> Group:
    """The coalition's supergroup."""
    return Group(conversation)


async def test_a_vote_short_of_its_quorum_is_offered_one_more_day(
    conversation: Conversation, group: Group, clock: ShiftedClock
) -> None:
    coral = conversation.person("Coral", user_id=COORDINATOR_ID)
    people = [conversation.person(name) for name in ("Amira", "Bilal", "Chadi")]
    for someone in people:
        await make_volunteer(conversation, someone)
    await group.join(*people)
    await group.say(coral, "/poll Venue? | Hall | Park | anonymous | quorum 3 | in 4h")
    await group.press(people[0], "Hall")
    clock.advance(timedelta(hours=3, minutes=1))  # halfway, then one hour before the close
    await conversation.dispatcher.run_due_timers()
    offer = coral.last
    assert "quorum is out of reach: 1 voted, 3 needed" in offer.text
    assert offer.labels == ["⏰ One more day"]
    data = offer.keyboard[0][0][1]
    assert await coral.press("⏰ One more day") == ("Extended by one day.", False)
    assert "now closes" in group.last.text
    toast, alert = await coral.press_data(offer.message_id, data)
    assert alert and toast == "This vote has already had its extra day."
    clock.advance(timedelta(hours=1))
    await conversation.dispatcher.run_due_timers()
    assert "Result:" not in group.last.text  # moved by a day: still open
    clock.advance(timedelta(days=1))
    await conversation.dispatcher.run_due_timers()
    assert "Quorum not reached: 1 voted, 3 needed" in group.last.text


async def test_a_vote_within_its_quorum_is_not_rescued(
    conversation: Conversation, group: Group, clock: ShiftedClock
) -> None:
    coral = conversation.person("Coral", user_id=COORDINATOR_ID)
    amira = conversation.person("Amira")
    await make_volunteer(conversation, amira)
    await group.join(amira)
    await group.say(coral, "/poll Venue? | Hall | Park | anonymous | quorum 1 | in 4h")
    await group.press(amira, "Hall")
    before = len(coral.messages)
    clock.advance(timedelta(hours=3, minutes=1))
    await conversation.dispatcher.run_due_timers()
    assert not any("out of reach" in t for t in coral.texts_since(before))
