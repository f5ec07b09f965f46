"""A reverse proxy in front of several webhook workers (as nginx would be), for the
several-worker tests and the workers benchmark."""

from __future__ import annotations

import contextlib
import json
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
from aiohttp import web

from bot.webhook import SECRET_HEADER

PATH = "/hook"


def free_port() -> int:
    """A port nothing listens on now (the bot binds it right after)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextlib.asynccontextmanager
async def proxy(route: Callable[[dict[str, Any]], int], ports: list[int]) -> AsyncIterator[str]:
    """A reverse proxy in front of the workers (as nginx would be): each POSTed update goes to
    the worker `route(update)` picks (the next one when it does not answer), and its answer
    goes back to Telegram. Yields its URL."""
    async with aiohttp.ClientSession() as session:

        async def forward(request: web.Request) -> web.Response:
            body = await request.read()
            first = route(json.loads(body))
            headers = {
                name: request.headers[name]
                for name in ("Content-Type", SECRET_HEADER)
                if name in request.headers
            }
            for turn in range(len(ports)):  # nginx's proxy_next_upstream error
                port = ports[(first + turn) % len(ports)]
                try:
                    async with session.post(
                        f"http://127.0.0.1:{port}{PATH}", data=body, headers=headers
                    ) as answer:
                        return web.Response(status=answer.status, body=await answer.read())
                except aiohttp.ClientConnectionError:
                    continue
            return web.Response(status=502, text="no worker answered")

        app = web.Application()
        app.router.add_post(PATH, forward)
        runner = web.AppRunner(app)
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        try:
            yield f"http://127.0.0.1:{port}{PATH}"
        finally:
            await runner.cleanup()
