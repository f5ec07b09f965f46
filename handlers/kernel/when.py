"""Dates, times and durations as people type them: one grammar for /newaction, action edits,
/poll and /consensus.

The rule is the same in every language Chorus speaks (en, fr, es, ar), so that one text means
one moment in a group where people write from several countries:

- **Day before month, always.** ``1/12`` and ``1.12`` are the 1st of December — in French,
  Spanish and Arabic as in the international English the bot writes. (Reading the order from
  the person's locale made ``1/12 18:00`` mean the 12th of January in an English /poll and the
  1st of December in /newaction; month-first is the exception among the coalition's countries.)
  A year may follow: ``1/12/2026``, ``1.12.26``.
- **ISO dates** are always year-month-day: ``2026-12-01``, also ``2026-12-01T18:00``.
- **Times** are 24-hour: ``18:00``, ``18.00``, ``18h00``, ``18h30`` and ``18h`` (French and
  Spanish habit). The time may come after or before the date: ``1/12 18:00``, ``18:00 1/12``.
- **A date without a year** is its next occurrence: this year unless that day has already gone
  by in the person's time zone, then next year (``5/1`` typed on the 30th of December is the
  5th of January of the new year) — except a day gone by within JUST_GONE (a month): that one
  is the day just gone, a slip rather than a plan eleven months ahead, and the callers refuse
  it as past (a sandbox finding: yesterday's date became the same day next year unseen).
- **A date without a time** means the end of that day (23:59); **a time without a date** its
  next occurrence (today if still ahead, otherwise tomorrow).
- **Durations** count from now: ``in 3h``, ``in 2d``, ``in 1d 12h``, ``+90 min``, ``dans 2
  jours``, ``en 3 horas``, ``بعد 2 ساعة``; the word before the number (in, dans, en, بعد, خلال, +)
  may be left out (``2d``, ``3 jours``), except for one number of hours alone: ``18h`` is a time
  of day, ``in 18h`` a duration. Units: minutes, hours, days, weeks, in the four languages
  (see ``_UNITS``). Digits may be Arabic-Indic (``بعد ٣ أيام``).
- Everything is read in the time zone given by the caller (the person's, or the action's).

Inside a /poll line, where a part may also be an option (``| 2 days | 3 days |``), only the
unmistakable shapes are taken for the deadline: a duration with its leading word, a date, or a
time with minutes (:func:`looks_like_moment`).

The parser checks shape and calendar only; how far ahead a moment may be is the caller's rule
(decisions: :mod:`handlers.deadlines`; actions: not in the past). Errors are
:class:`~handlers.kernel.invalid_input.InvalidInput` with the key ``when.unreadable``.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from handlers.kernel.invalid_input import InvalidInput

UNREADABLE = "when.unreadable"
END_OF_DAY = time(23, 59)

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
_TIME = re.compile(r"^(\d{1,2})(?:[:.](\d{2})|[hH](\d{2})?)$")
_TIME_WITH_MINUTES = re.compile(r"^\d{1,2}[:.hH]\d{2}$")
_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_DAY_MONTH = re.compile(r"^(\d{1,2})[/.](\d{1,2})(?:[/.](\d{2}|\d{4}))?$")


def looks_like_moment(text: str) -> bool:
    """True for text that can only be a moment: "in 2h", a date, "18:00" (not "2 days", "18h").

    Used where a part of a line may also be something else (a /poll option); a typo in such
    a part is then reported instead of becoming an option.
    """
    stripped = text.strip()
    if _PREFIX.match(stripped):
        return True
    head = stripped.split()[0] if stripped else ""
    head = head.split("T")[0] if _ISO.match(head.split("T")[0]) else head
    return bool(_TIME_WITH_MINUTES.match(head) or _ISO.match(head) or _DAY_MONTH.match(head))


def parse_duration(text: str) -> timedelta:
    """ "in 2h", "2d", "1d 12h", "dans 90 minutes" → a duration; InvalidInput when unreadable."""
    compact = _PREFIX.sub("", text.strip().casefold()).strip()
    total = timedelta(0)
    position = 0
    for match in _PART.finditer(compact):
        unit = _UNITS.get(match.group(2))
        if compact[position : match.start()].strip(" ,") or unit is None:
            raise InvalidInput(UNREADABLE, value=text.strip())
        total += int(match.group(1)) * unit
        position = match.end()
    if position == 0 or compact[position:].strip():
        raise InvalidInput(UNREADABLE, value=text.strip())
    return total


def is_duration(text: str) -> bool:
    """True for a duration counted from now ("in 2d", "3h 30m"): a fixed moment, whatever
    the time zone it is later shown in (not "18h", a time of day)."""
    return _is_duration(text)


def _is_duration(text: str) -> bool:
    stripped = text.strip()
    if _PREFIX.match(stripped):
        return True
    if _TIME.match(stripped.replace(" ", "")):
        return False  # "18h", "18 h": a time of day
    return bool(_PART.match(stripped.casefold()))


def _time(text: str) -> time | None:
    match = _TIME.match(text)
    if match is None:
        return None
    hour, minute = int(match.group(1)), int(match.group(2) or match.group(3) or 0)
    return time(hour, minute)


JUST_GONE = timedelta(days=31)  # a year-less date gone by within this long is the one just gone


def _same_day(year: int, month: int, day: int) -> date | None:
    """That day in `year`; None where it has none (the 29th of February)."""
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _date(text: str, today: date) -> date | None:
    iso = _ISO.match(text)
    if iso:
        year, month, day = (int(part) for part in iso.groups())
        return date(year, month, day)
    local = _DAY_MONTH.match(text)
    if local is None:
        return None
    day, month = int(local.group(1)), int(local.group(2))
    if local.group(3) is None:
        candidate = date(today.year, month, day)
        if candidate >= today:
            gone = _same_day(today.year - 1, month, day)  # "30/12" typed on the 3rd of January
            return gone if gone is not None and today - gone <= JUST_GONE else candidate
        if today - candidate <= JUST_GONE:
            return candidate
        return date(today.year + 1, month, day)
    year = int(local.group(3))
    return date(year + 2000 if year < 100 else year, month, day)


def parse(text: str, now: datetime, timezone: str) -> datetime:
    """The moment a person means by ``text``, as an aware datetime in ``timezone``.

    ``now`` is the injectable clock's moment (aware); ``timezone`` an IANA name. Raises
    :class:`InvalidInput` (``when.unreadable``, ``value`` = the text) for anything outside the
    grammar above, including impossible dates (30/2) and hours (25:00). No range check.
    """
    stripped = text.strip()
    zone = ZoneInfo(timezone)
    local_now = now.astimezone(zone)
    try:
        if _is_duration(stripped):
            return (now + parse_duration(stripped)).astimezone(zone)
        words = (
            stripped.replace("T", " ").split() if _ISO.match(stripped[:10]) else stripped.split()
        )
        if len(words) == 1 and (clock := _time(words[0])) is not None:
            candidate = datetime.combine(local_now.date(), clock, zone)
            return candidate if candidate > local_now else candidate + timedelta(days=1)
        if len(words) not in (1, 2):
            raise InvalidInput(UNREADABLE, value=stripped)
        day = _date(words[0], local_now.date())
        clock = _time(words[1]) if len(words) == 2 else END_OF_DAY
        if day is None and len(words) == 2:  # the time first: "18:00 1/12"
            day, clock = _date(words[1], local_now.date()), _time(words[0])
        if day is None or clock is None:
            raise InvalidInput(UNREADABLE, value=stripped)
        return datetime.combine(day, clock, zone)
    except InvalidInput:
        raise
    except ValueError as exc:  # the 31st of February, 25:00, year 0 …
        raise InvalidInput(UNREADABLE, value=stripped) from exc
