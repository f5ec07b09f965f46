"""The default runtime: aiogram 3 long polling feeding the neutral handlers.

aiogram receives the updates; every outgoing call is a pre-built Bot API payload
(bot/botapi) posted on the Bot's own aiohttp session. aiogram's model layer costs about 1.3 ms
of CPU per message (validation, serialisation, the Message it builds from the answer), its
error classes drop the HTTP status and two of them (TelegramNotFound, TelegramConflictError)
fell through the old mapping; the raw answer is both cheaper and exact.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, cast

import aiohttp
import orjson
from aiogram import Bot
from aiogram import Dispatcher as AiogramDispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.session.middlewares.base import NextRequestMiddlewareType
from aiogram.client.telegram import TelegramAPIServer
from aiogram.methods import GetUpdates, Response, TelegramMethod
from aiogram.types import TelegramObject, Update
from aiohttp import web

from bot import webhook
from bot.botapi import BotApiMessenger, BulkSender, Call, classify
from bot.inbox import Inbox
from bot.ops.health import Heartbeat
from bot.updates import ALLOWED_UPDATES
from bot.webhook import WebhookConfig
from handlers.kernel.dispatch import Dispatcher

log = logging.getLogger(__name__)
STOP_TIMEOUT = 10.0
JSON_HEADERS = {"Content-Type": "application/json"}
TIMEOUT = aiohttp.ClientTimeout(total=30)


class RawUpdatesSession(AiohttpSession):
    """aiogram's session, keeping each getUpdates answer's updates as they came (JSON): the
    inbox records those, not aiogram's models dumped back to JSON (a tenth of the polling's
    CPU in the storm).

    With `lean_updates` (long polling with a `BatchRecorder`, which records and hands over each
    batch itself), a getUpdates answer that is ok is not made into aiogram's models at all:
    aiogram gets an empty batch, and the recorder moves the polling's offset past the batch
    once it is recorded. Its pydantic models and its per-update dispatch (middlewares,
    observers, a handler that only passed the update over) were about a fifteenth of a storm
    press's CPU. Anything else (an error, an answer not as expected) goes through aiogram's
    own checks as before."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.raw_updates: dict[int, list[dict[str, Any]]] = {}  # id(GetUpdates) → updates
        self.lean_updates = False
        # pydantic builds a parametrised model's schema when it is first named (Update's is
        # large): at start-up, not on the first batch of a storm.
        self._no_updates = Response[list[Update]]

    def check_response(
        self, bot: Bot, method: TelegramMethod[Any], status_code: int, content: str
    ) -> Response[Any]:
        if not isinstance(method, GetUpdates):
            return super().check_response(bot, method, status_code, content)
        if self.lean_updates and status_code == 200:
            batch = _batch(content)
            if batch is not None:
                self.raw_updates[id(method)] = batch
                return self._no_updates(ok=True, result=[])
        response = super().check_response(bot, method, status_code, content)
        try:
            answer = orjson.loads(content)
        except orjson.JSONDecodeError:  # a lone surrogate: aiogram's parser took it, so must this
            answer = self.json_loads(content)  # the inbox keeps it as U+FFFD (storable_update)
        result = answer.get("result") if isinstance(answer, dict) else None
        self.raw_updates[id(method)] = result if isinstance(result, list) else []
        return response


def _batch(content: str) -> list[dict[str, Any]] | None:
    """The updates of an ok getUpdates answer, each with its update_id; None otherwise."""
    try:
        answer = orjson.loads(content)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(answer, dict) or answer.get("ok") is not True:
        return None
    result = answer.get("result")
    if not isinstance(result, list):
        return None
    for update in result:
        if not isinstance(update, dict) or type(update.get("update_id")) is not int:
            return None
    return result


def create_bot(token: str, api_url: str) -> Bot:
    """An aiogram Bot talking to `api_url` (Telegram, or the emulator)."""
    return Bot(token, session=RawUpdatesSession(api=TelegramAPIServer.from_base(api_url)))


def _form_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


class AiogramTransport:
    """Posts Bot API calls on the aiogram Bot's aiohttp session (JSON, or multipart for a file)."""

    def __init__(self, bot: Bot) -> None:
        if not isinstance(bot.session, AiohttpSession):
            raise TypeError("the aiogram transport needs aiogram's AiohttpSession")
        self.session = bot.session
        self.token = bot.token

    async def call(self, call: Call) -> Any:
        """The call's result; a failure becomes (status, description, parameters) → classify."""
        url = self.session.api.api_url(self.token, call.method)
        data: Any
        headers: dict[str, str] | None = JSON_HEADERS
        if call.upload is None:
            data = orjson.dumps(call.params)
        else:
            data, headers = aiohttp.FormData(quote_fields=False), None
            for name, value in call.params.items():
                data.add_field(name, _form_value(value))
            data.add_field(call.upload.field, call.upload.content, filename=call.upload.filename)
        session = await self.session.create_session()
        try:
            async with session.post(url, data=data, headers=headers, timeout=TIMEOUT) as response:
                status = response.status
                body = await response.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise classify(None, repr(exc)) from exc
        try:
            answer = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise classify(None if status < 300 else status, f"HTTP {status}: not JSON") from exc
        if answer.get("ok"):
            return answer.get("result")
        raise classify(status, str(answer.get("description") or ""), answer.get("parameters"))


def _unset_default(value: Any) -> None:
    """aiogram's Default(...) sentinels only matter for outgoing calls: drop them."""
    return None


def _raw(update: Update) -> dict[str, Any]:
    """The Bot API Update (JSON) of aiogram's model."""
    return update.model_dump(mode="json", exclude_none=True, by_alias=True, fallback=_unset_default)


