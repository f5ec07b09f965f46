"""What the dispatcher reads about the person behind an update, in one statement (issue 17)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import BigInteger, and_, bindparam, select
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


_me = select(bindparam("person_id", type_=BigInteger).label("user_id")).subquery("me")
_STATEMENT = (  # built once: a statement is built per update otherwise (issue 17)
    select(Volunteer, UserPreference, DialogState, Role.role)
    .select_from(_me)
    .outerjoin(Volunteer, Volunteer.user_id == _me.c.user_id)
    .outerjoin(UserPreference, UserPreference.user_id == _me.c.user_id)
    .outerjoin(
        DialogState,
        and_(
            DialogState.user_id == _me.c.user_id,
            DialogState.chat_id == bindparam("chat_id", type_=BigInteger),
        ),
    )
    .outerjoin(Role, Role.user_id == _me.c.user_id)
)


async def load(session: AsyncSession, user_id: int, chat_id: int) -> PersonContext:
    """The person's context: one SELECT with outer joins (a row per role held, or one row),
    instead of one per table. The objects are the session's, as `session.get` returns them."""
    rows = (await session.execute(_STATEMENT, {"person_id": user_id, "chat_id": chat_id})).all()
    if not rows:
        return PersonContext(None, None, None, frozenset())
    volunteer, preference, dialog, _ = rows[0]
    roles = frozenset(role for *_, role in rows if role is not None)
    return PersonContext(volunteer, preference, dialog, roles)
