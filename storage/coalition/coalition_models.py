"""Models of running the coalition: its settings, membership applications, check-ins, searches."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base, TrackedJSON, UTCDateTime


class CoalitionSetting(Base):
    """One coalition-wide setting (membership mode, check-in interval …) and who changed it."""

    __tablename__ = "coalition_settings"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    updated_by: Mapped[int | None] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Organisation(Base):
    """An organisation of the coalition: named by its first registrant; its people are the
    volunteers whose org_id is its id (one representative, alternates, observers)."""

    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(150))
    # the name folded (case, spaces and accents aside): two spellings are one organisation
    key: Mapped[str] = mapped_column(String(150), unique=True)
    country: Mapped[str | None] = mapped_column(String(2))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Application(Base):
    """A completed registration waiting for a coordinator's decision (membership by application)."""

    __tablename__ = "membership_applications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger, index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)  # pending | approved | rejected
    exchanges: Mapped[list[Any]] = mapped_column(TrackedJSON, default=list)  # questions and answers
    reason: Mapped[str | None] = mapped_column(Text)  # of a rejection
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    decided_by: Mapped[int | None] = mapped_column(BigInteger)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class CheckIn(Base):
    """When a volunteer last confirmed their skills and time, and whether they are being asked."""

    __tablename__ = "checkins"

    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    confirmed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    asked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # None: not being asked
    lapsed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # marked inactive then


class DirectorySearch(Base):
    """A coordinator's member search, so its pages can be turned with short buttons."""

    __tablename__ = "directory_searches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_id: Mapped[int] = mapped_column(BigInteger, index=True)
    filters: Mapped[dict[str, Any]] = mapped_column(TrackedJSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


__all__ = ["Application", "CheckIn", "CoalitionSetting", "DirectorySearch"]
