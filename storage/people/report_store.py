"""Reports to the coordinators (/report): filed, found, answered."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from storage.people.people_models import SafetyReport

TOPICS = ("person", "risk", "question")  # a person, a risk, a question


async def create(
    session: AsyncSession, user_id: int, topic: str, text: str, anonymous: bool, now: datetime
) -> SafetyReport:
    """Files a report; ``topic`` is one of TOPICS (ValueError otherwise)."""
    if topic not in TOPICS:
        raise ValueError(f"unknown report topic: {topic}")
    report = SafetyReport(
        user_id=user_id, topic=topic, text=text, anonymous=anonymous, created_at=now
    )
    session.add(report)
    await session.flush()
    return report


async def get(session: AsyncSession, report_id: int) -> SafetyReport | None:
    """A report by id (None once its reporter erased themselves with /forget)."""
    return await session.get(SafetyReport, report_id)


async def answer(
    session: AsyncSession, report: SafetyReport, by: int, text: str, now: datetime
) -> None:
    """Records a coordinator's answer (a later answer replaces the stored one)."""
    report.answer, report.answered_by, report.answered_at = text, by, now
    await session.flush()
