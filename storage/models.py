"""SQLAlchemy 2 models: the whole schema of Chorus."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator
from sqlalchemy_json import mutable_json_type

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime on every backend (SQLite keeps no time zone of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# A JSON column holding a dict or a list, with change tracking at every depth: an in-place change
# (`action.audience["countries"].append("FR")`) marks the row dirty, so the commit stores it.
# SQLAlchemy's plain JSON sees only a new value assigned to the attribute ("Mutation Tracking"
# in the SQLAlchemy ORM docs); that lost the audience filters of /newaction (issue 10).
# The column type stays JSON: migrations and the schema do not change.
TrackedJSON = mutable_json_type(dbtype=JSON, nested=True)


def detached(value: Any) -> Any:
    """A plain deep copy of a JSON value (dicts, lists, scalars), tied to no row.

    Used where a value read from one row is stored in another, or handed out to be changed
    freely: the copy's changes reach the database only when it is assigned to an attribute.
    """
    if isinstance(value, dict):
        return {key: detached(item) for key, item in value.items()}
    if isinstance(value, list):
        return [detached(item) for item in value]
    return value


class Base(DeclarativeBase):
    """Declarative base with a naming convention that Alembic can rely on."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dict[str, Any]: TrackedJSON,
        list[str]: TrackedJSON,
        list[Any]: TrackedJSON,
    }


