"""A test client that acts like people in the sandbox, through the control API.

    async with SandboxClient(emulator.url) as sb:
        alice = await sb.create_user("Alice", language_code="fr")
        await alice.send("/start")
        reply = await alice.wait_for_reply()
        await alice.press("English")

Waiting long-polls the chat's version; nothing sleeps for a fixed time.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from .client_models import (
    CallbackAnswer,
    JsonDict,
    SandboxError,
    SandboxFile,
    SandboxMessage,
    SandboxPoll,
)
from .models import visible

Predicate = Callable[[SandboxMessage], bool]


@dataclass(frozen=True)
class Topic:
    """A topic of a forum supergroup; `id` is the message_thread_id of its messages."""

    group: Group = field(repr=False, compare=False)
    id: int
    name: str


@dataclass(frozen=True)
class Channel:
    """A channel; with a discussion group its posts are forwarded there automatically."""

    client: SandboxClient = field(repr=False, compare=False)
    id: int
    title: str

    async def post(self, text: str) -> SandboxMessage | None:
        """Posts in the channel; returns the forwarded copy in the discussion group, if any."""
        answer = await self.client.post(f"/control/channels/{self.id}/posts", text=text)
        forwarded = answer.get("forwarded")
        if forwarded is None:
            return None
        return await self.client.message(forwarded["chat"]["id"], forwarded["message_id"])


@dataclass(frozen=True)
class Group:
    """A group or supergroup in the sandbox (`is_forum`: a supergroup with topics)."""

    client: SandboxClient = field(repr=False, compare=False)
    id: int
    title: str
    type: str
    is_forum: bool = False

    async def create_topic(self, name: str, *, by: Person | None = None) -> Topic:
        """Opens a forum topic (by the creator unless `by` says who)."""
        topic = await self.client.post(
            f"/control/chats/{self.id}/topics", name=name, by=by.id if by else None
        )
        return Topic(self, topic["message_thread_id"], topic["name"])

    async def make_anonymous(self, person: Person, anonymous: bool = True) -> None:
        """Makes an administrator anonymous: their messages come from GroupAnonymousBot."""
        await self.client.post(
            f"/control/chats/{self.id}/members/{person.id}/anonymous", anonymous=anonymous
        )

    async def add(self, person: Person, *, admin: bool = False) -> None:
        """Adds a person to the group."""
        status = "administrator" if admin else "member"
        await self.client.post(
            f"/control/chats/{self.id}/members", user_id=person.id, status=status
        )

    async def remove(self, person: Person, *, kicked: bool = False) -> None:
        """Removes a person (they leave, or are banned with `kicked`)."""
        query = "?kicked=1" if kicked else ""
        await self.client.request("DELETE", f"/control/chats/{self.id}/members/{person.id}{query}")

    async def add_bot(self, *, admin: bool = False) -> None:
        """Adds the bot back to the group (the bot gets my_chat_member)."""
        bot_id = (await self.client.bot())["id"]
        status = "administrator" if admin else "member"
        await self.client.post(f"/control/chats/{self.id}/members", user_id=bot_id, status=status)

    async def remove_bot(self, *, kicked: bool = False) -> None:
        """Removes the bot from the group."""
        bot_id = (await self.client.bot())["id"]
        query = "?kicked=1" if kicked else ""
        await self.client.request("DELETE", f"/control/chats/{self.id}/members/{bot_id}{query}")

    async def messages(self) -> list[SandboxMessage]:
        """Returns what the group shows."""
        return await self.client.messages(self.id)

    async def migrate(self) -> Group:
        """Upgrades the group to a supergroup and returns the new chat."""
        return await self.client.migrate(self)


ChatRef = Group | int | None
FRESH_GRACE = 1.0
MediaSpec = dict[str, Any]


class Person:
    """A sandbox user who writes, presses buttons, votes and waits for the bot."""

    def __init__(self, client: SandboxClient, user: JsonDict) -> None:
        self.client = client
        self.user = user
        self.id: int = user["id"]
        self.first_name: str = user["first_name"]
        self._anchor_version: dict[int, int] = {}
        self._reply_cursor: dict[int, int] = {}

    def __repr__(self) -> str:
        return f"Person({self.first_name!r}, id={self.id})"

    def _chat_id(self, chat: ChatRef) -> int:
        if chat is None:
            return self.id
        return chat.id if isinstance(chat, Group) else chat

    def _mark(self, chat_id: int, version: int, last_message_id: int) -> None:
        self._anchor_version[chat_id] = version
        self._reply_cursor[chat_id] = last_message_id

    async def send(
        self,
        text: str,
        *,
        chat: ChatRef = None,
        reply_to: SandboxMessage | int | None = None,
        topic: Topic | None = None,
        as_channel: Channel | None = None,
    ) -> SandboxMessage:
        """Writes a message (default: in the private chat with the bot); returns it.

        `topic`: a forum topic (default: General, or the replied message's topic);
        `as_channel`: write in the name of a channel I own (sender_chat = the channel).
        """
        return await self._post(chat, reply_to, topic, as_channel, text=text)

    async def send_sticker(
        self, emoji: str = "👍", *, chat: ChatRef = None, topic: Topic | None = None
    ) -> SandboxMessage:
        """Sends a sticker (Message.sticker, type regular, 512×512)."""
        return await self._post(chat, None, topic, None, sticker={"emoji": emoji})

    async def send_photo(
        self,
        *,
        caption: str | None = None,
        width: int = 1280,
        height: int = 960,
        chat: ChatRef = None,
        topic: Topic | None = None,
    ) -> SandboxMessage:
        """Sends a photo (Message.photo: PhotoSize list, smallest first)."""
        spec = {"width": width, "height": height}
        return await self._post(chat, None, topic, None, photo=spec, caption=caption)

    async def send_location(
        self, latitude: float, longitude: float, *, chat: ChatRef = None, topic: Topic | None = None
    ) -> SandboxMessage:
        """Sends a location (degrees)."""
        spec = {"latitude": latitude, "longitude": longitude}
        return await self._post(chat, None, topic, None, location=spec)

    async def send_voice(
        self,
        duration: int = 2,
        *,
        caption: str | None = None,
        chat: ChatRef = None,
        topic: Topic | None = None,
    ) -> SandboxMessage:
        """Sends a voice note of `duration` seconds (audio/ogg)."""
        spec = {"duration": duration}
        return await self._post(chat, None, topic, None, voice=spec, caption=caption)

    async def send_contact(
        self,
        phone_number: str,
        first_name: str,
        last_name: str | None = None,
        *,
        user: Person | None = None,
        chat: ChatRef = None,
        topic: Topic | None = None,
    ) -> SandboxMessage:
        """Shares a contact (with `user`, the contact's Telegram account)."""
        spec: MediaSpec = {"phone_number": phone_number, "first_name": first_name}
        if last_name:
            spec["last_name"] = last_name
        if user is not None:
            spec["user_id"] = user.id
        return await self._post(chat, None, topic, None, contact=spec)

    async def send_document(
        self,
        file_name: str = "notes.txt",
        data: bytes | str = "Notes\n",
        *,
        mime_type: str | None = None,
        caption: str | None = None,
        chat: ChatRef = None,
        topic: Topic | None = None,
    ) -> SandboxMessage:
        """Sends a file as a document (the MIME type is guessed from the name if not given)."""
        raw = data.encode() if isinstance(data, str) else data
        spec: MediaSpec = {
            "file_name": file_name,
            "content_base64": base64.b64encode(raw).decode("ascii"),
        }
        if mime_type:
            spec["mime_type"] = mime_type
        return await self._post(chat, None, topic, None, document=spec, caption=caption)

    async def _post(
        self,
        chat: ChatRef,
        reply_to: SandboxMessage | int | None,
        topic: Topic | None,
        as_channel: Channel | None,
        **content: Any,
    ) -> SandboxMessage:
        if topic is not None and chat is None:
            chat = topic.group
        chat_id = self._chat_id(chat)
        body: JsonDict = {"user_id": self.id, "chat_id": chat_id}
        body.update({k: v for k, v in content.items() if v is not None})
        if reply_to is not None:
            body["reply_to_message_id"] = (
                reply_to.message_id if isinstance(reply_to, SandboxMessage) else reply_to
            )
        if topic is not None:
            body["message_thread_id"] = topic.id
        if as_channel is not None:
            body["as_chat_id"] = as_channel.id
        answer = await self.client.post("/control/messages", **body)
        message_id = answer["message"]["message_id"]
        self._mark(chat_id, answer["version"], message_id)
        return await self.client.message(chat_id, message_id)

    async def press(
        self,
        label: str,
        *,
        chat: ChatRef = None,
        wait: float = 5.0,
        timeout: float | None = None,  # noqa: ASYNC109 - a person waits, not a network call
    ) -> CallbackAnswer | None:
        """Presses the button with this label, as a person would once it shows.

        Prefers the newest message that changed since my last action here, waiting up to
        FRESH_GRACE seconds for one; then takes the newest message showing the label, waiting
        up to `timeout` for it. A label of the reply keyboard is sent as text. Returns the bot's
        answerCallbackQuery (None if it gives none within `wait` seconds).
        """
        chat_id = self._chat_id(chat)
        anchor = self._anchor_version.get(chat_id, 0)
        loop = asyncio.get_running_loop()
        start = loop.time()
        limit = self.client.timeout if timeout is None else timeout
        view = await self.client.chat(chat_id)
        while True:
            elapsed = loop.time() - start
            fresh_only = elapsed < min(FRESH_GRACE, limit)
            typed = _keyboard_label(view, label)
            if typed is not None:
                await self.send(typed, chat=chat)
                return None
            message_id = _message_with_button(view, label, anchor if fresh_only else -1)
            if message_id is not None:
                return await self._press(chat_id, message_id, wait, label=label)
            step = (min(FRESH_GRACE, limit) if fresh_only else limit) - elapsed
            if step <= 0 and not fresh_only:
                labels = [
                    b["text"] for m in view["messages"] for row in m.get("buttons", []) for b in row
                ]
                raise LookupError(f"{self.first_name} sees no button {label!r}; shown: {labels}")
            view = await self.client.chat(
                chat_id, after_version=view["version"], wait=max(step, 0.0)
            )

    async def press_data(
        self, message: SandboxMessage | int, data: str, *, chat: ChatRef = None, wait: float = 5.0
    ) -> CallbackAnswer | None:
        """Presses a button with raw callback data (which may be forged) on a message."""
        if isinstance(message, SandboxMessage):
            chat_id, message_id = message.chat_id, message.message_id
        else:
            chat_id, message_id = self._chat_id(chat), message
        return await self._press(chat_id, message_id, wait, data=data)

    async def _press(
        self, chat_id: int, message_id: int, wait: float, **target: str
    ) -> CallbackAnswer | None:
        body = {"user_id": self.id, "chat_id": chat_id, "message_id": message_id, "wait": wait}
        answer = await self.client.post("/control/press", **body, **target)
        self._mark(chat_id, answer["version"], answer["last_message_id"])
        result = answer.get("answer")
        if result is None:
            return None
        return CallbackAnswer(result.get("text"), bool(result.get("show_alert")), result.get("url"))

    async def vote(self, message: SandboxMessage, option_ids: Sequence[int]) -> SandboxPoll:
        """Answers the poll of a message (an empty list takes the vote back)."""
        answer = await self.client.post(
            "/control/votes",
            user_id=self.id,
            chat_id=message.chat_id,
            message_id=message.message_id,
            option_ids=list(option_ids),
        )
        self._mark(message.chat_id, answer["version"], answer["last_message_id"])
        view = await self.client.chat(message.chat_id)
        found = [m for m in view["messages"] if m["message_id"] == message.message_id]
        poll = SandboxMessage.from_view(found[0]).poll if found else None
        if poll is None:
            raise LookupError(f"message {message.message_id} no longer shows a poll")
        return poll

    async def block_bot(self) -> None:
        """Blocks the bot."""
        await self.client.post(f"/control/users/{self.id}/block")

    async def unblock_bot(self) -> None:
        """Unblocks the bot."""
        await self.client.post(f"/control/users/{self.id}/unblock")

    async def join(self, group: Group) -> None:
        """Joins a group."""
        await group.add(self)

    async def leave(self, group: Group) -> None:
        """Leaves a group."""
        await group.remove(self)

    async def chat_messages(self, chat: ChatRef = None) -> list[SandboxMessage]:
        """Returns what the chat shows (default: the private chat with the bot)."""
        return await self.client.messages(self._chat_id(chat))

    async def last_bot_message(self, chat: ChatRef = None) -> SandboxMessage | None:
        """Returns the newest message from the bot in the chat, if any."""
        bot_messages = [m for m in await self.chat_messages(chat) if m.from_bot]
        return bot_messages[-1] if bot_messages else None

    async def wait_for_message(
        self,
        predicate: Predicate | None = None,
        *,
        chat: ChatRef = None,
        timeout: float | None = None,  # noqa: ASYNC109 - a person waits, not a network call
        since_last_action: bool = True,
    ) -> SandboxMessage:
        """Waits for a bot message (new or edited since my last action here) matching predicate."""
        chat_id = self._chat_id(chat)
        anchor = self._anchor_version.get(chat_id, 0) if since_last_action else -1

        def pick(messages: list[SandboxMessage]) -> SandboxMessage | None:
            for message in messages:
                if (
                    message.from_bot
                    and message.version > anchor
                    and (predicate is None or predicate(message))
                ):
                    return message
            return None

        return await self.client.wait_for(chat_id, pick, timeout, f"{self.first_name}: a message")

    async def wait_for_reply(
        self,
        *,
        chat: ChatRef = None,
        timeout: float | None = None,  # noqa: ASYNC109 - a person waits, not a network call
    ) -> SandboxMessage:
        """Waits for the next new bot message after my last action (each is returned once)."""
        chat_id = self._chat_id(chat)
        cursor = self._reply_cursor.get(chat_id, 0)

        def pick(messages: list[SandboxMessage]) -> SandboxMessage | None:
            return next((m for m in messages if m.from_bot and m.message_id > cursor), None)

        message = await self.client.wait_for(chat_id, pick, timeout, f"{self.first_name}: a reply")
        self._reply_cursor[chat_id] = message.message_id
        return message


def _keyboard_label(view: JsonDict, label: str) -> str | None:
    """Returns the reply-keyboard button text a person reading `label` would tap."""
    keyboard = view.get("keyboard") or {}
    wanted = visible(label)
    for row in keyboard.get("keyboard", []):
        for button in row:
            if visible(str(button.get("text", ""))) == wanted:
                return str(button["text"])
    return None


def _message_with_button(view: JsonDict, label: str, after_version: int) -> int | None:
    """Returns the newest message changed after `after_version` with a callback button `label`."""
    for message in reversed(view["messages"]):
        if message["version"] <= after_version:
            continue
        for row in message.get("buttons", []):
            for button in row:
                if visible(button["text"]) != visible(label):
                    continue
                if "callback_data" not in button:
                    raise LookupError(f"{label!r} is not a callback button: {button}")
                return int(message["message_id"])
    return None


class SandboxClient:
    """Drives the emulator's control API; close it (or use `async with`)."""

    def __init__(self, base_url: str, *, timeout: float = 5.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None
        self._bot: JsonDict | None = None

    async def __aenter__(self) -> SandboxClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Closes the HTTP session."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def request(self, method: str, path: str, body: JsonDict | None = None) -> Any:
        """Calls the control API and returns its JSON; raises SandboxError on refusal."""
        if self._session is None:
            self._session = aiohttp.ClientSession()
        async with self._session.request(method, self.base_url + path, json=body) as response:
            data = await response.json(content_type=None)
            if response.status >= 400:
                message = data.get("error") if isinstance(data, dict) else str(data)
                raise SandboxError(response.status, str(message))
            return data

    async def post(self, path: str, **body: Any) -> Any:
        """POSTs a JSON body."""
        return await self.request("POST", path, body)

    async def bot(self) -> JsonDict:
        """Returns the bot's User object (getMe)."""
        if self._bot is None:
            self._bot = (await self.request("GET", "/control/"))["bot"]
        return self._bot

    async def create_user(
        self,
        first_name: str,
        last_name: str | None = None,
        *,
        username: str | None = None,
        language_code: str | None = None,
    ) -> Person:
        """Creates a person."""
        user = await self.post(
            "/control/users",
            first_name=first_name,
            last_name=last_name,
            username=username,
            language_code=language_code,
        )
        return Person(self, user)

    async def create_group(
        self,
        title: str,
        members: Sequence[Person],
        *,
        type: str = "group",
        creator: Person | None = None,
        bot_admin: bool = False,
        forum: bool = False,
    ) -> Group:
        """Creates a group with these people and the bot (the first member is the creator).

        `forum=True` makes a forum supergroup (topics; `type` is then supergroup).
        """
        chat = await self.post(
            "/control/groups",
            title=title,
            type="supergroup" if forum else type,
            member_ids=[p.id for p in members],
            creator_id=creator.id if creator else None,
            bot_status="administrator" if bot_admin else "member",
            is_forum=forum,
        )
        return Group(self, chat["id"], chat["title"], chat["type"], chat["is_forum"])

    async def create_channel(
        self,
        title: str,
        owner: Person,
        *,
        discussion_group: Group | None = None,
        username: str | None = None,
    ) -> Channel:
        """Creates a channel owned by `owner`, linked to a discussion supergroup if given."""
        chat = await self.post(
            "/control/channels",
            title=title,
            creator_id=owner.id,
            username=username,
            discussion_group_id=discussion_group.id if discussion_group else None,
        )
        return Channel(self, chat["id"], chat["title"])

    async def message(self, chat_id: int, message_id: int) -> SandboxMessage:
        """Returns one message as the chat shows it (LookupError if absent or deleted)."""
        view = await self.chat(chat_id)
        found = next((m for m in view["messages"] if m["message_id"] == message_id), None)
        if found is None:
            raise LookupError(f"message {message_id} is not shown in chat {chat_id}")
        return SandboxMessage.from_view(found)

    async def migrate(self, group: Group) -> Group:
        """Upgrades a group to a supergroup."""
        chat = await self.post(f"/control/chats/{group.id}/migrate")
        return Group(self, chat["id"], chat["title"], chat["type"])

    async def chat(
        self, chat_id: int, *, after_version: int | None = None, wait: float = 0
    ) -> JsonDict:
        """Returns the control API's view of a chat (optionally waiting for a newer version)."""
        query = (
            f"?after_version={after_version}&timeout={wait}" if after_version is not None else ""
        )
        result: JsonDict = await self.request("GET", f"/control/chats/{chat_id}{query}")
        return result

    async def messages(self, chat_id: int) -> list[SandboxMessage]:
        """Returns the messages a chat shows, oldest first."""
        view = await self.chat(chat_id)
        return [SandboxMessage.from_view(m) for m in view["messages"]]

    async def wait_for(
        self,
        chat_id: int,
        pick: Callable[[list[SandboxMessage]], SandboxMessage | None],
        within: float | None,
        what: str,
    ) -> SandboxMessage:
        """Long-polls a chat until `pick` finds a message; TimeoutError shows what the chat has."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (self.timeout if within is None else within)
        view = await self.chat(chat_id)
        while True:
            messages = [SandboxMessage.from_view(m) for m in view["messages"]]
            found = pick(messages)
            if found is not None:
                return found
            remaining = deadline - loop.time()
            if remaining <= 0:
                shown = [(m.message_id, m.text[:60], m.labels) for m in messages[-5:]]
                raise TimeoutError(f"{what} never came in chat {chat_id}; it shows {shown}")
            view = await self.chat(chat_id, after_version=view["version"], wait=remaining)

    async def download(self, file: SandboxFile | str) -> bytes:
        """Downloads a file the bot sent."""
        path = file.url if isinstance(file, SandboxFile) else f"/control/files/{file}"
        if self._session is None:
            self._session = aiohttp.ClientSession()
        async with self._session.get(self.base_url + path) as response:
            if response.status != 200:
                raise SandboxError(response.status, await response.text())
            return await response.read()

    async def requests(self, method: str | None = None) -> list[JsonDict]:
        """Returns the logged Bot API requests (optionally of one method)."""
        query = f"?method={method}" if method else ""
        result: list[JsonDict] = await self.request("GET", f"/control/requests{query}")
        return result

    async def confirmed_updates(self) -> list[JsonDict]:
        """The updates the bot has confirmed, oldest first."""
        result: list[JsonDict] = await self.request("GET", "/control/updates/confirmed")
        return result

    async def redeliver(self, update_id: int) -> JsonDict:
        """Makes Telegram deliver a confirmed update again (as after a crash)."""
        result: JsonDict = await self.post(f"/control/updates/{update_id}/redeliver")
        return result

    async def clear_requests(self) -> None:
        """Empties the request log."""
        await self.request("DELETE", "/control/requests")

    async def commands(self) -> list[JsonDict]:
        """Returns the command sets stored with setMyCommands."""
        result: list[JsonDict] = await self.request("GET", "/control/commands")
        return result

    async def set_rate_limits(self, **limits: Any) -> JsonDict:
        """Changes rate limits, e.g. `enabled=False` or `overall_per_second=5`."""
        result: JsonDict = await self.request("PUT", "/control/rate-limits", limits)
        return result

    async def add_fault(self, method: str = "*", **rule: Any) -> JsonDict:
        """Adds a fault rule (error_code, description, retry_after, count, action, delay…)."""
        result: JsonDict = await self.post("/control/faults", method=method, **rule)
        return result

    async def clear_faults(self) -> None:
        """Removes every fault rule."""
        await self.request("DELETE", "/control/faults")

    async def reset(self) -> None:
        """Forgets every person, chat, update and logged request."""
        await self.post("/control/reset")
