"""A backup taken while a broadcast is being delivered, restored into a fresh file: the bot
started on it delivers the rest, and sends twice only what the backup could not know was sent."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from bot.ops.backup import BackupError, backup, restore
from tests.e2e.conftest import ChorusUnderTest
from tests.e2e.test_actions import _create_meeting, _registered_volunteers, _until


def outbox_rows(path: Path) -> dict[int, str]:
    """The broadcast's rows in a database file: chat id → state."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        return dict(db.execute("SELECT chat_id, state FROM outbox WHERE purpose = 'broadcast'"))


@pytest.mark.parametrize("chorus", ["aiogram"], indirect=True)
async def test_a_backup_taken_mid_broadcast_restores_and_loses_nothing(
    chorus: ChorusUnderTest, tmp_path: Path
) -> None:
    state = chorus.emulator.state
    ids = await _registered_volunteers(chorus, 150)
    when = (chorus.clock.now() + timedelta(days=2)).strftime("%Y-%m-%d 10:00")
    await _create_meeting(chorus.coordinator, when)
    await chorus.coordinator.press("✅ Send it")

    def delivered() -> set[int]:
        return {i for i in ids if state.chats[i].messages}

    await _until(lambda: len(delivered()) >= 40)
    copy = tmp_path / "backups" / "chorus.sqlite3"
    copy.parent.mkdir()
    await asyncio.to_thread(backup, chorus.database_url, copy)  # the bot keeps sending
    with pytest.raises(BackupError, match="a bot is running"):
        restore(chorus.database_url, copy, confirmed=True)
    assert chorus.running is not None and chorus.running.delivery is not None
    window = chorus.running.delivery.window
    await chorus.kill()  # the machine is lost just after the backup

    in_backup = outbox_rows(copy)
    assert sorted(in_backup) == sorted(ids)
    sent_in_backup = {chat for chat, row_state in in_backup.items() if row_state == "sent"}
    waiting = [s for s in in_backup.values() if s in ("pending", "sending")]
    assert sent_in_backup and waiting, "the backup was not taken mid-broadcast"
    assert sum(s == "sending" for s in in_backup.values()) <= window

    fresh = tmp_path / "restored" / "chorus.sqlite3"
    fresh_url = f"sqlite+aiosqlite:///{fresh}"
    with pytest.raises(BackupError, match="add --yes"):
        restore(fresh_url, copy, confirmed=False)
    restored = restore(fresh_url, copy, confirmed=True)
    assert restored.at_head
    sent_by_the_lost_bot = delivered()
    chorus.database_url = fresh_url
    await chorus.start()
    assert chorus.running is not None and chorus.running.delivery is not None
    await _until(lambda: len(delivered()) == len(ids))
    await chorus.running.delivery.wait_until_idle()

    counts = {i: len(state.chats[i].messages) for i in ids}
    twice = {i for i, count in counts.items() if count == 2}
    assert set(counts.values()) <= {1, 2}  # nothing lost, nothing thrice
    # Exactly the messages sent after the backup's snapshot arrive twice; none it knew was sent.
    assert twice == sent_by_the_lost_bot - sent_in_backup
    assert set(outbox_rows(fresh).values()) == {"sent"}


def test_restore_checks_the_file_is_a_chorus_database_it_knows(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'chorus.sqlite3'}"
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(BackupError, match="not an SQLite database"):
        restore(url, text, confirmed=True)
    other = tmp_path / "other.sqlite3"
    with contextlib.closing(sqlite3.connect(other)) as db:
        db.execute("CREATE TABLE t (x)")
    with pytest.raises(BackupError, match="not a Chorus database"):
        restore(url, other, confirmed=True)
