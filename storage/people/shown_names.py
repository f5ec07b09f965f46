"""The name shown of a person: one function per audience, next to the Volunteer model.

Who may see whom is a promise of the registration ("discreet mode: only coordinators see your
name") and of /forget ("nothing names you afterwards"). It is kept here, once:

- :func:`for_members` — what fellow members and groups see: a discreet volunteer is
  :attr:`Hidden.DISCREET`, someone no longer registered (left, or forgotten)
  :attr:`Hidden.FORMER`; otherwise the name — their pseudonym if they chose one (the safety
  kit, /profile) — with the organisation in brackets.
- :func:`for_results` — the name stored in a decision's results, which a group reads: hidden
  the same way, and the organisation's name alone when the group votes one per organisation.
  (A /forget scrubs exactly these strings from stored results: see storage/privacy.py.)
- :func:`for_coordinators` — what coordinators see in their private chat with the bot
  (directory, member cards, rosters, application reviews, the audit log): discreet members
  too, marked with 🔒, as the registration promises; a pseudonym beside the real name
  ("Name (Organisation) 🎭 Pseudonym"); former ones hidden.
- :func:`for_viewer`, :func:`username_for_viewer`, :func:`for_files` — a view that serves both
  kinds of reader (a roster, the role editor, which /promote opens in a group too): the
  handler asks the permission model (`handlers.kernel.permissions.may_see_discreet`:
  members.discreet, in a private chat) and passes the answer; yes reads as coordinators see,
  no as fellow members do.
- :func:`for_themselves` — the person's own name, said to them (a welcome, the answer to their
  application, the caption of a file they exported).

Each returns either the text (not escaped: escape it for HTML where it is shown) or a
:class:`Hidden` reason, which the handler words in the reader's language
(handlers.kernel.names.in_words, or words of its own for its context).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import overload

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Volunteer

DISCREET_MARK = "🔒 "
PSEUDONYM_MARK = " 🎭 "  # between the real name and the pseudonym, for coordinators


class Hidden(enum.Enum):
    """Why no name is shown."""

    DISCREET = "discreet"  # someone is there; who, only coordinators know
    FORMER = "former"  # no longer registered: left, or erased by /forget


Shown = str | Hidden


def _with_organisation(volunteer: Volunteer, name: str) -> str:
    if volunteer.kind == "organisation" and volunteer.org_name:
        return f"{name} ({volunteer.org_name})"
    return name


def public_name(volunteer: Volunteer) -> str:
    """The name others read: the pseudonym when the person chose one."""
    return volunteer.pseudonym or volunteer.display_name


def for_members(volunteer: Volunteer | None) -> Shown:
    """The name fellow members see: "Name (Organisation)", or why it is hidden."""
    if volunteer is None:
        return Hidden.FORMER
    if volunteer.discreet:
        return Hidden.DISCREET
    return _with_organisation(volunteer, public_name(volunteer))


def for_results(volunteer: Volunteer | None, org_voting: bool) -> Shown:
    """The name in a decision's results: the person's, or their organisation's under
    one-vote-per-organisation; hidden for discreet and former members."""
    if volunteer is None:
        return Hidden.FORMER
    if volunteer.discreet:
        return Hidden.DISCREET
    if org_voting and volunteer.kind == "organisation" and volunteer.org_name:
        return volunteer.org_name
    return public_name(volunteer)


@overload
def for_coordinators(volunteer: Volunteer) -> str: ...
@overload
def for_coordinators(volunteer: Volunteer | None) -> Shown: ...
def for_coordinators(volunteer: Volunteer | None) -> Shown:
    """The name coordinators see: "🔒 Name (Organisation)" for a discreet member, and the
    pseudonym after the real name ("Name 🎭 Pseudonym") for someone who chose one."""
    if volunteer is None:
        return Hidden.FORMER
    name = _with_organisation(volunteer, volunteer.display_name)
    if volunteer.pseudonym:
        name += PSEUDONYM_MARK + volunteer.pseudonym
    return DISCREET_MARK + name if volunteer.discreet else name


async def for_coordinators_by_id(session: AsyncSession, user_ids: Iterable[int]) -> dict[int, str]:
    """:func:`for_coordinators` of the registered people among ``user_ids`` (others absent)."""
    ids = {i for i in user_ids if i}
    if not ids:
        return {}
    found = await session.scalars(select(Volunteer).where(Volunteer.user_id.in_(ids)))
    return {v.user_id: name for v in found if isinstance(name := for_coordinators(v), str)}


def for_viewer(volunteer: Volunteer | None, sees_discreet: bool) -> Shown:
    """The name for a reader the permission model has judged (``sees_discreet``: from
    ``may_see_discreet``): :func:`for_coordinators` when they may see discreet members,
    :func:`for_members` otherwise."""
    return for_coordinators(volunteer) if sees_discreet else for_members(volunteer)


def for_files(volunteer: Volunteer | None, sees_discreet: bool) -> Shown:
    """The name column of a file of members (the member export): the name as given (the
    pseudonym for a reader who may not see behind it), with neither the 🔒 nor the
    organisation, which have columns of their own; hidden as :func:`for_viewer` hides it."""
    shown = for_viewer(volunteer, sees_discreet)
    if volunteer is None or not isinstance(shown, str):
        return shown
    return volunteer.display_name if sees_discreet else public_name(volunteer)


def username_for_viewer(volunteer: Volunteer | None, sees_discreet: bool) -> str:
    """The Telegram username (without "@") beside a name, for the same reader as
    :func:`for_viewer`; "" where the name is hidden, beside a pseudonym (the username would
    unmask it) for a reader who may not see behind it, or for someone without a username."""
    if not isinstance(for_viewer(volunteer, sees_discreet), str) or volunteer is None:
        return ""
    if volunteer.pseudonym and not sees_discreet:
        return ""
    return volunteer.username or ""


def for_themselves(volunteer: Volunteer | None, telegram_name: str = "") -> str:
    """The person's own name, said to them: the name they gave, discreet, behind a pseudonym
    or not (they know it);
    before they registered, ``telegram_name`` (what Telegram calls them)."""
    return volunteer.display_name if volunteer is not None else telegram_name
