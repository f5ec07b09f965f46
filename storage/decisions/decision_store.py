"""Group decisions: creating them, casting ballots (an upsert per voter), closing, history."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.coalition.group_store import PRESENT
from storage.decisions.decision_models import Ballot, Decision, Nudge, NudgeOptOut, Proxy
from storage.models import GroupMember, UserPreference, Volunteer

OPEN = "open"
CLOSED = "closed"
FAILED = "failed"  # could not be posted in the group
PAUSED = "paused"  # the bot is not in the group (removed): no timers, no edits, until back
ACTIVE = "active"


async def create(session: AsyncSession, **values: Any) -> Decision:
    """Stores a new open decision."""
    decision = Decision(status=OPEN, nudged=[], result={}, **values)
    session.add(decision)
    await session.flush()
    return decision


async def get(session: AsyncSession, decision_id: int) -> Decision | None:
    """A decision by id."""
    return await session.get(Decision, decision_id)


async def by_poll(session: AsyncSession, poll_id: str) -> Decision | None:
    """The decision behind a native Telegram poll."""
    return await session.scalar(select(Decision).where(Decision.poll_id == poll_id))


async def set_messages(
    session: AsyncSession,
    decision_id: int,
    *,
    poll_id: str | None,
    poll_message_id: int | None,
    results_message_id: int | None,
) -> None:
    """Remembers the messages (and the native poll) a decision was published as."""
    decision = await session.get(Decision, decision_id)
    if decision is not None:
        decision.poll_id = poll_id
        decision.poll_message_id = poll_message_id
        decision.results_message_id = results_message_id
        await session.flush()


async def set_voice(
    session: AsyncSession, decision_id: int, locale: str, timezone: str, options: list[str]
) -> None:
    """Writes an open decision in another language and time zone (the group's, once its
    members are known), with its options labelled in them."""
    decision = await session.get(Decision, decision_id)
    if decision is not None:
        decision.locale = locale
        decision.timezone = timezone
        decision.options = list(options)
        await session.flush()


async def set_results_message(session: AsyncSession, decision_id: int, message_id: int) -> None:
    """Remembers the live results message posted anew (the old one was gone)."""
    decision = await session.get(Decision, decision_id)
    if decision is not None:
        decision.results_message_id = message_id
        await session.flush()


async def cast(
    session: AsyncSession,
    decision_id: int,
    voter_id: int,
    unit: str,
    choice: list[int],
    now: datetime,
    *,
    reason: str | None = None,
) -> Ballot:
    """Records a person's ballot, replacing their previous one (the latest counts)."""
    ballot = await session.get(Ballot, (decision_id, voter_id))
    if ballot is None:
        ballot = Ballot(decision_id=decision_id, voter_id=voter_id)
        session.add(ballot)
    ballot.unit = unit
    ballot.choice = list(choice)
    ballot.reason = reason
    ballot.answer = None
    ballot.updated_at = now
    await session.flush()
    return ballot


async def ballot_of(session: AsyncSession, decision_id: int, voter_id: int) -> Ballot | None:
    """A person's current ballot, if any."""
    return await session.get(Ballot, (decision_id, voter_id))


async def retract(session: AsyncSession, decision_id: int, voter_id: int) -> None:
    """Takes a person's ballot back."""
    await session.execute(
        delete(Ballot).where(Ballot.decision_id == decision_id, Ballot.voter_id == voter_id)
    )


async def ballots(session: AsyncSession, decision_id: int) -> Sequence[Ballot]:
    """Every current ballot of a decision, oldest change first."""
    return (
        await session.scalars(
            select(Ballot)
            .where(Ballot.decision_id == decision_id)
            .order_by(Ballot.updated_at, Ballot.voter_id)
        )
    ).all()


async def purge_ballots(session: AsyncSession, decision_id: int) -> None:
    """Forgets who voted what (after an anonymous vote closed: only the counts stay)."""
    await session.execute(delete(Ballot).where(Ballot.decision_id == decision_id))


async def close(
    session: AsyncSession, decision: Decision, result: dict[str, Any], now: datetime
) -> None:
    """Marks a decision closed with its outcome."""
    decision.status = CLOSED
    decision.closed_at = now
    decision.result = dict(result)
    await session.flush()


async def fail(session: AsyncSession, decision_id: int, now: datetime) -> None:
    """Marks a decision that could not be posted: its timers will find it not open."""
    decision = await session.get(Decision, decision_id)
    if decision is not None:
        decision.status = FAILED
        decision.closed_at = now
        await session.flush()


