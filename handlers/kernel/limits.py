"""Telegram's length limits, measured as Telegram measures them, and texts made to fit them.

Telegram counts a message after parsing its HTML: tags do not count, `&amp;` counts one, and the
unit is the UTF-16 code unit (an emoji outside the BMP counts two). A text is at most 4096
units, a caption 1024, a toast 200. Everything the bot sends that holds people's words (results,
rosters, directories, summaries, reminders, captions) is fitted here, once:

- :func:`length` measures a text as Telegram does;
- :func:`cut` shortens plain text (toasts, poll descriptions);
- :func:`fitted` (and :func:`fit_lines`) keeps whole lines and says how many were left out;
- :func:`shorten`, the last resort, shortens the words and never the markup: every tag it keeps
  is closed, no character reference or surrogate pair is split.

The Bot API layer (bot/botapi/payloads.py) passes every text and caption through
:func:`shorten` and every toast through :func:`cut`, so no message is ever refused as too long;
the views fit themselves first, so that what is left out is chosen (names, whole lines).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable

from handlers.kernel.i18n import Html, Translator

TEXT = 4096  # sendMessage / editMessageText, UTF-16 units after entity parsing
CAPTION = 1024  # sendDocument / sendPhoto captions
TOAST = 200  # answerCallbackQuery
ELLIPSIS = "…"

_TOKEN = re.compile(r"<[^<>]*>|&#?[0-9A-Za-z]+;?|[^<&]+|[<&]")
_TAG_NAME = re.compile(r"</?\s*([A-Za-z][A-Za-z0-9-]*)")


def units(text: str) -> int:
    """The length of plain `text` in UTF-16 code units."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def visible(markup: str) -> str:
    """The text Telegram shows for `markup` (tags dropped, character references decoded)."""
    parts: list[str] = []
    for token in _TOKEN.findall(markup):
        if token.startswith("<") and len(token) > 1:
            continue
        parts.append(html.unescape(token) if token.startswith("&") else token)
    return "".join(parts)


def length(markup: str) -> int:
    """The length Telegram measures: UTF-16 units of the visible text, stripped."""
    return units(visible(markup).strip())


def fits(markup: str, limit: int = TEXT) -> bool:
    """True when Telegram accepts `markup` under `limit`."""
    return length(markup) <= limit


def cut(plain: str, limit: int) -> str:
    """Plain text (a toast, a poll description) within `limit` UTF-16 units, with an ellipsis
    when cut; a surrogate pair is never split."""
    if units(plain) <= limit:
        return plain
    kept: list[str] = []
    used = units(ELLIPSIS)
    for ch in plain:
        used += 2 if ord(ch) > 0xFFFF else 1
        if used > limit:
            break
        kept.append(ch)
    return "".join(kept).rstrip() + ELLIPSIS


def shorten(markup: str, limit: int = TEXT) -> Html:
    """`markup` itself when it fits; else its words cut to fit, with an ellipsis, every tag kept
    closed (the markup is never cut)."""
    if fits(markup, limit):
        return Html(markup)
    budget = limit - units(ELLIPSIS)
    out: list[str] = []
    opened: list[str] = []
    used = 0
    for token in _TOKEN.findall(markup.strip()):
        if token.startswith("<") and len(token) > 1:
            match = _TAG_NAME.match(token)
            name = match.group(1).lower() if match else ""
            if token.startswith("</"):
                if name in opened:
                    opened.reverse()
                    opened.remove(name)
                    opened.reverse()
                    out.append(token)
            elif name:
                opened.append(name)
                out.append(token)
            continue
        plain = html.unescape(token) if token.startswith("&") else token
        size = units(plain)
        if used + size <= budget:
            out.append(token if token not in ("<", "&") else html.escape(token))
            used += size
            continue
        kept: list[str] = []
        for ch in plain:
            step = 2 if ord(ch) > 0xFFFF else 1
            if used + step > budget:
                break
            kept.append(ch)
            used += step
        out.append(html.escape("".join(kept), quote=False))
        break
    out.append(ELLIPSIS)
    out.extend(f"</{name}>" for name in reversed(opened))
    return Html("".join(out))


def fitted(t: Translator, lines: Iterable[str], sep: str = "\n", limit: int = TEXT) -> Html:
    """Whole lines (or blocks, with `sep`) while they fit, then how many more were left out."""
    return fit_lines(lines, lambda n: t.plural("limits.more_lines", n), limit, sep)


def fit_lines(
    lines: Iterable[str],
    more: Callable[[int], str] | None = None,
    limit: int = TEXT,
    sep: str = "\n",
) -> Html:
    """Whole lines joined while they fit; then `more(n)` says how many were left out. A first
    line too long on its own is shortened."""
    chosen = [line for line in lines if line is not None]
    text = sep.join(chosen)
    if fits(text, limit):
        return Html(text)
    sizes = [units(visible(line + sep)) for line in chosen]
    kept = 0
    used = 0
    for index, size in enumerate(sizes):
        rest = len(chosen) - index - 1
        tail = units(visible(more(rest))) if more is not None and rest else 0
        if used + size + tail > limit:
            break
        used += size
        kept += 1
    if not kept:
        return shorten(chosen[0] if chosen else "", limit)
    shown = chosen[:kept]
    if kept < len(chosen) and more is not None:
        shown.append(more(len(chosen) - kept))
    return shorten(sep.join(shown), limit)
