"""The emulator's core state: registries, ids, the update queue, change versions, serialisation."""

from __future__ import annotations

import asyncio
import itertools
import re
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from .errors import TERMINATED, ApiError, ControlError
from .faults import FaultInjector
from .limits import RateLimiter, RateLimits
from .models import (
    CHANNEL_BOT_ID,
    GROUP_ANONYMOUS_BOT_ID,
    TELEGRAM_ID,
    CallbackQuery,
    Chat,
    JsonDict,
    Member,
    Message,
    Poll,
    StoredFile,
    User,
)

TOKEN_RE = re.compile(r"^(\d{1,20}):[A-Za-z0-9_-]{30,64}$")
ALL_UPDATE_TYPES = frozenset(
    [
        "message",
        "edited_message",
        "callback_query",
        "poll",
        "poll_answer",
        "my_chat_member",
        "chat_member",
        "chat_join_request",
        "message_reaction",
        "message_reaction_count",
    ]
)
DEFAULT_UPDATE_TYPES = ALL_UPDATE_TYPES - {
    "chat_member",
    "message_reaction",
    "message_reaction_count",
}
SYSTEM_USER_IDS = frozenset({GROUP_ANONYMOUS_BOT_ID, CHANNEL_BOT_ID, TELEGRAM_ID})
INACCESSIBLE_AFTER = 48 * 3600
CALLBACK_QUERY_TIMEOUT = 15.0
GET_ME_EXTRAS: JsonDict = {
    "can_join_groups": True,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
    "can_connect_to_business": False,
    "has_main_web_app": False,
}


