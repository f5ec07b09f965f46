"""The questions of the volunteer profile, asked once by registration and again by /profile.

Each question knows how to ask itself (text and buttons), how to read a typed answer, and which
button values it accepts. Button data: an `AnswerButton` of the flow ("<flow prefix>:<question>:
<value>"); the flow checks it against the step its dialog is at.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any
from zoneinfo import available_timezones

from handlers.kernel import quiet_hours, typed_text
from handlers.kernel.context import Context
from handlers.kernel.forms import DONE, AnswerButton, Data, Step
from handlers.kernel.i18n import SUPPORTED_LOCALES, Html, Translator, translator
from handlers.kernel.invalid_input import InvalidInput
from handlers.kernel.ports import Button, Keyboard
from handlers.people import countries, zones

KINDS = ("individual", "organisation")
ORG_TYPES = ("ngo", "survivor_network", "faith_group", "university_youth", "union", "other")
SKILLS = (
    "media",
    "social_media",
    "research",
    "translation",
    "legal",
    "lobbying",
    "events",
    "fundraising",
    "design",
    "first_aid",
    "logistics",
    "survivor_assistance",
)
RESOURCES = (
    "meeting_rooms",
    "transport",
    "printing",
    "equipment",
    "accommodation",
    "media_contacts",
    "funding_contacts",
)
INTERESTS = (
    "disarmament",
    "victim_assistance",
    "clearance",
    "monitoring",
    "human_rights",
    "disability_rights",
    "children_rights",
    "women_rights",
    "peace_security",
    "development",
    "faith",
    "youth",
)
HOURS_PRESETS = (2, 5, 10, 20, 40)
MAX_HOURS = 200
NAME_LIMITS = (2, 64)
ORG_NAME_LIMITS = (2, 120)
YES_NO = ("yes", "no")
YES_NO_QUESTIONS = ("discreet", "keep_username")  # answered yes/no, stored as a boolean
PROFILE_ONLY = ("pseudonym", "keep_username")  # the safety kit: asked by /profile, not at sign-up
NOW = "_now"  # what a question is asked with: the clock's time (for local times on buttons)


@dataclass(frozen=True, slots=True)
class Question:
    """One question of the profile."""

    name: str
    kind: str  # choice | multi | text | number | country | timezone | hours | digest
    options: tuple[str, ...] = ()
    limits: tuple[int, int] = (0, 0)
    required: bool = False  # a multi-select that refuses "Done" with nothing chosen


QUESTIONS: dict[str, Question] = {
    q.name: q
    for q in (
        Question("language", "choice", SUPPORTED_LOCALES),
        Question("kind", "choice", KINDS),
        Question("display_name", "text", limits=NAME_LIMITS),
        Question("org_name", "text", limits=ORG_NAME_LIMITS),
        Question("org_type", "choice", ORG_TYPES),
        Question("country", "country"),
        Question("timezone", "timezone"),
        Question("skills", "multi", SKILLS, required=True),
        Question("hours_per_month", "number", limits=(0, MAX_HOURS)),
        Question("resources", "multi", RESOURCES),
        Question("interests", "multi", INTERESTS),
        Question("discreet", "choice", YES_NO),
        Question("quiet_hours", "hours", quiet_hours.PRESETS),
        Question("digest", "digest", quiet_hours.DIGEST_PRESETS),
        Question("pseudonym", "text", limits=NAME_LIMITS),  # the safety kit: /profile only
        Question("keep_username", "choice", YES_NO),
    )
}


def option_label(t: Translator, question: str, value: str) -> str:
    """The visible label of one option."""
    if question == "language":
        return t.language_name(value)
    if question in YES_NO_QUESTIONS:
        return t(f"common.{value}")
    if question == "country":
        return t.country_name(value)
    if question == "timezone":
        return zones.city(t, value) if value in _known_zones() else value
    if question == "quiet_hours":
        return t("quiet.off") if value == quiet_hours.OFF else quiet_hours.label(value)
    if question == "digest":
        parts = quiet_hours.digest_parts(value)
        if parts is None:
            return t("digest.each")
        return t(f"digest.{parts[0]}", time=parts[1].strftime("%H:%M"))
    return t(f"{question}.{value}")


def button(kind: type[AnswerButton], question: str, value: str, label: str) -> Button:
    """A button that answers `question` with `value` in the flow whose answers are `kind`."""
    return Button(label, kind(question, value).pack())


def ask(
    t: Translator, question: Question, data: dict[str, Any], kind: type[AnswerButton]
) -> tuple[Html, Keyboard | None]:
    """The question's text and buttons, showing what is already selected."""
    text = t(f"ask.{question.name}")
    if question.kind == "choice":
        rows = [
            [button(kind, question.name, v, option_label(t, question.name, v))]
            for v in question.options
        ]
        if question.name in ("kind", *YES_NO_QUESTIONS):
            rows = [[cell for row in rows for cell in row]]
        return text, rows
    if question.kind == "multi":
        chosen = set(data.get(question.name) or [])
        cells = [
            button(
                kind,
                question.name,
                value,
                ("✅ " if value in chosen else "") + option_label(t, question.name, value),
            )
            for value in question.options
        ]
        rows = [cells[i : i + 2] for i in range(0, len(cells), 2)]
        rows.append([button(kind, question.name, DONE, t("common.done"))])
        return text, rows
    if question.kind == "number":
        presets = [button(kind, question.name, str(h), t.number(h)) for h in HOURS_PRESETS]
        return text, [presets]
    if question.kind in ("hours", "digest"):  # button data: the preset's index (no ":")
        cells = [
            button(kind, question.name, str(i), option_label(t, question.name, v))
            for i, v in enumerate(question.options)
        ]
        return text, [cells[i : i + 2] for i in range(0, len(cells), 2)]
    if question.kind == "timezone":
        offered = zones.choices(str(data.get("country") or ""))
        now = data.get(NOW)
        if offered and isinstance(now, datetime):
            cells = [button(kind, question.name, z, zones.label(t, z, now)) for z in offered]
            return text, [cells[i : i + 2] for i in range(0, len(cells), 2)]
    return text, None


