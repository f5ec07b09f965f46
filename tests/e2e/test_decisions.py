"""Group decisions end to end: the emulator, the real aiogram client, the bot, several people."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.app import open_storage
from botapi_emulator.client import Group, Person
from handlers.kernel.coalesce import DEFAULT_INTERVAL
from storage.people import volunteers
from tests.e2e.conftest import PATIENCE, ChorusUnderTest


async def register(chorus: ChorusUnderTest, *people: Person, **profile: Any) -> None:
    """Registers people directly in the bot's database (registration has its own e2e tests)."""
    storage = await open_storage(chorus.database_url)
    now = datetime.now(UTC)
    try:
        async with storage.sessionmaker() as session, session.begin():
            for person in people:
                await volunteers.register(
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
                    status="active",
                    now=now,
                )
    finally:
        await storage.engine.dispose()


async def coalition(chorus: ChorusUnderTest, *names: str) -> tuple[Group, list[Person]]:
    """A supergroup with the coordinator, the bot (admin) and registered members who joined."""
    people = [await chorus.person(name) for name in names]
    await register(chorus, chorus.coordinator, *people)
    group = await chorus.sandbox.create_group(
        "Coalition", [chorus.coordinator], type="supergroup", bot_admin=True
    )
    for person in people:
        await group.add(person)
    return group, people


def showing(fragment: str):  # type: ignore[no-untyped-def]
    return lambda message: fragment in (message.text or "")


async def test_a_native_majority_vote_with_a_changed_vote(chorus: ChorusUnderTest) -> None:
    coral = chorus.coordinator
    group, (amira, bilal, chadi) = await coalition(chorus, "Amira", "Bilal", "Chadi")
    await coral.send("/poll Join the march? | Yes | No | majority | in 2h", chat=group)
    poll = await coral.wait_for_message(lambda m: m.poll is not None, chat=group)
    await coral.wait_for_message(showing("Rule: majority"), chat=group)
    await amira.vote(poll, [1])
    await bilal.vote(poll, [0])
    await chadi.vote(poll, [1])
    await amira.vote(poll, [0])  # changes her mind
    live = await coral.wait_for_message(
        showing("Yes — 2 (67%):"), chat=group, since_last_action=False, timeout=PATIENCE
    )
    # Answers of different people may be handled in either order: the names, not their order.
    assert "Amira" in live.text.split("Yes — 2 (67%):")[1].split("\n")[0]
    assert "No — 1 (33%): Chadi" in live.text
    await chorus.advance(timedelta(hours=2, seconds=1))
    final = await coral.wait_for_message(showing("Result:"), chat=group, since_last_action=False)
    assert "Adopted: Yes — 2 of 3 votes (67%)." in final.text
    assert final.pinned


async def test_the_deadline_passes_while_the_bot_is_stopped(chorus: ChorusUnderTest) -> None:
    coral = chorus.coordinator
    group, (amira, bilal) = await coalition(chorus, "Amira", "Bilal")
    await coral.send("/poll Venue? | Hall | Park | anonymous | in 1h", chat=group)
    await coral.wait_for_message(showing("Anonymous vote"), chat=group)
    await amira.press("Hall", chat=group)  # anonymous: no counts on the buttons while open
    answer = await bilal.press("Park", chat=group)
    assert answer is not None and answer.text == "Vote recorded: Park"
    await amira.press("Park", chat=group)
    await chorus.stop()
    chorus.clock.advance(timedelta(hours=3))
    await chorus.start()  # the scheduler catches up at start: late, and says so
    final = await coral.wait_for_message(showing("Result:"), chat=group, since_last_action=False)
    assert "Adopted: Park — 2 of 2 votes (100%)." in final.text
    assert "Closed 120 minutes late: the bot was offline at the deadline." in final.text


async def test_a_burst_of_200_votes_is_coalesced(chorus: ChorusUnderTest) -> None:
    coral = chorus.coordinator
    names = [f"V{i}" for i in range(200)]
    group, people = await coalition(chorus, *names)
    await coral.send("/poll Big question? | Yes | No | anonymous | in 3d | quiet", chat=group)
    results = await coral.wait_for_message(showing("Big question?"), chat=group)
    await chorus.sandbox.clear_requests()
    loop = asyncio.get_running_loop()
    started = loop.time()
    semaphore = asyncio.Semaphore(20)

    async def vote(index: int, person: Person) -> None:
        async with semaphore:
            await person.press_data(results, f"dv:1:{0 if index % 4 else 1}", wait=30)

    await asyncio.gather(*(vote(i, p) for i, p in enumerate(people)))
    await coral.wait_for_message(
        showing("200 of 201 eligible members have voted."),
        chat=group,
        since_last_action=False,
        timeout=PATIENCE * 2,
    )
    elapsed = loop.time() - started
    edits = [
        r
        for r in await chorus.sandbox.requests("editMessageText")
        if r["params"].get("message_id") == results.message_id
    ]
    # One edit at once, then at most one every DEFAULT_INTERVAL seconds (Telegram allows about
    # 20 a minute per group), however long a busy machine takes over the 200 votes; an edit that
    # would change nothing is not an error. Without coalescing there would be about 200.
    allowed = 1 + int(elapsed // DEFAULT_INTERVAL) + 1  # + one already waiting from the poll
    assert 1 <= len(edits) <= allowed, (len(edits), elapsed)
    assert not [r for r in edits if r["status"] == 429]
    await coral.press("⏹ Close now", chat=group)
    final = await coral.wait_for_message(showing("Result:"), chat=group, since_last_action=False)
    assert "Yes — 150 (75%)" in final.text and "No — 50 (25%)" in final.text
