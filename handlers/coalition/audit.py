"""/audit: what changed in the coalition — who changed it, when (in the reader's time zone), on
what or whom, and from what to what — for owners and the chair. Filters by person, kind and date
range (`/audit @amira actions 2026-11-01..2026-11-30`, or the kind buttons), a page at a time,
and as CSV (its file name says who exported it and when). Reading is not audited.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from handlers.kernel import csv_export, limits
from handlers.kernel.callbacks import CallbackData, StaleButton
from handlers.kernel.context import Context
from handlers.kernel.i18n import Html, Translator
from handlers.kernel.ports import Button, Keyboard, Messenger
from handlers.kernel.routing import Router
from storage.coalition import audit_store, directory_store
from storage.coalition.audit_store import KINDS, Filters
from storage.models import AuditEntry
from storage.people import shown_names

PER_PAGE = 15
NONE = "-"  # a filter that is not set, in button data
KNOWN = frozenset(
    {
        "action.create",
        "action.send",
        "action.edit",
        "action.cancel",
        "action.close",
        "action.safety_on",
        "action.safety_off",
        "decision.open",
        "decision.close",
        "decision.extend",
        "decision.proxy",
        "organisation.approve",
        "organisation.refuse",
        "role.grant",
        "role.revoke",
        "application.approve",
        "application.reject",
        "application.ask",
        "settings.change",
        "members.export",
        "audit.export",
        "decisions.export",
        "roster.export",
        "privacy.forget",
    }
)
ACTION_FIELDS = frozenset(
    {"title", "description", "link", "when", "place", "capacity", "reminders"}
)
DETAIL_FIELDS = frozenset(
    {
        "application",
        "checkin_days",
        "checkin_months",
        "closes_at",
        "count",
        "filters",
        "group",
        "kind",
        "members_can_create",
        "membership",
        "org_role",
        "org_voting",
        "organisation",
        "person",
        "question",
        "reason",
        "recipients",
        "role",
        "since",
        "until",
    }
)

router = Router("audit")


def what(t: Translator, action: str) -> str:
    """An entry's action in words ("edited an action"); a pre-2026-12 command entry as /name."""
    if action in KNOWN:
        return t(f"audit.act.{action.replace('.', '_')}")
    if action.startswith("command."):
        return "/" + action.removeprefix("command.")
    return action


async def note(
    ctx: Context, change: str, /, *, target_id: int | None = None, **details: Any
) -> AuditEntry:
    """Writes what `ctx`'s person just changed to the log, in the update's transaction.

    `change` is one of KNOWN ("action.edit"); `details` name the object (action=…, title=…
    or decision=…, question=…) and the change (field=…, from_=…, to=…; datetimes become ISO
    text).
    """
    if "from_" in details:
        details["from"] = details.pop("from_")
    plain = {k: audit_store.plain(v) for k, v in details.items()}
    return await audit_store.record(
        ctx.session, ctx.user_id, change, ctx.now(), target_id=target_id, details=plain
    )


def _who(t: Translator, names: dict[int, str], user_id: int | None) -> str:
    if user_id is None:
        return ""
    if user_id == 0:
        return t("audit.erased")
    return names.get(user_id) or str(user_id)


def _field(t: Translator, name: str) -> str:
    if name in ACTION_FIELDS:
        return t(f"actions.field_{name}")
    if name in DETAIL_FIELDS:
        return t(f"audit.field.{name}")
    return name


def _value(t: Translator, value: Any, zone: str, name: str = "") -> str:
    if value is None or value == "" or value == [] or value == {}:
        return t("audit.nothing")
    if name == "role" and isinstance(value, str):
        return t(f"role.{value}")
    if name == "org_role" and isinstance(value, str):
        return t(f"organisations.role_{value}")
    if name == "kind" and value in KINDS:
        return t(f"audit.kind.{value}")
    if isinstance(value, bool):
        return t("audit.yes") if value else t("audit.no")
    if isinstance(value, list):
        return t.comma.join(_value(t, v, zone) for v in value)
    if isinstance(value, dict):
        pairs = value.items()
        return t.comma.join(f"{_field(t, k)}{t.colon}{_value(t, v, zone, k)}" for k, v in pairs)
    if isinstance(value, str) and len(value) >= 16 and value[4:5] == "-" and "T" in value:
        try:
            return t.datetime_text(datetime.fromisoformat(value), zone)
        except ValueError:
            return value
    return str(value)


def details_text(t: Translator, entry: AuditEntry, zone: str) -> Html:
    """The object and the change of an entry, in the reader's language and time zone:
    ` #3 “Vigil” — title: Old → New`, ` (role: chair)`."""
    d = dict(entry.details)
    parts: list[str] = []
    for kind, name in (("action", "title"), ("decision", "question")):
        if kind in d:
            parts.append(" " + t("audit.object", id=d.pop(kind), name=d.pop(name, "")))
    changed = d.pop("field", None) or d.pop("setting", None)
    if changed is not None:
        before, after = d.pop("from", None), d.pop("to", None)
        change = t(
            "audit.change",
            field=_field(t, str(changed)),
            before=_value(t, before, zone, str(changed)),
            after=_value(t, after, zone, str(changed)),
        )
        parts.append(" — " + change)
    rest = [
        t("audit.detail", name=_field(t, k), value=_value(t, v, zone, k))
        for k, v in d.items()
        if v not in (None, "", [], {})
    ]
    if rest:
        parts.append(" (" + t.semicolon.join(rest) + ")")
    return Html("".join(parts))


