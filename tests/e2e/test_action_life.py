"""An action's messages follow it, end to end on both runtimes (issue 14): an edit reaches the
group post, every original and the people who said "Can't"; no answer and no promotion after
the end; a waitlisted volunteer sees their place."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select

from botapi_emulator.client import Group, Person
from handlers.actions.action_views import when_text
from handlers.kernel.i18n import translator
from storage.actions.action_models import Action, Rsvp
from storage.coalition import group_store
from tests.e2e.conftest import PATIENCE, ChorusUnderTest
from tests.e2e.test_actions import _says, _storage, _volunteer


async def _group(chorus: ChorusUnderTest) -> Group:
    """The coalition's group, once Chorus knows it."""
    group = await chorus.sandbox.create_group("Coalition", [chorus.coordinator], bot_admin=True)
    storage = await _storage(chorus)
    try:
        for _ in range(int(PATIENCE / 0.05)):
            async with storage.sessionmaker() as session:
                if await group_store.get(session, group.id) is not None:
                    return group
            await asyncio.sleep(0.05)
    finally:
        await storage.engine.dispose()
    raise TimeoutError("the bot never recorded the group")


async def _meeting(
    chorus: ChorusUnderTest, *, capacity: str | None, group: bool, roles: str | None = None
) -> None:
    """/newaction: a meeting in three days, in UTC, posted in the group if `group`."""
    coordinator = chorus.coordinator
    when = (chorus.clock.now() + timedelta(days=3)).strftime("%Y-%m-%d 18:00")
    await coordinator.send("/newaction")
    await coordinator.press("🤝 Meeting")
    await _says(coordinator, "What is its title?")
    await coordinator.send("Vigil for survivors")
    await _says(coordinator, "Describe it")
    await coordinator.send("Bring candles.")
    await coordinator.press("No link")
    await _says(coordinator, "When does it start?")
    await coordinator.send(when)
    await coordinator.press("UTC")
    await _says(coordinator, "Where does it happen?")
    await coordinator.send("Martyrs' Square")
    if capacity is None:
        await coordinator.press("No limit")
    else:
        await _says(coordinator, "How many places")
        await coordinator.send(capacity)
    await _says(coordinator, "Who receives it?")
    await coordinator.press("Done ✔")
    if group:
        await coordinator.press("Coalition")
        await coordinator.press("Done ✔")
    await _says(coordinator, "It will go to")
    if roles is not None:
        await coordinator.press("🧩 Roles")
        await _says(coordinator, "Which roles does it need")
        await coordinator.send(roles)
        await _says(coordinator, "🧩 " + roles.split(",")[0].split(" ", 1)[1])
        await _says(coordinator, "It will go to")
    await coordinator.press("✅ Send it")
    await _says(coordinator, "Sending finished")


async def _at(chorus: ChorusUnderTest) -> tuple[int, object]:
    storage = await _storage(chorus)
    try:
        async with storage.sessionmaker() as session:
            row = (await session.execute(select(Action.id, Action.at))).one()
    finally:
        await storage.engine.dispose()
    return row[0], row[1]


async def _original(person: Person) -> int:
    message = await person.wait_for_message(lambda m: "Vigil for survivors" in (m.text or ""))
    return message.message_id


async def test_an_edit_reaches_the_group_post_the_originals_and_the_cant_people(
    chorus: ChorusUnderTest,
) -> None:
    going = await _volunteer(chorus, "Gina")
    cant = await _volunteer(chorus, "Carl")
    group = await _group(chorus)
    await _meeting(chorus, capacity=None, group=True)
    post = await chorus.coordinator.wait_for_message(
        lambda m: "Vigil for survivors" in (m.text or ""), chat=group
    )
    originals = {going.id: await _original(going), cant.id: await _original(cant)}
    await going.press("Going")
    await cant.press("Can't")
    coordinator = chorus.coordinator
    await coordinator.send("/actions")
    await coordinator.press("#1 Vigil for survivors")
    await coordinator.press("✏️ Edit")
    await coordinator.press("Date and time")
    await _says(coordinator, "new date and time")
    later = (chorus.clock.now() + timedelta(days=5)).strftime("%Y-%m-%d 19:30")
    await coordinator.send(later)
    await _says(coordinator, "being told")
    _, at = await _at(chorus)
    new_time = when_text(translator("en"), at, "Asia/Beirut")  # type: ignore[arg-type]
    group_time = when_text(translator("en"), at, "UTC")  # type: ignore[arg-type]
    await coordinator.wait_for_message(
        lambda m: m.message_id == post.message_id and group_time in m.text, chat=group
    )
    edited = await going.wait_for_message(
        lambda m: m.message_id == originals[going.id] and new_time in m.text
    )
    assert edited.labels[0] == "✅ Going"
    await cant.wait_for_message(lambda m: m.message_id == originals[cant.id] and new_time in m.text)
    notice = await _says(cant, "you said you couldn't come")
    assert new_time in notice


