"""What real people and real Telegram do that a tidy test does not (issue 12), end to end on
both runtimes: names in every script, over-long texts, flood control, blocked private chats,
non-text messages, late timers."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import func, select

from bot.app import open_storage
from botapi_emulator.client import Person
from storage.decisions.decision_models import Ballot
from storage.models import OutboxMessage, Timer
from tests.e2e.conftest import PATIENCE, ChorusUnderTest
from tests.e2e.test_decisions import coalition
from tests.e2e.test_decisions_more import (
    BLOCK,
    REMINDER,
    button_data,
    open_private_chats,
    published,
)


async def _says(person: Person, fragment: str, **kwargs: object) -> str:
    message = await person.wait_for_message(lambda m: fragment in (m.text or ""), **kwargs)  # type: ignore[arg-type]
    return message.text or ""


async def _ballots_counted(chorus: ChorusUnderTest, count: int) -> None:
    """Waits until the bot has counted `count` ballots (a loaded machine may take a while)."""
    storage = await open_storage(chorus.database_url)
    try:
        for _ in range(int(PATIENCE * 4)):
            async with storage.sessionmaker() as session:
                if await session.scalar(select(func.count()).select_from(Ballot)) == count:
                    return
            await asyncio.sleep(0.5)
        raise AssertionError(f"the bot never counted {count} ballots")
    finally:
        await storage.engine.dispose()


async def test_names_with_joiners_are_accepted(chorus: ChorusUnderTest) -> None:
    """A Persian half-space (ZWNJ) and an emoji ZWJ sequence are ordinary writing."""
    nilou = await chorus.person("Nilou")
    await nilou.send("/start")
    await _says(nilou, "Welcome")
    await nilou.press("English")
    await nilou.press("An individual")
    await _says(nilou, "What name")
    await nilou.send("نیلوفر\u200cسادات 👩\u200d👩\u200d👧")
    await _says(nilou, "Which country")


async def test_a_result_with_long_names_is_posted_whole(chorus: ChorusUnderTest) -> None:
    """Kind 2: 40 voters whose names are 60 emoji (120 UTF-16 units each): the result must fit
    Telegram's 4096 units after entity parsing, by naming fewer voters, not by cutting markup."""
    coral = chorus.coordinator
    sunflowers = "🌻" * 60
    await chorus.sandbox.set_rate_limits(enabled=False)  # lengths, not pacing, are tested here
    group, people = await coalition(chorus, *(f"{sunflowers}{i}" for i in range(40)))
    await coral.send("/poll Venue? | Hall | Park | in 2h", chat=group)
    poll = await coral.wait_for_message(lambda m: m.poll is not None, chat=group)
    for index, person in enumerate(people):
        await person.vote(poll, [index % 3 and 1])
    await _ballots_counted(chorus, 40)
    await chorus.advance(timedelta(hours=2, seconds=1))
    final = await coral.wait_for_message(
        lambda m: "Result:" in (m.text or ""),
        chat=group,
        since_last_action=False,
        timeout=PATIENCE * 2,
    )
    assert "Adopted: Park" in (final.text or "")
    assert sunflowers in (final.text or "") and "more" in (final.text or "")


async def test_a_new_vote_waits_out_flood_control(chorus: ChorusUnderTest) -> None:
    """Kind 5: one 429 on the group's sendMessage as /poll posts the vote: the vote is posted
    after retry_after, not lost; past the bound, its author is told why."""
    coral = chorus.coordinator
    group, (amira,) = await coalition(chorus, "Amira")
    await chorus.sandbox.add_fault(
        "sendMessage", chat_id=group.id, error_code=429, retry_after=1, count=1
    )
    await coral.send("/poll Venue? | Hall | Park | anonymous | in 2h", chat=group)
    await coral.wait_for_message(lambda m: "Anonymous vote" in (m.text or ""), chat=group)
    answer = await amira.press("Hall", chat=group)
    assert answer is not None and answer.text == "Vote recorded: Hall"
    await chorus.sandbox.add_fault(
        "sendMessage", chat_id=group.id, error_code=429, retry_after=1, count=5
    )
    await coral.send("/poll Lunch? | Soup | Salad | anonymous | in 2h", chat=group)
    told = await _says(coral, "could not post the vote “Lunch?”", chat=group, timeout=PATIENCE)
    assert "Telegram kept asking me to slow down" in told


