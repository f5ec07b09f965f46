"""A group's decisions: history, CSV export, one vote per organisation, nudges, late closes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.app import Storage
from handlers.decisions import decision_list
from handlers.decisions.nudges import GroupNudgeSwitch
from handlers.kernel.ports import ShiftedClock
from storage.coalition import group_store
from storage.models import OutboxMessage, Volunteer
from tests.conftest import COORDINATOR_ID
from tests.handlers.test_polls import close_all, members
from tests.support.csv_files import read_export
from tests.support.groups import CountingMessenger, Group, make_volunteer
from tests.support.recording import Conversation, Someone


@pytest.fixture
def messenger() -> CountingMessenger:
    """A messenger that also counts edits and pins."""
    return CountingMessenger()


@pytest.fixture
def group(conversation: Conversation) -> Group:
    """The coalition's supergroup."""
    return Group(conversation)


@pytest.fixture
def coral(conversation: Conversation) -> Someone:
    """A coordinator."""
    return conversation.person("Coral", user_id=COORDINATOR_ID)


async def nudges(storage: Storage) -> list[tuple[int, str | None]]:
    async with storage.sessionmaker() as session:
        rows = (await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all()
        return [(row.chat_id, row.ref) for row in rows if row.purpose == "nudge"]


async def test_history_and_csv_export(
    conversation: Conversation, group: Group, coral: Someone, clock: ShiftedClock
) -> None:
    amira, bilal = await members(conversation, group, "Amira", "Bilal")
    await group.say(coral, "/poll =Venue? | Hall | Park | anonymous")
    await group.press(amira, "Hall")
    await group.press(bilal, "Hall")
    await close_all(conversation, clock, timedelta(days=1))
    await group.say(amira, "/decisions")
    listing = group.last
    assert "=Venue?" in listing.text and "Hall 2 · Park 0" in listing.text
    assert "Adopted: <b>Hall</b>" in listing.text and listing.keyboard == []
    await group.say(amira, "/decisions csv")
    assert "Sorry, only these roles can do this: Owner, Chair," in group.last.text
    await group.say(coral, "/decisions")
    await group.press(coral, "⬇ Export as CSV")
    rows = read_export(coral.last.document, "decisions", coral.person.id, decision_list.CSV_HEADER)
    assert rows[0]["question"] == "'=Venue?"  # no formula injection in spreadsheets
    assert (rows[0]["rule"], rows[0]["counts"], rows[0]["result"], rows[0]["winner"]) == (
        "plurality",
        "2 | 0",
        "adopted",
        "Hall",
    )


async def test_one_vote_per_organisation_latest_counts(
    conversation: Conversation, group: Group, coral: Someone, clock: ShiftedClock
) -> None:
    first, second = await members(
        conversation, group, "Rana", "Samir", kind="organisation", org_name="Handicap & Co"
    )
    (third,) = await members(
        conversation, group, "Tala", kind="organisation", org_name="  handicap &  CO "
    )
    (solo,) = await members(conversation, group, "Yusuf")
    await group.say(coral, "/decisions")
    await group.press(coral, "One vote per organisation: off")
    await group.say(coral, "/poll Endorse? | Yes | No | in 2h")
    results = group.find("Endorse?")
    assert "One vote per organisation" in results.text and "Yes · 0" in results.labels
    await group.press(first, "Yes")
    await group.press(second, "No")
    await group.press(third, "No")
    await group.press(solo, "Yes")
    await group.press(first, "No")  # the organisation's latest vote
    await close_all(conversation, clock, timedelta(hours=2))
    text = group.last.text
    assert "<b>No</b> — 1 (50%): Handicap &amp; Co" in text
    assert "2 of 2 eligible members have voted." in text


async def test_nudges_go_only_to_quiet_members_once_per_moment(
    conversation: Conversation, group: Group, coral: Someone, clock: ShiftedClock, storage: Storage
) -> None:
    amira, bilal, chadi = await members(conversation, group, "Amira", "Bilal", "Chadi")
    dalia = conversation.person("Dalia")
    await make_volunteer(conversation, dalia, language="fr")
    await group.join(dalia)
    await group.say(coral, "/poll Venue? | Hall | Park | anonymous | in 4h")
    await group.press(amira, "Hall")
    clock.advance(timedelta(hours=2))
    assert await conversation.dispatcher.run_due_timers() == 1
    halfway = await nudges(storage)
    assert sorted(chat for chat, _ in halfway) == sorted(
        [bilal.person.id, chadi.person.id, dalia.person.id]
    )
    assert {ref for _, ref in halfway} == {"decision:1:half"}
    async with storage.sessionmaker() as session:
        french = await session.scalar(
            select(OutboxMessage).where(OutboxMessage.chat_id == dalia.person.id)
        )
        assert french is not None and "Votre voix manque" in french.text
        assert french.keyboard is not None and french.keyboard[0][0]["url"].startswith(
            "https://t.me/c/1234567890/"
        )
    await group.press(coral, "⏰ +1 day")  # extending does not nudge again for "half"
    await group.press(bilal, "Park")
    await chadi.press_data(1, "dnudge:off")
    assert "no more reminders" in chadi.last.text
    clock.advance(timedelta(days=1, hours=1))  # one hour before the new close
    await conversation.dispatcher.run_due_timers()
    after = await nudges(storage)
    assert after[len(halfway) :] == [(dalia.person.id, "decision:1:hour")]


async def test_the_deadline_passed_while_the_bot_was_down(
    conversation: Conversation, group: Group, coral: Someone, clock: ShiftedClock
) -> None:
    (amira,) = await members(conversation, group, "Amira")
    await group.say(coral, "/poll Venue? | Hall | Park | anonymous | in 1h | quiet")
    await group.press(amira, "Park")
    clock.advance(timedelta(hours=4))  # nobody ran the timers: the bot was stopped
    conversation.dispatcher.services.started_at = clock.now()  # and starts again
    assert await conversation.dispatcher.run_due_timers() == 1  # what the scheduler does at start
    text = group.last.text
    assert "Adopted: <b>Park</b>" in text
    assert "Closed 180 minutes late: the bot was offline at the deadline." in text


async def test_hidden_open_vote_shows_turnout_then_names_discreet_masked(
    conversation: Conversation, group: Group, coral: Someone, clock: ShiftedClock
) -> None:
    (amira,) = await members(conversation, group, "Amira")
    (dana,) = await members(conversation, group, "Dana", discreet=True)
    await group.say(coral, "/poll Venue? | Hall | Park | hidden")
    await group.press(amira, "Hall")
    await group.press(dana, "Park")
    await conversation.dispatcher.services.edits.flush()
    live = group.find("Venue?")
    assert live.labels[:2] == ["Hall", "Park"]  # no counts on the buttons
    assert "— 1" not in live.text and "Has voted: Amira, a member (discreet)" in live.text
    await close_all(conversation, clock, timedelta(days=1))
    final = group.last.text
    assert "<b>Hall</b> — 1 (50%): Amira" in final
    assert "<b>Park</b> — 1 (50%): a member (discreet)" in final
    assert "Dana" not in final


async def test_group_migration_keeps_the_decisions(
    conversation: Conversation, coral: Someone, clock: ShiftedClock
) -> None:
    from handlers.kernel.events import Event, EventKind

    old = Group(conversation, -4242, "Old group")
    (amira,) = await members(conversation, old, "Amira")
    await old.say(coral, "/poll Venue? | Hall | Park | anonymous")
    await conversation.dispatcher.feed(
        Event(
            conversation.next_update_id(),
            EventKind.MIGRATION,
            coral.person,
            old.chat,
            migrate_to_chat_id=-100_4242,
        )
    )
    new = Group(conversation, -100_4242, "Old group")
    await new.say(amira, "/decisions")
    assert "1 decision is open now." in new.last.text


async def test_a_nudge_waits_for_the_morning_or_is_not_sent_after_the_close(
    conversation: Conversation, group: Group, coral: Someone, clock: ShiftedClock, storage: Storage
) -> None:
    """Quiet hours (issue 16): a reminder due at 23:00 UTC waits until 08:00; one that could
    only arrive after the vote has closed is not sent at all."""
    (amira,) = await members(conversation, group, "Amira")  # time zone UTC
    now = clock.now()
    noon = now.replace(hour=12, minute=0, second=0, microsecond=0) + timedelta(days=1)
    clock.advance(noon - now)
    await group.say(coral, "/poll Venue? | Hall | Park | anonymous | in 22h")  # half: 23:00
    await group.say(coral, "/poll Date? | May | June | anonymous | in 14h")  # half: 19:00
    await group.say(coral, "/poll Time? | Noon | Eve | anonymous | in 12h")  # closes 00:00
    clock.advance(timedelta(hours=7))  # 19:00
    await conversation.dispatcher.run_due_timers()
    clock.advance(timedelta(hours=4))  # 23:00
    await conversation.dispatcher.run_due_timers()
    async with storage.sessionmaker() as session:
        rows = (
            await session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.purpose == "nudge")
                .order_by(OutboxMessage.id)
            )
        ).all()
    by_ref = {row.ref: row.not_before for row in rows}
    morning = (noon + timedelta(hours=20)).replace(tzinfo=None)  # 08:00 the next day
    assert by_ref["decision:2:half"] is None  # 19:00: not quiet
    assert by_ref["decision:1:half"] is not None
    assert by_ref["decision:1:half"].replace(tzinfo=None) == morning
    # "Time?" closes at midnight: its reminder one hour before (23:00) is not sent at all.
    assert "decision:3:hour" not in by_ref
    assert {row.chat_id for row in rows} == {amira.person.id}


