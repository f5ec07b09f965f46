"""The name shown of a person: one function per audience, next to the Volunteer model.

Who may see whom is a promise of the registration ("discreet mode: only coordinators see your
name") and of /forget ("nothing names you afterwards"). It is kept here, once:

- :func:`for_members` — what fellow members and groups see (a roster, which gets forwarded):
  a discreet volunteer is :attr:`Hidden.DISCREET`, someone no longer registered (left, or
  forgotten) :attr:`Hidden.FORMER`; otherwise the name, with the organisation in brackets.
- :func:`for_results` — the name stored in a decision's results, which a group reads: hidden
  the same way, and the organisation's name alone when the group votes one per organisation.
  (A /forget scrubs exactly these strings from stored results: see storage/privacy.py.)
- :func:`for_coordinators` — what coordinators see in their private chat with the bot
  (directory, member cards, application reviews, the audit log): discreet members too, marked
  with 🔒, as the registration promises; former ones hidden.
- :func:`for_coordinator_files` — the name column of a file for coordinators (the member
  export), which has columns of its own for the organisation and discreet mode.
- :func:`in_chat` — a message a coordinator opens where others may read it (the role editor of
  /promote, which works by reply in a group): a group reads it as fellow members do.
- :func:`username_for_members` — the @username beside a name fellow members may read (an
  action's roster file): none for discreet or former volunteers.
- :func:`for_themselves` — the person's own name, said to them (a welcome, the answer to their
  application, the caption of a file they exported).

Each returns either the text (not escaped: escape it for HTML where it is shown) or a
:class:`Hidden` reason, which the handler words for its context in the person's language.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import overload

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Volunteer

DISCREET_MARK = "🔒 "


class Hidden(enum.Enum):
    """Why no name is shown."""

    DISCREET = "discreet"  # someone is there; who, only coordinators know
    FORMER = "former"  # no longer registered: left, or erased by /forget


Shown = str | Hidden


def _with_organisation(volunteer: Volunteer) -> str:
    if volunteer.kind == "organisation" and volunteer.org_name:
        return f"{volunteer.display_name} ({volunteer.org_name})"
    return volunteer.display_name


def for_members(volunteer: Volunteer | None) -> Shown:
    """The name fellow members see: "Name (Organisation)", or why it is hidden."""
    if volunteer is None:
        return Hidden.FORMER
    if volunteer.discreet:
        return Hidden.DISCREET
    return _with_organisation(volunteer)


def for_results(volunteer: Volunteer | None, org_voting: bool) -> Shown:
    """The name in a decision's results: the person's, or their organisation's under
    one-vote-per-organisation; hidden for discreet and former members."""
    if volunteer is None:
        return Hidden.FORMER
    if volunteer.discreet:
        return Hidden.DISCREET
    if org_voting and volunteer.kind == "organisation" and volunteer.org_name:
        return volunteer.org_name
    return volunteer.display_name


@overload
def for_coordinators(volunteer: Volunteer) -> str: ...
@overload
def for_coordinators(volunteer: Volunteer | None) -> Shown: ...
def for_coordinators(volunteer: Volunteer | None) -> Shown:
    """The name coordinators see: "🔒 Name (Organisation)" for a discreet member."""
    if volunteer is None:
        return Hidden.FORMER
    name = _with_organisation(volunteer)
    return DISCREET_MARK + name if volunteer.discreet else name


async def for_coordinators_by_id(session: AsyncSession, user_ids: Iterable[int]) -> dict[int, str]:
    """:func:`for_coordinators` of the registered people among ``user_ids`` (others absent)."""
    ids = {i for i in user_ids if i}
    if not ids:
        return {}
    found = await session.scalars(select(Volunteer).where(Volunteer.user_id.in_(ids)))
    return {v.user_id: name for v in found if isinstance(name := for_coordinators(v), str)}


def for_coordinator_files(volunteer: Volunteer) -> str:
    """The name column of a file coordinators export: the name as given, with neither the 🔒
    nor the organisation (the file has a ``discreet`` and an ``organisation`` column)."""
    return volunteer.display_name


def in_chat(volunteer: Volunteer | None, group: bool) -> Shown:
    """The name in a message a coordinator opens in a chat (the role editor): in a group
    everyone there reads it, so fellow members' rule (:func:`for_members`: a discreet member is
    :attr:`Hidden.DISCREET`); in their private chat, :func:`for_coordinators`."""
    return for_members(volunteer) if group else for_coordinators(volunteer)


def username_for_members(volunteer: Volunteer | None) -> str:
    """The Telegram username (without "@") fellow members may read beside a name; "" for a
    discreet or former volunteer, or one without a username."""
    if volunteer is None or volunteer.discreet:
        return ""
    return volunteer.username or ""


def for_themselves(volunteer: Volunteer | None, telegram_name: str = "") -> str:
    """The person's own name, said to them: the name they gave, discreet or not (they know it);
    before they registered, ``telegram_name`` (what Telegram calls them)."""
    return volunteer.display_name if volunteer is not None else telegram_name
