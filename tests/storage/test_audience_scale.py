"""Audiences and the member directory computed by the database (issue 17: cost must not grow
with the coalition): the same people as the per-volunteer rules they replace, on a varied
crowd, for a bounded number of statements and no volunteer loaded per member."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from bot.app import Storage
from storage.actions import action_store, audience_store
from storage.coalition import directory_store
from storage.models import UserPreference, Volunteer
from tests.support.crowd import COUNTRIES, LANGUAGES, NAMES, SKILLS, counting, seed

NOW = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)


# The rules as they were written before issue 17: every volunteer loaded and tested in Python.


def _fits(volunteer: Volunteer, filters: Mapping[str, Any]) -> bool:
    skills = set(filters.get("skills") or [])
    if skills and not skills & set(volunteer.skills or []):
        return False
    for name, value in (
        ("countries", volunteer.country),
        ("kinds", volunteer.kind),
        ("languages", volunteer.language),
    ):
        wanted = set(filters.get(name) or [])
        if wanted and value not in wanted:
            return False
    return True


async def _everyone(storage: Storage) -> tuple[list[Volunteer], set[int]]:
    async with storage.sessionmaker() as session:
        volunteers = list(await session.scalars(select(Volunteer).order_by(Volunteer.user_id)))
        blocked = set(
            await session.scalars(
                select(UserPreference.user_id).where(UserPreference.blocked_bot_at.is_not(None))
            )
        )
    return volunteers, blocked


def _reasons(
    volunteers: list[Volunteer], blocked: set[int], filters: Mapping[str, Any], kind: str | None
) -> dict[str, list[int]]:
    muted = f"action:{kind}" if kind is not None else None
    found: dict[str, list[int]] = {reason: [] for reason in (*action_store.LEFT_OUT, "in")}
    for v in volunteers:
        if v.user_id in blocked:
            found["blocked"].append(v.user_id)
        elif v.status != "active":
            found["inactive"].append(v.user_id)
        elif muted is not None and muted in (v.muted or []):
            found["muted"].append(v.user_id)
        elif not _fits(v, filters):
            found["outside"].append(v.user_id)
        else:
            found["in"].append(v.user_id)
    return found


def _random_filters(rng: random.Random) -> dict[str, Any]:
    filters: dict[str, Any] = {}
    for name, values in (
        ("skills", SKILLS),
        ("countries", COUNTRIES),
        ("languages", LANGUAGES),
        ("kinds", ("individual", "organisation")),
    ):
        if rng.random() < 0.5:
            filters[name] = rng.sample(values, rng.randint(1, 2))
    return filters


async def test_an_audience_counted_by_the_database_is_the_same_people_as_before(
    storage: Storage,
) -> None:
    await seed(storage, 300, NOW)
    volunteers, blocked = await _everyone(storage)
    by_id = {v.user_id: v for v in volunteers}
    rng = random.Random(5)
    for _ in range(40):
        filters = _random_filters(rng)
        kind = rng.choice((None, "meeting", "petition"))
        expected = _reasons(volunteers, blocked, filters, kind)
        async with storage.sessionmaker() as session:
            assert await audience_store.count(session, filters, kind) == len(expected["in"])
            people = await action_store.audience(session, filters, kind)
            assert [p.user_id for p in people] == expected["in"]
            assert [(p.language, p.timezone, p.quiet_hours, p.digest) for p in people] == [
                (v.language, v.timezone, v.quiet_hours, v.digest)
                for v in (by_id[i] for i in expected["in"])
            ]
            languages = await audience_store.by_language(session, filters, kind)
            assert languages == Counter(by_id[i].language for i in expected["in"])
            shares = await audience_store.shares(session, filters, kind)
            assert sum(s.people for s in shares) == len(expected["in"])
            if kind is not None:
                preview = await audience_store.preview(session, filters, kind, 5)
                assert preview.languages == languages
                left = preview.left_out
                for reason in action_store.LEFT_OUT:
                    assert left[reason].count == len(expected[reason]), (filters, reason)
                    assert [v.user_id for v in left[reason].first] == expected[reason][:5]
    everyone = _reasons(volunteers, blocked, {"skills": ["media"]}, "meeting")
    assert all(everyone.values())  # the crowd has people left out for every reason


def _directory_matches(v: Volunteer, filters: Mapping[str, Any], sees: bool) -> bool:
    words = filters.get("words") or []
    if words:
        haystack = directory_store.searchable_text(v, sees)
        if not all(directory_store._folded(w).lstrip("@") in haystack for w in words):
            return False
    if v.status not in (filters.get("statuses") or directory_store.DEFAULT_STATUSES):
        return False
    if not _fits(v, filters):
        return False
    minimum = filters.get("min_hours")
    return not (minimum and (v.hours_per_month or 0) < int(minimum))


async def test_a_directory_page_from_the_database_shows_what_it_showed(
    storage: Storage,
) -> None:
    await seed(storage, 300, NOW)
    async with storage.sessionmaker() as session:
        ordered = list(
            await session.scalars(
                select(Volunteer).order_by(Volunteer.display_name, Volunteer.user_id)
            )
        )
    rng = random.Random(9)
    words = [n.lower() for n in NAMES] + ["nightingale", "bread", "@ana", "elodie", "zz"]
    for _ in range(60):
        filters = _random_filters(rng)
        if rng.random() < 0.5:
            filters["words"] = rng.sample(words, rng.randint(1, 2))
        if rng.random() < 0.3:
            filters["statuses"] = ["active", "asleep"]
        if rng.random() < 0.3:
            filters["min_hours"] = rng.choice((2, 8))
        sees = rng.random() < 0.5
        per_page = rng.choice((5, 10))
        page = rng.choice((0, 1, 3, 99, -1))
        found = [v.user_id for v in ordered if _directory_matches(v, filters, sees)]
        pages = max(1, -(-len(found) // per_page))
        number = min(max(page, 0), pages - 1)
        async with storage.sessionmaker() as session:
            shown = await directory_store.search(session, filters, page, per_page, sees)
        assert (shown.total, shown.number, shown.pages) == (len(found), number, pages)
        assert [v.user_id for v in shown.volunteers] == found[
            number * per_page : (number + 1) * per_page
        ], (filters, sees)


async def test_the_skill_inventory_counted_by_the_database_is_the_same(
    storage: Storage,
) -> None:
    await seed(storage, 300, NOW)
    volunteers, _ = await _everyone(storage)
    active = [v for v in volunteers if v.status == "active"]
    async with storage.sessionmaker() as session:
        with counting(storage.engine) as cost:
            found = await directory_store.inventory(session)
    assert found.statuses == Counter(v.status for v in volunteers)
    assert found.skills == Counter(s for v in active for s in v.skills or [])
    assert found.countries == Counter(v.country for v in active)
    assert found.kinds == Counter(v.kind for v in active)
    assert found.hours == sum(v.hours_per_month or 0 for v in active)
    assert cost.volunteers_loaded == 0 and cost.statements <= 4  # three, and a BEGIN


async def _costs(storage: Storage) -> list[tuple[str, int, int]]:
    filters = {"skills": ["media", "legal"], "countries": ["LB", "FR"]}
    costs = []
    async with storage.sessionmaker() as session:
        for name, run in (
            ("count", lambda: audience_store.count(session, filters, "meeting")),
            ("by_language", lambda: audience_store.by_language(session, filters, "meeting")),
            ("shares", lambda: audience_store.shares(session, filters, "meeting")),
            ("preview", lambda: audience_store.preview(session, filters, "meeting", 5)),
            ("members", lambda: directory_store.search(session, {}, 0, 10, False)),
            ("members p3", lambda: directory_store.search(session, filters, 3, 10, True)),
        ):
            with counting(storage.engine) as cost:
                await run()
            costs.append((name, cost.statements, cost.volunteers_loaded))
    return costs


async def test_counting_an_audience_and_a_directory_page_cost_the_same_at_any_size(
    storage: Storage,
) -> None:
    await seed(storage, 40, NOW)
    small = await _costs(storage)
    await seed(storage, 600, NOW, seed=18, first_id=41)
    large = await _costs(storage)
    for (name, few, _), (_, statements, loaded) in zip(small, large, strict=True):
        assert statements <= few <= 5, name  # left_out: one more per reason found, at most
        assert loaded <= 20, name  # a page, the first five of each reason: never everyone
