"""Several webhook workers behind a proxy, on one PostgreSQL: each person's updates are handled
in order even when consecutive ones reach different workers (handlers/kernel/dispatch.py: an
update whose person has an earlier one still in the inbox is handed over again shortly).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bot.webhook import SECRET_HEADER
from botapi_emulator.client import SandboxClient
from botapi_emulator.emulator import RunningEmulator
from handlers.kernel.dispatch import Dispatcher
from handlers.kernel.events import Event
from handlers.kernel.ports import ShiftedClock
from tests.e2e.conftest import PATIENCE, ChorusUnderTest
from tests.e2e.test_failover import pg_url  # noqa: F401 (a fixture)
from tests.e2e.test_webhook import free_port

PATH = "/hook"


@contextlib.asynccontextmanager
async def proxy(route: Callable[[dict[str, Any]], int], ports: list[int]) -> AsyncIterator[str]:
    """A reverse proxy in front of the workers (as nginx would be): each POSTed update goes to
    the worker `route(update)` picks, and its answer goes back to Telegram. Yields its URL."""
    async with aiohttp.ClientSession() as session:

        async def forward(request: web.Request) -> web.Response:
            body = await request.read()
            port = ports[route(json.loads(body))]
            headers = {
                name: request.headers[name]
                for name in ("Content-Type", SECRET_HEADER)
                if name in request.headers
            }
            async with session.post(
                f"http://127.0.0.1:{port}{PATH}", data=body, headers=headers
            ) as answer:
                return web.Response(status=answer.status, body=await answer.read())

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


def _text(update: dict[str, Any]) -> str:
    return str((update.get("message") or {}).get("text") or "")


@pytest.mark.postgres
@pytest.mark.parametrize("runtime", ["aiogram", "ptb"])
async def test_a_persons_updates_stay_in_order_across_workers(
    runtime: str,
    emulator: RunningEmulator,
    sandbox: SandboxClient,
    clock: ShiftedClock,
    pg_url: str,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Amira sends /start, then /help at once; the proxy gives /help to the other worker. Her
    /start is slow to handle: the /help must still be handled (and answered) after it. It was
    not: the first worker answered Telegram as soon as /start was recorded, Telegram sent
    /help, and the second worker answered it while the first was still at work."""
    help_arrived = asyncio.Event()
    handle = Dispatcher._handle

    async def slow_start(self: Dispatcher, event: Event) -> str:
        if event.text == "/help":
            help_arrived.set()
        elif event.text == "/start":  # give /help every chance to overtake it
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(help_arrived.wait(), 1.0)
        return await handle(self, event)

    monkeypatch.setattr(Dispatcher, "_handle", slow_start)
    ports = [free_port(), free_port()]
    coordinator = await sandbox.create_user("Coral", language_code="en")
    workers: list[ChorusUnderTest] = []
    async with proxy(lambda update: 1 if _text(update) == "/help" else 0, ports) as url:
        try:
            for port in ports:
                worker = ChorusUnderTest(
                    emulator=emulator,
                    sandbox=sandbox,
                    clock=clock,
                    database_url=pg_url,
                    coordinator=coordinator,
                    runtime=runtime,
                    webhook_url=url,
                    webhook_port=port,
                )
                await worker.start()
                workers.append(worker)
            amira = await sandbox.create_user("Amira", language_code="en")
            await amira.send("/start")
            await amira.send("/help")
            await amira.wait_for_message(
                lambda m: "helps our coalition" in (m.text or ""), timeout=PATIENCE
            )
            replies = [m.text or "" for m in await amira.chat_messages() if m.from_bot]
        finally:
            for worker in workers:
                await worker.kill()
    assert replies and "Welcome to Chorus" in replies[0], replies
