"""Calls to action and the answers of volunteers: creation, look-ups, audiences, RSVPs."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any, Literal

from sqlalchemy import (
    BigInteger,
    Integer,
    String,
    Table,
    and_,
    bindparam,
    cast,
    exists,
    func,
    inspect,
    literal,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, aliased
from sqlalchemy.orm.attributes import set_committed_value

from storage import direct
from storage.actions import audience_store
from storage.actions.action_models import Action, ActionSlot, Broadcast, Rsvp, SlotInvitation
from storage.models import OutboxMessage, UserPreference, Volunteer
from storage.outbox import SENT

OPEN = "open"
CANCELLED = "cancelled"
CLOSED = "closed"

GOING = "going"
MAYBE = "maybe"
CANT = "cant"
DONE = "done"
WAITLIST = "waitlist"

COUNTED = (GOING, WAITLIST, MAYBE, CANT, DONE)  # kept on the action: actions.<answer>_count

ATTENDED = "attended"  # check-in marks
NO_SHOW = "no_show"

KINDS = ("petition", "letters", "stunt", "fundraising", "meeting", "other")  # of an action
CODE_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"
FILTERS = ("skills", "countries", "kinds", "languages")


@dataclass(frozen=True, slots=True)
class Recipient:
    """A volunteer to write to, with what their message needs: language and time zone."""

    user_id: int
    language: str
    timezone: str
    quiet_hours: str | None = None  # as stored on the volunteer (None: the default)
    digest: str | None = None  # as stored on the volunteer (None: one by one)


def new_code() -> str:
    """A short random code for the action's deep link."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))


async def create(session: AsyncSession, values: Mapping[str, Any], now: datetime) -> Action:
    """Saves a new open action."""
    action = Action(**values, code=new_code(), status=OPEN, created_at=now, updated_at=now)
    session.add(action)
    await session.flush()
    return action


async def get(session: AsyncSession, action_id: int, *, lock: bool = False) -> Action | None:
    """An action by id; `lock` serialises concurrent answers to it (PostgreSQL)."""
    statement = select(Action).where(Action.id == action_id)
    if lock:  # and read afresh: the counts may have moved since this session last read it
        statement = statement.with_for_update().execution_options(populate_existing=True)
    return await session.scalar(statement)


@dataclass(frozen=True, slots=True)
class ForAnswer:
    """An action about to be answered, as `for_answer` reads it."""

    action: Action
    previous: Rsvp | None  # this volunteer's answer so far (when `known`)
    has_slots: bool  # whether it has roles
    announced: tuple[int, ...]  # ids of the announcements delivered to this volunteer's chat
    known: bool = True  # False: their answer is not read yet (`first_answer`, `answer_of`)
    # ids of the action's other messages with its buttons delivered to this volunteer's chat:
    # its other broadcasts (reminders…) and the notices of `for_answer`'s `notice_ref`
    noticed: tuple[int, ...] = ()
    pressed_stripped: bool = False  # the message pressed had its buttons taken away
    # `for_answer`'s `first`: a first answer tried in the same statement (it is not when the
    # action has roles); whether it was written (they had none) and its place when it waits
    first_tried: bool = False
    first_written: bool = False
    first_place: int | None = None


@dataclass(frozen=True, slots=True)
class FirstAnswer:
    """A first answer (without a role) for `for_answer` to write in its statement."""

    status: str
    now: datetime


async def for_answer(
    session: AsyncSession,
    action_id: int,
    user_id: int,
    notice_ref: str | None = None,
    pressed: int | None = None,
    *,
    first: FirstAnswer | None = None,
) -> ForAnswer | None:
    """An action about to be answered, locked (as `get` with `lock`), with this volunteer's
    answer, whether it has roles and the announcements of it delivered to their private chat
    (their places-left line is refreshed: issue 17, not a statement of its own): one statement
    on SQLite, whose transactions hold the write lock from their start. On PostgreSQL the answer
    is not read (`known` False): read in the same statement, it could predate a change made by
    the transaction that held the lock (a promotion from the waitlist). The caller writes a
    first answer if there is none (`first_answer`, after the lock: no statement of its own
    for a first press), or reads it (`answer_of`). The announcements are no such risk: a press
    does not change them. `noticed` (read in the same statement): the presser's other copies
    of the action's buttons, so that every one shows their answer (a sandbox finding: a
    promotion notice still said ✅ Going after the Can't); `notice_ref`: the outbox ref of
    the notices with its buttons that are no broadcast ("a place freed up").

    `first` (PostgreSQL, for an action this transaction holds: `held_for_answer`): the first
    answer to write in the same statement, as `first_answer` would, unless the action has roles
    now (`first_tried`): one statement a press instead of two (issue 17). The statements of a
    press run as their text (`storage.direct`)."""
    if _dialect(session) == "postgresql":
        parameters: dict[str, Any] = {"answer_action": action_id, "answer_user": user_id}
        parameters["answer_notice"] = notice_ref
        parameters["answer_pressed"] = pressed
        locked = _locked(session)
        held = _loaded(session, locked.get(action_id))
        if held is not None:
            # Read under this transaction's lock already, and followed since (`_moved`): the
            # next presses of a batch (issue 17) read only what is theirs, without loading
            # the action again.
            if first is not None:
                return await _for_next_first_answer(session, held, parameters, first)
            found = await direct.first(session, _for_next_answer(), parameters)
            if found is None:  # deleted by this transaction
                return None
            _slots_held(session)[action_id] = bool(found[0])
            announced, noticed = _message_ids(found[1]), _message_ids(found[2])
            return ForAnswer(held, None, bool(found[0]), announced, False, noticed, bool(found[3]))
        row = (await session.execute(_for_answer_postgresql(), parameters)).first()
        if row is None:
            return None
        locked[action_id] = row[0]
        _slots_held(session)[action_id] = bool(row[1])
        announced, noticed = _message_ids(row[2]), _message_ids(row[3])
        return ForAnswer(row[0], None, bool(row[1]), announced, False, noticed, bool(row[4]))
    values = {"answer_action": action_id, "answer_user": user_id, "answer_notice": notice_ref}
    values["answer_pressed"] = pressed
    held = _loaded(session, _locked(session).get(action_id)) if first is not None else None
    if held is not None and first is not None and _slots_held(session).get(action_id) is False:
        written = await _first_answer_reading(session, held, values, first)
        if written is not None:
            return written
    found = (await session.execute(_for_answer_sqlite(), values)).first()
    if found is None:
        return None
    _locked(session)[action_id] = found[0]
    _slots_held(session)[action_id] = bool(found[2])
    announced, noticed = _message_ids(found[3]), _message_ids(found[4])
    return ForAnswer(found[0], found[1], bool(found[2]), announced, True, noticed, bool(found[5]))


