"""Telegram text formatting: the HTML parse mode.

The HTML parser follows TDLib's `parse_html` (the code behind the Bot API server): the same
allowed tags, the same error strings and byte offsets, entity offsets in UTF-16 code units, and
leading/trailing whitespace trimmed after parsing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Entity = dict[str, Any]
UserLookup = Callable[[int], dict[str, Any] | None]

ALLOWED_TAGS = frozenset(
    [
        "a",
        "b",
        "strong",
        "i",
        "em",
        "s",
        "strike",
        "del",
        "u",
        "ins",
        "tg-spoiler",
        "tg-emoji",
        "span",
        "pre",
        "code",
        "blockquote",
    ]
)
_SIMPLE_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
}
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


class HtmlError(ValueError):
    """A formatting error; the message is the part after "can't parse entities: "."""


@dataclass
class _OpenTag:
    tag: str
    argument: str
    offset: int


def utf16_len(text: str) -> int:
    """Returns the length of `text` in UTF-16 code units, as Telegram counts offsets."""
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(source: str, index: int) -> int:
    return len(source[:index].encode("utf-8"))


def _decode_entity(source: str, pos: int) -> tuple[str | None, int]:
    """Decodes an HTML character reference at `pos` (the `;` is optional, as in TDLib)."""
    n = len(source)
    end = pos + 1
    if end < n and source[end] == "#":
        end += 1
        digits_start = end
        if end < n and source[end] in "xX":
            end += 1
            digits_start = end
            while end < n and source[end] in "0123456789abcdefABCDEF":
                end += 1
            digits, base = source[digits_start:end], 16
        else:
            while end < n and source[end].isdigit() and source[end].isascii():
                end += 1
            digits, base = source[digits_start:end], 10
        if not digits or len(digits) > 7:
            return None, pos
        code = int(digits, base)
        if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
            return None, pos
        value = chr(code)
    else:
        while end < n and source[end].isascii() and source[end].isalpha():
            end += 1
        decoded = _NAMED_ENTITIES.get(source[pos + 1 : end])
        if decoded is None:
            return None, pos
        value = decoded
    if end < n and source[end] == ";":
        end += 1
    return value, end


def parse_html(
    source: str, *, strict: bool = False, user_lookup: UserLookup | None = None
) -> tuple[str, list[Entity]]:
    """Parses Telegram HTML into plain text and entities; raises HtmlError like the Bot API.

    With `strict`, a bare `&` that starts no character reference is refused too (Telegram
    keeps it as text); the sandbox uses this to catch unescaped user input early.
    """
    out: list[str] = []
    u16 = 0
    entities: list[Entity] = []
    stack: list[_OpenTag] = []
    n = len(source)
    i = 0
    while i < n:
        ch = source[i]
        if ch == "&":
            decoded, end = _decode_entity(source, i)
            if decoded is not None:
                out.append(decoded)
                u16 += utf16_len(decoded)
                i = end
                continue
            if strict:
                raise HtmlError(
                    f'Unescaped "&" at byte offset {_byte_offset(source, i)} '
                    "(the sandbox requires &amp;)"
                )
        if ch != "<":
            out.append(ch)
            u16 += 2 if ord(ch) > 0xFFFF else 1
            i += 1
            continue
        begin = i
        i += 1
        if i < n and source[i] == "/":
            if not stack:
                raise HtmlError(f"Unexpected end tag at byte offset {_byte_offset(source, begin)}")
            i += 1
            name_start = i
            while i < n and not source[i].isspace() and source[i] != ">":
                i += 1
            end_name = source[name_start:i].lower()
            while i < n and source[i].isspace():
                i += 1
            if i >= n or source[i] != ">":
                raise HtmlError(f"Unclosed end tag at byte offset {_byte_offset(source, begin)}")
            i += 1
            top = stack.pop()
            if end_name and end_name != top.tag:
                raise HtmlError(
                    f"Unmatched end tag at byte offset {_byte_offset(source, begin)}, "
                    f'expected "</{top.tag}>", found "</{end_name}>"'
                )
            _close_tag(top, u16, out, entities, user_lookup)
            continue
        tag, argument, i = _read_start_tag(source, begin, i)
        stack.append(_OpenTag(tag, argument, u16))
    if stack:
        raise HtmlError(f'Can\'t find end tag corresponding to start tag "{stack[-1].tag}"')
    return "".join(out), entities


def _read_start_tag(source: str, begin: int, i: int) -> tuple[str, str, int]:
    """Reads `<tag attr="value" ...>` starting after `<`; returns (tag, argument, next index)."""
    n = len(source)
    offset = _byte_offset(source, begin)
    name_start = i
    while i < n and not source[i].isspace() and source[i] != ">":
        i += 1
    if i >= n:
        raise HtmlError(f"Unclosed start tag at byte offset {offset}")
    tag = source[name_start:i].lower()
    if tag not in ALLOWED_TAGS:
        raise HtmlError(f'Unsupported start tag "{tag}" at byte offset {offset}')
    argument = ""
    while True:
        while i < n and source[i].isspace():
            i += 1
        if i >= n:
            raise HtmlError(f'Unclosed start tag "{tag}" at byte offset {offset}')
        if source[i] == ">":
            break
        attr_start = i
        while i < n and not source[i].isspace() and source[i] not in "=>/\"'":
            i += 1
        attr = source[attr_start:i].lower()
        if not attr:
            raise HtmlError(f'Empty attribute name in the tag "{tag}" at byte offset {offset}')
        while i < n and source[i].isspace():
            i += 1
        if i >= n:
            raise HtmlError(f'Unclosed start tag "{tag}" at byte offset {offset}')
        if source[i] != "=":
            if tag == "blockquote" and attr == "expandable":
                argument = "expandable"
            continue
        i += 1
        while i < n and source[i].isspace():
            i += 1
        if i >= n:
            raise HtmlError(f'Unclosed start tag "{tag}" at byte offset {offset}')
        value, i = _read_attribute_value(source, i)
        if i >= n:
            raise HtmlError(f"Unclosed start tag at byte offset {offset}")
        argument = _tag_argument(tag, attr, value, argument)
    if tag == "span" and argument != "spoiler":
        raise HtmlError(f'Tag "span" must have class "tg-spoiler" at byte offset {offset}')
    return tag, argument, i + 1


def _read_attribute_value(source: str, i: int) -> tuple[str, int]:
    n = len(source)
    if source[i] not in "\"'":
        start = i
        while i < n and ((source[i].isascii() and source[i].isalnum()) or source[i] in ".-"):
            i += 1
        if i < n and not source[i].isspace() and source[i] != ">":
            raise HtmlError(
                f"Unexpected end of name token at byte offset {_byte_offset(source, start)}"
            )
        return source[start:i].lower(), i
    quote = source[i]
    i += 1
    chars: list[str] = []
    while i < n and source[i] != quote:
        if source[i] == "&":
            decoded, end = _decode_entity(source, i)
            if decoded is not None:
                chars.append(decoded)
                i = end
                continue
        chars.append(source[i])
        i += 1
    if i < n:
        i += 1
    return "".join(chars), i


def _tag_argument(tag: str, attr: str, value: str, current: str) -> str:
    if tag == "a" and attr == "href":
        return value
    if tag == "code" and attr == "class" and value.startswith("language-"):
        return value.removeprefix("language-")
    if tag == "span" and attr == "class" and value.startswith("tg-"):
        return value.removeprefix("tg-")
    if tag == "tg-emoji" and attr == "emoji-id":
        return value
    if tag == "blockquote" and attr == "expandable":
        return "expandable"
    return current


_TG_USER = re.compile(r"^tg://user\?id=(\d{1,19})$", re.IGNORECASE)


def _close_tag(
    top: _OpenTag,
    u16: int,
    out: list[str],
    entities: list[Entity],
    user_lookup: UserLookup | None,
) -> None:
    length = u16 - top.offset
    if length <= 0:
        return
    entity: Entity = {"type": "", "offset": top.offset, "length": length}
    if top.tag in _SIMPLE_TAGS:
        entity["type"] = _SIMPLE_TAGS[top.tag]
    elif top.tag == "blockquote":
        entity["type"] = "expandable_blockquote" if top.argument else "blockquote"
    elif top.tag == "tg-emoji":
        if not top.argument.isdigit() or not 0 < int(top.argument) < 2**63:
            raise HtmlError("Invalid custom emoji identifier specified")
        entity.update(type="custom_emoji", custom_emoji_id=top.argument)
    elif top.tag == "code":
        entity["type"] = "code"
        if top.argument:
            entity["language"] = top.argument
    elif top.tag == "pre":
        last = entities[-1] if entities else None
        if last and last["type"] == "code" and last["offset"] == top.offset:
            if last["length"] == length:
                entities.pop()
                entity.update(
                    type="pre", **({"language": last["language"]} if "language" in last else {})
                )
            else:
                entity["type"] = "pre"
        else:
            entity["type"] = "pre"
    else:
        url = top.argument.strip() or _tail_text(out, length)
        mention = _TG_USER.match(url)
        if mention:
            user = user_lookup(int(mention.group(1))) if user_lookup else None
            if user is None:
                return
            entity.update(type="text_mention", user=user)
        else:
            normalized = _normalize_url(url)
            if normalized is None:
                return
            entity.update(type="text_link", url=normalized)
    entities.append(entity)


def _tail_text(out: list[str], u16_length: int) -> str:
    text = "".join(out)
    encoded = text.encode("utf-16-le")
    return encoded[len(encoded) - 2 * u16_length :].decode("utf-16-le")


def _normalize_url(url: str) -> str | None:
    if not url or any(ch.isspace() for ch in url):
        return None
    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", url):
        return url
    return "http://" + url
