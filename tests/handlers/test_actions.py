"""/newaction, targeting, RSVP, waitlist, /actions, /roster — with the recording messenger."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from bot.app import Storage
from handlers.actions import broadcasts, roster
from handlers.actions.action_views import parse_link, when_text
from handlers.kernel.events import Event, EventKind
from handlers.kernel.i18n import translator
from handlers.kernel.invalid_input import InvalidInput
from handlers.kernel.ports import ShiftedClock, TransientError
from storage import dialogs
from storage.actions.action_models import Action, Rsvp
from storage.models import OutboxMessage, Volunteer
from storage.people import preferences
from tests.conftest import COORDINATOR_ID
from tests.support.actions import engine_for, make_volunteer
from tests.support.csv_files import read_export
from tests.support.recording import Conversation, RecordingMessenger, Someone


def in_days(clock: ShiftedClock, days: int) -> str:
    """A local date-time string `days` from now, at 18:30."""
    return (clock.now() + timedelta(days=days)).strftime("%Y-%m-%d 18:30")


async def create_meeting(
    coordinator: Someone,
    clock: ShiftedClock,
    *,
    title: str = "Vigil for survivors",
    capacity: str | None = None,
    skills: list[str] | None = None,
) -> None:
    """Goes through /newaction for a meeting, up to (not including) the final confirmation."""
    await coordinator.send("/newaction")
    await coordinator.press("Meeting")
    await coordinator.send(title)
    await coordinator.send("Bring candles.\n\nWe meet <outside> the ministry & stay 1h.")
    await coordinator.press("No link")
    await coordinator.send(in_days(clock, 3))
    await coordinator.send("Beirut")
    await coordinator.send("Martyrs' Square")
    if capacity is None:
        await coordinator.press("No limit")
    else:
        await coordinator.send(capacity)
    if skills:
        await coordinator.press("Skills")
        for skill in skills:
            await coordinator.press(skill)
        await coordinator.press("Done ✔")
    await coordinator.press("Done ✔")


@pytest.fixture
def coordinator(conversation: Conversation) -> Someone:
    """The coordinator (in ADMIN_IDS)."""
    return conversation.person("Coral", user_id=COORDINATOR_ID)


async def test_targeted_action_reaches_only_the_right_volunteers_in_their_language(
    conversation: Conversation,
    coordinator: Someone,
    storage: Storage,
    clock: ShiftedClock,
    messenger: RecordingMessenger,
) -> None:
    now = clock.now()
    await make_volunteer(storage, 1, now=now, name="Amira", skills=["media"])
    await make_volunteer(
        storage, 2, now=now, name="Marie", language="fr", timezone="Europe/Paris", skills=["media"]
    )
    await make_volunteer(storage, 3, now=now, name="Omar", language="ar", skills=["legal"])
    await create_meeting(coordinator, clock, skills=["Media"])
    preview = coordinator.messages[-2]
    assert "Bring candles." in preview.text
    assert "&lt;outside&gt; the ministry &amp; stay" in preview.text
    assert "It will go to <b>2</b> volunteers." in coordinator.last.text
    await coordinator.press("✅ Send it")
    assert "is on its way" in coordinator.messages[-2].text
    assert "https://t.me/chorus_bot?start=a_" in coordinator.messages[-2].text
    delivered = await engine_for(conversation.dispatcher.services).drain()
    assert delivered == 2
    amira, marie = messenger.chats[1], messenger.chats[2]
    assert 3 not in messenger.chats
    assert "Vigil for survivors" in amira[-1].text and "When:" in amira[-1].text
    assert "(Asia/Beirut)" in amira[-1].text
    assert "Quand\u202f:" in marie[-1].text and "(Europe/Paris)" in marie[-1].text
    assert marie[-1].labels == [
        "J’y serai",
        "Peut-être",
        "Je ne peux pas",
        "📅 Ajouter à l’agenda",
        "🔕 Moins de ce genre",
    ]
    report = coordinator.messages[-1]
    assert "Sending finished" in report.text and "Delivered: 2 messages" in report.text


async def test_every_validation_path_explains_and_asks_again(
    coordinator: Someone, clock: ShiftedClock
) -> None:
    await coordinator.send("/newaction")
    await coordinator.send("a petition please")
    assert "answer with the buttons" in coordinator.messages[-2].text
    await coordinator.press("Petition")
    await coordinator.send("x" * 121)
    assert "too long (121 characters)" in coordinator.messages[-2].text
    await coordinator.send("Ban cluster munitions")
    await coordinator.send("d" * 3001)
    assert "too long (3001 characters)" in coordinator.messages[-2].text
    await coordinator.send("Sign and share.")
    await coordinator.send("javascript:alert(1)")
    assert "not a web address" in coordinator.messages[-2].text
    await coordinator.send("https://example.org/sign")
    await coordinator.send("next friday")
    assert "can't read “next friday” as a date" in coordinator.messages[-2].text
    await coordinator.send("2001-01-01")  # passed in every time zone: refused at once
    assert "already passed" in coordinator.messages[-2].text
    yesterday = (clock.now() - timedelta(days=1)).strftime("%d/%m %H:%M")
    await coordinator.send(yesterday)  # not the same day next year (a sandbox finding)
    assert "already passed" in coordinator.messages[-2].text
    assert coordinator.last.text.startswith("What is the deadline?")  # asked again
    hour_ago = (clock.now() - timedelta(hours=1)).strftime("%Y-%m-%d %H:%M")
    await coordinator.send(hour_ago)  # still to come west of here: the time zone decides
    await coordinator.send("Atlantis/Nowhere")
    assert "don't know that time zone" in coordinator.messages[-2].text
    await coordinator.press("UTC")
    assert "already passed" in coordinator.messages[-2].text
    await coordinator.send(in_days(clock, 10))
    await coordinator.press("UTC")
    assert "Who receives it?" in coordinator.last.text


async def test_non_coordinator_is_refused(conversation: Conversation) -> None:
    lee = conversation.person("Lee")
    for command in ("/newaction", "/actions", "/roster 1"):
        await lee.send(command)
        assert "Sorry, only these roles can do this: Owner, Chair," in lee.last.text


async def test_rsvp_changes_capacity_waitlist_and_promotion(
    conversation: Conversation,
    coordinator: Someone,
    storage: Storage,
    clock: ShiftedClock,
    messenger: RecordingMessenger,
) -> None:
    now = clock.now()
    people = []
    for user_id, language in ((11, "en"), (12, "es"), (13, "en")):
        await make_volunteer(storage, user_id, now=now, name=f"V{user_id}", language=language)
        people.append(conversation.person(f"V{user_id}", user_id=user_id))
    await create_meeting(coordinator, clock, capacity="1")
    await coordinator.press("✅ Send it")
    await engine_for(conversation.dispatcher.services).drain()
    first, second, third = people
    text, _ = await first.press("Going")
    assert text is not None and "Noted: Going" in text
    assert first.last.labels[0] == "✅ Going"
    text, alert = await second.press("Voy")
    assert alert and text is not None and "lista de espera" in text
    text, alert = await third.press("Going")
    assert alert and "waitlist" in (text or "")
    text, _ = await first.press("✅ Going")
    assert text == "That is already your answer."
    await first.press("Can't")
    await engine_for(conversation.dispatcher.services).drain()
    assert "estás dentro" in second.last.text
    assert "you are in" not in third.last.text
    async with storage.sessionmaker() as session:
        rows = dict((await session.execute(select(Rsvp.user_id, Rsvp.status))).all())
    assert rows == {11: "cant", 12: "going", 13: "waitlist"}


async def _one_place_call(
    conversation: Conversation,
    coordinator: Someone,
    storage: Storage,
    clock: ShiftedClock,
    *user_ids: int,
) -> list[Someone]:
    """Volunteers, and a meeting of one place sent to them (delivered)."""
    people = []
    for user_id in user_ids:
        await make_volunteer(storage, user_id, now=clock.now(), name=f"V{user_id}")
        people.append(conversation.person(f"V{user_id}", user_id=user_id))
    await create_meeting(coordinator, clock, capacity="1")
    await coordinator.press("✅ Send it")
    await engine_for(conversation.dispatcher.services).drain()
    return people


async def _blocks(storage: Storage, clock: ShiftedClock, user_id: int) -> None:
    """The volunteer blocked the bot, as a refused send records it."""
    async with storage.sessionmaker() as session, session.begin():
        await preferences.set_unreachable(session, user_id, preferences.BLOCKED, clock.now())


async def _answers(storage: Storage) -> dict[int, str]:
    async with storage.sessionmaker() as session:
        return dict((await session.execute(select(Rsvp.user_id, Rsvp.status))).all())


async def test_a_place_goes_to_the_next_who_can_be_told(
    conversation: Conversation,
    coordinator: Someone,
    storage: Storage,
    clock: ShiftedClock,
    messenger: RecordingMessenger,
) -> None:
    """A waitlisted volunteer who blocked the bot was given the freed place without knowing it
    (the notice refused), and the coordinator counted them coming (sandbox finding). The
    place goes to the next who can be told; back, the one passed over who presses Going again
    while a place is free takes it."""
    people = await _one_place_call(conversation, coordinator, storage, clock, 21, 22, 23)
    first, blocked, third = people
    await first.press("Going")
    await blocked.press("Going")  # waitlist #1
    await third.press("Going")  # waitlist #2
    await _blocks(storage, clock, 22)
    await first.press("Can't")
    await engine_for(conversation.dispatcher.services).drain()
    assert "you are in" in third.last.text
    assert await _answers(storage) == {21: "cant", 22: "waitlist", 23: "going"}
    await blocked.send("/start")  # back: reachable again
    await third.press("Can't")  # a place frees: theirs, in turn
    await engine_for(conversation.dispatcher.services).drain()
    assert "you are in" in blocked.last.text
    assert await _answers(storage) == {21: "cant", 22: "going", 23: "cant"}


async def test_one_passed_over_takes_a_free_place_by_pressing_going_again(
    conversation: Conversation,
    coordinator: Someone,
    storage: Storage,
    clock: ShiftedClock,
    messenger: RecordingMessenger,
) -> None:
    """Passed over while the bot could not write to them, with nobody else waiting: the place
    stays free. Back, they press Going on their "#1 on the waitlist" message and get it."""
    people = await _one_place_call(conversation, coordinator, storage, clock, 31, 32)
    first, blocked = people
    await first.press("Going")
    await blocked.press("Going")  # waitlist #1
    await _blocks(storage, clock, 32)
    await first.press("Can't")  # nobody who can be told is waiting: the place stays free
    assert await _answers(storage) == {31: "cant", 32: "waitlist"}
    await blocked.send("/start")
    await blocked.press("#1 on the waitlist")  # the Going button of a waiting volunteer
    await engine_for(conversation.dispatcher.services).drain()
    assert "you are in" in blocked.last.text
    assert await _answers(storage) == {31: "cant", 32: "going"}


async def test_one_promoted_who_says_can_t_before_being_told_is_not_told_they_are_in(
    conversation: Conversation,
    coordinator: Someone,
    storage: Storage,
    clock: ShiftedClock,
    messenger: RecordingMessenger,
) -> None:
    """Two Can't pressed together, by one going and by the first waiting (sandbox finding):
    the first promoted the second, whose own Can't then gave the place on. The "place freed
    up: you are in!" notice, queued by the first and not sent yet, still went out after: the
    last word they had was a place they no longer held. It is not sent now."""
    people = await _one_place_call(conversation, coordinator, storage, clock, 41, 42, 43)
    first, second, third = people
    await first.press("Going")
    await second.press("Going")  # waitlist #1
    await third.press("Going")  # waitlist #2
    await first.press("Can't")  # promotes the second: their notice is queued, not sent yet
    await second.press("Can't")  # pressed at the same moment, on the card they had
    await engine_for(conversation.dispatcher.services).drain()
    assert not [m for m in messenger.chats[42] if "you are in" in m.text]
    assert "you are in" in third.last.text
    assert await _answers(storage) == {41: "cant", 42: "cant", 43: "going"}


async def test_every_copy_of_a_call_shows_the_answer_given_on_any(
    conversation: Conversation,
    coordinator: Someone,
    storage: Storage,
    clock: ShiftedClock,
    messenger: RecordingMessenger,
) -> None:
    """One promoted from the waitlist has the call twice in their chat: the announcement and
    "a place freed up", each with its buttons. Answering on one, the other kept the answer it
    was sent with (sandbox finding: ✅ Going there, ✅ Can't here). Both show it now."""
    people = await _one_place_call(conversation, coordinator, storage, clock, 51, 52)
    engine = engine_for(conversation.dispatcher.services)
    first, second = people
    await first.press("Going")
    await second.press("Going")  # waitlist #1
    await first.press("Can't")
    await engine.drain()
    notice = second.last
    assert "you are in" in notice.text and "✅ Going" in notice.labels
    announcement = next(m for m in messenger.chats[52] if m is not notice and m.keyboard)
    cant = next(data for row in announcement.keyboard for label, data in row if label == "Can't")
    await second.press_data(announcement.message_id, cant)  # on the announcement
    await engine.drain()
    assert "✅ Can't" in notice.labels and "✅ Going" not in notice.labels, notice.labels
    await second.press("Maybe")  # on the newest: the notice
    await engine.drain()
    assert "✅ Maybe" in announcement.labels, announcement.labels


async def test_one_promoted_again_sees_going_on_every_earlier_copy(
    conversation: Conversation,
    coordinator: Someone,
    storage: Storage,
    clock: ShiftedClock,
    messenger: RecordingMessenger,
) -> None:
    """Promoted, then Can't, then back on the waitlist by the "place freed up" copy's Going,
    then promoted again: that copy kept "⏳ #1 on the waitlist" (found by the sandbox tester).
    Every earlier copy shows Going."""
    first, second, third = await _one_place_call(
        conversation, coordinator, storage, clock, 61, 62, 63
    )
    engine = engine_for(conversation.dispatcher.services)
    await first.press("Going")
    await second.press("Going")  # waitlist #1
    await first.press("Can't")  # the second is promoted: "a place freed up"
    await engine.drain()
    freed = second.last
    assert "you are in" in freed.text
    await second.press("Can't")  # the first is promoted in turn
    await first.press("Going")  # (the first is back in)
    await engine.drain()
    going = next(data for row in freed.keyboard for label, data in row if "Going" in label)
    await second.press_data(freed.message_id, going)  # full: waitlist #1, on that copy
    assert "#1 on the waitlist" in freed.labels[0], freed.labels
    await third.press("Going")  # waitlist #2
    await first.press("Can't")  # the second is promoted again
    await engine.drain()
    assert "you are in" in second.last.text and second.last is not freed
    assert freed.labels[0] == "✅ Going", freed.labels


async def test_same_rsvp_update_twice_counts_once_and_forged_buttons_are_refused(
    conversation: Conversation,
    coordinator: Someone,
    storage: Storage,
    clock: ShiftedClock,
    messenger: RecordingMessenger,
) -> None:
    await make_volunteer(storage, 21, now=clock.now(), name="Ana")
    ana = conversation.person("Ana", user_id=21)
    await create_meeting(coordinator, clock)
    await coordinator.press("✅ Send it")
    await engine_for(conversation.dispatcher.services).drain()
    message = ana.last
    going = next(data for label, data in message.keyboard[0] if label == "Going")
    press = Event(
        7777,
        EventKind.CALLBACK,
        ana.person,
        ana.chat,
        callback_id="c1",
        data=going,
        message_id=message.message_id,
    )
    await conversation.dispatcher.feed(press)
    await conversation.dispatcher.feed(press)
    # The replay changes nothing and is answered silently: had the first answer been lost in a
    # crash, the person's spinner would otherwise turn until Telegram gives up.
    assert [a for a in messenger.answers if a[0] == "c1"] == [
        ("c1", "Noted: Going. You can change your answer at any time.", False),
        ("c1", None, False),
    ]
    for forged in ("rv:99999:going", "rv:1:done", "rv:1", "rv:x:going", "rv:1:going:extra"):
        text, alert = await ana.press_data(message.message_id, forged)
        assert alert and "no longer active" in (text or ""), forged
    stranger = conversation.person("Stranger")
    text, alert = await stranger.press_data(message.message_id, going)
    assert alert and "not registered" in (text or "")
    async with storage.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Rsvp)) == 1


