"""/newaction: a coordinator describes a call to action, chooses who receives it, previews, sends.

A form run by handlers/forms.py, drawn in newaction.mmd. Its answers live in the dialog state
(surviving restarts); nothing is created until the coordinator confirms the preview, which has
one "change" button per field. Then the action, its broadcast and one outbox row per recipient
are written in one transaction.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal

from handlers.actions import action_views as views
from handlers.actions import attendance, reminders, slots
from handlers.actions import broadcasts as sending
from handlers.coalition.audit import note
from handlers.kernel import forms, names, permissions, typed_text
from handlers.kernel.callbacks import CallbackData, StaleButton
from handlers.kernel.context import Context
from handlers.kernel.forms import NEXT, STAY, AnswerButton, Data, Message, Step, get_in, put_in
from handlers.kernel.i18n import SUPPORTED_LOCALES, Html, Translator, escape
from handlers.kernel.invalid_input import InvalidInput
from handlers.kernel.ports import Button, Keyboard
from handlers.kernel.routing import Router
from handlers.people import fields
from storage.actions import action_store, audience_store, broadcast_store
from storage.actions.action_models import Action
from storage.coalition import group_store
from storage.people import shown_names

FLOW = "newaction"
PUBLISH_TIMER = "action_publish"  # a scheduled action's announcement
DONE = "_done"
EDITABLE = ("title", "description", "link", "when", "place", "capacity", "audience", "groups")
FILTER_STEPS = {"skills": "f_skills", "kinds": "f_kinds", "languages": "f_languages"}
FILTER_OPTIONS = {
    "skills": fields.SKILLS,
    "kinds": fields.KINDS,
    "languages": SUPPORTED_LOCALES,
}

router = Router(FLOW)


class Answer(AnswerButton, prefix="na"):
    """An answer chosen with a button: na:<step>:<value> (a group's chat id may be negative)."""


class _Mark:
    """A button answer that is not a typed value ("online", "no limit")."""


ONLINE, NO_LIMIT = _Mark(), _Mark()
HUB_CHOICES = ("skills", "countries", "kinds", "languages", "all", DONE)


def order(data: Data) -> list[str]:
    """The steps of the dialog for the answers so far."""
    sequence = ["kind", "title", "description", "link", "when", "timezone"]
    if views.is_event(str(data.get("kind") or "other")):
        sequence += ["place", "capacity"]
    return [*sequence, "audience", "groups", "preview"]


def steps(data: Data) -> list[str]:
    """The steps of the dialog for the answers so far (the form's order)."""
    return order(data)


def _button(kind: type[AnswerButton], step: str, value: str | int, label: str) -> Button:
    return Button(label, kind(step, str(value)).pack())


def _filter_label(t: Translator, name: str, value: str) -> str:
    if name == "languages":
        return t.language_name(value)
    return fields.option_label(t, "kind" if name == "kinds" else name, value)


def _summary(t: Translator, audience: Data) -> str:
    lines = []
    for name in action_store.FILTERS:
        chosen = audience.get(name) or []
        if chosen:
            labels = (
                [t.country_name(c) for c in chosen]
                if name == "countries"
                else [_filter_label(t, name, v) for v in chosen]
            )
            shown = t.comma.join(escape(label) for label in labels)
            lines.append(f"• {t(f'actions.filter_{name}')}{t.colon}{shown}")
    return "\n".join(lines) if lines else t("actions.everyone")


def _line(t: Translator, label_key: str, answer: str) -> str:
    return f"<b>{t(label_key)}</b>{t.colon}{answer}"


def _text_step(name: str, parse: Any, **more: Any) -> Step:
    """A step answered by typing: `parse(ctx, data, text)` raises InvalidInput."""

    def read_text(ctx: Context, data: Data, text: str, kind: type[AnswerButton]) -> Any:
        return parse(ctx, data, text)

    return Step(name, more.pop("ask"), read_text=read_text, **more)


def _ask_kind(t: Translator, data: Data, kind: type[AnswerButton]) -> Message:
    rows = [
        [_button(kind, "kind", k, f"{views.KIND_ICONS[k]} {t(f'actions.kind_{k}')}")]
        for k in views.KINDS
    ]
    return t("actions.ask_kind"), rows


def _store_kind(ctx: Context, data: Data, value: Any) -> dict[str, Any]:
    return {**data, "kind": value, "reminders": views.default_reminders(value)}


def _shown_kind(t: Translator, data: Data, value: Any) -> str:
    kind = str(data["kind"])
    return _line(t, "actions.field_kind", f"{views.KIND_ICONS[kind]} {t(f'actions.kind_{kind}')}")


def _ask_link(t: Translator, data: Data, kind: type[AnswerButton]) -> Message:
    return t("actions.ask_link"), [[_button(kind, "link", "skip", t("actions.no_link"))]]


def _ask_when(t: Translator, data: Data, kind: type[AnswerButton]) -> Message:
    key = "actions.ask_when" if views.is_event(str(data["kind"])) else "actions.ask_deadline"
    return t(key), None


# The last time zone to reach a wall time (UTC−12; the "Etc/GMT+12" of the tz database, whose
# signs are POSIX's): a moment already passed there has passed everywhere.
LAST_ZONE = "Etc/GMT+12"


def _read_when(ctx: Context, data: Data, text: str) -> str:
    """The typed moment (`parse_local_time`); one already passed in every time zone is refused
    at once, not after the time zone is asked (a sandbox finding)."""
    local = views.parse_local_time(text, ctx.now(), _zone_of(ctx, data))
    if views.to_utc(local, LAST_ZONE) <= ctx.now():
        raise InvalidInput("actions.in_the_past")
    return local


def _store_when(ctx: Context, data: Data, value: Any) -> dict[str, Any]:
    return {**{k: v for k, v in data.items() if k != "at"}, "local": value}


def _own_zone(ctx: Context) -> str:
    return ctx.volunteer.timezone if ctx.volunteer is not None else ctx.settings.default_timezone


def _zone_of(ctx: Context, data: Data) -> str:
    return str(data.get("timezone") or _own_zone(ctx))


async def _offered_zone(ctx: Context, data: Data) -> dict[str, Any]:
    return {"zone_offered": _zone_of(ctx, data)}


def _ask_timezone(t: Translator, data: Data, kind: type[AnswerButton]) -> Message:
    zone = str(data["zone_offered"])
    return t("actions.ask_timezone", zone=zone), [[_button(kind, "timezone", "keep", zone)]]


def _read_zone(ctx: Context, data: Data, text: str, kind: type[AnswerButton]) -> Any:
    return fields.parse_timezone(text)


def _store_moment(ctx: Context, data: Data, value: Any) -> dict[str, Any]:
    """Combines the typed local time with its zone; a moment already passed is not kept."""
    moment = views.to_utc(str(data["local"]), str(value))
    if moment <= ctx.now():
        return {k: v for k, v in data.items() if k != "at"}
    return {**data, "timezone": value, "at": moment.isoformat()}


async def _past(ctx: Context, data: Data, value: Any) -> None:
    if "at" not in data:
        ctx.reply(ctx.t("actions.in_the_past"))


def _ask_place(t: Translator, data: Data, kind: type[AnswerButton]) -> Message:
    return t("actions.ask_place"), [[_button(kind, "place", "online", t("actions.online"))]]


def _store_place(ctx: Context, data: Data, value: Any) -> dict[str, Any]:
    if value is ONLINE:
        return {**data, "place": None, "online": True}
    return {**data, "place": value, "online": False}


def _ask_capacity(t: Translator, data: Data, kind: type[AnswerButton]) -> Message:
    return t("actions.ask_capacity"), [[_button(kind, "capacity", "none", t("actions.no_limit"))]]


def _store_capacity(ctx: Context, data: Data, value: Any) -> dict[str, Any]:
    return {**data, "capacity": None if value is NO_LIMIT else value}


async def _audience_count(ctx: Context, data: Data) -> dict[str, Any]:
    filters = dict(data.get("audience") or {})
    return {"recipients": await audience_store.count(ctx.session, filters, str(data["kind"]))}


def _ask_audience(t: Translator, data: Data, kind: type[AnswerButton]) -> Message:
    text = Html(
        t("actions.ask_audience")
        + "\n\n"
        + _summary(t, data.get("audience") or {})
        + "\n"
        + t.plural("actions.recipients_now", int(data["recipients"]))
    )
    labels = {
        "skills": "actions.filter_skills",
        "countries": "actions.filter_countries",
        "kinds": "actions.filter_kinds",
        "languages": "actions.filter_languages",
        "all": "actions.everyone_button",
        DONE: "actions.audience_done",
    }
    return text, [[_button(kind, "audience", value, t(label))] for value, label in labels.items()]


def _store_audience(ctx: Context, data: Data, value: Any) -> dict[str, Any]:
    if value == "all":
        return {**data, "audience": {}}
    if value == "countries":
        return put_in(data, "audience.countries", [])
    return {**data, "audience": dict(data.get("audience") or {})}


def _after_audience(data: Data, value: Any) -> str:
    if value == DONE:
        return NEXT
    if value == "all":
        return "audience"
    return "f_countries" if value == "countries" else FILTER_STEPS[value]


def _filter_step(name: str) -> Step:
    step = FILTER_STEPS[name]

    def ask(t: Translator, data: Data, kind: type[AnswerButton]) -> Message:
        chosen = set(get_in(data, f"audience.{name}") or [])
        cells = [
            _button(kind, step, v, ("✅ " if v in chosen else "") + _filter_label(t, name, v))
            for v in FILTER_OPTIONS[name]
        ]
        rows = [cells[i : i + 2] for i in range(0, len(cells), 2)]
        rows.append([_button(kind, step, DONE, t("common.done"))])
        return t(f"actions.ask_filter_{name}"), rows

    def shown(t: Translator, data: Data, value: Any) -> str:
        chosen = get_in(data, f"audience.{name}") or []
        answer = t.comma.join(_filter_label(t, name, v) for v in chosen) or t("common.none")
        return _line(t, f"actions.filter_{name}", answer)

    return Step(
        step,
        ask,
        multi=True,
        choices=tuple(FILTER_OPTIONS[name]),
        key=f"audience.{name}",
        shown=shown,
        then=lambda data, value: "audience",
    )


def _ask_countries(t: Translator, data: Data, kind: type[AnswerButton]) -> Message:
    return t("actions.ask_countries"), [[_button(kind, "f_countries", DONE, t("common.done"))]]


def _read_countries(ctx: Context, data: Data, text: str, kind: type[AnswerButton]) -> Any:
    return [
        fields.parse_country(ctx.t, part, kind) for part in re.split(r"[,،]", text) if part.strip()
    ]


def _read_country_button(data: Data, raw: str) -> Any:
    if raw == DONE:
        return DONE
    return [raw] if raw in fields.country_codes() else None


def _store_countries(ctx: Context, data: Data, value: Any) -> dict[str, Any]:
    if value == DONE:
        return dict(data)
    chosen = set(get_in(data, "audience.countries") or []) | set(value)
    return put_in(data, "audience.countries", sorted(chosen))


async def _countries_so_far(ctx: Context, data: Data, value: Any) -> None:
    if value != DONE:
        ctx.reply(_summary(ctx.t, data.get("audience") or {}))


def _shown_countries(t: Translator, data: Data, value: Any) -> str:
    chosen = get_in(data, "audience.countries") or []
    answer = t.comma.join(t.country_name(c) for c in chosen) or t("common.none")
    return _line(t, "actions.filter_countries", answer)


async def _known_groups(ctx: Context, data: Data) -> dict[str, Any]:
    known = await group_store.active(ctx.session)
    return {"known_groups": [(g.chat_id, g.title) for g in known[:30]]}


async def _no_groups(ctx: Context, data: Data) -> bool:
    return not await group_store.active(ctx.session)


def _ask_groups(t: Translator, data: Data, kind: type[AnswerButton]) -> Message:
    chosen = set(data.get("groups") or [])
    rows = [
        [_button(kind, "groups", chat_id, ("✅ " if chat_id in chosen else "") + title[:60])]
        for chat_id, title in data["known_groups"]
    ]
    rows.append([_button(kind, "groups", DONE, t("common.done"))])
    return t("actions.ask_groups"), rows


def _read_group(data: Data, raw: str) -> Any:
    known = {chat_id: title for chat_id, title in data["known_groups"]}
    try:
        chat_id = int(raw)
    except ValueError:
        return None
    return chat_id if chat_id in known else None


def _shown_groups(t: Translator, data: Data, value: Any) -> str:
    known = dict(data.get("known_groups") or [])
    names = [str(known.get(chat_id, chat_id)) for chat_id in data.get("groups") or []]
    return _line(t, "actions.field_groups", t.join(names) or t("common.none"))


async def _preview_counts(ctx: Context, data: Data) -> dict[str, Any]:
    filters, kind = dict(data.get("audience") or {}), str(data["kind"])
    preview = await audience_store.preview(ctx.session, filters, kind, LEFT_NAMES)
    languages, missing = preview.languages, preview.left_out
    covered = {ctx.t.locale, *(data.get("translations") or {})}
    fallback = sum(n for language, n in languages.items() if language not in covered)
    sees = permissions.may_see_discreet(ctx.roles, ctx.event.chat.is_private)
    left = {
        reason: [
            found.count,
            [names.in_words(ctx.t, shown_names.for_viewer(v, sees)) for v in found.first],
        ]
        for reason, found in missing.items()
        if found.count
    }
    return {"people": languages.total(), "fallback": fallback, "left_out": left}


LEFT_NAMES = 5


def _left_out_lines(t: Translator, left: Data) -> list[str]:
    """Who the call will not reach, and why: a line per reason with the first names."""
    if not left:
        return []
    lines: list[str] = [t("actions.left_out_title")]
    for reason in audience_store.LEFT_OUT:
        if not left.get(reason):
            continue
        count, first = left[reason]
        shown = str(t.join(first[:LEFT_NAMES]))
        if count > LEFT_NAMES:
            shown += " " + t.plural("actions.left_more", count - LEFT_NAMES)
        label = t(f"actions.left_{reason}")
        lines.append(f"• {label} ({t.number(count)}){t.colon}{shown}")
    return lines


def _as_sent(t: Translator, data: Data, timezone: str) -> tuple[Html, Keyboard]:
    """The call as a volunteer will get it, with buttons that do nothing."""
    text, keyboard = views.first_view(t, dict(data), timezone)
    return text, [*keyboard, [sending.less_like_this(t, str(data["kind"]), inert=True)]]


def _before_preview(t: Translator, data: Data, kind: type[AnswerButton]) -> list[Message]:
    return [(t("actions.preview_intro"), None), _as_sent(t, data, str(data["timezone"]))]


def _ask_preview(t: Translator, data: Data, kind: type[AnswerButton]) -> Message:
    lines: list[str] = [t.plural("actions.preview_people", int(data["people"]))]
    group_count = len(data.get("groups") or [])
    if group_count:
        lines.append(t.plural("actions.preview_groups", group_count))
    lines += _left_out_lines(t, data.get("left_out") or {})
    lines.append(t("actions.preview_reminders", when=views.reminders_text(t, data["reminders"])))
    languages = [t.locale, *sorted(data.get("translations") or {})]
    lines.append(
        t("actions.preview_languages", languages=t.join(map(t.language_in_text, languages)))
    )
    if data.get("fallback"):
        own = t.language_in_text(t.locale)
        lines.append(t.plural("actions.preview_fallback", int(data["fallback"]), language=own))
    send_at = data.get("send_at")
    if send_at:
        moment = datetime.fromisoformat(str(send_at))
        lines.append(
            t("actions.preview_send_at", when=views.when_text(t, moment, str(data["timezone"])))
        )
        rows = [
            [_button(kind, "preview", "send", t("actions.schedule"))],
            [_button(kind, "preview", "now", t("actions.send_now_instead"))],
        ]
    else:
        rows = [
            [_button(kind, "preview", "send", t("actions.send"))],
            [_button(kind, "preview", "later", t("actions.send_later"))],
        ]
    if views.is_event(str(data["kind"])):
        rows.append([_button(kind, "preview", "slots", t("actions.add_roles"))])
    rows += [
        [_button(kind, "preview", "lang", t("actions.add_language"))],
        [_button(kind, "preview", "test", t("actions.send_test"))],
        [_button(kind, "preview", "cancel", t("actions.cancel_draft"))],
    ]
    return Html("\n".join(lines)), rows


PREVIEW_CHOICES = ("send", "cancel", "edit", "test", "later", "now", "lang", "slots")


async def _preview_effect(ctx: Context, data: Data, value: Any) -> None:
    """Cancels the draft, or sends the coordinator a test of the message: the call as they
    would get it as a volunteer (their time zone), then the preview's buttons again below it
    (not the whole preview a second time)."""
    if value == "cancel":
        await ctx.clear_dialog()
        ctx.reply(ctx.t("actions.draft_cancelled"))
    elif value == "test":
        t = ctx.t
        text, keyboard = _as_sent(t, data, _own_zone(ctx))
        ctx.reply(Html(t("actions.test_intro") + "\n\n" + text), keyboard)
        ctx.reply(*await forms.keyboard(ctx, FORM, FORM.step("preview"), data))


def _store_preview(ctx: Context, data: Data, value: Any) -> dict[str, Any]:
    if value == "now":
        return {k: v for k, v in data.items() if k != "send_at"}
    return dict(data)


def _after_preview(data: Data, value: Any) -> str | None:
    return {
        "send": forms.FINISH,
        "edit": "preview",
        "test": STAY,
        "now": "preview",
        "later": "send_at",
        "lang": "tr_lang",
        "slots": "slots",
    }.get(value)


def _ask_slots(t: Translator, data: Data, kind: type[AnswerButton]) -> Message:
    return t("actions.ask_roles"), None


def _ask_tr_lang(t: Translator, data: Data, kind: type[AnswerButton]) -> Message:
    given = set(data.get("translations") or {})
    rows = [
        [_button(kind, "tr_lang", code, ("✅ " if code in given else "") + t.language_name(code))]
        for code in SUPPORTED_LOCALES
        if code != t.locale
    ]
    return t("actions.ask_tr_lang"), rows


def _ask_tr_title(t: Translator, data: Data, kind: type[AnswerButton]) -> Message:
    language = t.language_in_text(str(data["tr_lang"]))
    return t("actions.ask_tr_title", language=language, max=views.TITLE_LIMITS[1]), None


def _ask_tr_description(t: Translator, data: Data, kind: type[AnswerButton]) -> Message:
    language = t.language_in_text(str(data["tr_lang"]))
    return t("actions.ask_tr_description", language=language), None


def _store_translated(field: str) -> Any:
    def store(ctx: Context, data: Data, value: Any) -> dict[str, Any]:
        language = str(data["tr_lang"])
        versions = dict(data.get("translations") or {})
        versions[language] = {**versions.get(language, {}), field: value}
        return {**data, "translations": versions}

    return store


def _ask_send_at(t: Translator, data: Data, kind: type[AnswerButton]) -> Message:
    return t("actions.ask_send_at", zone=str(data["timezone"])), None


def _read_send_at(ctx: Context, data: Data, text: str) -> str:
    """When to send: still to come, and before the action's start or deadline."""
    zone = str(data["timezone"])
    moment = views.to_utc(views.parse_local_time(text, ctx.now(), zone), zone)
    if moment <= ctx.now():
        raise InvalidInput("actions.in_the_past")
    if moment >= datetime.fromisoformat(str(data["at"])):
        raise InvalidInput("actions.send_at_too_late")
    return moment.isoformat()


def _changeable(data: Data) -> list[str]:
    event = views.is_event(str(data.get("kind") or "other"))
    return [n for n in EDITABLE if event or n not in ("place", "capacity")]


def _declare() -> dict[str, Step]:
    declared = [
        Step(
            "kind",
            _ask_kind,
            read_button=lambda data, raw: raw if raw in views.KINDS else None,
            store=_store_kind,
            shown=_shown_kind,
        ),
        _text_step(
            "title",
            lambda ctx, data, text: typed_text.clean_line(text, views.TITLE_LIMITS),
            ask=lambda t, data, kind: (t("actions.ask_title", max=views.TITLE_LIMITS[1]), None),
        ),
        _text_step(
            "description",
            lambda ctx, data, text: typed_text.clean_block(text, views.DESCRIPTION_LIMITS),
            ask=lambda t, data, kind: (
                t("actions.ask_description", max=views.DESCRIPTION_LIMITS[1]),
                None,
            ),
        ),
        _text_step(
            "link",
            lambda ctx, data, text: views.parse_link(text),
            ask=_ask_link,
            read_button=lambda data, raw: "skip" if raw == "skip" else None,
            store=lambda ctx, data, value: {**data, "link": None if value == "skip" else value},
            shown=lambda t, data, value: _line(t, "actions.field_link", t("actions.no_link")),
        ),
        _text_step("when", _read_when, ask=_ask_when, key="local", store=_store_when),
        Step(
            "timezone",
            _ask_timezone,
            read_text=_read_zone,
            read_button=lambda data, raw: data["zone_offered"] if raw == "keep" else None,
            key="at",
            store=_store_moment,
            effect=_past,
            shown=lambda t, data, value: _line(t, "actions.field_timezone", str(value)),
            then=lambda data, value: NEXT if "at" in data else "when",
            view=_offered_zone,
        ),
        _text_step(
            "place",
            lambda ctx, data, text: typed_text.clean_line(text, views.PLACE_LIMITS),
            ask=_ask_place,
            read_button=lambda data, raw: ONLINE if raw == "online" else None,
            store=_store_place,
            shown=lambda t, data, value: _line(t, "actions.field_place", t("actions.online")),
        ),
        _text_step(
            "capacity",
            lambda ctx, data, text: views.parse_capacity(text),
            ask=_ask_capacity,
            read_button=lambda data, raw: NO_LIMIT if raw == "none" else None,
            store=_store_capacity,
            shown=lambda t, data, value: _line(t, "actions.field_capacity", t("actions.no_limit")),
        ),
        Step(
            "audience",
            _ask_audience,
            read_button=lambda data, raw: raw if raw in HUB_CHOICES else None,
            store=_store_audience,
            then=_after_audience,
            view=_audience_count,
            read_view=False,
        ),
        *(_filter_step(name) for name in FILTER_STEPS),
        Step(
            "f_countries",
            _ask_countries,
            read_text=_read_countries,
            read_button=_read_country_button,
            key="audience.countries",
            store=_store_countries,
            effect=_countries_so_far,
            shown=_shown_countries,
            then=lambda data, value: "audience" if value == DONE else STAY,
        ),
        Step(
            "groups",
            _ask_groups,
            read_button=_read_group,
            multi=True,
            shown=_shown_groups,
            view=_known_groups,
            skip=_no_groups,
        ),
        Step(
            "preview",
            _ask_preview,
            read_button=lambda data, raw: raw if raw in PREVIEW_CHOICES else None,
            store=_store_preview,
            effect=_preview_effect,
            then=_after_preview,
            view=_preview_counts,
            before=_before_preview,
            read_view=False,
        ),
        Step(
            "tr_lang",
            _ask_tr_lang,
            read_button=lambda data, raw: raw if raw in SUPPORTED_LOCALES else None,
            key="tr_lang",
            then=lambda data, value: "tr_title",
        ),
        _text_step(
            "tr_title",
            lambda ctx, data, text: typed_text.clean_line(text, views.TITLE_LIMITS),
            ask=_ask_tr_title,
            store=_store_translated("title"),
            then=lambda data, value: "tr_description",
        ),
        _text_step(
            "tr_description",
            lambda ctx, data, text: typed_text.clean_block(text, views.DESCRIPTION_LIMITS),
            ask=_ask_tr_description,
            store=_store_translated("description"),
            then=lambda data, value: "preview",
        ),
        _text_step(
            "slots",
            lambda ctx, data, text: views.parse_slots(ctx.t, text),
            ask=_ask_slots,
            then=lambda data, value: "preview",
        ),
        _text_step(
            "send_at",
            _read_send_at,
            ask=_ask_send_at,
            then=lambda data, value: "preview",
        ),
    ]
    return {step.name: step for step in declared}


FORM = forms.Form(
    flow=FLOW,
    button=Answer,
    steps=_declare(),
    order=order,
    finish=lambda ctx, data: publish(ctx, dict(data)),
    preview="preview",
    changeable=_changeable,
    change_label=lambda t, name: t(f"actions.field_{name}"),
    aliases={"country": "f_countries"},
    legacy_change="edit",
)
forms.route(FORM, router)


class Draft(CallbackData, prefix="nadr"):
    """What to do with the call being written when another is started: nadr:<the draft's
    run>:<keep|new>[:<decision>] (the new one from a decision's outcome: `from_decision`)."""

    run: str
    choice: Literal["keep", "new"]
    decision: int = 0


def _run_of(data: Data) -> str:
    """A draft's run, "" for one saved before runs were stamped (forms.RUN)."""
    return str(data.get(forms.RUN) or "")


def offered_draft(ctx: Context, decision: int = 0) -> bool:
    """A call being written (titled already) is not thrown away unasked (a sandbox finding:
    /newaction sent again mid-way lost it without a word): offers to continue it or to start
    the new one (from `decision`'s outcome when given). False when there is no such draft."""
    draft = ctx.dialog
    if draft is None or draft.flow != FORM.flow or not draft.data.get("title"):
        return False
    run, t = _run_of(draft.data), ctx.t
    ctx.reply(
        t("actions.draft_waiting", title=str(draft.data["title"])),
        [
            [Button(t("actions.draft_continue"), Draft(run, "keep", decision).pack())],
            [Button(t("actions.draft_restart"), Draft(run, "new", decision).pack())],
        ],
    )
    return True


@router.command("newaction")
async def new_action(ctx: Context) -> None:
    """Starts describing a new call to action, or offers to continue the one being written."""
    if offered_draft(ctx):
        return
    ctx.reply(ctx.t("actions.intro"))
    await forms.start(ctx, FORM, {})


@router.button(Draft)
async def draft_chosen(ctx: Context, button: Draft) -> None:
    """Continues the call being written (its question asked again) or starts the new one; a
    button of a draft since finished, cancelled or replaced is stale."""
    draft = ctx.dialog
    if draft is None or draft.flow != FORM.flow or _run_of(draft.data) != button.run:
        raise StaleButton(ctx.event.data)
    ctx.answer()
    ctx.edit_keyboard(None)
    if button.choice == "keep":
        await forms.resume(ctx, FORM)
    elif button.decision:
        from handlers.actions import from_decision  # it builds on this module

        await from_decision.start(ctx, button.decision)
    else:
        ctx.reply(ctx.t("actions.intro"))
        await forms.start(ctx, FORM, {})


def parse_field(ctx: Context, step: str, text: str) -> dict[str, Any]:
    """The dialog values for a typed answer to `step` (raises InvalidInput with the reason)."""
    t = ctx.t
    if step == "title":
        return {"title": typed_text.clean_line(text, views.TITLE_LIMITS)}
    if step == "description":
        return {"description": typed_text.clean_block(text, views.DESCRIPTION_LIMITS)}
    if step == "link":
        return {"link": views.parse_link(text)}
    if step == "when":
        return {"local": views.parse_local_time(text, ctx.now(), _own_zone(ctx))}
    if step == "place":
        return {"place": typed_text.clean_line(text, views.PLACE_LIMITS), "online": False}
    if step == "capacity":
        return {"capacity": views.parse_capacity(text)}
    if step == "reminders":
        return {"reminders": views.parse_reminders(t, text)}
    raise InvalidInput("invalid.use_buttons")


async def publish(ctx: Context, data: dict[str, Any]) -> None:
    """Creates the action and queues it for every recipient, in one transaction."""
    kind = str(data["kind"])
    values = {
        "kind": kind,
        "title": data["title"],
        "description": data["description"],
        "link": data.get("link"),
        "at": datetime.fromisoformat(data["at"]),
        "timezone": data["timezone"],
        "place": data.get("place") if views.is_event(kind) else None,
        "online": bool(data.get("online")) and views.is_event(kind),
        "capacity": data.get("capacity") if views.is_event(kind) else None,
        "audience": data.get("audience") or {},
        "group_ids": list(data.get("groups") or []),
        "reminder_minutes": list(data.get("reminders") or []),
        "created_by": ctx.user_id,
        "language": ctx.t.locale,
        "translations": dict(data.get("translations") or {}) or None,
    }
    roles = list(data.get("slots") or []) if views.is_event(kind) else []
    if roles:
        values["capacity"] = None  # each role has its own places
    action = await action_store.create(ctx.session, values, ctx.now())
    if roles:
        await action_store.add_slots(ctx.session, action.id, roles)
        await slots.schedule(ctx, action)
    await ctx.clear_dialog()
    await note(ctx, "action.create", action=action.id, title=action.title)
    link = views.deep_link(ctx.settings.bot_username, action.code)
    await reminders.reschedule(ctx, action)
    await attendance.schedule(ctx, action)
    send_at = data.get("send_at")
    if send_at:
        moment = datetime.fromisoformat(str(send_at))
        if moment > ctx.now():  # else: its moment passed while the preview waited; send now
            await ctx.schedule(
                PUBLISH_TIMER,
                f"a{action.id}",
                moment,
                chat_id=ctx.chat_id,
                payload={"action_id": action.id, "locale": ctx.t.locale},
                grace_seconds=None,
            )
            when = views.when_text(ctx.t, moment, action.timezone)
            ctx.reply(
                ctx.t("actions.scheduled", id=action.id, title=action.title, when=when, link=link)
            )
            return
    await _send_now(
        ctx, action, ctx.t("actions.published", id=action.id, title=action.title, link=link)
    )


async def _send_now(ctx: Context, action: Action, said: str) -> None:
    """Sends an action to its audience and its groups still known, with the coordinator's
    report; notes it in the audit log and tells the coordinator `said`."""
    shares = await _shares(ctx, action)
    known = {g.chat_id for g in await group_store.active(ctx.session)}
    chosen = [g for g in action.group_ids if g in known]
    entry = await note(ctx, "action.send", action=action.id, title=action.title, **_count(shares))
    ctx.reply(said)
    await sending.announce(
        ctx,
        action,
        group_ids=chosen,
        report=True,
        shares=shares,
        audit_id=entry.id,
        large=shares is None,
    )


async def _shares(ctx: Context, action: Action) -> list[audience_store.Share] | None:
    """The audience split into shares, read once: its size is the audit note's count, its
    shares are what announce enqueues (a count of its own held the write lock ~34 ms more at
    100k volunteers: issue 17). None for an audience larger than a fan-out's chunk: its shares
    are read after the commit, without the write lock, and fill in the note's count then."""
    filters, kind = action.audience, action.kind
    if await audience_store.larger_than(ctx.session, filters, kind, broadcast_store.FANOUT_CHUNK):
        return None
    return await audience_store.shares(ctx.session, filters, kind)


def _count(shares: list[audience_store.Share] | None) -> dict[str, int]:
    """The audit note's recipients, when known now."""
    return {} if shares is None else {"recipients": sum(share.people for share in shares)}


@router.timer(PUBLISH_TIMER)
async def publish_later(ctx: Context) -> None:
    """Sends a scheduled action to its audience and groups, with the coordinator's report."""
    payload = ctx.event.payload or {}
    action = await action_store.get(ctx.session, int(payload.get("action_id", 0)))
    if action is None or not views.is_live(action, ctx.now()):
        return
    ctx.use_locale(str(payload.get("locale") or ctx.settings.default_locale))
    await _send_now(ctx, action, ctx.t("actions.scheduled_sent", id=action.id, title=action.title))
