"""Models of calls to action: the actions, the answers of volunteers, and their broadcasts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base, TrackedJSON, UTCDateTime


class Action(Base):
    """A petition, letter-writing drive, stunt, fundraiser or meeting put to volunteers."""

    __tablename__ = "actions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)  # for deep links
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(512))
    at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # start, or deadline
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # None: default length (0011)
    timezone: Mapped[str] = mapped_column(String(64))
    place: Mapped[str | None] = mapped_column(String(300))
    online: Mapped[bool] = mapped_column(default=False)
    capacity: Mapped[int | None] = mapped_column(Integer)
    audience: Mapped[dict[str, Any]] = mapped_column(TrackedJSON, default=dict)
    group_ids: Mapped[list[Any]] = mapped_column(TrackedJSON, default=list)
    reminder_minutes: Mapped[list[Any]] = mapped_column(TrackedJSON, default=list)
    language: Mapped[str | None] = mapped_column(String(8))  # the call's own language (0013)
    translations: Mapped[dict[str, Any] | None] = mapped_column(TrackedJSON)  # lang → text (0013)
    walk_ins: Mapped[list[Any] | None] = mapped_column(TrackedJSON, default=list)  # names (0012)
    status: Mapped[str] = mapped_column(String(16), index=True)  # open | cancelled | closed
    created_by: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # How many gave each answer, kept with every change of an answer (0015, issue 17): a press
    # reads these instead of counting the answers.
    going_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    waitlist_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    maybe_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    cant_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    done_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class Rsvp(Base):
    """One volunteer's answer to an action (one row per person and action)."""

    __tablename__ = "rsvps"
    __table_args__ = (
        UniqueConstraint("action_id", "user_id"),
        # An action's answers by status (counts, rosters) and a waitlist's order: a promotion
        # reads its head, a new place counts who is behind (0021; it replaced (action, status)
        # in 0022).
        Index("ix_rsvps_waitlist", "action_id", "status", "queued_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    action_id: Mapped[int] = mapped_column(Integer)
    user_id: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16))  # going | maybe | cant | done | waitlist
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # waitlist order
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime())
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # "still coming" (0012)
    attendance: Mapped[str | None] = mapped_column(String(16))  # attended | no_show (0012)
    feedback: Mapped[str | None] = mapped_column(String(16))  # good | ok | bad (0012)
    slot_id: Mapped[int | None] = mapped_column(Integer)  # the role taken or waited for (0014)


class ActionSlot(Base):
    """A role of an action ("2 stewards"), with its own places, waitlist and optional skill."""

    __tablename__ = "action_slots"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    action_id: Mapped[int] = mapped_column(Integer, index=True)
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(60))
    capacity: Mapped[int] = mapped_column(Integer)
    skill: Mapped[str | None] = mapped_column(String(32))


class SlotInvitation(Base):
    """A volunteer invited to fill an empty role: one invitation per person and action."""

    __tablename__ = "slot_invitations"
    __table_args__ = (UniqueConstraint("action_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    action_id: Mapped[int] = mapped_column(Integer)
    slot_id: Mapped[int] = mapped_column(Integer)
    user_id: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Broadcast(Base):
    """One sending of messages about an action: the announcement, a reminder, an update."""

    __tablename__ = "broadcasts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    action_id: Mapped[int] = mapped_column(Integer, index=True)
    purpose: Mapped[str] = mapped_column(String(16))  # announce | reminder | update | cancel
    total: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[str] = mapped_column(String(16), default="running")  # running|stopped|done
    report_chat_id: Mapped[int | None] = mapped_column(BigInteger)
    report_message_id: Mapped[int | None] = mapped_column(BigInteger)
    report_locale: Mapped[str] = mapped_column(String(8), default="en")
    reported_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # A fan-out still being enqueued in chunks (issue 17; see broadcast_store.fan_out): what
    # its remaining chunks need, and the last volunteer id enqueued. Both None once done.
    fanout: Mapped[dict[str, Any] | None] = mapped_column(TrackedJSON)
    fanout_after: Mapped[int | None] = mapped_column(BigInteger)


class DigestItem(Base):
    """A call to action waiting for a volunteer's daily or weekly digest (issue 16)."""

    __tablename__ = "digest_items"
    __table_args__ = (UniqueConstraint("user_id", "action_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger, index=True)
    action_id: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