async def _first_answer_reading(
    session: AsyncSession, action: Action, parameters: dict[str, Any], first: FirstAnswer
) -> ForAnswer | None:
    """SQLite, an action this transaction holds: its first answer written (if the volunteer has
    none, the action exists and has no roles), returning what `for_answer` reads: one statement
    a press. None when nothing was written: the caller reads as for any press."""
    placed = first.status == WAITLIST
    values = _first_values(action, parameters, first)
    found = await direct.first(session, _first_answer_reading_statement(placed), values)
    if found is None:
        return None
    _moved(session, action.id, None, first.status)
    place = int(found[0] or 1) if placed else None
    announced, noticed = _message_ids(found[1]), _message_ids(found[2])
    return ForAnswer(
        action,
        None,
        False,
        announced,
        True,
        noticed,
        bool(found[3]),
        first_tried=True,
        first_written=True,
        first_place=place,
    )


def _first_values(action: Action, parameters: dict[str, Any], first: FirstAnswer) -> dict[str, Any]:
    """`for_answer`'s parameters with those of the first answer it writes (`_first_answer`'s
    names; the waitlist's count as this transaction holds it: `_held_counts`)."""
    placed = first.status == WAITLIST
    return parameters | {
        "first_action": action.id,
        "first_user": parameters["answer_user"],
        "first_status": first.status,
        "first_queued": first.now if placed else None,
        "first_answered": first.now,
        "first_waiting": int(action.waitlist_count or 0),
    }


def held_for_answer(session: AsyncSession, action_id: int) -> tuple[Action, bool] | None:
    """The action, if this transaction read it under its lock (`for_answer`: PostgreSQL's row
    lock, SQLite's write lock) and holds it still, every column loaded and its counts followed
    since (`_moved`), with whether it had roles then; else None."""
    action = _loaded(session, _locked(session).get(action_id))
    if action is None:
        return None
    has_slots = _slots_held(session).get(action_id)
    return None if has_slots is None else (action, has_slots)


def _slots_held(session: AsyncSession) -> dict[int, bool]:
    """Whether each action of `_locked` had roles when this transaction last read it."""
    transaction = session.sync_session.get_transaction()
    if transaction is None:  # as `_locked`: nothing held before a transaction begins
        session.info.pop("locked_slots", None)
        return {}
    held = session.info.get("locked_slots")
    if held is None or held[0] is not transaction:
        held = session.info["locked_slots"] = (transaction, {})
    found: dict[int, bool] = held[1]
    return found


async def _for_next_first_answer(
    session: AsyncSession, action: Action, parameters: dict[str, Any], first: FirstAnswer
) -> ForAnswer | None:
    """`for_answer` of a held action with its first answer written in the same statement."""
    placed = first.status == WAITLIST
    values = _first_values(action, parameters, first)
    found = await direct.first(session, _for_next_first_answer_statement(placed), values)
    if found is None:  # deleted by this transaction: nothing written (the INSERT's WHERE)
        return None
    has_slots, written = bool(found[0]), bool(found[5])
    _slots_held(session)[action.id] = has_slots
    if written:
        _moved(session, action.id, None, first.status)
    place = int(found[4] or 1) if written and placed else None
    announced, noticed = _message_ids(found[1]), _message_ids(found[2])
    return ForAnswer(
        action,
        None,
        has_slots,
        announced,
        False,
        noticed,
        bool(found[3]),
        first_tried=True,
        first_written=written,
        first_place=place,
    )


@cache
def _for_next_first_answer_statement(placed: bool) -> Any:
    """`_for_next_answer` with the first answer's INSERT (`_first_answer`'s, `if_none`,
    `counted`) as a CTE: written only while the action exists and has no roles (one added in
    this transaction: the caller tries again as it would without this); the outer SELECT does
    not see the row written (PostgreSQL: one snapshot for the whole statement), and reads
    nothing it changes. `written`: whether a row was; `place`: its place on the waitlist."""
    written = _first_answer_if_free(placed, "postgresql").cte("first_answer")
    has_slots = exists().where(ActionSlot.action_id == Action.id).label("has_slots")
    return select(
        has_slots,
        _announced(True),
        _announced(True, announce=False),
        _pressed_stripped(),
        select(written.c.place).scalar_subquery().label("place"),
        exists().select_from(written).label("written"),
    ).where(Action.id == bindparam("answer_action"))