async def test_no_answer_and_no_promotion_after_the_end(chorus: ChorusUnderTest) -> None:
    first = await _volunteer(chorus, "Fay")
    second = await _volunteer(chorus, "Sam")
    await _meeting(chorus, capacity="1", group=False)
    await _original(first)
    await _original(second)
    await first.press("Going")
    answer = await second.press("Going")
    assert answer is not None and "#1 on the waitlist" in (answer.text or "")
    _, at = await _at(chorus)
    await chorus.advance(at + timedelta(hours=3) - chorus.clock.now())  # type: ignore[operator]
    answer = await first.press("Can't")
    assert answer is not None and answer.show_alert and "is over" in (answer.text or "")
    await chorus.coordinator.send("/actions")
    await _says(chorus.coordinator, "— ended")
    storage = await _storage(chorus)
    try:
        async with storage.sessionmaker() as session:
            rows = dict((await session.execute(select(Rsvp.user_id, Rsvp.status))).all())
    finally:
        await storage.engine.dispose()
    assert rows == {first.id: "going", second.id: "waitlist"}
    assert not any("you are in" in (m.text or "") for m in await second.chat_messages())


async def test_a_waitlisted_volunteer_sees_their_place(chorus: ChorusUnderTest) -> None:
    first = await _volunteer(chorus, "Ada")
    second = await _volunteer(chorus, "Ben")
    third = await _volunteer(chorus, "Cyd")
    await _meeting(chorus, capacity="1", group=False)
    originals = [await _original(p) for p in (first, second, third)]
    await first.press("Going")
    await second.press("Going")
    answer = await third.press("Going")
    assert answer is not None and "#2 on the waitlist" in (answer.text or "")
    shown = await third.wait_for_message(
        lambda m: m.message_id == originals[2] and "⏳ #2 on the waitlist" in m.labels
    )
    assert "✅ Going" not in shown.labels
    await second.press("Can't")
    await third.wait_for_message(
        lambda m: m.message_id == originals[2] and "You are #1 on the waitlist" in m.text
    )


async def test_the_attendance_loop_with_a_no_show_and_a_walk_in(chorus: ChorusUnderTest) -> None:
    from handlers.actions.attendance import CheckButton

    coming = await _volunteer(chorus, "Ada")
    leaving = await _volunteer(chorus, "Ben")
    waiting = await _volunteer(chorus, "Cyd")
    await _meeting(chorus, capacity="2", group=False)
    for person in (coming, leaving, waiting):
        await _original(person)
        await person.press("Going")
    action_id, at = await _at(chorus)
    await chorus.advance(at - timedelta(days=1) + timedelta(minutes=1) - chorus.clock.now())  # type: ignore[operator]
    await _says(coming, "Still coming")
    await _says(leaving, "Still coming")
    answer = await coming.press("Yes, I'm coming")
    assert answer is not None and answer.text == "Great, see you there!"
    await leaving.press("No, I can't any more")
    await _says(waiting, "you are in")

    await chorus.advance(at - chorus.clock.now())  # type: ignore[operator]
    coordinator = chorus.coordinator
    roster = await coordinator.wait_for_message(lambda m: "Check-in" in m.text)
    assert roster.labels[:4] == ["▫️ Ada", "🚫 No-show", "▫️ Cyd", "🚫 No-show"]
    await coordinator.press("▫️ Ada")
    await coordinator.wait_for_message(lambda m: "✅ Ada" in m.labels)
    await coordinator.press_data(roster, CheckButton(action_id, waiting.id, "n").pack())
    await coordinator.wait_for_message(lambda m: "🚫 Cyd" in m.labels)
    await coordinator.press("➕ Add a walk-in")
    await _says(coordinator, "Type the name")
    await coordinator.send("Walter")
    shown = await _says(coordinator, "Walk-ins")
    assert "Walter" in shown and "Attended 2 · 🚫 No-show 1" in shown

    await chorus.advance(timedelta(hours=2, minutes=1))
    await coming.wait_for_message(lambda m: "This action is over" in m.text and not m.labels)
    await chorus.advance(timedelta(hours=1))
    await _says(coming, "Thank you for coming")
    answer = await coming.press("👍 Good")
    assert answer is not None and answer.text == "Thank you, noted."
    assert not any("Thank you for coming" in (m.text or "") for m in await waiting.chat_messages())
    await coordinator.send("/stats")
    await _says(coordinator, "reached 3 → answered 3 → confirmed 2 → attended 2")


async def test_add_to_calendar_sends_an_ics_file(chorus: ChorusUnderTest) -> None:
    paz = await _volunteer(chorus, "Paz", "es", timezone="America/Bogota")
    await _meeting(chorus, capacity=None, group=False)
    await _original(paz)
    await paz.press("📅 Añadir al calendario")
    sent = await paz.wait_for_message(lambda m: m.document is not None)
    assert sent.document is not None
    content = await chorus.sandbox.download(sent.document)
    assert b"BEGIN:VEVENT" in content and b"TZID=America/Bogota" in content
    assert "America/Bogota" in (sent.caption or "")


