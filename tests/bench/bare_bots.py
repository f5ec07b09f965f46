"""The bare frameworks Chorus is compared with: the least a bot can do for a button press.

Each long-polls the emulator, answers the press and edits the pressed message's keyboard, with
the framework's defaults (aiogram's aiohttp session; python-telegram-bot's httpx request, updates
handled concurrently as Chorus has them), and nothing else: no database, no inbox.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

KEYBOARD_TEXT = "Going ✔"


@asynccontextmanager
async def aiogram_bot(token: str, url: str) -> AsyncIterator[None]:
    """A bare aiogram bot, polling until the block ends."""
    from aiogram import Dispatcher
    from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup

    from bot.aiogram_runtime import create_bot  # the Bot on the emulator's URL, nothing more

    bot, dispatcher = create_bot(token, url), Dispatcher()

    @dispatcher.callback_query()
    async def pressed(query: CallbackQuery) -> None:
        await query.answer("Recorded")
        button = InlineKeyboardButton(text=KEYBOARD_TEXT, callback_data=query.data)
        if query.message is not None:
            await bot.edit_message_reply_markup(
                chat_id=query.message.chat.id,
                message_id=query.message.message_id,
                reply_markup=InlineKeyboardMarkup(inline_keyboard=[[button]]),
            )

    task = asyncio.create_task(dispatcher.start_polling(bot, handle_signals=False))
    try:
        yield
    finally:
        with contextlib.suppress(RuntimeError):  # not polling yet
            await dispatcher.stop_polling()
        await asyncio.wait({task}, timeout=10)
        task.cancel()
        await bot.session.close()


@asynccontextmanager
async def ptb_bot(token: str, url: str) -> AsyncIterator[None]:
    """A bare python-telegram-bot bot, polling until the block ends."""
    from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
    from telegram.ext import Application, CallbackQueryHandler, ContextTypes

    async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        await query.answer("Recorded")
        button = InlineKeyboardButton(KEYBOARD_TEXT, callback_data=query.data)
        await query.edit_message_reply_markup(InlineKeyboardMarkup([[button]]))

    application = (
        Application.builder()
        .token(token)
        .base_url(f"{url}/bot")
        .job_queue(None)
        .concurrent_updates(True)
        .build()
    )
    application.add_handler(CallbackQueryHandler(pressed))
    await application.initialize()
    await application.start()
    assert application.updater is not None
    await application.updater.start_polling(timeout=10)
    try:
        yield
    finally:
        await application.updater.stop()
        await application.stop()
        await application.shutdown()
