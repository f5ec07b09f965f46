"""/newaction: a coordinator describes a call to action, chooses who receives it, previews, sends.

The dialog is drawn in actions.mmd. Its answers live in the dialog state (surviving restarts);
nothing is created until the coordinator confirms the preview. Then the action, its broadcast
and one outbox row per recipient are written in one transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from handlers import action_views as views
from handlers import broadcasts as sending
from handlers import fields, reminders
from handlers.action_views import Invalid
from handlers.callbacks import StaleButton
from handlers.context import Context
from handlers.fields import Invalid as FieldInvalid
from handlers.i18n import SUPPORTED_LOCALES, Html
from handlers.ports import Button, Keyboard
from handlers.routing import Router
from storage import actions, groups

FLOW = "newaction"
DONE = "_done"
TEXT_STEPS = frozenset(
    {"title", "description", "link", "when", "timezone", "place", "capacity", "f_countries"}
)
EDITABLE = ("title", "description", "link", "when", "place", "capacity", "audience", "groups")
FILTER_STEPS = {"skills": "f_skills", "kinds": "f_kinds", "languages": "f_languages"}
FILTER_OPTIONS = {
    "skills": fields.SKILLS,
    "kinds": fields.KINDS,
    "languages": SUPPORTED_LOCALES,
}

router = Router(FLOW)


class Answer(fields.AnswerButton, prefix="na"):
    """An answer chosen with a button: na:<step>:<value> (a group's chat id may be negative)."""


def steps(data: dict[str, Any]) -> list[str]:
    """The steps of the dialog for the answers so far."""
    sequence = ["kind", "title", "description", "link", "when", "timezone"]
    if views.is_event(str(data.get("kind") or "other")):
        sequence += ["place", "capacity"]
    return [*sequence, "audience", "groups", "preview"]


def _button(step: str, value: str | int, label: str) -> Button:
    return Button(label, Answer(step, str(value)).pack())


def _filter_label(ctx: Context, name: str, value: str) -> str:
    if name == "languages":
        return ctx.t.language_name(value)
    return fields.option_label(ctx.t, "kind" if name == "kinds" else name, value)


def audience_summary(ctx: Context, audience: dict[str, Any]) -> str:
    """The chosen filters, one line each ("everyone active" when none)."""
    lines = []
    for name in actions.FILTERS:
        chosen = audience.get(name) or []
        if chosen:
            labels = (
                [ctx.t.country_name(c) for c in chosen]
                if name == "countries"
                else [_filter_label(ctx, name, v) for v in chosen]
            )
            lines.append(f"• {ctx.t(f'actions.filter_{name}')}: {', '.join(labels)}")
    return "\n".join(lines) if lines else ctx.t("actions.everyone")


async def ask(ctx: Context, step: str, data: dict[str, Any]) -> None:
    """Asks the question of `step` (or shows the preview)."""
    t = ctx.t
    if step == "kind":
        rows = [
            [_button("kind", k, f"{views.KIND_ICONS[k]} {t(f'actions.kind_{k}')}")]
            for k in views.KINDS
        ]
        ctx.reply(t("actions.ask_kind"), rows)
    elif step == "title":
        ctx.reply(t("actions.ask_title", max=views.TITLE_LIMITS[1]))
    elif step == "description":
        ctx.reply(t("actions.ask_description", max=views.DESCRIPTION_LIMITS[1]))
    elif step == "link":
        ctx.reply(t("actions.ask_link"), [[_button("link", "skip", t("actions.no_link"))]])
    elif step == "when":
        key = "actions.ask_when" if views.is_event(data["kind"]) else "actions.ask_deadline"
        ctx.reply(t(key))
    elif step == "timezone":
        zone = data.get("timezone") or _own_zone(ctx)
        ctx.reply(t("actions.ask_timezone", zone=zone), [[_button("timezone", "keep", zone)]])
    elif step == "place":
        ctx.reply(t("actions.ask_place"), [[_button("place", "online", t("actions.online"))]])
    elif step == "capacity":
        ctx.reply(t("actions.ask_capacity"), [[_button("capacity", "none", t("actions.no_limit"))]])
    elif step == "audience":
        await _ask_audience(ctx, data)
    elif step in FILTER_STEPS.values():
        ctx.reply(*_filter_question(ctx, step, data))
    elif step == "f_countries":
        ctx.reply(t("actions.ask_countries"), [[_button("f_countries", DONE, t("common.done"))]])
    elif step == "groups":
        await _ask_groups(ctx, data)
    else:
        await _preview(ctx, data)


def _own_zone(ctx: Context) -> str:
    return ctx.volunteer.timezone if ctx.volunteer is not None else ctx.settings.default_timezone


def _filter_question(ctx: Context, step: str, data: dict[str, Any]) -> tuple[Html, Keyboard]:
    name = next(n for n, s in FILTER_STEPS.items() if s == step)
    chosen = set(data.get("audience", {}).get(name) or [])
    cells = [
        _button(step, v, ("✅ " if v in chosen else "") + _filter_label(ctx, name, v))
        for v in FILTER_OPTIONS[name]
    ]
    rows = [cells[i : i + 2] for i in range(0, len(cells), 2)]
    rows.append([_button(step, DONE, ctx.t("common.done"))])
    return ctx.t(f"actions.ask_filter_{name}"), rows


async def _ask_audience(ctx: Context, data: dict[str, Any]) -> None:
    t = ctx.t
    audience = data.get("audience") or {}
    count = len(await actions.audience(ctx.session, audience))
    text = Html(
        t("actions.ask_audience")
        + "\n\n"
        + audience_summary(ctx, audience)
        + "\n"
        + t.plural("actions.recipients_now", count)
    )
    rows = [
        [_button("audience", "skills", t("actions.filter_skills"))],
        [_button("audience", "countries", t("actions.filter_countries"))],
        [_button("audience", "kinds", t("actions.filter_kinds"))],
        [_button("audience", "languages", t("actions.filter_languages"))],
        [_button("audience", "all", t("actions.everyone_button"))],
        [_button("audience", DONE, t("actions.audience_done"))],
    ]
    ctx.reply(text, rows)


async def _ask_groups(ctx: Context, data: dict[str, Any]) -> None:
    known = await groups.active(ctx.session)
    if not known:
        await _advance(ctx, "groups", data)
        return
    chosen = set(data.get("groups") or [])
    rows = [
        [_button("groups", g.chat_id, ("✅ " if g.chat_id in chosen else "") + g.title[:60])]
        for g in known[:30]
    ]
    rows.append([_button("groups", DONE, ctx.t("common.done"))])
    ctx.reply(ctx.t("actions.ask_groups"), rows)


async def _preview(ctx: Context, data: dict[str, Any]) -> None:
    t = ctx.t
    people = len(await actions.audience(ctx.session, data.get("audience") or {}))
    group_count = len(data.get("groups") or [])
    ctx.reply(t("actions.preview_intro"))
    ctx.reply(views.render(t, data, data["timezone"]), views.rsvp_keyboard(t, 0, data["kind"]))
    lines = [t.plural("actions.preview_people", people)]
    if group_count:
        lines.append(t.plural("actions.preview_groups", group_count))
    lines.append(t("actions.preview_reminders", when=views.reminders_text(t, data["reminders"])))
    rows = [
        [_button("preview", "send", t("actions.send"))],
        [_button("preview", "edit", t("actions.edit"))],
        [_button("preview", "cancel", t("actions.cancel_draft"))],
    ]
    ctx.reply(Html("\n".join(lines)), rows)


async def _advance(ctx: Context, step: str, data: dict[str, Any]) -> None:
    """Goes to the step after `step` (back to the preview when a field was being edited)."""
    if data.get("editing") and step not in ("when", *FILTER_STEPS.values(), "f_countries"):
        following = "preview"
    elif step in (*FILTER_STEPS.values(), "f_countries"):
        following = "audience"
    else:
        sequence = steps(data)
        following = sequence[sequence.index(step) + 1]
    await ctx.set_dialog(FLOW, following, data)
    await ask(ctx, following, data)


@router.command("newaction")
async def new_action(ctx: Context) -> None:
    """Starts describing a new call to action."""
    await ctx.set_dialog(FLOW, "kind", {})
    ctx.reply(ctx.t("actions.intro"))
    await ask(ctx, "kind", {})


def _current(ctx: Context) -> tuple[str, dict[str, Any]]:
    if ctx.dialog is None or ctx.dialog.flow != FLOW:
        raise StaleButton("no new action in progress")
    return ctx.dialog.step, dict(ctx.dialog.data)


@router.button(Answer)
async def on_button(ctx: Context, button: Answer) -> None:
    """Takes an answer chosen with a button."""
    name, raw = button.question, button.value
    step, data = _current(ctx)
    if name == "country" and step == "f_countries" and raw in fields.country_codes():
        _add_countries(data, [raw])
        ctx.answer()
        await ctx.set_dialog(FLOW, step, data)
        ctx.reply(audience_summary(ctx, data["audience"]))
        return
    if name != step and not (step == "preview" and name == "edit"):
        raise StaleButton(name)
    ctx.answer()
    if name == "kind":
        data["kind"] = _one_of(raw, views.KINDS)
        data["reminders"] = views.default_reminders(raw)
    elif name == "link":
        _one_of(raw, ("skip",))
        data["link"] = None
    elif name == "timezone":
        _one_of(raw, ("keep",))
        if not await _set_moment(ctx, data, str(data.get("timezone") or _own_zone(ctx))):
            return
    elif name == "place":
        _one_of(raw, ("online",))
        data.update(place=None, online=True)
    elif name == "capacity":
        _one_of(raw, ("none",))
        data["capacity"] = None
    elif name == "audience":
        await _audience_button(ctx, raw, data)
        return
    elif name in FILTER_STEPS.values():
        await _filter_button(ctx, name, raw, data)
        return
    elif name == "f_countries":
        _one_of(raw, (DONE,))
    elif name == "groups":
        if raw != DONE:
            _toggle_group(data, raw, {g.chat_id for g in await groups.active(ctx.session)})
            await ctx.set_dialog(FLOW, step, data)
            ctx.edit_keyboard(None)
            await _ask_groups(ctx, data)
            return
    elif name == "preview":
        await _preview_button(ctx, raw, data)
        return
    elif name == "edit":
        field = _one_of(raw, EDITABLE)
        if field == "place" and not views.is_event(data["kind"]):
            raise StaleButton(raw)
        data["editing"] = True
        await ctx.set_dialog(FLOW, field, data)
        await ask(ctx, field, data)
        return
    ctx.edit_keyboard(None)
    await _advance(ctx, name, data)


def _one_of(value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise StaleButton(value)
    return value


def _toggle_group(data: dict[str, Any], raw: str, known: set[int]) -> None:
    try:
        chat_id = int(raw)
    except ValueError as exc:
        raise StaleButton(raw) from exc
    if chat_id not in known:
        raise StaleButton(raw)
    chosen = set(data.get("groups") or [])
    chosen ^= {chat_id}
    data["groups"] = sorted(chosen)


def _add_countries(data: dict[str, Any], codes: list[str]) -> None:
    audience = data.setdefault("audience", {})
    audience["countries"] = sorted(set(audience.get("countries") or []) | set(codes))


async def _audience_button(ctx: Context, raw: str, data: dict[str, Any]) -> None:
    ctx.edit_keyboard(None)
    if raw == "all":
        data["audience"] = {}
        await ctx.set_dialog(FLOW, "audience", data)
        await _ask_audience(ctx, data)
    elif raw == DONE:
        await _advance(ctx, "audience", data)
    elif raw == "countries":
        data.setdefault("audience", {})["countries"] = []
        await ctx.set_dialog(FLOW, "f_countries", data)
        await ask(ctx, "f_countries", data)
    else:
        step = FILTER_STEPS.get(raw)
        if step is None:
            raise StaleButton(raw)
        await ctx.set_dialog(FLOW, step, data)
        await ask(ctx, step, data)


async def _filter_button(ctx: Context, step: str, raw: str, data: dict[str, Any]) -> None:
    name = next(n for n, s in FILTER_STEPS.items() if s == step)
    if raw == DONE:
        ctx.edit_keyboard(None)
        await _advance(ctx, step, data)
        return
    _one_of(raw, tuple(FILTER_OPTIONS[name]))
    audience = data.setdefault("audience", {})
    chosen = set(audience.get(name) or []) ^ {raw}
    audience[name] = [v for v in FILTER_OPTIONS[name] if v in chosen]
    await ctx.set_dialog(FLOW, step, data)
    ctx.edit_keyboard(_filter_question(ctx, step, data)[1])


async def _preview_button(ctx: Context, raw: str, data: dict[str, Any]) -> None:
    ctx.edit_keyboard(None)
    if raw == "cancel":
        await ctx.clear_dialog()
        ctx.reply(ctx.t("actions.draft_cancelled"))
    elif raw == "edit":
        names = [n for n in EDITABLE if n != "place" or views.is_event(data["kind"])]
        if "capacity" in names and not views.is_event(data["kind"]):
            names.remove("capacity")
        rows = [[_button("edit", n, ctx.t(f"actions.field_{n}"))] for n in names]
        ctx.reply(ctx.t("actions.ask_edit_field"), rows)
    else:
        _one_of(raw, ("send",))
        await publish(ctx, data)


async def _set_moment(ctx: Context, data: dict[str, Any], zone: str) -> bool:
    """Combines the typed local time with its zone; a past moment sends back to the date."""
    moment = views.to_utc(str(data["local"]), zone)
    if moment <= ctx.now():
        ctx.reply(ctx.t("actions.in_the_past"))
        await ctx.set_dialog(FLOW, "when", data)
        await ask(ctx, "when", data)
        return False
    data.update(timezone=zone, at=moment.isoformat())
    return True


@router.dialog(FLOW)
async def on_text(ctx: Context) -> None:
    """Takes a typed answer, or says what is wrong with it and asks again."""
    step, data = _current(ctx)
    text = ctx.event.text or ""
    if step not in TEXT_STEPS:
        ctx.reply(ctx.t("invalid.use_buttons"))
        await ask(ctx, step, data)
        return
    try:
        if step == "timezone":
            zone = fields.parse_timezone(ctx.t, text)
            if not await _set_moment(ctx, data, zone):
                return
        elif step == "f_countries":
            codes = [fields.parse_country(ctx.t, p, Answer) for p in text.split(",") if p.strip()]
            _add_countries(data, codes)
            await ctx.set_dialog(FLOW, step, data)
            ctx.reply(audience_summary(ctx, data["audience"]))
            return
        else:
            data.update(parse_field(ctx, step, text))
    except (Invalid, FieldInvalid) as problem:
        keyboard = problem.keyboard if isinstance(problem, FieldInvalid) else None
        ctx.reply(problem.message, keyboard)
        if keyboard is None:
            await ask(ctx, step, data)
        return
    await _advance(ctx, step, data)


def parse_field(ctx: Context, step: str, text: str) -> dict[str, Any]:
    """The dialog values for a typed answer to `step` (raises Invalid with the reason)."""
    t = ctx.t
    if step == "title":
        return {"title": views.clean_line(t, text, views.TITLE_LIMITS)}
    if step == "description":
        return {"description": views.clean_block(t, text, views.DESCRIPTION_LIMITS)}
    if step == "link":
        return {"link": views.parse_link(t, text)}
    if step == "when":
        return {"local": views.parse_local_time(t, text, ctx.now(), _own_zone(ctx))}
    if step == "place":
        return {"place": views.clean_line(t, text, views.PLACE_LIMITS), "online": False}
    if step == "capacity":
        return {"capacity": views.parse_capacity(t, text)}
    if step == "reminders":
        return {"reminders": views.parse_reminders(t, text)}
    raise Invalid(t("invalid.use_buttons"))


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
    }
    action = await actions.create(ctx.session, values, ctx.now())
    people = await actions.audience(ctx.session, action.audience)
    known = {g.chat_id for g in await groups.active(ctx.session)}
    chosen = [g for g in action.group_ids if g in known]
    await ctx.clear_dialog()
    link = views.deep_link(ctx.settings.bot_username, action.code)
    ctx.reply(ctx.t("actions.published", id=action.id, title=action.title, link=link))
    await sending.send_about(ctx, action, people, "announce", group_ids=chosen, report=True)
    await reminders.reschedule(ctx, action)
