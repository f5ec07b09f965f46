"""/members: the member directory for coordinators — search, pages, member cards, CSV, and the
skill inventory (counts by skill and country).

Search words: skill:media country:Lebanon kind:organisation lang:fr hours:10 status:inactive
(several of the same kind widen the search: skill:media skill:legal); any other word searches
names, organisations and @usernames (`Amira lawyers`), combined with the rest. Discreet members
are shown with a 🔒 to those the permission model lets see them (permissions.may_see_discreet),
as the registration promises; the CSV's file name says who exported it and when.
"""

from __future__ import annotations

import asyncio
import shlex
from typing import Any

from handlers.coalition import roles
from handlers.kernel import csv_export, limits, names, permissions
from handlers.kernel.callbacks import CallbackData, StaleButton
from handlers.kernel.context import Context
from handlers.kernel.i18n import SUPPORTED_LOCALES, Html, Translator, escape
from handlers.kernel.invalid_input import InvalidInput
from handlers.kernel.ports import Button, Keyboard, Messenger
from handlers.kernel.routing import Router
from handlers.people import countries, fields
from storage.actions import action_store
from storage.coalition import audit_store, directory_store
from storage.coalition.coalition_models import DirectorySearch
from storage.models import Volunteer
from storage.people import preferences, shown_names, volunteers

PER_PAGE = 8
STATUSES = ("active", "inactive", "applicant", "rejected")
KEYS = {
    "skill": "skills",
    "country": "countries",
    "kind": "kinds",
    "lang": "languages",
    "status": "statuses",
    "hours": "min_hours",
}
TOP = 12

router = Router("directory")


def _skill(t: Translator, value: str) -> str:
    folded = value.casefold()
    for skill in fields.SKILLS:
        if folded in (skill, t(f"skills.{skill}").casefold()):
            return skill
    raise InvalidInput("directory.bad_skill", value=value)


def _country(t: Translator, value: str, rest: list[str]) -> tuple[str, int]:
    """The country a `country:` word names, and how many of the plain words after it its name
    took ("country:United Kingdom" needs no quotes); InvalidInput naming close matches."""
    plain: list[str] = []
    for word in rest[:3]:
        if ":" in word:
            break
        plain.append(word)
    for used in range(len(plain), -1, -1):
        code = countries.resolve(" ".join([value, *plain[:used]]))
        if code is not None:
            return code, used
    for used in range(len(plain), -1, -1):
        guesses = countries.suggestions(" ".join([value, *plain[:used]]))
        if guesses:
            options = t.join(Html(f"<code>{_country_word(t, c)}</code>") for c in guesses)
            raise InvalidInput("directory.country_suggest", value=value, options=options)
    raise InvalidInput("invalid.country")


def _country_word(t: Translator, code: str) -> str:
    name = t.country_name(code)
    return escape(f'country:"{name}"' if " " in name else f"country:{name}")


def parse(t: Translator, args: str) -> dict[str, Any]:
    """Filters from search words; InvalidInput (saying why) for a word that does not fit.

    A word without "key:" is part of a name or an organisation ("words": every one must appear
    in the name, the organisation's name or the @username).
    """
    try:
        words = shlex.split(args)
    except ValueError:
        words = args.split()
    filters: dict[str, Any] = {}
    position = 0
    while position < len(words):
        word = words[position]
        position += 1
        key, colon, value = word.partition(":")
        if not colon:
            filters.setdefault("words", []).append(word)
            continue
        name = KEYS.get(key.casefold())
        if name is None or not value:
            raise InvalidInput("directory.bad_word", word=word)
        if name == "skills":
            parsed: Any = _skill(t, value)
        elif name == "countries":
            parsed, used = _country(t, value, words[position:])
            position += used
        elif name == "kinds":
            if value not in fields.KINDS:
                raise InvalidInput("directory.bad_choice", word=word, options=t.join(fields.KINDS))
            parsed = value
        elif name == "languages":
            if value not in SUPPORTED_LOCALES:
                options = t.join(SUPPORTED_LOCALES)
                raise InvalidInput("directory.bad_choice", word=word, options=options)
            parsed = value
        elif name == "statuses":
            if value != "all" and value not in STATUSES:
                options = t.join((*STATUSES, "all"))
                raise InvalidInput("directory.bad_choice", word=word, options=options)
            parsed = value
        else:
            if not value.isdigit() or int(value) > fields.MAX_HOURS:
                raise InvalidInput("invalid.number", max=fields.MAX_HOURS)
            filters[name] = int(value)
            continue
        if name == "statuses" and parsed == "all":
            filters[name] = list(STATUSES)
            continue
        filters.setdefault(name, [])
        if parsed not in filters[name]:
            filters[name].append(parsed)
    return filters


