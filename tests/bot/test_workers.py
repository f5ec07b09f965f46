"""Several workers: refused on SQLite with one line; on PostgreSQL they share the outbox."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.app import Storage, open_storage
from bot.config import ConfigError
from bot.delivery import DeliveryConfig, DeliveryEngine
from bot.workers import Leadership, hold_only_worker
from handlers.kernel.ports import ShiftedClock, SystemClock
from storage import outbox
from storage.outbox import Claimed, Outgoing

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "123456789:AAE" + "x" * 32


def test_a_second_worker_on_one_sqlite_file_is_refused_with_one_line(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'chorus.sqlite3'}"
    first = hold_only_worker(url)
    try:
        with pytest.raises(ConfigError) as refused:
            hold_only_worker(url)
        message = str(refused.value)
        assert "\n" not in message
        assert message.startswith("DATABASE_URL: a Chorus worker (process ")
        assert "several need PostgreSQL" in message
        # Another file is another bot.
        hold_only_worker(f"sqlite+aiosqlite:///{tmp_path / 'other.sqlite3'}").release()
    finally:
        first.release()
    hold_only_worker(url).release()  # free again once the first stopped


def test_chorus_run_beside_a_running_worker_stops_with_one_line(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'chorus.sqlite3'}"
    running = hold_only_worker(url)
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    env |= {"PYTHONPATH": str(ROOT), "BOT_TOKEN": TOKEN, "DATABASE_URL": url}
    try:
        result = subprocess.run(
            [sys.executable, "-m", "bot", "run"],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        running.release()
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("chorus: configuration error: DATABASE_URL: a Chorus worker")


def test_postgresql_needs_no_worker_lock() -> None:
    url = "postgresql+asyncpg://chorus@db.example.org/chorus"
    hold_only_worker(url).release()
    hold_only_worker(url).release()


class CountingTransport:
    """Sends nothing; notes which rows it was asked to send."""

    def __init__(self, sent: Counter[int]) -> None:
        self.sent = sent
        self.mine = 0
        self.busy = asyncio.Event()  # set once 50 rows were sent

    async def send(self, item: Claimed, paid: bool) -> int:
        """Notes the row (a moment's wait, as a real send)."""
        await asyncio.sleep(0.001)
        self.sent[item.id] += 1
        self.mine += 1
        if self.mine >= 50:
            self.busy.set()
        return item.id


@pytest.mark.postgres
async def test_two_delivery_engines_on_one_postgresql_send_each_row_once(
    pg_storage: Storage, postgres_url: str
) -> None:
    """Two workers' engines (two engines, two pools) claim with FOR UPDATE SKIP LOCKED."""
    rows = 1500
    now = datetime.now(UTC)
    async with pg_storage.sessionmaker() as session, session.begin():
        await outbox.enqueue(
            session,
            [Outgoing(chat_id=1000 + index, text="hello") for index in range(rows)],
            purpose="broadcast",
            ref="b1",
            now=now,
        )
    second = await open_storage(postgres_url)
    sent: Counter[int] = Counter()
    transports = [CountingTransport(sent), CountingTransport(sent)]
    config = DeliveryConfig(rate=1000, paid=False, max_in_flight=32, lease=60.0)
    engines = [
        DeliveryEngine(storage.sessionmaker, transport, SystemClock(), config)
        for storage, transport in zip((pg_storage, second), transports, strict=True)
    ]
    try:
        # The second starts while the first is sending: its start-up recovery must leave the
        # first's rows in flight alone (it used to put every 'sending' row back: duplicates).
        await engines[0].start()
        engines[0].wake()
        await asyncio.wait_for(transports[0].busy.wait(), 60)
        await engines[1].start()
        engines[1].wake()
        await engines[0].wait_until_idle(timeout=120)
    finally:
        await asyncio.gather(*(engine.stop() for engine in engines))
        await second.engine.dispose()
    assert len(sent) == rows
    assert max(sent.values()) == 1, [row for row, times in sent.items() if times > 1][:10]
    assert all(transport.mine > rows // 10 for transport in transports), [
        t.mine for t in transports
    ]
    async with pg_storage.sessionmaker() as session:
        assert await outbox.counts(session, "b1") == {"sent": rows}


@pytest.mark.postgres
async def test_a_dead_workers_rows_in_flight_are_sent_by_another_after_the_lease(
    pg_storage: Storage, postgres_url: str
) -> None:
    rows = 40
    clock = ShiftedClock()
    async with pg_storage.sessionmaker() as session, session.begin():
        await outbox.enqueue(
            session,
            [Outgoing(chat_id=1000 + index, text="hello") for index in range(rows)],
            purpose="broadcast",
            ref="b1",
            now=clock.now(),
        )
    config = DeliveryConfig(rate=1000, paid=False, lease=0.4)
    sent: Counter[int] = Counter()
    async with pg_storage.sessionmaker() as session, session.begin():  # a worker, then killed
        assert len(await outbox.claim(session, rows, clock.now())) == rows
    second = await open_storage(postgres_url)
    alive_transport = CountingTransport(sent)
    alive = DeliveryEngine(second.sessionmaker, alive_transport, clock, config)
    try:
        await alive.start()  # the dead worker's claims are fresh: not taken yet
        async with second.sessionmaker() as session:
            assert await outbox.in_flight(session) == rows
        clock.advance(timedelta(seconds=1))  # past the lease
        await alive.wait_until_idle(timeout=60)
    finally:
        await alive.stop()
        await second.engine.dispose()
    assert sent == Counter({row: 1 for row in sent}) and len(sent) == rows
    assert alive.stats.recovered == rows


@pytest.mark.postgres
async def test_one_leader_and_another_takes_over_when_it_dies(
    pg_storage: Storage, postgres_url: str
) -> None:
    """Two workers: one leads; its connection dies (a kill) and the other leads within one
    attempt interval (TRY_EVERY, 5 s in production: well inside 15 s)."""
    events: list[str] = []

    def worker(name: str, storage: Storage) -> Leadership:
        async def elected() -> None:
            events.append(f"{name} leads")

        async def deposed() -> None:
            events.append(f"{name} stands down")

        return Leadership(storage.engine, elected, deposed, try_every=0.1)

    other = await open_storage(postgres_url)
    first, second = worker("first", pg_storage), worker("second", other)
    try:
        await first.start()
        await second.start()
        assert first.leader and not second.leader
        assert events == ["first leads"]
        # Killed: its socket closes, PostgreSQL lets the lock go.
        assert first._connection is not None
        await first._connection.invalidate()
        async with asyncio.timeout(10):
            await second.elected.wait()
        assert second.leader
        assert events[-1] == "second leads"
        assert events.count("second leads") == 1
    finally:
        await first.stop()
        await second.stop()
        await other.engine.dispose()


async def test_on_sqlite_the_only_worker_leads_at_once(tmp_path: Path) -> None:
    storage = await open_storage(f"sqlite+aiosqlite:///{tmp_path / 'chorus.sqlite3'}")
    led: list[bool] = []

    async def elected() -> None:
        led.append(True)

    async def deposed() -> None:
        led.append(False)

    leadership = Leadership(storage.engine, elected, deposed)
    try:
        await leadership.start()
        assert led == [True] and leadership.leader
    finally:
        await leadership.stop()
        await storage.engine.dispose()
