"""The outbox: messages waiting for paced delivery, one row per recipient."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import (
    Integer,
    Select,
    String,
    Table,
    Text,
    bindparam,
    cast,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import OutboxMessage

if TYPE_CHECKING:
    from handlers.kernel.ports import Keyboard

PENDING = "pending"
REPLY = "reply"  # the purpose of a reply to an update or timer (recorded by the dispatcher)
REPLY_KEYBOARD = "reply_keyboard"  # a reply that only replaces a message's buttons
REPLIES = (REPLY, REPLY_KEYBOARD)


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message to deliver: to whom, what (HTML text, neutral button rows), and not before
    when (UTC; None: as soon as the batch may go — quiet hours set it, issue 16); with
    `edit_of`, the new text and buttons of that message of the chat (editMessageText) instead."""

    chat_id: int
    text: str
    keyboard: Keyboard | None = None
    not_before: datetime | None = None
    edit_of: int | None = None
    keyboard_only: bool = False  # with edit_of: only the buttons change (text unused)
    thread_id: int | None = None  # the forum topic of the chat to post in (None: General)


def stored_keyboard(keyboard: Keyboard | None) -> list[list[dict[str, str]]] | None:
    """Neutral button rows as the outbox stores them: [[{"label", "data" | "url"}, …], …].

    Not Bot API JSON (that is bot/botapi's business); migration 0007 converted older rows.
    """
    if not keyboard:
        return None
    return [
        [
            {"label": b.label, "url": b.url}
            if b.url is not None
            else {"label": b.label, "data": b.data or ""}
            for b in row
        ]
        for row in keyboard
    ]


def loaded_keyboard(stored: list[Any] | None) -> Keyboard | None:
    """The neutral button rows of a stored keyboard (None: no buttons)."""
    if not stored:
        return None
    from handlers.kernel.ports import Button

    return tuple(
        tuple(Button(cell["label"], cell.get("data"), cell.get("url")) for cell in row)
        for row in stored
    )


async def enqueue(
    session: AsyncSession,
    messages: Iterable[Outgoing],
    *,
    purpose: str,
    ref: str | None,
    now: datetime,
    not_before: datetime | None = None,
) -> int:
    """Adds messages to the outbox in the caller's transaction; returns how many.

    A message's own `not_before` wins over the batch's."""
    rows = [
        {
            "purpose": purpose,
            "ref": ref,
            "chat_id": message.chat_id,
            "text": message.text,
            "keyboard": stored_keyboard(message.keyboard),
            "state": PENDING,
            "attempts": 0,
            "not_before": message.not_before or not_before,
            "edit_of": message.edit_of,
            "created_at": now,
            "thread_id": message.thread_id,
        }
        for message in messages
    ]
    if rows:
        await session.execute(insert(OutboxMessage), rows)
    return len(rows)


async def enqueue_each(
    session: AsyncSession,
    messages: Select[int, str, Any, datetime | None],
    *,
    purpose: str,
    ref: str | None,
    now: datetime,
    stopped: bool = False,
) -> int:
    """Adds the messages a query yields — (chat id, HTML text, stored keyboard, not before) —
    in one INSERT … SELECT computed by the database (a broadcast to an audience: no row
    crosses into Python). Returns how many. `stopped`: the rows of a broadcast stopped while it
    was being enqueued, recorded as not sent (as `stop` leaves the rows already there)."""
    found = messages.subquery()
    chat, text, keyboard, not_before = found.c
    rows = select(
        literal(purpose, String).label("purpose"),
        literal(ref, String).label("ref"),
        chat.label("chat_id"),
        text.label("text"),
        keyboard.label("keyboard"),
        literal(STOPPED if stopped else PENDING, String).label("state"),
        literal(0, Integer).label("attempts"),
        not_before.label("not_before"),
        literal(now, _c.created_at.type).label("created_at"),
    )
    columns = ["purpose", "ref", "chat_id", "text", "keyboard", "state", "attempts"]
    columns += ["not_before", "created_at"]
    if stopped:
        rows = rows.add_columns(literal("stopped", String).label("failure"))
        columns.append("failure")
    result = await session.execute(insert(_table).from_select(columns, rows))
    return int(getattr(result, "rowcount", 0) or 0)


# The delivery engine's side: claim rows, record results, resume after a crash.

SENDING = "sending"
SENT = "sent"
FAILED = "failed"
STOPPED = "stopped"

_table: Table = OutboxMessage.__table__  # type: ignore[assignment]
_c = _table.c