async def set_reason(session: AsyncSession, decision_id: int, voter_id: int, reason: str) -> bool:
    """Attaches a reason to a person's ballot; False when they have none."""
    ballot = await session.get(Ballot, (decision_id, voter_id))
    if ballot is None:
        return False
    ballot.reason = reason
    ballot.answer = None
    await session.flush()
    return True


async def set_answer(session: AsyncSession, decision_id: int, voter_id: int, answer: str) -> bool:
    """The author's answer to a person's Block reason or question; False when it is gone."""
    ballot = await session.get(Ballot, (decision_id, voter_id))
    if ballot is None or not ballot.reason:
        return False
    ballot.answer = answer
    await session.flush()
    return True


async def set_final_message(session: AsyncSession, decision_id: int, message_id: int) -> None:
    """Remembers the message the result was posted as (re-rendered after a /forget)."""
    decision = await session.get(Decision, decision_id)
    if decision is not None:
        decision.final_message_id = message_id
        await session.flush()


async def naming(session: AsyncSession, user_id: int, names: Iterable[str]) -> list[int]:
    """Decisions whose posted messages may show this person: open ones they voted in, closed
    ones whose stored result holds one of their names."""
    voted = set(
        await session.scalars(
            select(Ballot.decision_id)
            .join(Decision, Decision.id == Ballot.decision_id)
            .where(Ballot.voter_id == user_id, Decision.status == OPEN)
        )
    )
    wanted = {name for name in names if name}
    if wanted:
        closed = await session.execute(
            select(Decision.id, Decision.result).where(Decision.status == CLOSED)
        )
        voted |= {i for i, result in closed.all() if _mentions(result, wanted)}
    return sorted(voted)


def _mentions(value: Any, names: set[str]) -> bool:
    if isinstance(value, str):
        return value in names
    if isinstance(value, list):
        return any(_mentions(item, names) for item in value)
    if isinstance(value, dict):
        return any(_mentions(item, names) for item in value.values())
    return False


async def set_outcome(
    session: AsyncSession, decision: Decision, text: str, by: int, now: datetime
) -> None:
    """Keeps the outcome written after the close (replacing an earlier one)."""
    decision.outcome = text
    decision.outcome_by = by
    decision.outcome_at = now
    await session.flush()


async def history(
    session: AsyncSession, chat_id: int, limit: int | None = None
) -> Sequence[Decision]:
    """A group's closed decisions, newest first."""
    query = (
        select(Decision)
        .where(Decision.chat_id == chat_id, Decision.status == CLOSED)
        .order_by(Decision.closed_at.desc(), Decision.id.desc())
    )
    if limit is not None:
        query = query.limit(limit)
    return (await session.scalars(query)).all()


async def open_count(session: AsyncSession, chat_id: int) -> int:
    """How many decisions of a group are still open."""
    rows = await session.scalars(
        select(Decision.id).where(Decision.chat_id == chat_id, Decision.status == OPEN)
    )
    return len(rows.all())


async def in_chat(session: AsyncSession, chat_id: int, status: str) -> Sequence[Decision]:
    """A group's decisions in one status, oldest first."""
    return (
        await session.scalars(
            select(Decision)
            .where(Decision.chat_id == chat_id, Decision.status == status)
            .order_by(Decision.id)
        )
    ).all()


async def move_chat(session: AsyncSession, old_id: int, new_id: int) -> Sequence[Decision]:
    """Follows a group that became a supergroup, whose message ids start afresh: the decisions'
    messages in the old chat are forgotten (an old id would name another message there). Returns
    the decisions moved."""
    moved = (await session.scalars(select(Decision).where(Decision.chat_id == old_id))).all()
    for decision in moved:
        decision.chat_id = new_id
        decision.thread_id = None
        decision.poll_message_id = None
        decision.results_message_id = None
        decision.final_message_id = None
    await session.flush()
    return moved


async def eligible(session: AsyncSession, chat_id: int) -> Sequence[Volunteer]:
    """Registered, active volunteers known to be members of the group."""
    return (
        await session.scalars(
            select(Volunteer)
            .join(GroupMember, GroupMember.user_id == Volunteer.user_id)
            .where(
                GroupMember.chat_id == chat_id,
                GroupMember.status.in_(PRESENT),
                Volunteer.status == ACTIVE,
            )
            .order_by(Volunteer.user_id)
        )
    ).all()


