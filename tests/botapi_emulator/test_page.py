"""The sandbox page's routes: the static page (no CDN), a person's chats and menu, the clock."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiogram import Bot
from aiogram.types import BotCommand, BotCommandScopeAllGroupChats, BotCommandScopeChat

from botapi_emulator import RunningEmulator, SandboxClient, SandboxError, start_emulator
from botapi_emulator.page import STATIC, SandboxPage


@pytest.fixture
async def moved() -> list[float]:
    """The advances the page asked for."""
    return []


@pytest.fixture
async def sandbox_with_clock(moved: list[float]) -> AsyncIterator[RunningEmulator]:
    """An emulator whose page can move time (as `chorus sandbox` sets it up)."""
    offset = [0.0]

    async def advance(seconds: float) -> None:
        moved.append(seconds)
        offset[0] += seconds

    emulator = await start_emulator(
        now=lambda: 1_800_000_000.0 + offset[0],
        sandbox_page=SandboxPage(roles={7: "coordinator"}, advance_clock=advance),
    )
    try:
        yield emulator
    finally:
        await emulator.stop()


async def test_the_page_and_its_files_are_served_and_need_no_internet(
    emulator: RunningEmulator,
) -> None:
    async with aiohttp.ClientSession(emulator.url) as http:
        async with http.get("/") as response:
            assert response.status == 200
            assert response.content_type == "text/html"
            html = await response.text()
        for name in re.findall(r'(?:src|href)="(/static/[^"]+)"', html):
            async with http.get(name) as response:
                assert response.status == 200, name
    assert "/static/app.js" in html and "/static/app.css" in html
    for path in STATIC.iterdir():
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"(?:https?:)?//[\w.-]+\.[a-z]{2,}/", text), (
            f"{path.name} loads from the web"
        )


async def test_a_bare_emulator_shows_its_clock_but_cannot_move_it(
    sandbox: SandboxClient,
) -> None:
    clock = await sandbox.request("GET", "/control/clock")
    assert clock["movable"] is False
    with pytest.raises(SandboxError) as refused:
        await sandbox.post("/control/clock", advance_seconds=60)
    assert refused.value.status == 409


async def test_the_clock_moves_through_the_sandbox_hook(
    sandbox_with_clock: RunningEmulator, moved: list[float]
) -> None:
    async with SandboxClient(sandbox_with_clock.url) as client:
        answer = await client.post("/control/clock", advance_seconds=3600)
        assert moved == [3600.0]
        assert answer == {
            "now": 1_800_003_600.0,
            "iso": "2027-01-15T09:00:00+00:00",
            "movable": True,
        }
        for wrong in (0, -5, "soon", 10**9):
            with pytest.raises(SandboxError) as refused:
                await client.post("/control/clock", advance_seconds=wrong)
            assert refused.value.status == 400
        info = await client.request("GET", "/control/page")
        assert info["roles"] == {"7": "coordinator"} and info["clock"]["movable"] is True


async def test_a_persons_chat_list_has_their_chats_and_what_they_last_showed(
    sandbox: SandboxClient,
) -> None:
    alice = await sandbox.create_user("Alice")
    bob = await sandbox.create_user("Bob")
    group = await sandbox.create_group("Coalition", [alice])
    await sandbox.create_group("Others", [bob])
    await alice.send("/start")
    chats = await sandbox.request("GET", f"/control/people/{alice.id}/chats")
    assert [c["id"] for c in chats] == [alice.id, group.id]
    assert chats[0]["last"]["text"] == "/start" and chats[1]["status"] == "creator"
    await alice.leave(group)
    chats = await sandbox.request("GET", f"/control/people/{alice.id}/chats")
    left = next(c for c in chats if c["id"] == group.id)
    assert left["status"] == "left" and left["last"]["service"]["text"] == "Alice left the group"
    with pytest.raises(SandboxError) as missing:
        await sandbox.request("GET", "/control/people/999/chats")
    assert missing.value.status == 404


async def test_the_command_menu_follows_telegrams_scopes(bot: Bot, sandbox: SandboxClient) -> None:
    alice = await sandbox.create_user("Alice", language_code="fr")
    group = await sandbox.create_group("Coalition", [alice])
    await bot.set_my_commands([BotCommand(command="start", description="Start")])
    await bot.set_my_commands([BotCommand(command="aide", description="Aide")], language_code="fr")
    await bot.set_my_commands(
        [BotCommand(command="poll", description="Vote")], scope=BotCommandScopeAllGroupChats()
    )
    await bot.set_my_commands(
        [BotCommand(command="roster", description="Roster")],
        scope=BotCommandScopeChat(chat_id=alice.id),
    )
    menu = f"/control/people/{alice.id}/commands"
    assert [c["command"] for c in await sandbox.request("GET", menu)] == ["roster"]
    in_group = await sandbox.request("GET", f"{menu}?chat_id={group.id}")
    assert [c["command"] for c in in_group] == ["poll"]
    bob = await sandbox.create_user("Bob", language_code="fr")
    mine = await sandbox.request("GET", f"/control/people/{bob.id}/commands")
    assert [c["command"] for c in mine] == ["aide"]
