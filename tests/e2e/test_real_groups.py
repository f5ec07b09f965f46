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


async def test_an_anonymous_admin_starts_a_vote_and_is_asked_to_vote_by_name(
    chorus: ChorusUnderTest,
) -> None:
    coral = chorus.coordinator
    amira, omar = await chorus.person("Amira"), await chorus.person("Omar")
    await register(chorus, coral, amira)
    group = await chorus.sandbox.create_group(
        "Coalition", [coral, amira], type="supergroup", bot_admin=True
    )
    await group.add(omar, admin=True)
    await group.make_anonymous(omar)
    sent = await omar.send("/poll Venue? | Hall | Park | in 1h", chat=group)
    assert sent.sender_chat_id == group.id  # Telegram shows the group, not Omar
    poll = await amira.wait_for_message(lambda m: m.poll is not None, chat=group)
    await omar.vote(poll, [0])  # comes as the group (voter_chat), not as Omar
    asked = await amira.wait_for_message(showing("anonymous admin"), chat=group)
    assert "your own name" in (asked.text or "")
    await omar.send("/report", chat=group)  # needs a person
    told = await amira.wait_for_message(showing("not by a person"), chat=group)
    assert "Coalition" in (told.text or "")
    refused = await amira.press("⏹ Close now", chat=group)  # only the group's admins may
    assert refused is not None and refused.show_alert
    closed = await omar.press("⏹ Close now", chat=group)  # a press comes from Omar himself
    assert closed is not None and not closed.show_alert
    await amira.wait_for_message(showing("Result:"), chat=group, since_last_action=False)


async def test_a_message_as_a_channel_is_asked_to_come_under_a_name(
    chorus: ChorusUnderTest,
) -> None:
    coral = chorus.coordinator
    await register(chorus, coral)
    group = await chorus.sandbox.create_group(
        "Coalition", [coral], type="supergroup", bot_admin=True
    )
    channel = await chorus.sandbox.create_channel("News", coral)
    await coral.send("/poll Venue? | Hall | Park | in 1h", chat=group, as_channel=channel)
    told = await coral.wait_for_message(showing("not by a person"), chat=group)
    assert "News" in (told.text or "")


async def test_a_removed_bot_pauses_the_groups_votes_and_tells_their_author(
    chorus: ChorusUnderTest,
) -> None:
    coral = chorus.coordinator
    amira = await chorus.person("Amira")
    await register(chorus, coral, amira)
    await coral.send("/start")
    await amira.send("/start")
    group = await chorus.sandbox.create_group(
        "Coalition", [coral, amira], type="supergroup", bot_admin=True
    )
    await coral.send("/poll Venue? | Hall | Park | anonymous | in 4h", chat=group)
    await coral.wait_for_message(showing("Anonymous vote"), chat=group)
    await group.remove_bot(kicked=True)
    told = await coral.wait_for_message(showing("paused"))
    assert "Venue?" in (told.text or "") and "Coalition" in (told.text or "")
    await chorus.sandbox.clear_requests()
    await chorus.advance(timedelta(hours=2, minutes=1))  # halfway: the nudge was due
    await chorus.advance(timedelta(hours=2))  # the close was due
    await coral.send("/help")  # handled after everything due: the bot has done what it would
    await coral.wait_for_message(showing("/"))
    sent = await chorus.sandbox.requests()
    to_group = [r for r in sent if r["params"].get("chat_id") == group.id]
    assert to_group == []  # no close attempted (it would answer 403 "bot was kicked")
    nudged = [
        r
        for r in sent
        if r["params"].get("chat_id") == amira.id and "Venue?" in r["params"].get("text", "")
    ]
    assert nudged == []
    await group.add_bot(admin=True)
    back = await coral.wait_for_message(showing("I am back"))
    assert "Venue?" in (back.text or "")
    final = await coral.wait_for_message(showing("Result:"), chat=group, since_last_action=False)
    assert "Venue?" in (final.text or "")


async def test_a_migrated_group_gets_its_vote_again_and_old_ids_touch_nothing(
    chorus: ChorusUnderTest,
) -> None:
    coral = chorus.coordinator
    amira, bilal = await chorus.person("Amira"), await chorus.person("Bilal")
    await register(chorus, coral, amira, bilal)
    old = await chorus.sandbox.create_group("Coalition", [coral, amira, bilal])
    await coral.send("/poll Venue? | Hall | Park | in 3h", chat=old)
    old_poll = await coral.wait_for_message(lambda m: m.poll is not None, chat=old)
    await coral.wait_for_message(showing("Rule:"), chat=old)
    group = await old.migrate()
    poll = await coral.wait_for_message(
        lambda m: m.poll is not None, chat=group, since_last_action=False
    )
    await coral.wait_for_message(showing("Venue?"), chat=group, since_last_action=False)
    await coral.send("/poll Other? | A | B | anonymous | in 1h", chat=group)
    await coral.wait_for_message(showing("Anonymous vote"), chat=group)
    await amira.press("A", chat=group)
    await chorus.advance(timedelta(hours=1, seconds=1))
    other = await coral.wait_for_message(showing("Result:"), chat=group, since_last_action=False)
    await amira.vote(old_poll, [0])  # in the old group's poll: nothing of the new chat changes
    await bilal.vote(poll, [1])  # the new poll counts
    await coral.wait_for_message(showing("Park — 1"), chat=group, since_last_action=False)
    await chorus.advance(timedelta(hours=2))
    final = await coral.wait_for_message(
        lambda m: "Result:" in (m.text or "") and "Venue?" in (m.text or ""),
        chat=group,
        since_last_action=False,
    )
    assert "Park" in (final.text or "")
    kept = await chorus.sandbox.message(group.id, other.message_id)
    assert "Other?" in (kept.text or "") and "Venue?" not in (kept.text or "")
    stopped = [r["params"] for r in await chorus.sandbox.requests("stopPoll")]
    assert {"chat_id": group.id, "message_id": poll.message_id} in [
        {"chat_id": p["chat_id"], "message_id": p["message_id"]} for p in stopped
    ]


async def test_a_member_who_never_spoke_counts_and_may_vote(chorus: ChorusUnderTest) -> None:
    coral = chorus.coordinator
    amira, bilal = await chorus.person("Amira"), await chorus.person("Bilal")
    await register(chorus, coral, amira)
    # The bot is no admin: Telegram sends it no member updates; Amira and Bilal never spoke.
    group = await chorus.sandbox.create_group("Coalition", [coral, amira, bilal], type="supergroup")
    await coral.send("/poll Venue? | Hall | Park | anonymous | in 1h", chat=group)
    # Coral and Amira: the count grows once Telegram has said who is in the group.
    await coral.wait_for_message(showing("0 of 2 eligible members"), chat=group)
    answer = await amira.press("Hall", chat=group)
    assert answer is not None and answer.text == "Vote recorded: Hall"
    await register(chorus, bilal)  # registers once the vote is open: asked about as he votes
    answer = await bilal.press("Park", chat=group)
    assert answer is not None and answer.text == "Vote recorded: Park"
