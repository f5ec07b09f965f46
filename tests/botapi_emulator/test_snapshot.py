"""The emulator's world saved to JSON and restored: what chats show, and ids that never repeat."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from aiogram import Bot
from aiogram.types import BufferedInputFile, InlineKeyboardButton, InlineKeyboardMarkup

from botapi_emulator import EmulatorState, RunningEmulator, fake_token, snapshot
from botapi_emulator.errors import ControlError
from botapi_emulator.models import User
from botapi_emulator.snapshot import SnapshotError, WorldKeeper, dump, load
from botapi_emulator.views import chat_view
from botapi_emulator.world import SYSTEM_USER_IDS
from tests.botapi_emulator.test_buttons_and_polls import options
from tests.botapi_emulator.test_files import png


async def _lived_in(bot: Bot, state: EmulatorState, alice: User) -> int:
    """Messages, a button, a poll with votes, a document, a photo, a group; returns its id."""
    bob = state.create_user("Bob", language_code="ar", user_id=4242)
    state.send_text(bob.id, "/start")
    group = state.create_group("Coalition", [alice.id, bob.id], bot_status="administrator")
    keyboard = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="Going", callback_data="rv:1:going")]]
    )
    await bot.send_message(
        alice.id, "<b>Vigil</b> tonight", parse_mode="HTML", reply_markup=keyboard
    )
    await bot.send_document(alice.id, BufferedInputFile(b"a,b\n1,2\n", filename="roster.csv"))
    await bot.send_photo(alice.id, BufferedInputFile(png(3, 2), filename="chart.png"))
    poll = await bot.send_poll(group.id, "Lunch?", options("Yes", "No"), is_anonymous=False)
    state.vote(alice.id, [0], chat_id=group.id, message_id=poll.message_id)
    state.vote(bob.id, [1], chat_id=group.id, message_id=poll.message_id)
    return group.id


async def test_a_saved_world_shows_the_same_chats_and_keeps_counting(
    bot: Bot, emulator: RunningEmulator, started_user: User
) -> None:
    state = emulator.state
    group_id = await _lived_in(bot, state, started_user)
    saved = dump(state, {"clock_offset": 86400.0})
    before = {chat_id: chat_view(state, chat) for chat_id, chat in state.chats.items()}
    last_update = state.updates[-1]["update_id"]

    restored = EmulatorState(state.token)
    assert load(restored, saved) == {"clock_offset": 86400.0}

    assert {cid: chat_view(restored, chat) for cid, chat in restored.chats.items()} == before
    assert restored.files.keys() == state.files.keys()
    assert [u["update_id"] for u in restored.updates] == [u["update_id"] for u in state.updates]
    newcomer = restored.create_user("Carla")
    assert newcomer.id not in state.users
    restored.send_text(newcomer.id, "/start")
    assert restored.updates[-1]["update_id"] > last_update
    assert restored.next_object_id() not in state.polls
    poll = next(iter(restored.polls.values()))
    with pytest.raises(ControlError):
        restored.vote(newcomer.id, [0], poll_id=poll.id)  # not a member of the group
    assert restored.polls[poll.id].counts() == [1, 1]
    assert restored.chats[group_id].members.keys() == state.chats[group_id].members.keys()


def test_a_damaged_or_foreign_world_is_refused() -> None:
    state = EmulatorState(fake_token(111))
    state.create_user("Alice")
    with pytest.raises(SnapshotError):
        load(state, b"{not json")
    other = EmulatorState(fake_token(222))
    with pytest.raises(SnapshotError, match="saved for bot 111"):
        load(other, dump(state))
    with pytest.raises(SnapshotError, match="damaged"):
        load(state, b'{"format": 1, "bot_id": 111, "users": [{"nobody": 1}]}')
    restored = [u.id for u in state.users.values() if u.id not in SYSTEM_USER_IDS]
    assert restored == [111]  # nothing half-restored


async def test_the_keeper_saves_after_a_change_and_when_stopped(
    emulator: RunningEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(snapshot, "SAVE_DELAY", 0.01)
    path = tmp_path / "world.json"
    keeper = WorldKeeper(emulator.state, path, lambda: {"clock_offset": 5.0})
    keeper.start()
    emulator.state.create_user("Alice", user_id=77)
    await asyncio.wait_for(keeper.saved.wait(), 30)
    assert keeper.saves == 1 and path.exists()
    emulator.state.create_user("Bob", user_id=78)
    await keeper.stop()
    assert keeper.saves >= 2
    restored = EmulatorState(emulator.state.token)
    assert load(restored, path.read_bytes()) == {"clock_offset": 5.0}
    assert restored.users[77].first_name == "Alice"
