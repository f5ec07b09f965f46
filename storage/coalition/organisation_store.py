"""Organisations as records: found by their folded name, and the volunteers who act for them."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.coalition.coalition_models import Organisation
from storage.models import Volunteer

REPRESENTATIVE = "representative"
ALTERNATE = "alternate"
OBSERVER = "observer"
VOTING = (REPRESENTATIVE, ALTERNATE)  # observers do not vote
APPROVED = "approved"
PENDING = "pending"


def folded(name: str) -> str:
    """The name as compared: "  Médecins  du MONDE " and "medecins du monde" are one."""
    decomposed = unicodedata.normalize("NFKD", name)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(bare.casefold().split())[:150]


async def find(session: AsyncSession, name: str) -> Organisation | None:
    """The organisation whose name matches, case, spaces and accents aside."""
    return await session.scalar(select(Organisation).where(Organisation.key == folded(name)))


async def get(session: AsyncSession, org_id: int | None) -> Organisation | None:
    """The organisation with this id, if any."""
    return await session.get(Organisation, org_id) if org_id is not None else None


async def named(session: AsyncSession, ids: Sequence[int]) -> dict[int, str]:
    """The names of these organisations, by id."""
    if not ids:
        return {}
    rows = await session.execute(
        select(Organisation.id, Organisation.name).where(Organisation.id.in_(set(ids)))
    )
    return {org_id: name for org_id, name in rows.all()}


async def create(
    session: AsyncSession, name: str, country: str | None, now: datetime
) -> Organisation:
    """A new organisation, named as its first registrant typed it."""
    organisation = Organisation(
        name=" ".join(name.split()), key=folded(name), country=country, created_at=now
    )
    session.add(organisation)
    await session.flush()
    return organisation


def link(volunteer: Volunteer, organisation: Organisation, role: str, status: str) -> None:
    """Makes the volunteer act for the organisation (its name as recorded, not as they typed)."""
    volunteer.org_id = organisation.id
    volunteer.org_name = organisation.name
    volunteer.org_role = role
    volunteer.org_status = status


def unlink(volunteer: Volunteer) -> None:
    """The volunteer no longer acts for an organisation."""
    volunteer.org_id = volunteer.org_role = volunteer.org_status = None


async def join_or_found(
    session: AsyncSession,
    volunteer: Volunteer,
    name: str,
    now: datetime,
    *,
    role: str = ALTERNATE,
    status: str = PENDING,
) -> Organisation:
    """Links the volunteer to the organisation of that name: its representative when they are
    the first, otherwise with ``role`` and ``status`` (an alternate waiting for approval)."""
    organisation = await find(session, name)
    if organisation is None:
        organisation = await create(session, name, volunteer.org_country, now)
        link(volunteer, organisation, REPRESENTATIVE, APPROVED)
    else:
        link(volunteer, organisation, role, status)
    await session.flush()
    return organisation


async def people(session: AsyncSession, org_id: int) -> Sequence[Volunteer]:
    """Who acts for the organisation, representative first."""
    found = await session.scalars(
        select(Volunteer).where(Volunteer.org_id == org_id).order_by(Volunteer.registered_at)
    )
    order = {REPRESENTATIVE: 0, ALTERNATE: 1, OBSERVER: 2}
    return sorted(found.all(), key=lambda v: order.get(v.org_role or "", 3))


def votes_for(volunteer: Volunteer) -> bool:
    """Whether the volunteer may cast their organisation's vote (representative or an approved
    alternate)."""
    return (
        volunteer.org_id is not None
        and volunteer.org_role in VOTING
        and volunteer.org_status == APPROVED
    )
