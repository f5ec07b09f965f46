"""Models of group decisions: majority votes and consensus proposals, their ballots, nudges."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base, TrackedJSON, UTCDateTime


class Decision(Base):
    """A question put to a group chat: a vote (plurality, majority, two thirds) or a consensus."""

    __tablename__ = "decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    chat_id: Mapped[int] = mapped_column(BigInteger, index=True)
    thread_id: Mapped[int | None] = mapped_column(BigInteger)  # the forum topic it lives in
    kind: Mapped[str] = mapped_column(String(16))  # vote | consensus
    question: Mapped[str] = mapped_column(Text)
    options: Mapped[list[str]] = mapped_column(TrackedJSON, default=list)
    multiple: Mapped[bool] = mapped_column(default=False)
    # plurality | majority | two_thirds | ranked | score | dots | meeting | consensus
    rule: Mapped[str] = mapped_column(String(16))
    quorum_count: Mapped[int | None] = mapped_column(Integer)
    quorum_share: Mapped[str | None] = mapped_column(String(16))  # an exact fraction, "1/2"
    weak_share: Mapped[str | None] = mapped_column(String(16))  # consensus: "1/3"
    anonymous: Mapped[bool] = mapped_column(default=False)
    hidden: Mapped[bool] = mapped_column(default=False)
    org_voting: Mapped[bool] = mapped_column(default=False)
    nudges: Mapped[bool] = mapped_column(default=True)
    transport: Mapped[str] = mapped_column(String(8))  # native | buttons
    poll_id: Mapped[str | None] = mapped_column(String(64), index=True)
    poll_message_id: Mapped[int | None] = mapped_column(BigInteger)
    results_message_id: Mapped[int | None] = mapped_column(BigInteger)
    final_message_id: Mapped[int | None] = mapped_column(BigInteger)  # the posted result
    abstain_option: Mapped[int | None] = mapped_column(Integer)  # the option that abstains
    dots: Mapped[int | None] = mapped_column(Integer)  # dot vote: the dots each voter spreads
    moments: Mapped[list[str] | None] = mapped_column(TrackedJSON)  # meeting: ISO per option
    outcome: Mapped[str | None] = mapped_column(Text)  # written after the close
    outcome_by: Mapped[int | None] = mapped_column(BigInteger)
    outcome_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_by: Mapped[int] = mapped_column(BigInteger)
    locale: Mapped[str] = mapped_column(String(8))
    timezone: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    closes_at: Mapped[datetime] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    nudged: Mapped[list[str]] = mapped_column(
        TrackedJSON, default=list
    )  # nudge moments already run
    result: Mapped[dict[str, Any]] = mapped_column(TrackedJSON, default=dict)


class Ballot(Base):
    """One person's current vote or position; changeable (an upsert) until the close."""

    __tablename__ = "decision_ballots"

    decision_id: Mapped[int] = mapped_column(
        ForeignKey("decisions.id", ondelete="CASCADE"), primary_key=True
    )
    voter_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    unit: Mapped[str] = mapped_column(String(200))  # "user:<id>", or "org:<organisation id>"
    choice: Mapped[list[int]] = mapped_column(TrackedJSON, default=list)
    reason: Mapped[str | None] = mapped_column(Text)  # of a Block, or a consensus question
    answer: Mapped[str | None] = mapped_column(Text)  # the author's answer to it (dec6_answers)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Nudge(Base):
    """A reminder sent to a person for one moment of a decision: never twice."""

    __tablename__ = "decision_nudges"

    decision_id: Mapped[int] = mapped_column(
        ForeignKey("decisions.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    moment: Mapped[str] = mapped_column(String(16), primary_key=True)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime())


class NudgeOptOut(Base):
    """A person who asked for no more reminders about group decisions."""

    __tablename__ = "decision_nudge_optouts"

    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class Proxy(Base):
    """An organisation's vote given to another organisation for one decision (dec5_proxies):
    when it casts no ballot of its own, the delegate's ballot counts for it too."""

    __tablename__ = "decision_proxies"

    decision_id: Mapped[int] = mapped_column(
        ForeignKey("decisions.id", ondelete="CASCADE"), primary_key=True
    )
    from_org: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    to_org: Mapped[int] = mapped_column(Integer)
    given_by: Mapped[int] = mapped_column(BigInteger)  # the representative who gave it
    at: Mapped[datetime] = mapped_column(UTCDateTime())


__all__ = ["Ballot", "Decision", "Nudge", "NudgeOptOut", "Proxy"]
