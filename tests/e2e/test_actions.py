"""Calls to action end to end: the real aiogram bot, the emulator, the delivery engine."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.app import Storage, open_storage
from botapi_emulator.client import Person
from handlers.actions import broadcasts
from storage.actions.action_models import Action, Rsvp
from tests.e2e.conftest import PATIENCE, ChorusUnderTest
from tests.support.actions import make_volunteer


async def _says(person: Person, fragment: str) -> str:
    message = await person.wait_for_message(lambda m: fragment in (m.text or ""))
    return message.text or ""


async def _storage(chorus: ChorusUnderTest) -> Storage:
    return await open_storage(chorus.database_url)


async def _volunteer(
    chorus: ChorusUnderTest, name: str, language: str = "en", **profile: object
) -> Person:
    """A person registered directly in the database, who has started the bot."""
    person = await chorus.person(name, language_code=language)
    storage = await _storage(chorus)
    try:
        await make_volunteer(
            storage,
            person.id,
            now=chorus.clock.now(),
            name=name,
            language=language,
            **profile,  # type: ignore[arg-type]
        )
    finally:
        await storage.engine.dispose()
    await person.send("/start")
    await _says(person, "" if language != "en" else "Welcome back")
    return person


async def _registered_volunteers(chorus: ChorusUnderTest, count: int) -> list[int]:
    """`count` people who started the bot and are registered (V0, V1, …): their user ids."""
    state = chorus.emulator.state
    storage = await _storage(chorus)
    ids = []
    try:
        for index in range(count):
            user = state.create_user(f"V{index}")
            state.chats[user.id].started = True
            ids.append(user.id)
            await make_volunteer(storage, user.id, now=chorus.clock.now(), name=f"V{index}")
    finally:
        await storage.engine.dispose()
    return ids


async def _until(check: Callable[[], bool], timeout: float = PATIENCE) -> None:  # noqa: ASYNC109
    """Waits for a condition of the emulator's state, checked every few milliseconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        if loop.time() > deadline:
            raise TimeoutError("condition never met")
        await asyncio.sleep(0.02)


async def _meeting_up_to_audience(
    coordinator: Person,
    when: str,
    title: str = "Vigil & march",
    description: str = "Bring <candles>.",
) -> None:
    """/newaction as far as "Who receives it?": an online meeting with no limit, in UTC."""
    await coordinator.send("/newaction")
    await coordinator.press("🤝 Meeting")
    await _says(coordinator, "What is its title?")
    await coordinator.send(title)
    await _says(coordinator, "Describe it")
    await coordinator.send(description)
    await coordinator.press("No link")
    await _says(coordinator, "When does it start?")
    await coordinator.send(when)
    await coordinator.press("UTC")
    await _says(coordinator, "Where does it happen?")
    await coordinator.press("Online")
    await coordinator.press("No limit")
    await _says(coordinator, "Who receives it?")


async def _create_meeting(coordinator: Person, when: str, *, skills: tuple[str, ...] = ()) -> None:
    await _meeting_up_to_audience(coordinator, when)
    if skills:
        await coordinator.press("Skills")
        for skill in skills:
            await coordinator.press(skill)
        await coordinator.press("Done ✔")
        await _says(coordinator, "Who receives it?")
    await coordinator.press("Done ✔")
    await _says(coordinator, "It will go to")


async def test_a_targeted_action_reaches_the_right_volunteers_who_answer(
    chorus: ChorusUnderTest,
) -> None:
    amira = await _volunteer(chorus, "Amira", skills=["media"])
    lucia = await _volunteer(chorus, "Lucía", "es", skills=["media"], timezone="America/Bogota")
    omar = await _volunteer(chorus, "Omar", skills=["legal"])
    when = (chorus.clock.now() + timedelta(days=3)).strftime("%Y-%m-%d 18:00")
    await _create_meeting(chorus.coordinator, when, skills=("Media",))
    await chorus.coordinator.press("✅ Send it")
    await _says(chorus.coordinator, "Sending finished")
    text = await _says(amira, "Vigil & march")
    assert "Bring <candles>." in text and "(UTC)" not in text and "Asia/Beirut" in text
    text = await _says(lucia, "Vigil & march")
    assert "Cuándo:" in text and "13:00" in text  # 18:00 UTC in Bogotá
    assert all("Vigil" not in (m.text or "") for m in await omar.chat_messages())
    answer = await lucia.press("Voy")
    assert answer is not None and "Anotado: Voy" in (answer.text or "")
    forged = await amira.press_data(await amira.last_bot_message() or 0, "rv:1:done")
    assert forged is not None and forged.show_alert and "no longer active" in (forged.text or "")
    storage = await _storage(chorus)
    try:
        async with storage.sessionmaker() as session:
            rows = (await session.execute(select(Rsvp.user_id, Rsvp.status))).all()
    finally:
        await storage.engine.dispose()
    assert [(u, s) for u, s in rows] == [(lucia.id, "going")]