@dataclass(frozen=True, slots=True)
class Claimed:
    """A row taken for sending: it is in state 'sending' until its result is recorded."""

    id: int
    chat_id: int
    text: str
    keyboard: Keyboard | None
    ref: str | None
    attempts: int
    edit_of: int | None = None  # the message it edits (None: a new message)
    reply: bool = False  # a reply to a person's update or a timer (purpose in REPLIES)
    keyboard_only: bool = False  # an edit of the buttons only (editMessageReplyMarkup)
    thread_id: int | None = None  # the forum topic to post in (None: General)


@dataclass(slots=True)
class Results:
    """What happened to a batch of sends, written back in a few batched UPDATEs."""

    sent: list[tuple[int, int]] = field(default_factory=list)  # (row id, message id)
    # Replies delivered: their rows are deleted, not kept as sent. Nothing reads a delivered
    # reply again (the update that asked for it is recorded as handled), and a reply may be
    # the last trace of a person, e.g. /forget's "your data has been erased" (docs/privacy.md).
    replied: list[int] = field(default_factory=list)
    failed: list[tuple[int, str, str]] = field(default_factory=list)  # (row id, failure, detail)
    retry: list[tuple[int, datetime]] = field(default_factory=list)  # (row id, not before)
    moved: list[tuple[int, int]] = field(default_factory=list)  # (row id, new chat id)
    reposted: list[int] = field(default_factory=list)  # edits whose message is gone: post anew
    unreachable: dict[int, str] = field(default_factory=dict)  # chat → why nothing more goes
    refs: set[str] = field(default_factory=set)

    def __len__(self) -> int:
        lists = (self.sent, self.replied, self.failed, self.retry, self.moved, self.reposted)
        return sum(len(rows) for rows in lists)

    def merge(self, other: Results) -> None:
        """Takes back results that could not be written yet."""
        self.sent += other.sent
        self.replied += other.replied
        self.failed += other.failed
        self.retry += other.retry
        self.moved += other.moved
        self.reposted += other.reposted
        self.unreachable |= other.unreachable
        self.refs |= other.refs


async def claim(session: AsyncSession, limit: int, now: datetime) -> list[Claimed]:
    """Takes up to `limit` due rows, oldest first, and marks them in flight ('sending')."""
    due = (
        select(_c.id)
        .where(_c.state == PENDING, or_(_c.not_before.is_(None), _c.not_before <= now))
        .order_by(_c.id)
        .limit(limit)
    )
    if _dialect(session) == "postgresql":
        due = due.with_for_update(skip_locked=True)
    statement = (
        update(_table)
        .where(_c.id.in_(due.scalar_subquery()))
        .values(state=SENDING, claimed_at=now, attempts=_c.attempts + 1)
        .returning(
            _c.id,
            _c.chat_id,
            _c.text,
            cast(_c.keyboard, Text),  # its JSON text: a broadcast's rows share one
            _c.ref,
            _c.attempts,
            _c.edit_of,
            _c.purpose,
            _c.thread_id,
        )
    )
    rows = (await session.execute(statement)).all()
    claimed = [
        Claimed(
            row_id,
            chat,
            text,
            _claimed_keyboard(keyboard),
            ref,
            tries,
            edit_of,
            reply=why in REPLIES,
            keyboard_only=why == REPLY_KEYBOARD,
            thread_id=thread,
        )
        for row_id, chat, text, keyboard, ref, tries, edit_of, why, thread in rows
    ]
    return sorted(claimed, key=lambda item: item.id)


@lru_cache(maxsize=256)
def _claimed_keyboard(stored: str | None) -> Keyboard | None:
    """The button rows of a claimed row, from the keyboard's JSON as stored, decoded once per
    distinct keyboard: every row of a broadcast has the same, and decoding it and building
    its buttons row by row cost a twentieth of a broadcast message's CPU (profiled). The
    rows are tuples, shared: never changed."""
    if stored is None:
        return None
    return loaded_keyboard(json.loads(stored))


