"""The default runtime: aiogram 3 long polling feeding the neutral handlers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
from aiogram import Bot
from aiogram import Dispatcher as AiogramDispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.types import BotCommand as AiogramCommand
from aiogram.types import (
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
    BotCommandScopeDefault,
    BufferedInputFile,
    InlineKeyboardMarkup,
    InputPollOption,
    LinkPreviewOptions,
    TelegramObject,
    Update,
)

from bot.errors import bad_request
from bot.lean_sender import LeanSender
from bot.updates import ALLOWED_UPDATES, event_from_update, inline_keyboard
from handlers.dispatch import Dispatcher
from handlers.ports import (
    BotBlocked,
    BotCommand,
    ChatMigrated,
    Keyboard,
    RetryAfter,
    SentMessage,
    TransientError,
    Unauthorized,
)

log = logging.getLogger(__name__)
STOP_TIMEOUT = 10.0


def create_bot(token: str, api_url: str) -> Bot:
    """An aiogram Bot talking to `api_url` (Telegram, or the emulator)."""
    session = AiohttpSession(api=TelegramAPIServer.from_base(api_url))
    return Bot(token, session=session, default=DefaultBotProperties(parse_mode="HTML"))


@asynccontextmanager
async def _neutral_errors() -> AsyncIterator[None]:
    try:
        yield
    except TelegramRetryAfter as exc:
        raise RetryAfter(float(exc.retry_after), exc.message) from exc
    except TelegramMigrateToChat as exc:
        raise ChatMigrated(exc.migrate_to_chat_id, exc.message) from exc
    except TelegramUnauthorizedError as exc:
        raise Unauthorized(exc.message) from exc
    except TelegramForbiddenError as exc:
        raise BotBlocked(exc.message) from exc
    except TelegramBadRequest as exc:
        raise bad_request(exc.message) from exc
    except (TelegramServerError, TelegramNetworkError, aiohttp.ClientError, TimeoutError) as exc:
        raise TransientError(str(exc)) from exc


def _markup(keyboard: Keyboard | None) -> InlineKeyboardMarkup | None:
    raw = inline_keyboard(keyboard)
    return None if raw is None else InlineKeyboardMarkup.model_validate(raw)


NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


class AiogramMessenger:
    """The messenger port over aiogram's Bot."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def send_message(
        self, chat_id: int, text: str, keyboard: Keyboard | None = None
    ) -> SentMessage:
        """Sends an HTML message."""
        async with _neutral_errors():
            message = await self.bot.send_message(
                chat_id, text, reply_markup=_markup(keyboard), link_preview_options=NO_PREVIEW
            )
        return SentMessage(chat_id, message.message_id)

    async def edit_message(
        self, chat_id: int, message_id: int, text: str, keyboard: Keyboard | None = None
    ) -> None:
        """Replaces a message's text and buttons."""
        async with _neutral_errors():
            await self.bot.edit_message_text(
                text=text,
                chat_id=chat_id,
                message_id=message_id,
                reply_markup=_markup(keyboard),
                link_preview_options=NO_PREVIEW,
            )

    async def edit_keyboard(self, chat_id: int, message_id: int, keyboard: Keyboard | None) -> None:
        """Replaces a message's buttons."""
        async with _neutral_errors():
            await self.bot.edit_message_reply_markup(
                chat_id=chat_id, message_id=message_id, reply_markup=_markup(keyboard)
            )

    async def delete_message(self, chat_id: int, message_id: int) -> None:
        """Deletes a message."""
        async with _neutral_errors():
            await self.bot.delete_message(chat_id, message_id)

    async def answer_button(
        self, callback_id: str, text: str | None = None, alert: bool = False
    ) -> None:
        """Acknowledges a button press."""
        async with _neutral_errors():
            await self.bot.answer_callback_query(callback_id, text=text, show_alert=alert)

    async def send_poll(
        self,
        chat_id: int,
        question: str,
        options: Sequence[str],
        *,
        anonymous: bool,
        multiple: bool,
        close_in_seconds: int | None = None,
    ) -> SentMessage:
        """Sends a native poll."""
        async with _neutral_errors():
            message = await self.bot.send_poll(
                chat_id,
                question,
                [InputPollOption(text=option) for option in options],
                is_anonymous=anonymous,
                allows_multiple_answers=multiple,
                open_period=close_in_seconds,
            )
        poll_id = message.poll.id if message.poll else None
        return SentMessage(chat_id, message.message_id, poll_id)

    async def stop_poll(self, chat_id: int, message_id: int) -> None:
        """Closes a native poll."""
        async with _neutral_errors():
            await self.bot.stop_poll(chat_id, message_id)

    async def send_document(
        self, chat_id: int, filename: str, content: bytes, caption: str | None = None
    ) -> SentMessage:
        """Sends a file."""
        async with _neutral_errors():
            message = await self.bot.send_document(
                chat_id, BufferedInputFile(content, filename), caption=caption
            )
        return SentMessage(chat_id, message.message_id)

    async def send_photo(
        self, chat_id: int, filename: str, content: bytes, caption: str | None = None
    ) -> SentMessage:
        """Sends a picture."""
        async with _neutral_errors():
            message = await self.bot.send_photo(
                chat_id, BufferedInputFile(content, filename), caption=caption
            )
        return SentMessage(chat_id, message.message_id)

    async def pin_message(self, chat_id: int, message_id: int) -> None:
        """Pins a message."""
        async with _neutral_errors():
            await self.bot.pin_chat_message(chat_id, message_id, disable_notification=True)

    async def set_commands(
        self,
        commands: Sequence[BotCommand],
        *,
        language: str | None = None,
        chat_id: int | None = None,
        scope: str = "default",
    ) -> None:
        """Sets the command menu for one scope and language."""
        scopes: dict[str, Any] = {
            "default": BotCommandScopeDefault(),
            "private": BotCommandScopeAllPrivateChats(),
            "groups": BotCommandScopeAllGroupChats(),
        }
        chosen = BotCommandScopeChat(chat_id=chat_id) if chat_id is not None else scopes[scope]
        async with _neutral_errors():
            await self.bot.set_my_commands(
                [AiogramCommand(command=c.command, description=c.description) for c in commands],
                scope=chosen,
                language_code=language,
            )


