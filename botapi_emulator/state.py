"""What people do in the sandbox: join, write, press buttons, vote, block the bot, upgrade groups.

Every action stores what the chat now shows and queues the updates Telegram would send the bot.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from .entities import detect_entities
from .errors import ControlError
from .media import MEDIA_KINDS, make_media
from .models import (
    ACTIVE_STATUSES,
    ADMIN_STATUSES,
    CHANNEL_BOT_ID,
    GROUP_ANONYMOUS_BOT_ID,
    TELEGRAM_ID,
    TOPIC_COLORS,
    CallbackQuery,
    Chat,
    JsonDict,
    Member,
    Message,
    Poll,
    Topic,
    User,
    visible,
)
from .world import INACCESSIBLE_AFTER, World


class EmulatorState(World):
    """The whole sandbox: World plus the actions of its people (usable directly from tests)."""

    # people and chats

    def create_user(
        self,
        first_name: str,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
        *,
        user_id: int | None = None,
        is_premium: bool = False,
    ) -> User:
        """Creates a person and their (not yet started) private chat with the bot."""
        if not first_name:
            raise ControlError(400, "first_name is required")
        if user_id is not None and user_id in self.users:
            raise ControlError(409, f"user {user_id} exists")
        user = User(
            user_id if user_id is not None else self.next_user_id(),
            first_name,
            last_name,
            username,
            language_code,
            is_premium=is_premium,
        )
        self.users[user.id] = user
        chat = Chat(user.id, "private", self.next_object_id(), user_id=user.id)
        chat.members = {
            user.id: Member(user.id, "member"),
            self.bot.id: Member(self.bot.id, "member"),
        }
        self.chats[chat.id] = chat
        self.broadcast({"type": "user", "user_id": user.id})
        return user

    def create_group(
        self,
        title: str,
        member_ids: Sequence[int] = (),
        *,
        type: str = "group",
        creator_id: int | None = None,
        bot_status: str = "member",
        username: str | None = None,
        is_forum: bool = False,
    ) -> Chat:
        """Creates a group or supergroup with these people and the bot in it.

        `is_forum` makes a forum supergroup (topics; messages without one land in General).
        """
        if type not in ("group", "supergroup"):
            raise ControlError(400, "type must be group or supergroup")
        if is_forum and type != "supergroup":
            raise ControlError(400, "only a supergroup can be a forum")
        if bot_status not in ("member", "administrator"):
            raise ControlError(400, "bot_status must be member or administrator")
        people = [self.user(uid) for uid in member_ids]
        creator = (
            self.user(creator_id) if creator_id is not None else (people[0] if people else None)
        )
        if creator is None:
            raise ControlError(400, "a group needs a creator or at least one member")
        chat = Chat(
            self.next_group_id(type == "supergroup"),
            type,
            self.next_object_id(),
            title=title,
            username=username,
            is_forum=is_forum,
        )
        chat.members[creator.id] = Member(creator.id, "creator")
        for person in people:
            chat.members.setdefault(person.id, Member(person.id, "member"))
        self.chats[chat.id] = chat
        self.broadcast({"type": "chat_created", "chat_id": chat.id})
        self._set_status(chat, self.bot.id, bot_status, by=creator.id)
        service: JsonDict = (
            {"group_chat_created": True}
            if type == "group"
            else {"new_chat_members": [self.user_api(self.bot.id)]}
        )
        self._service_message(chat, creator.id, service)
        return chat

    def add_member(
        self, chat_id: int, user_id: int, *, status: str = "member", by: int | None = None
    ) -> None:
        """Adds a person (or the bot) to a group, or changes the status of one already in it."""
        chat = self._group(chat_id)
        if status not in ("member", "administrator", "creator"):
            raise ControlError(400, "status must be member, administrator or creator")
        is_bot = user_id == self.bot.id
        if not is_bot:
            self.user(user_id)
        current = chat.status_of(user_id)
        if current == status:
            raise ControlError(409, f"user {user_id} is already {status} in chat {chat_id}")
        actor = by if by is not None else (self._anyone(chat, but=user_id) if is_bot else user_id)
        if current in ACTIVE_STATUSES:
            self._set_status(chat, user_id, status, by=by if by is not None else self._anyone(chat))
            return
        self._set_status(chat, user_id, status, by=actor)
        self._service_message(chat, actor, {"new_chat_members": [self.user_api(user_id)]})

    def remove_member(
        self, chat_id: int, user_id: int, *, kicked: bool = False, by: int | None = None
    ) -> None:
        """Removes a person (or the bot) from a group: they leave, or are banned with `kicked`."""
        chat = self._group(chat_id)
        if chat.status_of(user_id) not in ACTIVE_STATUSES:
            raise ControlError(409, f"user {user_id} is not in chat {chat_id}")
        removed_by_someone = kicked or user_id == self.bot.id
        actor = (
            by
            if by is not None
            else (self._anyone(chat, but=user_id) if removed_by_someone else user_id)
        )
        self._service_message(chat, actor, {"left_chat_member": self.user_api(user_id)})
        self._set_status(chat, user_id, "kicked" if kicked else "left", by=actor)

    def ban(self, chat: Chat, user_id: int, *, by: int) -> None:
        """Bans a person from a group (banChatMember): out of it, and kept out until unbanned."""
        if chat.status_of(user_id) in ACTIVE_STATUSES:
            self._service_message(chat, by, {"left_chat_member": self.user_api(user_id)})
        self._set_status(chat, user_id, "kicked", by=by)

    def unban(self, chat: Chat, user_id: int, *, only_if_banned: bool, by: int) -> None:
        """Lifts a ban (unbanChatMember): free to join again, not added back. Without
        `only_if_banned` a current member is removed too, as Telegram does."""
        status = chat.status_of(user_id)
        if status == "kicked" or (status in ACTIVE_STATUSES and not only_if_banned):
            self._set_status(chat, user_id, "left", by=by)

    def block_bot(self, user_id: int) -> None:
        """The person blocks the bot: sends become 403 and the bot gets my_chat_member."""
        chat = self.chat(self.user(user_id).id)
        if chat.blocked:
            return
        old = self.member_api(chat, self.bot.id, "member")
        chat.blocked = True
        self._chat_member_update(
            "my_chat_member", chat, user_id, old, self.member_api(chat, self.bot.id, "kicked")
        )
        self.touch(chat)

    def unblock_bot(self, user_id: int) -> None:
        """The person unblocks the bot (the bot gets my_chat_member with status member)."""
        chat = self.chat(self.user(user_id).id)
        if not chat.blocked:
            return
        old = self.member_api(chat, self.bot.id, "kicked")
        chat.blocked = False
        self._chat_member_update(
            "my_chat_member", chat, user_id, old, self.member_api(chat, self.bot.id, "member")
        )
        self.touch(chat)

    def bot_leaves(self, chat: Chat) -> None:
        """The bot leaves a group by itself (leaveChat): the bot gets my_chat_member."""
        self._set_status(chat, self.bot.id, "left", by=self.bot.id)

    def migrate(self, chat_id: int, *, by: int | None = None) -> Chat:
        """Upgrades a group to a supergroup; the old id then answers migrate_to_chat_id."""
        old = self._group(chat_id)
        if old.type != "group":
            raise ControlError(409, f"chat {chat_id} is not a basic group")
        actor = by if by is not None else self._anyone(old)
        new = Chat(self.next_group_id(True), "supergroup", self.next_object_id(), title=old.title)
        new.members = {
            uid: Member(m.user_id, m.status, m.until_date, m.is_anonymous)
            for uid, m in old.members.items()
        }
        new.migrated_from = old.id
        self.chats[new.id] = new
        self._service_message(old, actor, {"migrate_to_chat_id": new.id})
        old.migrated_to = new.id
        self.broadcast({"type": "chat_created", "chat_id": new.id})
        self._service_message(new, actor, {"migrate_from_chat_id": old.id})
        return new

    def create_topic(
        self, chat_id: int, name: str, *, by: int | None = None, icon_color: int | None = None
    ) -> Topic:
        """Opens a topic in a forum: a forum_topic_created message whose id is the topic's id."""
        chat = self._group(chat_id)
        if not chat.is_forum:
            raise ControlError(409, f"chat {chat_id} is not a forum")
        name = name.strip()
        if not 1 <= len(name) <= 128:
            raise ControlError(400, "a topic name has 1-128 characters")
        color = (
            TOPIC_COLORS[len(chat.topics) % len(TOPIC_COLORS)] if icon_color is None else icon_color
        )
        if color not in TOPIC_COLORS:
            raise ControlError(400, f"icon_color must be one of {list(TOPIC_COLORS)}")
        actor = by if by is not None else self._anyone(chat)
        if actor != self.bot.id and chat.status_of(actor) not in ACTIVE_STATUSES:
            raise ControlError(403, f"user {actor} is not a member of chat {chat.id}")
        topic = Topic(chat.next_message_id, name, color)
        chat.topics[topic.id] = topic
        service = {"forum_topic_created": {"name": name, "icon_color": color}}
        self._service_message(chat, actor, service, thread_id=topic.id)
        return topic

    def set_anonymous(self, chat_id: int, user_id: int, anonymous: bool = True) -> None:
        """Makes a group admin anonymous (or not): they then write as GroupAnonymousBot."""
        chat = self._group(chat_id)
        member = chat.members.get(user_id)
        if member is None or member.status not in ADMIN_STATUSES:
            raise ControlError(409, f"user {user_id} is not an administrator of chat {chat_id}")
        if member.is_anonymous == anonymous:
            return
        old = self.member_api(chat, user_id)
        member.is_anonymous = anonymous
        if user_id != self.bot.id and self.bot_status(chat) == "administrator":
            self._chat_member_update(
                "chat_member", chat, self._anyone(chat), old, self.member_api(chat, user_id)
            )
        self.touch(chat)

    def create_channel(
        self,
        title: str,
        *,
        creator_id: int,
        username: str | None = None,
        discussion_group_id: int | None = None,
    ) -> Chat:
        """Creates a channel; with a discussion group its posts are forwarded there."""
        creator = self.user(creator_id)
        channel = Chat(
            self.next_group_id(True),
            "channel",
            self.next_object_id(),
            title=title,
            username=username,
        )
        channel.members[creator.id] = Member(creator.id, "creator")
        if discussion_group_id is not None:
            group = self._group(discussion_group_id)
            if group.type != "supergroup":
                raise ControlError(409, "a discussion group must be a supergroup")
            group.linked_chat_id = channel.id
            channel.linked_chat_id = group.id
        self.chats[channel.id] = channel
        self.broadcast({"type": "chat_created", "chat_id": channel.id})
        self.add_message(channel, CHANNEL_BOT_ID, service={"channel_chat_created": True})
        return channel

    def channel_post(self, channel_id: int, text: str) -> tuple[Message, Message | None]:
        """Posts in a channel; Telegram forwards the post into its discussion group.

        The copy in the group comes from Telegram (777000) with sender_chat = the channel,
        forward_origin and is_automatic_forward. Returns the post and that copy (or None).
        """
        channel = self.chat(channel_id)
        if channel.type != "channel":
            raise ControlError(409, f"chat {channel_id} is not a channel")
        if not text.strip():
            raise ControlError(400, "text is empty")
        text = text.strip()
        entities = detect_entities(text)
        post = self.add_message(
            channel, CHANNEL_BOT_ID, text=text, entities=entities, sender_chat_id=channel.id
        )
        if channel.linked_chat_id is None:
            return post, None
        group = self.chat(channel.linked_chat_id)
        origin = {
            "type": "channel",
            "chat": self.chat_api(channel),
            "message_id": post.message_id,
            "date": post.date,
        }
        copy = self.add_message(
            group,
            TELEGRAM_ID,
            text=text,
            entities=entities,
            sender_chat_id=channel.id,
            forward_origin=origin,
        )
        if self._bot_sees(group, copy):
            self.enqueue("message", self.message_api(copy))
        return post, copy

    # messages, buttons, votes

    def send_text(
        self,
        user_id: int,
        text: str,
        *,
        chat_id: int | None = None,
        reply_to: int | None = None,
        thread_id: int | None = None,
        as_chat: int | None = None,
    ) -> Message:
        """The person writes `text` in a chat (default: their private chat with the bot).

        `thread_id` names a forum topic (None: General, or the topic of the replied message);
        `as_chat` a channel the person owns to write in its name (sender_chat). An anonymous
        admin's message comes from GroupAnonymousBot with sender_chat = the group. A channel's
        admin writing in the channel posts there (see channel_post).
        """
        if not text.strip():
            raise ControlError(400, "text is empty")
        text = text.strip()
        channel = self.chats.get(chat_id) if chat_id is not None else None
        if channel is not None and channel.type == "channel":
            if channel.status_of(user_id) not in ADMIN_STATUSES:
                raise ControlError(403, f"only the admins of channel {channel.id} post there")
            return self.channel_post(channel.id, text)[0]
        return self._post(
            user_id,
            chat_id,
            reply_to,
            thread_id,
            as_chat,
            text=text,
            entities=detect_entities(text),
        )

    def send_media(
        self,
        user_id: int,
        kind: str,
        spec: JsonDict | None = None,
        *,
        caption: str | None = None,
        chat_id: int | None = None,
        reply_to: int | None = None,
        thread_id: int | None = None,
        as_chat: int | None = None,
    ) -> Message:
        """The person sends a sticker, photo, location, voice note, contact or document.

        `spec` gives the kind's details (see media.make_media); files are stored so that the
        bot can getFile them. Photos, voice notes and documents may carry a caption.
        """
        if kind not in MEDIA_KINDS:
            raise ControlError(400, f"kind must be one of {sorted(MEDIA_KINDS)}")
        media = make_media(self.files, kind, spec or {}, self.users)
        fields: dict[str, Any] = {"media": media}
        if caption is not None and caption.strip():
            if kind not in ("photo", "voice", "document"):
                raise ControlError(400, f"a {kind} has no caption")
            fields["caption"] = caption.strip()
            fields["caption_entities"] = detect_entities(caption.strip())
        return self._post(user_id, chat_id, reply_to, thread_id, as_chat, **fields)

    def _post(
        self,
        user_id: int,
        chat_id: int | None,
        reply_to: int | None,
        thread_id: int | None,
        as_chat: int | None,
        **fields: Any,
    ) -> Message:
        user = self.user(user_id)
        chat = self.chat(chat_id if chat_id is not None else user.id)
        if chat.type == "channel":
            raise ControlError(400, "a channel takes only text posts here")
        if chat.migrated_to is not None:
            raise ControlError(409, f"chat {chat.id} was upgraded to {chat.migrated_to}")
        if chat.type == "private":
            if chat.id != user.id:
                raise ControlError(403, "people write only in their own private chat with the bot")
            if chat.blocked:
                self.unblock_bot(user.id)
            chat.started = True
            self.limiter.user_activity(chat.id)
        elif chat.status_of(user.id) not in ACTIVE_STATUSES:
            raise ControlError(403, f"user {user_id} is not a member of chat {chat.id}")
        if reply_to is not None:
            replied = self.message(chat, reply_to)
            if thread_id is None:
                thread_id = replied.thread_id
        if thread_id is not None:
            if not chat.is_forum:
                raise ControlError(400, f"chat {chat.id} is not a forum")
            if thread_id not in chat.topics:
                raise ControlError(404, f"no topic {thread_id} in chat {chat.id}")
        from_id, sender_chat = self._sender(chat, user.id, as_chat)
        message = self.add_message(
            chat,
            from_id,
            reply_to=reply_to,
            thread_id=thread_id,
            sender_chat_id=sender_chat,
            **fields,
        )
        if self._bot_sees(chat, message):
            self.enqueue("message", self.message_api(message))
        return message

    def press_button(
        self,
        user_id: int,
        chat_id: int,
        message_id: int,
        *,
        data: str | None = None,
        label: str | None = None,
    ) -> CallbackQuery:
        """The person presses an inline button (by label), or sends raw (possibly forged) data."""
        user = self.user(user_id)
        chat = self.chat(chat_id)
        message = chat.messages.get(message_id)
        if message is None:
            raise ControlError(404, f"no message {message_id} in chat {chat.id}")
        if chat.type != "private" and chat.status_of(user.id) not in ACTIVE_STATUSES:
            raise ControlError(403, f"user {user_id} is not a member of chat {chat.id}")
        if chat.type == "private" and chat.id != user.id:
            raise ControlError(403, "people press buttons only in their own private chat")
        if data is None:
            data = self._button_data(message, label)
        query = CallbackQuery(self.next_object_id(), user.id, chat.id, message.message_id, data)
        self.queries[query.id] = query
        if chat.type == "private":
            self.limiter.user_activity(chat.id)
        inaccessible = message.deleted or self.today() - message.date > INACCESSIBLE_AFTER
        payload: JsonDict = {
            "id": query.id,
            "from": self.user_api(user.id),
            "message": (
                self.inaccessible_api(chat, message.message_id)
                if inaccessible
                else self.message_api(message)
            ),
            "chat_instance": chat.chat_instance,
            "data": data,
        }
        self.enqueue("callback_query", payload)
        return query

    async def wait_answer(self, query_id: str, wait: float) -> JsonDict | None:
        """Waits for the bot's answerCallbackQuery to a press; None if it does not come."""
        query = self.queries.get(query_id)
        if query is None:
            raise ControlError(404, f"no callback query {query_id}")
        if query.answer is None and wait > 0:
            try:
                await asyncio.wait_for(query.answered.wait(), wait)
            except TimeoutError:
                return None
        return query.answer

    def vote(
        self,
        user_id: int,
        option_ids: Sequence[int],
        *,
        poll_id: str | None = None,
        chat_id: int | None = None,
        message_id: int | None = None,
    ) -> Poll:
        """The person answers a poll (an empty list retracts their vote)."""
        user = self.user(user_id)
        poll = self._find_poll(poll_id, chat_id, message_id)
        self.tick()
        chat = self.chats[poll.chat_id]
        if chat.type != "private" and chat.status_of(user.id) not in ACTIVE_STATUSES:
            raise ControlError(403, f"user {user_id} is not a member of chat {chat.id}")
        choice = tuple(sorted(set(option_ids)))
        _check_vote(poll, user.id, choice)
        if poll.votes.get(user.id, ()) == choice:
            return poll
        if choice:
            poll.votes[user.id] = choice
        else:
            poll.votes.pop(user.id, None)
        if chat.type == "private":
            self.limiter.user_activity(chat.id)
        if not poll.is_anonymous:
            member = chat.members.get(user.id)
            voter: JsonDict = (
                {"voter_chat": self.chat_api(chat)}  # an anonymous admin votes as the group
                if chat.type != "private" and member is not None and member.is_anonymous
                else {"user": self.user_api(user.id)}
            )
            self.enqueue(
                "poll_answer",
                {
                    "poll_id": poll.id,
                    **voter,
                    "option_ids": list(choice),
                    "option_persistent_ids": [str(i) for i in choice],
                },
            )
        self.enqueue("poll", poll.to_api())
        self.touch(chat, chat.messages.get(poll.message_id))
        return poll

    # helpers

    def _group(self, chat_id: int) -> Chat:
        chat = self.chat(chat_id)
        if chat.type == "private":
            raise ControlError(400, "private chats have no members to add or remove")
        if chat.migrated_to is not None:
            raise ControlError(409, f"chat {chat.id} was upgraded to {chat.migrated_to}")
        return chat

    def _anyone(self, chat: Chat, but: int | None = None) -> int:
        """Returns the creator (or any active member) to act for the group."""
        ranked = sorted(
            (m for m in chat.members.values() if m.active and m.user_id not in (but, self.bot.id)),
            key=lambda m: m.status != "creator",
        )
        if not ranked:
            raise ControlError(409, f"nobody in chat {chat.id} can do that")
        return ranked[0].user_id

    def _set_status(self, chat: Chat, user_id: int, status: str, *, by: int) -> None:
        old = self.member_api(chat, user_id)
        chat.members[user_id] = Member(user_id, status)
        new = self.member_api(chat, user_id)
        if user_id == self.bot.id:
            self._chat_member_update("my_chat_member", chat, by, old, new)
        elif self.bot_status(chat) == "administrator":
            self._chat_member_update("chat_member", chat, by, old, new)
        self.touch(chat)

    def _chat_member_update(
        self, kind: str, chat: Chat, by: int, old: JsonDict, new: JsonDict
    ) -> None:
        self.enqueue(
            kind,
            {
                "chat": self.chat_api(chat),
                "from": self.user_api(by),
                "date": self.today(),
                "old_chat_member": old,
                "new_chat_member": new,
            },
        )

    def _service_message(
        self, chat: Chat, from_id: int, service: JsonDict, *, thread_id: int | None = None
    ) -> Message:
        message = self.add_message(chat, from_id, service=service, thread_id=thread_id)
        removed = (service.get("left_chat_member") or {}).get("id")
        if from_id == self.bot.id and removed in (None, self.bot.id):
            # The bot gets no update of what it did itself, but for "Bot removed X": Telegram
            # sends that service message to the bot too (an administrator may delete it).
            return message
        if self.bot_status(chat) in ACTIVE_STATUSES or "left_chat_member" in service:
            self.enqueue("message", self.message_api(message))
        return message

    def _sender(self, chat: Chat, user_id: int, as_chat: int | None) -> tuple[int, int | None]:
        """Returns (from id, sender_chat id) of what the person writes in the chat."""
        if as_chat is not None:
            channel = self.chat(as_chat)
            if channel.type != "channel" or channel.status_of(user_id) not in ADMIN_STATUSES:
                raise ControlError(403, f"user {user_id} cannot write as chat {as_chat}")
            if chat.type == "private":
                raise ControlError(400, "people write as a channel only in groups")
            return CHANNEL_BOT_ID, channel.id
        member = chat.members.get(user_id)
        if chat.type != "private" and member is not None and member.is_anonymous:
            return GROUP_ANONYMOUS_BOT_ID, chat.id
        return user_id, None

    def _bot_sees(self, chat: Chat, message: Message) -> bool:
        """Applies privacy mode: in groups the bot sees commands, mentions and replies to it."""
        status = self.bot_status(chat)
        if chat.type == "private":
            return status == "member"
        if status not in ACTIVE_STATUSES:
            return False
        if not self.privacy_mode or status in ("administrator", "creator"):
            return True
        text = message.text or ""
        if text.startswith("/"):
            return True
        username = (self.bot.username or "").lower()
        if username and f"@{username}" in text.lower():
            return True
        replied = chat.messages.get(message.reply_to) if message.reply_to else None
        return replied is not None and replied.from_id == self.bot.id

    def _button_data(self, message: Message, label: str | None) -> str:
        if label is None:
            raise ControlError(400, "give the button's data or its label")
        rows = (message.reply_markup or {}).get("inline_keyboard", [])
        wanted = visible(label)
        for row in rows:
            for button in row:
                if visible(str(button.get("text", ""))) != wanted:
                    continue
                if "callback_data" in button:
                    return str(button["callback_data"])
                raise ControlError(
                    409, f"button {label!r} is not a callback button: {_describe(button)}"
                )
        labels = [b.get("text") for row in rows for b in row]
        raise ControlError(404, f"no button {label!r} on message {message.message_id}: {labels}")

    def _find_poll(self, poll_id: str | None, chat_id: int | None, message_id: int | None) -> Poll:
        if poll_id is not None:
            poll = self.polls.get(poll_id)
            if poll is None:
                raise ControlError(404, f"no poll {poll_id}")
            return poll
        if chat_id is None or message_id is None:
            raise ControlError(400, "give poll_id, or chat_id and message_id")
        message = self.message(self.chat(chat_id), message_id)
        if message.poll_id is None:
            raise ControlError(404, f"message {message_id} has no poll")
        return self.polls[message.poll_id]


def _check_vote(poll: Poll, user_id: int, choice: tuple[int, ...]) -> None:
    """Refuses a vote the way Telegram's apps would not let a person cast it."""
    if poll.is_closed:
        raise ControlError(409, "the poll is closed")
    if len(choice) > 1 and not poll.allows_multiple_answers:
        raise ControlError(400, "this poll takes one answer")
    if not choice and not poll.allows_revoting:
        raise ControlError(409, "this poll does not allow taking a vote back")
    if any(not 0 <= i < len(poll.options) for i in choice):
        raise ControlError(400, f"option ids must be 0..{len(poll.options) - 1}")
    previous = poll.votes.get(user_id)
    if previous and previous != choice and not poll.allows_revoting:
        raise ControlError(409, "this poll does not allow changing a vote")


def _describe(button: dict[str, Any]) -> str:
    keys = [k for k in button if k != "text"]
    return ", ".join(f"{k}={button[k]!r}" for k in keys) or "no action"
