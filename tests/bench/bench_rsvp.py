"""An RSVP storm: 2,000 volunteers press an RSVP button within a few seconds.

Measured through the neutral dispatcher (handlers + SQLite, one transaction per update, replies
to a messenger that answers at once): Chorus's own cost, without the network.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event, func, select

from bot.app import open_storage
from handlers import build_router
from handlers.kernel.context import HandlerSettings, Services
from handlers.kernel.dispatch import Dispatcher
from handlers.kernel.events import Chat, ChatType, Event, EventKind, Person
from handlers.kernel.ports import SystemClock
from storage.actions import action_store
from storage.actions.action_models import Rsvp
from storage.people import volunteers
from tests.support.recording import RecordingMessenger


class QuietMessenger(RecordingMessenger):
    """Answers at once; the pressed messages exist only in the volunteers' chats."""

    async def edit_keyboard(self, chat_id: int, message_id: int, keyboard: Any) -> None:
        return None


VOLUNTEERS = 2000
CAPACITY = 500
ARRIVALS_PER_SECOND = 1000


async def main() -> dict[str, Any]:
    """Registers volunteers, opens an event with 500 places, and lets everyone press Going."""
    with tempfile.TemporaryDirectory() as directory:
        storage = await open_storage(f"sqlite+aiosqlite:///{Path(directory) / 'storm.sqlite3'}")
        clock = SystemClock()
        now = clock.now()
        async with storage.sessionmaker() as session, session.begin():
            for user_id in range(1, VOLUNTEERS + 1):
                await volunteers.register(
                    session,
                    user_id,
                    {
                        "kind": "individual",
                        "display_name": f"V{user_id}",
                        "country": "LB",
                        "language": "en",
                        "timezone": "Asia/Beirut",
                    },
                    pledge_accepted_at=now,
                    consent_given_at=now,
                    status="active",
                    now=now,
                )
            action = await action_store.create(
                session,
                {
                    "kind": "meeting",
                    "title": "Storm",
                    "description": "d",
                    "at": now + timedelta(days=1),
                    "timezone": "UTC",
                    "capacity": CAPACITY,
                    "audience": {},
                    "group_ids": [],
                    "reminder_minutes": [],
                    "created_by": 1,
                },
                now,
            )
        services = Services(storage.sessionmaker, QuietMessenger(), clock, HandlerSettings())
        dispatcher = Dispatcher(build_router(), services)
        latencies: list[float] = []
        statements = [0]

        def count(*_: Any) -> None:
            statements[0] += 1

        # Every statement sent to the database (BEGIN and COMMIT included when SQLAlchemy
        # emits them as statements; SQLite's implicit BEGIN is not one).
        event.listen(storage.engine.sync_engine, "before_cursor_execute", count)

        async def press(user_id: int) -> None:
            event = Event(
                user_id,
                EventKind.CALLBACK,
                Person(user_id, f"V{user_id}"),
                Chat(user_id, ChatType.PRIVATE),
                callback_id=str(user_id),
                data=f"rv:{action.id}:going",
                message_id=1,
            )
            start = time.perf_counter()
            await dispatcher.feed(event)
            latencies.append(time.perf_counter() - start)

        cpu, wall = time.process_time(), time.perf_counter()
        tasks = []
        for user_id in range(1, VOLUNTEERS + 1):
            tasks.append(asyncio.create_task(press(user_id)))
            if user_id % 50 == 0:
                await asyncio.sleep(50 / ARRIVALS_PER_SECOND)
        await asyncio.gather(*tasks)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        storm_statements = statements[0]
        replays = [asyncio.create_task(press(user_id)) for user_id in range(1, 201)]
        await asyncio.gather(*replays)
        async with storage.sessionmaker() as session:
            recorded = await session.scalar(select(func.count()).select_from(Rsvp))
            counts = await action_store.counts(session, action.id)
        await storage.engine.dispose()
    latencies = sorted(latencies[:VOLUNTEERS])
    result = {
        "presses": VOLUNTEERS,
        "recorded": recorded,
        "going": counts.get("going", 0),
        "waitlist": counts.get("waitlist", 0),
        "seconds": round(wall, 2),
        "updates_per_second": round(VOLUNTEERS / wall, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 1),
        "p95_ms": round(latencies[int(len(latencies) * 0.95)] * 1000, 1),
        "cpu_ms_per_update": round(cpu * 1000 / VOLUNTEERS, 2),
        "sql_statements_per_update": round(storm_statements / VOLUNTEERS, 1),
    }
    print("rsvp:", result, flush=True)
    return result


if __name__ == "__main__":
    asyncio.run(main())
