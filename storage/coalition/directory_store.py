"""The member directory: searches by name, organisation, skill, country, kind, language,
availability and status."""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, delete, func, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from storage.coalition.coalition_models import DirectorySearch
from storage.json_lists import dialect_of, json_has_any, json_items
from storage.models import Volunteer
from storage.people import shown_names

FILTERS = ("words", "skills", "countries", "kinds", "languages", "statuses", "min_hours")
DEFAULT_STATUSES = ("active",)
KEEP_SEARCHES = 20  # per coordinator: older searches' buttons go stale


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a search."""

    volunteers: Sequence[Volunteer]
    total: int
    number: int  # from 0
    pages: int


def _folded(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold().replace("’", "'"))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def searchable_text(volunteer: Volunteer, sees_discreet: bool) -> str:
    """What a name search looks in, for a reader as shown_names.for_viewer shows them: a reader
    who may see behind discreet mode and pseudonyms (permissions.may_see_discreet) finds a
    member by name, pseudonym, organisation or @username; any other reader only by what they
    are shown — a pseudonym never leads back to the name, the @username nor the reverse, and a
    discreet member is found by nothing they typed (issue 16, the safety kit)."""
    parts: tuple[str | None, ...]
    if sees_discreet:
        parts = (
            volunteer.display_name,
            volunteer.pseudonym,
            volunteer.org_name,
            volunteer.username,
        )
    elif volunteer.discreet:
        parts = ()
    else:
        parts = (
            shown_names.public_name(volunteer),
            volunteer.org_name,
            shown_names.username_for_viewer(volunteer, sees_discreet),
        )
    return _folded(" ".join(part for part in parts if part))


def matches(volunteer: Volunteer, filters: Mapping[str, Any], sees_discreet: bool) -> bool:
    """True when a volunteer fits every filter (skills: any of them; words: each one inside
    what the reader may search of them, case and accents ignored: `searchable_text`)."""
    words = filters.get("words") or []
    if words:
        haystack = searchable_text(volunteer, sees_discreet)
        if not all(_folded(word).lstrip("@") in haystack for word in words):
            return False
    statuses = filters.get("statuses") or DEFAULT_STATUSES
    if volunteer.status not in statuses:
        return False
    skills = set(filters.get("skills") or [])
    if skills and not skills & set(volunteer.skills or []):
        return False
    for name, value in (
        ("countries", volunteer.country),
        ("kinds", volunteer.kind),
        ("languages", volunteer.language),
    ):
        wanted = filters.get(name)
        if wanted and value not in wanted:
            return False
    minimum = filters.get("min_hours")
    return not (minimum and (volunteer.hours_per_month or 0) < int(minimum))


def _where(session: AsyncSession, filters: Mapping[str, Any]) -> list[ColumnElement[bool]]:
    """`matches` but the words, as SQL conditions."""
    statuses = filters.get("statuses") or DEFAULT_STATUSES
    conditions: list[ColumnElement[bool]] = [Volunteer.status.in_(list(statuses))]
    if filters.get("skills"):
        conditions.append(json_has_any(dialect_of(session), Volunteer.skills, filters["skills"]))
    for name, column in (
        ("countries", Volunteer.country),
        ("kinds", Volunteer.kind),
        ("languages", Volunteer.language),
    ):
        if filters.get(name):
            conditions.append(column.in_(list(filters[name])))
    minimum = filters.get("min_hours")
    if minimum:
        conditions.append(func.coalesce(Volunteer.hours_per_month, 0) >= int(minimum))
    return conditions


# what searchable_text and the names it uses read of a volunteer (no JSON lists)
_NAMED = (
    Volunteer.user_id,
    Volunteer.kind,
    Volunteer.display_name,
    Volunteer.username,
    Volunteer.org_name,
    Volunteer.org_type,
    Volunteer.org_country,
    Volunteer.org_id,
    Volunteer.org_role,
    Volunteer.org_status,
    Volunteer.discreet,
    Volunteer.pseudonym,
    Volunteer.keep_username,
    Volunteer.status,
)
_ORDER = (Volunteer.display_name, Volunteer.user_id)
# what the members' export writes of each (handlers/coalition/directory.py `_row`), names included
_EXPORTED = (
    *_NAMED,
    Volunteer.country,
    Volunteer.language,
    Volunteer.skills,
    Volunteer.hours_per_month,
)


def _numbered(total: int, page: int, per_page: int) -> tuple[int, int]:
    pages = max(1, -(-total // per_page))
    return min(max(page, 0), pages - 1), pages


async def search(
    session: AsyncSession,
    filters: Mapping[str, Any],
    page: int,
    per_page: int,
    sees_discreet: bool,
) -> Page:
    """The volunteers matching `filters` for this reader (`matches`), by name, one page.

    Counted and paged by the database (issue 17: a page costs the same in a coalition of
    100,000); a name search reads only the names of those that fit the other filters, and
    loads only the page's volunteers."""
    conditions = _where(session, filters)
    words = [_folded(word).lstrip("@") for word in filters.get("words") or []]
    if not words:
        total = int(
            await session.scalar(select(func.count()).select_from(Volunteer).where(*conditions))
            or 0
        )
        number, pages = _numbered(total, page, per_page)
        shown = await session.scalars(
            select(Volunteer)
            .where(*conditions)
            .order_by(*_ORDER)
            .offset(number * per_page)
            .limit(per_page)
        )
        return Page(list(shown), total, number, pages)
    if not sees_discreet and all(words):
        conditions.append(Volunteer.discreet.is_not(True))  # found by nothing they typed
    rows = await session.execute(select(*_NAMED).where(*conditions).order_by(*_ORDER))
    found = [
        row.user_id
        for row in rows
        # a row has every attribute searchable_text reads of a Volunteer
        if _has_words(cast(Volunteer, row), words, sees_discreet)
    ]
    number, pages = _numbered(len(found), page, per_page)
    ids = found[number * per_page : (number + 1) * per_page]
    loaded = {
        v.user_id: v
        for v in await session.scalars(select(Volunteer).where(Volunteer.user_id.in_(ids)))
    }
    return Page([loaded[i] for i in ids if i in loaded], len(found), number, pages)


