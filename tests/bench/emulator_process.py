"""The emulator in its own process, so that it does not share a core with Chorus."""

from __future__ import annotations

import asyncio
import multiprocessing
from multiprocessing.connection import Connection
from typing import Any

from botapi_emulator.emulator import start_emulator
from botapi_emulator.limits import RateLimits


async def _serve(conn: Connection, users: int, limits: dict[str, Any]) -> None:
    emulator = await start_emulator(rate_limits=RateLimits(**limits), log_limit=0)
    ids = []
    for index in range(users):
        user = emulator.state.create_user(f"B{index}")
        emulator.state.chats[user.id].started = True
        ids.append(user.id)
    conn.send((emulator.url, emulator.token, ids))
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, conn.recv)  # until the parent asks for the counts
    delivered = sum(len(emulator.state.chats[i].messages) for i in ids)
    conn.send(delivered)
    await emulator.stop()


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

    def delivered(self) -> int:
        """Stops the emulator and returns how many messages its users received."""
        self.conn.send("stop")
        count: int = self.conn.recv()
        self.process.join(10)
        return count
