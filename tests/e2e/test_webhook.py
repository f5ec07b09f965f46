"""Webhook mode (bot/webhook.py): the emulator posts each update to the bot's aiohttp server.

On both runtimes: updates arrive and are answered; a request without the right secret is
refused before anything is recorded; and a bot killed after recording an update but before
its 200 reached Telegram loses nothing and does nothing twice (Telegram sends it again).
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest
from sqlalchemy import select

from bot.app import open_storage
from bot.webhook import SECRET_HEADER
from botapi_emulator.client import SandboxClient
from botapi_emulator.emulator import RunningEmulator
from handlers.kernel.ports import ShiftedClock
from storage.models import InboxUpdate, ProcessedUpdate
from tests.e2e.conftest import PATIENCE, ChorusUnderTest
from tests.e2e.test_nothing_lost import STARTUP, BotProcess, _says_once
from tests.support.proxy import free_port


@pytest.fixture(params=["aiogram", "ptb"])
async def hooked(
    request: pytest.FixtureRequest,
    emulator: RunningEmulator,
    sandbox: SandboxClient,
    clock: ShiftedClock,
    tmp_path: Path,
) -> AsyncIterator[ChorusUnderTest]:
    """Chorus in webhook mode against the emulator."""
    coordinator = await sandbox.create_user("Coral", language_code="en")
    under_test = ChorusUnderTest(
        emulator=emulator,
        sandbox=sandbox,
        clock=clock,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'e2e.sqlite3'}",
        coordinator=coordinator,
        runtime=request.param,
        webhook_url=f"http://127.0.0.1:{free_port()}/telegram/hook",
    )
    await under_test.start()
    try:
        yield under_test
    finally:
        await under_test.kill()


async def test_updates_arrive_over_the_webhook_with_its_secret(
    hooked: ChorusUnderTest, emulator: RunningEmulator, sandbox: SandboxClient
) -> None:
    amira = await sandbox.create_user("Amira", language_code="en")
    await amira.send("/start")
    await amira.wait_for_message(lambda m: "Welcome to" in (m.text or ""), timeout=PATIENCE)
    await amira.press("English")
    await amira.wait_for_message(
        lambda m: "Are you joining as an individual" in (m.text or ""), timeout=PATIENCE
    )
    hook = emulator.state.webhook
    assert hook is not None and hook["url"] == hooked.webhook_url
    assert hook["max_connections"] == 40
    assert set(hook["allowed_updates"]) >= {"message", "callback_query"}
    assert hook["secret_token"] == hooked.settings().webhook_secret_token(emulator.token)
    webhooks = emulator.webhooks
    assert webhooks is not None and webhooks.attempts
    assert all(attempt.status == 200 for attempt in webhooks.attempts), webhooks.attempts
    setting = [r for r in emulator.state.request_log if r["method"].lower() == "setwebhook"]
    assert setting and setting[-1]["status"] == 200
    assert not [r for r in emulator.state.request_log if r["method"].lower() == "getupdates"]


async def test_a_wrong_secret_is_refused_and_nothing_recorded(
    hooked: ChorusUnderTest, emulator: RunningEmulator, sandbox: SandboxClient
) -> None:
    amira = await sandbox.create_user("Amira", language_code="en")
    forged = {
        "update_id": 999_000_001,
        "message": {
            "message_id": 1,
            "date": 1,
            "chat": {"id": amira.id, "type": "private", "first_name": "Amira"},
            "from": {"id": amira.id, "is_bot": False, "first_name": "Amira"},
            "text": "/start",
        },
    }
    assert hooked.webhook_url is not None
    async with aiohttp.ClientSession() as session:
        for headers in ({}, {SECRET_HEADER: "not-the-secret"}):
            async with session.post(hooked.webhook_url, json=forged, headers=headers) as answer:
                assert answer.status == 403, answer.status
        # A secret that is not even UTF-8 is refused the same way, not a 500.
        where = urlsplit(hooked.webhook_url)
        reader, writer = await asyncio.open_connection(where.hostname, where.port)
        writer.write(
            f"POST {where.path} HTTP/1.1\r\nHost: {where.netloc}\r\n".encode()
            + SECRET_HEADER.encode()
            + b": caf\xe9\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"
        )
        status_line = await reader.readline()
        writer.close()
        assert status_line.split()[1] == b"403", status_line
        # With the secret, a body that is no update at all is refused as such (400), and one
        # with an update id that Chorus cannot read is dropped (200: Telegram would only send
        # the same body again), neither recorded.
        secret = {SECRET_HEADER: hooked.settings().webhook_secret_token(emulator.token)}
        for body in (b"not json", b"[1, 2]", b'{"message": {}}', b'{"update_id": "5"}'):
            async with session.post(hooked.webhook_url, data=body, headers=secret) as answer:
                assert answer.status == 400, (body, answer.status)
        unreadable = b'{"update_id": 999000002, "message": 7}'
        async with session.post(hooked.webhook_url, data=unreadable, headers=secret) as answer:
            assert answer.status == 200, answer.status
    # The real update behind it is handled; the forged one never was, nor recorded.
    await amira.send("/start")
    await amira.wait_for_message(lambda m: "Welcome to" in (m.text or ""), timeout=PATIENCE)
    storage = await open_storage(hooked.database_url)
    try:
        async with storage.sessionmaker() as session:
            for table in (InboxUpdate, ProcessedUpdate):
                found = await session.scalar(
                    select(table.update_id).where(
                        table.update_id.in_([forged["update_id"], 999_000_002])
                    )
                )
                assert found is None, table
    finally:
        await storage.engine.dispose()
    welcomes = [m for m in await amira.chat_messages() if "Welcome to" in (m.text or "")]
    assert len(welcomes) == 1


class WebhookProcess(BotProcess):
    """The bot as a process in webhook mode; killed when the emulator has its 200 for an armed
    update and has not yet confirmed it (the answer is then lost, as in a crash)."""

    def __init__(self, emulator: RunningEmulator, work: Path, runtime: str, admin: int) -> None:
        super().__init__(emulator, work, runtime, admin)
        emulator.state.on_confirm = None
        port = free_port()
        self.env |= {"WEBHOOK_URL": f"http://127.0.0.1:{port}/hook", "WEBHOOK_PORT": str(port)}
        assert emulator.webhooks is not None
        emulator.webhooks.on_answer = self._on_answer

    def _on_answer(self, update: dict[str, Any]) -> bool:
        if not self.armed or self.process is None or self.process.returncode is not None:
            return True
        self.armed = False
        self.kills += 1
        self.killed_updates.append(update)
        os.kill(self.process.pid, signal.SIGKILL)
        return False


@pytest.fixture(params=["aiogram", "ptb"])
async def worker(
    request: pytest.FixtureRequest,
    emulator: RunningEmulator,
    sandbox: SandboxClient,
    tmp_path: Path,
) -> AsyncIterator[WebhookProcess]:
    """A webhook worker as a process of its own."""
    coordinator = await sandbox.create_user("Coral", language_code="en")
    running = WebhookProcess(emulator, tmp_path, request.param, coordinator.id)
    running.coordinator = coordinator
    await running.start()
    try:
        yield running
    finally:
        assert emulator.webhooks is not None
        emulator.webhooks.on_answer = None
        await running.stop()
        print("".join(running.output))  # shown when the test fails


@pytest.mark.timeout(3 * STARTUP + 120)
async def test_a_worker_killed_before_its_answer_arrives_loses_nothing(
    worker: WebhookProcess, emulator: RunningEmulator, sandbox: SandboxClient
) -> None:
    amira = await sandbox.create_user("Amira", language_code="en")
    for act, then in (
        (amira.send("/start"), "Which language do you prefer?"),
        (amira.press("English"), "Are you joining as an individual"),
    ):
        worker.armed = True
        await act
        await worker.killed()
        await worker.start()
        await _says_once(amira, then)
    assert worker.kills == 2
    webhooks = emulator.webhooks
    assert webhooks is not None
    async with asyncio.timeout(PATIENCE):  # the inbox may have handled it before it was resent
        while emulator.state.updates:
            await webhooks.wait_for_attempts(len(webhooks.attempts) + 1)
    killed = {u["update_id"] for u in worker.killed_updates}
    # Each killed update was posted again after the restart, and then confirmed.
    for update_id in killed:
        posts = [a for a in webhooks.attempts if a.update_id == update_id]
        assert len(posts) >= 2 and posts[-1].status == 200, posts


async def test_polling_after_webhook_mode_removes_the_webhook(
    chorus: ChorusUnderTest, emulator: RunningEmulator, sandbox: SandboxClient
) -> None:
    """WEBHOOK_URL unset again: the bot deletes the webhook it left (getUpdates would get 409)
    and the updates Telegram kept for it arrive by polling."""
    await chorus.stop()
    emulator.state.webhook = {"url": "http://127.0.0.1:9/hook", "max_connections": 40}
    amira = await sandbox.create_user("Amira", language_code="en")
    await amira.send("/start")
    await chorus.start()
    await amira.wait_for_message(lambda m: "Welcome to" in (m.text or ""), timeout=PATIENCE)
    assert emulator.state.webhook is None
