"""Logging: the token masked in every line, JSON lines, one line per update, quiet libraries."""

from __future__ import annotations

import io
import json
import logging

import pytest

from bot import logs
from botapi_emulator.emulator import fake_token
from handlers import build_router
from handlers.kernel.context import Context, Services
from handlers.kernel.dispatch import Dispatcher
from handlers.kernel.routing import Router
from tests.support.recording import Conversation, RecordingMessenger

TOKEN = fake_token(4242)
SECRET_HALF = TOKEN.partition(":")[2]


def _lines(stream: io.StringIO) -> list[str]:
    return stream.getvalue().splitlines()


@pytest.mark.usefixtures("restored_logging")
@pytest.mark.parametrize("fmt", ["text", "json"])
def test_the_token_is_masked_in_messages_arguments_tracebacks_and_extras(fmt: str) -> None:
    stream = io.StringIO()
    logs.configure("DEBUG", fmt, secrets=[TOKEN], stream=stream)  # type: ignore[arg-type]
    url = f"http://127.0.0.1:8081/bot{TOKEN}/getUpdates"
    logging.getLogger("httpx").debug('HTTP Request: POST %s "HTTP/1.1 200 OK"', url)
    logging.getLogger("aiogram").info("encoded: bot%s", TOKEN.replace(":", "%3A"))
    logging.getLogger("somewhere").info("half alone: %s", SECRET_HALF)
    logging.getLogger("shaped").info("another bot's token: 99999:%s", "x" * 40)
    try:
        raise RuntimeError(f"cannot reach {url}")
    except RuntimeError:
        logging.getLogger("chorus").exception("failed", extra={"url": url})
    logging.getLogger("stack").warning("here", stack_info=True, extra={"url": url})
    output = stream.getvalue()
    assert TOKEN not in output and SECRET_HALF not in output and "x" * 40 not in output
    assert output.count("4242:***") >= 2 and "4242%3A***" in output and "99999:***" in output
    assert "RuntimeError: cannot reach http://127.0.0.1:8081/bot4242:***/getUpdates" in output
    if fmt == "json":
        entries = [json.loads(line) for line in _lines(stream)]
        failed = next(e for e in entries if e["message"] == "failed")
        assert failed["level"] == "ERROR" and failed["logger"] == "chorus"
        assert failed["url"].endswith("/bot4242:***/getUpdates")
        assert "Traceback" in failed["traceback"]


@pytest.mark.usefixtures("restored_logging")
def test_chatty_libraries_say_only_warnings_unless_debugging() -> None:
    stream = io.StringIO()
    logs.configure("INFO", "text", stream=stream)
    logging.getLogger("httpx").info("HTTP Request: POST …")
    logging.getLogger("apscheduler.scheduler").info("Added job")
    logging.getLogger("aiogram.event").info("Update id=1 is handled")
    logging.getLogger("telegram.ext.Application").info("Application started")
    logging.getLogger("httpcore.connection").debug("connect_tcp.started")
    logging.getLogger("httpx").warning("a warning")
    assert _lines(stream) and all("a warning" in line for line in _lines(stream))
    logs.configure("DEBUG", "text", stream=stream)
    logging.getLogger("httpcore.connection").debug("connect_tcp.started")
    assert "connect_tcp.started" in stream.getvalue()


@pytest.mark.usefixtures("restored_logging")
async def test_one_json_line_per_update_without_text_or_names_and_tracebacks_with_the_id(
    services: Services, messenger: RecordingMessenger
) -> None:
    stream = io.StringIO()
    logs.configure("INFO", "json", stream=stream)
    router = Router("test")

    @router.command("boom")
    async def boom(ctx: Context) -> None:
        raise RuntimeError("kaboom")

    root = build_router()
    root.include(router)
    conversation = Conversation(Dispatcher(root, services), messenger)
    ada = conversation.person("Adalberta")
    await ada.send("I would rather keep this sentence private", update_id=501)
    await ada.send("I would rather keep this sentence private", update_id=501)
    await ada.send("/boom", update_id=502)
    entries = [json.loads(line) for line in _lines(stream)]
    per_update = [e for e in entries if "outcome" in e]
    assert [(e["update_id"], e["kind"], e["outcome"]) for e in per_update] == [
        (501, "message", "handled"),
        (501, "message", "duplicate"),
        (502, "message", "error"),
    ]
    assert all(isinstance(e["duration_ms"], float) and e["level"] == "INFO" for e in per_update)
    failure = next(e for e in entries if e["level"] == "ERROR")
    assert failure["update_id"] == 502 and "RuntimeError: kaboom" in failure["traceback"]
    assert "private" not in stream.getvalue() and "Adalberta" not in stream.getvalue()