def _local_day(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _span(text: str) -> tuple[date | None, date | None] | None:
    """ "2026-11-01..2026-11-30", "2026-11-01..", "..2026-11-30" or one day; None if not a span."""
    first, dots, last = text.partition("..")
    if not dots:
        day = _local_day(text)
        return (day, day) if day else None
    since = _local_day(first) if first else None
    until = _local_day(last) if last else None
    if (first and since is None) or (last and until is None) or not (since or until):
        return None
    return since, until


class Query:
    """The reader's filters as they travel in buttons: kind, person id, local first/last day."""

    def __init__(
        self,
        kind: str | None = None,
        person: int | None = None,
        first: date | None = None,
        last: date | None = None,
    ) -> None:
        self.kind, self.person, self.first, self.last = kind, person, first, last

    def button(self, target: str, page: int = 0) -> str:
        """Button data for a page (target "p") or the CSV (target "c") of these filters."""
        return AuditButton(
            target,
            page,
            self.kind or NONE,
            self.person or 0,
            self.first.strftime("%Y%m%d") if self.first else NONE,
            self.last.strftime("%Y%m%d") if self.last else NONE,
        ).pack()

    @classmethod
    def from_button(cls, button: AuditButton) -> Query:
        """The filters back from button data; ValueError when forged (StaleButton once
        unpacked)."""

        def day(text: str) -> date | None:
            if text == NONE:
                return None
            return datetime.strptime(text, "%Y%m%d").date()

        if (button.kind != NONE and button.kind not in KINDS) or button.person < 0:
            raise ValueError(button.kind)
        return cls(
            None if button.kind == NONE else button.kind,
            button.person or None,
            day(button.first),
            day(button.last),
        )

    def filters(self, zone: str) -> Filters:
        """The storage filters, the local days turned into UTC moments."""

        def start(day: date) -> datetime:
            return datetime.combine(day, time(0), ZoneInfo(zone))

        return Filters(
            person=self.person,
            kind=self.kind,
            since=start(self.first) if self.first else None,
            until=start(self.last + timedelta(days=1)) if self.last else None,
        )


def _zone(ctx: Context) -> str:
    return ctx.volunteer.timezone if ctx.volunteer else ctx.settings.default_timezone


async def _names(
    ctx: Context, entries: list[AuditEntry], also: int | None = None
) -> dict[int, str]:
    ids = {e.actor_id for e in entries} | {e.target_id for e in entries if e.target_id}
    return await shown_names.for_coordinators_by_id(ctx.session, ids | ({also} if also else set()))


def _kind_label(t: Translator, kind: str | None) -> str:
    return t(f"audit.kind.{kind}") if kind else t("audit.kind.all")


def _filters_line(t: Translator, query: Query, names: dict[int, str]) -> str:
    shown: list[str] = []
    if query.person:
        shown.append(_who(t, names, query.person))
    if query.kind:
        shown.append(_kind_label(t, query.kind))
    if query.first or query.last:
        shown.append(
            t(
                "audit.span",
                first=query.first.isoformat() if query.first else "…",
                last=query.last.isoformat() if query.last else "…",
            )
        )
    return t("audit.filtered", filters=" · ".join(shown)) if shown else ""


def _keyboard(t: Translator, query: Query, number: int, pages: int) -> Keyboard:
    def to(page: int, changed: Query) -> str:
        return changed.button("p", page)

    kinds: list[Button] = []
    for kind in (None, *KINDS):
        label = _kind_label(t, kind)
        marked = f"• {label}" if kind == query.kind else label
        kinds.append(Button(marked, to(0, Query(kind, query.person, query.first, query.last))))
    rows: list[list[Button]] = [kinds[:4], kinds[4:]]
    pager: list[Button] = []
    if number > 0:
        pager.append(Button(t("directory.previous"), to(number - 1, query)))
    if number + 1 < pages:
        pager.append(Button(t("directory.next"), to(number + 1, query)))
    if pager:
        rows.append(pager)
    rows.append([Button(t("audit.export"), query.button("c"))])
    return rows


async def _page(ctx: Context, number: int, query: Query) -> tuple[Html, Keyboard]:
    t, zone = ctx.t, _zone(ctx)
    filters = query.filters(zone)
    total = await audit_store.total(ctx.session, filters)
    pages = max(1, -(-total // PER_PAGE))
    number = min(max(number, 0), pages - 1)
    entries = list(await audit_store.page(ctx.session, number * PER_PAGE, PER_PAGE, filters))
    names = await _names(ctx, entries, query.person)
    lines: list[str] = [t.plural("audit.title", total)]
    filtered = _filters_line(t, query, names)
    if filtered:
        lines.append(filtered)
    lines += [t("audit.page", page=number + 1, pages=pages), ""]
    for entry in entries:
        target = _who(t, names, entry.target_id)
        lines.append(
            t(
                "audit.line",
                when=t.datetime_text(entry.at, zone),
                who=_who(t, names, entry.actor_id),
                what=what(t, entry.action),
                whom=f" → {target}" if target else "",
                details=details_text(t, entry, zone),
            )
        )
    if not entries:
        lines.append(t("audit.empty"))
    return limits.fitted(t, lines), _keyboard(t, query, number, pages)


async def _parse(ctx: Context, words: list[str]) -> Query | None:
    """The filters typed after /audit; None (having explained) when a word makes no sense."""
    t, query = ctx.t, Query()
    labels = {t(f"audit.kind.{k}").casefold(): k for k in KINDS}
    for word in words:
        folded = word.casefold()
        span = _span(word)
        if span is not None:
            query.first, query.last = span
        elif word.startswith("@"):
            person = await directory_store.by_username(ctx.session, word)
            if person is None:
                ctx.reply(t("audit.unknown_person", who=word))
                return None
            query.person = person.user_id
        elif word.isdigit():
            query.person = int(word)
        elif folded in KINDS or folded.removesuffix("s") in KINDS or folded in labels:
            query.kind = labels.get(folded) or folded.removesuffix("s")
        else:
            ctx.reply(t("audit.usage", word=word))
            return None
    return query


@router.command("audit")
async def show(ctx: Context) -> None:
    """Shows what changed lately, filtered by the person, kind or dates typed after /audit."""
    query = await _parse(ctx, ctx.args.split())
    if query is not None:
        ctx.reply(*await _page(ctx, 0, query))


CSV_HEADER = ("id", "at", "actor_id", "actor", "action", "target_id", "target", "details")


def export_csv(entries: list[AuditEntry], names: dict[int, str]) -> bytes:
    """The entries as CSV (see handlers.csv_export; who exported it is in the file name)."""
    return csv_export.table(
        CSV_HEADER,
        (
            (
                e.id,
                e.at.isoformat(timespec="seconds"),
                e.actor_id,
                names.get(e.actor_id, ""),
                e.action,
                e.target_id,
                names.get(e.target_id or 0, ""),
                orjson.dumps(e.details).decode(),
            )
            for e in entries
        ),
    )


async def _export(ctx: Context, query: Query) -> None:
    if ctx.event.message_id is None:
        raise StaleButton("csv")
    me = shown_names.for_themselves(ctx.volunteer, ctx.event.user.full_name)
    filters = query.filters(_zone(ctx))
    entries = list(await audit_store.everything(ctx.session, filters))
    shown = {k: v for k, v in (("kind", query.kind), ("person", query.person)) if v}
    span = {"since": query.first, "until": query.last}
    shown |= {k: v.isoformat() for k, v in span.items() if v}
    await audit_store.record(
        ctx.session,
        ctx.user_id,
        "audit.export",
        ctx.now(),
        details={**shown, "count": len(entries)},
    )
    names = await _names(ctx, entries)
    content = export_csv(entries, names)
    user_id, caption = ctx.user_id, ctx.t("audit.export_caption", name=me, count=len(entries))
    name = csv_export.file_name("audit", ctx.now(), user_id)

    async def _send(messenger: Messenger) -> None:
        await messenger.send_document(user_id, name, content, caption)

    ctx.privately(_send, ctx.t("directory.export_sent"))


class AuditButton(CallbackData, prefix="au"):
    """A page of the log or its CSV, with the filters: au:p:<page>:<kind>:<person>:<first day>:
    <last day> | au:c:… (days as YYYYMMDD, "-" for none); au:<page> | au:csv from before them."""

    target: str
    number: int = 0
    kind: str = NONE
    person: int = 0
    first: str = NONE
    last: str = NONE

    def __post_init__(self) -> None:
        legacy = self.target.isdecimal() and self.target.isascii()
        if not (legacy or self.target in ("csv", "p", "c")) or self.number < 0:
            raise ValueError(self.target)
        Query.from_button(self)  # forged filters are refused when the data is read

    @property
    def page(self) -> int | None:
        """The page asked for (from 0); None for the CSV export."""
        if self.target in ("csv", "c"):
            return None
        return self.number if self.target == "p" else int(self.target)

    @property
    def query(self) -> Query:
        """The filters (none on a button from before them)."""
        return Query.from_button(self) if self.target in ("p", "c") else Query()


@router.button(AuditButton)
async def pressed(ctx: Context, button: AuditButton) -> None:
    """Turns the page, changes the kind shown, or sends the filtered log as CSV."""
    if button.page is None:
        await _export(ctx, button.query)
        return
    ctx.answer()
    ctx.edit(*await _page(ctx, button.page, button.query))
