"""The emulator's HTTP server: the Bot API at /bot<token>/<method>, plus the control API.

Run it by hand with `python -m botapi_emulator.emulator --port 8081`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from . import control
from .api_chats import ChatMethods
from .api_common import Handler, Params
from .api_messages import MessageMethods
from .errors import NOT_FOUND, UNAUTHORIZED, WEBHOOK_ACTIVE, ApiError, bad_request
from .files import MAX_UPLOAD
from .limits import RateLimits
from .models import JsonDict, Upload
from .page import SandboxPage
from .page import add_routes as add_page_routes
from .params import as_int, decode_params
from .state import EmulatorState
from .webhook import WebhookDelivery
from .world import DEFAULT_UPDATE_TYPES, TOKEN_RE

log = logging.getLogger(__name__)
CLIENT_GONE = "the client went away before its request had arrived"


def fake_token(bot_id: int = 123456789) -> str:
    """Returns a well-formed token, `<bot_id>:AAE` + 32 random URL-safe characters."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
    return f"{bot_id}:AAE" + "".join(secrets.choice(alphabet) for _ in range(32))


class BotApiServer:
    """Answers Bot API calls for one EmulatorState and logs every request."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state
        table: dict[str, Handler] = {}
        for group in (MessageMethods(state), ChatMethods(state)):
            table.update(group.handlers())
        self.methods = {name.lower(): handler for name, handler in table.items()}

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Handles POST or GET /bot<token>/<method>."""
        token = request.match_info["token"]
        method = request.match_info["method"]
        state = self.state
        if token != state.token:
            error = UNAUTHORIZED if TOKEN_RE.match(token) else NOT_FOUND
            return _answer(error.payload(), error.code)
        params: Params = {}
        try:
            params = await _read_params(request)
            rule = state.faults.take(method, params.get("chat_id"))
            if rule is not None:
                if rule.delay > 0:
                    await asyncio.sleep(rule.delay)
                if rule.action == "drop":
                    self._log(method, params, 0, None, "connection dropped")
                    if request.transport is not None:
                        request.transport.abort()
                    return web.Response()
                if rule.action == "error":
                    raise rule.error()
            key = method.lower()
            if key == "getupdates":
                result: Any = await self.get_updates(params)
            else:
                handler = self.methods.get(key)
                if handler is None:
                    raise NOT_FOUND
                result = handler(params)
        except ApiError as error:
            self._log(method, params, error.code, None, error.description)
            return _answer(error.payload(), error.code)
        except ConnectionResetError:  # the client died mid-request (a killed bot): nothing came
            self._log(method, {}, 0, None, CLIENT_GONE)
            return web.Response(status=400)
        except Exception:
            log.exception("the emulator failed on %s", method)
            self._log(method, params, 500, None, "emulator bug: see the log")
            return _answer(ApiError(500, "Internal Server Error").payload(), 500)
        self._log(method, params, 200, result, None)
        return _answer({"ok": True, "result": result}, 200)

    async def get_updates(self, params: Params) -> list[JsonDict]:
        """Long polling: confirms updates before `offset` and waits up to `timeout` seconds."""
        state = self.state
        if state.webhook is not None:
            raise ApiError(409, "Conflict: " + WEBHOOK_ACTIVE)
        allowed = params.get("allowed_updates")
        if isinstance(allowed, list):
            state.allowed_updates = frozenset(map(str, allowed)) or DEFAULT_UPDATE_TYPES
        if params.get("offset") is not None:
            state.confirm_updates(as_int(params["offset"]))
        limit = min(max(as_int(params.get("limit"), 100), 1), 100)
        timeout = min(max(as_int(params.get("timeout")), 0), 50)
        return await state.next_updates(limit, timeout)

    def _log(
        self, method: str, params: Params, status: int, result: Any, error: str | None
    ) -> None:
        if any(isinstance(v, Upload) for v in params.values()):
            params = {k: v.log_repr() if isinstance(v, Upload) else v for k, v in params.items()}
        self.state.log_request(method, params, status, result, error)

    async def download(self, request: web.Request) -> web.StreamResponse:
        """Serves /file/bot<token>/<file_path> like Telegram's file server."""
        if request.match_info["token"] != self.state.token:
            return _answer(UNAUTHORIZED.payload(), 401)
        path = request.match_info["path"]
        stored = next((f for f in self.state.files.values() if f.file_path == path), None)
        if stored is None:
            return _answer(NOT_FOUND.payload(), 404)
        return web.Response(
            body=stored.data, content_type=stored.mime_type or "application/octet-stream"
        )


