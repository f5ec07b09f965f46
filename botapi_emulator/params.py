"""Reading Bot API parameters: form strings to values, reply markup and entity validation."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import orjson

from .errors import BUTTON_DATA_INVALID, TEXT_BUTTONS_UNALLOWED, bad_request
from .models import JsonDict, Upload

INT_KEYS = frozenset(
    [
        "message_id",
        "offset",
        "limit",
        "timeout",
        "user_id",
        "open_period",
        "close_date",
        "cache_time",
        "max_connections",
        "message_thread_id",
        "correct_option_id",
        "until_date",
        "reply_to_message_id",
        "direct_messages_topic_id",
    ]
)
BOOL_KEYS = frozenset(
    [
        "disable_notification",
        "protect_content",
        "allow_paid_broadcast",
        "is_anonymous",
        "allows_multiple_answers",
        "allows_revoting",
        "is_closed",
        "show_alert",
        "drop_pending_updates",
        "disable_content_type_detection",
        "has_spoiler",
        "show_caption_above_media",
        "return_bots",
        "allow_sending_without_reply",
        "disable_web_page_preview",
        "shuffle_options",
        "allow_adding_options",
        "hide_results_until_closes",
        "members_only",
        "only_if_banned",
        "revoke_messages",
    ]
)
JSON_KEYS = {
    "reply_markup": "reply keyboard markup",
    "entities": "entities",
    "caption_entities": "caption entities",
    "question_entities": "question entities",
    "explanation_entities": "explanation entities",
    "description_entities": "description entities",
    "options": "options",
    "link_preview_options": "link preview options",
    "reply_parameters": "reply parameters",
    "scope": "BotCommandScope",
    "commands": "commands",
    "allowed_updates": "allowed updates",
    "menu_button": "menu button",
    "correct_option_ids": "correct option ids",
    "country_codes": "country codes",
    "suggested_post_parameters": "suggested post parameters",
    "media": "media",
    "explanation_media": "explanation media",
}
CHAT_KEYS = frozenset({"chat_id", "from_chat_id"})
_INT_RE = re.compile(r"^-?\d{1,20}$")
_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)


def decode_params(raw: dict[str, Any], files: dict[str, Upload]) -> dict[str, Any]:
    """Turns form strings (and JSON-encoded strings) into typed values; resolves attach://."""
    params: dict[str, Any] = {}
    for key, value in raw.items():
        if isinstance(value, str):
            value = _decode_string(key, value)
        elif key in CHAT_KEYS and isinstance(value, float) and value.is_integer():
            value = int(value)
        params[key] = value
    for key, value in list(params.items()):
        if isinstance(value, str) and value.startswith("attach://"):
            upload = files.pop(value.removeprefix("attach://"), None)
            if upload is not None:
                params[key] = upload
    for key, upload in files.items():
        params.setdefault(key, upload)
    return params


def _decode_string(key: str, value: str) -> Any:
    if key in CHAT_KEYS:
        return int(value) if _INT_RE.match(value) else value
    if key in INT_KEYS:
        return int(value) if _INT_RE.match(value.strip()) else value
    if key in BOOL_KEYS:
        lowered = value.strip().lower()
        if lowered in ("true", "1"):
            return True
        if lowered in ("false", "0", ""):
            return False
        return value
    name = JSON_KEYS.get(key)
    if name is not None:
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            raise bad_request(f"can't parse {name} JSON object") from None
    return value


