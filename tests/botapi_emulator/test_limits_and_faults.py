"""Flood limits answer 429 with retry_after; fault rules inject errors, drops and delays."""

from __future__ import annotations

import asyncio

import pytest
from aiogram import Bot
from aiogram.exceptions import (
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)

from botapi_emulator import EmulatorState, FaultRule, RateLimits, RunningEmulator, SandboxClient
from botapi_emulator.emulator import CLIENT_GONE
from botapi_emulator.errors import ApiError
from botapi_emulator.limits import RateLimiter
from botapi_emulator.models import User
from tests.support.bot_api_spec import check_log


@pytest.fixture
def frozen(state: EmulatorState) -> list[float]:
    """Freezes the rate limiter's clock, so that every send happens at the same instant."""
    now = [1000.0]
    state.limiter.clock = lambda: now[0]
    return now


def started_users(state: EmulatorState, count: int) -> list[User]:
    users = [state.create_user(f"Volunteer {i}") for i in range(count)]
    for user in users:
        state.send_text(user.id, "/start")
    return users


async def send_all(bot: Bot, chat_ids: list[int]) -> list[TelegramRetryAfter]:
    refused = []
    for chat_id in chat_ids:
        try:
            await bot.send_message(chat_id, "Action tonight at 7")
        except TelegramRetryAfter as error:
            refused.append(error)
    return refused


async def test_31_quick_sends_hit_the_overall_limit(
    bot: Bot, state: EmulatorState, frozen: list[float]
) -> None:
    users = started_users(state, 31)

    refused = await send_all(bot, [u.id for u in users])

    assert len(refused) == 1
    assert refused[0].retry_after == 1
    assert "Original description: Too Many Requests: retry after" in refused[0].message


async def test_no_429_with_limits_off(
    bot: Bot, sandbox: SandboxClient, state: EmulatorState
) -> None:
    users = started_users(state, 40)
    await sandbox.set_rate_limits(enabled=False)

    assert await send_all(bot, [u.id for u in users]) == []


async def test_paid_broadcast_lifts_the_overall_limit(bot: Bot, state: EmulatorState) -> None:
    users = started_users(state, 40)

    for user in users:
        await bot.send_message(user.id, "Paid", allow_paid_broadcast=True)


async def test_groups_take_20_messages_a_minute(
    bot: Bot, state: EmulatorState, frozen: list[float]
) -> None:
    alice = state.create_user("Alice")
    group = state.create_group("Coalition", [alice.id])

    refused = await send_all(bot, [group.id] * 21)

    assert len(refused) == 1 and refused[0].retry_after == 60
    frozen[0] += 60
    assert await send_all(bot, [group.id]) == []


async def test_private_chats_allow_a_short_burst_then_one_a_second(
    bot: Bot, state: EmulatorState, started_user: User, frozen: list[float]
) -> None:
    burst = state.limiter.limits.private_burst

    refused = await send_all(bot, [started_user.id] * (burst + 1))

    assert len(refused) == 1 and refused[0].retry_after == 1
    frozen[0] += 1
    assert len(await send_all(bot, [started_user.id] * 2)) == 1, "one token back after a second"
    state.send_text(started_user.id, "hello?")
    assert await send_all(bot, [started_user.id]) == [], "a user's message refills the bucket"


def test_limiter_windows_free_up_with_time() -> None:
    now = [100.0]
    limiter = RateLimiter(RateLimits(overall_per_second=2), clock=lambda: now[0])
    limiter.acquire_send(1, "group")
    limiter.acquire_send(2, "group")
    with pytest.raises(ApiError, match="retry after 1"):
        limiter.acquire_send(3, "group")

    now[0] += 1.01
    limiter.acquire_send(3, "group")


async def test_group_edits_are_limited_too(
    bot: Bot, state: EmulatorState, frozen: list[float]
) -> None:
    alice = state.create_user("Alice")
    group = state.create_group("Coalition", [alice.id])
    sent = await bot.send_message(group.id, "Votes: 0")

    for count in range(1, 21):
        await bot.edit_message_text(f"Votes: {count}", chat_id=group.id, message_id=sent.message_id)
    with pytest.raises(TelegramRetryAfter):
        await bot.edit_message_text("Votes: 21", chat_id=group.id, message_id=sent.message_id)


async def test_injected_429_and_403(bot: Bot, sandbox: SandboxClient, started_user: User) -> None:
    await sandbox.add_fault("sendMessage", error_code=429, retry_after=7)
    await sandbox.add_fault("sendMessage", error_code=403, chat_id=started_user.id)

    with pytest.raises(TelegramRetryAfter) as caught:
        await bot.send_message(started_user.id, "one")
    assert caught.value.retry_after == 7
    with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
        await bot.send_message(started_user.id, "two")
    sent = await bot.send_message(started_user.id, "three")
    assert sent.text == "three"
    assert await sandbox.request("GET", "/control/faults") == []


async def test_injected_server_errors(bot: Bot, state: EmulatorState, started_user: User) -> None:
    state.faults.add(FaultRule("sendMessage", error_code=500))
    state.faults.add(FaultRule("sendMessage", error_code=502))

    with pytest.raises(TelegramServerError, match="Internal Server Error"):
        await bot.send_message(started_user.id, "one")
    with pytest.raises(TelegramServerError, match="Bad Gateway"):
        await bot.send_message(started_user.id, "two")


async def test_injected_drop_and_delay(bot: Bot, state: EmulatorState, started_user: User) -> None:
    state.faults.add(FaultRule("sendMessage", action="drop"))
    state.faults.add(FaultRule("getMe", action="delay", delay=0.3))

    with pytest.raises(TelegramNetworkError):
        await bot.send_message(started_user.id, "lost")
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert (await bot.get_me()).is_bot
    assert loop.time() - started >= 0.3
    assert [e["status"] for e in state.request_log if e["method"] == "sendMessage"] == [0]


async def test_fault_rules_can_fire_every_time(bot: Bot, state: EmulatorState) -> None:
    state.faults.add(FaultRule("getMe", error_code=500, count=None))

    for _ in range(3):
        with pytest.raises(TelegramServerError):
            await bot.get_me()
    assert state.faults.rules[0].hits == 3


async def test_a_client_gone_mid_request_is_not_logged_as_a_request(
    emulator: RunningEmulator, state: EmulatorState
) -> None:
    """A bot killed while sending (its body cut short) sent nothing: the log says the client went
    away, not that the emulator failed, and the spec check skips it (on a busy machine a kill
    often lands there, and the check then saw a sendMessage without chat_id or text)."""
    host, port = emulator.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    body = b"chat_id=1&text=cut"
    writer.write(
        f"POST /bot{emulator.token}/sendMessage HTTP/1.1\r\nHost: {host}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body) + 100}\r\n\r\n".encode()
        + body
    )
    await writer.drain()
    writer.close()
    await writer.wait_closed()
    await reader.read()
    await _until_logged(state, "sendMessage")
    (entry,) = [e for e in state.request_log if e["method"] == "sendMessage"]
    assert (entry["status"], entry["params"], entry["error"]) == (0, {}, CLIENT_GONE)
    assert check_log(state.request_log) == []  # the spec check does not take it for a request


async def _until_logged(state: EmulatorState, method: str) -> None:
    """Waits (up to a generous 30 s, never waited out when green) for a request in the log."""
    for _ in range(3000):
        if any(e["method"] == method for e in state.request_log):
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{method} never logged")