def _unset_default(value: Any) -> None:
    """aiogram's Default(...) sentinels only matter for outgoing calls: drop them."""
    return None


async def _feed(dispatcher: Dispatcher, event_update: Update) -> None:
    raw = event_update.model_dump(
        mode="json", exclude_none=True, by_alias=True, fallback=_unset_default
    )
    event = event_from_update(raw)
    if event is not None:
        await dispatcher.feed(event)


def build_polling(dispatcher: Dispatcher) -> AiogramDispatcher:
    """An aiogram dispatcher that hands every update Chorus uses to the neutral dispatcher."""
    polling = AiogramDispatcher()

    async def on_update(_: TelegramObject, event_update: Update) -> None:
        await _feed(dispatcher, event_update)

    for observer in (
        polling.message,
        polling.callback_query,
        polling.poll_answer,
        polling.my_chat_member,
        polling.chat_member,
    ):
        observer.register(on_update)
    return polling


async def run_polling(bot: Bot, dispatcher: Dispatcher, stop: asyncio.Event) -> None:
    """Long-polls until `stop` is set."""
    polling = build_polling(dispatcher)
    task = asyncio.create_task(
        polling.start_polling(
            bot,
            allowed_updates=list(ALLOWED_UPDATES),
            handle_signals=False,
            close_bot_session=False,
        )
    )
    stopper = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        # Stopped, or killed (cancelled): either way aiogram must see its stop signal, since
        # cancelling start_polling would leave its inner polling tasks running on a closed
        # session (they would open a new one).
        stopper.cancel()
        if not task.done():
            with contextlib.suppress(RuntimeError):  # "Polling is not started" yet
                await polling.stop_polling()
            await asyncio.wait({task}, timeout=STOP_TIMEOUT)
            if not task.done():
                task.cancel()
    task.result()


class AiogramRuntime:
    """Opens the Bot, reports who it is, polls, and closes."""

    name = "aiogram"

    def __init__(self, token: str, api_url: str) -> None:
        self.bot = create_bot(token, api_url)
        self.messenger = AiogramMessenger(self.bot)

    async def username(self) -> str:
        """Asks Telegram who the bot is (this also checks the token)."""
        async with _neutral_errors():
            me = await self.bot.get_me()
        return me.username or ""

    async def poll(self, dispatcher: Dispatcher, stop: asyncio.Event) -> None:
        """Long-polls until `stop` is set."""
        await run_polling(self.bot, dispatcher, stop)

    def bulk_sender(self) -> LeanSender:
        """The lean send path the delivery engine uses for broadcasts."""
        return LeanSender(self.bot)

    async def close(self) -> None:
        """Closes the HTTP session."""
        await self.bot.session.close()
