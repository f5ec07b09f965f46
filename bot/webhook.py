"""Webhook mode: Telegram posts each update to WEBHOOK_URL; a reverse proxy (nginx, Caddy)
terminates TLS and forwards it to this worker's aiohttp server on WEBHOOK_HOST:WEBHOOK_PORT.

The rule is the polling one (bot/inbox.py): an update is confirmed only once it is recorded.
Here the confirmation is the 200 answer: the request handler (`update_handler`, the same on
both runtimes) writes the update to the inbox before it answers, and answers an error when the
database does not take it within RECORD_WITHIN seconds; Telegram then sends the update again,
as it does when a worker dies mid-request or the proxy finds no worker. A repeated update is
handled once (the inbox row and the processed-update claim are keyed by its id).

A request without the right X-Telegram-Bot-Api-Secret-Token is refused (403) before anything
is read. The body is recorded as it came: neither framework parses it into its own models
first (issue 17: aiogram's webhook handler and dispatcher cost a webhook worker about 0.5 ms
of CPU an update). Every worker calls setWebhook with the same URL, secret, max_connections
and allowed_updates at start, so starting one more worker changes nothing; none deletes the
webhook on stop, so that Telegram keeps the updates for the workers that remain.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import orjson
from aiohttp import web

from bot.botapi import Call, Transport
from bot.config import ConfigError, Settings
from bot.inbox import Inbox
from bot.updates import ALLOWED_UPDATES, NotAnUpdate, event_from_update, storable_update
from handlers.kernel.ports import MessengerError

log = logging.getLogger(__name__)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
RECORD_WITHIN = 20.0  # seconds an update may wait for the database before Telegram must retry
SHUTDOWN_TIMEOUT = 10.0  # seconds a graceful stop waits for requests being answered


@dataclass(frozen=True, slots=True)
class WebhookConfig:
    """Where Telegram posts and where this worker listens."""

    url: str
    secret: str
    host: str = "127.0.0.1"
    port: int = 8080
    max_connections: int = 40

    @property
    def path(self) -> str:
        """The path the server answers on: the public URL's (the proxy keeps it)."""
        return urlsplit(self.url).path or "/"

    @classmethod
    def from_settings(cls, settings: Settings, token: str) -> WebhookConfig | None:
        """The webhook of WEBHOOK_URL, or None (long polling)."""
        if settings.webhook_url is None:
            return None
        return cls(
            url=settings.webhook_url,
            secret=settings.webhook_secret_token(token),
            host=settings.webhook_host,
            port=settings.webhook_port,
            max_connections=settings.webhook_max_connections,
        )


async def set_webhook(transport: Transport, config: WebhookConfig) -> None:
    """Tells Telegram where to post (the same call from every worker), or raises ConfigError."""
    call = Call(
        "setWebhook",
        {
            "url": config.url,
            "secret_token": config.secret,
            "max_connections": config.max_connections,
            "allowed_updates": list(ALLOWED_UPDATES),
        },
    )
    try:
        await transport.call(call)
    except MessengerError as exc:
        raise ConfigError(f"WEBHOOK_URL: Telegram refused the webhook: {exc}") from exc


async def serve(
    app: web.Application, config: WebhookConfig, transport: Transport, stop: asyncio.Event
) -> None:
    """Serves `app` until `stop` is set (or the task is cancelled), after setting the webhook.

    On stop the server stops accepting, lets the requests it holds finish (their updates are
    recorded or refused), and closes; the webhook stays set for the other workers."""
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT)
    await runner.setup()
    try:
        site = web.TCPSite(runner, config.host, config.port)
        try:
            await site.start()
        except OSError as exc:
            raise ConfigError(
                f"WEBHOOK_PORT: cannot listen on {config.host}:{config.port}: {exc.strerror}"
            ) from None
        await set_webhook(transport, config)
        log.info(
            "Chorus receives updates at %s (listening on %s:%s)",
            urlsplit(config.url).netloc,
            config.host,
            config.port,
        )
        await stop.wait()
    finally:
        await runner.cleanup()


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def update_handler(inbox: Inbox, secret: str) -> Handler:
    """The aiohttp handler of Telegram's POSTs (setWebhook, Bot API "Getting updates"): 403
    without the right secret header; 400 for a body that is no update at all (not a JSON
    object with an integer update_id from 1 to 2**63-1, bot/updates.py `storable_update`);
    200 once the update is recorded (`Inbox.accept`; a lone UTF-16 surrogate in a string is
    recorded as U+FFFD, the update kept), and
    an error (500) when the database does not take it within RECORD_WITHIN seconds, so that
    Telegram sends it again. Telegram repeats any answer but 2XX a number of times, then
    drops the update: an update Chorus cannot read is answered 200 and logged, since asking
    for it again would bring the same body."""
    expected = secret.encode()

    async def on_post(request: web.Request) -> web.StreamResponse:
        sent = request.headers.get(SECRET_HEADER, "").encode("utf-8", "surrogateescape")
        if not secrets.compare_digest(sent, expected):
            return web.Response(status=403, text="Forbidden")
        raw = _json_object(await request.read())
        if raw is None:
            return web.Response(status=400, text="not a Telegram update")
        try:
            update = storable_update(raw)  # checked and mended before it joins a group write
        except NotAnUpdate:
            return web.Response(status=400, text="not a Telegram update")
        try:
            event_from_update(update)  # what the inbox will read of it
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            log.error("update %s cannot be read (%r): dropped", update["update_id"], exc)
            return web.Response()
        await inbox.accept(update, RECORD_WITHIN)
        return web.Response()

    return on_post


def _json_object(body: bytes) -> dict[str, Any] | None:
    """A JSON object (orjson; what it refuses — a lone surrogate, bytes that are not UTF-8 — by
    the standard parser, decoding leniently, as on the polling path, but refusing NaN and
    Infinity, which are no JSON and which no database JSON column takes), or None."""
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        try:
            value = json.loads(body.decode("utf-8", "replace"), parse_constant=_no_constant)
        except ValueError:
            return None
    return value if isinstance(value, dict) else None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")
