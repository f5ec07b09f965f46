"""Score, dot and meeting-time votes in a group, with hand-computed results."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from handlers.kernel.i18n import translator
from handlers.kernel.ports import ShiftedClock
from tests.conftest import COORDINATOR_ID
from tests.support.groups import Group, make_volunteer
from tests.support.recording import Conversation, Shown, Someone


@pytest.fixture
def group(conversation: Conversation) -> Group:
    """The coalition's supergroup."""
    return Group(conversation)


async def members(
    conversation: Conversation, group: Group, *names: str, **profile: object
) -> list[Someone]:
    """Registered, active volunteers who are in the group."""
    people = [conversation.person(name) for name in names]
    for someone in people:
        await make_volunteer(conversation, someone, **profile)  # type: ignore[arg-type]
    await group.join(*people)
    return people


def data(shown: Shown, option: int, value: int) -> str:
    """The callback data of a mark button of the decision shown."""
    prefix = next(d for row in shown.keyboard for _, d in row if d.startswith("dm:"))
    decision = prefix.split(":")[1]
    return f"dm:{decision}:{option}:{value}"


async def mark(group: Group, someone: Someone, question: str, option: int, value: int) -> str:
    """Presses a mark button; the toast."""
    shown = group.find(question)
    toast, _ = await group.press_data(someone, shown.message_id, data(shown, option, value))
    return toast or ""


async def close(conversation: Conversation, clock: ShiftedClock) -> None:
    clock.advance(timedelta(days=2))
    await conversation.dispatcher.run_due_timers()


async def test_a_score_vote_is_won_by_the_highest_mean(
    conversation: Conversation, group: Group, clock: ShiftedClock
) -> None:
    coral = conversation.person("Coral", user_id=COORDINATOR_ID)
    a, b, c = await members(conversation, group, "Amira", "Bilal", "Chadi")
    await group.say(coral, "/poll Which slogan? | Ban now | No more | Enough | score")
    posted = group.find("Which slogan?")
    assert "Rule: score" in posted.text and posted.labels[:2] == ["Ban now", "0"]
    # Ban now 5+3+1 = 9 (mean 3), No more 4+4+4 = 12 (mean 4), Enough 0 (scored by nobody).
    for someone, scores in ((a, (5, 4)), (b, (3, 4)), (c, (1, 4))):
        for option, score in enumerate(scores):
            toast = await mark(group, someone, "Which slogan?", option, score)
    assert toast == "Your ballot: Ban now 1★; No more 4★; Enough 0★"
    await close(conversation, clock)
    result = group.last.text
    assert "Highest score: <b>No more</b> — mean 4 from 3 voters." in result
    assert "<b>Ban now</b> — mean 3 (5★×1 · 3★×1 · 1★×1)" in result
    assert "<b>Enough</b> — mean 0 (0★×3)" in result


async def test_a_dot_vote_spreads_a_fixed_number_of_dots(
    conversation: Conversation, group: Group, clock: ShiftedClock
) -> None:
    coral = conversation.person("Coral", user_id=COORDINATOR_ID)
    a, b = await members(conversation, group, "Amira", "Bilal")
    await group.say(coral, "/poll Priorities? | Housing | Transport | Schools | dots 3")
    assert "spread your 3 dots" in group.find("Priorities?").text
    for _ in range(2):
        await mark(group, a, "Priorities?", 0, 1)
    assert (
        await mark(group, a, "Priorities?", 1, 1)
        == "Your ballot: Housing 2; Transport 1; 0 dots left"
    )
    toast, alert = await group.press_data(
        a, group.find("Priorities?").message_id, data(group.find("Priorities?"), 2, 1)
    )
    assert alert and toast == "You have used all your 3 dots: take one back with ➖ first."
    await mark(group, a, "Priorities?", 0, 0)  # takes one back
    await mark(group, a, "Priorities?", 2, 1)
    for _ in range(3):
        await mark(group, b, "Priorities?", 1, 1)
    # Housing 1, Transport 1 + 3 = 4, Schools 1.
    await close(conversation, clock)
    result = group.last.text
    assert "Most dots: <b>Transport</b> — 4 dots from 2 voters." in result
    assert "<b>Housing</b> — 1 dot" in result and "<b>Schools</b> — 1 dot" in result


async def test_a_meeting_time_poll_across_three_time_zones(
    conversation: Conversation, group: Group, clock: ShiftedClock
) -> None:
    coral = conversation.person("Coral", user_id=COORDINATOR_ID)
    (rima,) = await members(conversation, group, "Rima", timezone="Asia/Beirut")
    (lucia,) = await members(conversation, group, "Lucia", timezone="America/Bogota")
    (wanjiru,) = await members(conversation, group, "Wanjiru", timezone="Africa/Nairobi")
    (dana,) = await members(conversation, group, "Dana", timezone="Asia/Beirut", discreet=True)
    await group.say(coral, "/decisions timezone Asia/Beirut")
    today = clock.now().astimezone(UTC).date()
    day = (today + timedelta(days=3)).isoformat()
    await group.say(coral, f"/poll Planning call | {day} 18:00 | {day} 20:00 | meeting | in 2d")
    shown = group.find("Planning call")
    moments = [
        datetime.fromisoformat(f"{day}T{h}:00+02:00") for h in ("18", "20")
    ]  # Beirut in winter
    en = translator("en")
    assert en.datetime_text(moments[0], "Asia/Beirut") in shown.labels
    # Each member sees the moments in their own time zone, privately.
    toast, alert = await group.press_data(rima, shown.message_id, data(shown, 9, 9))
    assert alert and en.datetime_text(moments[0], "Asia/Beirut") in (toast or "")
    toast, _ = await group.press_data(lucia, shown.message_id, data(shown, 9, 9))
    assert "America/Bogota" in (toast or "")
    assert en.datetime_text(moments[0], "America/Bogota") in (toast or "")
    # Rima: yes, no. Lucia: if need be, yes. Wanjiru: no, yes. Dana (discreet): yes, no.
    # 18:00 — yes Rima, Dana; if need be Lucia: 3 can make it (2 yes). 20:00 — yes Lucia,
    # Wanjiru: 2 can make it. 18:00 wins; who cannot is named, Dana only as a discreet member.
    answers = [(rima, (2, 0)), (lucia, (1, 2)), (wanjiru, (0, 2)), (dana, (2, 0))]
    for someone, values in answers:
        for option, value in enumerate(values):
            toast = await mark(group, someone, "Planning call", option, value)
    assert toast.startswith("Your ballot: ✅ ")
    await close(conversation, clock)
    result = group.last.text
    best = en.datetime_text(moments[0], "Asia/Beirut")
    assert f"Best moment: <b>{best}</b> — 3 of 4 can make it (2 yes)." in result
    assert f"<b>{best}</b> — ✅ 2 · 🤷 1 · ❌ 1 — cannot: Wanjiru" in result
    assert "— cannot: Rima, a member (discreet)" in result
    assert "Dana" not in result
