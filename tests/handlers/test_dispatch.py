"""The dispatcher: exactly once, in order per person, concurrent writers, failures, timers."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.app import Storage
from bot.botapi import payloads
from handlers import build_router
from handlers.kernel.callbacks import CallbackData
from handlers.kernel.context import Context, HandlerSettings, Services
from handlers.kernel.dispatch import Dispatcher, parse_command
from handlers.kernel.invalid_input import InvalidInput
from handlers.kernel.ports import Button, ShiftedClock
from handlers.kernel.routing import Router
from storage import dialogs
from storage.models import ProcessedUpdate, Timer
from tests.handlers.test_registration import register_individual
from tests.support.recording import Conversation, RecordingMessenger


def test_parse_command() -> None:
    assert parse_command("/start", "chorus_bot") == ("start", "")
    assert parse_command("/Poll@Chorus_Bot What? | a | b", "chorus_bot") == (
        "poll",
        "What? | a | b",
    )
    assert parse_command("/poll@other_bot x", "chorus_bot") is None
    assert parse_command("hello", "chorus_bot") is None
    assert parse_command("/", "chorus_bot") is None


async def test_many_people_at_once_on_sqlite(conversation: Conversation, storage: Storage) -> None:
    people = [conversation.person(f"P{i}") for i in range(40)]
    await asyncio.gather(*(p.send("/start") for p in people))
    await asyncio.gather(*(p.press("English") for p in people))
    assert all("individual, or on behalf" in p.last.text for p in people)
    async with storage.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(ProcessedUpdate)) == 80


async def test_one_persons_updates_are_handled_in_order(conversation: Conversation) -> None:
    ada = conversation.person("Ada")
    await ada.send("/start")
    await ada.press("English")
    await asyncio.gather(ada.press("An individual"), ada.send("Ada Lovelace"))
    assert "Which country" in ada.last.text


async def test_unknown_command_and_stray_text(conversation: Conversation) -> None:
    ada = conversation.person("Ada")
    await ada.send("/dance")
    assert "don't know that command" in ada.last.text
    await ada.send("hello there")
    assert "Send /start to join" in ada.last.text


async def test_a_crashing_handler_apologises_and_loses_nothing(
    services: Services, messenger: RecordingMessenger
) -> None:
    router = Router("test")
    calls: list[int] = []

    @router.command("boom")
    async def boom(ctx: Context) -> None:
        calls.append(ctx.event.update_id)
        raise RuntimeError("kaboom")

    root = build_router()
    root.include(router)
    conversation = Conversation(Dispatcher(root, services), messenger)
    ada = conversation.person("Ada")
    await ada.send("/boom", update_id=77)
    assert "something went wrong" in ada.last.text
    await ada.send("/boom", update_id=77)
    assert calls == [77]


class Probe(CallbackData, prefix="zq"):
    """A button whose handler finds the input does not fit."""


def _refusing_dispatcher(services: Services, writes: list[int]) -> Dispatcher:
    """The real routes plus /refuse and a Probe button, both raising an uncaught InvalidInput
    after writing a dialog state (which must not survive)."""
    router = Router("test")

    @router.command("refuse")
    async def refuse(ctx: Context) -> None:
        writes.append(ctx.event.update_id)
        await ctx.set_dialog("test", "half", {"written": True})
        ctx.reply("never sent")
        raise InvalidInput("directory.bad_word", [[Button("Try again", "zq")]], word="R&D")

    @router.button(Probe)
    async def probe(ctx: Context, button: Probe) -> None:
        writes.append(ctx.event.update_id)
        await ctx.set_dialog("test", "half", {"written": True})
        raise InvalidInput("directory.bad_word", word="R&D")

    root = build_router()
    root.include(router)
    return Dispatcher(root, services)


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", "I do not understand “R&amp;D”."),
        ("fr", "Je ne comprends pas «\u202fR&amp;D\u202f»."),
    ],
)
async def test_uncaught_invalid_input_is_answered_once_in_the_persons_language(
    services: Services,
    messenger: RecordingMessenger,
    storage: Storage,
    language: str,
    expected: str,
) -> None:
    writes: list[int] = []
    conversation = Conversation(_refusing_dispatcher(services, writes), messenger)
    ada = conversation.person("Ada", language_code=language)
    await ada.send("/refuse", update_id=91)
    assert [m.text for m in ada.messages] == [expected]
    assert ada.last.keyboard == [[("Try again", "zq")]]
    await ada.send("/refuse", update_id=91)  # redelivered: neither handled nor answered again
    assert writes == [91] and len(ada.messages) == 1
    async with storage.sessionmaker() as session:
        assert await dialogs.get(session, ada.person.id, ada.chat.id) is None


async def test_uncaught_invalid_input_from_a_button_is_a_plain_text_alert(
    services: Services, messenger: RecordingMessenger, storage: Storage
) -> None:
    writes: list[int] = []
    conversation = Conversation(_refusing_dispatcher(services, writes), messenger)
    ada = conversation.person("Ada", language_code="fr")
    text, alert = await ada.press_data(1, Probe().pack())
    assert (text, alert) == ("Je ne comprends pas «\u202fR&amp;D\u202f».", True)
    assert (
        payloads.answer_button("1", text, alert).params["text"]
        == "Je ne comprends pas «\u202fR&D\u202f»."
    )
    assert ada.messages == [] and writes == [conversation.next_update_id() - 1]
    async with storage.sessionmaker() as session:
        assert await dialogs.get(session, ada.person.id, ada.chat.id) is None


async def test_timers_fire_once_and_late_ones_are_skipped(
    services: Services, messenger: RecordingMessenger, clock: ShiftedClock, storage: Storage
) -> None:
    router = Router("test")
    fired: list[str] = []

    @router.command("later")
    async def later(ctx: Context) -> None:
        await ctx.schedule("ping", "a", ctx.now() + timedelta(hours=1), chat_id=ctx.chat_id)
        await ctx.schedule(
            "ping", "b", ctx.now() + timedelta(hours=2), chat_id=ctx.chat_id, grace_seconds=60
        )

    @router.timer("ping")
    async def ping(ctx: Context) -> None:
        fired.append(str(ctx.event.payload["key"] if ctx.event.payload else ""))
        ctx.reply(ctx.t("common.done"))

    root = build_router()
    root.include(router)
    dispatcher = Dispatcher(root, services)
    ada = Conversation(dispatcher, messenger).person("Ada")
    await ada.send("/later")
    assert await dispatcher.run_due_timers() == 0
    clock.advance(timedelta(minutes=61))
    assert await dispatcher.run_due_timers() == 1
    assert await dispatcher.run_due_timers() == 0
    assert fired == ["a"]
    assert ada.last.text == "Done ✔"
    clock.advance(timedelta(hours=2))
    assert await dispatcher.run_due_timers() == 0
    assert fired == ["a"]
    async with storage.sessionmaker() as session:
        statuses = {
            key: status for key, status in await session.execute(select(Timer.key, Timer.status))
        }
    assert statuses == {"a": "done", "b": "missed"}


async def test_registration_on_postgresql(pg_storage: Storage) -> None:
    messenger = RecordingMessenger()
    services = Services(
        sessionmaker=pg_storage.sessionmaker,
        messenger=messenger,
        clock=ShiftedClock(),
        settings=HandlerSettings(bot_username="chorus_bot"),
    )
    conversation = Conversation(Dispatcher(build_router(), services), messenger)
    people = [conversation.person(f"P{i}") for i in range(5)]
    await asyncio.gather(
        *(register_individual(p, name=f"Person {i}") for i, p in enumerate(people))
    )
    assert all("part of the network" in p.last.text for p in people)
    await people[0].send("/start", update_id=1)
    async with pg_storage.sessionmaker() as session:
        from storage.models import Volunteer

        assert await session.scalar(select(func.count()).select_from(Volunteer)) == 5
