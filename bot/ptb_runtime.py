"""The second runtime: python-telegram-bot 22 long polling feeding the very same handlers.

PTB's JobQueue and rate limiter are not used: Chorus's own scheduler and delivery pacing stay
the only ones. Only the Application's polling and its request layer are: updates go from the
Updater's queue to the inbox and the dispatcher (not through PTB's handlers), and every outgoing
call is a pre-built Bot API payload (bot/botapi), the same the aiogram runtime posts.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import orjson
from aiohttp import web

# Opt in to PTB's time periods as timedelta (the int form warns of its deprecation).
os.environ.setdefault("PTB_TIMEDELTA", "1")

from telegram import InputFile, Update
from telegram.error import TelegramError
from telegram.ext import Application

from bot import webhook
from bot.botapi import BotApiMessenger, BulkSender, Call, classify
from bot.inbox import Inbox
from bot.ops.health import Heartbeat
from bot.ptb_aiohttp import AiohttpRequest
from bot.updates import ALLOWED_UPDATES
from bot.webhook import WebhookConfig
from handlers.kernel.dispatch import Dispatcher, stop_grace

POLL_TIMEOUT = 25
# Connections for calls (getUpdates has its own): at least the delivery engine's concurrency at
# 1000/s (bot/delivery.py, DeliveryConfig.concurrency: 125), so that its requests never queue
# for a connection.
POOL_SIZE = 128
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
    """Posts Bot API calls through PTB's request object: a call without a file goes as its JSON
    body straight to the request (`AiohttpRequest.post_json`), on the connections PTB's Bot
    uses, and its answer is read here, as the aiogram transport reads its own; a call with a
    file goes through `Bot.do_api_request` (PTB's InputFile makes the multipart form).

    Bot.do_api_request for every call cost a fifth of a broadcast message's CPU: it copies the
    parameters, turns each into a RequestParameter (walking the keyboard), wraps them in
    RequestData and parses the answer, only for the request to encode them as the same JSON
    (make bench, PTB paid broadcast, profiled). Method names go lower-cased to
    do_api_request: Bot API method names are case-insensitive, and PTB warns about
    do_api_request only for names that match one of its own Bot methods.
    """

    def __init__(
        self,
        application: Application[Any, Any, Any, Any, Any, Any],
        request: AiohttpRequest | None = None,
    ) -> None:
        self.bot = application.bot
        self.request = request
        self._urls: dict[str, str] = {}

    async def call(self, call: Call) -> Any:
        """The call's result; a failure becomes (status, description, parameters) → classify."""
        if call.upload is None and self.request is not None:
            return await self._post(call)
        params = dict(call.params)
        if call.upload is not None:
            upload = call.upload
            params[upload.field] = InputFile(upload.content, filename=upload.filename)
        async with _neutral_errors():
            return await self.bot.do_api_request(call.method.lower(), api_kwargs=params)

    async def _post(self, call: Call) -> Any:
        assert self.request is not None
        url = self._urls.get(call.method)
        if url is None:
            url = self._urls[call.method] = f"{self.bot.base_url}/{call.method}"
        try:
            status, body = await self.request.post_json(url, orjson.dumps(call.params))
        except TelegramError as exc:  # TimedOut, NetworkError: no answer came
            raise classify(None, exc.message) from exc
        try:
            answer = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise classify(None if status < 300 else status, f"HTTP {status}: not JSON") from exc
        if not isinstance(answer, dict):
            raise classify(None if status < 300 else status, f"HTTP {status}: not an answer")
        if 200 <= status <= 299 and answer.get("ok"):
            return answer.get("result")
        description = str(answer.get("description") or "")
        raise classify(status, description, answer.get("parameters"))


class UpdatesRequest(AiohttpRequest):
    """PTB's getUpdates connection: notes each successful answer for /healthz, and keeps the
    updates of the latest answer as Telegram sent them (JSON), so that the inbox records them
    without turning PTB's Update objects back into JSON (Update.to_dict cost about 0.6 ms an
    update, profiled in the RSVP storm).

    `before_asking` runs before every getUpdates is sent: a getUpdates confirms every update
    before its offset, so the queue records there whatever it still holds."""

    def __init__(self, heartbeat: Heartbeat, **options: Any) -> None:
        super().__init__(**options)
        self.heartbeat = heartbeat
        self.before_asking: Callable[[], Awaitable[None]] | None = None
        self._raw: dict[int, dict[str, Any]] = {}
        self._last_id: int | None = None

    async def do_request(self, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        """Sends getUpdates; a 200 answer is a heartbeat, and its updates are kept."""
        if self.before_asking is not None:
            await self.before_asking()
        status, payload = await super().do_request(*args, **kwargs)
        if status == 200:
            self.heartbeat.beat()
            self._raw = _updates_by_id(payload)
            self._last_id = next(reversed(self._raw), None)
        return status, payload

    def take(self, update: Update) -> tuple[dict[str, Any], bool]:
        """The update as Telegram sent it, and whether it is the last of its getUpdates answer
        (PTB's Updater puts the updates of an answer in its queue in order, then moves its
        offset past the last). An update not in the latest answer comes as PTB sees it, and
        counts as a last one."""
        raw = self._raw.pop(update.update_id, None)
        if raw is None:
            return update.to_dict(), True
        return raw, update.update_id == self._last_id


def _updates_by_id(payload: bytes) -> dict[int, dict[str, Any]]:
    try:
        answer = orjson.loads(payload)
    except orjson.JSONDecodeError:  # a lone surrogate, say: read leniently, as PTB reads it
        try:
            answer = json.loads(payload.decode("utf-8", "replace"))
        except ValueError:
            return {}
    result = answer.get("result") if isinstance(answer, dict) else None
    if not isinstance(result, list):
        return {}
    return {
        raw["update_id"]: raw
        for raw in result
        if isinstance(raw, dict) and isinstance(raw.get("update_id"), int)
    }


class InboxQueue(asyncio.Queue[object]):
    """PTB's update queue, where Chorus takes the updates from PTB's Updater: it writes each
    getUpdates answer to the inbox in one transaction and hands its updates to the dispatcher,
    each in a task of its own (bot/inbox.py), instead of queueing them for the Application
    (whose per-update task, handler lookup and context would only call the dispatcher in the
    end). One transaction per answer, not per update: in a storm the polling waited its turn
    for a database connection behind the handlers once for every update.

    PTB's Updater puts every update of a getUpdates answer in this queue, and only then moves
    its offset past them (Updater._start_polling: `await self.update_queue.put(update)` for
    each, then `_last_update_id = updates[-1].update_id + 1`); its last getUpdates on stop
    confirms only what was put. `put` keeps the updates of an answer and returns at once, except
    for the answer's last: it returns once the whole answer is recorded. And before any
    getUpdates goes out (UpdatesRequest.before_asking) what is still kept is recorded. So no
    update is confirmed to Telegram before it is in the inbox. What is not an update (the
    Application's stop signal) is queued as usual.
    """

    def __init__(self, updates: UpdatesRequest) -> None:
        super().__init__()
        self.updates = updates
        self.inbox: Inbox | None = None
        self._kept: list[dict[str, Any]] = []
        updates.before_asking = self.record_kept

    async def put(self, item: object) -> None:
        """Keeps an update; the last of its answer records them all (waiting until the
        database takes them) and hands them over. An update Chorus does not use is dropped. A
        stop cancels PTB's polling, not the write (an SQLite call cancelled halfway would leave
        its thread holding the lock): the dispatcher's drain waits for it."""
        if self.inbox is None or not isinstance(item, Update):
            await super().put(item)
            return
        raw, last = self.updates.take(item)
        self._kept.append(raw)
        if last:
            await self.record_kept()

    async def record_kept(self) -> None:
        """Records the updates kept so far, in one transaction, and hands them over."""
        if self._kept and self.inbox is not None:
            kept, self._kept = self._kept, []
            await self.inbox.receive_batch(kept)


class PtbRuntime:
    """Opens PTB's Application, reports who the bot is, polls, and closes."""

    name = "ptb"

    def __init__(self, token: str, api_url: str) -> None:
        self.heartbeat = Heartbeat()
        updates = UpdatesRequest(
            self.heartbeat, connection_pool_size=1, read_timeout=POLL_TIMEOUT + 10
        )
        self.queue = InboxQueue(updates)
        request = AnswerKeepingRequest(
            connection_pool_size=POOL_SIZE,
            read_timeout=CALL_TIMEOUT,
            write_timeout=CALL_TIMEOUT,
            pool_timeout=CALL_TIMEOUT,
        )
        self.application = (
            Application.builder()
            .token(token)
            .update_queue(self.queue)
            .base_url(f"{api_url}/bot")
            .base_file_url(f"{api_url}/file/bot")
            .job_queue(None)
            .concurrent_updates(True)
            .request(request)
            .get_updates_request(updates)
            .build()
        )
        self.transport = PtbTransport(self.application, request)
        self.messenger = BotApiMessenger(self.transport)
        self._initialised = False

    async def username(self) -> str:
        """Asks Telegram who the bot is (this also checks the token)."""
        async with _neutral_errors():
            await self.application.initialize()
        self._initialised = True
        return self.application.bot.username or ""

    def _handle_with(self, dispatcher: Dispatcher) -> None:
        self.queue.inbox = Inbox(dispatcher)

    async def serve_webhook(
        self, dispatcher: Dispatcher, stop: asyncio.Event, config: WebhookConfig
    ) -> None:
        """Receives updates on an aiohttp server (webhook.update_handler; PTB's own server
        would need tornado) until `stop` is set: 403 for a wrong secret, as from PTB's own
        server; the 200 goes only once the update is recorded."""
        self._handle_with(dispatcher)
        assert self.queue.inbox is not None
        on_post = webhook.update_handler(self.queue.inbox, config.secret)
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