def describe(t: Translator, filters: dict[str, Any]) -> str:
    """The filters in words."""
    parts: list[str] = []
    if filters.get("words"):
        parts.append(t("directory.name_words", words=" ".join(filters["words"])))
    for skill in filters.get("skills", []):
        parts.append(t(f"skills.{skill}"))
    parts += [t.country_name(c) for c in filters.get("countries", [])]
    parts += [t(f"kind.{k}") for k in filters.get("kinds", [])]
    parts += [t.language_name(code) for code in filters.get("languages", [])]
    if filters.get("min_hours"):
        parts.append(t.plural("directory.at_least_hours", int(filters["min_hours"])))
    statuses = filters.get("statuses") or directory_store.DEFAULT_STATUSES
    parts += [t(f"directory.status.{s}") for s in statuses]
    return t.comma.join(escape(p) for p in parts)


def shown_name(t: Translator, volunteer: Volunteer, sees_discreet: bool) -> str:
    """A member's name, escaped and isolated (Translator.isolate), as this reader may see it
    (permissions.may_see_discreet; storage.people.shown_names.for_viewer: 🔒 for discreet
    members)."""
    return t.isolate(names.in_words(t, shown_names.for_viewer(volunteer, sees_discreet)))


def _handle(volunteer: Volunteer, sees_discreet: bool) -> str:
    username = shown_names.username_for_viewer(volunteer, sees_discreet)
    return f"@{escape(username)}" if username else ""


def line(t: Translator, number: int, volunteer: Volunteer, sees_discreet: bool) -> str:
    """One member in a list."""
    skills = t.comma.join(t(f"skills.{s}") for s in volunteer.skills[:3]) or t("common.none")
    hours = t.plural("profile.hours", volunteer.hours_per_month or 0)
    handle = _handle(volunteer, sees_discreet)
    extra = f" · {handle}" if handle else ""
    name = shown_name(t, volunteer, sees_discreet)
    return (
        f"{number}. <b>{name}</b> — {escape(t.country_name(volunteer.country))}"
        f" · {escape(skills)} · {hours}{extra}"
    )


def _sees_discreet(ctx: Context) -> bool:
    return permissions.may_see_discreet(ctx.roles, ctx.event.chat.is_private)


async def _page(ctx: Context, search: DirectorySearch, number: int) -> tuple[Html, Keyboard]:
    t = ctx.t
    sees = _sees_discreet(ctx)
    page = await directory_store.search(ctx.session, search.filters, number, PER_PAGE, sees)
    lines: list[str] = [
        t.plural("directory.found", page.total, filters=Html(describe(t, search.filters))),
    ]
    if page.total:
        lines.append(t("directory.page", page=page.number + 1, pages=page.pages))
        lines.append("")
        start = page.number * PER_PAGE
        lines += [line(t, start + i + 1, v, sees) for i, v in enumerate(page.volunteers)]
    rows: list[list[Button]] = []
    cells = [
        Button(
            f"{page.number * PER_PAGE + i + 1}. "
            f"{names.in_words(t, shown_names.for_viewer(v, sees))}"[:40],
            MemberButton(search.id, v.user_id).pack(),
        )
        for i, v in enumerate(page.volunteers)
    ]
    rows += [cells[i : i + 2] for i in range(0, len(cells), 2)]
    pager: list[Button] = []
    if page.number > 0:
        pager.append(Button(t("directory.previous"), PageButton(search.id, page.number - 1).pack()))
    if page.number + 1 < page.pages:
        pager.append(Button(t("directory.next"), PageButton(search.id, page.number + 1).pack()))
    if pager:
        rows.append(pager)
    rows.append(
        [
            Button(t("directory.export"), ExportButton(search.id).pack()),
            Button(t("directory.inventory"), InventoryButton().pack()),
        ]
    )
    return limits.fitted(t, lines), rows


class PageButton(CallbackData, prefix="mp"):
    """Another page of a saved search: mp:<search>:<page from 0>."""

    search_id: int
    page: int


class MemberButton(CallbackData, prefix="mm"):
    """One member's card, from a saved search: mm:<search>:<user>."""

    search_id: int
    user_id: int


class ExportButton(CallbackData, prefix="mx"):
    """The whole saved search as CSV: mx:<search>."""

    search_id: int


class InventoryButton(CallbackData, prefix="mi"):
    """The skill inventory: mi."""


class RoleEditorButton(CallbackData, prefix="mr"):
    """Opens the role editor from a member's card: mr:<user>:g|r."""

    user_id: int
    mode: roles.Mode