async def test_roster_escapes_names_marks_discreet_ones_for_coordinators_and_exports_csv(
    conversation: Conversation,
    coordinator: Someone,
    storage: Storage,
    clock: ShiftedClock,
    messenger: RecordingMessenger,
) -> None:
    now = clock.now()
    await make_volunteer(storage, 31, now=now, name="<b>Bold</b> & co")
    await make_volunteer(storage, 32, now=now, name="Secret Person", discreet=True)
    await make_volunteer(storage, 33, now=now, name="=HYPERLINK(1)")
    await create_meeting(coordinator, clock)
    await coordinator.press("✅ Send it")
    await engine_for(conversation.dispatcher.services).drain()
    for user_id in (31, 32, 33):
        await conversation.person("x", user_id=user_id).press("Going")
    async with storage.sessionmaker() as session:
        action_id = await session.scalar(select(Action.id))
    await coordinator.send(f"/roster {action_id}")
    listing = coordinator.messages[-2].text
    assert "&lt;b&gt;Bold&lt;/b&gt; &amp; co" in listing
    assert "🔒 Secret Person" in listing  # coordinators may see discreet members (privately)
    document = coordinator.last.document
    header = roster.CSV_HEADER
    rows = read_export(document, f"roster-{action_id}", coordinator.person.id, header)
    assert "'=HYPERLINK(1)" in [row["name"] for row in rows]
    assert "🔒 Secret Person" in [row["name"] for row in rows]
    await coordinator.send("/roster nothing-like-this")
    assert "found no action" in coordinator.last.text