async def every_match(
    session: AsyncSession, filters: Mapping[str, Any], sees_discreet: bool
) -> list[Any]:
    """Every volunteer matching `filters` for this reader (`search`'s rule), by name, as rows
    of what a name and an export read (`_EXPORTED`), read as a Volunteer is, never ORM
    objects: an export of 100,000 loaded as Volunteers took 11 s (issue 17)."""
    conditions = _where(session, filters)
    words = [_folded(word).lstrip("@") for word in filters.get("words") or []]
    if words and not sees_discreet and all(words):
        conditions.append(Volunteer.discreet.is_not(True))  # found by nothing they typed
    rows = await session.execute(select(*_EXPORTED).where(*conditions).order_by(*_ORDER))
    # a row has every attribute searchable_text reads of a Volunteer
    return [
        row for row in rows if not words or _has_words(cast(Volunteer, row), words, sees_discreet)
    ]


def _has_words(volunteer: Volunteer, words: Sequence[str], sees_discreet: bool) -> bool:
    haystack = searchable_text(volunteer, sees_discreet)
    return all(word in haystack for word in words)


@dataclass(frozen=True, slots=True)
class Inventory:
    """How many volunteers there are by skill, country, kind and status."""

    skills: Counter[str]
    countries: Counter[str]
    kinds: Counter[str]
    statuses: Counter[str]
    hours: int  # a month, all active volunteers together


async def inventory(session: AsyncSession) -> Inventory:
    """The skill inventory: counts over active volunteers (statuses over everyone), counted by
    the database (issue 17)."""
    statuses = await session.execute(
        select(Volunteer.status, func.count()).group_by(Volunteer.status)
    )
    active = Volunteer.status == "active"
    places = await session.execute(
        select(
            Volunteer.country,
            Volunteer.kind,
            func.count(),
            func.sum(func.coalesce(Volunteer.hours_per_month, 0)),
        )
        .where(active)
        .group_by(Volunteer.country, Volunteer.kind)
    )
    countries: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    hours = 0
    for country, kind, n, month_hours in places:
        countries[country] += int(n)
        kinds[kind] += int(n)
        hours += int(month_hours or 0)
    items = json_items(dialect_of(session), Volunteer.skills)
    skills = await session.execute(
        select(items.c.value, func.count())
        .select_from(Volunteer)
        .join(items, true())
        .where(active)
        .group_by(items.c.value)
    )
    return Inventory(
        Counter({skill: int(n) for skill, n in skills}),
        countries,
        kinds,
        Counter({status: int(n) for status, n in statuses}),
        hours,
    )


async def save_search(
    session: AsyncSession, owner_id: int, filters: Mapping[str, Any], now: datetime
) -> DirectorySearch:
    """Keeps a search so that its pages can be turned; forgets the owner's oldest ones."""
    saved = DirectorySearch(owner_id=owner_id, filters=dict(filters), created_at=now)
    session.add(saved)
    await session.flush()
    old = (
        await session.scalars(
            select(DirectorySearch.id)
            .where(DirectorySearch.owner_id == owner_id)
            .order_by(DirectorySearch.id.desc())
            .offset(KEEP_SEARCHES)
        )
    ).all()
    if old:
        await session.execute(delete(DirectorySearch).where(DirectorySearch.id.in_(old)))
    return saved


async def get_search(session: AsyncSession, search_id: int) -> DirectorySearch | None:
    """A saved search by id."""
    return await session.get(DirectorySearch, search_id)


async def by_username(session: AsyncSession, username: str) -> Volunteer | None:
    """A volunteer by Telegram @username (case does not matter)."""
    wanted = username.lstrip("@").lower()
    if not wanted:
        return None
    return await session.scalar(
        select(Volunteer).where(func.lower(Volunteer.username) == wanted).limit(1)
    )
