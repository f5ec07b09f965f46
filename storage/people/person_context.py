"""What the dispatcher reads about the person behind an update, in one statement (issue 17)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import BigInteger, and_, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import DialogState, Role, UserPreference, Volunteer


@dataclass(frozen=True, slots=True)
class PersonContext:
    """A person's volunteer record, preferences, dialog in the update's chat and roles (each
    None or empty when there is none)."""

    volunteer: Volunteer | None
    preference: UserPreference | None
    dialog: DialogState | None
    roles: frozenset[str]


async def load(session: AsyncSession, user_id: int, chat_id: int) -> PersonContext:
    """The person's context: one SELECT with outer joins (a row per role held, or one row),
    instead of one per table. The objects are the session's, as `session.get` returns them."""
    me = select(literal(user_id, BigInteger).label("user_id")).subquery("me")
    rows = (
        await session.execute(
            select(Volunteer, UserPreference, DialogState, Role.role)
            .select_from(me)
            .outerjoin(Volunteer, Volunteer.user_id == me.c.user_id)
            .outerjoin(UserPreference, UserPreference.user_id == me.c.user_id)
            .outerjoin(
                DialogState,
                and_(DialogState.user_id == me.c.user_id, DialogState.chat_id == chat_id),
            )
            .outerjoin(Role, Role.user_id == me.c.user_id)
        )
    ).all()
    if not rows:
        return PersonContext(None, None, None, frozenset())
    volunteer, preference, dialog, _ = rows[0]
    roles = frozenset(role for *_, role in rows if role is not None)
    return PersonContext(volunteer, preference, dialog, roles)