@pytest.mark.parametrize("locale", ["en", "fr", "es", "ar"])
def test_a_roster_does_not_name_discreet_members_to_a_reader_who_may_not_see_them(
    locale: str,
) -> None:
    t = translator(locale)
    secret = Volunteer(
        user_id=32,
        display_name="Secret Person",
        username="secret_p",
        kind="individual",
        country="LB",
        discreet=True,
    )
    answer = Rsvp(action_id=1, user_id=32, status="going", answered_at=datetime(2026, 1, 1))
    hidden = roster.csv_bytes(t, [(answer, secret)], sees_discreet=False).decode("utf-8-sig")
    assert "Secret" not in hidden and "secret_p" not in hidden
    assert t("names.discreet") in hidden
    shown = roster.csv_bytes(t, [(answer, secret)], sees_discreet=True).decode("utf-8-sig")
    assert "🔒 Secret Person" in shown and "secret_p" in shown


async def test_actions_list_edit_tells_responders_and_cancel_drops_everything(
    conversation: Conversation,
    coordinator: Someone,
    storage: Storage,
    clock: ShiftedClock,
    messenger: RecordingMessenger,
) -> None:
    await make_volunteer(storage, 41, now=clock.now(), name="Kim", language="fr")
    kim = conversation.person("Kim", user_id=41)
    await create_meeting(coordinator, clock)
    await coordinator.press("✅ Send it")
    engine = engine_for(conversation.dispatcher.services)
    await engine.drain()
    await kim.press("Peut-être")
    original = kim.messages[0]
    maybe = dict((label, data) for row in original.keyboard for label, data in row)["✅ Peut-être"]
    await coordinator.send("/actions")
    assert "Current" in coordinator.last.text and "Maybe 1" in coordinator.last.text
    await coordinator.press("#1 Vigil for survivors")
    assert "Delivered 1 of 1" in coordinator.last.text
    await coordinator.press("✏️ Edit")
    await coordinator.press("Place")
    await coordinator.send("Parliament gate")
    assert "1 volunteer who answered is being told" in coordinator.messages[-2].text
    await engine.drain()
    assert "Modifié\u202f: Lieu" in kim.last.text and "Parliament gate" in kim.last.text
    await coordinator.press("🚫 Cancel the action")
    await coordinator.press("Yes, cancel it")
    await engine.drain()
    assert "Annulée" in kim.last.text and kim.last.labels == []
    assert kim.messages[0].text.startswith("🚫 <b>Annulée</b>") and kim.messages[0].labels == []
    text, alert = await kim.press_data(original.message_id, maybe)
    assert alert and "annulée" in (text or "")
    async with storage.sessionmaker() as session:
        states = (await session.scalars(select(OutboxMessage.state))).all()
    assert set(states) == {"sent"}


