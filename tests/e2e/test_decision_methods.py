"""Richer decision methods end to end, on both runtimes: ranked choice with its rounds, a
meeting time across three time zones, and the outcome written after the close."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from handlers.kernel.i18n import translator
from tests.e2e.conftest import ChorusUnderTest
from tests.e2e.test_decisions import coalition, register, showing
from tests.e2e.test_decisions_more import members_known, open_private_chats, published


async def test_ranked_choice_moves_the_last_options_ballots(chorus: ChorusUnderTest) -> None:
    coral = chorus.coordinator
    group, people = await coalition(chorus, "M0", "M1", "M2", "M3", "M4")
    await members_known(chorus, group, *people)
    await coral.send("/poll Where? | Beirut | Tripoli | Saida | ranked | in 2h", chat=group)
    await coral.wait_for_message(showing("ranked choice"), chat=group)
    await published(chorus)
    rankings = [
        ["Beirut", "Tripoli"],
        ["Beirut", "Saida"],
        ["Tripoli", "Beirut"],
        ["Saida", "Tripoli"],
        ["Saida", "Tripoli"],
    ]
    for person, ranking in zip(people, rankings, strict=True):
        for label in ranking:
            answer = await person.press(label, chat=group)
        assert answer is not None and answer.text == (
            f"Your ranking: 1. {ranking[0]}, 2. {ranking[1]}"
        )
    await chorus.advance(timedelta(hours=2, seconds=1))
    final = await coral.wait_for_message(showing("Result:"), chat=group, since_last_action=False)
    # Hand count: Beirut 2, Tripoli 1, Saida 2; Tripoli goes, to Beirut: 3 of 5.
    assert "Round 1: Beirut 2 · Tripoli 1 · Saida 2 — eliminated: Tripoli" in final.text
    assert "Round 2: Beirut 3 · Saida 2" in final.text
    assert "Chosen by ranked choice: Beirut — 3 of 5 ballots still counting (60%)" in final.text


async def test_a_meeting_time_across_three_time_zones_and_its_outcome(
    chorus: ChorusUnderTest,
) -> None:
    coral = chorus.coordinator
    people = [await chorus.person(name) for name in ("Rima", "Lucia", "Wanjiru")]
    zones = ("Asia/Beirut", "America/Bogota", "Africa/Nairobi")
    for person, zone in zip(people, zones, strict=True):
        await register(chorus, person, timezone=zone)
    group, _ = await coalition(chorus)
    for person in people:
        await group.add(person)
    await members_known(chorus, group, *people)
    rima, lucia, wanjiru = people
    open_private_chats(chorus, coral)
    await coral.send("/decisions timezone Asia/Beirut", chat=group)
    await coral.wait_for_message(showing("Saved"), chat=group)
    day = (datetime.now(UTC) + timedelta(days=3)).date().isoformat()
    await coral.send(f"/poll Call? | {day} 18:00 | {day} 20:00 | meeting | in 2d", chat=group)
    poll = await coral.wait_for_message(showing("meeting time"), chat=group)
    await published(chorus)
    en = translator("en")
    moments = [datetime.fromisoformat(f"{day}T{h}:00+02:00") for h in ("18", "20")]
    assert en.datetime_text(moments[0], "Asia/Beirut") in poll.labels
    decision = (poll.buttons[0][0].data or "").split(":")[1]
    answer = await lucia.press_data(poll, f"dm:{decision}:9:9")
    assert answer is not None and en.datetime_text(moments[0], "America/Bogota") in (
        answer.text or ""
    )
    # Rima yes / no; Lucia if need be / yes; Wanjiru no / yes: 18:00 — 2 can make it (1 yes),
    # 20:00 — 2 can make it (2 yes): 20:00.
    for person, values in ((rima, (2, 0)), (lucia, (1, 2)), (wanjiru, (0, 2))):
        for option, value in enumerate(values):
            await person.press_data(poll, f"dm:{decision}:{option}:{value}")
    await chorus.advance(timedelta(days=2, seconds=1))
    final = await coral.wait_for_message(showing("Result:"), chat=group, since_last_action=False)
    best = en.datetime_text(moments[1], "Asia/Beirut")
    assert f"Best moment: {best} — 2 of 3 can make it (2 yes)." in final.text
    assert "— cannot: Wanjiru" in final.text and "— cannot: Rima" in final.text
    await coral.press("✍ Write the outcome", chat=group)
    await coral.wait_for_message(showing("What was decided on “Call?”"))
    await coral.send("The call is at 20:00 Beirut time; Lucia chairs.")
    posted = await coral.wait_for_message(showing("Outcome of “Call?”"), chat=group)
    assert "Lucia chairs." in posted.text
    await coral.wait_for_message(showing("Create the call to action?"))