def as_int(value: Any, default: int = 0) -> int:
    """Reads an integer parameter leniently, as the Bot API server does (junk reads as 0)."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    if isinstance(value, str) and _INT_RE.match(value.strip()):
        return int(value)
    return default if value is None else 0


def as_bool(value: Any) -> bool:
    """Reads a boolean parameter leniently."""
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1")
    return bool(value)


def check_url(url: Any, what: str) -> None:
    """Refuses URLs Telegram refuses in buttons (no host, localhost, unsupported scheme)."""
    if not isinstance(url, str):
        raise bad_request(f"{what} URL must be of type String")
    target = url if "://" in url else "http://" + url
    parts = urlsplit(target)
    scheme = parts.scheme.lower()
    if scheme == "tg":
        return
    if scheme not in ("http", "https"):
        raise bad_request(f"{what} URL '{url}' is invalid: Unsupported URL protocol")
    host = (parts.hostname or "").lower()
    if not host:
        raise bad_request(f"{what} URL '{url}' is invalid: URL host is empty")
    labels = host.split(".")
    if (
        host == "localhost"
        or len(labels) < 2
        or not re.fullmatch(r"[a-z]{2,63}|\d{1,3}", labels[-1])
    ):
        raise bad_request(f"{what} URL '{url}' is invalid: Wrong HTTP URL")


def parse_reply_markup(
    value: Any, *, inline_only: bool = False
) -> tuple[JsonDict | None, JsonDict | None]:
    """Validates reply_markup; returns (inline keyboard, reply keyboard / remove / force reply)."""
    if value is None:
        return None, None
    if not isinstance(value, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in value:
        return {"inline_keyboard": _inline_rows(value["inline_keyboard"])}, None
    if inline_only:
        raise bad_request("inline keyboard expected")
    if "keyboard" in value:
        rows = value["keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise bad_request('field "keyboard" must be of type Array')
        keyboard = [[_keyboard_button(b) for b in row] for row in rows]
        markup = {**value, "keyboard": keyboard}
        for flag in ("is_persistent", "resize_keyboard", "one_time_keyboard", "selective"):
            if flag in markup and not isinstance(markup[flag], bool):
                raise bad_request(f'field "{flag}" must be of type Boolean')
        return None, markup
    for flag in ("remove_keyboard", "force_reply"):
        if flag in value:
            if not isinstance(value[flag], bool):
                raise bad_request(f'field "{flag}" must be of type Boolean')
            return None, dict(value)
    raise bad_request("can't parse reply keyboard markup JSON object")


def _inline_rows(rows: Any) -> list[list[JsonDict]]:
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request('field "inline_keyboard" must be of type Array')
    return [[_inline_button(button) for button in row] for row in rows]


def _inline_button(button: Any) -> JsonDict:
    prefix = "can't parse inline keyboard button: "
    if not isinstance(button, dict):
        raise bad_request(prefix + "InlineKeyboardButton must be an Object")
    if "text" not in button:
        raise bad_request(prefix + 'Can\'t find field "text"')
    if not isinstance(button["text"], str):
        raise bad_request(prefix + 'Field "text" must be of type String')
    actions = [key for key in _ACTIONS if key in button]
    if not actions:
        raise bad_request(TEXT_BUTTONS_UNALLOWED)
    if "callback_data" in button:
        data = button["callback_data"]
        if not isinstance(data, str):
            raise bad_request(prefix + 'Field "callback_data" must be of type String')
        if not data:
            raise bad_request(TEXT_BUTTONS_UNALLOWED)
        if len(data.encode("utf-8")) > 64:
            raise bad_request(BUTTON_DATA_INVALID)
    if "url" in button:
        check_url(button["url"], "inline keyboard button")
    return dict(button)


def _keyboard_button(button: Any) -> JsonDict:
    if isinstance(button, str):
        return {"text": button}
    if not isinstance(button, dict):
        raise bad_request("can't parse keyboard button: KeyboardButton must be an Object")
    if not isinstance(button.get("text"), str):
        raise bad_request("can't parse keyboard button: Can't find field \"text\"")
    return dict(button)


_ENTITY_TYPES = frozenset(
    [
        "mention",
        "hashtag",
        "cashtag",
        "bot_command",
        "url",
        "email",
        "phone_number",
        "bold",
        "italic",
        "underline",
        "strikethrough",
        "spoiler",
        "blockquote",
        "expandable_blockquote",
        "code",
        "pre",
        "text_link",
        "text_mention",
        "custom_emoji",
        "date_time",
    ]
)


def check_entities(value: Any, text_units: int) -> list[JsonDict]:
    """Validates explicit `entities` against the text length (in UTF-16 units)."""
    if not isinstance(value, list):
        raise bad_request("can't parse entities JSON object")
    result: list[JsonDict] = []
    for entity in value:
        if not isinstance(entity, dict):
            raise bad_request("can't parse MessageEntity: MessageEntity must be an Object")
        for key in ("type", "offset", "length"):
            if key not in entity:
                raise bad_request(f"can't parse MessageEntity: Can't find field \"{key}\"")
        if entity["type"] not in _ENTITY_TYPES:
            raise bad_request("can't parse MessageEntity: Unsupported type specified")
        offset, length = as_int(entity["offset"]), as_int(entity["length"])
        if offset < 0:
            raise bad_request(f"receive an entity with incorrect offset {offset}")
        if offset > text_units:
            raise bad_request(f"entity begins after the end of the text at UTF-16 offset {offset}")
        if offset + length > text_units:
            raise bad_request(
                f"entity beginning at UTF-16 offset {offset} ends after the end of the text "
                f"at UTF-16 offset {offset + length}"
            )
        if entity["type"] == "text_link" and "url" not in entity:
            raise bad_request("can't parse MessageEntity: Can't find field \"url\"")
        if length > 0:
            result.append({**entity, "offset": offset, "length": length})
    return result
