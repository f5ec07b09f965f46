"""The audience of a call to action, computed in the database (issue 17: cost must not grow
with the coalition).

Who is in it is `action_store.audience`'s rule — active, has not blocked the bot, fits every
filter (skills: any of them), has not muted calls of this kind — written once as SQL
conditions here, so that counting it, splitting it by what its messages need (language, time
zone, quiet hours, digest) and queueing its messages take a few statements whatever its size,
and no volunteer becomes an ORM object.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    Subquery,
    and_,
    case,
    false,
    func,
    literal,
    literal_column,
    not_,
    select,
    true,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from storage.json_lists import dialect_of, json_has_any
from storage.models import OutboxMessage, Timer, UserPreference, Volunteer

LEFT_OUT = ("blocked", "inactive", "muted", "outside")


def _blocked() -> ColumnElement[bool]:
    blocked = select(UserPreference.user_id).where(UserPreference.blocked_bot_at.is_not(None))
    return Volunteer.user_id.in_(blocked)


def _muted(dialect: str, kind: str | None) -> ColumnElement[bool]:
    if kind is None:
        return false()
    return json_has_any(dialect, Volunteer.muted, [f"action:{kind}"])


def _fits(dialect: str, filters: Mapping[str, Any]) -> ColumnElement[bool]:
    """Every filter of a call (an empty one lets everyone through)."""
    conditions: list[ColumnElement[bool]] = []
    if filters.get("skills"):
        conditions.append(json_has_any(dialect, Volunteer.skills, list(filters["skills"])))
    for name, column in (
        ("countries", Volunteer.country),
        ("kinds", Volunteer.kind),
        ("languages", Volunteer.language),
    ):
        if filters.get(name):
            conditions.append(column.in_(list(filters[name])))
    return and_(true(), *conditions)


def where(
    session: AsyncSession, filters: Mapping[str, Any], kind: str | None = None
) -> ColumnElement[bool]:
    """The condition on `volunteers` of being in the audience."""
    return and_(Volunteer.status == "active", _but_status(session, filters, kind))


def _but_status(
    session: AsyncSession, filters: Mapping[str, Any], kind: str | None
) -> ColumnElement[bool]:
    """`where` but for the status."""
    dialect = dialect_of(session)
    return and_(
        not_(_blocked()),
        _fits(dialect, filters),
        not_(_muted(dialect, kind)),
    )


async def count(session: AsyncSession, filters: Mapping[str, Any], kind: str | None = None) -> int:
    """How many people are in the audience."""
    statement = select(func.count()).select_from(Volunteer).where(where(session, filters, kind))
    return int(await session.scalar(statement) or 0)


async def by_language(
    session: AsyncSession, filters: Mapping[str, Any], kind: str | None = None
) -> Counter[str]:
    """How many people of the audience read each language."""
    rows = await session.execute(
        select(Volunteer.language, func.count())
        .where(where(session, filters, kind))
        .group_by(Volunteer.language)
    )
    return Counter({language: int(n) for language, n in rows})


async def larger_than(
    session: AsyncSession, filters: Mapping[str, Any], kind: str | None, size: int
) -> bool:
    """Whether more than `size` people are in the audience, without counting it: whether one
    is found past the `size`th, walking volunteers by id (issue 17: a fan-out's plan is read
    after the coordinator's transaction when the audience takes more than a chunk)."""
    # the status compared as an expression, as in `_chunk`: with the status's index SQLite
    # read every active volunteer and sorted them by id (~37 ms at 100k)
    status = Volunteer.status.concat(literal_column("''"))
    found = await session.scalar(
        select(Volunteer.user_id)
        .where(status == "active", _but_status(session, filters, kind))
        .order_by(Volunteer.user_id)
        .offset(size)
        .limit(1)
    )
    return found is not None


@dataclass(frozen=True, slots=True)
class Share:
    """The people of an audience whose message is the same: same language and time zone, same
    quiet hours and digest (as stored; None: the default)."""

    language: str
    timezone: str
    quiet_hours: str | None
    digest: str | None
    people: int


async def shares(
    session: AsyncSession, filters: Mapping[str, Any], kind: str | None = None
) -> list[Share]:
    """The audience split by what its messages need (a handful of rows, not one per person)."""
    columns = (Volunteer.language, Volunteer.timezone, Volunteer.quiet_hours, Volunteer.digest)
    rows = await session.execute(
        select(*columns, func.count())
        .where(where(session, filters, kind))
        .group_by(*columns)
        .order_by(*columns)
    )
    return [
        Share(language, zone, quiet, digest, int(n)) for language, zone, quiet, digest, n in rows
    ]


_KEY = ("language", "timezone", "quiet_hours", "digest")
CHUNK = 200  # shares per statement (SQLite allows 500 terms in a compound SELECT)


def _keyed(rows: Sequence[Mapping[str, Any]], types: Mapping[str, Any]) -> Subquery:
    """A small table of literal rows (one per share), to join volunteers with."""
    selects = [select(*(literal(row[n], t).label(n) for n, t in types.items())) for row in rows]
    return (selects[0] if len(selects) == 1 else union_all(*selects)).subquery()


_NULLABLE = ("quiet_hours", "digest")


def _joined(table: Subquery, names: Sequence[str], people: Any = Volunteer) -> ColumnElement[bool]:
    """Volunteers (`people`: their columns) of a row of `table` (`=` where NULL is impossible:
    SQLite indexes it)."""
    return and_(
        *(
            getattr(people, n).is_not_distinct_from(table.c[n])
            if n in _NULLABLE
            else getattr(people, n) == table.c[n]
            for n in names
        )
    )


def _share_types() -> dict[str, Any]:
    return {name: getattr(Volunteer, name).type for name in _KEY}


def messages(
    session: AsyncSession,
    filters: Mapping[str, Any],
    kind: str | None,
    views: Sequence[tuple[Share, str, Any, datetime | None]],
    *,
    leaving_out: Collection[int] = (),
    after: int | None = None,
    through: int | None = None,
) -> list[Select[int, str, Any, datetime | None]]:
    """For each person of these shares of the audience (but `leaving_out`), by id: the user id
    and their share's text, stored keyboard and not-before moment — queries to insert from
    (a statement for every CHUNK shares), never loaded. Only user ids above `after` and up to
    `through` when given (a chunk of a fan-out: `next_bound`)."""
    types = _share_types() | {
        "text": OutboxMessage.text.type,
        "keyboard": OutboxMessage.keyboard.type,
        "not_before": OutboxMessage.not_before.type,
    }
    found: list[Select[int, str, Any, datetime | None]] = []
    for start in range(0, len(views), CHUNK):
        rows = [
            {"language": s.language, "timezone": s.timezone, "quiet_hours": s.quiet_hours}
            | {"digest": s.digest, "text": text, "keyboard": keyboard, "not_before": moment}
            for s, text, keyboard, moment in views[start : start + CHUNK]
        ]
        table = _keyed(rows, types)
        if after is not None:
            found.append(_chunk(session, filters, kind, table, leaving_out, after, through))
            continue
        statement = (
            select(Volunteer.user_id, table.c.text, table.c.keyboard, table.c.not_before)
            .join(table, _joined(table, _KEY))
            .where(where(session, filters, kind))
            .order_by(Volunteer.user_id)
        )
        if leaving_out:
            statement = statement.where(Volunteer.user_id.not_in(list(leaving_out)))
        found.append(statement)
    return found


_UNLIMITED = 2**62  # a LIMIT that keeps SQLite from flattening a subquery into its join


def _chunk(
    session: AsyncSession,
    filters: Mapping[str, Any],
    kind: str | None,
    table: Subquery,
    leaving_out: Collection[int],
    after: int,
    through: int | None,
) -> Select[int, str, Any, datetime | None]:
    """`messages` for the volunteers of ids above `after` up to `through`: first those of the
    audience in that range, walked by the primary key, then their share's message. SQLite
    took the status's or the share's index and visited everyone of the share for each chunk
    (a fan-out then cost 5 times the single INSERT): the status is compared as an expression
    (`status || ''`, which no index serves), and the range is a subquery with a LIMIT, which
    SQLite neither flattens into the join nor walks once per share."""
    status = Volunteer.status.concat(literal_column("''"))
    people = (
        select(Volunteer.user_id, *(getattr(Volunteer, n) for n in _KEY))
        .where(
            status == "active",
            Volunteer.user_id > after,
            _but_status(session, filters, kind),
        )
        .order_by(Volunteer.user_id)
        .limit(_UNLIMITED)
    )
    if through is not None:
        people = people.where(Volunteer.user_id <= through)
    if leaving_out:
        people = people.where(Volunteer.user_id.not_in(list(leaving_out)))
    chunk = people.subquery()
    return (
        select(chunk.c.user_id, table.c.text, table.c.keyboard, table.c.not_before)
        .select_from(chunk)
        .join(table, _joined(table, _KEY, chunk.c))
        .order_by(chunk.c.user_id)
    )


async def next_bound(session: AsyncSession, after: int, size: int) -> int | None:
    """The user id of the `size`th volunteer above `after` (by id, in the audience or not: the
    primary key's index alone is read): the last of the next chunk of a fan-out; None when
    fewer are left (the chunk takes them all)."""
    return await session.scalar(
        select(Volunteer.user_id)
        .where(Volunteer.user_id > after)
        .order_by(Volunteer.user_id)
        .offset(size - 1)
        .limit(1)
    )


def digests(
    session: AsyncSession,
    filters: Mapping[str, Any],
    kind: str | None,
    dues: Mapping[tuple[str, str], datetime],
) -> list[Select[int, datetime]]:
    """For each person of the audience whose digest (digest, time zone) is in `dues`: the user
    id and their next digest's moment — queries to insert from, never loaded."""
    types = {"digest": Volunteer.digest.type, "timezone": Volunteer.timezone.type}
    types["due_at"] = Timer.due_at.type
    items = list(dues.items())
    found: list[Select[int, datetime]] = []
    for start in range(0, len(items), CHUNK):
        rows = [
            {"digest": digest, "timezone": zone, "due_at": due}
            for (digest, zone), due in items[start : start + CHUNK]
        ]
        table = _keyed(rows, types)
        found.append(
            select(Volunteer.user_id, table.c.due_at)
            .join(table, _joined(table, ("digest", "timezone")))
            .where(where(session, filters, kind))
            .order_by(Volunteer.user_id)
        )
    return found


async def among(
    session: AsyncSession,
    filters: Mapping[str, Any],
    kind: str | None,
    user_ids: Collection[int],
) -> list[tuple[int, str, str, str | None, str | None]]:
    """Which of these people are in the audience, by id, with what their message needs
    (user id, language, time zone, quiet hours, digest); none asked: no query."""
    if not user_ids:
        return []
    rows = await session.execute(
        select(Volunteer.user_id, *(getattr(Volunteer, n) for n in _KEY))
        .where(where(session, filters, kind), Volunteer.user_id.in_(list(user_ids)))
        .order_by(Volunteer.user_id)
    )
    return [(int(u), str(lang), str(zone), quiet, digest) for u, lang, zone, quiet, digest in rows]


@dataclass(frozen=True, slots=True)
class LeftOut:
    """How many a call would not reach for one reason, and the first of them (by id)."""

    count: int
    first: Sequence[Volunteer]


async def unreachable(
    session: AsyncSession,
    filters: Mapping[str, Any],
    kind: str | None,
    ref: str,
    before: datetime,
) -> dict[str, int]:
    """Who a sending (outbox `ref`) was meant for but got no message of it because the bot
    could no longer write to them, by why (blocked the bot, deleted their account, never
    started it: `preferences.set_unreachable`; "blocked" on older rows): the audience but for
    that rule, registered before `before`, unreachable now, with no row of `ref`."""
    dialect = dialect_of(session)
    why = func.coalesce(UserPreference.unreachable_reason, "blocked")
    queued = select(OutboxMessage.chat_id).where(OutboxMessage.ref == ref)
    rows = await session.execute(
        select(why, func.count())
        .select_from(Volunteer)
        .join(UserPreference, UserPreference.user_id == Volunteer.user_id)
        .where(
            UserPreference.blocked_bot_at.is_not(None),
            Volunteer.status == "active",
            _fits(dialect, filters),
            not_(_muted(dialect, kind)),
            Volunteer.registered_at <= before,
            Volunteer.user_id.not_in(queued),
        )
        .group_by(why)
    )
    return {str(reason): int(n) for reason, n in rows}


@dataclass(frozen=True, slots=True)
class Preview:
    """What /newaction's preview says of an audience: how many read each language, and who
    the call would not reach, by reason."""

    languages: Counter[str]
    left_out: dict[str, LeftOut]


async def preview(
    session: AsyncSession, filters: Mapping[str, Any], kind: str, first: int = 5
) -> Preview:
    """The audience's languages and the registered volunteers a call with these filters would
    not reach, by reason (the first that applies): blocked the bot, not active (asleep,
    applicant, rejected…), muted this kind, outside the filters. One pass over the volunteers
    counts them all; then the first `first` of each reason are loaded (by id)."""
    dialect = dialect_of(session)
    reason = case(
        (_blocked(), "blocked"),
        (Volunteer.status != "active", "inactive"),
        (_muted(dialect, kind), "muted"),
        (not_(_fits(dialect, filters)), "outside"),
        else_="in",
    )
    reasons = select(reason.label("reason"), Volunteer.language).subquery()
    rows = await session.execute(
        select(reasons.c.reason, reasons.c.language, func.count()).group_by(
            reasons.c.reason, reasons.c.language
        )
    )
    counts: Counter[str] = Counter()
    languages: Counter[str] = Counter()
    for why, language, n in rows:
        counts[str(why)] += int(n)
        if why == "in":
            languages[str(language)] += int(n)
    found: dict[str, LeftOut] = {}
    for why in LEFT_OUT:
        if not counts.get(why):
            found[why] = LeftOut(0, [])
            continue
        volunteers = await session.scalars(
            select(Volunteer).where(reason == why).order_by(Volunteer.user_id).limit(first)
        )
        found[why] = LeftOut(counts[why], list(volunteers))
    return Preview(languages, found)
