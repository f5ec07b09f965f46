"""An action's messages follow it (issue 14): an edit reaches the group post, every original
and the people who said "Can't"; nothing is taken or promoted after the end; a waitlisted
volunteer sees their place; places left; a petition's signature can be taken back."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.app import Storage
from handlers.actions.action_views import render, slot_line, when_text, without_places
from handlers.kernel.context import Services
from handlers.kernel.i18n import translator
from handlers.kernel.ports import ShiftedClock
from storage.actions import action_store
from storage.actions.action_models import Action, Rsvp
from storage.coalition import group_store
from storage.people import preferences
from tests.conftest import COORDINATOR_ID
from tests.handlers.test_actions import in_days
from tests.support.actions import engine_for, make_volunteer
from tests.support.recording import Conversation, RecordingMessenger, Someone

GROUP = -1001


@pytest.fixture
def coordinator(conversation: Conversation) -> Someone:
    """The coordinator (in ADMIN_IDS)."""
    return conversation.person("Coral", user_id=COORDINATOR_ID)


async def _deliver(conversation: Conversation) -> int:
    return await engine_for(conversation.dispatcher.services).drain()


async def meeting(
    coordinator: Someone,
    storage: Storage,
    clock: ShiftedClock,
    *,
    capacity: str | None = None,
    group: bool = True,
    send: bool = True,
) -> None:
    """Creates and sends a meeting in 3 days (posted in the coalition's group if `group`)."""
    if group:
        async with storage.sessionmaker() as session, session.begin():
            await group_store.joined(session, GROUP, "Coalition", "supergroup", clock.now())
    await coordinator.send("/newaction")
    await coordinator.press("Meeting")
    await coordinator.send("Vigil for survivors")
    await coordinator.send("Bring candles.")
    await coordinator.press("No link")
    await coordinator.send(in_days(clock, 3))
    await coordinator.send("Beirut")
    await coordinator.send("Martyrs' Square")
    if capacity is None:
        await coordinator.press("No limit")
    else:
        await coordinator.send(capacity)
    await coordinator.press("Done ✔")
    if group:
        await coordinator.press("Coalition")
        await coordinator.press("Done ✔")
    if send:
        await coordinator.press("✅ Send it")


async def people(storage: Storage, conversation: Conversation, *ids: int) -> list[Someone]:
    now = conversation.dispatcher.services.clock.now()
    found = []
    for user_id in ids:
        await make_volunteer(storage, user_id, now=now, name=f"P{user_id}")
        found.append(conversation.person(f"P{user_id}", user_id=user_id))
    return found


async def test_an_edit_reaches_the_group_post_every_original_and_the_cant_people(
    conversation: Conversation,
    coordinator: Someone,
    storage: Storage,
    clock: ShiftedClock,
    messenger: RecordingMessenger,
) -> None:
    going, cant, silent = await people(storage, conversation, 1, 2, 3)
    await meeting(coordinator, storage, clock)
    await _deliver(conversation)
    post = messenger.chats[GROUP][0]
    await going.press("Going")
    await cant.press("Can't")
    await coordinator.send("/actions")
    await coordinator.press("#1 Vigil for survivors")
    await coordinator.press("✏️ Edit")
    await coordinator.press("Date and time")
    await coordinator.send(in_days(clock, 5))
    assert "2 volunteers who answered are being told" in coordinator.messages[-2].text
    await _deliver(conversation)
    async with storage.sessionmaker() as session:
        at = await session.scalar(select(Action.at))
    assert at is not None
    new_time = when_text(translator("en"), at, "Asia/Beirut")
    assert new_time in post.text and post.labels == ["Going", "Maybe", "Can't"]
    assert new_time in going.messages[0].text and going.messages[0].labels[0] == "✅ Going"
    assert new_time in silent.messages[0].text and len(silent.messages) == 1
    assert "you said you couldn't come" in cant.last.text and new_time in cant.last.text
    assert cant.last.labels == ["Going", "Maybe", "✅ Can't", "📅 Add to calendar"]
    assert "Changed: Date and time" in going.last.text and going.last.labels[0] == "✅ Going"
    await coordinator.press("✏️ Edit")
    await coordinator.press("Place")
    await coordinator.send("Parliament gate")
    await _deliver(conversation)
    earlier_notice = going.messages[-2]
    assert earlier_notice.text.startswith("⚠️ <i>Outdated") and earlier_notice.labels == []
    assert "Parliament gate" in going.messages[0].text and "Parliament gate" in post.text


async def test_an_answer_shows_on_every_live_copy_and_never_on_an_outdated_one(
    conversation: Conversation,
    coordinator: Someone,
    storage: Storage,
    clock: ShiftedClock,
    messenger: RecordingMessenger,
) -> None:
    """An answer given on the call shows on the newest notice of a change too (its buttons
    answer the same call); a notice marked outdated keeps no buttons."""
    (going,) = await people(storage, conversation, 1)
    await meeting(coordinator, storage, clock)
    await _deliver(conversation)
    await going.press("Going")
    await coordinator.send("/actions")
    await coordinator.press("#1 Vigil for survivors")
    for field, value in (("Date and time", in_days(clock, 5)), ("Place", "Parliament gate")):
        await coordinator.press("✏️ Edit")
        await coordinator.press(field)
        await coordinator.send(value)
        await _deliver(conversation)
    outdated, latest = going.messages[-2], going.last
    assert outdated.text.startswith("⚠️ <i>Outdated") and outdated.labels == []
    assert latest.labels[0] == "✅ Going"
    call = going.messages[0]
    maybe = next(data for row in call.keyboard for label, data in row if label == "Maybe")
    await going.press_data(call.message_id, maybe)
    await _deliver(conversation)
    assert call.labels[1] == "✅ Maybe" and latest.labels[1] == "✅ Maybe", latest.labels
    assert outdated.labels == []
    # A tap on the outdated copy's old buttons, still on their screen (found by the sandbox
    # tester): the answer is taken, and the copy keeps no buttons.
    going_data = next(data for row in call.keyboard for label, data in row if "Going" in label)
    await going.press_data(outdated.message_id, going_data)
    await _deliver(conversation)
    assert call.labels[0] == "✅ Going" and latest.labels[0] == "✅ Going", latest.labels
    assert outdated.labels == []


async def test_no_answer_and_no_promotion_after_the_end_and_actions_says_ended(
    conversation: Conversation, coordinator: Someone, storage: Storage, clock: ShiftedClock
) -> None:
    first, second, late = await people(storage, conversation, 1, 2, 3)
    await meeting(coordinator, storage, clock, capacity="1", group=False)
    await _deliver(conversation)
    await first.press("Going")
    await second.press("Going")
    async with storage.sessionmaker() as session:
        at = await session.scalar(select(Action.at))
    assert at is not None
    clock.advance(at + timedelta(hours=2, minutes=1) - clock.now())
    text, alert = await first.press("Can't")
    assert alert and text == "This action is over: answers are no longer taken."
    text, alert = await late.press("Going")
    assert alert and "over" in (text or "")
    await _deliver(conversation)
    assert "you are in" not in second.last.text
    async with storage.sessionmaker() as session:
        rows = dict((await session.execute(select(Rsvp.user_id, Rsvp.status))).all())
    assert rows == {1: "going", 2: "waitlist"}
    await coordinator.send("/actions")
    assert "Past" in coordinator.last.text and "— ended" in coordinator.last.text


async def test_a_waitlisted_volunteer_sees_their_place_not_going(
    conversation: Conversation,
    coordinator: Someone,
    storage: Storage,
    clock: ShiftedClock,
    messenger: RecordingMessenger,
    services: Services,
) -> None:
    first, second, third = await people(storage, conversation, 1, 2, 3)
    await meeting(coordinator, storage, clock, capacity="1")
    await _deliver(conversation)
    assert "👥 1 of 1 places left" in messenger.chats[GROUP][0].text
    await first.press("Going")
    await second.press("Going")
    text, alert = await third.press("Going")
    assert alert and "you are #2 on the waitlist" in (text or "")
    assert third.messages[0].labels[0] == "⏳ #2 on the waitlist"
    assert "✅ Going" not in third.messages[0].labels
    await services.edits.flush()
    assert "👥 Full (1 place) · 2 waiting" in messenger.chats[GROUP][0].text
    await second.press("Can't")
    await _deliver(conversation)
    assert "You are #1 on the waitlist" in third.messages[0].text
    assert third.messages[0].labels[0] == "⏳ #1 on the waitlist"
    await first.press("Can't")
    await _deliver(conversation)
    assert "you are in" in third.last.text and third.last.labels[0] == "✅ Going"
    assert third.messages[0].labels[0] == "✅ Going"


async def test_a_signature_can_be_taken_back_and_counts_as_signed(
    conversation: Conversation, coordinator: Someone, storage: Storage, clock: ShiftedClock
) -> None:
    (signer,) = await people(storage, conversation, 1)
    await coordinator.send("/newaction")
    await coordinator.press("Petition")
    await coordinator.send("Ban cluster munitions")
    await coordinator.send("Sign the petition.")
    await coordinator.send("https://example.org/sign")
    await coordinator.send((clock.now() + timedelta(days=5)).strftime("%Y-%m-%d"))
    await coordinator.press("UTC")
    await coordinator.press("Done ✔")
    await coordinator.press("✅ Send it")
    await _deliver(conversation)
    await signer.press("✍️ I signed")
    assert signer.last.labels == ["✅ ✍️ I signed", "↩️ I haven't signed after all"]
    await coordinator.send("/actions")
    assert "Signed 1" in coordinator.last.text and "Done" not in coordinator.last.text
    text, _ = await signer.press("↩️ I haven't signed after all")
    assert text == "Noted: your answer is taken back."
    assert signer.last.labels[0] == "✍️ I signed"
    await coordinator.send("/actions")
    assert "Signed 0" in coordinator.last.text
    await signer.press("✍️ I signed")
    await coordinator.send("/stats")
    assert any("signed 1" in m.text for m in coordinator.messages[-2:])


async def test_the_attendance_loop_with_a_no_show_and_a_walk_in(
    conversation: Conversation,
    coordinator: Someone,
    storage: Storage,
    clock: ShiftedClock,
    messenger: RecordingMessenger,
) -> None:
    from handlers.actions.action_views import HereButton
    from handlers.actions.attendance import CheckButton

    coming, leaving, waiting = await people(storage, conversation, 1, 2, 3)
    await meeting(coordinator, storage, clock, capacity="2", group=False)
    await _deliver(conversation)
    for person in (coming, leaving, waiting):
        await person.press("Going")
    async with storage.sessionmaker() as session:
        at = await session.scalar(select(Action.at))
    assert at is not None
    clock.advance(at - timedelta(days=1) + timedelta(minutes=1) - clock.now())
    await conversation.dispatcher.run_due_timers()
    await _deliver(conversation)
    assert "Still coming to “Vigil for survivors”?" in coming.last.text
    assert "Still coming" not in waiting.last.text  # on the waitlist: not asked
    text, _ = await coming.press("Yes, I'm coming")
    assert text == "Great, see you there!"
    await leaving.press("No, I can't any more")
    await _deliver(conversation)
    assert "you are in" in waiting.last.text
    async with storage.sessionmaker() as session:
        rows = dict((await session.execute(select(Rsvp.user_id, Rsvp.status))).all())
        confirmed = await session.scalar(select(Rsvp.confirmed_at).where(Rsvp.user_id == 1))
    assert rows == {1: "going", 2: "cant", 3: "going"} and confirmed is not None

    text, alert = await coming.press_data(coming.messages[0].message_id, HereButton(1).pack())
    assert alert and text == "You can check in only while the event is under way."
    clock.advance(at - clock.now())
    await conversation.dispatcher.run_due_timers()
    await _deliver(conversation)
    assert coming.messages[0].labels[0] == "📍 I'm here"  # their message, while under way
    roster = coordinator.last
    assert "Check-in" in roster.text and "Not marked 2" in roster.text
    assert roster.labels[:4] == ["▫️ P1", "🚫 No-show", "▫️ P3", "🚫 No-show"]
    text, _ = await waiting.press("📍 I'm here")
    assert text == "Checked in: thank you for coming!"
    assert "📍 I'm here" not in waiting.messages[0].labels
    await coordinator.send("/actions")
    await coordinator.press("#1 Vigil for survivors")
    await coordinator.press("🧾 Check-in")
    assert "✅ P3" in coordinator.last.labels  # checked in by themselves
    await coordinator.press("▫️ P1")
    await coordinator.press_data(roster.message_id, CheckButton(1, 3, "n").pack())
    await coordinator.press("➕ Add a walk-in")
    await coordinator.send("Walter")
    roster = coordinator.last
    assert "Walk-ins: Walter" in roster.text
    assert "Attended 2 · 🚫 No-show 1 · ▫️ Not marked 0" in roster.text
    assert roster.labels[:4] == ["✅ P1", "🚫 No-show", "🚫 P3", "🚫 No-show"]

    clock.advance(timedelta(hours=2, minutes=1))
    await conversation.dispatcher.run_due_timers()
    await _deliver(conversation)
    assert coming.messages[0].text.startswith("⏹ <b>This action is over</b>")
    assert coming.messages[0].labels == []
    async with storage.sessionmaker() as session:
        assert await session.scalar(select(Action.status)) == "closed"

    clock.advance(timedelta(hours=1))
    await conversation.dispatcher.run_due_timers()
    await _deliver(conversation)
    assert "Thank you for coming" in coming.last.text
    assert not any("Thank you for coming" in m.text for m in waiting.messages)
    text, _ = await coming.press("👍 Good")
    assert text == "Thank you, noted."
    async with storage.sessionmaker() as session:
        assert await session.scalar(select(Rsvp.feedback).where(Rsvp.user_id == 1)) == "good"

    await coordinator.send("/stats")
    shown = "\n".join(m.text for m in coordinator.messages[-2:])
    assert "reached 3 → answered 3 → confirmed 2 → attended 2" in shown
    await coordinator.send("/members")
    await coordinator.press("P3")
    assert "Events: attended 0, no-shows 1" in coordinator.last.text


async def test_add_to_calendar_sends_the_event_in_the_person_s_time_zone(
    conversation: Conversation,
    coordinator: Someone,
    storage: Storage,
    clock: ShiftedClock,
    messenger: RecordingMessenger,
) -> None:
    from icalendar import Calendar

    await make_volunteer(
        storage, 5, now=clock.now(), name="Paz", language="es", timezone="America/Bogota"
    )
    paz = conversation.person("Paz", user_id=5)
    await meeting(coordinator, storage, clock, group=False)
    await _deliver(conversation)
    assert "📅 Añadir al calendario" in paz.last.labels
    text, _ = await paz.press("📅 Añadir al calendario")
    assert text == "El archivo de calendario está en tu chat conmigo."
    sent = paz.last
    assert sent.document is not None and sent.document[0] == "action-1.ics"
    assert "America/Bogota" in sent.text
    calendar = Calendar.from_ical(sent.document[1])
    (event,) = calendar.walk("VEVENT")
    async with storage.sessionmaker() as session:
        at = await session.scalar(select(Action.at))
    assert at is not None
    start = event.decoded("dtstart")
    assert str(start.tzinfo) == "America/Bogota" and start == at
    assert event.decoded("dtend") - start == timedelta(hours=2)
    assert str(event["summary"]) == "Vigil for survivors"
    assert str(event["location"]) == "Martyrs' Square"
    assert [c["tzid"] for c in calendar.walk("VTIMEZONE")] == ["America/Bogota"]


async def test_a_test_first_then_a_broadcast_scheduled_for_later(
    conversation: Conversation, coordinator: Someone, storage: Storage, clock: ShiftedClock
) -> None:
    from zoneinfo import ZoneInfo

    (volunteer,) = await people(storage, conversation, 1)
    await meeting(coordinator, storage, clock, group=False, send=False)
    await coordinator.press("🧪 Send me a test")
    (test,) = [m for m in coordinator.messages if m.text.startswith("🧪 <b>Test</b>")]
    assert "Vigil for survivors" in test.text
    assert "🕒 Send later" in coordinator.last.labels
    await coordinator.press("🕒 Send later")
    assert "When should it be sent?" in coordinator.last.text
    await coordinator.send(in_days(clock, 4))
    assert "not before the action's start" in coordinator.messages[-2].text
    beirut = ZoneInfo("Asia/Beirut")
    tomorrow = (clock.now() + timedelta(days=1)).astimezone(beirut).strftime("%Y-%m-%d %H:%M")
    await coordinator.send(tomorrow)
    assert "🕒 It will be sent on" in coordinator.last.text
    await coordinator.press("🕒 Schedule it")
    assert "will be sent on" in coordinator.last.text
    assert await _deliver(conversation) == 0
    assert volunteer.messages == []
    clock.advance(timedelta(days=1, minutes=1))
    await conversation.dispatcher.run_due_timers()
    await _deliver(conversation)
    assert "Vigil for survivors" in volunteer.last.text and "Going" in volunteer.last.labels
    assert any("is being sent now, as scheduled" in m.text for m in coordinator.messages[-3:])


async def test_one_call_in_two_languages_reaches_each_person_in_theirs(
    conversation: Conversation,
    coordinator: Someone,
    storage: Storage,
    clock: ShiftedClock,
    messenger: RecordingMessenger,
) -> None:
    now = clock.now()
    await make_volunteer(storage, 1, now=now, name="Ann")
    await make_volunteer(storage, 2, now=now, name="Marie", language="fr")
    await make_volunteer(storage, 3, now=now, name="Paz", language="es")
    await meeting(coordinator, storage, clock, group=False, send=False)
    assert "🌐 Written in: English." in coordinator.last.text
    assert "2 recipients read other languages and will get it in English." in coordinator.last.text
    await coordinator.press("🌐 Add a language")
    await coordinator.press("Français")
    await coordinator.send("Veillée pour les survivant·es")
    await coordinator.send("Apportez des bougies.")
    assert "🌐 Written in: English, French." in coordinator.last.text
    assert "1 recipient reads another language" in coordinator.last.text
    await coordinator.press("✅ Send it")
    await _deliver(conversation)
    ann, marie, paz = (messenger.chats[i][-1].text for i in (1, 2, 3))
    assert "Vigil for survivors" in ann and "🌐" not in ann
    assert "Veillée pour les survivant·es" in marie and "Apportez des bougies." in marie
    assert "Vigil" not in marie and "🌐" not in marie
    assert "Vigil for survivors" in paz
    assert "No está redactado en tu idioma: aquí lo tienes en inglés." in paz


async def test_roles_are_picked_and_an_empty_role_invites_only_matching_people_once(
    conversation: Conversation,
    coordinator: Someone,
    storage: Storage,
    clock: ShiftedClock,
    messenger: RecordingMessenger,
) -> None:
    from storage.actions.action_models import SlotInvitation

    (early,) = await people(storage, conversation, 1)
    await meeting(coordinator, storage, clock, group=False, send=False)
    await coordinator.press("🧩 Roles")
    await coordinator.send("1 steward, 1 photographer (Media)")
    assert "🧩 photographer (Media): 1 of 1 places left" in coordinator.messages[-2].text
    await coordinator.press("✅ Send it")
    await _deliver(conversation)
    assert "🧩 steward: 1 of 1 places left" in early.last.text
    await early.press("Going")
    assert "Which role do you take" in early.last.text
    await early.press("steward — 1 of 1 places left")
    assert "You are down as steward" in early.last.text
    await _deliver(conversation)
    assert early.messages[0].labels[0] == "✅ Going · steward"
    assert "🧩 steward: full (1 place)" in early.messages[0].text

    now = clock.now()
    await make_volunteer(storage, 11, now=now, name="Mia", skills=["media"])
    await make_volunteer(storage, 12, now=now, name="Luc", language="fr", skills=["media"])
    await make_volunteer(
        storage, 13, now=now, name="Pia", skills=["media"], country="FR", timezone="Europe/Paris"
    )
    await make_volunteer(storage, 14, now=now, name="Sam", skills=["legal"])
    mia = conversation.person("Mia", user_id=11)
    async with storage.sessionmaker() as session:
        at = await session.scalar(select(Action.at))
    assert at is not None
    clock.advance(at - timedelta(days=2) + timedelta(minutes=1) - clock.now())
    await conversation.dispatcher.run_due_timers()
    await _deliver(conversation)
    assert "A role is still free: photographer (Media)." in mia.last.text
    assert all(i not in messenger.chats for i in (12, 13, 14))
    assert any("I invited 1 volunteer: Mia" in m.text for m in coordinator.messages[-3:])
    assert await conversation.dispatcher.run_due_timers() == 0
    async with storage.sessionmaker() as session:
        assert len((await session.scalars(select(SlotInvitation))).all()) == 1
    await mia.press("Going")
    await mia.press("photographer (Media) — 1 of 1 places left")
    assert "You are down as photographer" in mia.last.text
    async with storage.sessionmaker() as session:
        rows = (await session.execute(select(Rsvp.user_id, Rsvp.status, Rsvp.slot_id))).all()
    assert sorted(rows) == [(1, "going", 1), (11, "going", 2)]


async def test_the_preview_names_who_is_left_out_and_why_and_a_place_has_a_map_link(
    conversation: Conversation, coordinator: Someone, storage: Storage, clock: ShiftedClock
) -> None:
    from sqlalchemy import update

    from storage.models import UserPreference, Volunteer

    await people(storage, conversation, 1, 2, 3, 4)
    async with storage.sessionmaker() as session, session.begin():
        session.add(UserPreference(user_id=2, blocked_bot_at=clock.now(), updated_at=clock.now()))
        await session.execute(
            update(Volunteer).where(Volunteer.user_id == 3).values(status="asleep")
        )
        await session.execute(
            update(Volunteer).where(Volunteer.user_id == 4).values(muted=["action:meeting"])
        )
    await meeting(coordinator, storage, clock, group=False, send=False)
    preview = coordinator.last.text
    assert "It will go to <b>1</b> volunteer." in preview
    assert "<b>Left out</b> (and why):" in preview
    assert "• blocked the bot (1): P2" in preview
    assert "• not active (1): P3" in preview
    assert "• turned off this kind of call (1): P4" in preview
    rendered = coordinator.messages[-2].text
    assert "📍 Where: Martyrs' Square · <a href=" in rendered
    assert "openstreetmap.org/search?query=Martyrs%27%20Square" in rendered


async def test_places_left_follow_on_the_presser_s_message_and_on_everyone_s_when_full(
    conversation: Conversation,
    coordinator: Someone,
    storage: Storage,
    clock: ShiftedClock,
    messenger: RecordingMessenger,
) -> None:
    """Found trying the sandbox: every card said "2 of 2 places left" after both places were
    taken, the waitlisted person's own card included."""
    first, second, third = await people(storage, conversation, 1, 2, 3)
    await meeting(coordinator, storage, clock, capacity="2", group=False)
    await _deliver(conversation)
    originals = {p.person.id: p.last.message_id for p in (first, second, third)}

    def card(someone: Someone) -> str:
        chat = messenger.chats[someone.person.id]
        return next(m.text for m in chat if m.message_id == originals[someone.person.id])

    await first.press("Going")
    await _deliver(conversation)
    assert "1 of 2 places left" in card(first)
    assert "2 of 2 places left" in card(third)  # not edited at every answer
    await second.press("Going")
    await _deliver(conversation)
    assert all("Full (2 places)" in card(p) for p in (first, second, third))
    await third.press("Going")
    await _deliver(conversation)
    assert "Full (2 places) · 1 waiting" in card(third)
    await first.press("Can't")
    await _deliver(conversation)
    assert "Full (2 places)" in card(second)  # the waitlist took the freed place


async def test_a_cancelled_action_promises_no_place_to_the_waitlist(
    conversation: Conversation, coordinator: Someone, storage: Storage, clock: ShiftedClock
) -> None:
    """Tom waits for a place; the time changes, then the action is cancelled: none of his
    messages (his original, the "changed" notice, the cancellation) still says he may get a
    place, nor counts the places left."""
    first, tom = await people(storage, conversation, 1, 2)
    await meeting(coordinator, storage, clock, capacity="1", group=False)
    await _deliver(conversation)
    await first.press("Going")
    await tom.press("Going")
    await _deliver(conversation)
    assert "You are #1 on the waitlist" in tom.messages[0].text
    await coordinator.send("/actions")
    await coordinator.press("#1 Vigil for survivors")
    await coordinator.press("✏️ Edit")
    await coordinator.press("Date and time")
    await coordinator.send(in_days(clock, 5))
    await _deliver(conversation)
    assert "You are #1 on the waitlist" in tom.last.text  # the "changed" notice, while open
    await coordinator.press("🚫 Cancel the action")
    await coordinator.press("Yes, cancel it")
    await _deliver(conversation)
    assert "Cancelled" in tom.last.text and tom.last.labels == []
    for message in tom.messages:
        assert "Cancelled" in message.text
        assert "waitlist" not in message.text and "places left" not in message.text
        assert "Full" not in message.text and "waiting" not in message.text


@pytest.mark.parametrize("language", ["en", "fr", "es", "ar"])
def test_an_older_notice_loses_its_waitlist_place_and_places_left_in_each_language(
    language: str,
) -> None:
    t = translator(language)
    draft = {
        "kind": "meeting",
        "title": "Vigil",
        "description": "Bring candles.",
        "place": "Martyrs' Square",
        "capacity": 2,
    }
    standing = action_store.Standing(
        counts={action_store.GOING: 2, action_store.WAITLIST: 3}, answers={}, positions={}, slots=[]
    )
    text = render(t, draft, "Asia/Beirut", standing=standing, position=3)
    waitlist = t("actions.line_waitlist_position", position=t.number(3))
    places = t.plural("actions.places_full", 2)
    assert waitlist in text and places in text
    left = without_places(t, "intro\n\n" + text, 2)
    assert waitlist not in left and places not in left
    assert t.plural("actions.line_capacity", 2) in left and left.startswith("intro\n\n")
    assert "Vigil" in left and not left.endswith("\n")


async def test_forget_frees_the_place_for_the_waitlist(
    conversation: Conversation, coordinator: Someone, storage: Storage, clock: ShiftedClock
) -> None:
    """An erased volunteer will not come: their place goes to the first on the waitlist (it
    stayed taken by a "former volunteer", the waitlist stuck; newcomer trial)."""
    tom, marie = await people(storage, conversation, 1, 2)
    await meeting(coordinator, storage, clock, capacity="1", group=False)
    await _deliver(conversation)
    await tom.press("Going")
    await marie.press("Going")
    await tom.send("/forget")
    await tom.press("🗑 Yes, erase my data")
    await _deliver(conversation)
    assert "you are in" in marie.last.text
    async with storage.sessionmaker() as session:
        rows = dict((await session.execute(select(Rsvp.user_id, Rsvp.status))).all())
        action = await session.scalar(select(Action))
    assert rows == {2: "going"}
    assert action is not None and (action.going_count, action.waitlist_count) == (1, 0)


@pytest.mark.parametrize("language", ["en", "fr", "es", "ar"])
def test_an_older_notice_of_an_action_with_roles_loses_the_places_left_of_each_role(
    language: str,
) -> None:
    """A reminder of an event with roles shows each role's places left and who waits for one;
    once the event is over, cancelled or closed, the role lines promise no place either (only
    the capacity of each role stays), as the places-left line of an action without roles."""
    t = translator(language)
    draft = {
        "kind": "meeting",
        "title": "Vigil",
        "description": "Bring candles.",
        "place": "Martyrs' Square",
        "slots": [{"name": "Stewards", "capacity": 2}, {"name": "Medics", "capacity": 1}],
    }
    slots = [
        action_store.SlotStanding(1, "Stewards", 2, None, 1, 0),
        action_store.SlotStanding(2, "Medics", 1, None, 1, 2),
    ]
    standing = action_store.Standing(
        counts={action_store.GOING: 2}, answers={}, positions={}, slots=slots
    )
    text = render(t, draft, "Asia/Beirut", standing=standing)
    live = [slot_line(t, s) for s in slots]
    assert all(line in text for line in live)
    left = without_places(t, "intro\n\n" + text, None, slots)
    assert not any(line in left for line in live)
    assert all(slot_line(t, s, live=False) in left for s in slots)
    assert t.plural("actions.places_waiting", 2) not in left


async def test_a_role_invitation_promises_no_place_once_the_event_is_cancelled(
    conversation: Conversation, coordinator: Someone, storage: Storage, clock: ShiftedClock
) -> None:
    """Mia was invited to a free role ("🧩 photographer (Media): 1 of 1 places left"); the
    event is then cancelled: her invitation is headed 'Cancelled' and no longer counts the
    places left of any role."""
    await meeting(coordinator, storage, clock, group=False, send=False)
    await coordinator.press("🧩 Roles")
    await coordinator.send("1 steward, 1 photographer (Media)")
    await coordinator.press("✅ Send it")
    await _deliver(conversation)
    await make_volunteer(storage, 11, now=clock.now(), name="Mia", skills=["media"])
    mia = conversation.person("Mia", user_id=11)
    async with storage.sessionmaker() as session:
        at = await session.scalar(select(Action.at))
    assert at is not None
    clock.advance(at - timedelta(days=2) + timedelta(minutes=1) - clock.now())
    await conversation.dispatcher.run_due_timers()
    await _deliver(conversation)
    assert "🧩 photographer (Media): 1 of 1 places left" in mia.last.text
    await coordinator.send("/actions")
    await coordinator.press("#1 Vigil for survivors")
    await coordinator.press("🚫 Cancel the action")
    await coordinator.press("Yes, cancel it")
    await _deliver(conversation)
    invitation = mia.messages[0].text
    assert "A role is still free" in invitation and "Cancelled" in invitation
    assert "places left" not in invitation and "🧩 photographer (Media): 1 place" in invitation


async def test_an_edit_leaves_a_role_invitation_its_buttons(
    conversation: Conversation, coordinator: Someone, storage: Storage, clock: ShiftedClock
) -> None:
    """Mia got only the invitation to a free role (not the call, nor any notice of a change:
    she has not answered). The coordinator then edits the place: her invitation must keep its
    buttons while the event takes answers — marked 'Outdated' without them, she could not
    answer at all."""
    await meeting(coordinator, storage, clock, group=False, send=False)
    await coordinator.press("🧩 Roles")
    await coordinator.send("1 steward, 1 photographer (Media)")
    await coordinator.press("✅ Send it")
    await _deliver(conversation)
    await make_volunteer(storage, 11, now=clock.now(), name="Mia", skills=["media"])
    mia = conversation.person("Mia", user_id=11)
    async with storage.sessionmaker() as session:
        at = await session.scalar(select(Action.at))
    assert at is not None
    clock.advance(at - timedelta(days=2) + timedelta(minutes=1) - clock.now())
    await conversation.dispatcher.run_due_timers()
    await _deliver(conversation)
    assert "A role is still free" in mia.last.text and "Going" in mia.last.labels
    await coordinator.send("/actions")
    await coordinator.press("#1 Vigil for survivors")
    await coordinator.press("✏️ Edit")
    await coordinator.press("Place")
    await coordinator.send("Nejmeh Square")
    await _deliver(conversation)
    assert len(mia.messages) == 1
    invitation = mia.messages[0]
    assert "Outdated" not in invitation.text and "Going" in invitation.labels
    await mia.press("Going")
    assert "Which role do you take" in mia.last.text


async def test_the_host_told_who_was_invited_sees_a_discreet_member_only_with_the_right_to(
    conversation: Conversation,
    coordinator: Someone,
    storage: Storage,
    clock: ShiftedClock,
    messenger: RecordingMessenger,
) -> None:
    """The host of an event is told whom a free role was offered to. A discreet volunteer is
    named to them only while they may see discreet members (members.discreet): a host who no
    longer holds a coordinator's role reads '🔒', as every other member does."""
    from sqlalchemy import update

    await meeting(coordinator, storage, clock, group=False, send=False)
    await coordinator.press("🧩 Roles")
    await coordinator.send("1 photographer (Media)")
    await coordinator.press("✅ Send it")
    await _deliver(conversation)
    now = clock.now()
    await make_volunteer(storage, 21, now=now, name="Hana Host")  # holds no role (any more)
    await make_volunteer(
        storage, 22, now=now, name="Dalia Discreet", skills=["media"], discreet=True
    )
    async with storage.sessionmaker() as session, session.begin():
        await session.execute(update(Action).values(created_by=21))
        at = await session.scalar(select(Action.at))
    assert at is not None
    clock.advance(at - timedelta(days=2) + timedelta(minutes=1) - clock.now())
    await conversation.dispatcher.run_due_timers()
    await _deliver(conversation)
    told = [m.text for m in messenger.chats.get(21, [])]
    assert any("I invited 1 volunteer" in text for text in told), told
    assert not any("Dalia" in text for text in told), told


@pytest.mark.parametrize("language", ["en", "ar"])
def test_an_older_notice_keeps_a_description_line_that_starts_like_the_places_line(
    language: str,
) -> None:
    """Only the places line turns back into the capacity: a line of the description that the
    organiser began with 👥 stays as they wrote it."""
    t = translator(language)
    draft = {
        "kind": "meeting",
        "title": "Vigil",
        "description": "👥 Bring a friend along.\nCandles provided.",
        "place": "Martyrs' Square",
        "capacity": 2,
    }
    standing = action_store.Standing(
        counts={action_store.GOING: 1}, answers={}, positions={}, slots=[]
    )
    text = render(t, draft, "Asia/Beirut", standing=standing)
    left = without_places(t, text, 2)
    assert "Bring a friend along." in left
    assert t.plural("actions.line_capacity", 2) in left
    assert t.plural("actions.places_left", 1, total=t.number(2)) not in left


async def _answers_of(storage: Storage) -> dict[int, str]:
    async with storage.sessionmaker() as session:
        return dict((await session.execute(select(Rsvp.user_id, Rsvp.status))).all())


async def test_a_role_waiter_passed_over_takes_the_free_role_place_when_back(
    conversation: Conversation,
    coordinator: Someone,
    storage: Storage,
    clock: ShiftedClock,
    messenger: RecordingMessenger,
) -> None:
    """One passed over takes a free place by pressing Going again, with roles too: neither
    Going nor the role's button gave it (found by review), the role's place left free while
    they waited."""
    first, blocked = await people(storage, conversation, 41, 42)
    await meeting(coordinator, storage, clock, group=False, send=False)
    await coordinator.press("🧩 Roles")
    await coordinator.send("1 steward")
    await coordinator.press("✅ Send it")
    await _deliver(conversation)
    await first.press("Going")
    await first.press("steward — 1 of 1 places left")
    await blocked.press("Going")
    await blocked.press("steward — full: join the waitlist")
    assert await _answers_of(storage) == {41: "going", 42: "waitlist"}
    async with storage.sessionmaker() as session, session.begin():
        await preferences.set_unreachable(session, 42, preferences.BLOCKED, clock.now())
    await first.press("Can't")  # passed over: the role's place stays free
    assert await _answers_of(storage) == {41: "cant", 42: "waitlist"}
    await blocked.send("/start")
    await _deliver(conversation)
    # pressing Going again, as without roles: the first button of the call ("⏳ #1 …" now)
    call = blocked.messages[0]
    await blocked.press_data(call.message_id, call.keyboard[0][0][1])
    rows = await _answers_of(storage)
    if rows[42] != "going" and any("Which role" in m.text for m in blocked.messages[-2:]):
        await blocked.press("steward — 1 of 1 places left")
        rows = await _answers_of(storage)
    assert rows == {41: "cant", 42: "going"}, (rows, blocked.last.text)