@cache
def _first_answer_reading_statement(placed: bool) -> Any:
    """SQLite's `_first_answer_reading`: the INSERT returning, with its place, what
    `for_answer` reads (SQLite has no INSERT in a WITH clause; a RETURNING clause may hold
    subqueries). A row only when one was written."""
    action_id = bindparam("first_action", type_=Integer)
    return _first_answer_if_free(placed, "sqlite").returning(  # after its `place`
        _announced(False, action_id=action_id),
        _announced(False, announce=False, action_id=action_id),
        _pressed_stripped(),
    )


def _first_answer_if_free(placed: bool, dialect: str) -> Any:
    """`_first_answer`'s INSERT (`if_none`, `counted`), written only while the action exists
    and has no roles, returning `place`: its place on the waitlist (`placed`) or its id."""
    rsvps: Table = Rsvp.__table__  # type: ignore[assignment]
    slots: Table = ActionSlot.__table__  # type: ignore[assignment]
    actions: Table = Action.__table__  # type: ignore[assignment]
    action_id = bindparam("first_action", type_=rsvps.c.action_id.type)
    source = select(
        action_id,
        bindparam("first_user", type_=rsvps.c.user_id.type),
        bindparam("first_status", type_=rsvps.c.status.type),
        bindparam("first_queued", type_=rsvps.c.queued_at.type),
        bindparam("first_answered", type_=rsvps.c.answered_at.type),
    ).where(
        exists().where(actions.c.id == action_id),
        ~exists().where(slots.c.action_id == action_id),
    )
    columns = ["action_id", "user_id", "status", "queued_at", "answered_at"]
    maker = postgresql_insert if dialect == "postgresql" else sqlite_insert
    write = (
        maker(rsvps)
        .from_select(columns, source)
        .on_conflict_do_nothing(index_elements=["action_id", "user_id"])
    )
    if placed:
        ahead = rsvps.alias("ahead")
        later = (
            select(func.count())
            .where(
                ahead.c.action_id == action_id,
                ahead.c.status == WAITLIST,
                ahead.c.queued_at > bindparam("first_queued", type_=rsvps.c.queued_at.type),
                ahead.c.user_id != bindparam("first_user", type_=rsvps.c.user_id.type),
            )
            .scalar_subquery()
        )
        waiting = bindparam("first_waiting", type_=Integer)
        value: Any = (waiting + 1 - later).label("place")
    else:
        value = rsvps.c.id.label("place")
    return write.returning(value)


def _locked(session: AsyncSession) -> dict[int, Action]:
    """The actions this session's transaction read under their lock (`for_answer`), by id,
    held here (the session's identity map would let them go): emptied when another
    transaction begins."""
    transaction = session.sync_session.get_transaction()
    if transaction is None:  # none begun yet (autobegin): nothing held, nothing to remember
        session.info.pop("locked_actions", None)
        return {}
    held = session.info.get("locked_actions")
    if held is None or held[0] is not transaction:
        held = session.info["locked_actions"] = (transaction, {})
    locked: dict[int, Action] = held[1]
    return locked


def _loaded(session: AsyncSession, action: Action | None) -> Action | None:
    """`action`, if this session still holds it with every column loaded (none expired)."""
    if action is None:
        return None
    state = inspect(action)
    if state.session is not session.sync_session or state.unloaded or state.deleted:
        return None
    return action


def _message_ids(listed: str | None) -> tuple[int, ...]:
    """The message ids of a list aggregated by the database ("12,15"), in order."""
    if not listed:
        return ()
    return tuple(sorted(int(part) for part in str(listed).split(",")))


async def live_copies(
    session: AsyncSession, action_id: int, user_ids: Sequence[int], notice_ref: str
) -> list[tuple[int, int]]:
    """(chat, message id) of the copies of the action's buttons in these people's private
    chats other than its announcements — its other broadcasts, the notices under `notice_ref`
    — not marked outdated: what `for_answer` reads as `noticed` for one presser."""
    if not user_ids:
        return []
    rows = await session.execute(
        _live_copies(),
        {"copies_action": action_id, "copies_users": list(user_ids)}
        | {"answer_notice": notice_ref},
    )
    return [(int(chat), int(message)) for chat, message in rows]


@cache
def _live_copies() -> Any:
    broadcasts = select(literal("b") + cast(Broadcast.id, String)).where(
        Broadcast.action_id == bindparam("copies_action"), Broadcast.purpose != "announce"
    )
    notices = OutboxMessage.ref == bindparam("answer_notice", type_=String)
    kept = cast(OutboxMessage.keyboard, String)
    return select(OutboxMessage.chat_id, OutboxMessage.message_id).where(
        OutboxMessage.chat_id.in_(bindparam("copies_users", expanding=True)),
        or_(OutboxMessage.ref.in_(broadcasts), notices),
        and_(kept != "null", kept != "[]"),
        ~_stripped(OutboxMessage.chat_id, OutboxMessage.message_id),
        OutboxMessage.state == SENT,
        OutboxMessage.edit_of.is_(None),
        OutboxMessage.message_id.is_not(None),
    )


def _stripped(chat_id: Any, message_id: Any) -> Any:
    """Whether the bot took a message's buttons away (an edit of it without any: a notice
    marked outdated, a press once the action was over)."""
    edit = aliased(OutboxMessage)
    return exists().where(edit.chat_id == chat_id, edit.edit_of == message_id, _no_buttons(edit))


