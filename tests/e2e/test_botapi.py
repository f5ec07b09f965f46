"""The Bot API layer end to end, on both runtimes: people's own words reach Telegram as typed,
toasts are plain text, and a 403 is recorded for what it says."""

from __future__ import annotations

from datetime import timedelta

from bot.app import open_storage
from botapi_emulator.client import Person
from storage.models import UserPreference
from tests.e2e.conftest import ChorusUnderTest
from tests.e2e.test_coalition import FRENCH, _register
from tests.e2e.test_decisions import coalition, showing
from tests.e2e.test_decisions_more import published


async def _preference(chorus: ChorusUnderTest, user_id: int) -> UserPreference | None:
    storage = await open_storage(chorus.database_url)
    try:
        async with storage.sessionmaker() as session:
            return await session.get(UserPreference, user_id)
    finally:
        await storage.engine.dispose()


async def _create_meeting(coordinator: Person, when: str, *, groups: bool) -> None:
    """/newaction: an online meeting for everyone (and, asked, no group chat)."""
    await coordinator.send("/newaction")
    await coordinator.press("🤝 Meeting")
    for answer in ("Vigil & march", "Bring <candles>."):
        await coordinator.wait_for_message(lambda m: True)
        await coordinator.send(answer)
    await coordinator.press("No link")
    await coordinator.wait_for_message(showing("When does it start?"))
    await coordinator.send(when)
    await coordinator.press("UTC")
    await coordinator.press("Online")
    await coordinator.press("No limit")
    await coordinator.wait_for_message(showing("Who receives it?"))
    await coordinator.press("Done ✔")
    if groups:
        await coordinator.wait_for_message(showing("Also post it in coalition group chats?"))
        await coordinator.press("Done ✔")
    await coordinator.wait_for_message(showing("It will go to"))


async def test_a_poll_question_with_html_characters_is_posted_as_typed(
    chorus: ChorusUnderTest,
) -> None:
    coral = chorus.coordinator
    group, _ = await coalition(chorus, "Amira")
    await coral.send("/poll Budget under <500? | Yes & more | No | majority | in 2h", chat=group)
    poll = await coral.wait_for_message(lambda m: m.poll is not None, chat=group)
    assert poll.poll is not None and poll.poll.question == "Budget under <500?"
    assert poll.poll.options == ["Yes & more", "No"]
    results = await coral.wait_for_message(showing("Rule: majority"), chat=group)
    assert "Budget under <500?" in results.text


async def test_a_toast_shows_the_option_as_typed(chorus: ChorusUnderTest) -> None:
    coral = chorus.coordinator
    group, (amira,) = await coalition(chorus, "Amira")
    await coral.send("/poll Next step? | R&D <first> | Rent | anonymous | in 1h", chat=group)
    await coral.wait_for_message(showing("Anonymous vote"), chat=group)
    await published(chorus)
    answer = await amira.press("R&D <first>", chat=group)  # no count while open
    assert answer is not None and answer.text == "Vote recorded: R&D <first>"


async def test_a_voter_the_bot_could_not_write_to_gets_calls_once_registered(
    chorus: ChorusUnderTest,
) -> None:
    coral = chorus.coordinator
    group, _ = await coalition(chorus, "Amira")
    zoe = await chorus.person("Zoe", language_code="fr")  # never wrote to the bot
    await group.add(zoe)
    await coral.send("/poll Venue? | Hall | Park | majority | in 1h", chat=group)
    poll = await coral.wait_for_message(lambda m: m.poll is not None, chat=group)
    await published(chorus)
    await zoe.vote(poll, [0])  # the bot tries to invite her privately: 403 can't initiate
    for _ in range(200):
        preference = await _preference(chorus, zoe.id)
        if preference is not None and preference.blocked_bot_at is not None:
            break
        await chorus.advance(timedelta(0))
    assert preference is not None and preference.unreachable_reason == "not_started"
    await _register(zoe, FRENCH)
    await zoe.wait_for_message(showing("Élise"), timeout=10)
    preference = await _preference(chorus, zoe.id)
    assert preference is not None and preference.blocked_bot_at is None
    when = (chorus.clock.now() + timedelta(days=3)).strftime("%Y-%m-%d 18:00")
    await _create_meeting(coral, when, groups=True)
    await coral.press("✅ Send it")
    await coral.wait_for_message(showing("Sending finished"), timeout=20)
    call = await zoe.wait_for_message(showing("Vigil & march"), timeout=20)
    assert "Vigil & march" in call.text