def parse_text(
    t: Translator, question: Question, text: str, data: dict[str, Any], kind: type[AnswerButton]
) -> Any:
    """The value of a typed answer, or InvalidInput saying what to type."""
    if question.kind == "text":
        return typed_text.clean_line(text, question.limits)
    if question.kind == "number":
        stripped = text.strip()
        if not stripped.isdigit():
            raise InvalidInput("invalid.number", max=question.limits[1])
        number = int(stripped)
        if not question.limits[0] <= number <= question.limits[1]:
            raise InvalidInput("invalid.number", max=question.limits[1])
        return number
    if question.kind == "country":
        return parse_country(t, text, kind)
    if question.kind == "timezone":
        return parse_timezone(text)
    if question.kind == "hours":
        return quiet_hours.parse(text)
    if question.kind == "digest":
        return quiet_hours.parse_digest(text)
    raise InvalidInput("invalid.use_buttons")


def parse_button(question: Question, raw: str, data: dict[str, Any]) -> Any:
    """The value a pressed button stands for; None when it is not one of the options."""
    if question.kind in ("hours", "digest"):
        presets = question.options
        return presets[int(raw)] if raw.isdigit() and int(raw) < len(presets) else None
    if question.kind in ("choice", "multi"):
        return (
            raw if raw in question.options or (question.kind == "multi" and raw == DONE) else None
        )
    if question.kind == "number":
        return int(raw) if raw.isdigit() and int(raw) in HOURS_PRESETS else None
    if question.kind == "country":
        return raw if raw in country_codes() else None
    if question.kind == "timezone":
        offered = zones.choices(str(data.get("country") or ""))
        if raw.isdigit():  # buttons sent before the zone's name was their value
            return offered[int(raw)] if int(raw) < len(offered) else None
        return raw if raw in offered else None
    return None


def answer_label(t: Translator, question: str, value: Any) -> str:
    """How an answer reads in a summary."""
    if isinstance(value, list):
        return t.comma.join(option_label(t, question, v) for v in value) or t("common.none")
    if isinstance(value, bool):
        return t("common.yes") if value else t("common.no")
    if question in ("language", "kind", "org_type", "country", "timezone"):
        return option_label(t, question, str(value))
    if question == "quiet_hours":
        return option_label(t, question, quiet_hours.effective(value))
    if question == "digest":
        return option_label(t, question, str(value or quiet_hours.EACH))
    if question == "hours_per_month":
        return t.plural("profile.hours", int(value))
    return t.isolate(value)


def country_codes() -> frozenset[str]:
    """ISO 3166 codes of real countries and territories (those with a time zone)."""
    return countries.country_codes()


