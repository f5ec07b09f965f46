"""Figures for /stats: members over time, the reach and answers of recent actions, turnout.

The queries read the tables of calls to action and group decisions directly (counts only, no
names), so that the report stays true after a volunteer is forgotten: their answers, ballots
and received messages stay, anonymised.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.actions.action_models import Action, Broadcast, Rsvp
from storage.decisions.decision_models import Decision
from storage.models import OutboxMessage, Volunteer

ANNOUNCE = "announce"
SENT = "sent"
FAILED = "failed"
CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class ActionFigures:
    """One action: how many received it, how many could not, how they answered."""

    id: int
    title: str
    delivered: int
    failed: int
    answers: dict[str, int]
    kind: str = "other"
    attended: int = 0  # marked attended at check-in, and walk-ins

    @property
    def confirmed(self) -> int:
        """How many are (still) Going: the funnel's step between answering and attending."""
        return self.answers.get("going", 0)

    @property
    def answered(self) -> int:
        """How many answered at all."""
        return sum(self.answers.values())

    @property
    def response_rate(self) -> float:
        """Answers per delivered message (0 when nothing was delivered)."""
        return self.answered / self.delivered if self.delivered else 0.0


@dataclass(frozen=True, slots=True)
class DecisionFigures:
    """One closed decision: who took part out of how many could."""

    id: int
    question: str
    voters: int
    eligible: int
    status: str

    @property
    def turnout(self) -> float:
        """Voters per eligible member (0 when nobody was eligible)."""
        return self.voters / self.eligible if self.eligible else 0.0


async def registrations_by_day(session: AsyncSession) -> list[tuple[date, int]]:
    """How many current volunteers registered each day, in order."""
    days: Counter[date] = Counter()
    for (moment,) in await session.execute(select(Volunteer.registered_at)):
        days[moment.date()] += 1
    return sorted(days.items())


async def recent_actions(session: AsyncSession, limit: int = 5) -> list[ActionFigures]:
    """The latest actions with their reach (announcements to people) and answers."""
    actions = (await session.scalars(select(Action).order_by(Action.id.desc()).limit(limit))).all()
    figures: list[ActionFigures] = []
    for action in actions:
        refs = [
            f"b{broadcast_id}"
            for broadcast_id in await session.scalars(
                select(Broadcast.id).where(
                    Broadcast.action_id == action.id, Broadcast.purpose == ANNOUNCE
                )
            )
        ]
        states: Counter[str] = Counter()
        if refs:
            rows = await session.execute(
                select(OutboxMessage.state, func.count())
                .where(OutboxMessage.ref.in_(refs), OutboxMessage.chat_id >= 0)
                .group_by(OutboxMessage.state)
            )
            states.update({state: count for state, count in rows})
        answers = await session.execute(
            select(Rsvp.status, func.count())
            .where(Rsvp.action_id == action.id)
            .group_by(Rsvp.status)
        )
        attended = await session.scalar(
            select(func.count()).where(Rsvp.action_id == action.id, Rsvp.attendance == "attended")
        )
        figures.append(
            ActionFigures(
                action.id,
                action.title,
                states[SENT],
                states[FAILED],
                {status: count for status, count in answers},
                action.kind,
                int(attended or 0) + len(action.walk_ins or []),
            )
        )
    return figures


async def recent_decisions(session: AsyncSession, limit: int = 5) -> list[DecisionFigures]:
    """The latest closed decisions with their turnout."""
    rows = (
        await session.scalars(
            select(Decision)
            .where(Decision.status == CLOSED)
            .order_by(Decision.closed_at.desc(), Decision.id.desc())
            .limit(limit)
        )
    ).all()
    return [
        DecisionFigures(
            d.id,
            d.question,
            int((d.result or {}).get("voters", 0)),
            int((d.result or {}).get("eligible", 0)),
            str((d.result or {}).get("status", "")),
        )
        for d in rows
    ]