async def test_a_risky_event_s_silent_participant_alerts_their_buddy(
    chorus: ChorusUnderTest,
) -> None:
    """The safety check-in (issue 16): a buddy accepts by the invitation's link; at the end
    "Are you safe?"; an hour of silence alerts the buddy and the host; "I am safe" clears it."""
    ada = await _volunteer(chorus, "Ada")
    bruno = await _volunteer(chorus, "Bruno", "fr")
    await _meeting(chorus, capacity=None, group=False)
    await _original(ada)
    await ada.press("Going")
    coordinator = chorus.coordinator
    await coordinator.send("/safety 1")
    await _says(coordinator, "Not marked as risky")
    await coordinator.press("⚠️ 1 hour")
    await _says(coordinator, "Marked as risky")
    await _says(ada, "is marked as risky")
    await ada.press("🤝 Name a buddy")
    invitation = await ada.wait_for_message(lambda m: "asks you to be their safety buddy" in m.text)
    link = next(b.url for row in invitation.buttons for b in row if b.url)
    await bruno.send("/start " + link.rsplit("start=", 1)[1])
    await _says(bruno, "binôme de sécurité de Ada")
    await _says(ada, "Bruno is your safety buddy")

    _, at = await _at(chorus)
    await chorus.advance(at + timedelta(hours=2, minutes=1) - chorus.clock.now())  # type: ignore[operator]
    await _says(ada, "Are you safe?")
    await chorus.advance(timedelta(hours=1, minutes=1))
    alert = await _says(bruno, "n’a pas répondu")
    assert "Ada" in alert
    await _says(coordinator, "has not answered the safety check-in")
    await ada.press("✅ I am safe")
    await _says(bruno, "indique être en sécurité")


async def test_a_bilingual_call_reaches_each_person_in_their_language(
    chorus: ChorusUnderTest,
) -> None:
    ann = await _volunteer(chorus, "Ann")
    marie = await _volunteer(chorus, "Marie", "fr")
    paz = await _volunteer(chorus, "Paz", "es")
    coordinator = chorus.coordinator
    when = (chorus.clock.now() + timedelta(days=3)).strftime("%Y-%m-%d 18:00")
    await coordinator.send("/newaction")
    await coordinator.press("🤝 Meeting")
    await _says(coordinator, "What is its title?")
    await coordinator.send("Vigil for survivors")
    await _says(coordinator, "Describe it")
    await coordinator.send("Bring candles.")
    await coordinator.press("No link")
    await _says(coordinator, "When does it start?")
    await coordinator.send(when)
    await coordinator.press("UTC")
    await _says(coordinator, "Where does it happen?")
    await coordinator.press("Online")
    await coordinator.press("No limit")
    await _says(coordinator, "Who receives it?")
    await coordinator.press("Done ✔")
    await _says(coordinator, "2 recipients read other languages")
    await coordinator.press("🌐 Add a language")
    await coordinator.press("Français")
    await _says(coordinator, "title in French")
    await coordinator.send("Veillée pour les survivant·es")
    await _says(coordinator, "description in French")
    await coordinator.send("Apportez des bougies.")
    await _says(coordinator, "Written in: English, French")
    await coordinator.press("✅ Send it")
    assert "Bring candles." in await _says(ann, "Vigil for survivors")
    assert "Apportez des bougies." in await _says(marie, "Veillée pour les survivant·es")
    assert "aquí lo tienes en inglés" in await _says(paz, "Vigil for survivors")


async def test_an_empty_role_invites_only_matching_people_once_across_a_restart(
    chorus: ChorusUnderTest,
) -> None:
    ada = await _volunteer(chorus, "Ada")
    await _meeting(chorus, capacity=None, group=False, roles="1 steward, 1 photographer (media)")
    await _original(ada)
    await ada.press("Going")
    await _says(ada, "Which role do you take")
    await ada.press("steward — 1 of 1 places left")
    await _says(ada, "You are down as steward")
    mia = await _volunteer(chorus, "Mia", skills=["media"], timezone="UTC")
    luc = await _volunteer(chorus, "Luc", "fr", skills=["media"], timezone="UTC")
    pia = await _volunteer(chorus, "Pia", skills=["media"], country="FR", timezone="Europe/Paris")
    sam = await _volunteer(chorus, "Sam", skills=["legal"], timezone="UTC")
    await chorus.restart()
    _, at = await _at(chorus)
    await chorus.advance(at - timedelta(days=2) + timedelta(minutes=1) - chorus.clock.now())  # type: ignore[operator]
    await _says(mia, "A role is still free: photographer (Media).")
    await _says(chorus.coordinator, "I invited 1 volunteer: Mia")
    await chorus.restart()
    await chorus.advance(timedelta(minutes=5))
    assert chorus.running is not None and chorus.running.delivery is not None
    await chorus.running.delivery.wait_until_idle()
    invitations = [m for m in await mia.chat_messages() if "A role is still free" in m.text]
    assert len(invitations) == 1
    for other in (luc, pia, sam):
        assert not any("role" in (m.text or "") for m in await other.chat_messages())