def _no_buttons(edit: Any) -> Any:
    """An outbox row (an edit) that leaves its message without buttons."""
    return or_(
        edit.keyboard.is_(None),
        cast(edit.keyboard, String) == "null",
        cast(edit.keyboard, String) == "[]",
    )


def _stripped_in_presser_chat() -> Any:
    """`_stripped` of an outbox row of the presser's chat, written without correlating two
    copies of the outbox table: in a RETURNING clause SQLite's compiler names columns without
    their table, so `edit.chat_id = outbox.chat_id` became `chat_id = chat_id` (always true, a
    cold review's finding: an outdated notice got its buttons back)."""
    edit = aliased(OutboxMessage)
    taken_away = select(edit.edit_of).where(
        edit.chat_id == bindparam("answer_user", type_=BigInteger),
        edit.edit_of.is_not(None),
        _no_buttons(edit),
    )
    return OutboxMessage.message_id.in_(taken_away)


def _pressed_stripped() -> Any:
    """`_stripped` of the message pressed (`answer_pressed`) in the presser's chat."""
    pressed = bindparam("answer_pressed", type_=BigInteger)
    return _stripped(bindparam("answer_user", type_=BigInteger), pressed).label("stripped")


def _announced(postgresql: bool, announce: bool = True, action_id: Any = None) -> Any:
    """The ids of the action's delivered announcements in the presser's private chat, listed
    ("12,15"; NULL when none), as `live` reads them (outbox.action_messages); with `announce`
    False, those of its other messages there that carry buttons: its other broadcasts, and the
    notices under the ref `answer_notice`. `action_id`: the action's id, when the statement
    reads no actions row (default: `Action.id`, correlated)."""
    message_ids = OutboxMessage.message_id
    listed = (
        func.string_agg(cast(message_ids, String), ",")
        if postgresql
        else func.group_concat(message_ids)
    )
    purpose = Broadcast.purpose == "announce" if announce else Broadcast.purpose != "announce"
    broadcasts = (
        select(literal("b") + cast(Broadcast.id, String))
        .where(Broadcast.action_id == (Action.id if action_id is None else action_id), purpose)
        .correlate(Action)
    )
    which: Any = OutboxMessage.ref.in_(broadcasts)
    if not announce:
        # With buttons, and none taken away since (an outdated notice, a press once over).
        notices = OutboxMessage.ref == bindparam("answer_notice", type_=String)
        stripped = (
            _stripped(OutboxMessage.chat_id, OutboxMessage.message_id)
            if action_id is None
            else _stripped_in_presser_chat()  # in a RETURNING clause (SQLite)
        )
        kept = cast(OutboxMessage.keyboard, String)
        has_buttons = and_(kept != "null", kept != "[]")
        which = and_(or_(which, notices), has_buttons, ~stripped)
    return (
        select(listed)
        .where(
            OutboxMessage.chat_id == bindparam("answer_user"),
            which,
            OutboxMessage.state == SENT,
            OutboxMessage.edit_of.is_(None),
            message_ids.is_not(None),
        )
        .correlate(Action)
        .scalar_subquery()
    )


@cache
def _for_answer_postgresql() -> Any:
    """PostgreSQL's `for_answer` statement, built once."""
    has_slots = exists().where(ActionSlot.action_id == Action.id).label("has_slots")
    return (
        select(
            Action,
            has_slots,
            _announced(True),
            _announced(True, announce=False),
            _pressed_stripped(),
        )
        .where(Action.id == bindparam("answer_action"))
        .with_for_update(of=Action)
        .execution_options(populate_existing=True)
    )


@cache
def _for_next_answer() -> Any:
    """`for_answer`'s statement when the action is locked and loaded already (PostgreSQL):
    whether it has roles, the presser's announcements."""
    has_slots = exists().where(ActionSlot.action_id == Action.id).label("has_slots")
    noticed = _announced(True, announce=False)
    return select(has_slots, _announced(True), noticed, _pressed_stripped()).where(
        Action.id == bindparam("answer_action")
    )


@cache
def _for_answer_sqlite() -> Any:
    """SQLite's `for_answer` statement, built once (issue 17: a statement is built per press
    otherwise)."""
    return (
        select(
            Action,
            Rsvp,
            exists().where(ActionSlot.action_id == Action.id).label("has_slots"),
            _announced(False),
            _announced(False, announce=False),
            _pressed_stripped(),
        )
        .outerjoin(
            Rsvp,
            and_(Rsvp.action_id == Action.id, Rsvp.user_id == bindparam("answer_user")),
        )
        .where(Action.id == bindparam("answer_action"))
        .execution_options(populate_existing=True)
    )


def _dialect(session: AsyncSession) -> str:
    return session.bind.dialect.name if session.bind is not None else "sqlite"


async def by_code(session: AsyncSession, code: str) -> Action | None:
    """An action by its deep-link code."""
    return await session.scalar(select(Action).where(Action.code == code))


async def find(session: AsyncSession, reference: str) -> Action | None:
    """An action by id ("12", "#12") or code."""
    cleaned = reference.strip().lstrip("#")
    if cleaned.isdigit():
        return await get(session, int(cleaned))
    return await by_code(session, cleaned.lower())


async def open_in_group(session: AsyncSession, chat_id: int) -> list[Action]:
    """The open actions posted in a group, oldest first."""
    rows = await session.scalars(select(Action).where(Action.status == OPEN).order_by(Action.id))
    return [action for action in rows if chat_id in (action.group_ids or [])]


async def recent(session: AsyncSession, limit: int = 20) -> Sequence[Action]:
    """The latest actions, newest first."""
    return (await session.scalars(select(Action).order_by(Action.id.desc()).limit(limit))).all()


