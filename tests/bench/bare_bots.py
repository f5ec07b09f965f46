"""The bare frameworks Chorus is compared with: the least a bot can do for a button press.

Each long-polls the emulator (or, for the workers' storm, takes webhooks behind the same
proxy as Chorus's workers), answers the press and edits the pressed message's keyboard, with
the framework's defaults (aiogram's aiohttp session; python-telegram-bot's httpx request, updates
handled concurrently as Chorus has them), and nothing else: no database, no inbox.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

KEYBOARD_TEXT = "Going ✔"


@asynccontextmanager
async def aiogram_bot(token: str, url: str) -> AsyncIterator[None]:
    """A bare aiogram bot, polling until the block ends."""
    from bot.aiogram_runtime import create_bot  # the Bot on the emulator's URL, nothing more

    bot = create_bot(token, url)
    dispatcher = _aiogram_dispatcher(bot)
    task = asyncio.create_task(dispatcher.start_polling(bot, handle_signals=False))
    try:
        yield
    finally:
        with contextlib.suppress(RuntimeError):  # not polling yet
            await dispatcher.stop_polling()
        await asyncio.wait({task}, timeout=10)
        task.cancel()
        await bot.session.close()


def _aiogram_dispatcher(bot: Any) -> Any:
    """aiogram's Dispatcher with the bare handler: answer the press, edit its keyboard."""
    from aiogram import Dispatcher
    from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup

    dispatcher = Dispatcher()

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

    return dispatcher


@asynccontextmanager
async def aiogram_webhook_bot(token: str, url: str, hook: str, port: int) -> AsyncIterator[None]:
    """A bare aiogram bot in webhook mode (aiogram's SimpleRequestHandler, its defaults: the
    200 goes at once, the update is handled in the background) on 127.0.0.1:`port`, until the
    block ends; it sets the webhook to `hook` (every worker the same)."""
    from aiogram.webhook.aiohttp_server import SimpleRequestHandler
    from aiohttp import web

    from bot.aiogram_runtime import create_bot

    bot = create_bot(token, url)
    app = web.Application()
    SimpleRequestHandler(_aiogram_dispatcher(bot), bot).register(app, path=urlsplit(hook).path)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    await bot.set_webhook(hook)
    try:
        yield
    finally:
        await runner.cleanup()
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
