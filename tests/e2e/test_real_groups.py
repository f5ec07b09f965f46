"""Real groups, real Telegram (issue 12): forum topics, anonymous admins and channels, a removed
bot, a migrated group, members the bot never heard speak — on both runtimes."""

from __future__ import annotations

from datetime import timedelta

from tests.e2e.conftest import ChorusUnderTest
from tests.e2e.test_decisions import register, showing


async def test_a_vote_started_in_a_topic_lives_in_that_topic(chorus: ChorusUnderTest) -> None:
    coral = chorus.coordinator
    amira = await chorus.person("Amira")
    await register(chorus, coral, amira)
    group = await chorus.sandbox.create_group("Forum", [coral, amira], forum=True, bot_admin=True)
    topic = await group.create_topic("Venues")
    await coral.send("/poll", chat=group, topic=topic)  # the usage, answered in the topic
    usage = await coral.wait_for_message(showing("/poll"), chat=group)
    assert usage.message_thread_id == topic.id
    await coral.send("/poll Venue? | Hall | Park | anonymous | in 1h", chat=group, topic=topic)
    live = await coral.wait_for_message(showing("Anonymous vote"), chat=group)
    assert live.message_thread_id == topic.id
    await amira.press("Hall", chat=group)
    await chorus.advance(timedelta(hours=1, seconds=1))
    final = await coral.wait_for_message(showing("Result:"), chat=group, since_last_action=False)
    assert final.message_thread_id == topic.id
