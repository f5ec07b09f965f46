"""Models of the safety check-in after a risky action (issue 16, the safety kit)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base, UTCDateTime


class SafetyPlan(Base):
    """An action marked as risky: its participants are asked whether they are safe after it
    ends, and silence for `wait_minutes` alerts their buddy and the action's host."""

    __tablename__ = "safety_plans"

    action_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    wait_minutes: Mapped[int] = mapped_column(Integer)
    created_by: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SafetyCheck(Base):
    """One participant's check-in for a risky action: their buddy (once the buddy accepted
    the invitation), and their answer.

    state: "pending" (before the end), "asked", "safe", "help", "alerted" (no answer in time).
    `invite` is the secret of the buddy invitation link, cleared once used."""

    __tablename__ = "safety_checks"
    __table_args__ = (UniqueConstraint("action_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    action_id: Mapped[int] = mapped_column(Integer, index=True)
    user_id: Mapped[int] = mapped_column(BigInteger)
    buddy_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    invite: Mapped[str | None] = mapped_column(String(32), unique=True)
    state: Mapped[str] = mapped_column(String(16))
    asked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