async def test_non_text_messages_are_answered(chorus: ChorusUnderTest) -> None:
    """Kind 9: a sticker outside a dialog gets a hint; a photo, a location or a voice note in
    the middle of registration gets "text, please" and the question again."""
    lee = await chorus.person("Lee")
    await lee.send_sticker("🎉")
    await _says(lee, "I can only read text, so I cannot use a sticker.")
    await lee.send("/start")
    await _says(lee, "Welcome")
    await lee.press("English")
    await lee.press("An individual")
    await _says(lee, "What name")
    await lee.send_photo()
    await _says(lee, "I can only read text here, so I cannot use a photo.")
    await _says(lee, "What name")
    await lee.send_location(48.85, 2.35)
    await _says(lee, "cannot use a location")
    await lee.send_voice()
    await _says(lee, "cannot use a voice message")
    await lee.send_contact("+33612345678", "Sam")
    await _says(lee, "cannot use a contact")
    await lee.send("Lee Kim")
    await _says(lee, "Which country")


async def test_a_claim_to_have_written_privately_is_true(chorus: ChorusUnderTest) -> None:
    """Kind 7: someone who never started the bot presses ✋ Block: the answer does not claim
    "I have asked you privately" (the private message got 403) but says how to start a private
    chat, with a t.me link; someone the bot may write to gets the claim, and the question."""
    coral = chorus.coordinator
    group, (amira, bilal) = await coalition(chorus, "Amira", "Bilal")
    open_private_chats(chorus, amira)
    await coral.send("/consensus We co-sign the letter | in 2d", chat=group)
    proposal = await coral.wait_for_message(lambda m: "Proposal:" in (m.text or ""), chat=group)
    await published(chorus)
    answer = await bilal.press_data(proposal, button_data(proposal, BLOCK))
    assert answer is not None and answer.show_alert
    assert "asked you privately" not in answer.text
    assert "I cannot write to you privately yet: open https://t.me/" in answer.text
    answer = await amira.press_data(proposal, button_data(proposal, BLOCK))
    assert answer is not None and "asked you privately" in answer.text
    await _says(amira, "Please tell me why")


async def _nudges_to(chorus: ChorusUnderTest, user_id: int) -> int:
    """How many vote reminders the bot queued for a person, once no nudge is overdue."""
    storage = await open_storage(chorus.database_url)
    try:
        for _ in range(int(PATIENCE * 2)):
            async with storage.sessionmaker() as session:
                overdue = await session.scalar(
                    select(func.count())
                    .select_from(Timer)
                    .where(Timer.kind == "decision_nudge", Timer.status == "pending")
                    .where(Timer.due_at <= chorus.clock.now())
                )
                if overdue == 0:
                    rows = await session.scalars(
                        select(OutboxMessage).where(
                            OutboxMessage.purpose == "nudge", OutboxMessage.chat_id == user_id
                        )
                    )
                    return len(rows.all())
            await asyncio.sleep(0.5)
        raise AssertionError("overdue nudges were never handled")
    finally:
        await storage.engine.dispose()


async def test_late_timers_are_sent_once_and_late_is_said_truly(chorus: ChorusUnderTest) -> None:
    """Kind 10: a close late because the clock moved (the bot was running) does not say "the
    bot was offline"; after downtime, two overdue reminders of one vote reach a member once."""
    coral = chorus.coordinator
    group, (amira, bilal) = await coalition(chorus, "Amira", "Bilal")
    open_private_chats(chorus, bilal)
    await coral.send("/poll Lunch? | Soup | Salad | anonymous | in 1h | quiet", chat=group)
    await coral.wait_for_message(lambda m: "Lunch?" in (m.text or ""), chat=group)
    await amira.press("Soup", chat=group)
    await chorus.advance(timedelta(hours=3))  # a clock move while the bot runs
    final = await coral.wait_for_message(
        lambda m: "Result:" in (m.text or ""), chat=group, since_last_action=False
    )
    assert "Adopted: Soup" in (final.text or "")
    assert "offline" not in (final.text or "")
    await coral.send("/poll Venue? | Hall | Park | anonymous | in 4h", chat=group)
    await coral.wait_for_message(lambda m: "Venue?" in (m.text or ""), chat=group)
    await amira.press("Hall", chat=group)
    await chorus.stop()
    chorus.clock.advance(timedelta(hours=3, minutes=30))  # halfway and an hour before: missed
    await chorus.start()
    await bilal.wait_for_message(lambda m: REMINDER in (m.text or ""))
    assert await _nudges_to(chorus, bilal.id) == 1
