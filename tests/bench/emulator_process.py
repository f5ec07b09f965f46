"""The emulator in its own process, so that it does not share a core with the bot measured.

Besides serving the Bot API it plays the volunteers of an RSVP storm: it shows each of them a
bot message with one button, presses them at a given rate and times the answers, then replays
some of the confirmed updates (as Telegram does after a crash).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import statistics
from multiprocessing.connection import Connection
from typing import Any

from botapi_emulator.emulator import start_emulator
from botapi_emulator.limits import RateLimits
from botapi_emulator.state import EmulatorState

TOO_OLD = 15.0  # Telegram refuses to answer a press after about this many seconds
STORM_PATIENCE = 300.0  # seconds for the last press to be answered (a loaded machine)


async def _storm(state: EmulatorState, ids: list[int], data: str, rate: float) -> dict[str, Any]:
    """Each person presses `data` on a message of their own, `rate` presses a second."""
    loop = asyncio.get_running_loop()
    state.callback_query_timeout = float("inf")  # late answers are counted, not refused
    markup = {"inline_keyboard": [[{"text": "Going", "callback_data": data}]]}
    shown = [
        state.add_message(state.chat(i), state.bot.id, text="Storm", reply_markup=markup)
        for i in ids
    ]
    answered_at: list[float] = []
    latencies: list[float] = []

    async def answer(query: Any, pressed: float) -> None:
        await query.answered.wait()
        answered_at.append(loop.time())
        latencies.append(answered_at[-1] - pressed)

    start, waiting = loop.time(), []
    for n, (user_id, message) in enumerate(zip(ids, shown, strict=True), 1):
        query = state.press_button(user_id, user_id, message.message_id, data=data)
        waiting.append(asyncio.create_task(answer(query, loop.time())))
        if n % 50 == 0:
            await asyncio.sleep(max(0.0, start + n / rate - loop.time()))
    _, late = await asyncio.wait(waiting, timeout=STORM_PATIENCE)
    for task in late:
        task.cancel()
    for _ in range(200):  # the keyboards' edits follow the answers: let them land (10 s at most)
        if all(message.edit_date is not None for message in shown):
            break
        await asyncio.sleep(0.05)
    latencies.sort()
    return {
        "answered": len(latencies),
        "seconds": (max(answered_at) - start) if answered_at else None,
        "p50_ms": round(statistics.median(latencies) * 1000, 1) if latencies else None,
        "p95_ms": round(latencies[int(len(latencies) * 0.95)] * 1000, 1) if latencies else None,
        "too_old": sum(1 for latency in latencies if latency > TOO_OLD),
        "edited": sum(1 for message in shown if message.edit_date is not None),
    }


async def _replay(state: EmulatorState, count: int) -> int:
    """Delivers the first `count` confirmed button presses again; returns once all are fetched."""
    presses = [u["update_id"] for u in state.confirmed if "callback_query" in u][:count]
    for update_id in presses:
        state.redeliver(update_id)
    for _ in range(1200):  # a minute at most: the bot polls, so it fetches them at once
        if all(u["update_id"] not in presses for u in state.updates):
            break
        await asyncio.sleep(0.05)
    return len(presses)


async def _serve(conn: Connection, users: int, limits: dict[str, Any]) -> None:
    emulator = await start_emulator(rate_limits=RateLimits(**limits), log_limit=0)
    ids = []
    for index in range(users):
        user = emulator.state.create_user(f"B{index}")
        emulator.state.chats[user.id].started = True
        ids.append(user.id)
    conn.send((emulator.url, emulator.token, ids))
    loop = asyncio.get_running_loop()
    while True:
        command, *args = await loop.run_in_executor(None, conn.recv)
        if command == "storm":
            conn.send(await _storm(emulator.state, ids, *args))
        elif command == "replay":
            conn.send(await _replay(emulator.state, *args))
        else:  # stop: how many messages the users received
            conn.send(sum(len(emulator.state.chats[i].messages) for i in ids))
            await emulator.stop()
            return


def _main(conn: Connection, users: int, limits: dict[str, Any]) -> None:
    try:
        import uvloop

        runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)
    except ImportError:
        runner = asyncio.Runner()
    with runner:
        runner.run(_serve(conn, users, limits))


class EmulatorProcess:
    """Starts the emulator with `users` started private chats; `delivered()` stops it."""

    def __init__(self, users: int, **limits: Any) -> None:
        context = multiprocessing.get_context("spawn")
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_main, args=(child, users, limits), daemon=True)

    def start(self) -> tuple[str, str, list[int]]:
        self.process.start()
        url, token, ids = self.conn.recv()
        return url, token, ids

    async def ask(self, *command: Any) -> Any:
        """Sends a command and waits for its answer without blocking this event loop."""
        self.conn.send(command)
        return await asyncio.get_running_loop().run_in_executor(None, self.conn.recv)

    def delivered(self) -> int:
        """Stops the emulator and returns how many messages its users received."""
        self.conn.send(("stop",))
        count: int = self.conn.recv()
        self.process.join(10)
        return count

    def kill(self) -> None:
        """Ends the process whatever it is doing (after a failed or timed-out scenario)."""
        if self.process.is_alive():
            self.process.kill()
            self.process.join(10)
