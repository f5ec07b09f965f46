"""A group's own language and time zone, in which its decision posts are written.

A group whose members live in Beirut, Bogotá and Nairobi must not read its votes in the
language and time zone of whoever started them. The rule:

- a coordinator may set them: ``/decisions language fr``, ``/decisions timezone Asia/Beirut``
  (stored in the group's settings; ``/decisions language auto`` goes back to the default);
- otherwise each is the most common one among the group's registered members (a tie goes to
  the one that comes first alphabetically, so that the choice does not depend on who asks);
- a group with no registered member uses the bot's defaults (DEFAULT_LOCALE, DEFAULT_TIMEZONE).

This module is the one place that decides it: the decision posts (handlers/decisions/ballots.py),
/decisions and the replies to the decision commands in a group all ask ``of_group``. When a
decision's opening discovers members Chorus did not know yet (ballots.find_members_later), the
new decision is written again in the voice they make (``of_group`` once more), so that the
first decision reads like every later one and like what /decisions reports.

Private messages (reminders, toasts, the Block dialog) keep each person's own language and time
zone: handlers/decisions/nudges.py.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.ext.asyncio import AsyncSession

from handlers.kernel.context import Context
from handlers.kernel.i18n import SUPPORTED_LOCALES, Translator, translator
from storage.coalition import group_store
from storage.decisions import decision_store

LOCALE = "locale"
TIMEZONE = "timezone"
AUTO = "auto"


@dataclass(frozen=True, slots=True)
class Voice:
    """The language and time zone of a group, and whether a coordinator chose them."""

    locale: str
    timezone: str
    locale_set: bool = False
    timezone_set: bool = False


def most_common(values: Iterable[str | None], fallback: str) -> str:
    """The most frequent value (ties: alphabetical order), or the fallback when there is none."""
    counts = Counter(v for v in values if v)
    if not counts:
        return fallback
    return min(counts, key=lambda value: (-counts[value], value))


def valid_locale(text: str) -> str | None:
    """A supported language code from "fr", "FR" or "fr-CA"; None otherwise."""
    code = text.strip().replace("_", "-").split("-")[0].casefold()
    return code if code in SUPPORTED_LOCALES else None


def valid_timezone(text: str) -> str | None:
    """An IANA time zone name ("Asia/Beirut"); None when unknown."""
    name = text.strip()
    if not name or name.startswith("/") or ".." in name:
        return None
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return name


async def of_group(
    session: AsyncSession, chat_id: int, default_locale: str, default_timezone: str
) -> Voice:
    """The group's language and time zone: as set by a coordinator, or its members' majority."""
    group = await group_store.get(session, chat_id)
    settings = group.settings if group is not None else {}
    set_locale = settings.get(LOCALE)
    set_zone = settings.get(TIMEZONE)
    if isinstance(set_locale, str) and isinstance(set_zone, str):
        return Voice(set_locale, set_zone, True, True)
    members = await decision_store.eligible(session, chat_id)
    locale = (
        set_locale
        if isinstance(set_locale, str)
        else most_common((valid_locale(v.language or "") for v in members), default_locale)
    )
    zone = (
        set_zone
        if isinstance(set_zone, str)
        else most_common((valid_timezone(v.timezone or "") for v in members), default_timezone)
    )
    return Voice(locale, zone, isinstance(set_locale, str), isinstance(set_zone, str))


async def of_context(ctx: Context) -> Voice:
    """The voice of the group the update comes from (the bot's defaults as fallbacks)."""
    return await of_group(
        ctx.session, ctx.chat_id, ctx.settings.default_locale, ctx.settings.default_timezone
    )


def replies(ctx: Context, voice: Voice) -> Translator:
    """The language of a command's replies: the group's in a group, the person's in private."""
    return translator(voice.locale) if ctx.event.chat.is_group else ctx.t
