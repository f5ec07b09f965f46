"""Message entities: trimming, the entities Telegram detects by itself, rendering to HTML."""

from __future__ import annotations

import html
import itertools
import re

from .formatting import Entity, utf16_len

_VERBATIM_TYPES = frozenset(
    ["code", "pre", "text_link", "text_mention", "custom_emoji", "url", "email"]
)


def trim(text: str, entities: list[Entity]) -> tuple[str, list[Entity]]:
    """Strips leading and trailing whitespace, shifting and clipping entities like Telegram."""
    stripped = text.lstrip()
    lead = utf16_len(text[: len(text) - len(stripped)])
    stripped = stripped.rstrip()
    total = utf16_len(stripped)
    result: list[Entity] = []
    for entity in entities:
        start = max(0, entity["offset"] - lead)
        end = min(total, entity["offset"] + entity["length"] - lead)
        if end > start:
            result.append({**entity, "offset": start, "length": end - start})
    return stripped, result


_DETECTORS = (
    ("bot_command", re.compile(r"(?<![\w/])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?!\w)")),
    ("mention", re.compile(r"(?<![\w@])@[A-Za-z0-9_]{3,32}(?!\w)")),
    ("hashtag", re.compile(r"(?<![\w#])#\w*[^\W\d]\w*")),
    ("url", re.compile(r"(?<!\w)https?://[^\s<>\"]+[^\s<>\".,;:!?)\]}'»]")),
    ("email", re.compile(r"(?<![\w.])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")),
)


def detect_entities(text: str, existing: list[Entity] | None = None) -> list[Entity]:
    """Adds the entities Telegram finds by itself (commands, mentions, hashtags, URLs, emails)."""
    entities = list(existing or [])
    if not any(ch in text for ch in "/@#:"):
        return _sorted(entities)
    taken = [
        (e["offset"], e["offset"] + e["length"]) for e in entities if e["type"] in _VERBATIM_TYPES
    ]
    found: list[tuple[int, int, str]] = []
    for kind, pattern in _DETECTORS:
        for match in pattern.finditer(text):
            start = utf16_len(text[: match.start()])
            end = start + utf16_len(match.group(0))
            spans = [(s, e) for s, e, _ in found]
            if any(s < end and start < e for s, e in taken + spans):
                continue
            found.append((start, end, kind))
    entities.extend({"type": k, "offset": s, "length": e - s} for s, e, k in found)
    return _sorted(entities)


def _sorted(entities: list[Entity]) -> list[Entity]:
    return sorted(entities, key=lambda e: (e["offset"], -e["length"]))


_OPEN = {
    "bold": "<b>",
    "italic": "<i>",
    "underline": "<u>",
    "strikethrough": "<s>",
    "spoiler": "<tg-spoiler>",
    "code": "<code>",
    "blockquote": "<blockquote>",
    "expandable_blockquote": "<blockquote expandable>",
}
_CLOSE = {
    "bold": "</b>",
    "italic": "</i>",
    "underline": "</u>",
    "strikethrough": "</s>",
    "spoiler": "</tg-spoiler>",
    "code": "</code>",
    "blockquote": "</blockquote>",
    "expandable_blockquote": "</blockquote>",
    "pre": "</pre>",
    "text_link": "</a>",
    "text_mention": "</a>",
    "custom_emoji": "</tg-emoji>",
}


def _open_tag(entity: Entity) -> str:
    kind = entity["type"]
    if kind == "pre":
        language = entity.get("language")
        return f'<pre><code class="language-{html.escape(language)}">' if language else "<pre>"
    if kind == "text_link":
        return f'<a href="{html.escape(entity["url"])}">'
    if kind == "text_mention":
        return f'<a href="tg://user?id={entity["user"]["id"]}">'
    if kind == "custom_emoji":
        return f'<tg-emoji emoji-id="{entity["custom_emoji_id"]}">'
    return _OPEN[kind]


def _close_tag_html(entity: Entity) -> str:
    if entity["type"] == "pre" and entity.get("language"):
        return "</code></pre>"
    return _CLOSE[entity["type"]]


def entities_to_html(text: str, entities: list[Entity]) -> str:
    """Renders text and entities back to Telegram HTML (valid even for overlapping entities)."""
    styled = [e for e in entities if e["type"] in _CLOSE]
    if not styled:
        return html.escape(text, quote=False)
    units = text.encode("utf-16-le")
    total = len(units) // 2
    bounds = sorted(
        {0, total} | {e["offset"] for e in styled} | {e["offset"] + e["length"] for e in styled}
    )
    parts: list[str] = []
    stack: list[Entity] = []
    for start, end in itertools.pairwise(bounds):
        if end > total:
            break
        active = sorted(
            (e for e in styled if e["offset"] <= start and e["offset"] + e["length"] >= end),
            key=lambda e: (e["offset"], -e["length"]),
        )
        kept = 0
        while kept < min(len(stack), len(active)) and stack[kept] is active[kept]:
            kept += 1
        parts.extend(_close_tag_html(e) for e in reversed(stack[kept:]))
        parts.extend(_open_tag(e) for e in active[kept:])
        stack = active
        chunk = units[2 * start : 2 * end].decode("utf-16-le", errors="replace")
        parts.append(html.escape(chunk, quote=False))
    parts.extend(_close_tag_html(e) for e in reversed(stack))
    return "".join(parts)
