"""The control API and raw Bot API requests in every body encoding."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import orjson
import pytest
from aiogram import Bot
from aiogram.types import BotCommand, BotCommandScopeAllPrivateChats

from botapi_emulator import EmulatorState, RunningEmulator, SandboxClient, SandboxError
from botapi_emulator.models import User


async def call(
    emulator: RunningEmulator, api_method: str, verb: str = "POST", **kwargs: Any
) -> tuple[int, dict[str, Any]]:
    """Calls the Bot API with a raw aiohttp request and returns (status, JSON body)."""
    url = f"{emulator.url}/bot{emulator.token}/{api_method}"
    async with aiohttp.ClientSession() as session, session.request(verb, url, **kwargs) as answer:
        return answer.status, await answer.json()


async def test_json_form_query_and_multipart_bodies(
    emulator: RunningEmulator, started_user: User
) -> None:
    markup = {"inline_keyboard": [[{"text": "OK", "callback_data": "ok"}]]}
    bodies: list[dict[str, Any]] = [
        {"json": {"chat_id": started_user.id, "text": "json", "reply_markup": markup}},
        {
            "data": {
                "chat_id": str(started_user.id),
                "text": "form",
                "reply_markup": json.dumps(markup),
            },
        },
        {"verb": "GET", "params": {"chat_id": str(started_user.id), "text": "query"}},
    ]
    form = aiohttp.FormData(default_to_multipart=True)
    form.add_field("chat_id", str(started_user.id))
    form.add_field("text", "multipart")
    form.add_field("disable_notification", "true")
    bodies.append({"data": form})

    for body in bodies:
        status, answer = await call(emulator, "sendMessage", **body)
        assert status == 200 and answer["ok"] is True, answer

    texts = [m.text for m in emulator.state.chats[started_user.id].live_messages()]
    assert texts[-4:] == ["json", "form", "query", "multipart"]
    logged = [e["params"] for e in emulator.state.request_log][-4:]
    assert all(p["chat_id"] == started_user.id for p in logged)
    assert logged[1]["reply_markup"] == markup and logged[3]["disable_notification"] is True


async def test_error_bodies_match_telegram(emulator: RunningEmulator, started_user: User) -> None:
    status, answer = await call(emulator, "sendMessage", json={"chat_id": 1, "text": "x"})

    assert (status, answer) == (
        400,
        {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"},
    )
    status, answer = await call(emulator, "getme", "GET")
    assert status == 200 and answer["ok"] is True, "method names are case-insensitive"


async def test_chat_view_shows_what_a_person_sees(
    bot: Bot, sandbox: SandboxClient, started_user: User
) -> None:
    kept = await bot.send_message(started_user.id, "<b>kept</b>", parse_mode="HTML")
    gone = await bot.send_message(started_user.id, "gone")
    await bot.delete_message(started_user.id, gone.message_id)
    await bot.edit_message_text(
        "<b>kept</b> (edited)",
        chat_id=started_user.id,
        message_id=kept.message_id,
        parse_mode="HTML",
    )

    view = await sandbox.chat(started_user.id)

    shown = [(m["text"], m["html"], m["edited"]) for m in view["messages"]]
    assert shown == [("/start", "/start", False), ("kept (edited)", "<b>kept</b> (edited)", True)]
    assert view["chat"]["type"] == "private" and view["chat"]["started"] is True


async def test_waiting_on_a_chat_version(
    sandbox: SandboxClient, state: EmulatorState, started_user: User
) -> None:
    version = (await sandbox.chat(started_user.id))["version"]
    unchanged = await sandbox.chat(started_user.id, after_version=version, wait=0.2)
    assert unchanged["version"] == version

    waiting = asyncio.create_task(sandbox.chat(started_user.id, after_version=version, wait=25))
    state.send_text(started_user.id, "ping")
    view = await asyncio.wait_for(waiting, 30)

    assert view["version"] > version and view["messages"][-1]["text"] == "ping"


async def test_events_stream_reports_chat_changes(
    emulator: RunningEmulator, state: EmulatorState, started_user: User
) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{emulator.url}/control/events") as response,
    ):
        assert response.headers["Content-Type"].startswith("text/event-stream")
        assert await response.content.readline() == b": connected\n"
        await response.content.readline()
        state.send_text(started_user.id, "ping")
        line = await asyncio.wait_for(response.content.readline(), 30)

    event = orjson.loads(line.removeprefix(b"data: "))
    assert event == {
        "type": "chat",
        "chat_id": started_user.id,
        "version": state.chats[started_user.id].version,
    }


async def test_request_log_commands_limits_and_faults(bot: Bot, sandbox: SandboxClient) -> None:
    await bot.get_me()
    await bot.set_my_commands(
        [BotCommand(command="start", description="Commencer")],
        scope=BotCommandScopeAllPrivateChats(),
        language_code="fr",
    )

    assert [e["method"] for e in await sandbox.requests()] == ["getMe", "setMyCommands"]
    assert [e["status"] for e in await sandbox.requests("getme")] == [200]
    assert await sandbox.commands() == [
        {
            "scope": "all_private_chats",
            "language_code": "fr",
            "commands": [{"command": "start", "description": "Commencer"}],
        }
    ]
    await sandbox.clear_requests()
    assert await sandbox.requests() == []
    limits = await sandbox.set_rate_limits(overall_per_second=5)
    assert limits["overall_per_second"] == 5 and limits["enabled"] is True
    with pytest.raises(SandboxError, match="unknown rate limit fields"):
        await sandbox.set_rate_limits(per_hour=3)
    rule = await sandbox.add_fault("sendPoll", error_code=500, count=2)
    assert rule["count"] == 2
    await sandbox.clear_faults()
    assert await sandbox.request("GET", "/control/faults") == []


async def test_control_errors(sandbox: SandboxClient, state: EmulatorState) -> None:
    with pytest.raises(SandboxError) as caught:
        await sandbox.post("/control/messages", user_id=42, text="hi")
    assert caught.value.status == 404 and "no user 42" in caught.value.message

    alice = await sandbox.create_user("Alice")
    bob = await sandbox.create_user("Bob")
    group = await sandbox.create_group("Coalition", [alice])
    with pytest.raises(SandboxError, match="not a member"):
        await bob.send("hi", chat=group)
    await bob.join(group)
    await bob.send("/hello", chat=group)
    await bob.leave(group)
    assert state.chats[group.id].status_of(bob.id) == "left"
    await sandbox.reset()
    assert await sandbox.request("GET", "/control/users") == []