async def add_replies(
    session: AsyncSession, messages: Sequence[Outgoing], now: datetime
) -> list[Claimed]:
    """Records replies in the caller's transaction, already claimed ('sending') by whoever
    sends them right after the commit; a crash before their result is written sends them
    again at the next start (`recover`). Returns them in order.

    One statement, whatever their number (the replies of a whole batch of updates handled in
    one transaction, issue 17). RETURNING gives the rows in no promised order, so each
    message takes the lowest id among the rows that hold what it holds: two messages alike in
    every column may swap ids, which nobody can tell apart."""
    rows = [
        {
            "purpose": REPLY_KEYBOARD if message.keyboard_only else REPLY,
            "chat_id": message.chat_id,
            "text": message.text,
            "keyboard": stored_keyboard(message.keyboard),
            "edit_of": message.edit_of,
            "thread_id": message.thread_id,
        }
        for message in messages
    ]
    ids: list[int] = []
    for start in range(0, len(rows), _REPLIES_MOST):
        chunk = rows[start : start + _REPLIES_MOST]
        parameters = [
            {f"reply_{_REPLY_PARAMS[name]}": value for name, value in row.items()}
            | {"reply_at": now, "reply_claimed_at": now}
            for row in chunk
        ]
        # Several parameter sets: SQLAlchemy's "insertmanyvalues" sends one INSERT … VALUES
        # (…), (…) RETURNING, its text built once.
        found: dict[tuple[Any, ...], list[int]] = {}
        for row_id, *key in sorted((await session.execute(_replies_insert(), parameters)).all()):
            found.setdefault(_reply_key(key), []).append(int(row_id))
        for row in chunk:
            ids.append(found[_reply_key([row[name] for name in _REPLY_KEY])].pop(0))
    return [
        Claimed(
            row_id,
            message.chat_id,
            message.text,
            message.keyboard,
            None,
            1,
            message.edit_of,
            reply=True,
            keyboard_only=message.keyboard_only,
            thread_id=message.thread_id,
        )
        for row_id, message in zip(ids, messages, strict=True)
    ]


@cache
def _replies_insert() -> Any:
    """`add_replies`'s INSERT, built once, for executemany (each parameter used once: a
    parameter named twice is not renumbered by insertmanyvalues on asyncpg)."""
    return (
        insert(_table)
        .values(
            purpose=bindparam("reply_purpose", type_=_c.purpose.type),
            ref=None,
            chat_id=bindparam("reply_chat", type_=_c.chat_id.type),
            text=bindparam("reply_text", type_=_c.text.type),
            keyboard=bindparam("reply_keyboard", type_=_c.keyboard.type),
            edit_of=bindparam("reply_edit_of", type_=_c.edit_of.type),
            thread_id=bindparam("reply_thread", type_=_c.thread_id.type),
            state=SENDING,
            attempts=1,
            claimed_at=bindparam("reply_claimed_at", type_=_c.claimed_at.type),
            created_at=bindparam("reply_at", type_=_c.created_at.type),
        )
        .returning(_c.id, *(_c[name] for name in _REPLY_KEY))
    )


_REPLY_PARAMS = {
    "purpose": "purpose",
    "chat_id": "chat",
    "text": "text",
    "keyboard": "keyboard",
    "edit_of": "edit_of",
    "thread_id": "thread",
}
_REPLY_KEY = ("purpose", "chat_id", "text", "keyboard", "edit_of", "thread_id")


def _reply_key(values: list[Any]) -> tuple[Any, ...]:
    """The columns of `_REPLY_KEY`, hashable (the stored keyboard is JSON)."""
    return tuple(
        orjson.dumps(value, option=orjson.OPT_SORT_KEYS) if name == "keyboard" else value
        for name, value in zip(_REPLY_KEY, values, strict=True)
    )


_REPLIES_MOST = 500  # rows a statement (11 parameters each: PostgreSQL takes 32,767)


async def record(session: AsyncSession, results: Results, now: datetime) -> None:
    """Writes a batch of results; unreachable chats get nothing more from the outbox: their
    pending rows fail with the same reason."""
    if results.replied:
        await session.execute(delete(_table).where(_c.id.in_(results.replied)))
    if results.sent:
        await session.execute(
            update(_table)
            .where(_c.id == bindparam("row"))
            .values(state=SENT, message_id=bindparam("mid"), sent_at=now, last_error=None),
            [{"row": row, "mid": mid} for row, mid in results.sent],
        )
    if results.failed:
        await session.execute(
            update(_table)
            .where(_c.id == bindparam("row"))
            .values(state=FAILED, failure=bindparam("why"), last_error=bindparam("detail")),
            [{"row": r, "why": why, "detail": d[:255]} for r, why, d in results.failed],
        )
    if results.retry:
        await session.execute(
            update(_table)
            .where(_c.id == bindparam("row"))
            .values(state=PENDING, not_before=bindparam("when")),
            [{"row": row, "when": when} for row, when in results.retry],
        )
    if results.moved:
        await session.execute(
            update(_table)
            .where(_c.id == bindparam("row"))
            .values(state=PENDING, chat_id=bindparam("chat")),
            [{"row": row, "chat": chat} for row, chat in results.moved],
        )
    if results.reposted:
        await session.execute(
            update(_table)
            .where(_c.id.in_(results.reposted))
            .values(state=PENDING, edit_of=None, not_before=None)
        )
    for why in set(results.unreachable.values()):
        chats = [chat for chat, reason in results.unreachable.items() if reason == why]
        await session.execute(
            update(_table)
            .where(_c.chat_id.in_(chats), _c.state == PENDING)
            .values(state=FAILED, failure=why, last_error=f"unreachable: {why}")
        )