async def test_deep_link_shows_the_action_and_registers_newcomers_first(
    conversation: Conversation,
    coordinator: Someone,
    storage: Storage,
    clock: ShiftedClock,
) -> None:
    await make_volunteer(storage, 51, now=clock.now(), name="Rui")
    await create_meeting(coordinator, clock)
    await coordinator.press("✅ Send it")
    async with storage.sessionmaker() as session:
        code = await session.scalar(select(Action.code))
    rui = conversation.person("Rui", user_id=51)
    await rui.send(f"/start a_{code}")
    assert "Vigil for survivors" in rui.last.text and rui.last.labels[0] == "Going"
    await rui.send("/start a_unknown1")
    assert "don't know this action" in rui.last.text
    newcomer = conversation.person("Nia")
    await newcomer.send(f"/start a_{code}")
    assert "Which language" in newcomer.last.text


async def test_the_summary_shows_when_sending_ends_before_the_report_is_recorded(
    conversation: Conversation,
    coordinator: Someone,
    storage: Storage,
    clock: ShiftedClock,
    messenger: RecordingMessenger,
) -> None:
    """Issue 13: the report stayed at "Sending… Remaining: 0" when delivery won that race."""
    await make_volunteer(storage, 1, now=clock.now(), name="Amira", skills=["media"])
    await create_meeting(coordinator, clock, skills=["Media"])
    engine = engine_for(conversation.dispatcher.services)
    send = messenger.send_message

    async def deliver_first(chat_id: int, text: str, *args: Any, **kwargs: Any) -> Any:
        if "Sending…" in text:
            assert await engine.drain() == 1  # everything is delivered before the id is stored
        return await send(chat_id, text, *args, **kwargs)

    messenger.send_message = deliver_first  # type: ignore[method-assign]
    await coordinator.press("✅ Send it")
    report = coordinator.messages[-1]
    assert "Sending finished" in report.text and "Delivered: 1 message" in report.text


