"""More group decisions end to end: a Block and its reason, a weak consensus, one vote per
organisation, outsiders who press a vote button, reminders, and a vote press delivered twice."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.app import open_storage
from botapi_emulator.client import Group, Person
from botapi_emulator.client_models import SandboxMessage
from storage.coalition import group_store, organisation_store
from storage.decisions.decision_models import Decision
from storage.people import volunteers
from tests.e2e.conftest import PATIENCE, ChorusUnderTest
from tests.e2e.test_decisions import coalition, showing

AGREE, STAND_ASIDE, BLOCK, QUESTION = range(4)
Check = Callable[[AsyncSession], Awaitable[bool]]
REMINDER = "Your voice is missing: “Venue?” in Coalition closes"


async def enrol(chorus: ChorusUnderTest, person: Person, status: str, **profile: Any) -> None:
    """Registers one person directly in the bot's database, with this status."""
    storage = await open_storage(chorus.database_url)
    now = datetime.now(UTC)
    try:
        async with storage.sessionmaker() as session, session.begin():
            volunteer = await volunteers.register(
                session,
                person.id,
                {
                    "kind": "individual",
                    "display_name": person.first_name,
                    "country": "LB",
                    "language": "en",
                    "timezone": "UTC",
                    **profile,
                },
                pledge_accepted_at=now,
                consent_given_at=now,
                status=status,
                now=now,
            )
            if volunteer.org_name:  # an approved member of the organisation of that name
                await organisation_store.join_or_found(
                    session, volunteer, volunteer.org_name, now, status=organisation_store.APPROVED
                )
    finally:
        await storage.engine.dispose()


async def until(chorus: ChorusUnderTest, check: Check, what: str) -> None:
    """Waits until the bot's database satisfies `check` (polled every few milliseconds)."""
    storage = await open_storage(chorus.database_url)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + PATIENCE
    try:
        while True:
            async with storage.sessionmaker() as session:
                if await check(session):
                    return
            assert loop.time() < deadline, f"{what} never happened"
            await asyncio.sleep(0.02)
    finally:
        await storage.engine.dispose()


async def members_known(chorus: ChorusUnderTest, group: Group, *people: Person) -> None:
    """Waits until the bot has recorded that these people joined the group."""

    async def known(session: AsyncSession) -> bool:
        return all([await group_store.is_member(session, group.id, p.id) for p in people])

    await until(chorus, known, "the joins were recorded")


async def published(chorus: ChorusUnderTest) -> None:
    """Waits until the bot has stored the id of every results message it posted.

    A vote pressed before that is counted but does not refresh the live results (see the
    report of this file's author): the tests wait, so as to test what they are about.
    """

    async def stored(session: AsyncSession) -> bool:
        missing = await session.scalar(
            select(func.count()).where(Decision.results_message_id.is_(None))
        )
        return missing == 0

    await until(chorus, stored, "the results message id was stored")


def open_private_chats(chorus: ChorusUnderTest, *people: Person) -> None:
    """These people have started the bot, so it may write to them privately."""
    for person in people:
        chorus.emulator.state.chats[person.id].started = True


def button_data(message: SandboxMessage, row: int) -> str:
    """The callback data of the first button of a row (labels carry changing counts)."""
    data = message.buttons[row][0].data
    assert data is not None
    return data


async def position(person: Person, proposal: SandboxMessage, which: int) -> str | None:
    """Takes a position on a consensus proposal; returns the bot's answer."""
    answer = await person.press_data(proposal, button_data(proposal, which))
    assert answer is not None
    return answer.text


async def reminders(person: Person) -> list[str]:
    """The reminders a person has received privately."""
    return [m.text for m in await person.chat_messages() if REMINDER in (m.text or "")]


async def reminded(person: Person, *, times: int) -> None:
    """Waits until a person has received this many reminders privately."""

    def pick(messages: list[SandboxMessage]) -> SandboxMessage | None:
        found = [m for m in messages if m.from_bot and REMINDER in (m.text or "")]
        return found[-1] if len(found) >= times else None

    await person.client.wait_for(
        person.id, pick, PATIENCE, f"{person.first_name}: reminder {times}"
    )


