"""The sandbox's people: the ready-made ones, and `--demo`'s few hundred registered volunteers.

The ready-made people exist from the first start, the same ids every time: a coordinator,
volunteers whose Telegram speaks Arabic, French and Spanish, an organisation's representative
(all registered, so that calls to action and votes work at once), a newcomer who has not
registered yet, and the coalition group with all of them. Each demo volunteer is a person in
the emulator (who has started the bot and is in the group) and a registered volunteer in the
bot's database, with the same id; the set is the same on every start, and adding it twice
changes nothing.

A ready-made person's `role` is what they start as; what the page says of anyone is read from
the bot's database each time (`labels`): Tom is a volunteer once he has registered.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from botapi_emulator.models import Chat, Member
from botapi_emulator.state import EmulatorState
from handlers.kernel.permissions import COORDINATORS, held_roles
from handlers.people.fields import INTERESTS, ORG_TYPES, RESOURCES, SKILLS
from storage.coalition import group_store, role_store
from storage.people import volunteers

COORDINATOR_ID = 100_001
COORDINATOR = "coordinator"
VOLUNTEER = "volunteer"
REPRESENTATIVE = "organisation representative"
NEWCOMER = "newcomer, not registered yet"


@dataclass(frozen=True, slots=True)
class ReadyPerson:
    """A simulated person who exists from the first start (registered unless `profile` is None);
    `role`: what they start as."""

    user_id: int
    first_name: str
    language_code: str
    role: str
    profile: dict[str, Any] | None = None


def _profile(name: str, country: str, zone: str, language: str, **more: Any) -> dict[str, Any]:
    return {
        "kind": "individual",
        "display_name": name,
        "country": country,
        "timezone": zone,
        "language": language,
        **more,
    }


PEOPLE = (
    ReadyPerson(
        COORDINATOR_ID,
        "Coral",
        "en",
        COORDINATOR,
        _profile("Coral", "GB", "Europe/London", "en", skills=["lobbying", "events"]),
    ),
    ReadyPerson(
        100_002,
        "Amira",
        "ar",
        VOLUNTEER,
        _profile("أميرة", "LB", "Asia/Beirut", "ar", skills=["media", "translation"]),
    ),
    ReadyPerson(
        100_003,
        "Marie",
        "fr",
        VOLUNTEER,
        _profile("Marie", "FR", "Europe/Paris", "fr", skills=["legal", "research"]),
    ),
    ReadyPerson(
        100_004,
        "Lucía",
        "es",
        VOLUNTEER,
        _profile("Lucía", "CO", "America/Bogota", "es", skills=["social_media", "design"]),
    ),
    ReadyPerson(
        100_005,
        "Sam",
        "en",
        REPRESENTATIVE,
        _profile(
            "Sam",
            "KE",
            "Africa/Nairobi",
            "en",
            kind="organisation",
            org_name="Nairobi Survivors Network",
            org_type="survivor_network",
            org_country="KE",
            skills=["survivor_assistance", "first_aid"],
        ),
    ),
    ReadyPerson(100_006, "Tom", "en", NEWCOMER),
)
COALITION_GROUP = "Coalition"


def populate(state: EmulatorState) -> Chat:
    """Creates the ready-made people and the coalition group (the same ids on every start)."""
    for person in PEOPLE:
        state.create_user(
            person.first_name, language_code=person.language_code, user_id=person.user_id
        )
        if person.profile is not None:
            state.chats[person.user_id].started = True
    return state.create_group(
        COALITION_GROUP,
        [person.user_id for person in PEOPLE],
        creator_id=COORDINATOR_ID,
        bot_status="administrator",
    )


async def labels(
    session: AsyncSession, user_ids: Iterable[int], admin_ids: Iterable[int]
) -> dict[int, str]:
    """What the sandbox page says each of these people is now: a coordinator (a coordinating
    role, ADMIN_IDS included), a volunteer or an organisation's representative (registered:
    with their status when they are not an active member), or a newcomer, not registered yet."""
    ids = list(user_ids)
    roles = await role_store.everyone(session)
    registered = await volunteers.kinds_and_statuses(session, ids)
    found: dict[int, str] = {}
    for user_id in ids:
        if held_roles(user_id, roles.get(user_id, ()), admin_ids) & COORDINATORS:
            found[user_id] = COORDINATOR
        elif user_id in registered:
            kind, status = registered[user_id]
            label = REPRESENTATIVE if kind == "organisation" else VOLUNTEER
            found[user_id] = label if status == "active" else f"{label} ({status})"
        else:
            found[user_id] = NEWCOMER
    return found


def ready_volunteers() -> list[SeedVolunteer]:
    """The ready-made people who start registered."""
    return [
        SeedVolunteer(p.user_id, p.first_name, "", p.profile)
        for p in PEOPLE
        if p.profile is not None
    ]


DEMO_SIZE = 300
FIRST_DEMO_ID = 200_001

# country, time zone, language, first names, family names
_PLACES: tuple[tuple[str, str, str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("LB", "Asia/Beirut", "ar", ("رامي", "نور", "هادي", "ريم"), ("حداد", "خوري", "سلامة")),
    ("JO", "Asia/Amman", "ar", ("ليلى", "عمر", "سلمى", "زيد"), ("النمر", "العلي", "حجازي")),
    ("IQ", "Asia/Baghdad", "ar", ("علي", "زينب", "مصطفى", "هبة"), ("الجبوري", "الحسني")),
    ("EG", "Africa/Cairo", "ar", ("Youssef", "Mariam", "Karim", "Dina"), ("Hassan", "Fahmy")),
    ("FR", "Europe/Paris", "fr", ("Camille", "Julien", "Léa", "Hugo"), ("Martin", "Bernard")),
    ("BE", "Europe/Brussels", "fr", ("Manon", "Thomas", "Elise"), ("Peeters", "Dubois")),
    ("SN", "Africa/Dakar", "fr", ("Awa", "Moussa", "Fatou", "Ibrahima"), ("Diop", "Ndiaye")),
    ("CD", "Africa/Kinshasa", "fr", ("Grâce", "Patrick", "Nadine"), ("Mbala", "Kabila")),
    ("CO", "America/Bogota", "es", ("Valentina", "Santiago", "Camila"), ("Gómez", "Rojas")),
    ("MX", "America/Mexico_City", "es", ("Diego", "Ximena", "Luis"), ("Hernández", "Cruz")),
    ("ES", "Europe/Madrid", "es", ("Lucía", "Pablo", "Carmen", "Javier"), ("García", "Ruiz")),
    ("GB", "Europe/London", "en", ("Oliver", "Amelia", "Harry", "Isla"), ("Smith", "Jones")),
    ("US", "America/New_York", "en", ("Maya", "Ethan", "Grace", "Noah"), ("Brown", "Lee")),
    ("KE", "Africa/Nairobi", "en", ("Wanjiru", "Otieno", "Achieng"), ("Kamau", "Mwangi")),
    ("KH", "Asia/Phnom_Penh", "en", ("Sokha", "Dara", "Bopha"), ("Chan", "Sok")),
    ("UA", "Europe/Kyiv", "en", ("Olena", "Andriy", "Iryna"), ("Shevchenko", "Bondar")),
)
_ORG_WORDS = ("Survivors Network", "Campaign Committee", "Youth for Peace", "Relief Union")


@dataclass(frozen=True, slots=True)
class SeedVolunteer:
    """One made-up volunteer: who they are in Telegram and in the bot's database."""

    user_id: int
    first_name: str
    last_name: str
    profile: dict[str, Any]


