"""The audit log: what changed, who changed it, when, on what or whom (the AuditEntry table).

An entry's `action` is "<object>.<verb>" ("action.edit", "role.grant", "members.export"); its
`details` hold the object ("action": id, "title": …) and the change ("field", "from", "to").
Reading is not audited. Entries named "command.<name>" come from before that rule (every
coordinator command was written down) and are left out of the log's pages and exports.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AuditEntry

# The kinds a reader can filter by, and the actions each covers ("%" as in SQL LIKE).
KINDS: dict[str, tuple[str, ...]] = {
    "action": ("action.%",),
    "decision": ("decision.%",),
    "role": ("role.%",),
    "application": ("application.%",),
    "export": ("%.export",),
    "settings": ("settings.%",),
    "privacy": ("privacy.%",),
}
LEGACY_COMMANDS = "command.%"


@dataclass(frozen=True, slots=True)
class Filters:
    """Which entries to show: `person` acted or was acted on; `kind` is a key of KINDS;
    `since` (inclusive) and `until` (exclusive) are aware UTC datetimes."""

    person: int | None = None
    kind: str | None = None
    since: datetime | None = None
    until: datetime | None = None


EVERYTHING = Filters()


def _where(filters: Filters) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [AuditEntry.action.not_like(LEGACY_COMMANDS)]
    if filters.person is not None:
        conditions.append(
            or_(AuditEntry.actor_id == filters.person, AuditEntry.target_id == filters.person)
        )
    if filters.kind is not None:
        patterns = KINDS.get(filters.kind, ())
        conditions.append(or_(false(), *(AuditEntry.action.like(p) for p in patterns)))
    if filters.since is not None:
        conditions.append(AuditEntry.at >= filters.since)
    if filters.until is not None:
        conditions.append(AuditEntry.at < filters.until)
    return conditions


async def record(
    session: AsyncSession,
    actor_id: int,
    action: str,
    now: datetime,
    *,
    target_id: int | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    """Writes one entry, in the caller's transaction (so it exists exactly when the change does).

    `details` must be JSON-ready: `plain` turns a datetime into ISO text.
    """
    entry = AuditEntry(
        actor_id=actor_id, action=action, target_id=target_id, details=details or {}, at=now
    )
    session.add(entry)
    await session.flush()
    return entry


async def set_detail(session: AsyncSession, entry_id: int, name: str, value: Any) -> None:
    """Fills in one detail of an entry known only after its change was committed (the
    recipients of a large broadcast, once its fan-out is planned: issue 17)."""
    entry = await session.get(AuditEntry, entry_id)
    if entry is not None:
        entry.details = dict(entry.details or {}) | {name: plain(value)}


def plain(value: Any) -> Any:
    """A value as the log keeps it (JSON-ready): datetimes as ISO text, also inside lists and
    mappings; the rest as it is."""
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


async def page(
    session: AsyncSession, offset: int, limit: int, filters: Filters = EVERYTHING
) -> Sequence[AuditEntry]:
    """The entries the filters let through, newest first, one page."""
    return (
        await session.scalars(
            select(AuditEntry)
            .where(*_where(filters))
            .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
            .offset(offset)
            .limit(limit)
        )
    ).all()


async def total(session: AsyncSession, filters: Filters = EVERYTHING) -> int:
    """How many entries the filters let through."""
    query = select(func.count()).select_from(AuditEntry).where(*_where(filters))
    return int(await session.scalar(query) or 0)


async def everything(session: AsyncSession, filters: Filters = EVERYTHING) -> Sequence[AuditEntry]:
    """Every entry the filters let through, oldest first (for the CSV export)."""
    return (
        await session.scalars(
            select(AuditEntry).where(*_where(filters)).order_by(AuditEntry.at, AuditEntry.id)
        )
    ).all()


async def of_action(session: AsyncSession, action: str) -> Sequence[AuditEntry]:
    """Entries of one action, oldest first."""
    return (
        await session.scalars(
            select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
        )
    ).all()
