"""Group chats the bot is in, and who is in them."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import GroupChat, GroupMember, Volunteer

PRESENT = frozenset({"member", "administrator", "creator", "restricted"})


async def joined(
    session: AsyncSession, chat_id: int, title: str, kind: str, now: datetime
) -> GroupChat:
    """Records that the bot is in a group (again)."""
    group = await session.get(GroupChat, chat_id)
    if group is None:
        group = GroupChat(chat_id=chat_id, joined_at=now, settings={})
        session.add(group)
    group.title = title
    group.kind = kind
    group.active = True
    await session.flush()
    return group


async def left(session: AsyncSession, chat_id: int) -> None:
    """Records that the bot is no longer in a group."""
    await session.execute(
        update(GroupChat).where(GroupChat.chat_id == chat_id).values(active=False)
    )


async def absent(session: AsyncSession, chat_ids: Collection[int]) -> set[int]:
    """Of these groups, those the bot is known to be no longer in (left, removed, migrated)."""
    if not chat_ids:
        return set()
    rows = await session.scalars(
        select(GroupChat.chat_id).where(
            GroupChat.chat_id.in_(list(chat_ids)), GroupChat.active.is_(False)
        )
    )
    return set(rows)


async def get(session: AsyncSession, chat_id: int) -> GroupChat | None:
    """A group by chat id."""
    return await session.get(GroupChat, chat_id)


async def active(session: AsyncSession) -> Sequence[GroupChat]:
    """The groups the bot is in, by title."""
    return (
        await session.scalars(
            select(GroupChat).where(GroupChat.active.is_(True)).order_by(GroupChat.title)
        )
    ).all()


async def set_setting(session: AsyncSession, chat_id: int, name: str, value: Any) -> None:
    """Changes one setting of a group."""
    group = await session.get(GroupChat, chat_id)
    if group is not None:
        group.settings = {**group.settings, name: value}
        await session.flush()


async def migrated(session: AsyncSession, old_id: int, new_id: int, now: datetime) -> None:
    """Moves a group that became a supergroup to its new id, members included."""
    group = await session.get(GroupChat, old_id)
    if group is None:
        return
    await joined(session, new_id, group.title, "supergroup", now)
    new_group = await session.get(GroupChat, new_id)
    if new_group is not None:
        new_group.settings = dict(group.settings)
    group.active = False
    members = (
        await session.scalars(select(GroupMember).where(GroupMember.chat_id == old_id))
    ).all()
    for member in members:
        await set_member(session, new_id, member.user_id, member.status, now)
    # A member's "not for this group" (issue 16) follows the group to its new id.
    old_key, new_key = f"decisions:{old_id}", f"decisions:{new_id}"
    ids = [member.user_id for member in members]
    for volunteer in (
        await session.scalars(select(Volunteer).where(Volunteer.user_id.in_(ids)))
    ).all():
        if old_key in (volunteer.muted or []):
            volunteer.muted = [new_key if key == old_key else key for key in volunteer.muted or []]
    await session.flush()


async def of_member(session: AsyncSession, user_id: int) -> list[GroupChat]:
    """The active groups the person is known to be in, by title."""
    rows = await session.scalars(
        select(GroupChat)
        .join(GroupMember, GroupMember.chat_id == GroupChat.chat_id)
        .where(
            GroupMember.user_id == user_id,
            GroupMember.status.in_(PRESENT),
            GroupChat.active.is_(True),
        )
        .order_by(GroupChat.title, GroupChat.chat_id)
    )
    return list(rows)


async def set_member(
    session: AsyncSession, chat_id: int, user_id: int, status: str, now: datetime
) -> None:
    """Records a person's membership status in a group."""
    member = await session.get(GroupMember, (chat_id, user_id))
    if member is None:
        member = GroupMember(chat_id=chat_id, user_id=user_id)
        session.add(member)
    member.status = status
    member.updated_at = now
    await session.flush()


async def departed(
    session: AsyncSession, chat_id: int, user_id: int, status: str, now: datetime
) -> None:
    """Records that a person left a group (or was removed: `status`), when they are on record
    there; someone not on record leaves nothing behind (a person who /vanish-ed is removed after
    their rows were erased: Telegram's member update must not write them back)."""
    member = await session.get(GroupMember, (chat_id, user_id))
    if member is not None:
        member.status = status
        member.updated_at = now
        await session.flush()


async def is_member(session: AsyncSession, chat_id: int, user_id: int) -> bool:
    """True when the person is known to be in the group."""
    member = await session.get(GroupMember, (chat_id, user_id))
    return member is not None and member.status in PRESENT


async def members(session: AsyncSession, chat_id: int) -> list[int]:
    """Ids of the people known to be in the group."""
    rows = await session.scalars(
        select(GroupMember.user_id).where(
            GroupMember.chat_id == chat_id, GroupMember.status.in_(PRESENT)
        )
    )
    return list(rows)


async def registered_not_known(session: AsyncSession, chat_id: int, limit: int) -> list[int]:
    """Active registered volunteers of whom nothing is known in this group (never seen there,
    no member update), up to `limit`."""
    known = select(GroupMember.user_id).where(GroupMember.chat_id == chat_id)
    rows = await session.scalars(
        select(Volunteer.user_id)
        .where(Volunteer.status == "active", Volunteer.user_id.not_in(known))
        .order_by(Volunteer.user_id)
        .limit(limit)
    )
    return list(rows)


async def seen(
    session: AsyncSession, chat_id: int, title: str, kind: str, user_id: int, now: datetime
) -> None:
    """Someone spoke or pressed a button in a group: both the group and they are present."""
    if await session.get(GroupChat, chat_id) is None:
        await joined(session, chat_id, title, kind, now)
    member = await session.get(GroupMember, (chat_id, user_id))
    if member is None or member.status not in PRESENT:
        await set_member(session, chat_id, user_id, "member", now)