async def recover(session: AsyncSession, claimed_before: datetime | None = None) -> int:
    """After a crash: rows left in flight go back to pending; returns how many (maybe sent).

    With `claimed_before` (several workers), only rows whose claim was last renewed before
    then: the others belong to a live worker (see `renew`)."""
    stale = _c.state == SENDING
    if claimed_before is not None:
        stale = stale & (_c.claimed_at < claimed_before)
    result = await session.execute(update(_table).where(stale).values(state=PENDING))
    assert isinstance(result, CursorResult)
    return result.rowcount


async def renew(session: AsyncSession, ids: Iterable[int], now: datetime) -> None:
    """Renews this worker's claim on rows it still holds in flight."""
    held = list(ids)
    if held:
        await session.execute(
            update(_table)
            .where(_c.id.in_(held), _c.state == SENDING)
            .values(claimed_at=now)
            .execution_options(synchronize_session=False)
        )


async def release(session: AsyncSession, ids: Iterable[int]) -> None:
    """Puts rows claimed but never sent back to pending (a graceful stop)."""
    await session.execute(
        update(_table).where(_c.id.in_(list(ids)), _c.state == SENDING).values(state=PENDING)
    )


async def next_due(session: AsyncSession) -> datetime | None:
    """When the earliest pending row may be sent (None: nothing pending)."""
    first = await session.scalar(
        select(func.min(func.coalesce(_c.not_before, _c.created_at))).where(_c.state == PENDING)
    )
    if first is None:
        return None
    value: datetime = first
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


async def in_flight(session: AsyncSession) -> int:
    """How many rows are in state 'sending'."""
    count = await session.scalar(select(func.count()).where(_c.state == SENDING))
    return int(count or 0)


async def stop(session: AsyncSession, ref: str, chat_id: int | None = None) -> int:
    """Stops what is still waiting under `ref` (to `chat_id` only, when given); returns how
    many rows will not be sent."""
    statement = update(_table).where(_c.ref == ref, _c.state == PENDING)
    if chat_id is not None:
        statement = statement.where(_c.chat_id == chat_id)
    result = await session.execute(statement.values(state=STOPPED, failure="stopped"))
    assert isinstance(result, CursorResult)
    return result.rowcount


async def chat_migrated(session: AsyncSession, old_id: int, new_id: int) -> None:
    """A group became a supergroup, whose message ids start afresh: an id of the old chat names
    another message there, or none. Messages waiting for the group go to the new chat; edits of
    its messages are stopped; the messages it was sent are no longer places to edit (their
    message_id is forgotten), so whoever keeps a message current posts it again."""
    await session.execute(
        update(_table)
        .where(_c.chat_id == old_id, _c.state == PENDING, _c.edit_of.is_(None))
        .values(chat_id=new_id)
    )
    await session.execute(
        update(_table)
        .where(_c.chat_id == old_id, _c.state == PENDING, _c.edit_of.is_not(None))
        .values(state=STOPPED, failure="migrated")
    )
    await session.execute(
        update(_table).where(_c.chat_id == old_id, _c.state == SENT).values(message_id=None)
    )


async def stop_chat(session: AsyncSession, chat_id: int, why: str) -> int:
    """Stops what is still waiting for a chat the bot may no longer write to (a group it was
    removed from); returns how many rows will not be sent."""
    result = await session.execute(
        update(_table)
        .where(_c.chat_id == chat_id, _c.state == PENDING)
        .values(state=STOPPED, failure=why)
    )
    assert isinstance(result, CursorResult)
    return result.rowcount


async def counts(session: AsyncSession, ref: str) -> dict[str, int]:
    """How many rows of `ref` are in each state."""
    rows = await session.execute(
        select(_c.state, func.count()).where(_c.ref == ref).group_by(_c.state)
    )
    return {state: count for state, count in rows}


async def held(session: AsyncSession, ref: str, now: datetime) -> tuple[int, datetime | None]:
    """How many rows of `ref` were enqueued to wait (quiet hours) and are not due yet, and when
    the last of them is due (None: none held).

    Never tried (`attempts` 0), so a retry's back-off is not counted as a hold."""
    found = (
        await session.execute(
            select(func.count(), func.max(_c.not_before)).where(
                _c.ref == ref, _c.state == PENDING, _c.attempts == 0, _c.not_before > now
            )
        )
    ).one()
    count, last = int(found[0] or 0), found[1]  # max() keeps the column's type: UTC, aware
    return count, (last if count else None)


