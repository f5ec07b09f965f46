"""The sandbox's world on disk: people, chats, messages, polls and files survive a restart.

`dump` and `load` turn an EmulatorState into JSON and back; `WorldKeeper` writes the file a
moment after the world changes (it listens to the same events as the sandbox page) and once more
when it stops. Update, message, poll and user ids keep counting from where they were, so the
bot's own database (which remembers processed update ids and poll ids) never sees one reused.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import os
from collections.abc import Callable
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

import orjson

from .models import Chat, JsonDict, Member, Message, Poll, StoredFile, Topic, User
from .state import EmulatorState
from .world import SYSTEM_USER_IDS

log = logging.getLogger(__name__)

FORMAT = 1
SAVE_DELAY = 2.0
_CHAT_SKIPPED = frozenset({"members", "messages", "topics", "changed"})


class SnapshotError(Exception):
    """The saved world cannot be read."""


def dump(state: EmulatorState, extra: JsonDict | None = None) -> bytes:
    """Returns the world as JSON; `extra` is kept alongside for the caller (e.g. the clock)."""
    data: JsonDict = {
        "format": FORMAT,
        "bot_id": state.bot.id,
        "counters": state.id_counters(),
        "users": [
            asdict(u) for u in state.users.values() if not u.is_bot and u.id not in SYSTEM_USER_IDS
        ],
        "chats": [_chat(chat) for chat in state.chats.values()],
        "polls": [_poll(poll) for poll in state.polls.values()],
        "files": [_file(stored) for stored in state.files.values()],
        "updates": list(state.updates),
        "extra": extra or {},
    }
    return orjson.dumps(data)


def load(state: EmulatorState, raw: bytes) -> JsonDict:
    """Replaces the state's world with a saved one and returns its `extra`."""
    try:
        data = orjson.loads(raw)
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise SnapshotError(f"not a sandbox world of format {FORMAT}")
        if data.get("bot_id") != state.bot.id:
            raise SnapshotError(f"saved for bot {data.get('bot_id')}, not {state.bot.id}")
        state.reset()
        for user in data["users"]:
            restored = User(**_known(User, user))
            state.users[restored.id] = restored
        for chat in data["chats"]:
            restored_chat = _restore_chat(chat)
            state.chats[restored_chat.id] = restored_chat
        for poll in data["polls"]:
            state.track_poll(_restore_poll(poll))
        for stored in data["files"]:
            restored_file = StoredFile(
                **{**_known(StoredFile, stored), "data": base64.b64decode(stored["data"])}
            )
            state.files[restored_file.file_id] = restored_file
        state.updates.extend(data["updates"])
        state.restore_id_counters(data["counters"])
    except (KeyError, TypeError, ValueError) as exc:
        state.reset()
        raise SnapshotError(f"the saved world is damaged: {exc!r}") from exc
    extra = data.get("extra")
    return extra if isinstance(extra, dict) else {}


def write_atomically(path: Path, data: bytes) -> None:
    """Writes a file so that a crash leaves either the old or the new content."""
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)


class WorldKeeper:
    """Saves the world to a file shortly after each change, and when stopped."""

    def __init__(
        self, state: EmulatorState, path: Path, extra: Callable[[], JsonDict] = dict
    ) -> None:
        self.state = state
        self.path = path
        self._extra = extra
        self._queue = state.listen()
        self._task: asyncio.Task[None] | None = None
        self.saves = 0
        self.saved = asyncio.Event()

    def start(self) -> None:
        """Starts watching for changes."""
        self._task = asyncio.get_running_loop().create_task(self._run())

    def save(self) -> None:
        """Writes the world now."""
        write_atomically(self.path, dump(self.state, self._extra()))
        self.saves += 1
        self.saved.set()

    async def stop(self) -> None:
        """Stops watching and saves one last time."""
        self.state.unlisten(self._queue)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._save_logged()

    async def _run(self) -> None:
        while True:
            await self._queue.get()
            await asyncio.sleep(SAVE_DELAY)  # gather a burst of changes into one write
            while not self._queue.empty():
                self._queue.get_nowait()
            self._save_logged()

    def _save_logged(self) -> None:
        try:
            self.save()
        except OSError as exc:
            log.warning("could not save the sandbox world to %s: %s", self.path, exc)


def _known(cls: Any, data: JsonDict) -> JsonDict:
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in data.items() if k in names}


def _chat(chat: Chat) -> JsonDict:
    data = {f.name: getattr(chat, f.name) for f in fields(Chat) if f.name not in _CHAT_SKIPPED}
    data["members"] = [asdict(m) for m in chat.members.values()]
    data["messages"] = [asdict(m) for m in chat.messages.values()]
    data["topics"] = [asdict(t) for t in chat.topics.values()]
    return data


def _restore_chat(data: JsonDict) -> Chat:
    chat = Chat(**{k: v for k, v in _known(Chat, data).items() if k not in _CHAT_SKIPPED})
    chat.members = {m["user_id"]: Member(**_known(Member, m)) for m in data["members"]}
    chat.topics = {t["id"]: Topic(**_known(Topic, t)) for t in data.get("topics", [])}
    for item in data["messages"]:
        message = Message(**_known(Message, item))
        chat.messages[message.message_id] = message
    return chat


def _poll(poll: Poll) -> JsonDict:
    data = asdict(poll)
    data["votes"] = [[user_id, list(choice)] for user_id, choice in poll.votes.items()]
    return data


def _restore_poll(data: JsonDict) -> Poll:
    poll = Poll(**{**_known(Poll, data), "votes": {}})
    poll.votes = {int(user_id): tuple(choice) for user_id, choice in data["votes"]}
    return poll


def _file(stored: StoredFile) -> JsonDict:
    data = asdict(stored)
    data["data"] = base64.b64encode(stored.data).decode("ascii")
    return data