def _same(raw: list[dict[str, Any]], updates: list[Update]) -> bool:
    """Whether the JSON kept is the batch aiogram parsed (the same updates, in order)."""
    return len(raw) == len(updates) and all(
        isinstance(one, dict) and one.get("update_id") == update.update_id
        for one, update in zip(raw, updates, strict=True)
    )


class BatchRecorder:
    """A middleware of the Bot's session that records each getUpdates batch in the inbox, in
    one transaction, as its answer comes back, and hands its updates to the neutral dispatcher
    (bot/inbox.py `receive_batch`): the polling loop sees the batch only once it is recorded,
    and its next getUpdates (the one that confirms the batch) waits for that.

    With the session's `lean_updates`, aiogram sees an empty batch and the recorder moves the
    offset of the polling's GetUpdates (aiogram asks again with the same one) past the batch,
    once it is recorded. Otherwise the updates it took are passed over by the polling's
    handler (`taken`)."""

    def __init__(self, inbox: Inbox) -> None:
        self.inbox = inbox
        self.taken: set[int] = set()

    async def __call__(
        self, make_request: NextRequestMiddlewareType[Any], bot: Bot, method: TelegramMethod[Any]
    ) -> Response[Any]:
        result = await make_request(bot, method)  # what the call returns, despite the type
        if not isinstance(method, GetUpdates):
            return result
        kept = getattr(bot.session, "raw_updates", {}).pop(id(method), None)
        if result:
            updates = cast(list[Update], result)
            self.taken = {update.update_id for update in updates}  # the last batch is done
            raw = kept if kept is not None and _same(kept, updates) else None
            await self.inbox.receive_batch(raw or [_raw(update) for update in updates])
        elif kept:  # lean: aiogram got none of them
            await self.inbox.receive_batch(kept)
            # Confirmed by the next getUpdates, as aiogram's loop would have moved it.
            method.offset = max(update["update_id"] for update in kept) + 1
        return result


def build_polling(dispatcher: Dispatcher, recorder: BatchRecorder) -> AiogramDispatcher:
    """An aiogram dispatcher that records every update Chorus uses in the inbox, then hands it
    to the neutral dispatcher in a task of its own; the recorder (long polling) did both for
    the whole batch already, as its answer came back.

    It must run with handle_as_tasks=False: aiogram then awaits this handler before its polling
    loop moves the offset past the update (aiogram's Dispatcher._listen_updates sets
    `offset = update_id + 1` only when the loop asks for the next update), so no getUpdates
    confirms an update that is not in the inbox.
    """
    polling = AiogramDispatcher()

    async def on_update(_: TelegramObject, event_update: Update) -> None:
        if event_update.update_id in recorder.taken:
            recorder.taken.discard(event_update.update_id)
            return
        await recorder.inbox.receive(_raw(event_update))

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
    """Long-polls until `stop` is set, after removing a webhook left by webhook mode (while one
    is set getUpdates is refused; PTB's start_polling does the same). Pending updates stay."""
    await AiogramTransport(bot).call(Call("deleteWebhook", {"drop_pending_updates": False}))
    recorder = BatchRecorder(Inbox(dispatcher))
    polling = build_polling(dispatcher, recorder=recorder)
    bot.session.middleware(recorder)
    if isinstance(bot.session, RawUpdatesSession):
        bot.session.lean_updates = True
    task = asyncio.create_task(
        polling.start_polling(
            bot,
            allowed_updates=list(ALLOWED_UPDATES),
            handle_as_tasks=False,  # each update is in the inbox before the offset moves
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
        bot.session.middleware.unregister(recorder)
        if isinstance(bot.session, RawUpdatesSession):
            bot.session.lean_updates = False
    task.result()


class AiogramRuntime:
    """Opens the Bot, reports who it is, polls, and closes."""

    name = "aiogram"

    def __init__(self, token: str, api_url: str) -> None:
        self.bot = create_bot(token, api_url)
        self.transport = AiogramTransport(self.bot)
        self.messenger = BotApiMessenger(self.transport)
        self.heartbeat = Heartbeat()
        self.bot.session.middleware(self._watch_polling)

    async def _watch_polling(
        self, make_request: NextRequestMiddlewareType[Any], bot: Bot, method: TelegramMethod[Any]
    ) -> Response[Any]:
        """Notes each successful getUpdates for /healthz."""
        response = await make_request(bot, method)
        if isinstance(method, GetUpdates):
            self.heartbeat.beat()
        return response

    async def username(self) -> str:
        """Asks Telegram who the bot is (this also checks the token)."""
        return await self.messenger.username()

    async def poll(self, dispatcher: Dispatcher, stop: asyncio.Event) -> None:
        """Long-polls until `stop` is set."""
        await run_polling(self.bot, dispatcher, stop)

    async def serve_webhook(
        self, dispatcher: Dispatcher, stop: asyncio.Event, config: WebhookConfig
    ) -> None:
        """Receives updates on Chorus's webhook handler (webhook.update_handler) until `stop`
        is set: 403 for a wrong secret, 400 for a body that is not an update, 200 once the
        update is recorded (an error if it could not be). aiogram's SimpleRequestHandler
        parsed each update into its models and through its dispatcher before Chorus read the
        JSON again: about 0.5 ms of CPU an update (issue 17)."""
        app = web.Application()
        app.router.add_post(config.path, webhook.update_handler(Inbox(dispatcher), config.secret))
        await webhook.serve(app, config, self.transport, stop)

    def bulk_sender(self) -> BulkSender:
        """The send path the delivery engine uses for broadcasts."""
        return BulkSender(self.transport)

    async def close(self) -> None:
        """Closes the HTTP session."""
        await self.bot.session.close()
