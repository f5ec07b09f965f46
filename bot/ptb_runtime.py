"""The second runtime: python-telegram-bot 22 long polling feeding the very same handlers.

PTB's JobQueue and rate limiter are not used: Chorus's own scheduler and delivery pacing stay
the only ones. Only the Application's polling, its Bot, and its error types are.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

# Opt in to PTB's time periods as timedelta (the int form warns of its deprecation).
os.environ.setdefault("PTB_TIMEDELTA", "1")

from telegram import (
    Bot,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
    BotCommandScopeDefault,
    InlineKeyboardMarkup,
    InputFile,
    InputPollOption,
    LinkPreviewOptions,
    Update,
)
from telegram import BotCommand as PtbCommand
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.ext import Application, ContextTypes, TypeHandler

from bot.errors import bad_request
from bot.lean_sender import build_payload
from bot.updates import ALLOWED_UPDATES, event_from_update, inline_keyboard
from handlers import ports
from handlers.dispatch import Dispatcher
from handlers.ports import BotCommand, Keyboard, SentMessage
from storage.outbox import Claimed

POLL_TIMEOUT = 25


@asynccontextmanager
async def _neutral_errors() -> AsyncIterator[None]:
    try:
        yield
    except RetryAfter as exc:
        wait = exc.retry_after
        seconds = wait.total_seconds() if isinstance(wait, timedelta) else float(wait)
        raise ports.RetryAfter(seconds, exc.message) from exc
    except ChatMigrated as exc:
        raise ports.ChatMigrated(exc.new_chat_id, exc.message) from exc
    except InvalidToken as exc:
        raise ports.Unauthorized(exc.message) from exc
    except Forbidden as exc:
        raise ports.BotBlocked(exc.message) from exc
    except BadRequest as exc:
        raise bad_request(exc.message) from exc
    except NetworkError as exc:  # includes TimedOut
        raise ports.TransientError(exc.message) from exc
    except TelegramError as exc:
        raise ports.TransientError(exc.message) from exc


def _markup(keyboard: Keyboard | None) -> InlineKeyboardMarkup | None:
    raw = inline_keyboard(keyboard)
    return None if raw is None else InlineKeyboardMarkup.de_json(raw, None)


NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
HTML = ParseMode.HTML


class PtbMessenger:
    """The messenger port over python-telegram-bot's Bot."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def send_message(
        self, chat_id: int, text: str, keyboard: Keyboard | None = None
    ) -> SentMessage:
        """Sends an HTML message."""
        async with _neutral_errors():
            message = await self.bot.send_message(
                chat_id,
                text,
                parse_mode=HTML,
                reply_markup=_markup(keyboard),
                link_preview_options=NO_PREVIEW,
            )
        return SentMessage(chat_id, message.message_id)

    async def edit_message(
        self, chat_id: int, message_id: int, text: str, keyboard: Keyboard | None = None
    ) -> None:
        """Replaces a message's text and buttons."""
        async with _neutral_errors():
            await self.bot.edit_message_text(
                text,
                chat_id=chat_id,
                message_id=message_id,
                parse_mode=HTML,
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
                [InputPollOption(option) for option in options],
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
                chat_id, InputFile(content, filename=filename), caption=caption, parse_mode=HTML
            )
        return SentMessage(chat_id, message.message_id)

    async def send_photo(
        self, chat_id: int, filename: str, content: bytes, caption: str | None = None
    ) -> SentMessage:
        """Sends a picture."""
        async with _neutral_errors():
            message = await self.bot.send_photo(
                chat_id, InputFile(content, filename=filename), caption=caption, parse_mode=HTML
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
        chosen = BotCommandScopeChat(chat_id) if chat_id is not None else scopes[scope]
        async with _neutral_errors():
            await self.bot.set_my_commands(
                [PtbCommand(c.command, c.description) for c in commands],
                scope=chosen,
                language_code=language,
            )


class PtbBulkSender:
    """The delivery engine's send path on PTB: the same pre-built payload as on aiogram, through
    PTB's request layer without building model objects (do_api_request returns plain JSON).

    The method is spelled "sendmessage": Bot API method names are case-insensitive, and PTB
    warns about do_api_request only for names that match one of its own Bot methods.
    """

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def send(self, item: Claimed, paid: bool) -> int:
        """Sends one outbox row; returns the message id or raises a neutral error."""
        async with _neutral_errors():
            result = await self.bot.do_api_request(
                "sendmessage", api_kwargs=build_payload(item, paid)
            )
        return int(result["message_id"])


class PtbRuntime:
    """Opens PTB's Application, reports who the bot is, polls, and closes."""

    name = "ptb"

    def __init__(self, token: str, api_url: str) -> None:
        self.application = (
            Application.builder()
            .token(token)
            .base_url(f"{api_url}/bot")
            .base_file_url(f"{api_url}/file/bot")
            .job_queue(None)
            .concurrent_updates(True)
            .connection_pool_size(64)
            .get_updates_read_timeout(POLL_TIMEOUT + 10)
            .build()
        )
        self.messenger = PtbMessenger(self.application.bot)
        self._initialised = False

    async def username(self) -> str:
        """Asks Telegram who the bot is (this also checks the token)."""
        async with _neutral_errors():
            await self.application.initialize()
        self._initialised = True
        return self.application.bot.username or ""

    async def poll(self, dispatcher: Dispatcher, stop: asyncio.Event) -> None:
        """Long-polls until `stop` is set."""

        async def on_update(update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
            event = event_from_update(update.to_dict())
            if event is not None:
                await dispatcher.feed(event)

        self.application.add_handler(TypeHandler(Update, on_update))
        updater = self.application.updater
        assert updater is not None
        await self.application.start()
        await updater.start_polling(
            allowed_updates=list(ALLOWED_UPDATES), timeout=timedelta(seconds=POLL_TIMEOUT)
        )
        try:
            await stop.wait()
        finally:
            await updater.stop()
            await self.application.stop()

    def bulk_sender(self) -> PtbBulkSender:
        """The lean send path the delivery engine uses for broadcasts."""
        return PtbBulkSender(self.application.bot)

    async def close(self) -> None:
        """Closes the HTTP connections (also after a failed start, e.g. a rejected token)."""
        if self._initialised:
            await self.application.shutdown()
        else:
            await self.application.bot.shutdown()
