"""PTB's request layer on aiohttp (bot/ptb_aiohttp.py) keeps PTB's contract."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from telegram import InputFile
from telegram.error import NetworkError, TelegramError, TimedOut
from telegram.request import RequestData
from telegram.request._requestparameter import RequestParameter

from bot.ptb_aiohttp import AiohttpRequest


@pytest.fixture
async def server() -> AsyncIterator[tuple[str, list[dict[str, object]]]]:
    """An HTTP server that records what it was sent and answers like the Bot API."""
    seen: list[dict[str, object]] = []

    async def method(request: web.Request) -> web.Response:
        if request.match_info["name"] == "slow":
            await asyncio.sleep(1)
        if request.content_type == "application/json":
            seen.append(await request.json())
        else:
            form = await request.post()
            seen.append(
                {
                    name: (value.file.read(), value.filename) if hasattr(value, "file") else value
                    for name, value in form.items()
                }
            )
        status = 429 if request.match_info["name"] == "flood" else 200
        return web.json_response({"ok": status == 200, "result": True}, status=status)

    app = web.Application()
    app.router.add_post("/bot/{name}", method)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}/bot", seen
    finally:
        await runner.cleanup()


async def test_fields_and_files_arrive_and_every_status_comes_back(
    server: tuple[str, list[dict[str, object]]],
) -> None:
    url, seen = server
    request = AiohttpRequest(4)
    await request.initialize()
    try:
        data = RequestData(
            [
                RequestParameter.from_input("chat_id", 42),
                RequestParameter.from_input("text", "Ça marche — 🎉"),
                RequestParameter.from_input("reply_markup", {"inline_keyboard": [[{"text": "A"}]]}),
            ]
        )
        assert await request.do_request(f"{url}/sendMessage", "POST", data) == (
            200,
            b'{"ok": true, "result": true}',
        )
        upload = RequestData(
            [
                RequestParameter.from_input("chat_id", 42),
                RequestParameter.from_input("document", InputFile(b"a,b\n1,2\n", "x.csv")),
            ]
        )
        status, _ = await request.do_request(f"{url}/sendDocument", "POST", upload)
        status_flood, _ = await request.do_request(f"{url}/flood", "POST", data)
    finally:
        await request.shutdown()
    assert status == 200 and status_flood == 429
    assert seen[0] == {  # one JSON body, as aiogram posts it
        "chat_id": 42,
        "text": "Ça marche — 🎉",
        "reply_markup": {"inline_keyboard": [[{"text": "A"}]]},
    }
    assert seen[1]["chat_id"] == "42"  # a file: multipart form data, each field a string
    document = seen[1]["document"]
    assert isinstance(document, tuple) and document == (b"a,b\n1,2\n", "x.csv")


def test_answers_are_parsed_and_a_bad_answer_is_ptbs_error() -> None:
    assert AiohttpRequest.parse_json_payload(b'{"ok": true, "result": {"a": "\xc3\xa9"}}') == {
        "ok": True,
        "result": {"a": "é"},
    }
    with pytest.raises(TelegramError, match="Invalid server response"):
        AiohttpRequest.parse_json_payload(b"<html>Bad Gateway</html>")


async def test_a_timeout_is_timed_out_and_no_answer_is_a_network_error(
    server: tuple[str, list[dict[str, object]]],
) -> None:
    url, _ = server
    request = AiohttpRequest(1, read_timeout=0.2)
    await request.initialize()
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        closed_port = free.getsockname()[1]
    try:
        with pytest.raises(TimedOut):
            await request.do_request(f"{url}/slow", "POST", None)
        with pytest.raises(NetworkError):
            await request.do_request(f"http://127.0.0.1:{closed_port}/bot/x", "POST", None)
    finally:
        await request.shutdown()
    with pytest.raises(RuntimeError, match="not initialized"):
        await request.do_request(f"{url}/sendMessage", "POST", None)


async def test_the_ptb_transport_posts_its_json_straight_through_the_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A call without a file goes as its JSON body through the runtime's request object, not
    through Bot.do_api_request (whose per-parameter conversion cost a fifth of a broadcast
    message); answers and refusals come back as the aiogram transport reads them."""
    from telegram import Bot

    from bot.botapi import Call
    from bot.ptb_runtime import PtbRuntime
    from handlers.kernel.ports import Forbidden, RetryAfter, TransientError

    seen: list[tuple[str, object]] = []
    answers = {
        "sendMessage": (200, b'{"ok": true, "result": {"message_id": 7}}'),
        "flood": (429, b'{"ok": false, "parameters": {"retry_after": 3}}'),
        "blocked": (403, b'{"ok": false, "description": "Forbidden: bot was blocked by the user"}'),
        "broken": (502, b"<html>Bad Gateway</html>"),
    }

    async def method(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        seen.append((name, await request.json()))
        status, body = answers[name]
        return web.Response(status=status, body=body, content_type="application/json")

    app = web.Application()
    app.router.add_post("/bot123:abc/{name}", method)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    runtime = PtbRuntime("123:abc", f"http://127.0.0.1:{runner.addresses[0][1]}")

    async def not_this_way(*args: object, **kwargs: object) -> object:
        raise AssertionError("posted through Bot.do_api_request")

    monkeypatch.setattr(Bot, "do_api_request", not_this_way)
    request = runtime.transport.request
    assert request is not None
    await request.initialize()
    try:
        params = {"chat_id": 42, "text": "Ça marche", "reply_markup": {"inline_keyboard": []}}
        assert await runtime.transport.call(Call("sendMessage", params)) == {"message_id": 7}
        with pytest.raises(RetryAfter) as flood:
            await runtime.transport.call(Call("flood", {"chat_id": 42}))
        with pytest.raises(Forbidden) as blocked:
            await runtime.transport.call(Call("blocked", {"chat_id": 42}))
        with pytest.raises(TransientError):
            await runtime.transport.call(Call("broken", {"chat_id": 42}))
    finally:
        await request.shutdown()
        await runner.cleanup()
    assert seen[0] == ("sendMessage", params)
    assert flood.value.seconds == 3
    assert blocked.value.unreachable == "blocked"