async def test_not_for_this_group_mutes_one_groups_reminders_only(
    conversation: Conversation, coral: Someone, clock: ShiftedClock, storage: Storage
) -> None:
    """A member mutes one group's vote reminders from the reminder itself (issue 16: mute a
    group's decisions); another group's still reach them, and /profile → What reaches you
    shows the group muted and turns it back on."""
    main, working = Group(conversation), Group(conversation, -1009876543210, "Working group")
    (amira,) = await members(conversation, main, "Amira")
    await working.join(amira, coral)
    await main.say(coral, "/poll Venue? | Hall | Park | in 4h")
    clock.advance(timedelta(hours=2))
    await conversation.dispatcher.run_due_timers()
    assert [chat for chat, _ in await nudges(storage)] == [amira.person.id]
    async with storage.sessionmaker() as session:
        nudge = await session.scalar(select(OutboxMessage).where(OutboxMessage.purpose == "nudge"))
    assert nudge is not None and nudge.keyboard is not None
    mute = next(
        c["data"] for row in nudge.keyboard for c in row if "Not for this group" in c["label"]
    )
    await amira.press_data(1, mute)
    assert "no more reminders about votes in Coalition" in amira.last.text
    before = len(await nudges(storage))
    await main.say(coral, "/poll Date? | Monday | Friday | in 4h")
    await working.say(coral, "/poll Budget? | Yes | No | in 4h")
    clock.advance(timedelta(hours=2))
    await conversation.dispatcher.run_due_timers()
    refs = [ref for chat, ref in (await nudges(storage))[before:] if chat == amira.person.id]
    assert refs == ["decision:3:half"]  # the working group's vote only
    await amira.send("/profile")
    await amira.press("🔔 What reaches me")
    labels = amira.last.labels
    assert "🔕 Reminders about votes in Coalition" in labels
    assert "🔔 Reminders about votes in Working group" in labels
    await amira.press("🔕 Reminders about votes in Coalition")
    assert "🔔 Reminders about votes in Coalition" in amira.last.labels


async def test_a_muted_group_stays_muted_after_its_migration(
    conversation: Conversation, storage: Storage, clock: ShiftedClock
) -> None:
    basic = Group(conversation, -4242, "Basic")
    (amira,) = await members(conversation, basic, "Amira")
    await amira.press_data(1, GroupNudgeSwitch(4242, "off").pack())
    async with storage.sessionmaker() as session, session.begin():
        await group_store.migrated(session, -4242, -1004242, clock.now())
    async with storage.sessionmaker() as session:
        volunteer = await session.get(Volunteer, amira.person.id)
    assert volunteer is not None and volunteer.muted == ["decisions:-1004242"]