class World:
    """Users, chats, messages, polls, files, queries, updates and the request log of one bot."""

    def __init__(
        self,
        token: str,
        *,
        bot_username: str = "chorus_sandbox_bot",
        bot_name: str = "Chorus Sandbox",
        now: Callable[[], float] = time.time,
        rate_limits: RateLimits | None = None,
        strict_html: bool = True,
        privacy_mode: bool = True,
        log_limit: int | None = 10_000,
    ) -> None:
        match = TOKEN_RE.match(token)
        if not match:
            raise ValueError("a bot token looks like 123456789:AAE followed by 32 characters")
        self.token = token
        self.now = now
        self.strict_html = strict_html
        self.callback_query_timeout = CALLBACK_QUERY_TIMEOUT
        self.privacy_mode = privacy_mode
        self.limiter = RateLimiter(rate_limits)
        self.faults = FaultInjector()
        self.bot = User(int(match.group(1)), bot_name, username=bot_username, is_bot=True)
        self.request_log: deque[JsonDict] = deque(maxlen=log_limit)
        self._log_ids = itertools.count(1)
        self.closed = False
        self._listeners: set[asyncio.Queue[JsonDict]] = set()
        self._update_signal = asyncio.Event()
        self._poller: object | None = None
        self.poll_waiting = asyncio.Event()
        self.chats: dict[int, Chat] = {}
        self._next_update_id = 100_000_001
        self._user_ids = itertools.count(1_000_000_001)
        self._group_ids = itertools.count(4_000_000_001)
        self._supergroup_ids = itertools.count(1_002_000_000_001)
        self._object_ids = itertools.count(5_300_000_000_000_000_001)
        self.reset()

    def reset(self) -> None:
        """Forgets every user, chat, update, file, command and logged request (keeps the bot).

        Ids keep counting up, so a bot that survives the reset never sees an old id reused.
        """
        for chat in self.chats.values():
            chat.changed.set()
        self.users: dict[int, User] = {self.bot.id: self.bot, **_system_users()}
        self.chats = {}
        self.polls: dict[str, Poll] = {}
        self.files: dict[str, StoredFile] = {}
        self.queries: dict[str, CallbackQuery] = {}
        self.commands: dict[tuple[str, str], list[JsonDict]] = {}
        self.bot_texts: dict[tuple[str, str], str] = {}
        self.default_menu_button: JsonDict | None = None
        self.webhook: JsonDict | None = None
        self.updates: deque[JsonDict] = deque()
        self.confirmed: deque[JsonDict] = deque(maxlen=10_000)
        # Called with the updates a getUpdates is about to confirm, before they are forgotten
        # (tests kill the bot there: the moment an update is confirmed but maybe not handled).
        self.on_confirm: Callable[[list[JsonDict]], None] | None = None
        self.allowed_updates = DEFAULT_UPDATE_TYPES
        self._timed_polls: dict[str, Poll] = {}
        self.request_log.clear()
        self.limiter.reset()
        self.faults.clear()

    def log_request(
        self, method: str, params: JsonDict, status: int, result: Any, error: str | None
    ) -> None:
        """Appends one Bot API call to the request log."""
        if self.request_log.maxlen == 0:
            return
        self.request_log.append(
            {
                "id": next(self._log_ids),
                "time": self.now(),
                "method": method,
                "params": params,
                "status": status,
                "result": result,
                "error": error,
            }
        )

    # ids and time

    def today(self) -> int:
        """Returns the current Unix time as Telegram dates it."""
        return int(self.now())

    def next_object_id(self) -> str:
        """Returns a fresh numeric string id (callback queries, polls, chat instances)."""
        return str(next(self._object_ids))

    def next_user_id(self) -> int:
        """Returns an unused user id."""
        user_id = next(self._user_ids)
        while user_id in self.users:
            user_id = next(self._user_ids)
        return user_id

    def next_group_id(self, supergroup: bool) -> int:
        """Returns a new negative chat id for a group (-4…) or a supergroup (-100…)."""
        return -next(self._supergroup_ids if supergroup else self._group_ids)

    def id_counters(self) -> dict[str, int]:
        """Returns the next ids to hand out (to save a world and restore it without reuse)."""
        counters = {"update_id": self._next_update_id}
        for name in ("user", "group", "supergroup", "object"):
            attribute = f"_{name}_ids"
            value = next(getattr(self, attribute))
            setattr(self, attribute, itertools.count(value))
            counters[f"{name}_id"] = value
        return counters

    def restore_id_counters(self, counters: dict[str, int]) -> None:
        """Continues counting from saved next ids (never below the current ones)."""
        current = self.id_counters()
        self._next_update_id = max(current["update_id"], int(counters.get("update_id", 0)))
        for name in ("user", "group", "supergroup", "object"):
            value = max(current[f"{name}_id"], int(counters.get(f"{name}_id", 0)))
            setattr(self, f"_{name}_ids", itertools.count(value))

    # lookups

    def user(self, user_id: int) -> User:
        """Returns a user or raises ControlError 404."""
        user = self.users.get(user_id)
        if user is None:
            raise ControlError(404, f"no user {user_id}")
        return user

    def chat(self, chat_id: int) -> Chat:
        """Returns a chat or raises ControlError 404."""
        chat = self.chats.get(chat_id)
        if chat is None:
            raise ControlError(404, f"no chat {chat_id}")
        return chat

    def message(self, chat: Chat, message_id: int) -> Message:
        """Returns a live message or raises ControlError 404."""
        message = chat.messages.get(message_id)
        if message is None or message.deleted:
            raise ControlError(404, f"no message {message_id} in chat {chat.id}")
        return message

    def bot_status(self, chat: Chat) -> str:
        """Returns the bot's membership status in a chat."""
        if chat.type == "private":
            return "kicked" if chat.blocked else "member"
        return chat.status_of(self.bot.id)

    # changes

    def add_message(self, chat: Chat, from_id: int, **fields: Any) -> Message:
        """Stores a new message in the chat and bumps the chat's version."""
        message = Message(chat.next_message_id, chat.id, from_id, self.today(), **fields)
        chat.next_message_id += 1
        chat.messages[message.message_id] = message
        self.touch(chat, message)
        return message

    def touch(self, chat: Chat, message: Message | None = None) -> int:
        """Bumps a chat's version, wakes its watchers and returns the new version."""
        chat.version += 1
        if message is not None:
            message.version = chat.version
        signal = chat.changed
        chat.changed = asyncio.Event()
        signal.set()
        if self._listeners:
            self.broadcast({"type": "chat", "chat_id": chat.id, "version": chat.version})
        return chat.version

    def broadcast(self, event: JsonDict) -> None:
        """Sends an event to every /control/events listener (dropped for slow ones)."""
        for queue in self._listeners:
            if queue.qsize() < 1000:
                queue.put_nowait(event)

    def listen(self) -> asyncio.Queue[JsonDict]:
        """Registers an event listener queue."""
        queue: asyncio.Queue[JsonDict] = asyncio.Queue()
        self._listeners.add(queue)
        return queue

    def unlisten(self, queue: asyncio.Queue[JsonDict]) -> None:
        """Removes an event listener queue."""
        self._listeners.discard(queue)

    async def wait_chat(self, chat: Chat, after_version: int, wait: float) -> None:
        """Waits until the chat's version exceeds `after_version`, or `wait` seconds pass."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while chat.version <= after_version and not self.closed:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            try:
                await asyncio.wait_for(chat.changed.wait(), remaining)
            except TimeoutError:
                return

    def close(self) -> None:
        """Wakes every waiter so that the server can stop promptly."""
        self.closed = True
        self._update_signal.set()
        for chat in self.chats.values():
            chat.changed.set()
        for query in self.queries.values():
            query.answered.set()
        self.broadcast({"type": "closed"})

    # updates

    def enqueue(self, kind: str, payload: JsonDict) -> None:
        """Queues an update for getUpdates unless allowed_updates excludes its type."""
        if kind not in self.allowed_updates:
            return
        self.updates.append({"update_id": self._next_update_id, kind: payload})
        self._next_update_id += 1
        signal = self._update_signal
        self._update_signal = asyncio.Event()
        signal.set()

    def confirm_updates(self, offset: int) -> None:
        """Forgets updates before `offset` (a negative offset keeps the last -offset)."""
        updates = self.updates
        if offset < 0:
            while len(updates) > -offset:
                updates.popleft()
        else:
            if self.on_confirm is not None and updates and updates[0]["update_id"] < offset:
                self.on_confirm([u for u in updates if u["update_id"] < offset])
            while updates and updates[0]["update_id"] < offset:
                self.confirmed.append(updates.popleft())

    def redeliver(self, update_id: int) -> JsonDict:
        """Makes a confirmed update pending again, as Telegram does when a bot crashed before
        its confirmation reached Telegram; a poller that starts afresh gets it a second time."""
        for update in self.confirmed:
            if update["update_id"] == update_id:
                if all(u["update_id"] != update_id for u in self.updates):
                    self.updates.appendleft(update)
                    self.updates = deque(sorted(self.updates, key=lambda u: u["update_id"]))
                    self._wake_pollers()
                return update
        raise ControlError(404, f"no confirmed update {update_id} (the last 10,000 are kept)")

    async def next_updates(self, limit: int, wait: float) -> list[JsonDict]:
        """Returns pending updates, waiting up to `wait` s; a newer poll ends this one (409)."""
        token = object()
        previous = self._poller
        self._poller = token
        if previous is not None:
            self._wake_pollers()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        try:
            while True:
                self.tick()
                if self.updates:
                    batch = list(itertools.islice(self.updates, limit))
                    self._mark_delivered(batch)
                    return batch
                remaining = deadline - loop.time()
                if remaining <= 0 or self.closed:
                    return []
                self.poll_waiting.set()
                try:
                    await asyncio.wait_for(self._update_signal.wait(), remaining)
                except TimeoutError:
                    return []
                if self._poller is not token:
                    raise ApiError(409, "Conflict: " + TERMINATED)
        finally:
            if self._poller is token:
                self._poller = None
                self.poll_waiting.clear()

    def _mark_delivered(self, batch: list[JsonDict]) -> None:
        """Starts the answer window of the button presses the bot now receives."""
        now = self.now()
        for update in batch:
            if "callback_query" in update:
                query = self.queries.get(update["callback_query"]["id"])
                if query is not None and query.delivered is None:
                    query.delivered = now

    def _wake_pollers(self) -> None:
        signal = self._update_signal
        self._update_signal = asyncio.Event()
        signal.set()

    def tick(self) -> None:
        """Closes timed polls whose close_date has passed."""
        if not self._timed_polls:
            return
        now = self.now()
        for poll in [p for p in self._timed_polls.values() if (p.close_date or 0) <= now]:
            self.close_poll(poll)

    def close_poll(self, poll: Poll) -> None:
        """Closes a poll, tells the bot with a `poll` update and refreshes the chat."""
        poll.is_closed = True
        self._timed_polls.pop(poll.id, None)
        self.enqueue("poll", poll.to_api())
        chat = self.chats[poll.chat_id]
        message = chat.messages.get(poll.message_id)
        self.touch(chat, message)

    def track_poll(self, poll: Poll) -> None:
        """Registers a poll; timed polls are closed by tick()."""
        self.polls[poll.id] = poll
        if poll.close_date is not None and not poll.is_closed:
            self._timed_polls[poll.id] = poll

    # serialisation

    def user_api(self, user_id: int) -> JsonDict:
        """Returns the User object for an id."""
        return self.users[user_id].to_api()

    def get_me(self) -> JsonDict:
        """Returns the bot's User object as getMe shows it."""
        return {**self.bot.to_api(), **GET_ME_EXTRAS}

    def chat_api(self, chat: Chat) -> JsonDict:
        """Returns the Chat object."""
        data: JsonDict = {"id": chat.id, "type": chat.type}
        if chat.type == "private":
            user = self.users[chat.user_id or chat.id]
            data["first_name"] = user.first_name
            if user.last_name:
                data["last_name"] = user.last_name
            if user.username:
                data["username"] = user.username
        else:
            data["title"] = chat.title or ""
            if chat.username:
                data["username"] = chat.username
            if chat.is_forum:
                data["is_forum"] = True
        return data

    def message_api(self, message: Message, *, with_reply: bool = True) -> JsonDict:
        """Returns the Message object as the Bot API shows it now."""
        chat = self.chats[message.chat_id]
        data: JsonDict = {"message_id": message.message_id}
        if chat.type != "channel":  # a channel's posts have sender_chat, no from
            data["from"] = self.user_api(message.from_id)
        data["chat"] = self.chat_api(chat)
        data["date"] = message.date
        if message.sender_chat_id is not None:
            data["sender_chat"] = self.chat_api(self.chats[message.sender_chat_id])
        thread_id = self.thread_of(chat, message)
        if thread_id is not None:
            data["message_thread_id"] = thread_id
            if message.thread_id is not None:
                data["is_topic_message"] = True
        if message.forward_origin is not None:
            data["forward_origin"] = message.forward_origin
            data["is_automatic_forward"] = True
        reply_to = message.reply_to
        if (
            reply_to is None
            and message.thread_id is not None
            and message.thread_id != message.message_id
        ):
            reply_to = message.thread_id  # Telegram shows a topic message as a reply to its root
        if with_reply and reply_to is not None:
            replied = chat.messages.get(reply_to)
            if replied is not None and not replied.deleted:
                data["reply_to_message"] = self.message_api(replied, with_reply=False)
        if message.edit_date is not None:
            data["edit_date"] = message.edit_date
        if message.text is not None:
            data["text"] = message.text
            if message.entities:
                data["entities"] = message.entities
            if message.link_preview_options:
                data["link_preview_options"] = message.link_preview_options
        if message.document_id is not None:
            data["document"] = self.document_api(self.files[message.document_id])
        if message.photo_id is not None:
            data["photo"] = [self.photo_api(self.files[message.photo_id])]
        if message.caption is not None:
            data["caption"] = message.caption
            if message.caption_entities:
                data["caption_entities"] = message.caption_entities
        if message.poll_id is not None:
            data["poll"] = self.polls[message.poll_id].to_api()
        if message.media:
            data.update(message.media)
        if message.service:
            data.update(message.service)
        if message.reply_markup is not None:
            data["reply_markup"] = message.reply_markup
        return data

    def thread_of(self, chat: Chat, message: Message) -> int | None:
        """Returns the message_thread_id Telegram shows on a message of a forum, or None.

        A topic's messages carry the topic's id. In a forum's General topic a reply carries the
        id of the message its reply chain started from (a reply thread, not a topic: sending to
        it answers 400 "message thread not found"; tdlib/telegram-bot-api#356).
        """
        if not chat.is_forum:
            return None
        if message.thread_id is not None:
            return message.thread_id
        root, seen = message, {message.message_id}
        while root.reply_to is not None and root.reply_to not in seen:
            parent = chat.messages.get(root.reply_to)
            if parent is None:
                break
            seen.add(parent.message_id)
            root = parent
        return root.message_id if root is not message else None

    def inaccessible_api(self, chat: Chat, message_id: int) -> JsonDict:
        """Returns the InaccessibleMessage object (date 0) of a deleted or too old message."""
        return {"chat": self.chat_api(chat), "message_id": message_id, "date": 0}

    def document_api(self, stored: StoredFile) -> JsonDict:
        """Returns the Document object of a stored file."""
        data: JsonDict = {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id}
        if stored.file_name:
            data["file_name"] = stored.file_name
        if stored.mime_type:
            data["mime_type"] = stored.mime_type
        data["file_size"] = len(stored.data)
        return data

    def photo_api(self, stored: StoredFile) -> JsonDict:
        """Returns the PhotoSize object of a stored picture."""
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.data),
            "width": stored.width,
            "height": stored.height,
        }

    def member_api(self, chat: Chat, user_id: int, status: str | None = None) -> JsonDict:
        """Returns the ChatMember object (the subtype its status calls for)."""
        member = chat.members.get(user_id)
        status = status or (member.status if member else "left")
        data: JsonDict = {"status": status, "user": self.user_api(user_id)}
        anonymous = bool(member and member.is_anonymous)
        if status == "creator":
            data["is_anonymous"] = anonymous
        elif status == "administrator":
            data.update(_ADMIN_RIGHTS)
            data["is_anonymous"] = anonymous
            data["can_manage_topics"] = chat.is_forum
        elif status == "kicked":
            data["until_date"] = member.until_date if member else 0
        return data

    def members(self, chat: Chat, statuses: Iterable[str]) -> list[Member]:
        """Returns the chat's members whose status is one of `statuses`."""
        wanted = set(statuses)
        return [m for m in chat.members.values() if m.status in wanted]


def _system_users() -> dict[int, User]:
    """Telegram's own accounts that appear as senders: anonymous admins, channels, Telegram."""
    return {
        GROUP_ANONYMOUS_BOT_ID: User(
            GROUP_ANONYMOUS_BOT_ID, "Group", username="GroupAnonymousBot", is_bot=True
        ),
        CHANNEL_BOT_ID: User(CHANNEL_BOT_ID, "Channel", username="Channel_Bot", is_bot=True),
        TELEGRAM_ID: User(TELEGRAM_ID, "Telegram"),
    }


_ADMIN_RIGHTS: JsonDict = {
    "can_be_edited": False,
    "is_anonymous": False,
    "can_manage_chat": True,
    "can_delete_messages": True,
    "can_manage_video_chats": True,
    "can_restrict_members": True,
    "can_promote_members": False,
    "can_change_info": True,
    "can_invite_users": True,
    "can_post_stories": False,
    "can_edit_stories": False,
    "can_delete_stories": False,
    "can_send_welcome_messages": False,
    "can_pin_messages": True,
    "can_manage_topics": False,
}