def demo_volunteers(count: int = DEMO_SIZE) -> list[SeedVolunteer]:
    """The demo set: varied kinds, countries, languages, skills; some discreet."""
    rng = random.Random(2024)
    people = []
    for index in range(count):
        country, timezone, language, first_names, last_names = rng.choice(_PLACES)
        first, last = rng.choice(first_names), rng.choice(last_names)
        organisation = rng.random() < 0.12
        profile: dict[str, Any] = {
            "kind": "organisation" if organisation else "individual",
            "display_name": f"{first} {last}",
            "country": country,
            "language": language,
            "timezone": timezone,
            "skills": sorted(rng.sample(SKILLS, rng.randint(1, 3))),
            "hours_per_month": rng.choice((2, 5, 10, 20, 40)),
            "resources": sorted(rng.sample(RESOURCES, rng.randint(0, 2))),
            "interests": sorted(rng.sample(INTERESTS, rng.randint(1, 3))),
            "discreet": rng.random() < 0.15,
        }
        if organisation:
            profile.update(
                org_name=f"{last} {rng.choice(_ORG_WORDS)}",
                org_type=rng.choice(ORG_TYPES),
                org_country=country,
            )
        people.append(SeedVolunteer(FIRST_DEMO_ID + index, first, last, profile))
    return people


def add_to_world(state: EmulatorState, people: list[SeedVolunteer], group: Chat | None) -> None:
    """Creates the people who are not in the emulator yet, as having started the bot.

    They join the group quietly (no "joined" messages): they were there before the sandbox.
    """
    for person in people:
        if person.user_id in state.users:
            continue
        state.create_user(
            person.first_name,
            person.last_name,
            language_code=person.profile["language"],
            user_id=person.user_id,
        )
        state.chats[person.user_id].started = True
        if group is not None:
            group.members.setdefault(person.user_id, Member(person.user_id, "member"))
    if group is not None:
        state.touch(group)


async def register(
    session: AsyncSession,
    people: list[SeedVolunteer],
    group: Chat | None,
    now: datetime,
) -> int:
    """Registers the people the bot does not know yet (and their group membership)."""
    if group is not None:
        await group_store.joined(session, group.id, group.title or "", group.type, now)
    added = 0
    for person in people:
        if await volunteers.get(session, person.user_id) is None:
            await volunteers.register(
                session,
                person.user_id,
                person.profile,
                pledge_accepted_at=now,
                consent_given_at=now,
                status="active",
                now=now,
            )
            added += 1
        if group is not None:
            await group_store.set_member(session, group.id, person.user_id, "member", now)
    return added