def parse_country(t: Translator, text: str, kind: type[AnswerButton] | None = None) -> str:
    """An ISO code from a country's name (in any of the four languages, straight or curly
    apostrophes alike), its ISO code, or a common short form (UK, USA, DRC): see
    handlers.people.countries.

    InvalidInput when nothing matches; with close matches, it names them ("Did you mean …?") and,
    with `kind` given, carries one suggestion button per guess (an answer to "country").
    """
    code = countries.resolve(text)
    if code is not None:
        return code
    codes = countries.suggestions(text)
    if not codes:
        raise InvalidInput("invalid.country")
    names = t.join(t.country_name(c) for c in codes)
    if kind is not None:
        keyboard = [[button(kind, "country", c, t.country_name(c))] for c in codes]
        raise InvalidInput("invalid.country_suggest", keyboard, names=names)
    raise InvalidInput("invalid.country_suggest", names=names)


def default_timezone(country: str) -> str | None:
    """The country's time zone when it has only one to offer (handlers.people.zones)."""
    return zones.single(country)


@cache
def _known_zones() -> frozenset[str]:
    return frozenset(available_timezones())


async def _now_view(ctx: Context, data: Data) -> dict[str, Any]:
    return {NOW: ctx.now()}


def parse_timezone(text: str) -> str:
    """An IANA time zone from its name ("Europe/Paris") or its city, in English or as the
    person's language names it ("Paris", "Londres", "بيروت": CLDR's city names, as the profile
    shows them)."""
    wanted = text.strip().replace(" ", "_")
    by_fold = {zone.casefold(): zone for zone in _known_zones()}
    if wanted.casefold() in by_fold:
        return by_fold[wanted.casefold()]
    cities = {zone.rsplit("/", 1)[-1].casefold(): zone for zone in sorted(_known_zones())}
    if wanted.casefold() in cities:
        return cities[wanted.casefold()]
    named = _city_names().get(" ".join(text.split()).casefold())
    if named is not None:
        return named
    raise InvalidInput("invalid.timezone")


@cache
def _city_names() -> dict[str, str]:
    """Each time zone's city as CLDR names it in our four languages (casefolded) → the zone; a
    zone named after its own city (Europe/London) wins over an alias sharing it (Europe/Belfast).
    Built once, in about 0.3 s."""
    english = {zone: zones.city(translator("en"), zone) for zone in _known_zones()}
    own = sorted(
        _known_zones(),
        key=lambda zone: (english[zone].replace(" ", "_") != zone.rsplit("/", 1)[-1], zone),
    )
    table: dict[str, str] = {}
    for locale in SUPPORTED_LOCALES:
        for zone in own:
            table.setdefault(zones.city(translator(locale), zone).casefold(), zone)
    return table


def summary_lines(t: Translator, data: dict[str, Any], names: Sequence[str]) -> list[str]:
    """ "<b>Label</b>: answer" lines for the given profile fields."""
    return [
        f"<b>{t(f'field.{name}')}</b>{t.colon}{answer_label(t, name, data.get(name))}"
        for name in names
        if data.get(name) is not None
    ]


def question_step(question: Question, **overrides: Any) -> Step:
    """A form step asking one profile question."""

    def asking(t: Translator, data: Data, kind: type[AnswerButton]) -> tuple[str, Keyboard | None]:
        return ask(t, question, dict(data), kind)

    def read_text(ctx: Context, data: Data, text: str, kind: type[AnswerButton]) -> Any:
        return parse_text(ctx.t, question, text, dict(data), kind)

    def read_button(data: Data, raw: str) -> Any:
        return parse_button(question, raw, dict(data))

    def shown(t: Translator, data: Data, value: Any) -> str:
        return "\n".join(summary_lines(t, dict(data), [question.name]))

    typed = question.kind not in ("choice", "multi")
    if question.kind == "timezone":
        overrides.setdefault("view", _now_view)
    values: dict[str, Any] = {
        "name": question.name,
        "ask": asking,
        "read_text": read_text if typed else None,
        "read_button": read_button,
        "multi": question.kind == "multi",
        "choices": question.options if question.kind == "multi" else (),
        "required": question.required,
        "shown": shown,
    }
    return Step(**{**values, **overrides})


def store_discreet(ctx: Context, data: Data, value: Any) -> dict[str, Any]:
    """Keeps the discreet-mode answer ("yes"/"no") as a boolean."""
    return {**data, "discreet": value == "yes"}


def store_yes_no(name: str) -> Callable[[Context, Data, Any], dict[str, Any]]:
    """A store keeping a yes/no answer to `name` as a boolean."""

    def store(ctx: Context, data: Data, value: Any) -> dict[str, Any]:
        return {**data, name: value == "yes"}

    return store