def _answer(body: JsonDict, status: int) -> web.Response:
    return web.Response(body=orjson.dumps(body), status=status, content_type="application/json")


async def _read_params(request: web.Request) -> Params:
    raw: dict[str, Any] = dict(request.query) if request.query_string else {}
    files: dict[str, Upload] = {}
    if request.method == "POST" and request.body_exists:
        content_type = request.content_type
        if content_type == "application/json":
            body = await request.read()
            if body:
                try:
                    data = orjson.loads(body)
                except orjson.JSONDecodeError:
                    raise bad_request("can't parse JSON encoded request") from None
                if not isinstance(data, dict):
                    raise bad_request("JSON object expected")
                raw.update(data)
        elif content_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    files[key] = Upload(value.filename, value.content_type or "", value.file.read())
                else:
                    raw[key] = value
    return decode_params(raw, files)


def build_app(state: EmulatorState, sandbox_page: SandboxPage | None = None) -> web.Application:
    """Builds the aiohttp application for a state (with the sandbox page at `/`)."""
    app = web.Application(
        middlewares=[control.control_errors], client_max_size=MAX_UPLOAD + 1024**2
    )
    app[control.STATE_KEY] = state
    server = BotApiServer(state)
    app.router.add_route("*", "/bot{token}/{method}", server.handle)
    app.router.add_get("/file/bot{token}/{path:.+}", server.download)
    control.add_routes(app)
    add_page_routes(app, sandbox_page or SandboxPage())
    return app


@dataclass
class RunningEmulator:
    """A started emulator: its base URL, token and state."""

    url: str
    state: EmulatorState
    runner: web.AppRunner
    ticker: asyncio.Task[None]
    page: SandboxPage = field(default_factory=SandboxPage)
    webhooks: WebhookDelivery | None = None  # posts updates while a webhook is set
    _delivering: asyncio.Task[None] | None = None

    @property
    def token(self) -> str:
        """The bot token the emulator accepts."""
        return self.state.token

    @property
    def api_url(self) -> str:
        """The Bot API base URL (TELEGRAM_API_URL for the bot)."""
        return self.url

    async def stop(self) -> None:
        """Ends pending long polls and stops the server."""
        self.state.close()
        for task in (self.ticker, self._delivering):
            if task is None:
                continue
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.runner.cleanup()

    async def __aenter__(self) -> RunningEmulator:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()


async def _tick(state: EmulatorState) -> None:
    while True:
        await asyncio.sleep(0.5)
        state.tick()


async def start_emulator(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    token: str | None = None,
    rate_limits: RateLimits | None = None,
    now: Callable[[], float] = time.time,
    state: EmulatorState | None = None,
    sandbox_page: SandboxPage | None = None,
    **options: Any,
) -> RunningEmulator:
    """Starts the emulator on loopback (port 0 picks a free port) and returns it.

    `sandbox_page` tells the page at `/` people's roles and how to move the clock.

    `options` go to EmulatorState (bot_username, bot_name, strict_html, privacy_mode, log_limit).
    """
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError("the emulator binds to loopback only")
    if state is None:
        state = EmulatorState(token or fake_token(), now=now, rate_limits=rate_limits, **options)
    sandbox_page = sandbox_page or SandboxPage()
    runner = web.AppRunner(build_app(state, sandbox_page), access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    server = site._server
    sockets = getattr(server, "sockets", None) or []
    bound_port = sockets[0].getsockname()[1] if sockets else port
    url_host = f"[{host}]" if ":" in host else host
    loop = asyncio.get_running_loop()
    ticker = loop.create_task(_tick(state))
    webhooks = WebhookDelivery(state)
    return RunningEmulator(
        f"http://{url_host}:{bound_port}",
        state,
        runner,
        ticker,
        sandbox_page,
        webhooks,
        loop.create_task(webhooks.run()),
    )


async def _serve(args: argparse.Namespace) -> None:
    limits = RateLimits(enabled=not args.no_rate_limits)
    emulator = await start_emulator(args.host, args.port, token=args.token, rate_limits=limits)
    log.info("Bot API emulator on %s", emulator.url)
    log.info("token %s", emulator.token)
    log.info("control API on %s/control/", emulator.url)
    try:
        await asyncio.Event().wait()
    finally:
        await emulator.stop()


def main(argv: list[str] | None = None) -> None:
    """Runs the emulator until interrupted."""
    parser = argparse.ArgumentParser(description="Telegram Bot API emulator (loopback only)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--token", default=None, help="bot token to accept (default: random)")
    parser.add_argument("--no-rate-limits", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))


if __name__ == "__main__":
    main()
