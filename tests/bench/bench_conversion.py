"""Per-update cost of each runtime: the framework parses the update, Chorus makes its event.

The RSVP storm (bench_rsvp) runs the neutral dispatcher, which both runtimes share; what differs
between them for an incoming update is this conversion, measured here on the same 2,000
callback_query updates the storm produces.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from bot.updates import event_from_update

UPDATES = 2000


def _update(i: int) -> dict[str, Any]:
    user = {"id": 10_000 + i, "is_bot": False, "first_name": f"V{i}", "language_code": "en"}
    return {
        "update_id": 1_000_000 + i,
        "callback_query": {
            "id": str(5_000_000 + i),
            "from": user,
            "chat_instance": "42",
            "data": "rv:1:going",
            "message": {
                "message_id": 7,
                "date": 1_790_000_000,
                "chat": {"id": user["id"], "type": "private", "first_name": user["first_name"]},
                "from": {"id": 1, "is_bot": True, "first_name": "Chorus", "username": "chorus_bot"},
                "text": "Vigil for the survivors",
                "reply_markup": {
                    "inline_keyboard": [[{"text": "Going", "callback_data": "rv:1:going"}]]
                },
            },
        },
    }


def _aiogram() -> Callable[[dict[str, Any]], object]:
    from aiogram.types import Update

    from bot.aiogram_runtime import _unset_default

    def convert(raw: dict[str, Any]) -> object:
        update = Update.model_validate(raw)
        dumped = update.model_dump(
            mode="json", exclude_none=True, by_alias=True, fallback=_unset_default
        )
        return event_from_update(dumped)

    return convert


def _ptb() -> Callable[[dict[str, Any]], object]:
    from telegram import Bot, Update

    bot = Bot("123456789:AAE" + "x" * 32)

    def convert(raw: dict[str, Any]) -> object:
        return event_from_update(Update.de_json(raw, bot).to_dict())

    return convert


def main() -> dict[str, dict[str, Any]]:
    """Microseconds of CPU per update, for each runtime."""
    updates = [_update(i) for i in range(UPDATES)]
    results = {}
    for name, factory in (("aiogram", _aiogram), ("ptb", _ptb)):
        convert = factory()
        convert(updates[0])
        start = time.process_time()
        for raw in updates:
            assert convert(raw) is not None
        cpu = time.process_time() - start
        results[name] = {"updates": UPDATES, "cpu_us_per_update": round(cpu * 1e6 / UPDATES, 1)}
        print(f"conversion {name}:", results[name], flush=True)
    return results


if __name__ == "__main__":
    main()
