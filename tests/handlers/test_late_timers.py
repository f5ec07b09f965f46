"""One policy for late timers (issue 12, kind 10): still useful → sent once (overdue timers of
one thing collapse into the latest); no longer useful → dropped; "late" said only when the
bot was really down."""

from __future__ import annotations

from datetime import timedelta

from bot.app import Storage
from handlers.kernel.ports import ShiftedClock
from tests.conftest import COORDINATOR_ID
from tests.handlers.test_decisions import nudges
from tests.handlers.test_polls import members
from tests.support.groups import Group
from tests.support.recording import Conversation


async def test_overdue_nudges_of_one_vote_reach_each_member_once(
    conversation: Conversation, storage: Storage, clock: ShiftedClock
) -> None:
    group = Group(conversation)
    coral = conversation.person("Coral", user_id=COORDINATOR_ID)
    amira, bilal = await members(conversation, group, "Amira", "Bilal")
    await group.say(coral, "/poll Venue? | Hall | Park | anonymous | in 4h")
    await group.press(amira, "Hall")
    clock.advance(timedelta(hours=3, minutes=30))  # halfway and one hour before: both overdue
    conversation.dispatcher.services.started_at = clock.now()  # the bot was down
    await conversation.dispatcher.run_due_timers()
    sent = await nudges(storage)
    assert [chat for chat, _ in sent] == [bilal.person.id]  # once, not twice


async def test_a_close_late_while_the_bot_was_running_does_not_blame_downtime(
    conversation: Conversation, clock: ShiftedClock
) -> None:
    group = Group(conversation)
    coral = conversation.person("Coral", user_id=COORDINATOR_ID)
    (amira,) = await members(conversation, group, "Amira")
    conversation.dispatcher.services.started_at = clock.now()  # running since before the vote
    await group.say(coral, "/poll Venue? | Hall | Park | anonymous | in 1h | quiet")
    await group.press(amira, "Park")
    clock.advance(timedelta(hours=3))  # the clock moved (or the machine slept): not downtime
    await conversation.dispatcher.run_due_timers()
    result = group.find("Result:").text
    assert "Adopted: <b>Park</b>" in result
    assert "late" not in result and "offline" not in result
