"""Quiet hours: the night during which a volunteer gets nothing that can wait (issue 16).

A volunteer's quiet hours are stored as "HH:MM-HH:MM" in their own time zone (`volunteers.
quiet_hours`; NULL means the default, 22:00-08:00; "off" means none). A message that can wait
(a call to action, a decision nudge, a check-in, a digest) is enqueued with a due time at the
end of the person's quiet hours; the delivery engine already leaves rows alone until they are
due, so a person in their night does not slow a broadcast for anyone else. What is urgent (a
change or cancellation of an event the person is going to within 24 hours) is not held.

The same person may take calls to action in a digest instead of one by one (`volunteers.
digest`: NULL, "daily HH:MM" or "weekly HH:MM", weekly on Mondays, local time): `next_digest`
says when the next one is due.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from handlers.kernel.invalid_input import InvalidInput

DEFAULT = "22:00-08:00"
OFF = "off"
PRESETS = ("21:00-07:00", "22:00-08:00", "23:00-07:00", "00:00-09:00", OFF)
URGENT_WITHIN = timedelta(hours=24)

_RANGE = re.compile(r"^\s*(\d{1,2})(?:[:.h](\d{2})?)?\s*[-–—]\s*(\d{1,2})(?:[:.h](\d{2})?)?\s*$")


def effective(stored: str | None) -> str:
    """The quiet hours in force for a stored value (None: the default)."""
    return DEFAULT if stored is None else stored


def bounds(stored: str | None) -> tuple[time, time] | None:
    """(start, end) local times of the quiet hours; None when they are off or malformed."""
    value = effective(stored)
    if value == OFF:
        return None
    try:
        start, end = value.split("-")
        return time.fromisoformat(start), time.fromisoformat(end)
    except ValueError:
        return None


def parse(text: str) -> str:
    """ "22:00-08:00", "22-8", "21h30–7h" or "off" as stored ("HH:MM-HH:MM" | "off").

    InvalidInput("invalid.quiet_hours") when it is neither a range of two times of day nor
    "off"; a range whose start equals its end is refused too (it would hold nothing or all).
    """
    folded = text.strip().casefold()
    if folded in (OFF, "none", "-"):
        return OFF
    found = _RANGE.match(folded)
    if found is None:
        raise InvalidInput("invalid.quiet_hours")
    h1, m1, h2, m2 = (int(part or 0) for part in found.groups())
    if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59 or (h1, m1) == (h2, m2):
        raise InvalidInput("invalid.quiet_hours")
    return f"{h1:02d}:{m1:02d}-{h2:02d}:{m2:02d}"


def label(stored: str | None) -> str:
    """ "22:00–08:00" (the stored range with an en dash); "" when off."""
    value = effective(stored)
    return "" if value == OFF else value.replace("-", "–")


def held_until(stored: str | None, timezone: str, now: datetime) -> datetime | None:
    """When the quiet hours around `now` end, in UTC; None when `now` is not in them.

    `stored` as in `volunteers.quiet_hours`; `timezone` an IANA zone (an unknown one counts as
    UTC). A range may cross midnight (22:00-08:00) or not (13:00-15:00). The end is found on the
    local calendar, so a daylight-saving change in the night still ends it at 08:00 local time.
    """
    found = bounds(stored)
    if found is None:
        return None
    start, end = found
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    local = now.astimezone(zone)
    clock = local.time().replace(tzinfo=None)
    if start < end:
        inside = start <= clock < end
        end_day = local.date()
    else:
        inside = clock >= start or clock < end
        end_day = local.date() + timedelta(days=1) if clock >= start else local.date()
    if not inside:
        return None
    return datetime.combine(end_day, end, tzinfo=zone).astimezone(UTC)


def urgent_change(event_at: datetime | None, now: datetime) -> bool:
    """True when a change to an event at `event_at` must reach people in their night: the
    event starts within the next 24 hours (issue 16's urgent class)."""
    return event_at is not None and now - timedelta(hours=1) <= event_at <= now + URGENT_WITHIN


EACH = "each"
DIGEST_PRESETS = (EACH, "daily 08:00", "daily 18:00", "weekly 08:00", "weekly 18:00")
_DIGEST = re.compile(r"^\s*(daily|weekly)\s+(\d{1,2})(?:[:.h](\d{2})?)?\s*$")


def parse_digest(text: str) -> str:
    """ "daily 7:30", "weekly 18h" or "each" as stored ("daily HH:MM" | "weekly HH:MM" | "each").

    InvalidInput("invalid.digest") otherwise."""
    folded = text.strip().casefold()
    if folded == EACH:
        return EACH
    found = _DIGEST.match(folded)
    if found is None:
        raise InvalidInput("invalid.digest")
    how, hour, minute = found.group(1), int(found.group(2)), int(found.group(3) or 0)
    if hour > 23 or minute > 59:
        raise InvalidInput("invalid.digest")
    return f"{how} {hour:02d}:{minute:02d}"


def digest_parts(stored: str | None) -> tuple[str, time] | None:
    """("daily" | "weekly", local time) of a digest choice; None: one by one."""
    if not stored or stored == EACH:
        return None
    try:
        how, at = stored.split(" ")
        return (how, time.fromisoformat(at)) if how in ("daily", "weekly") else None
    except ValueError:
        return None


def next_digest(stored: str | None, timezone: str, now: datetime) -> datetime | None:
    """When the person's next digest is due (UTC, after `now`); None: they take calls to
    action one by one. Weekly digests come on Mondays."""
    parts = digest_parts(stored)
    if parts is None:
        return None
    how, at = parts
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    local = now.astimezone(zone)
    day = local.date()
    while True:
        candidate = datetime.combine(day, at, tzinfo=zone)
        if candidate > local and (how == "daily" or candidate.weekday() == 0):
            return candidate.astimezone(UTC)
        day += timedelta(days=1)