async def change(
    session: AsyncSession, action: Action, changes: Mapping[str, Any], now: datetime
) -> None:
    """Changes some fields of an action."""
    for name, value in changes.items():
        setattr(action, name, value)
    action.updated_at = now
    await session.flush()


async def audience(
    session: AsyncSession, filters: Mapping[str, Any], kind: str | None = None
) -> list[Recipient]:
    """Active volunteers who match every filter and have not blocked the bot; with `kind`,
    not those who muted calls to action of that kind ("Less like this", issue 16). By id;
    the rule is `audience_store.where` (to count or queue an audience, use audience_store)."""
    rows = await session.execute(
        select(
            Volunteer.user_id,
            Volunteer.language,
            Volunteer.timezone,
            Volunteer.quiet_hours,
            Volunteer.digest,
        )
        .where(audience_store.where(session, filters, kind))
        .order_by(Volunteer.user_id)
    )
    return [Recipient(*row) for row in rows]


async def recipients(session: AsyncSession, user_ids: Iterable[int]) -> list[Recipient]:
    """The given volunteers, with their language and time zone."""
    ids = list(user_ids)
    if not ids:
        return []
    rows = await session.execute(
        select(
            Volunteer.user_id,
            Volunteer.language,
            Volunteer.timezone,
            Volunteer.quiet_hours,
            Volunteer.digest,
        )
        .where(Volunteer.user_id.in_(ids))
        .order_by(Volunteer.user_id)
    )
    return [Recipient(*row) for row in rows]


# answers


async def answer_of(session: AsyncSession, action_id: int, user_id: int) -> Rsvp | None:
    """A volunteer's answer to an action."""
    return await session.scalar(
        select(Rsvp).where(Rsvp.action_id == action_id, Rsvp.user_id == user_id)
    )


async def coming_to(session: AsyncSession, user_id: int) -> list[int]:
    """The actions a volunteer said Going, Maybe or joined the waitlist of, oldest first."""
    rows = await session.scalars(
        select(Rsvp.action_id)
        .where(Rsvp.user_id == user_id, Rsvp.status.in_((GOING, MAYBE, WAITLIST)))
        .order_by(Rsvp.action_id)
    )
    return list(rows)


async def set_answer(
    session: AsyncSession,
    action_id: int,
    user_id: int,
    status: str,
    now: datetime,
    *,
    slot_id: int | None = None,
    previous: Rsvp | Literal["look up"] | None = "look up",
) -> Rsvp:
    """Records a volunteer's answer (replacing the previous one); with `slot_id`, the role
    they take or wait for (kept while Going or waiting, forgotten otherwise). The action's
    counts follow in the same transaction. `previous`: their answer as just read, if it was
    (None: none); the caller holds the action's lock (`get` with `lock`, `for_answer`), so that
    no other transaction changes this action's answers meanwhile."""
    rsvp, _ = await _set_answer(session, action_id, user_id, status, now, slot_id, previous)
    return rsvp


async def set_answer_placed(
    session: AsyncSession,
    action_id: int,
    user_id: int,
    status: str,
    now: datetime,
    *,
    previous: Rsvp | None,
) -> int | None:
    """`set_answer` (without a role), returning the answer's place on the waitlist when it
    waits (1 is next; None otherwise). A first answer (`previous` None) is one INSERT that also
    returns the place (issue 17: three presses in four of a storm join the waitlist); the counts
    follow by the trigger on rsvps (migration 0019)."""
    if previous is not None:
        rsvp, _ = await _set_answer(session, action_id, user_id, status, now, None, previous)
        if status != WAITLIST:
            return None
        held = _held_counts(session, action_id)
        if held is None:
            return await place_of(session, rsvp)
        # Its count (this answer in it) less those queued after it, as `_first_answer` counts.
        later = await session.scalar(_later(), {"own": rsvp.id})
        return max(int(held.waitlist_count or 0) - int(later or 0), 1)
    _, place = await _insert_first(session, action_id, user_id, status, now, if_none=False)
    return place


async def first_answer(
    session: AsyncSession, action_id: int, user_id: int, status: str, now: datetime
) -> tuple[bool, int | None]:
    """A first answer (without a role), if the volunteer has none: whether it was written,
    and its place on the waitlist when it waits. One INSERT … ON CONFLICT DO NOTHING, made
    once the action's lock is held (PostgreSQL: `for_answer`), so it sees every answer
    committed before; when they had one, nothing is written: read it (`answer_of`)."""
    return await _insert_first(session, action_id, user_id, status, now, if_none=True)


async def _insert_first(
    session: AsyncSession,
    action_id: int,
    user_id: int,
    status: str,
    now: datetime,
    *,
    if_none: bool,
) -> tuple[bool, int | None]:
    values: dict[str, Any] = {
        "first_action": action_id,
        "first_user": user_id,
        "first_status": status,
        "first_queued": now if status == WAITLIST else None,
        "first_answered": now,
    }
    held = _held_counts(session, action_id) if status == WAITLIST else None
    if held is not None:
        values["first_waiting"] = int(held.waitlist_count or 0)
    statement = _first_answer(status == WAITLIST, if_none, _dialect(session), held is not None)
    result = await direct.execute(session, statement, values)
    row = result.first() if if_none or status == WAITLIST else None
    if if_none and row is None:  # they have an answer: nothing written
        return False, None
    _moved(session, action_id, None, status)
    if status != WAITLIST or row is None:
        return True, None
    return True, int(row[0] or 1)