async def has_discreet_member(session: AsyncSession, chat_id: int) -> bool:
    """Whether a volunteer in discreet mode (whatever their status) is known in the group."""
    found = await session.scalar(
        select(Volunteer.user_id)
        .join(GroupMember, GroupMember.user_id == Volunteer.user_id)
        .where(
            GroupMember.chat_id == chat_id,
            GroupMember.status.in_(PRESENT),
            Volunteer.discreet.is_(True),
        )
        .limit(1)
    )
    return found is not None


async def people(session: AsyncSession, user_ids: Iterable[int]) -> dict[int, Volunteer]:
    """Volunteers by id (those still registered)."""
    ids = list(user_ids)
    if not ids:
        return {}
    rows = await session.scalars(select(Volunteer).where(Volunteer.user_id.in_(ids)))
    return {volunteer.user_id: volunteer for volunteer in rows}


async def mark_nudged(
    session: AsyncSession, decision_id: int, user_ids: Iterable[int], moment: str, now: datetime
) -> list[int]:
    """Records reminders for a moment; returns only the people not reminded for it before."""
    wanted = list(dict.fromkeys(user_ids))
    if not wanted:
        return []
    done = set(
        await session.scalars(
            select(Nudge.user_id).where(
                Nudge.decision_id == decision_id,
                Nudge.moment == moment,
                Nudge.user_id.in_(wanted),
            )
        )
    )
    fresh = [user_id for user_id in wanted if user_id not in done]
    session.add_all(
        Nudge(decision_id=decision_id, user_id=user_id, moment=moment, sent_at=now)
        for user_id in fresh
    )
    await session.flush()
    return fresh


async def not_to_nudge(session: AsyncSession, user_ids: Iterable[int]) -> set[int]:
    """Of these people, those who turned reminders off or blocked the bot."""
    ids = list(user_ids)
    if not ids:
        return set()
    off = set(
        await session.scalars(select(NudgeOptOut.user_id).where(NudgeOptOut.user_id.in_(ids)))
    )
    blocked = await session.scalars(
        select(UserPreference.user_id).where(
            UserPreference.user_id.in_(ids), UserPreference.blocked_bot_at.is_not(None)
        )
    )
    return off | set(blocked)


async def set_nudges(session: AsyncSession, user_id: int, wanted: bool, now: datetime) -> None:
    """Turns a person's reminders about decisions on or off."""
    existing = await session.get(NudgeOptOut, user_id)
    if wanted and existing is not None:
        await session.delete(existing)
    elif not wanted and existing is None:
        session.add(NudgeOptOut(user_id=user_id, at=now))
    await session.flush()


async def proxies(session: AsyncSession, decision_id: int) -> Sequence[Proxy]:
    """The proxies given for a decision."""
    return (
        await session.scalars(
            select(Proxy).where(Proxy.decision_id == decision_id).order_by(Proxy.at)
        )
    ).all()


async def give_proxy(
    session: AsyncSession, decision_id: int, from_org: int, to_org: int, by: int, now: datetime
) -> None:
    """Gives an organisation's vote in a decision to another one (replacing an earlier proxy)."""
    proxy = await session.get(Proxy, (decision_id, from_org))
    if proxy is None:
        proxy = Proxy(decision_id=decision_id, from_org=from_org)
        session.add(proxy)
    proxy.to_org, proxy.given_by, proxy.at = to_org, by, now
    await session.flush()


async def withdraw_proxy(session: AsyncSession, decision_id: int, from_org: int) -> bool:
    """Takes back an organisation's proxy; False when it had given none."""
    proxy = await session.get(Proxy, (decision_id, from_org))
    if proxy is None:
        return False
    await session.delete(proxy)
    await session.flush()
    return True


async def open_by_organisation(session: AsyncSession, user_id: int) -> Sequence[Decision]:
    """The open one-vote-per-organisation decisions of the groups the person is known in."""
    return (
        await session.scalars(
            select(Decision)
            .join(GroupMember, GroupMember.chat_id == Decision.chat_id)
            .where(
                GroupMember.user_id == user_id,
                GroupMember.status.in_(PRESENT),
                Decision.status == OPEN,
                Decision.org_voting.is_(True),
            )
            .order_by(Decision.closes_at)
            .limit(20)
        )
    ).all()
