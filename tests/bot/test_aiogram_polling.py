"""aiogram long polling, lean: getUpdates answers recorded as they came, aiogram given none."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from aiogram.exceptions import TelegramUnauthorizedError
from aiogram.methods import GetMe, GetUpdates

from bot.aiogram_runtime import BatchRecorder, create_bot


def _press(update_id: int) -> dict[str, Any]:
    person = {"id": 7, "is_bot": False, "first_name": "Amira"}
    return {
        "update_id": update_id,
        "callback_query": {"id": str(update_id), "from": person, "chat_instance": "1", "data": "x"},
    }


class _Inbox:
    def __init__(self) -> None:
        self.batches: list[list[dict[str, Any]]] = []

    async def receive_batch(self, updates: list[dict[str, Any]]) -> None:
        self.batches.append(list(updates))


async def test_a_lean_batch_is_recorded_as_it_came_and_the_offset_moves_past_it() -> None:
    bot = create_bot("1:abc", "http://127.0.0.1:9")
    bot.session.lean_updates = True  # type: ignore[attr-defined]
    batch = [_press(41), _press(42)]
    content = orjson.dumps({"ok": True, "result": batch}).decode()
    method = GetUpdates(offset=41)
    inbox = _Inbox()
    recorder = BatchRecorder(inbox)  # type: ignore[arg-type]

    async def make_request(bot: Any, method: Any) -> Any:
        return bot.session.check_response(bot, method, 200, content).result

    result = await recorder(make_request, bot, method)
    assert result == []  # aiogram gets no models to build and dispatch
    assert inbox.batches == [batch]
    assert method.offset == 43  # the next getUpdates confirms the batch, now recorded
    await bot.session.close()


async def test_without_lean_polling_aiogram_gets_the_updates_as_before() -> None:
    bot = create_bot("1:abc", "http://127.0.0.1:9")
    content = orjson.dumps({"ok": True, "result": [_press(41)]}).decode()
    response = bot.session.check_response(bot, GetUpdates(), 200, content)
    assert [update.update_id for update in response.result or []] == [41]
    await bot.session.close()


@pytest.mark.parametrize(
    ("status", "answer"),
    [(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})],
)
async def test_an_error_answer_goes_through_aiograms_checks(
    status: int, answer: dict[str, Any]
) -> None:
    bot = create_bot("1:abc", "http://127.0.0.1:9")
    bot.session.lean_updates = True  # type: ignore[attr-defined]
    with pytest.raises(TelegramUnauthorizedError):
        bot.session.check_response(bot, GetUpdates(), status, orjson.dumps(answer).decode())
    odd = orjson.dumps({"ok": True, "result": [{"no": "id"}]}).decode()
    with pytest.raises(Exception, match="update_id"):  # aiogram's validation, as before
        bot.session.check_response(bot, GetUpdates(), 200, odd)
    me = {"ok": True, "result": {"id": 1, "is_bot": True, "first_name": "b"}}
    assert bot.session.check_response(bot, GetMe(), 200, orjson.dumps(me).decode()).result
    await bot.session.close()


@pytest.mark.parametrize("lean", [True, False])
async def test_a_batch_with_a_lone_surrogate_is_recorded_not_refused_for_ever(lean: bool) -> None:
    """orjson refuses a lone UTF-16 surrogate ("\\ud83d" alone) that aiogram's parser takes:
    the raw batch was then read again with orjson, which raised, and the polling asked for the
    same batch for ever. Now it goes to the inbox as it came (which keeps U+FFFD for it)."""
    bot = create_bot("1:abc", "http://127.0.0.1:9")
    bot.session.lean_updates = lean  # type: ignore[attr-defined]
    odd = _press(51)
    odd["callback_query"]["from"]["first_name"] = "Amira \ud83d"
    batch = [_press(50), odd]
    content = json.dumps({"ok": True, "result": batch})  # the surrogate as "\ud83d"
    method = GetUpdates(offset=50)
    inbox = _Inbox()
    recorder = BatchRecorder(inbox)  # type: ignore[arg-type]

    async def make_request(bot: Any, method: Any) -> Any:
        return bot.session.check_response(bot, method, 200, content).result

    await recorder(make_request, bot, method)
    assert inbox.batches == [batch]
    await bot.session.close()