async def test_the_summary_accounts_for_those_the_bot_could_no_longer_reach_before_sending(
    conversation: Conversation,
    coordinator: Someone,
    storage: Storage,
    clock: ShiftedClock,
    messenger: RecordingMessenger,
) -> None:
    """Sandbox finding: a volunteer of the audience who had blocked the bot before the sending
    was in no line of the summary (the audience leaves them out, so no row said so); the
    summary now counts them, by why, beside those a refusal met while sending."""
    now = clock.now()
    for user_id, name in ((1, "Amira"), (2, "Omar"), (3, "Lina"), (4, "Kim")):
        await make_volunteer(storage, user_id, now=now, name=name, skills=["media"])
    await make_volunteer(storage, 5, now=now, name="Noor", skills=["legal"])  # not meant for
    async with storage.sessionmaker() as session, session.begin():
        await preferences.set_unreachable(session, 2, preferences.BLOCKED, now)
        await preferences.set_unreachable(session, 3, preferences.DEACTIVATED, now)
        await preferences.set_unreachable(session, 5, preferences.BLOCKED, now)
    await create_meeting(coordinator, clock, skills=["Media"])
    clock.advance(timedelta(minutes=1))
    await coordinator.press("✅ Send it")
    assert await engine_for(conversation.dispatcher.services).drain() == 2
    report = coordinator.messages[-1].text
    assert "Sending finished" in report and "Delivered: 2 messages" in report, report
    assert "Not reached: 2 people it was meant for, because:" in report, report
    assert "  • blocked the bot: 1" in report and "  • deleted their Telegram account: 1" in report
    assert "Failed" not in report


