"""Deadlines as people write them: "in 2h", "in 3d", "18:00", "2026-12-01 18:00", "1/12 18:00".

Durations accept English, French, Spanish and Arabic words ("dans 2 jours", "en 3 horas",
"بعد 2 ساعة"). Dates are read in the person's locale order (month first in English, day first
in French, Spanish and Arabic) and in their time zone; a date without a time means the end of
that day, a time without a date its next occurrence.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from babel import Locale

MAX_AHEAD = timedelta(seconds=2_628_000)  # Telegram's longest poll period: 30 days and a half
MIN_AHEAD = timedelta(minutes=1)
DEFAULT = timedelta(hours=24)

_UNITS: dict[str, timedelta] = {}
for _names, _unit in (
    ("m min mins minute minutes minuto minutos دقيقة دقائق د", timedelta(minutes=1)),
    ("h hr hrs hour hours heure heures hora horas ساعة ساعات سا", timedelta(hours=1)),
    ("d day days j jour jours día días dia dias يوم أيام ايام", timedelta(days=1)),
    ("w wk week weeks sem semaine semaines semana semanas أسبوع أسابيع اسبوع", timedelta(weeks=1)),
):
    for _name in _names.split():
        _UNITS[_name] = _unit

_PREFIX = re.compile(r"^(?:in|dans|en|بعد|خلال|\+)\s*(?=\d)", re.IGNORECASE)
_PART = re.compile(r"(\d+)\s*([^\W\d_]+)")
_TIME = re.compile(r"^(\d{1,2})[:h.](\d{2})$")
_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_LOCAL_DATE = re.compile(r"^(\d{1,4})[/.](\d{1,2})(?:[/.](\d{2,4}))?$")


class DeadlineError(ValueError):
    """A deadline that cannot be used; `key` names the message that explains why."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def looks_like_deadline(text: str) -> bool:
    """True for "in 2h"-like text and for dates and times (so a typo is reported, not voted on)."""
    stripped = text.strip()
    if _PREFIX.match(stripped):
        return True
    head = stripped.split()[0] if stripped else ""
    return bool(_TIME.match(head) or _ISO.match(head) or _LOCAL_DATE.match(head))


def parse_duration(text: str) -> timedelta:
    """ "2h", "1d 12h", "90 minutes" → a duration; DeadlineError when unreadable."""
    compact = _PREFIX.sub("", text.strip().casefold()).strip()
    total = timedelta(0)
    position = 0
    for match in _PART.finditer(compact):
        if compact[position : match.start()].strip(" ,"):
            raise DeadlineError("decisions.error.deadline_unreadable")
        unit = _UNITS.get(match.group(2))
        if unit is None:
            raise DeadlineError("decisions.error.deadline_unreadable")
        total += int(match.group(1)) * unit
        position = match.end()
    if position == 0 or compact[position:].strip():
        raise DeadlineError("decisions.error.deadline_unreadable")
    return total


def _day_first(locale: str) -> bool:
    pattern = str(Locale.parse(locale).date_formats["short"].pattern)
    return pattern.find("d") < pattern.find("M")


def _date(text: str, locale: str, today: date) -> date:
    iso = _ISO.match(text)
    if iso:
        year, month, day = (int(part) for part in iso.groups())
        return date(year, month, day)
    local = _LOCAL_DATE.match(text)
    if local is None:
        raise DeadlineError("decisions.error.deadline_unreadable")
    first, second, year_text = local.groups()
    day, month = (int(first), int(second)) if _day_first(locale) else (int(second), int(first))
    if year_text is None:
        candidate = date(today.year, month, day)
        return candidate if candidate >= today else date(today.year + 1, month, day)
    year = int(year_text)
    return date(year + 2000 if year < 100 else year, month, day)


def parse_deadline(text: str, now: datetime, timezone: str, locale: str) -> datetime:
    """The moment a person means, checked against now; DeadlineError says what is wrong."""
    stripped = text.strip()
    if _PREFIX.match(stripped):
        moment = now + parse_duration(stripped)
    else:
        zone = ZoneInfo(timezone)
        local_now = now.astimezone(zone)
        words = stripped.split()
        try:
            if len(words) == 1 and _TIME.match(words[0]):
                hour, minute = (int(p) for p in _TIME.match(words[0]).groups())  # type: ignore[union-attr]
                candidate = datetime.combine(local_now.date(), time(hour, minute), zone)
                if candidate <= local_now:
                    candidate += timedelta(days=1)
                moment = candidate
            elif len(words) in (1, 2):
                day = _date(words[0], locale, local_now.date())
                if len(words) == 2:
                    clock = _TIME.match(words[1])
                    if clock is None:
                        raise DeadlineError("decisions.error.deadline_unreadable")
                    at = time(int(clock.group(1)), int(clock.group(2)))
                else:
                    at = time(23, 59)
                moment = datetime.combine(day, at, zone)
            else:
                raise DeadlineError("decisions.error.deadline_unreadable")
        except ValueError as exc:  # day 31 of February, hour 25 …
            if isinstance(exc, DeadlineError):
                raise
            raise DeadlineError("decisions.error.deadline_unreadable") from exc
    return check(moment, now)


def check(moment: datetime, now: datetime) -> datetime:
    """The moment, if it is neither past (or imminent) nor too far ahead."""
    if moment - now < MIN_AHEAD:
        raise DeadlineError("decisions.error.deadline_past")
    if moment - now > MAX_AHEAD:
        raise DeadlineError("decisions.error.deadline_too_far")
    return moment
