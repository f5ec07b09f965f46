"""Models of a person's own life with Chorus beyond the profile: what they report to the
coordinators (the safety kit, issue 16)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base, UTCDateTime


class SafetyReport(Base):
    """A problem a volunteer told the coordinators about (/report), and their answer.

    ``user_id`` is kept even for an anonymous report — the answer has to reach the reporter —
    but no view shows it to anyone; /forget deletes the report with the reporter."""

    __tablename__ = "safety_reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger, index=True)  # who reported
    anonymous: Mapped[bool] = mapped_column(default=False)
    topic: Mapped[str] = mapped_column(String(16))  # person | risk | question
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    answer: Mapped[str | None] = mapped_column(Text)  # the latest answer
    answered_by: Mapped[int | None] = mapped_column(BigInteger)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