async def test_a_block_asks_for_a_reason_shown_with_the_outcome(chorus: ChorusUnderTest) -> None:
    coral = chorus.coordinator
    group, (amira, bilal, chadi) = await coalition(chorus, "Amira", "Bilal", "Chadi")
    open_private_chats(chorus, bilal)
    await coral.send("/consensus Rent a bus for the march | in 1d", chat=group)
    proposal = await coral.wait_for_message(showing("Proposal: Rent a bus"), chat=group)
    await published(chorus)
    assert await position(amira, proposal, AGREE) == "Vote recorded: Agree"
    answer = await bilal.press_data(proposal, button_data(proposal, BLOCK))
    assert answer is not None and answer.show_alert
    assert answer.text == "Block recorded. I have asked you privately for your reason."
    await bilal.wait_for_message(
        showing("You blocked the proposal “Rent a bus for the march”. Please tell me why")
    )
    await bilal.send("Too expensive for our budget")
    await bilal.wait_for_message(
        showing("Thank you. Your reason for blocking “Rent a bus for the march”")
    )
    assert await position(chadi, proposal, AGREE) == "Vote recorded: Agree"
    await chorus.advance(timedelta(days=1, seconds=1))
    final = await coral.wait_for_message(showing("Result:"), chat=group, since_last_action=False)
    assert "✋ Blocked (1): the proposal does not pass." in final.text
    assert "Reasons for blocking:\n• Bilal: Too expensive for our budget" in final.text
    assert "3 of 4 eligible members have voted." in final.text


async def test_enough_stand_asides_make_a_weak_consensus(chorus: ChorusUnderTest) -> None:
    coral = chorus.coordinator
    group, (amira, bilal, chadi, dina) = await coalition(chorus, "Amira", "Bilal", "Chadi", "Dina")
    open_private_chats(chorus, dina)  # her question is asked privately
    await coral.send("/consensus Join the coalition letter | in 2h", chat=group)
    proposal = await coral.wait_for_message(showing("Proposal: Join the coalition"), chat=group)
    await published(chorus)
    assert "weak when stand-asides reach 33%" in proposal.text
    await position(amira, proposal, AGREE)
    await position(bilal, proposal, AGREE)
    assert await position(chadi, proposal, STAND_ASIDE) == "Vote recorded: Stand aside"
    # A question is not a position: exactly one third of the positions stands aside.
    asked = await position(dina, proposal, QUESTION)  # typed privately, shown to the group
    assert asked is not None and "Your position stays open." in asked
    await chorus.advance(timedelta(hours=2, seconds=1))
    final = await coral.wait_for_message(showing("Result:"), chat=group, since_last_action=False)
    assert "⚠ Weak consensus: the proposal passes, but 1 stood aside." in final.text
    assert "Blocked" not in final.text
    assert "❓ 1 open question" in final.text
    assert "3 of 5 eligible members have voted." in final.text


async def test_one_vote_per_organisation_counts_its_latest_vote(chorus: ChorusUnderTest) -> None:
    coral = chorus.coordinator
    amira, bilal = await chorus.person("Amira"), await chorus.person("Bilal")
    await enrol(chorus, coral, "active")
    await enrol(chorus, amira, "active", kind="organisation", org_name="Handicap & Co")
    await enrol(chorus, bilal, "active", kind="organisation", org_name=" handicap &  CO")
    group, (chadi,) = await coalition(chorus, "Chadi")
    await group.add(amira)
    await group.add(bilal)
    await coral.send("/decisions", chat=group)
    answer = await coral.press("One vote per organisation: off", chat=group)
    assert answer is not None and answer.text == "Setting saved."
    await coral.send("/poll Venue? | Hall | Park | in 2h", chat=group)
    live = await coral.wait_for_message(showing("One vote per organisation"), chat=group)
    await published(chorus)
    assert live.poll is None and "Hall · 0" in live.labels  # buttons, not a native poll
    assert await amira.press_data(live, button_data(live, 0)) is not None
    assert await bilal.press_data(live, button_data(live, 1)) is not None  # her colleague
    assert await chadi.press_data(live, button_data(live, 1)) is not None
    await chorus.advance(timedelta(hours=2, seconds=1))
    final = await coral.wait_for_message(showing("Result:"), chat=group, since_last_action=False)
    assert "Adopted: Park — 2 of 2 votes (100%)." in final.text
    assert "Hall — 0 (0%)" in final.text
    # Coral, Chadi and the organisation: three units, of which two voted.
    assert "2 of 3 eligible members have voted." in final.text