async def test_a_volunteer_cannot_create_actions(chorus: ChorusUnderTest) -> None:
    lee = await _volunteer(chorus, "Lee")
    await lee.send("/newaction")
    await _says(lee, "Sorry, only these roles can do this: Owner, Chair,")


async def test_a_kill_mid_broadcast_loses_nobody_and_duplicates_stay_in_the_bound(
    chorus: ChorusUnderTest, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BROADCAST_RATE", "300")
    await chorus.restart()
    state = chorus.emulator.state
    ids = await _registered_volunteers(chorus, 300)
    when = (chorus.clock.now() + timedelta(days=2)).strftime("%Y-%m-%d 10:00")
    await _create_meeting(chorus.coordinator, when)
    await chorus.coordinator.press("✅ Send it")

    def delivered() -> int:
        return sum(len(state.chats[i].messages) for i in ids)

    await _until(lambda: delivered() >= 100)
    await chorus.kill()
    await chorus.start()
    assert chorus.running is not None and chorus.running.delivery is not None
    engine = chorus.running.delivery
    assert engine.stats.recovered <= engine.window
    await _until(lambda: all(state.chats[i].messages for i in ids))
    await engine.wait_until_idle()
    counts = [len(state.chats[i].messages) for i in ids]
    assert min(counts) == 1 and sum(counts) - len(ids) <= engine.stats.recovered


class _Cut:
    """Where the bot is killed: `block` says it was reached and waits there; `kill` kills the
    bot, and the work waiting in `block` is cut off as a kill -9 would (a runtime's stop may
    wait for the update being handled, which in a dead process simply ends)."""

    def __init__(self) -> None:
        self.reached = asyncio.Event()
        self.released = asyncio.Event()

    async def block(self, *args: Any, **kwargs: Any) -> Any:
        self.reached.set()
        await self.released.wait()
        raise asyncio.CancelledError

    async def kill(self, chorus: ChorusUnderTest) -> None:
        await asyncio.wait_for(self.reached.wait(), PATIENCE)
        killing = asyncio.create_task(chorus.kill())
        await asyncio.sleep(0)  # the bot's task is told to stop first
        self.released.set()
        await killing


async def _coordinator_saw(chorus: ChorusUnderTest, fragment: str) -> list[str]:
    return [
        m.text or "" for m in await chorus.coordinator.chat_messages() if fragment in (m.text or "")
    ]


async def test_a_kill_before_the_report_is_posted_still_ends_in_the_summary(
    chorus: ChorusUnderTest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Killed between the commit of "Send it" and the post of the progress message (issue
    13): after the restart the coordinator still gets the report, and it ends as the summary."""
    amira = await _volunteer(chorus, "Amira")
    omar = await _volunteer(chorus, "Omar")
    when = (chorus.clock.now() + timedelta(days=3)).strftime("%Y-%m-%d 18:00")
    await _create_meeting(chorus.coordinator, when)
    cut = _Cut()
    monkeypatch.setattr(broadcasts, "_start_report", lambda *args: cut.block)
    await chorus.coordinator.press("✅ Send it")
    await cut.kill(chorus)
    monkeypatch.undo()
    assert await _coordinator_saw(chorus, "📤") == []  # the kill came before any report
    await chorus.start()
    summary = await _says(chorus.coordinator, "Sending finished")
    assert "Delivered: 2 messages" in summary, summary
    for person in (amira, omar):
        await _says(person, "Vigil & march")
    assert len(await _coordinator_saw(chorus, "Sending finished")) == 1
    assert await _coordinator_saw(chorus, "📤") == []  # no progress message left behind


async def test_a_kill_before_the_summary_is_shown_still_shows_it_after_the_restart(
    chorus: ChorusUnderTest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every message sent, the bot killed as it turns the progress message into the summary:
    no result of that broadcast is left to record after the restart, yet the summary comes."""
    amira = await _volunteer(chorus, "Amira")
    when = (chorus.clock.now() + timedelta(days=3)).strftime("%Y-%m-%d 18:00")
    await _create_meeting(chorus.coordinator, when)
    cut = _Cut()
    show_report = broadcasts._show_report

    async def summary_blocked(*args: Any) -> bool:
        if args[-1] is None:  # the summary has no Stop button
            return bool(await cut.block())
        return await show_report(*args)

    monkeypatch.setattr(broadcasts, "_show_report", summary_blocked)
    await chorus.coordinator.press("✅ Send it")
    await _says(amira, "Vigil & march")
    await cut.kill(chorus)
    monkeypatch.undo()
    assert await _coordinator_saw(chorus, "Sending finished") == []
    await chorus.start()
    summary = await _says(chorus.coordinator, "Sending finished")
    assert "Delivered: 1 message" in summary, summary
    assert await _coordinator_saw(chorus, "📤") == []


async def test_reminders_fire_on_time_and_survive_a_restart(chorus: ChorusUnderTest) -> None:
    ana = await _volunteer(chorus, "Ana")
    when = (chorus.clock.now() + timedelta(days=3)).strftime("%Y-%m-%d 12:00")
    await _create_meeting(chorus.coordinator, when)
    await chorus.coordinator.press("✅ Send it")
    await _says(ana, "Vigil & march")
    await ana.press("Going")
    await chorus.restart()
    storage = await _storage(chorus)
    try:
        async with storage.sessionmaker() as session:
            at = await session.scalar(select(Action.at))
    finally:
        await storage.engine.dispose()
    assert at is not None
    await chorus.advance(at - timedelta(hours=25) - chorus.clock.now())
    await chorus.advance(timedelta(hours=2))
    text = await _says(ana, "Reminder")
    assert "starts in 23 hours" in text
    await chorus.restart()
    await chorus.advance(timedelta(minutes=1))
    assert chorus.running is not None and chorus.running.delivery is not None
    await chorus.running.delivery.wait_until_idle()
    reminders = [m for m in await ana.chat_messages() if "Reminder" in (m.text or "")]
    assert len(reminders) == 1


async def _tick(coordinator: Person, filter_label: str, *labels: str) -> None:
    await coordinator.press(filter_label)
    for label in labels:
        await coordinator.press(label)
    await coordinator.press("Done ✔")
    await _says(coordinator, "Who receives it?")


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        pytest.param(
            [("Countries", "France, Spain, Lebanon")], {"Anne", "Bea", "Cham", "Emma", "Fadi"}
        ),
        pytest.param(
            [("Skills", "Events", "Translation")], {"Anne", "Bea", "Cham", "Dirk", "Fadi"}
        ),
        pytest.param([("Languages", "Français", "Español")], {"Anne", "Bea", "Emma"}),
        pytest.param([("Individuals / organisations", "An organisation")], {"Cham"}),
        pytest.param(
            [
                ("Countries", "France, Spain, Lebanon"),
                ("Skills", "Events", "Translation"),
                ("Individuals / organisations", "An individual"),
                ("Languages", "Français", "Español", "العربية"),
            ],
            {"Anne", "Bea"},
            id="combined",
        ),
    ],
)
async def test_audience_filters_stick_and_the_preview_counts_who_is_reached(
    chorus: ChorusUnderTest, filters: list[tuple[str, ...]], expected: set[str]
) -> None:
    """Issue 10: the country filter never applied and a second tick of a filter was dropped."""
    people = {
        "Anne": await _volunteer(
            chorus, "Anne", "fr", country="FR", skills=["events", "translation"]
        ),
        "Bea": await _volunteer(chorus, "Bea", "es", country="ES", skills=["translation"]),
        "Cham": await _volunteer(
            chorus, "Cham", "ar", country="LB", skills=["events"], kind="organisation"
        ),
        "Dirk": await _volunteer(chorus, "Dirk", country="DE", skills=["events"]),
        "Emma": await _volunteer(chorus, "Emma", "fr", country="FR", skills=["media"]),
        "Fadi": await _volunteer(chorus, "Fadi", country="LB", skills=["translation"]),
    }
    coordinator = chorus.coordinator
    when = (chorus.clock.now() + timedelta(days=3)).strftime("%Y-%m-%d 18:00")
    await _meeting_up_to_audience(coordinator, when, "Town hall", "Questions to the minister.")
    for name, *choices in filters:
        if name == "Countries":
            await coordinator.press("Countries")
            await _says(coordinator, "Type one or more countries")
            await coordinator.send(choices[0])
            await coordinator.press("Done ✔")
            await _says(coordinator, "Who receives it?")
        else:
            await _tick(coordinator, name, *choices)
    await coordinator.press("Done ✔")
    preview = await _says(coordinator, "It will go to")
    count = len(expected)
    assert f"It will go to <b>{count}</b>" in preview or f"It will go to {count} " in preview
    await coordinator.press("✅ Send it")
    await _says(coordinator, "Sending finished")
    assert chorus.running is not None and chorus.running.delivery is not None
    await chorus.running.delivery.wait_until_idle()
    reached = {
        name
        for name, person in people.items()
        if any("Town hall" in (m.text or "") for m in await person.chat_messages())
    }
    assert reached == expected
