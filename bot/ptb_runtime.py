"""The second runtime: python-telegram-bot 22 long polling feeding the very same handlers.

PTB's JobQueue and rate limiter are not used: Chorus's own scheduler and delivery pacing stay
the only ones. Only the Application's polling and its request layer are: every outgoing call
is a pre-built Bot API payload (bot/botapi), the same the aiogram runtime posts.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from aiohttp import web

# Opt in to PTB's time periods as timedelta (the int form warns of its deprecation).
os.environ.setdefault("PTB_TIMEDELTA", "1")

from telegram import InputFile, Update
from telegram.error import TelegramError
from telegram.ext import Application, ContextTypes, TypeHandler

from bot import webhook
from bot.botapi import BotApiMessenger, BulkSender, Call, classify
from bot.inbox import Inbox
from bot.ops.health import Heartbeat
from bot.ptb_aiohttp import AiohttpRequest
from bot.updates import ALLOWED_UPDATES, event_from_update
from bot.webhook import WebhookConfig
from handlers.kernel.dispatch import Dispatcher, stop_grace
from handlers.kernel.events import Event

POLL_TIMEOUT = 25
POOL_SIZE = 64
# PTB waits 5 s for an answer by default (1 s for a free connection); a send that Telegram
# answers later (a busy moment) would be retried although it went through, and arrive twice.
# Wait as long as the aiogram runtime does (30 s).
CALL_TIMEOUT = 30.0


class TelegramAnswer(TelegramError):
    """PTB's error type carrying Telegram's whole answer: PTB's own error classes keep neither
    the status nor all the parameters (404 and 401 are both InvalidToken; 413, 5xx and a
    dropped connection are all NetworkError)."""

    def __init__(self, status: int, description: str, parameters: dict[str, Any]) -> None:
        super().__init__(description or f"HTTP {status}")
        self.status = status
        self.text = description
        self.parameters = parameters


class AnswerKeepingRequest(AiohttpRequest):
    """PTB's request (on aiohttp), raising TelegramAnswer for every answer that is not 2xx."""

    async def do_request(self, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        """Posts like AiohttpRequest; a refusal comes back as TelegramAnswer."""
        status, payload = await super().do_request(*args, **kwargs)
        if 200 <= status <= 299:
            return status, payload
        try:
            answer = json.loads(payload)
        except ValueError:
            answer = {}
        if not isinstance(answer, dict):
            answer = {}
        raise TelegramAnswer(
            status, str(answer.get("description") or ""), answer.get("parameters") or {}
        )


@asynccontextmanager
async def _neutral_errors() -> AsyncIterator[None]:
    try:
        yield
    except TelegramAnswer as exc:
        raise classify(exc.status, exc.text, exc.parameters) from exc
    except TelegramError as exc:  # NetworkError, TimedOut: no answer came
        raise classify(None, exc.message) from exc


class PtbTransport:
    """Posts Bot API calls through PTB's request layer (do_api_request returns plain JSON).

    Method names go lower-cased: Bot API method names are case-insensitive, and PTB warns
    about do_api_request only for names that match one of its own Bot methods.
    """

    def __init__(self, application: Application[Any, Any, Any, Any, Any, Any]) -> None:
        self.bot = application.bot

    async def call(self, call: Call) -> Any:
        """The call's result; a failure becomes (status, description, parameters) → classify."""
        params = dict(call.params)
        if call.upload is not None:
            upload = call.upload
            params[upload.field] = InputFile(upload.content, filename=upload.filename)
        async with _neutral_errors():
            return await self.bot.do_api_request(call.method.lower(), api_kwargs=params)


class InboxQueue(asyncio.Queue[object]):
    """PTB's update queue, writing each update to the inbox before it is queued.

    PTB's Updater puts every update of a getUpdates answer in this queue, and only then moves
    its offset past them (Updater._start_polling: `await self.update_queue.put(update)` for
    each, then `_last_update_id = updates[-1].update_id + 1`); its last getUpdates on stop
    confirms only what was put. So no update is confirmed to Telegram before it is recorded.
    """

    def __init__(self) -> None:
        super().__init__()
        self.inbox: Inbox | None = None
        self.closing = False  # set before Application.stop: nothing more is queued

    def close(self) -> None:
        """Queues nothing more: an update recorded from now on goes to the dispatcher itself.

        Application.stop puts its stop signal in this queue and waits for `join()`; an update
        queued behind the signal is never taken nor marked done, and `join()` would wait forever
        (seen: a kill while an update was being recorded hung the bot's shutdown)."""
        self.closing = True

    async def put(self, item: object) -> None:
        """Records an update in the inbox (waiting until the database takes it), then queues
        it; an update Chorus does not use is dropped. A stop cancels PTB's polling, not the
        write (an SQLite call cancelled halfway would leave its thread holding the lock)."""
        if self.inbox is None or not isinstance(item, Update):
            await super().put(item)
            return
        work = asyncio.ensure_future(self._record(self.inbox, item))
        self.inbox.dispatcher.track(work)
        await asyncio.shield(work)

    async def _record(self, inbox: Inbox, update: Update) -> None:
        if (event := await inbox.record_surely(update.to_dict())) is not None:
            self._hand_over(inbox, event, update)

    def _hand_over(self, inbox: Inbox, event: Event, update: Update) -> None:
        if self.closing:
            inbox.dispatcher.spawn(event)  # a stop waits for it (drain); a kill cancels it
        else:
            self.put_nowait(update)

    async def accept(self, raw: dict[str, Any], update: Update, within: float) -> None:
        """The webhook's `put`: records the update as it came (within `within` seconds, or
        raises), then queues it for the Application."""
        assert self.inbox is not None
        work = asyncio.ensure_future(self._record_within(self.inbox, raw, update, within))
        self.inbox.dispatcher.track(work)
        await asyncio.shield(work)

    async def _record_within(
        self, inbox: Inbox, raw: dict[str, Any], update: Update, within: float
    ) -> None:
        if (event := await inbox.record_within(raw, within)) is not None:
            self._hand_over(inbox, event, update)


class _WatchedRequest(AiohttpRequest):
    """PTB's getUpdates connection, noting each successful answer for /healthz."""

    def __init__(self, heartbeat: Heartbeat, **options: Any) -> None:
        super().__init__(**options)
        self.heartbeat = heartbeat

    async def do_request(self, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        """Sends getUpdates; a 200 answer is a heartbeat."""
        status, payload = await super().do_request(*args, **kwargs)
        if status == 200:
            self.heartbeat.beat()
        return status, payload


class PtbRuntime:
    """Opens PTB's Application, reports who the bot is, polls, and closes."""

    name = "ptb"

    def __init__(self, token: str, api_url: str) -> None:
        self.heartbeat = Heartbeat()
        self.queue = InboxQueue()
        self.application = (
            Application.builder()
            .token(token)
            .update_queue(self.queue)
            .base_url(f"{api_url}/bot")
            .base_file_url(f"{api_url}/file/bot")
            .job_queue(None)
            .concurrent_updates(True)
            .request(
                AnswerKeepingRequest(
                    connection_pool_size=POOL_SIZE,
                    read_timeout=CALL_TIMEOUT,
                    write_timeout=CALL_TIMEOUT,
                    pool_timeout=CALL_TIMEOUT,
                )
            )
            .get_updates_request(
                _WatchedRequest(
                    self.heartbeat, connection_pool_size=1, read_timeout=POLL_TIMEOUT + 10
                )
            )
            .build()
        )
        self.transport = PtbTransport(self.application)
        self.messenger = BotApiMessenger(self.transport)
        self._initialised = False

    async def username(self) -> str:
        """Asks Telegram who the bot is (this also checks the token)."""
        async with _neutral_errors():
            await self.application.initialize()
        self._initialised = True
        return self.application.bot.username or ""

    def _handle_with(self, dispatcher: Dispatcher) -> None:
        async def on_update(update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
            event = event_from_update(update.to_dict())
            if event is not None:
                await dispatcher.feed(event)

        self.queue.inbox = Inbox(dispatcher)
        self.application.add_handler(TypeHandler(Update, on_update))

    async def serve_webhook(
        self, dispatcher: Dispatcher, stop: asyncio.Event, config: WebhookConfig
    ) -> None:
        """Receives updates on an aiohttp server feeding the Application's update queue (PTB's
        documented custom-webhook pattern; its own server would need tornado) until `stop` is
        set. A wrong secret gets 403, as from PTB's own webhook server; the 200 goes only once
        the update is recorded."""
        self._handle_with(dispatcher)
        bot = self.application.bot

        async def on_post(request: web.Request) -> web.Response:
            sent = request.headers.get(webhook.SECRET_HEADER, "")
            if not secrets.compare_digest(sent.encode(), config.secret.encode()):
                return web.Response(status=403, text="Forbidden")
            try:
                raw = await request.json()
                update = Update.de_json(raw, bot)
            except (ValueError, TypeError, KeyError):
                return web.Response(status=400, text="not a Telegram update")
            await self.queue.accept(raw, update, webhook.RECORD_WITHIN)
            return web.Response()

        app = web.Application()
        app.router.add_post(config.path, on_post)
        await self.application.start()
        try:
            await webhook.serve(app, config, self.transport, stop)
        finally:
            await self._stop_application(dispatcher)

    async def poll(self, dispatcher: Dispatcher, stop: asyncio.Event) -> None:
        """Long-polls until `stop` is set."""
        self._handle_with(dispatcher)
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
            await self._stop_application(dispatcher)

    async def _stop_application(self, dispatcher: Dispatcher) -> None:
        """Stops the Application once the updates in hand are done: Application.stop waits
        for every update task without a bound (a handler waiting out flood control could hold
        a kill for 90 s), so the dispatcher drains them first, as run_bot would next."""
        self.queue.close()
        await dispatcher.drain(stop_grace())
        await self.application.stop()

    def bulk_sender(self) -> BulkSender:
        """The send path the delivery engine uses for broadcasts."""
        return BulkSender(self.transport)

    async def close(self) -> None:
        """Closes the HTTP connections (also after a failed start, e.g. a rejected token)."""
        if self._initialised:
            await self.application.shutdown()
        else:
            await self.application.bot.shutdown()