@router.command("members")
async def members(ctx: Context) -> None:
    """Finds members by skill, country, kind, language, time and status, a page at a time."""
    try:
        filters = parse(ctx.t, ctx.args)
    except InvalidInput as problem:
        ctx.reply(Html(problem.text(ctx.t) + "\n\n" + ctx.t("directory.usage")))
        return
    search = await directory_store.save_search(ctx.session, ctx.user_id, filters, ctx.now())
    text, keyboard = await _page(ctx, search, 0)
    if not ctx.args:
        text = Html(text + "\n\n" + ctx.t("directory.usage"))
    ctx.reply(text, keyboard)


async def _search(ctx: Context, search_id: int) -> DirectorySearch:
    """The saved search behind a button; someone else's search is refused politely."""
    search = await directory_store.get_search(ctx.session, search_id)
    if search is None:
        raise StaleButton("search expired")
    if not permissions.may_use_search(ctx.user_id, search.owner_id):
        raise NotYours
    return search


class NotYours(Exception):
    """A button of another coordinator's list (forwarded or forged)."""


async def _guarded(ctx: Context, search_id: int) -> DirectorySearch | None:
    try:
        return await _search(ctx, search_id)
    except NotYours:
        ctx.answer(ctx.t("directory.not_yours"), alert=True)
        return None


@router.button(PageButton)
async def turn_page(ctx: Context, button: PageButton) -> None:
    """Shows another page of the search."""
    search = await _guarded(ctx, button.search_id)
    if search is None:
        return
    ctx.answer()
    ctx.edit(*await _page(ctx, search, button.page))


@router.button(MemberButton)
async def member_card(ctx: Context, button: MemberButton) -> None:
    """Shows one member's profile and roles; leaders also get the role buttons."""
    if await _guarded(ctx, button.search_id) is None:
        return
    volunteer = await volunteers.get(ctx.session, button.user_id)
    if volunteer is None:
        raise StaleButton("member gone")
    t = ctx.t
    held = await permissions.roles_of(ctx, volunteer.user_id)
    values = {name: getattr(volunteer, name) for name in volunteers.PROFILE_FIELDS}
    names = [
        "kind",
        "org_name",
        "org_type",
        "country",
        "language",
        "timezone",
        "skills",
        "hours_per_month",
        "resources",
        "interests",
    ]
    sees = _sees_discreet(ctx)
    link = chat_link(volunteer, sees)
    name = shown_name(t, volunteer, sees)
    if link is not None and link.startswith("tg://"):  # a mention: never refused, unlike a button
        name = f'<a href="{link}">{name}</a>'
    lines = [f"<b>{name}</b>"]
    if handle := _handle(volunteer, sees):
        lines.append(handle)
    lines += [
        t("directory.roles", roles=permissions.role_names(t, held)),
        # One member: the singular ("actif·ve"; the filters and counts say "actif·ves").
        t("directory.status_line", status=t(f"directory.member_status.{volunteer.status}")),
        "",
        *fields.summary_lines(t, values, names),
    ]
    if permissions.allowed(ctx.roles, "actions.manage"):  # coordinators only, never volunteers
        history = await action_store.attendance_history(ctx.session, volunteer.user_id)
        lines.append(
            t(
                "directory.attendance",
                attended=t.number(history.get(action_store.ATTENDED, 0)),
                no_show=t.number(history.get(action_store.NO_SHOW, 0)),
            )
        )
    preference = await preferences.get(ctx.session, volunteer.user_id)
    if preference is not None and preference.blocked_bot_at is not None:
        zone = (ctx.volunteer.timezone if ctx.volunteer else None) or "UTC"
        since = t.date_text(preference.blocked_bot_at, zone)
        lines.append(t("directory.unreachable", since=since))
    else:
        lines.append(t("directory.reachable"))
    keyboard: list[list[Button]] = []
    if link is not None and not link.startswith("tg://"):
        keyboard.append([Button(t("directory.open_chat"), url=link)])
    if permissions.allowed(ctx.roles, "roles.manage"):
        keyboard.append(
            [
                Button(
                    t("directory.give_role"),
                    RoleEditorButton(volunteer.user_id, roles.GRANT).pack(),
                ),
                Button(
                    t("directory.take_role"),
                    RoleEditorButton(volunteer.user_id, roles.REVOKE).pack(),
                ),
            ]
        )
    ctx.answer()
    ctx.reply(limits.fitted(t, lines), keyboard)