@cache
def _first_answer(placed: bool, if_none: bool, dialect: str, counted: bool = False) -> Any:
    """`set_answer_placed`'s INSERT of a first answer, built once; `placed`: returning its
    place on the waitlist — those of the action's waitlist (no role) queued before it: at its
    time or before, the earlier ones at the same time having a smaller id. Its own row is not
    counted (it is another person's answer that is ahead), whether the database's subquery sees
    it (SQLite) or not (PostgreSQL). `counted`: from the waitlist's count held on the action
    (`first_waiting`, exact: `_held_counts`) less those queued after it (none, unless a clock
    was set back: the index on (action, answer, queued) finds them without reading the
    others), so that joining a waitlist of 100,000 costs what joining an empty one does
    (issue 17); else every waiting answer is counted. `if_none`: nothing written (no row
    returned) when the volunteer has an answer already."""
    rsvps: Table = Rsvp.__table__  # type: ignore[assignment]
    maker = postgresql_insert if dialect == "postgresql" else sqlite_insert
    statement = maker(rsvps).values(
        action_id=bindparam("first_action"),
        user_id=bindparam("first_user"),
        status=bindparam("first_status"),
        queued_at=bindparam("first_queued"),
        answered_at=bindparam("first_answered"),
    )
    if if_none:
        statement = statement.on_conflict_do_nothing(index_elements=["action_id", "user_id"])
    if not placed:
        return statement.returning(rsvps.c.id) if if_none else statement
    ahead = rsvps.alias("ahead")
    if counted:
        later = (
            select(func.count())
            .where(
                ahead.c.action_id == bindparam("first_action"),
                ahead.c.status == WAITLIST,
                ahead.c.queued_at > bindparam("first_queued"),
                ahead.c.user_id != bindparam("first_user"),
            )
            .scalar_subquery()
        )
        waiting = bindparam("first_waiting", type_=Integer)
        return statement.returning(waiting + 1 - later)
    place = (
        select(func.count() + 1)
        .where(
            ahead.c.action_id == bindparam("first_action"),
            ahead.c.status == WAITLIST,
            ahead.c.slot_id.is_(None),
            ahead.c.user_id != bindparam("first_user"),
            ahead.c.queued_at <= bindparam("first_queued"),
        )
        .scalar_subquery()
    )
    return statement.returning(place)


def _held_counts(session: AsyncSession, action_id: int) -> Action | None:
    """The action, if this transaction holds its counts exactly: read by `for_answer` under
    its lock (PostgreSQL's row lock; SQLite's write lock, held from the transaction's start),
    its counts following every answer written since (`_moved`). Only for an action without
    roles: its waitlist count is then the waitlist of `_place`'s order."""
    action = _loaded(session, _locked(session).get(action_id))
    if action is None or "waitlist_count" in inspect(action).unloaded:
        return None
    return action


async def _set_answer(
    session: AsyncSession,
    action_id: int,
    user_id: int,
    status: str,
    now: datetime,
    slot_id: int | None,
    previous: Rsvp | Literal["look up"] | None,
) -> tuple[Rsvp, str | None]:
    """Writes the answer; returns it and the status it had (None: none)."""
    rsvp = await answer_of(session, action_id, user_id) if previous == "look up" else previous
    before = rsvp.status if rsvp is not None else None
    if rsvp is None:
        rsvp = Rsvp(action_id=action_id, user_id=user_id)
        session.add(rsvp)
    if slot_id is not None:
        rsvp.slot_id = slot_id
    elif status not in (GOING, WAITLIST):
        rsvp.slot_id = None
    if status != GOING:
        rsvp.confirmed_at = None
    rsvp.status = status
    rsvp.queued_at = now if status == WAITLIST else None
    rsvp.answered_at = now
    await session.flush()
    _moved(session, action_id, before, status)
    return rsvp, before


async def clear_answer(session: AsyncSession, action_id: int, user_id: int) -> bool:
    """Forgets a volunteer's answer ("I haven't signed after all"); False if there was none."""
    rsvp = await answer_of(session, action_id, user_id)
    if rsvp is None:
        return False
    await session.delete(rsvp)
    await session.flush()
    _moved(session, action_id, rsvp.status, None)
    return True


def _counter(status: str) -> str:
    return f"{status}_count"


def _moved(session: AsyncSession, action_id: int, left: str | None, joined: str | None) -> None:
    """The action loaded in this session, if it is, follows one answer moved from `left` to
    `joined`: the database's counts were moved by the trigger on rsvps (migration 0019) in the
    statement that wrote the answer. Exact: the caller holds the action's lock (`get` with
    `lock`, `for_answer`) and read the action under it, so no other transaction moved them."""
    if left == joined:
        return
    loaded = session.sync_session.identity_map.get(Session.identity_key(Action, action_id))
    if loaded is None:
        return
    state = inspect(loaded)
    for status, delta in ((left, -1), (joined, 1)):
        if status not in COUNTED or _counter(status) in state.unloaded:
            continue
        value = int(getattr(loaded, _counter(status)) or 0) + delta
        set_committed_value(loaded, _counter(status), value)


def counts_of(action: Action) -> dict[str, int]:
    """How many volunteers gave each answer (those given at least once), as kept on the action."""
    found = {status: int(getattr(action, _counter(status)) or 0) for status in COUNTED}
    return {status: n for status, n in found.items() if n}


@dataclass(frozen=True, slots=True)
class SlotStanding:
    """One role of an action and how it is filled."""

    id: int
    name: str
    capacity: int
    skill: str | None
    going: int
    waiting: int

    @property
    def left(self) -> int:
        """Free places in this role."""
        return max(0, self.capacity - self.going)