async def test_outsiders_are_invited_privately_and_not_counted(chorus: ChorusUnderTest) -> None:
    coral = chorus.coordinator
    group, (amira,) = await coalition(chorus, "Amira")
    zoe, yusuf = await chorus.person("Zoe"), await chorus.person("Yusuf")
    await enrol(chorus, yusuf, "inactive")
    open_private_chats(chorus, zoe, yusuf)
    await group.add(zoe)
    await group.add(yusuf)
    await coral.send("/poll Venue? | Hall | Park | anonymous | in 1h", chat=group)
    await coral.wait_for_message(showing("Anonymous vote"), chat=group)
    await published(chorus)
    refused = "Your vote was not counted: only registered members of this group can vote."
    answer = await zoe.press("Hall", chat=group)
    assert answer is not None and answer.show_alert and refused in (answer.text or "")
    invitation = await zoe.wait_for_message(showing("You tried to vote on “Venue?” in Coalition"))
    assert "Register with Chorus" in invitation.labels
    answer = await yusuf.press("Hall", chat=group)
    assert answer is not None and answer.show_alert and refused in (answer.text or "")
    await yusuf.wait_for_message(
        showing("Your vote on “Venue?” was not counted: only active members of Coalition")
    )
    answer = await amira.press("Park", chat=group)
    assert answer is not None and answer.text == "Vote recorded: Park"
    live = await coral.wait_for_message(
        showing("1 of 2 eligible members has voted."),
        chat=group,
        since_last_action=False,
        timeout=PATIENCE,
    )
    assert live.labels[:2] == ["Hall", "Park"]  # anonymous: the turnout only, while open
    await coral.press("⏹ Close now", chat=group)
    final = await coral.wait_for_message(showing("Result:"), chat=group, since_last_action=False)
    assert "Adopted: Park — 1 of 1 votes (100%)." in final.text


async def test_only_the_quiet_members_are_reminded_once_a_moment(chorus: ChorusUnderTest) -> None:
    coral = chorus.coordinator
    group, (amira, bilal, chadi) = await coalition(chorus, "Amira", "Bilal", "Chadi")
    open_private_chats(chorus, coral, amira, bilal, chadi)
    await members_known(chorus, group, amira, bilal, chadi)
    await coral.send("/poll Venue? | Hall | Park | anonymous | in 4h", chat=group)
    await coral.wait_for_message(showing("Anonymous vote"), chat=group)
    await published(chorus)
    await amira.press("Hall", chat=group)
    await coral.press("Park", chat=group)
    await coral.wait_for_message(  # the coalesced edit, before the bot restarts below
        showing("2 of 4 eligible members have voted."),
        chat=group,
        since_last_action=False,
        timeout=PATIENCE,
    )
    await chorus.advance(timedelta(hours=2, seconds=1))  # halfway
    await reminded(bilal, times=1)
    await reminded(chadi, times=1)
    await chorus.restart()  # the moment that has run does not run again
    await chorus.advance(timedelta(minutes=10))
    assert chorus.running is not None and chorus.running.delivery is not None
    await chorus.running.delivery.wait_until_idle()
    assert [len(await reminders(p)) for p in (coral, amira, bilal, chadi)] == [0, 0, 1, 1]
    await bilal.press("Park", chat=group)
    await chorus.advance(timedelta(minutes=50))  # one hour before the close
    await reminded(chadi, times=2)
    await chorus.running.delivery.wait_until_idle()
    assert [len(await reminders(p)) for p in (coral, amira, bilal, chadi)] == [0, 0, 1, 2]


async def test_a_vote_press_delivered_twice_counts_once(chorus: ChorusUnderTest) -> None:
    coral = chorus.coordinator
    group, (amira, bilal) = await coalition(chorus, "Amira", "Bilal")
    await coral.send(
        "/poll Which days? | Mon | Tue | Wed | multiple | anonymous | in 2h", chat=group
    )
    await coral.wait_for_message(showing("Several choices allowed."), chat=group)
    await published(chorus)
    answer = await amira.press("Mon", chat=group)
    assert answer is not None and answer.text == "Vote recorded: Mon"
    confirmed = await chorus.sandbox.confirmed_updates()
    press = next(
        u
        for u in reversed(confirmed)
        if u.get("callback_query", {}).get("from", {}).get("id") == amira.id
    )
    await chorus.kill()
    await chorus.sandbox.redeliver(press["update_id"])
    await chorus.start()
    # Pressed again, Mon would be taken back (a multiple-choice button toggles).
    answer = await bilal.press("Tue", chat=group)
    assert answer is not None and answer.text == "Vote recorded: Tue"
    await coral.wait_for_message(
        showing("2 of 3 eligible members have voted."),
        chat=group,
        since_last_action=False,
        timeout=PATIENCE,
    )
    await coral.press("⏹ Close now", chat=group)
    final = await coral.wait_for_message(showing("Result:"), chat=group, since_last_action=False)
    assert "Tie between Mon / Tue: no decision." in final.text
    assert "Mon — 1 (50%)" in final.text and "Wed — 0 (0%)" in final.text
