"""The member directory: searches by name, organisation, skill, country, kind, language,
availability and status."""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.coalition.coalition_models import DirectorySearch
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


async def search(
    session: AsyncSession,
    filters: Mapping[str, Any],
    page: int,
    per_page: int,
    sees_discreet: bool,
) -> Page:
    """The volunteers matching `filters` for this reader (`matches`), by name, one page."""
    statement = select(Volunteer).order_by(Volunteer.display_name, Volunteer.user_id)
    statuses = filters.get("statuses") or DEFAULT_STATUSES
    statement = statement.where(Volunteer.status.in_(list(statuses)))
    if filters.get("countries"):
        statement = statement.where(Volunteer.country.in_(list(filters["countries"])))
    if filters.get("kinds"):
        statement = statement.where(Volunteer.kind.in_(list(filters["kinds"])))
    if filters.get("languages"):
        statement = statement.where(Volunteer.language.in_(list(filters["languages"])))
    found = [
        v for v in (await session.scalars(statement)).all() if matches(v, filters, sees_discreet)
    ]
    pages = max(1, -(-len(found) // per_page))
    number = min(max(page, 0), pages - 1)
    start = number * per_page
    return Page(found[start : start + per_page], len(found), number, pages)


@dataclass(frozen=True, slots=True)
class Inventory:
    """How many volunteers there are by skill, country, kind and status."""

    skills: Counter[str]
    countries: Counter[str]
    kinds: Counter[str]
    statuses: Counter[str]
    hours: int  # a month, all active volunteers together


async def inventory(session: AsyncSession) -> Inventory:
    """The skill inventory: counts over active volunteers (statuses over everyone)."""
    skills: Counter[str] = Counter()
    countries: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    statuses: Counter[str] = Counter()
    hours = 0
    rows = await session.execute(
        select(
            Volunteer.status,
            Volunteer.skills,
            Volunteer.country,
            Volunteer.kind,
            Volunteer.hours_per_month,
        )
    )
    for status, skill_list, country, kind, month_hours in rows:
        statuses[status] += 1
        if status != "active":
            continue
        skills.update(skill_list or [])
        countries[country] += 1
        kinds[kind] += 1
        hours += month_hours or 0
    return Inventory(skills, countries, kinds, statuses, hours)


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
