"""SandboxClient acts like people against a real aiogram Dispatcher polling the emulator."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiogram import Bot, Dispatcher, F, Router
from aiogram.client.default import DefaultBotProperties
from aiogram.filters import Command, CommandStart
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputPollOption,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
)

from botapi_emulator import SandboxClient, SandboxError


def echo_router() -> Router:
    """A tiny bot: greets, offers languages, echoes, polls and sends a file."""
    router = Router()

    @router.message(CommandStart())
    async def start(message: Message) -> None:
        buttons = [
            InlineKeyboardButton(text="English", callback_data="lang:en"),
            InlineKeyboardButton(text="Français", callback_data="lang:fr"),
        ]
        markup = InlineKeyboardMarkup(inline_keyboard=[buttons])
        await message.answer("<b>Bienvenue</b> ! Choose a language:", reply_markup=markup)

    @router.callback_query(F.data.startswith("lang:"))
    async def language(query: CallbackQuery) -> None:
        assert isinstance(query.message, Message) and query.data
        await query.answer(f"Saved {query.data[5:]}")
        await query.message.edit_text(f"Language: {query.data[5:]}")

    @router.message(Command("menu"))
    async def menu(message: Message) -> None:
        keyboard = ReplyKeyboardMarkup(keyboard=[[KeyboardButton(text="Profile")]])
        await message.answer("Menu", reply_markup=keyboard)

    @router.message(Command("poll"))
    async def poll(message: Message) -> None:
        options: list[InputPollOption | str] = [
            InputPollOption(text="Yes"),
            InputPollOption(text="No"),
        ]
        await message.answer_poll("Strike on Friday?", options, is_anonymous=False)

    @router.message(Command("report"))
    async def report(message: Message) -> None:
        await message.answer_document(BufferedInputFile(b"a;b\n", filename="report.csv"))

    @router.message(F.text)
    async def echo(message: Message) -> None:
        await message.answer(f"You said: {message.text}")

    return router


@pytest.fixture
async def running_bot(bot: Bot) -> AsyncIterator[Bot]:
    """The aiogram Dispatcher long-polling the emulator while the test runs."""
    bot.default = DefaultBotProperties(parse_mode="HTML")
    dispatcher = Dispatcher()
    dispatcher.include_router(echo_router())
    polling = asyncio.create_task(
        dispatcher.start_polling(
            bot, handle_signals=False, close_bot_session=False, polling_timeout=5
        )
    )
    yield bot
    await dispatcher.stop_polling()
    await asyncio.wait_for(polling, 30)


async def test_a_person_talks_to_the_bot(running_bot: Bot, sandbox: SandboxClient) -> None:
    alice = await sandbox.create_user("Alice", language_code="fr")

    await alice.send("/start")
    welcome = await alice.wait_for_message(lambda m: "Bienvenue" in m.text)

    assert welcome.html.startswith("<b>Bienvenue</b>")
    assert welcome.labels == ["English", "Français"]
    answer = await alice.press("Français")
    assert answer is not None and answer.text == "Saved fr"
    edited = await alice.wait_for_message(lambda m: m.text == "Language: fr")
    assert edited.edited and edited.message_id == welcome.message_id and edited.buttons == []

    await alice.send("hello")
    reply = await alice.wait_for_reply()
    assert reply.text == "You said: hello"


async def test_reply_keyboard_labels_are_sent_as_text(
    running_bot: Bot, sandbox: SandboxClient
) -> None:
    bob = await sandbox.create_user("Bob")
    await bob.send("/menu")
    await bob.wait_for_reply()

    assert await bob.press("Profile") is None

    assert (await bob.wait_for_reply()).text == "You said: Profile"


async def test_group_poll_and_votes(running_bot: Bot, sandbox: SandboxClient) -> None:
    alice, bob = await sandbox.create_user("Alice"), await sandbox.create_user("Bob")
    group = await sandbox.create_group("Coalition", [alice, bob])

    await alice.send("/poll", chat=group)
    poll_message = await alice.wait_for_reply(chat=group)
    assert poll_message.poll is not None and poll_message.poll.options == ["Yes", "No"]
    await alice.vote(poll_message, [0])
    poll = await bob.vote(poll_message, [1])

    assert poll.counts == [1, 1] and poll.total_voter_count == 2
    await alice.send("no command here", chat=group)
    with pytest.raises(TimeoutError, match="a reply never came"):
        await alice.wait_for_reply(chat=group, timeout=0.3)


async def test_documents_can_be_downloaded(running_bot: Bot, sandbox: SandboxClient) -> None:
    alice = await sandbox.create_user("Alice")
    await alice.send("/report")

    message = await alice.wait_for_reply()

    assert message.document is not None and message.document.file_name == "report.csv"
    assert await sandbox.download(message.document) == b"a;b\n"


async def test_blocked_bot_cannot_reach_a_person(running_bot: Bot, sandbox: SandboxClient) -> None:
    alice = await sandbox.create_user("Alice")
    await alice.send("/start")
    await alice.wait_for_reply()
    await alice.block_bot()

    await alice.send("hello again")
    assert (await alice.wait_for_reply()).text == "You said: hello again"
    with pytest.raises(SandboxError, match="no button"):
        await sandbox.post(
            "/control/press", user_id=alice.id, chat_id=alice.id, message_id=1, label="Nope"
        )
