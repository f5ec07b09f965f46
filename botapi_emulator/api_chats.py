"""Bot API methods about the bot itself, webhooks, commands, chats, members and pins."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from .api_common import ApiBase, Handler, Params
from .errors import bad_request
from .models import ACTIVE_STATUSES, TOPIC_COLORS, Chat, JsonDict
from .params import as_bool, as_int
from .world import DEFAULT_UPDATE_TYPES

_SCOPES = {
    "default": (),
    "all_private_chats": (),
    "all_group_chats": (),
    "all_chat_administrators": (),
    "chat": ("chat_id",),
    "chat_administrators": ("chat_id",),
    "chat_member": ("chat_id", "user_id"),
}
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
_SECRET_RE = re.compile(r"[A-Za-z0-9_-]{1,256}")
_SECRET_KEY = "secret_token"  # kept with the webhook, never shown by getWebhookInfo
_COMMAND_RE = re.compile(r"^[a-z0-9_]{1,32}$")
_LANGUAGE_RE = re.compile(r"^([a-z]{2})?$")
_CHAT_ACTIONS = frozenset(
    [
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    ]
)
_TEXT_SETTINGS = {
    "Description": ("description", 512),
    "ShortDescription": ("short_description", 120),
    "Name": ("name", 64),
}


class ChatMethods(ApiBase):
    """getMe, webhooks, commands, chat info, members, pins, menu button, leaving chats."""

    def handlers(self) -> dict[str, Handler]:
        """Returns the methods this class implements, by Bot API name."""
        table: dict[str, Handler] = {
            "getMe": lambda params: self.state.get_me(),
            "logOut": lambda params: True,
            "close": lambda params: True,
            "setWebhook": self.set_webhook,
            "deleteWebhook": self.delete_webhook,
            "getWebhookInfo": self.get_webhook_info,
            "setMyCommands": self.set_my_commands,
            "getMyCommands": self.get_my_commands,
            "deleteMyCommands": self.delete_my_commands,
            "getChat": self.get_chat,
            "getChatMember": self.get_chat_member,
            "getChatAdministrators": self.get_chat_administrators,
            "getChatMemberCount": self.get_chat_member_count,
            "pinChatMessage": self.pin_chat_message,
            "unpinChatMessage": self.unpin_chat_message,
            "unpinAllChatMessages": self.unpin_all_chat_messages,
            "setChatMenuButton": self.set_chat_menu_button,
            "getChatMenuButton": self.get_chat_menu_button,
            "leaveChat": self.leave_chat,
            "banChatMember": self.ban_chat_member,
            "unbanChatMember": self.unban_chat_member,
            "createForumTopic": self.create_forum_topic,
            "sendChatAction": self.send_chat_action,
        }
        for suffix, (field, limit) in _TEXT_SETTINGS.items():
            table[f"setMy{suffix}"] = self._text_setter(field, limit)
            table[f"getMy{suffix}"] = self._text_getter(field)
        return table

    # webhooks

    def set_webhook(self, params: Params) -> bool:
        """Sets the webhook: pending updates are then POSTed to it (botapi_emulator/webhook.py)
        and getUpdates answers 409. HTTPS only, as Telegram, except http:// on loopback."""
        url = str(params.get("url") or "")
        if not url:
            return self.delete_webhook(params)
        parts = urlsplit(url)
        loopback = parts.scheme == "http" and parts.hostname in _LOOPBACK
        if parts.scheme != "https" and not loopback:
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        secret = params.get("secret_token")
        if secret is not None and not _SECRET_RE.fullmatch(str(secret)):
            raise bad_request("bad webhook: secret token contains unallowed characters")
        max_connections = as_int(params.get("max_connections"), 40)
        if not 1 <= max_connections <= 100:
            raise bad_request("bad webhook: max_connections must be between 1 and 100")
        allowed = params.get("allowed_updates")
        if isinstance(allowed, list):
            self.state.allowed_updates = frozenset(allowed) or DEFAULT_UPDATE_TYPES
        if as_bool(params.get("drop_pending_updates")):
            self.state.updates.clear()
        webhook: JsonDict = {"url": url, "max_connections": max_connections}
        if isinstance(allowed, list) and allowed:
            webhook["allowed_updates"] = allowed
        if params.get("ip_address"):
            webhook["ip_address"] = str(params["ip_address"])
        if secret:
            webhook[_SECRET_KEY] = str(secret)
        self.state.webhook = webhook
        self.state._wake_pollers()  # the delivery loop looks again
        return True

    def delete_webhook(self, params: Params) -> bool:
        """Removes the webhook, optionally dropping pending updates."""
        self.state.webhook = None
        if as_bool(params.get("drop_pending_updates")):
            self.state.updates.clear()
        return True

    def get_webhook_info(self, params: Params) -> JsonDict:
        """Describes the webhook (url is empty when getUpdates is in use)."""
        webhook = self.state.webhook or {}
        info: JsonDict = {
            "url": webhook.get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": len(self.state.updates),
        }
        info.update({k: v for k, v in webhook.items() if k not in ("url", _SECRET_KEY)})
        return info

    # commands

    def _scope_key(self, params: Params) -> tuple[str, str]:
        scope = params.get("scope") or {"type": "default"}
        if not isinstance(scope, dict) or scope.get("type") not in _SCOPES:
            raise bad_request("can't parse BotCommandScope: Wrong scope type specified")
        parts = [str(scope["type"])]
        for field in _SCOPES[str(scope["type"])]:
            if scope.get(field) in (None, ""):
                raise bad_request(f"can't parse BotCommandScope: Can't find field \"{field}\"")
            if field == "chat_id":
                parts.append(str(self.resolve_chat(scope[field]).id))
            else:
                parts.append(str(as_int(scope[field])))
        language = str(params.get("language_code") or "")
        if not _LANGUAGE_RE.match(language):
            raise bad_request("invalid language code specified")
        return ":".join(parts), language

    def set_my_commands(self, params: Params) -> bool:
        """Stores the command list for a scope and language."""
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise bad_request("can't parse commands JSON object")
        if len(commands) > 100:
            raise bad_request("BOT_COMMANDS_TOO_MUCH")
        stored = []
        for item in commands:
            if not isinstance(item, dict):
                raise bad_request("can't parse BotCommand: BotCommand must be an Object")
            command = str(item.get("command", "")).lower().lstrip("/")
            description = str(item.get("description", "")).strip()
            if not _COMMAND_RE.match(command):
                raise bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(description) <= 256:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
            stored.append({"command": command, "description": description})
        key = self._scope_key(params)
        if stored:
            self.state.commands[key] = stored
        else:
            self.state.commands.pop(key, None)
        return True

    def get_my_commands(self, params: Params) -> list[JsonDict]:
        """Returns the commands of exactly this scope and language (no fallback)."""
        return list(self.state.commands.get(self._scope_key(params), []))

    def delete_my_commands(self, params: Params) -> bool:
        """Deletes the commands of a scope and language."""
        self.state.commands.pop(self._scope_key(params), None)
        return True

    # chats and members

    def get_chat(self, params: Params) -> JsonDict:
        """Returns ChatFullInfo."""
        chat = self.resolve_chat(params.get("chat_id"))
        info = self.state.chat_api(chat)
        info.update(
            accent_color_id=abs(chat.id) % 7,
            max_reaction_count=11,
            accepted_gift_types={
                "unlimited_gifts": chat.type == "private",
                "limited_gifts": chat.type == "private",
                "unique_gifts": chat.type == "private",
                "premium_subscription": chat.type == "private",
                "gifts_from_channels": chat.type == "private",
            },
        )
        if chat.type != "private":
            info["permissions"] = dict.fromkeys(_PERMISSIONS, True)
        if chat.linked_chat_id is not None:
            info["linked_chat_id"] = chat.linked_chat_id
        pinned = [m for m in chat.live_messages() if m.pinned]
        if pinned:
            info["pinned_message"] = self.state.message_api(pinned[-1], with_reply=False)
        return info

    def get_chat_member(self, params: Params) -> JsonDict:
        """Returns a ChatMember of the subtype its status calls for."""
        chat = self.resolve_chat(params.get("chat_id"))
        if params.get("user_id") is None:
            raise bad_request("invalid user_id specified")
        user_id = as_int(params["user_id"])
        if user_id not in self.state.users:
            raise bad_request("user not found")
        if chat.type == "private":
            if user_id not in (chat.id, self.state.bot.id):
                raise bad_request("user not found")
            return self.state.member_api(chat, user_id, "member")
        return self.state.member_api(chat, user_id)

    def get_chat_administrators(self, params: Params) -> list[JsonDict]:
        """Lists a group's creator and administrators."""
        chat = self.resolve_chat(params.get("chat_id"))
        if chat.type == "private":
            raise bad_request("there are no administrators in the private chat")
        admins = self.state.members(chat, ("creator", "administrator"))
        return [self.state.member_api(chat, m.user_id) for m in admins]

    def get_chat_member_count(self, params: Params) -> int:
        """Counts a chat's members."""
        chat = self.resolve_chat(params.get("chat_id"))
        if chat.type == "private":
            return 2
        return sum(1 for m in chat.members.values() if m.status in ACTIVE_STATUSES)

    def leave_chat(self, params: Params) -> bool:
        """The bot leaves a group (the bot gets my_chat_member)."""
        chat = self.resolve_chat(params.get("chat_id"))
        if chat.type == "private":
            raise bad_request("chat member status can't be changed in private chats")
        self.check_write(chat)
        self.state.add_message(
            chat,
            self.state.bot.id,
            service={"left_chat_member": self.state.user_api(self.state.bot.id)},
        )
        self.state.bot_leaves(chat)
        return True

    def create_forum_topic(self, params: Params) -> JsonDict:
        """Opens a topic in a forum supergroup where the bot is an administrator."""
        chat = self.writable_chat(params)
        if not chat.is_forum:
            raise bad_request("the chat is not a forum")
        if self.state.bot_status(chat) not in ("administrator", "creator"):
            raise bad_request("not enough rights to create a topic")
        name = str(params.get("name") or "").strip()
        if not name:
            raise bad_request("topic name is empty")
        if len(name) > 128:
            raise bad_request("TOPIC_TITLE_TOO_LONG")
        color = params.get("icon_color")
        if color is not None and as_int(color) not in TOPIC_COLORS:
            raise bad_request("invalid icon color specified")
        topic = self.state.create_topic(
            chat.id,
            name,
            by=self.state.bot.id,
            icon_color=as_int(color) if color is not None else None,
        )
        return topic.to_api()

    def send_chat_action(self, params: Params) -> bool:
        """Accepts a chat action (typing…)."""
        self.writable_chat(params)
        if params.get("action") not in _CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        return True

    # bans

    def _banned_member(self, params: Params) -> tuple[Chat, int]:
        chat = self.resolve_chat(params.get("chat_id"))
        if chat.type == "private":
            raise bad_request("chat member status can't be changed in private chats")
        if params.get("user_id") is None:
            raise bad_request("invalid user_id specified")
        user_id = as_int(params["user_id"])
        if self.state.bot_status(chat) not in ("administrator", "creator"):
            raise bad_request("not enough rights to restrict/unrestrict chat member")
        if chat.status_of(user_id) == "creator":
            raise bad_request("can't remove chat owner")
        return chat, user_id

    def ban_chat_member(self, params: Params) -> bool:
        """Bans a person from a group (the bot must be an administrator)."""
        chat, user_id = self._banned_member(params)
        self.state.ban(chat, user_id, by=self.state.bot.id)
        return True

    def unban_chat_member(self, params: Params) -> bool:
        """Lifts a ban; without only_if_banned a current member is removed too."""
        chat, user_id = self._banned_member(params)
        only = as_bool(params.get("only_if_banned"))
        self.state.unban(chat, user_id, only_if_banned=only, by=self.state.bot.id)
        return True

    # pins and menu

    def _pin_rights(self, chat: Chat) -> None:
        if chat.type == "supergroup" and self.state.bot_status(chat) not in (
            "administrator",
            "creator",
        ):
            raise bad_request("not enough rights to manage pinned messages in the chat")

    def pin_chat_message(self, params: Params) -> bool:
        """Pins a message; the chat shows the pinned_message service message."""
        chat = self.writable_chat(params)
        self._pin_rights(chat)
        message = self.own_message(chat, params, "message to pin not found")
        message.pinned = True
        self.state.add_message(
            chat,
            self.state.bot.id,
            service={"pinned_message": self.state.message_api(message, with_reply=False)},
        )
        return True

    def unpin_chat_message(self, params: Params) -> bool:
        """Unpins a message, or the latest pinned one."""
        chat = self.writable_chat(params)
        self._pin_rights(chat)
        if params.get("message_id") is not None:
            target = self.own_message(chat, params, "message to unpin not found")
        else:
            pinned = [m for m in chat.live_messages() if m.pinned]
            if not pinned:
                return True
            target = pinned[-1]
        target.pinned = False
        self.state.touch(chat, target)
        return True

    def unpin_all_chat_messages(self, params: Params) -> bool:
        """Unpins every message of a chat."""
        chat = self.writable_chat(params)
        self._pin_rights(chat)
        for message in chat.live_messages():
            message.pinned = False
        self.state.touch(chat)
        return True

    def set_chat_menu_button(self, params: Params) -> bool:
        """Stores the menu button of a private chat, or the default one."""
        button = params.get("menu_button") or {"type": "default"}
        if not isinstance(button, dict) or button.get("type") not in (
            "commands",
            "web_app",
            "default",
        ):
            raise bad_request("can't parse menu button: Wrong menu button type specified")
        if params.get("chat_id") is None:
            self.state.default_menu_button = button
            return True
        chat = self.resolve_chat(params.get("chat_id"))
        if chat.type != "private":
            raise bad_request("chat_id must be a private chat")
        chat.menu_button = button
        return True

    def get_chat_menu_button(self, params: Params) -> JsonDict:
        """Returns the menu button of a private chat, or the default one."""
        if params.get("chat_id") is not None:
            chat = self.resolve_chat(params.get("chat_id"))
            if chat.menu_button is not None:
                return chat.menu_button
        return self.state.default_menu_button or {"type": "commands"}

    # name and descriptions

    def _text_setter(self, field: str, limit: int) -> Handler:
        def handler(params: Params) -> bool:
            value = str(params.get(field) or "")
            if len(value) > limit:
                raise bad_request(f"{field.replace('_', ' ')} is too long")
            key = (field, self._language(params))
            if value:
                self.state.bot_texts[key] = value
            else:
                self.state.bot_texts.pop(key, None)
            return True

        return handler

    def _text_getter(self, field: str) -> Handler:
        def handler(params: Params) -> JsonDict:
            language = self._language(params)
            texts = self.state.bot_texts
            value = texts.get((field, language)) or texts.get((field, ""))
            if value is None and field == "name":
                value = self.state.bot.first_name
            return {field: value or ""}

        return handler

    def _language(self, params: Params) -> str:
        language = str(params.get("language_code") or "")
        if not _LANGUAGE_RE.match(language):
            raise bad_request("invalid language code specified")
        return language


_PERMISSIONS = (
    "can_send_messages",
    "can_send_audios",
    "can_send_documents",
    "can_send_photos",
    "can_send_videos",
    "can_send_video_notes",
    "can_send_voice_notes",
    "can_send_polls",
    "can_send_other_messages",
    "can_add_web_page_previews",
    "can_change_info",
    "can_invite_users",
    "can_pin_messages",
    "can_manage_topics",
)