async def test_the_summary_edit_meeting_a_5xx_still_ends_as_the_summary(
    conversation: Conversation,
    coordinator: Someone,
    storage: Storage,
    clock: ShiftedClock,
    messenger: RecordingMessenger,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 13: one failed edit left the coordinator's report at "Sending…" for ever."""
    await make_volunteer(storage, 1, now=clock.now(), name="Amira", skills=["media"])
    await create_meeting(coordinator, clock, skills=["Media"])
    edit = messenger.edit_message
    failures = []

    async def fail_once(chat_id: int, message_id: int, text: str, *args: Any) -> None:
        if "Sending finished" in text and not failures:
            failures.append(text)
            raise TransientError("502 Bad Gateway")
        await edit(chat_id, message_id, text, *args)

    async def no_wait(seconds: float) -> None:
        return None

    messenger.edit_message = fail_once  # type: ignore[method-assign]
    monkeypatch.setattr(broadcasts.asyncio, "sleep", no_wait)
    await coordinator.press("✅ Send it")
    assert await engine_for(conversation.dispatcher.services).drain() == 1
    report = coordinator.messages[-1]
    assert failures and "Sending finished" in report.text


async def test_cancelling_an_action_can_be_called_off_with_no_keep_it(
    conversation: Conversation,
    coordinator: Someone,
    storage: Storage,
    clock: ShiftedClock,
) -> None:
    """The cancel confirmation had only "Yes, cancel it" (newcomer trial): "No, keep it" takes
    the question away and changes nothing, in every language."""
    await make_volunteer(storage, 42, now=clock.now(), name="Kim", language="fr")
    await create_meeting(coordinator, clock)
    await coordinator.press("✅ Send it")
    await engine_for(conversation.dispatcher.services).drain()
    await coordinator.send("/actions")
    await coordinator.press("#1 Vigil for survivors")
    await coordinator.press("🚫 Cancel the action")
    question = coordinator.last
    assert question.labels == ["Yes, cancel it", "No, keep it"]
    sent_before = len(conversation.messenger.chats[42])
    await coordinator.press("No, keep it")
    assert question.edited and question.labels == []
    assert question.text == "Nothing was cancelled: “Vigil for survivors” stays as it is."
    async with storage.sessionmaker() as session:
        action = await session.get(Action, 1)
    assert action is not None and action.status == "open"
    await engine_for(conversation.dispatcher.services).drain()
    assert len(conversation.messenger.chats[42]) == sent_before
    for locale, keep in (("fr", "Non, la garder"), ("es", "No, mantenerla"), ("ar", "لا، أبقِها")):
        assert translator(locale)("actions.cancel_keep").endswith(keep)


async def test_send_me_a_test_sends_the_call_as_a_volunteer_gets_it_not_the_preview_again(
    conversation: Conversation,
    coordinator: Someone,
    storage: Storage,
    clock: ShiftedClock,
    messenger: RecordingMessenger,
) -> None:
    """ "Send me a test" repeated the whole preview after a copy that differed from what
    volunteers get (no places left, no calendar or "Less like this" buttons; newcomer trial)."""
    await make_volunteer(storage, 1, now=clock.now(), name="Amira")
    now = clock.now()
    await make_volunteer(storage, COORDINATOR_ID, now=now, name="Coral", timezone="Europe/Paris")
    await create_meeting(coordinator, clock, capacity="10")
    before = len(coordinator.messages)
    await coordinator.press("🧪 Send me a test")
    test, buttons = coordinator.messages[before:]  # the test, then the preview's buttons: no more
    assert test.text.startswith("🧪 <b>Test</b>")
    assert "It will go to <b>2</b> volunteers." in buttons.text and "✅ Send it" in buttons.labels
    assert coordinator.messages[before - 1].labels == []  # the old buttons are gone
    await coordinator.press("✅ Send it")
    await engine_for(conversation.dispatcher.services).drain()
    real = messenger.chats[1][-1]
    in_paris = real.text.replace("6:30\u202fPM (Asia/Beirut)", "5:30\u202fPM (Europe/Paris)")
    assert test.text.split("\n\n", 1)[1] == in_paris  # in the coordinator's own time zone
    assert "10 of 10 places left" in test.text
    assert test.labels == real.labels  # Going, Maybe, Can't, Add to calendar, Less like this
    for _, data in [cell for row in test.keyboard for cell in row]:  # none does anything
        text, _ = await coordinator.press_data(test.message_id, data)
        assert text == "This is a preview: its buttons work once the call is sent."
    assert messenger.chats[1][-1] is real and len(messenger.chats[1]) == 1


def test_a_link_too_long_is_refused_as_too_long_not_as_no_address() -> None:
    """A 920-character https link was answered "send one that starts with https://"."""
    link = "https://example.org/" + "a" * 900
    with pytest.raises(InvalidInput) as refused:
        parse_link(link)
    assert refused.value.key == "actions.link_too_long"
    assert refused.value.values == {"length": len(link), "max": 500}
    text = translator("en")(refused.value.key, **refused.value.values)
    assert text.startswith("That link is too long (920 characters)")


@pytest.mark.parametrize("typed", ["in 2d", "in 3h", "absolute"])
async def test_a_relative_start_keeps_its_moment_when_a_time_zone_is_picked_after(
    coordinator: Someone, clock: ShiftedClock, typed: str
) -> None:
    """ "in 2d" typed at the start-time question is a moment, not a wall time: picking
    Beirut at the next question shows that moment in Beirut (it read 2 hours earlier); an
    absolute "YYYY-MM-DD 18:30" keeps meaning 18:30 in the zone picked."""
    now = clock.now().replace(second=0, microsecond=0)
    beirut = ZoneInfo("Asia/Beirut")
    if typed == "absolute":
        typed = in_days(clock, 3)
        expected = datetime.strptime(typed, "%Y-%m-%d %H:%M").replace(tzinfo=beirut)
    else:
        expected = now + (timedelta(days=2) if typed == "in 2d" else timedelta(hours=3))
    await coordinator.send("/newaction")
    await coordinator.press("Meeting")
    await coordinator.send("Vigil for survivors")
    await coordinator.send("Bring candles.")
    await coordinator.press("No link")
    await coordinator.send(typed)
    await coordinator.send("Beirut")
    await coordinator.send("Martyrs' Square")
    await coordinator.press("No limit")
    await coordinator.press("Done ✔")
    preview = coordinator.messages[-2].text
    assert when_text(translator("en"), expected, "Asia/Beirut") in preview


def test_french_labels_in_reports_take_the_narrow_space_before_the_colon() -> None:
    """Lines built in code (a broadcast's failure reasons, /newaction's left-out lists) use the
    language's colon, as translated labels do: French sets a narrow no-break space before it."""
    from handlers.actions.action_dialog import _left_out_lines
    from handlers.actions.broadcasts import summary_view
    from handlers.kernel.i18n import translator
    from storage.actions.action_models import Broadcast

    t = translator("fr")
    broadcast = Broadcast(state="done")
    summary = summary_view(t, broadcast, {"sent": 3, "failed": 2}, {"blocked": 2})
    reason = next(line for line in summary.split("\n") if line.startswith("  • "))
    assert "\u202f: 2" in reason and " : " not in reason and "): " not in reason
    unreached = summary_view(t, broadcast, {"sent": 3}, {}, {"blocked": 2}).split("\n")
    assert unreached[2:] == [
        "Non joints\u202f: 2 destinataires prévus, car\u202f:",
        "  • bot bloqué\u202f: 2",
    ]
    left = _left_out_lines(t, {"muted": [1, ["Lina"]]})
    assert left[1].endswith("(1)\u202f: Lina"), left


async def test_a_place_freed_while_the_head_was_unreachable_is_not_taken_by_a_newcomer(
    conversation: Conversation,
    coordinator: Someone,
    storage: Storage,
    clock: ShiftedClock,
    messenger: RecordingMessenger,
) -> None:
    """The place freed while the only waiting volunteer could not be told stays free. Once they
    are back, a newcomer pressing Going took it directly, ahead of the one who waited, left
    "#1 on the waitlist" of a full action (found by review). The one who waited gets it."""
    now = clock.now()
    found = []
    for user_id in (31, 32, 33):
        await make_volunteer(storage, user_id, now=now, name=f"V{user_id}")
        found.append(conversation.person(f"V{user_id}", user_id=user_id))
    await create_meeting(coordinator, clock, capacity="1")
    await coordinator.press("✅ Send it")
    await engine_for(conversation.dispatcher.services).drain()
    first, blocked, newcomer = found
    await first.press("Going")
    await blocked.press("Going")  # waitlist #1
    await _blocks(storage, clock, 32)
    await first.press("Can't")  # nobody who can be told is waiting: the place stays free
    assert await _answers(storage) == {31: "cant", 32: "waitlist"}
    await blocked.send("/start")  # back: reachable again, still first in line
    await newcomer.press("Going")
    await engine_for(conversation.dispatcher.services).drain()
    rows = await _answers(storage)
    # The one who waited should have the place (promoted when back, or at the newcomer's press);
    # the newcomer waits behind them.
    assert rows == {31: "cant", 32: "going", 33: "waitlist"}, rows


async def test_newaction_mid_draft_offers_to_continue_it_or_start_anew(
    coordinator: Someone, clock: ShiftedClock, storage: Storage
) -> None:
    """/newaction sent again while a call is being written threw the draft away without a
    word (a sandbox finding): it now offers to continue it — its question asked again, every
    answer kept — or to start a new one; the choice's buttons go stale once used."""
    await coordinator.send("/newaction")
    await coordinator.press("Petition")
    await coordinator.send("Ban <cluster> munitions")
    await coordinator.send("/newaction")
    offer = coordinator.last
    assert "middle of writing" in offer.text and "Ban &lt;cluster&gt; munitions" in offer.text
    assert offer.labels == ["↩️ Continue it", "🆕 Start a new one"]
    await coordinator.press("Continue it")
    assert offer.labels == []  # the choice is made
    assert coordinator.last.text.startswith("Describe it")  # the question it stopped at
    await coordinator.send("Sign and share.")
    await coordinator.press("No link")
    await coordinator.send(in_days(clock, 10))
    await coordinator.press("UTC")
    await coordinator.press("Done ✔")
    assert "Ban &lt;cluster&gt; munitions" in coordinator.messages[-2].text  # the preview: kept
    answer, _ = await coordinator.press_data(offer.message_id, "nadr:" + "x" * 4 + ":new")
    assert answer is not None and "no longer active" in answer  # forged: another draft's
    await coordinator.send("/newaction")
    again = coordinator.last
    start_anew = dict(again.keyboard[1])["🆕 Start a new one"]
    await coordinator.press("Start a new one")
    assert "prepare a call to action" in coordinator.messages[-2].text
    assert coordinator.last.labels[0] == "✍️ Petition"  # the first question
    await coordinator.press("Petition")
    await coordinator.send("Another call")
    answer, _ = await coordinator.press_data(again.message_id, start_anew)  # used: stale
    assert answer is not None and "no longer active" in answer
    assert coordinator.last.text.startswith("Describe it")  # the new draft goes on
    async with storage.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Action)) == 0


async def test_newaction_before_a_title_simply_starts_again(coordinator: Someone) -> None:
    """Nothing worth keeping yet (only the kind chosen): /newaction starts again at once."""
    await coordinator.send("/newaction")
    await coordinator.press("Meeting")
    await coordinator.send("/newaction")
    assert "prepare a call to action" in coordinator.messages[-2].text
    assert coordinator.last.labels[0] == "✍️ Petition"


async def test_a_draft_saved_before_runs_were_stamped_can_be_continued(
    coordinator: Someone, storage: Storage, clock: ShiftedClock
) -> None:
    """A cold review's finding: a draft without a run (saved before forms stamped one) got an
    offer whose two buttons were both stale ("" against "None")."""
    await coordinator.send("/start")
    async with storage.sessionmaker() as session, session.begin():
        data = {"kind": "petition", "title": "Old draft"}
        await dialogs.save(
            session, COORDINATOR_ID, COORDINATOR_ID, "newaction", "description", data, clock.now()
        )
    await coordinator.send("/newaction")
    assert "Old draft" in coordinator.last.text
    await coordinator.press("Continue it")
    assert coordinator.last.text.startswith("Describe it")