@dataclass(frozen=True, slots=True)
class Standing:
    """Where an action's answers stand: how many gave each, and each person's answer and
    place on the waitlist (1 is next; per role when the action has roles)."""

    counts: Mapping[str, int]
    answers: Mapping[int, str]
    positions: Mapping[int, int]
    slots: Sequence[SlotStanding] = ()
    slot_of: Mapping[int, int] = field(default_factory=dict)  # user → slot id

    def places_left(self, capacity: int | None) -> int | None:
        """Free places (None: no limit)."""
        if capacity is None:
            return None
        return max(0, capacity - self.counts.get(GOING, 0))


async def standing(session: AsyncSession, action_id: int) -> Standing:
    """Every answer to an action, with the waitlist's order."""
    rows = (
        await session.execute(
            select(Rsvp.user_id, Rsvp.status, Rsvp.slot_id)
            .where(Rsvp.action_id == action_id)
            .order_by(Rsvp.queued_at, Rsvp.id)
        )
    ).all()
    counts: dict[str, int] = {}
    answers: dict[int, str] = {}
    positions: dict[int, int] = {}
    slot_of: dict[int, int] = {}
    queues: dict[int | None, int] = {}
    per_slot: dict[tuple[int, str], int] = {}
    for user_id, status, slot_id in rows:
        counts[status] = counts.get(status, 0) + 1
        answers[user_id] = status
        if slot_id is not None:
            slot_of[user_id] = slot_id
            per_slot[(slot_id, status)] = per_slot.get((slot_id, status), 0) + 1
        if status == WAITLIST:
            queues[slot_id] = queues.get(slot_id, 0) + 1
            positions[user_id] = queues[slot_id]
    roles = [
        SlotStanding(
            slot.id,
            slot.name,
            slot.capacity,
            slot.skill,
            per_slot.get((slot.id, GOING), 0),
            per_slot.get((slot.id, WAITLIST), 0),
        )
        for slot in await slots_of(session, action_id)
    ]
    return Standing(counts, answers, positions, roles, slot_of)


async def standing_for(
    session: AsyncSession,
    action: Action,
    readers: Iterable[int],
    *,
    slots: Sequence[ActionSlot] | None = None,
) -> Standing:
    """Where an action's answers stand as these `readers` see it: the counts kept on the action,
    and only the readers' own answers and places on the waitlist — without reading every answer
    (a press must cost the same at 0 and 100k answers). `slots`: the action's roles if known;
    an action with roles gets the whole `standing` (roles are counted per role)."""
    if slots is None:
        slots = await slots_of(session, action.id)
    if slots:
        return await standing(session, action.id)
    ids = list(readers)
    if not ids:
        return Standing(counts_of(action), {}, {})
    rows = await session.execute(
        select(Rsvp.user_id, Rsvp.status, _place()).where(
            Rsvp.action_id == action.id, Rsvp.user_id.in_(ids)
        )
    )
    answers: dict[int, str] = {}
    positions: dict[int, int] = {}
    for user_id, status, place in rows:
        answers[user_id] = status
        if status == WAITLIST:
            positions[user_id] = int(place or 1)
    return Standing(counts_of(action), answers, positions)


@cache
def _later() -> Any:
    """How many of an action's waiting answers were queued after the answer `own` (or at the
    same time, with a larger id): none, unless a clock was set back; found in the index on
    (action, answer, queued) without reading the others."""
    later, own = aliased(Rsvp), aliased(Rsvp)
    return (
        select(func.count())
        .select_from(own)
        .join(later, and_(later.action_id == own.action_id, later.status == WAITLIST))
        .where(
            own.id == bindparam("own"),
            later.queued_at >= own.queued_at,  # the index's range
            or_(later.queued_at > own.queued_at, later.id > own.id),
        )
    )


@cache
def _place() -> Any:
    """A waiting answer's place on its waitlist (1 is next): those of the same role queued
    before it, counted in the index of (action, answer)."""
    ahead = aliased(Rsvp)
    return (
        select(func.count())
        .where(
            ahead.action_id == Rsvp.action_id,
            ahead.status == WAITLIST,
            ahead.slot_id.is_not_distinct_from(Rsvp.slot_id),
            or_(
                ahead.queued_at < Rsvp.queued_at,
                and_(ahead.queued_at == Rsvp.queued_at, ahead.id <= Rsvp.id),
            ),
        )
        .scalar_subquery()
    )


async def place_of(session: AsyncSession, rsvp: Rsvp) -> int:
    """A waiting answer's place on its waitlist (1 is next)."""
    place = await session.scalar(select(_place()).where(Rsvp.id == rsvp.id))
    return int(place or 1)


async def slots_of(session: AsyncSession, action_id: int) -> Sequence[ActionSlot]:
    """An action's roles, in their order."""
    return (
        await session.scalars(
            select(ActionSlot)
            .where(ActionSlot.action_id == action_id)
            .order_by(ActionSlot.position, ActionSlot.id)
        )
    ).all()


async def add_slots(
    session: AsyncSession, action_id: int, slots: Sequence[Mapping[str, Any]]
) -> None:
    """Gives a new action its roles."""
    for position, slot in enumerate(slots):
        session.add(
            ActionSlot(
                action_id=action_id,
                position=position,
                name=str(slot["name"]),
                capacity=int(slot["capacity"]),
                skill=slot.get("skill"),
            )
        )
    await session.flush()