async def failures(session: AsyncSession, ref: str) -> dict[str, int]:
    """Why the failed rows of `ref` failed, by reason."""
    rows = await session.execute(
        select(_c.failure, func.count())
        .where(_c.ref == ref, _c.state == FAILED)
        .group_by(_c.failure)
    )
    return {str(failure or "other"): count for failure, count in rows}


async def chats_sent(session: AsyncSession, refs: Iterable[str]) -> list[int]:
    """The chats that received a message under any of `refs`."""
    rows = await session.scalars(
        select(_c.chat_id).where(_c.ref.in_(list(refs)), _c.state == SENT).distinct()
    )
    return list(rows)


@dataclass(frozen=True, slots=True)
class SentMessage:
    """A message the outbox delivered: where it is, what it said, under which ref."""

    ref: str
    chat_id: int
    message_id: int
    text: str


async def sent_messages(
    session: AsyncSession, refs: Iterable[str], chat_id: int | None = None
) -> list[SentMessage]:
    """The new messages (not edits) delivered under any of `refs`, oldest first; only those in
    `chat_id` when given (found by the index on chat and ref)."""
    statement = select(_c.ref, _c.chat_id, _c.message_id, _c.text).where(
        _c.ref.in_(list(refs)),
        _c.state == SENT,
        _c.edit_of.is_(None),
        _c.message_id.is_not(None),
    )
    if chat_id is not None:
        statement = statement.where(_c.chat_id == chat_id)
    rows = await session.execute(statement.order_by(_c.id))
    return [SentMessage(ref, chat, int(mid), text) for ref, chat, mid, text in rows]


@cache
def _action_messages(in_chats: bool) -> Select[Any]:
    """`action_messages`'s statement, built once (issue 17: a press reads its presser's)."""
    from storage.actions.action_models import Broadcast

    def refs(*, announce: bool) -> Any:
        purpose = Broadcast.purpose == "announce" if announce else Broadcast.purpose != "announce"
        return select(literal("b") + cast(Broadcast.id, String)).where(
            Broadcast.action_id == bindparam("am_action"), purpose
        )

    announcements = refs(announce=True)
    statement = (
        select(_c.ref, _c.chat_id, _c.message_id, _c.text, _c.ref.in_(announcements))
        .where(
            or_(
                _c.ref.in_(announcements),
                _c.ref.in_(refs(announce=False)),
                _c.ref.in_(bindparam("am_notices", expanding=True)),
            ),
            _c.state == SENT,
            _c.edit_of.is_(None),
            _c.message_id.is_not(None),
        )
        .order_by(_c.id)
    )
    if in_chats:
        statement = statement.where(_c.chat_id.in_(bindparam("am_chats", expanding=True)))
    return statement


async def action_messages(
    session: AsyncSession,
    action_id: int,
    notice_refs: Iterable[str],
    chats: Iterable[int] | None = None,
) -> tuple[list[SentMessage], list[SentMessage]]:
    """An action's delivered announcements, and its other delivered notices (its other
    broadcasts, and those under `notice_refs`), oldest first, in one statement; only those in
    these `chats` when given."""
    values: dict[str, Any] = {"am_action": action_id, "am_notices": list(notice_refs)}
    if chats is not None:
        values["am_chats"] = list(chats)
    originals: list[SentMessage] = []
    others: list[SentMessage] = []
    rows = await session.execute(_action_messages(chats is not None), values)
    for ref, chat, mid, text, original in rows:
        (originals if original else others).append(SentMessage(ref, chat, int(mid), text))
    return originals, others


def _dialect(session: AsyncSession) -> str:
    return session.bind.dialect.name if session.bind is not None else "sqlite"


@dataclass(frozen=True, slots=True)
class Backlog:
    """What the outbox holds now: rows waiting, rows in flight, and the oldest due row."""

    pending: int
    sending: int
    oldest_due: datetime | None  # the earliest moment a pending row could be sent


async def backlog(session: AsyncSession) -> Backlog:
    """The outbox's depth (for /healthz and /metrics)."""
    rows = await session.execute(
        select(_c.state, func.count()).where(_c.state.in_((PENDING, SENDING))).group_by(_c.state)
    )
    by_state = {state: int(count) for state, count in rows}
    return Backlog(by_state.get(PENDING, 0), by_state.get(SENDING, 0), await next_due(session))
