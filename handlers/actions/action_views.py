"""How an action reads: the message volunteers get, its buttons, summaries and parsing of answers.

The coordinator's own words (title, description, place) are shown as written, HTML-escaped;
every label around them, and the dates, are in the reader's language and time zone.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo

from babel.dates import format_timedelta

from handlers.kernel import limits, when
from handlers.kernel.callbacks import CallbackData
from handlers.kernel.i18n import Html, Translator, escape
from handlers.kernel.invalid_input import InvalidInput
from handlers.kernel.ports import Button, Keyboard
from handlers.people import fields
from storage.actions import action_store
from storage.actions.action_models import Action

KINDS = action_store.KINDS
DEADLINE_KINDS = frozenset({"petition", "letters"})
EVENT_ANSWERS = ("going", "maybe", "cant")
DEADLINE_ANSWERS = ("done",)
UNDO = "undo"  # "I haven't signed after all": forgets a petition's or letter's answer
EVENT_LENGTH = timedelta(hours=2)  # an event without its own end ends this long after its start
KIND_ICONS = {
    "petition": "✍️",
    "letters": "✉️",
    "stunt": "📣",
    "fundraising": "💰",
    "meeting": "🤝",
    "other": "📌",
}
DEFAULT_EVENT_REMINDERS = (1440, 60)
DEFAULT_DEADLINE_REMINDERS = (1440,)

TITLE_LIMITS = (3, 120)
DESCRIPTION_LIMITS = (1, 3000)
PLACE_LIMITS = (2, 200)
LINK_MAX = 500
CAPACITY_MAX = 100_000
MAX_REMINDERS = 5
MAX_REMINDER_MINUTES = 60 * 24 * 30


class RsvpButton(CallbackData, prefix="rv"):
    """An RSVP button: rv:<action id>:<answer> (the answer is checked against the action's kind)."""

    action_id: int
    answer: str


class HereButton(CallbackData, prefix="ih"):
    """A volunteer checks themselves in at an event under way: ih:<action id>."""

    action_id: int


class CalendarButton(CallbackData, prefix="ic"):
    """Sends an event as an .ics file (handlers/actions/ics.py): ic:<action id>."""

    action_id: int


def is_event(kind: str) -> bool:
    """Events have a start, a place and RSVPs; petitions and letters have a deadline."""
    return kind not in DEADLINE_KINDS


def answers_for(kind: str) -> tuple[str, ...]:
    """The answers a volunteer can give to an action of this kind."""
    return EVENT_ANSWERS if is_event(kind) else DEADLINE_ANSWERS


def end_of(action: Action) -> datetime | None:
    """When an action is over: an event at its end (or EVENT_LENGTH after its start), a
    petition or letter at its deadline."""
    if action.at is None:
        return None
    if not is_event(action.kind):
        return action.at
    return action.ends_at or action.at + EVENT_LENGTH


def has_ended(action: Action, now: datetime) -> bool:
    """Whether the action's time is over (whatever its stored status)."""
    end = end_of(action)
    return end is not None and end <= now


def shown_status(action: Action, now: datetime) -> str:
    """The status as people should read it: an open or closed action whose time is over has
    "ended"."""
    if action.status in (action_store.OPEN, action_store.CLOSED) and has_ended(action, now):
        return "ended"  # closed by itself at the end, or by hand after it
    return action.status


def is_live(action: Action, now: datetime) -> bool:
    """Whether answers are still taken."""
    return shown_status(action, now) == action_store.OPEN


def default_reminders(kind: str) -> list[int]:
    """Minutes before the start (or deadline) when reminders go out by default."""
    return list(DEFAULT_EVENT_REMINDERS if is_event(kind) else DEFAULT_DEADLINE_REMINDERS)


def answer_label(t: Translator, kind: str, answer: str) -> str:
    """The label of an RSVP button ("I signed" for a petition's done)."""
    if answer == "done":
        return t(f"actions.done_{kind}")
    return t(f"actions.answer_{answer}")


def count_label(t: Translator, kind: str, status: str) -> str:
    """How a count of answers is headed: "Signed" for a petition, "Sent" for letters."""
    if status == action_store.DONE:
        return t("actions.count_sent" if kind == "letters" else "actions.count_signed")
    return t(f"actions.count_{status}")


def when_text(t: Translator, moment: datetime, timezone: str) -> str:
    """A full date and a short time, in the reader's language and time zone, with the zone (the
    translator's one date style, with the weekday)."""
    return t.datetime_text(moment, timezone, weekday=True, zone=True)


def relative_text(t: Translator, delta: timedelta) -> str:
    """ "in 1 day", "dans 1 heure"…"""
    return str(format_timedelta(delta, add_direction=True, threshold=1.1, locale=t.babel_locale))


def render(
    t: Translator,
    action: Action | Mapping[str, Any],
    timezone: str,
    *,
    standing: action_store.Standing | None = None,
    position: int | None = None,
    status: str = action_store.OPEN,
    live: bool | None = None,
) -> Html:
    """The action as a volunteer sees it, in their language and time zone; with `standing`,
    the places left and the waitlist; with `position`, the reader's place on the waitlist;
    a `status` other than open ("ended", "closed", "cancelled") heads it. Places left, the
    waitlist and the reader's place in it are shown only while the action is `live` (by
    default: when `status` is open): a cancelled or ended action promises no place."""
    live = status == action_store.OPEN if live is None else live
    data = values_of(action)
    kind = str(data["kind"])
    title, description, fallback = words_for(data, t.locale)
    lines = [] if status == action_store.OPEN else [t(f"actions.banner_{status}"), ""]
    if fallback is not None:
        lines += [t("actions.fallback_line", language=t.language_in_text(fallback)), ""]
    lines += [
        f"{KIND_ICONS.get(kind, '📌')} {t(f'actions.kind_{kind}')}",
        f"<b>{t.isolate(title)}</b>",
        "",
        t.isolate(description),
        "",
    ]
    at = data.get("at")
    if isinstance(at, datetime):
        key = "actions.line_when" if is_event(kind) else "actions.line_deadline"
        lines.append(t(key, when=when_text(t, at, timezone)))
    if is_event(kind):
        if data.get("online"):
            lines.append(t("actions.line_online"))
        elif data.get("place"):
            lines.append(
                t("actions.line_place", place=data["place"]) + map_link(t, str(data["place"]))
            )
        if data.get("capacity"):
            capacity = int(data["capacity"])
            if standing is None or not live:
                lines.append(t.plural("actions.line_capacity", capacity))
            else:
                lines.append(places_text(t, capacity, standing))
        if standing is not None and standing.slots:
            lines += [slot_line(t, s, live=live) for s in standing.slots]
        elif data.get("slots"):
            lines += [draft_slot_line(t, slot) for slot in data["slots"]]
    if data.get("link"):
        lines.append(t("actions.line_link", link=data["link"]))
    if position is not None and live:
        lines += ["", t("actions.line_waitlist_position", position=t.number(position))]
    return limits.fitted(t, "\n".join(lines).rstrip().split("\n"))


_MARK = "\x00"
_BIDI = "\u200e\u200f\u061c\u2066\u2067\u2068\u2069"


def without_places(
    t: Translator,
    text: str,
    capacity: int | None,
    slots: Sequence[action_store.SlotStanding] = (),
) -> str:
    """An older notice's text (as `render` made it, in the reader's language) once its action is
    over: the reader's place on the waitlist ("You are #1 on the waitlist. If a place frees
    up…") dropped, and the places left ("👥 Full (1 place) · 1 waiting", and each of the
    action's roles `slots`: "🧩 Stewards: 1 of 2 places left") back to the capacity alone, so
    that it promises no place any more; a reminder's first line ("⏰ Reminder: this starts in
    10 hours") dropped too (a sandbox finding: it followed "This action is over")."""
    waitlist = str(t("actions.line_waitlist_position", position=_MARK))
    head, _, tail = waitlist.strip(_BIDI).partition(_MARK)
    reminders = [
        str(t(key, delta=_MARK)).strip(_BIDI).partition(_MARK)[0]
        for key in ("actions.reminder_event", "actions.reminder_deadline")
    ]
    roles = [(_slot_head(t, slot), slot_line(t, slot, live=False)) for slot in slots]
    lines = text.split("\n")
    # The places line is the last "👥" line: the description above it may start with one too.
    places = max(
        (i for i, line in enumerate(lines) if line.strip(_BIDI).startswith("👥")), default=-1
    )
    kept: list[str] = []
    for index, line in enumerate(lines):
        bare = line.strip(_BIDI)
        if bare.startswith(head) and bare.endswith(tail):
            continue
        if index == 0 and any(bare.startswith(reminder) for reminder in reminders):
            continue
        if capacity and index == places:
            line = str(t.plural("actions.line_capacity", capacity))
        line = next((over for start, over in roles if bare.startswith(start)), line)
        kept.append(line)
    return re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip()


MAP_SEARCH = "https://www.openstreetmap.org/search?query="


def map_link(t: Translator, place: str) -> str:
    """ " · map": a link that finds the place on a map."""
    url = MAP_SEARCH + quote(place)
    return f' · <a href="{escape(url)}">{t("actions.map")}</a>'


def skill_text(t: Translator, skill: str | None) -> str:
    """ " (Media)" after a role that needs a skill."""
    return f" ({fields.option_label(t, 'skills', skill)})" if skill else ""


def slot_line(t: Translator, slot: action_store.SlotStanding, *, live: bool = True) -> str:
    """ "🧩 Stewards: 1 of 2 places left · 1 waiting"."""
    name = f"{t.isolate(slot.name)}{skill_text(t, slot.skill)}"
    if not live:
        places = str(t.plural("actions.slot_places", slot.capacity))
    elif slot.left:
        places = str(t.plural("actions.slot_left", slot.left, total=t.number(slot.capacity)))
    else:
        places = str(t.plural("actions.slot_full", slot.capacity))
    if live and slot.waiting:
        places = f"{places} · {t.plural('actions.places_waiting', slot.waiting)}"
    return str(t("actions.slot_line", role=Html(name), places=Html(places)))


def _slot_head(t: Translator, slot: action_store.SlotStanding) -> str:
    """The start of a role's line, up to its places ("🧩 Stewards: ")."""
    name = f"{t.isolate(slot.name)}{skill_text(t, slot.skill)}"
    line = str(t("actions.slot_line", role=Html(name), places=Html(_MARK)))
    return line.strip(_BIDI).partition(_MARK)[0]


def draft_slot_line(t: Translator, slot: Mapping[str, Any]) -> str:
    """A role of a call not sent yet, with its places."""
    name = f"{t.isolate(slot['name'])}{skill_text(t, slot.get('skill'))}"
    places = str(t.plural("actions.slot_places", int(slot["capacity"])))
    return str(t("actions.slot_line", role=Html(name), places=Html(places)))


def places_text(t: Translator, capacity: int, standing: action_store.Standing) -> str:
    """ "👥 2 of 10 places left · 3 waiting" ("Full" when none is left)."""
    left = standing.places_left(capacity) or 0
    if left:
        text = str(t.plural("actions.places_left", left, total=t.number(capacity)))
    else:
        text = str(t.plural("actions.places_full", capacity))
    waiting = standing.counts.get(action_store.WAITLIST, 0)
    if waiting:
        text = f"{text} · {t.plural('actions.places_waiting', waiting)}"
    return text


def words_for(data: Mapping[str, Any], locale: str) -> tuple[str, str, str | None]:
    """The title and description for a reader of `locale`: their language's version when the
    coordinator gave one; otherwise the call's own words, with the language they are in when
    that is not the reader's (None: no fallback to mention)."""
    language = data.get("language")
    version = (data.get("translations") or {}).get(locale)
    if version and "title" in version and "description" in version:
        return str(version["title"]), str(version["description"]), None
    fallback = language if language and language != locale and data.get("translations") else None
    return str(data["title"]), str(data["description"]), fallback


def languages_of(data: Mapping[str, Any]) -> list[str]:
    """The languages a call is written in: its own, then its translations'."""
    own = data.get("language")
    return [*([own] if own else []), *sorted(data.get("translations") or {})]


def values_of(action: Action | Mapping[str, Any]) -> Mapping[str, Any]:
    """The fields of an action (or of a draft) that its message shows."""
    if isinstance(action, Action):
        return {
            "language": action.language,
            "translations": action.translations,
            "kind": action.kind,
            "title": action.title,
            "description": action.description,
            "at": action.at,
            "place": action.place,
            "online": action.online,
            "capacity": action.capacity,
            "link": action.link,
        }
    data = dict(action)
    if isinstance(data.get("at"), str):
        data["at"] = datetime.fromisoformat(data["at"])
    return data


def rsvp_keyboard(
    t: Translator,
    action_id: int,
    kind: str,
    chosen: str | None = None,
    position: int | None = None,
    *,
    calendar: bool = False,
    role: str | None = None,
) -> Keyboard:
    """The RSVP buttons of an action, marking the volunteer's current answer: a waitlisted
    volunteer sees their place ("⏳ #2 on the waitlist"), not "Going"; once a petition is
    signed, a second button takes it back; with `calendar`, "Add to calendar" (events)."""
    cells = []
    for answer in answers_for(kind):
        label = answer_label(t, kind, answer)
        if chosen == action_store.WAITLIST and answer == action_store.GOING:
            if position is not None:
                label = "⏳ " + t("actions.waitlist_button", position=t.number(position))
            else:
                label = "⏳ " + t("actions.count_waitlist")
        elif chosen == answer:
            label = "✅ " + label
            if role and answer == action_store.GOING:
                label = f"{label} · {role}"
        cells.append(Button(label, RsvpButton(action_id, answer).pack()))
    rows = [cells]
    if not is_event(kind) and chosen == action_store.DONE:
        rows.append([Button(t(f"actions.undo_{kind}"), RsvpButton(action_id, UNDO).pack())])
    if calendar and is_event(kind):
        rows.append([Button(t("calendar.button"), CalendarButton(action_id).pack())])
    return rows


def person_view(
    t: Translator,
    action: Action,
    timezone: str,
    now: datetime,
    standing: action_store.Standing,
    user_id: int | None,
    *,
    banner: bool = True,
) -> tuple[Html, Keyboard | None]:
    """An action's message as one reader sees it now (a group: `user_id` None): the places,
    their answer and place on the waitlist, and buttons only while answers are taken; headed
    by its status once over (unless `banner` is False: a notice that says it already); once
    over, no places left nor waitlist either way."""
    status = shown_status(action, now)
    chosen = standing.answers.get(user_id) if user_id is not None else None
    position = standing.positions.get(user_id) if user_id is not None else None
    shown = status if banner else action_store.OPEN
    live = status == action_store.OPEN
    text = render(
        t, action, timezone, standing=standing, position=position, status=shown, live=live
    )
    if status != action_store.OPEN:
        return text, None
    calendar = user_id is not None and action.at is not None
    role = role_of(standing, user_id)
    keyboard = rsvp_keyboard(
        t, action.id, action.kind, chosen, position, calendar=calendar, role=role
    )
    if chosen == action_store.GOING and is_event(action.kind) and is_under_way(action, now):
        here = Button(t("attendance.here"), HereButton(action.id).pack())
        keyboard = [[here], *keyboard]
    return text, keyboard


def first_view(t: Translator, draft: Mapping[str, Any], timezone: str) -> tuple[Html, Keyboard]:
    """A call not sent yet as a volunteer will first see it (every place free, nobody has
    answered, "Add to calendar" on an event), for the preview and the test copy. Its buttons
    name no action (id 0): pressed, they do nothing."""
    data = values_of(draft)
    kind = str(data["kind"])
    slots = [
        action_store.SlotStanding(n, str(s["name"]), int(s["capacity"]), s.get("skill"), 0, 0)
        for n, s in enumerate(data.get("slots") or [], start=1)
    ]
    standing = action_store.Standing(counts={}, answers={}, positions={}, slots=slots)
    text = render(t, data, timezone, standing=standing)
    calendar = isinstance(data.get("at"), datetime)
    return text, rsvp_keyboard(t, 0, kind, calendar=calendar)


INERT = CalendarButton(0).pack()  # a button of a preview or a test: names no action


def is_under_way(action: Action, now: datetime) -> bool:
    """Whether an event has started and not ended (when volunteers check themselves in)."""
    end = end_of(action)
    return action.at is not None and end is not None and action.at <= now < end


def role_of(standing: action_store.Standing, user_id: int | None) -> str | None:
    """The name of the role a volunteer took or waits for (None: no role)."""
    slot_id = standing.slot_of.get(user_id) if user_id is not None else None
    return next((s.name for s in standing.slots if s.id == slot_id), None)


def deep_link(bot_username: str, code: str) -> str:
    """The link that opens the action in Chorus."""
    return f"https://t.me/{bot_username}?start=a_{code}"


# parsing typed answers (InvalidInput with the reason when the text does not fit)


def parse_link(text: str) -> str:
    """An http(s) address with a host."""
    value = text.strip()
    if len(value) > LINK_MAX:  # said as such: "not a web address" misled (newcomer trial)
        raise InvalidInput("actions.link_too_long", length=len(value), max=LINK_MAX)
    parts = urlsplit(value)
    if (
        parts.scheme not in ("http", "https")
        or "." not in parts.netloc
        or any(ch.isspace() for ch in value)
    ):
        raise InvalidInput("actions.invalid_link")
    return value


def parse_local_time(text: str, now: datetime, timezone: str) -> str:
    """A moment typed by the coordinator (grammar: handlers.kernel.when), read in `timezone`: a
    wall time ("3/12 18:00") as the local "YYYY-MM-DD HH:MM" there, which keeps meaning that
    wall time if the action's zone changes after this step; a duration ("in 2d") as the moment
    it names, "YYYY-MM-DDTHH:MM+00:00", which stays that moment in any zone (`to_utc`)."""
    moment = when.parse(text, now, timezone)
    if when.is_duration(text):
        fixed = moment.astimezone(ZoneInfo("UTC")).replace(second=0, microsecond=0)
        return fixed.isoformat(timespec="minutes")
    return moment.strftime("%Y-%m-%d %H:%M")


def to_utc(local: str, timezone: str) -> datetime:
    """A local "YYYY-MM-DD HH:MM" in a time zone, as an aware UTC moment (a fixed moment from
    `parse_local_time`, with its offset, stays itself whatever the zone)."""
    if "T" in local:
        return datetime.fromisoformat(local).astimezone(ZoneInfo("UTC"))
    naive = datetime.strptime(local, "%Y-%m-%d %H:%M")
    return naive.replace(tzinfo=ZoneInfo(timezone)).astimezone(ZoneInfo("UTC"))


def parse_capacity(text: str) -> int:
    """A number of places."""
    value = text.strip()
    if not value.isdigit() or not 1 <= int(value) <= CAPACITY_MAX:
        raise InvalidInput("actions.invalid_capacity", max=CAPACITY_MAX)
    return int(value)


_OFFSET = re.compile(r"^(\d+)\s*([dhm])$")
_UNIT_MINUTES = {"d": 1440, "h": 60, "m": 1}


def parse_reminders(t: Translator, text: str) -> list[int]:
    """Reminder offsets such as "48h, 2h, 30m" or "1d" (or "none"), as minutes, largest first."""
    value = text.strip().lower()
    if value in ("none", "0", "-", t("actions.none_word").lower()):
        return []
    minutes: set[int] = set()
    for part in re.split(r"[,\s;،؛]+", value):
        if not part:
            continue
        match = _OFFSET.match(part)
        if match is None:
            raise InvalidInput("actions.invalid_reminders")
        amount = int(match.group(1)) * _UNIT_MINUTES[match.group(2)]
        if not 1 <= amount <= MAX_REMINDER_MINUTES:
            raise InvalidInput("actions.invalid_reminders")
        minutes.add(amount)
    if not minutes or len(minutes) > MAX_REMINDERS:
        raise InvalidInput("actions.invalid_reminders")
    return sorted(minutes, reverse=True)


MAX_SLOTS = 8
SLOT_NAME_LIMITS = (2, 40)
_SLOT = re.compile(r"^(\d+)\s*(?:[x×]\s*)?(.+?)\s*(?:\((.+)\))?$")


def parse_slots(t: Translator, text: str) -> list[dict[str, Any]]:
    """Roles such as "2 stewards, 1 photographer (media), 4 leafleters" (or "none"): each a
    number of places, a name, and an optional skill in brackets (its code or its label)."""
    value = text.strip()
    if value.lower() in ("none", "0", "-", t("actions.none_word").lower()):
        return []
    skills = {code: code for code in fields.SKILLS}
    skills |= {fields.option_label(t, "skills", code).lower(): code for code in fields.SKILLS}
    slots: list[dict[str, Any]] = []
    for part in re.split(r"[,;\n،؛]+", value):
        part = part.strip()
        if not part:
            continue
        match = _SLOT.match(part)
        if match is None:
            raise InvalidInput("actions.invalid_slots")
        count, name, skill = int(match.group(1)), match.group(2).strip(), match.group(3)
        if not 1 <= count <= CAPACITY_MAX or not (
            SLOT_NAME_LIMITS[0] <= len(name) <= SLOT_NAME_LIMITS[1]
        ):
            raise InvalidInput("actions.invalid_slots")
        code = None
        if skill is not None:
            code = skills.get(skill.strip().lower())
            if code is None:
                raise InvalidInput("actions.invalid_slot_skill", skill=skill.strip())
        slots.append({"name": name, "capacity": count, "skill": code})
    if not slots or len(slots) > MAX_SLOTS:
        raise InvalidInput("actions.invalid_slots")
    return slots


def reminders_text(t: Translator, minutes: Sequence[int]) -> str:
    """ "1 day, 1 hour before" in the reader's language ("none" when empty)."""
    if not minutes:
        return t("common.none")
    parts = [
        str(format_timedelta(timedelta(minutes=m), threshold=1.0, locale=t.babel_locale))
        for m in minutes
    ]
    return t("actions.reminders_before", offsets=Html(t.comma.join(parts)))