async def slot_going(session: AsyncSession, action_id: int, slot_id: int) -> int:
    """How many are Going in one role."""
    count = await session.scalar(
        select(func.count()).where(
            Rsvp.action_id == action_id, Rsvp.slot_id == slot_id, Rsvp.status == GOING
        )
    )
    return int(count or 0)


async def slot_waitlisted(
    session: AsyncSession, action_id: int, slot_id: int, limit: int
) -> Sequence[Rsvp]:
    """The first volunteers waiting for one role who can be told, in the order they joined
    its waitlist (see `waitlisted`)."""
    return (
        await session.scalars(
            select(Rsvp)
            .where(Rsvp.action_id == action_id, Rsvp.slot_id == slot_id, Rsvp.status == WAITLIST)
            .where(_reachable())
            .order_by(Rsvp.queued_at, Rsvp.id)
            .limit(limit)
        )
    ).all()


async def invited(session: AsyncSession, action_id: int) -> set[int]:
    """Who was already invited to fill a role of this action."""
    rows = await session.scalars(
        select(SlotInvitation.user_id).where(SlotInvitation.action_id == action_id)
    )
    return set(rows)


async def record_invitations(
    session: AsyncSession, action_id: int, slot_id: int, user_ids: Iterable[int], now: datetime
) -> None:
    """Remembers invitations to fill a role (each person is invited once per action)."""
    for user_id in user_ids:
        session.add(
            SlotInvitation(action_id=action_id, slot_id=slot_id, user_id=user_id, created_at=now)
        )
    await session.flush()


async def active_volunteers(session: AsyncSession) -> list[Volunteer]:
    """Active volunteers who have not blocked the bot."""
    blocked = select(UserPreference.user_id).where(UserPreference.blocked_bot_at.is_not(None))
    return list(
        (
            await session.scalars(
                select(Volunteer)
                .where(Volunteer.status == "active", Volunteer.user_id.not_in(blocked))
                .order_by(Volunteer.user_id)
            )
        ).all()
    )


async def counts(session: AsyncSession, action_id: int) -> dict[str, int]:
    """How many volunteers gave each answer (as kept on the action: no answer is read)."""
    action = await session.get(Action, action_id)
    return counts_of(action) if action is not None else {}


async def waitlisted(session: AsyncSession, action_id: int, limit: int) -> Sequence[Rsvp]:
    """The first volunteers on the waitlist who can be told, in the order they joined it: one
    the bot cannot write to (blocked it, deleted their account: `preferences.set_unreachable`)
    would be given a place without knowing it, and the coordinator would count them coming;
    they keep their place on the waitlist, and are promoted in turn once they are back."""
    return (
        await session.scalars(
            select(Rsvp)
            .where(Rsvp.action_id == action_id, Rsvp.status == WAITLIST, _reachable())
            .order_by(Rsvp.queued_at, Rsvp.id)
            .limit(limit)
        )
    ).all()


def _reachable() -> Any:
    """An answer whose volunteer the bot can write to (none recorded unreachable)."""
    return ~exists().where(
        UserPreference.user_id == Rsvp.user_id, UserPreference.blocked_bot_at.is_not(None)
    )


async def responders(
    session: AsyncSession, action_id: int, statuses: Iterable[str]
) -> list[Recipient]:
    """The volunteers whose answer is one of `statuses`."""
    ids = await session.scalars(
        select(Rsvp.user_id).where(Rsvp.action_id == action_id, Rsvp.status.in_(list(statuses)))
    )
    return await recipients(session, ids)


async def user_ids_with(session: AsyncSession, action_id: int, statuses: Iterable[str]) -> set[int]:
    """Ids of the volunteers whose answer is one of `statuses`."""
    rows = await session.scalars(
        select(Rsvp.user_id).where(Rsvp.action_id == action_id, Rsvp.status.in_(list(statuses)))
    )
    return set(rows)


async def roster(session: AsyncSession, action_id: int) -> list[tuple[Rsvp, Volunteer | None]]:
    """Every answer with the volunteer who gave it, by answer then time."""
    rows = await session.execute(
        select(Rsvp, Volunteer)
        .join(Volunteer, Volunteer.user_id == Rsvp.user_id, isouter=True)
        .where(Rsvp.action_id == action_id)
        .order_by(Rsvp.status, Rsvp.queued_at, Rsvp.answered_at, Rsvp.id)
    )
    return [(rsvp, volunteer) for rsvp, volunteer in rows]


async def attendees(session: AsyncSession, action_id: int) -> list[int]:
    """Ids of the volunteers marked attended at check-in."""
    rows = await session.scalars(
        select(Rsvp.user_id).where(Rsvp.action_id == action_id, Rsvp.attendance == ATTENDED)
    )
    return list(rows)


async def attendance_counts(session: AsyncSession, action_id: int) -> dict[str, int]:
    """How many were marked attended and no-show at an action's check-in."""
    rows = await session.execute(
        select(Rsvp.attendance, func.count())
        .where(Rsvp.action_id == action_id, Rsvp.attendance.is_not(None))
        .group_by(Rsvp.attendance)
    )
    return {str(mark): count for mark, count in rows}


async def attendance_history(session: AsyncSession, user_id: int) -> dict[str, int]:
    """A volunteer's check-in marks over every action: attended and no-show counts."""
    rows = await session.execute(
        select(Rsvp.attendance, func.count())
        .where(Rsvp.user_id == user_id, Rsvp.attendance.is_not(None))
        .group_by(Rsvp.attendance)
    )
    return {str(mark): count for mark, count in rows}


LEFT_OUT = audience_store.LEFT_OUT