def chat_link(volunteer: Volunteer, sees_discreet: bool) -> str | None:
    """A link that opens a private chat with the member: t.me/<username> when one is kept,
    else tg://user?id=<id>, which Telegram opens when the person's privacy settings allow it —
    as a text mention only: a button with it is refused whole (BUTTON_USER_PRIVACY_RESTRICTED)
    when they do not (Bot API, "Formatting options"). None for a reader who may not see behind
    discreet mode or a pseudonym (the link would unmask the person)."""
    if not sees_discreet and (volunteer.discreet or volunteer.pseudonym):
        return None
    if volunteer.username:
        return f"https://t.me/{volunteer.username}"
    return f"tg://user?id={volunteer.user_id}"


@router.button(RoleEditorButton)
async def role_editor(ctx: Context, button: RoleEditorButton) -> None:
    """Opens the role editor of a member from their card."""
    ctx.answer()
    await roles.open_editor(ctx, button.user_id, button.mode)


CSV_HEADER = (
    "name",
    "username",
    "kind",
    "organisation",
    "country",
    "language",
    "skills",
    "hours_per_month",
    "status",
    "discreet",
)


def export_csv(t: Translator, found: list[Volunteer], sees_discreet: bool) -> bytes:
    """The members as CSV (see handlers.csv_export; who exported it is in the file name);
    discreet members named, with their organisation, only for a reader who may see them
    (permissions.may_see_discreet)."""
    return csv_export.table(CSV_HEADER, (_row(t, v, sees_discreet) for v in found))


def _row(t: Translator, v: Volunteer, sees_discreet: bool) -> tuple[csv_export.Cell, ...]:
    shown = shown_names.for_files(v, sees_discreet)
    return (
        names.in_words(t, shown),
        shown_names.username_for_viewer(v, sees_discreet),
        v.kind,
        (v.org_name or "") if isinstance(shown, str) else "",
        v.country,
        v.language,
        " ".join(v.skills),
        v.hours_per_month,
        v.status,
        v.discreet,
    )


@router.button(ExportButton)
async def export(ctx: Context, button: ExportButton) -> None:
    """Sends the whole search as CSV, naming who exported it (and notes it in the audit log).

    The members are read after the update's commit, in a read-only session (at 100,000 the
    reading took seconds, all of them holding the write lock every other update waits for),
    as rows, and the file is built off the event loop (issue 17)."""
    search = await _guarded(ctx, button.search_id)
    if search is None:
        return
    sees = _sees_discreet(ctx)
    me = shown_names.for_themselves(ctx.volunteer, ctx.event.user.full_name)
    services, filters, t = ctx.services, dict(search.filters), ctx.t
    user_id, now = ctx.user_id, ctx.now()
    name = csv_export.file_name("members", now, user_id)

    async def _send(messenger: Messenger) -> None:
        async with services.read_session() as session, session.begin():
            found = await directory_store.every_match(session, filters, sees)
        content = await asyncio.to_thread(export_csv, t, found, sees)
        async with services.sessionmaker() as session, session.begin():
            details = {"filters": filters, "count": len(found)}
            await audit_store.record(session, user_id, "members.export", now, details=details)
        caption = t("directory.export_caption", name=me, count=len(found))
        await messenger.send_document(user_id, name, content, caption)

    ctx.privately(_send, ctx.t("directory.export_sent"))


def inventory_text(t: Translator, counts: directory_store.Inventory) -> Html:
    """Counts by skill and country (the skill inventory), by kind and by status."""
    lines = [t("directory.inventory_title"), ""]

    def row(label: str, n: int) -> str:
        return f"• {label}{t.colon}{t.number(n)}"

    lines.append(t("directory.by_skill"))
    if counts.skills:
        lines += [row(t(f"skills.{s}"), n) for s, n in counts.skills.most_common()]
    else:
        lines.append(t("common.none"))
    lines += ["", t("directory.by_country")]
    top = counts.countries.most_common(TOP)
    lines += [row(escape(t.country_name(c)), n) for c, n in top] or [t("common.none")]
    lines += ["", t("directory.by_kind")]
    lines += [row(t(f"kind.{k}"), n) for k, n in counts.kinds.most_common()]
    lines += ["", t("directory.by_status")]
    lines += [row(t(f"directory.status.{s}"), n) for s, n in counts.statuses.most_common()]
    lines += ["", t.plural("directory.total_hours", counts.hours)]
    return limits.fitted(t, lines)


@router.button(InventoryButton)
async def show_inventory(ctx: Context, button: InventoryButton) -> None:
    """Shows the skill inventory."""
    ctx.answer()
    ctx.reply(inventory_text(ctx.t, await directory_store.inventory(ctx.session)))