class Volunteer(Base):
    """A registered person or organisation, keyed by their Telegram user id."""

    __tablename__ = "volunteers"
    # an audience's shares and digests are found by these (0016, 0017; issue 17)
    __table_args__ = (
        Index("ix_volunteers_share", "timezone", "language", "quiet_hours", "digest"),
        Index("ix_volunteers_digest_timezone", "digest", "timezone"),
    )

    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(16))  # individual | organisation
    display_name: Mapped[str] = mapped_column(String(100))
    username: Mapped[str | None] = mapped_column(String(64))
    org_name: Mapped[str | None] = mapped_column(String(150))
    org_type: Mapped[str | None] = mapped_column(String(32))
    org_country: Mapped[str | None] = mapped_column(String(2))
    # the organisation record they act for (dec4_orgs; issue 15): one vote per organisation
    # counts by this id. org_role: representative | alternate | observer (observers do not
    # vote); org_status: approved | pending (a later registrant waits for a coordinator)
    org_id: Mapped[int | None] = mapped_column(Integer, index=True)
    org_role: Mapped[str | None] = mapped_column(String(16))
    org_status: Mapped[str | None] = mapped_column(String(16))
    country: Mapped[str] = mapped_column(String(2))
    language: Mapped[str] = mapped_column(String(8))
    timezone: Mapped[str] = mapped_column(String(64))
    skills: Mapped[list[str]] = mapped_column(TrackedJSON, default=list)
    hours_per_month: Mapped[int] = mapped_column(Integer, default=0)
    resources: Mapped[list[str]] = mapped_column(TrackedJSON, default=list)
    interests: Mapped[list[str]] = mapped_column(TrackedJSON, default=list)
    discreet: Mapped[bool] = mapped_column(default=False)
    # "HH:MM-HH:MM" local, "off", or NULL for the default 22:00-08:00 (0008_quiet; issue 16)
    quiet_hours: Mapped[str | None] = mapped_column(String(11))
    # the safety kit (0008_safety): a name shown to others instead of display_name, and
    # whether the Telegram @username is kept at all (False: never stored, the stored one erased)
    pseudonym: Mapped[str | None] = mapped_column(String(64))
    keep_username: Mapped[bool] = mapped_column(default=True)
    # what the volunteer asked not to get: "action:<kind>" (0009_muted; issue 16)
    muted: Mapped[list[str] | None] = mapped_column(TrackedJSON, default=list)
    # calls to action one by one (NULL), or "daily HH:MM" / "weekly HH:MM" (Mondays) local
    # (0010_digest; issue 16)
    digest: Mapped[str | None] = mapped_column(String(16))
    pledge_accepted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    consent_given_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16), default="active", index=True)
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Role(Base):
    """A role held by a Telegram user (registered or not yet)."""

    __tablename__ = "roles"
    __table_args__ = (UniqueConstraint("user_id", "role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger, index=True)
    role: Mapped[str] = mapped_column(String(32))
    granted_by: Mapped[int | None] = mapped_column(BigInteger)
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime())


class DialogState(Base):
    """Where a person is in a multi-step dialog, in one chat."""

    __tablename__ = "dialog_states"

    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    flow: Mapped[str] = mapped_column(String(32))
    step: Mapped[str] = mapped_column(String(32))
    data: Mapped[dict[str, Any]] = mapped_column(TrackedJSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ProcessedUpdate(Base):
    """An update already handled: a redelivered update is ignored."""

    __tablename__ = "processed_updates"

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    processed_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class InboxUpdate(Base):
    """An update received from Telegram and not yet handled (storage/inbox.py)."""

    __tablename__ = "inbox"

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    user_id: Mapped[int] = mapped_column(BigInteger)  # who sent it (/forget deletes it too)
    payload: Mapped[dict[str, Any]] = mapped_column()  # the Bot API Update object
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())


class UserPreference(Base):
    """Settings a person has before (or without) registering, such as the language."""

    __tablename__ = "user_preferences"

    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    language: Mapped[str | None] = mapped_column(String(8))
    blocked_bot_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # unreachable since
    # why: blocked | deactivated | not_started (0007_botapi); NULL on older rows: any 403
    unreachable_reason: Mapped[str | None] = mapped_column(String(16))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class GroupChat(Base):
    """A group chat the bot is in."""

    __tablename__ = "group_chats"

    chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    title: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(16))  # group | supergroup
    active: Mapped[bool] = mapped_column(default=True)
    settings: Mapped[dict[str, Any]] = mapped_column(TrackedJSON, default=dict)
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AuditEntry(Base):
    """Something a coordinator did, kept for accountability."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    actor_id: Mapped[int] = mapped_column(BigInteger, index=True)
    action: Mapped[str] = mapped_column(String(64))
    target_id: Mapped[int | None] = mapped_column(BigInteger)
    details: Mapped[dict[str, Any]] = mapped_column(TrackedJSON, default=dict)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


__all__ = [
    "AuditEntry",
    "Base",
    "DialogState",
    "GroupChat",
    "GroupMember",
    "InboxUpdate",
    "OutboxMessage",
    "ProcessedUpdate",
    "Role",
    "Timer",
    "UTCDateTime",
    "UserPreference",
    "Volunteer",
]


class Timer(Base):
    """Something to do at a moment: the source of truth the scheduler's jobs are rebuilt from."""

    __tablename__ = "timers"
    __table_args__ = (UniqueConstraint("kind", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(128))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    chat_id: Mapped[int | None] = mapped_column(BigInteger)
    payload: Mapped[dict[str, Any]] = mapped_column(TrackedJSON, default=dict)
    grace_seconds: Mapped[int | None] = mapped_column(Integer)  # None: run however late
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    fired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class OutboxMessage(Base):
    """One message waiting to be delivered, paced by Telegram's limits; survives a crash."""

    __tablename__ = "outbox"
    __table_args__ = (
        # A person's copies of an action's messages, read by every press (issue 17: without
        # it the press of one volunteer read all 100,000 rows of an announcement to everyone).
        Index("ix_outbox_chat_ref", "chat_id", "ref"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    purpose: Mapped[str] = mapped_column(String(32))  # broadcast | reminder | nudge | notice
    ref: Mapped[str | None] = mapped_column(String(64), index=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    text: Mapped[str] = mapped_column(Text)
    keyboard: Mapped[list[Any] | None] = mapped_column(TrackedJSON)
    state: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    not_before: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(String(255))
    message_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # went in flight (0004)
    failure: Mapped[str | None] = mapped_column(String(32))  # why it failed, classified (0004)
    edit_of: Mapped[int | None] = mapped_column(BigInteger)  # editMessageText of it (0009)
    thread_id: Mapped[int | None] = mapped_column(BigInteger)  # the forum topic (0010)


class GroupMember(Base):
    """A person seen in a group chat, and whether they are still in it."""

    __tablename__ = "group_members"

    chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    status: Mapped[str] = mapped_column(String(16))  # member | administrator | creator | left
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
