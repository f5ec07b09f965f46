"""/profile: shows a volunteer everything they told Chorus, and lets them change any of it.

Each field's editor is a one-question form run by handlers/forms.py (drawn in profile.mmd): the
answer is saved at once and the profile shown again; a new country with several time zones asks
which one first.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from handlers.coalition import organisations
from handlers.kernel import forms, quiet_hours
from handlers.kernel.callbacks import CallbackData, StaleButton
from handlers.kernel.context import Context
from handlers.kernel.forms import AnswerButton, Data, Step
from handlers.kernel.i18n import Html, Translator
from handlers.kernel.ports import Button, Keyboard
from handlers.kernel.routing import Router
from handlers.people import fields
from handlers.people.fields import QUESTIONS
from storage.actions import action_store
from storage.coalition import group_store
from storage.decisions import decision_store
from storage.models import Volunteer
from storage.people import volunteers

FLOW = "profile"


class EditButton(CallbackData, prefix="pe"):
    """Opens the editor of one field: pe:<field>."""

    field: str


class NoticeToggle(CallbackData, prefix="nm"):
    """What reaches the volunteer: nm:menu opens the screen, nm:<kind> mutes or unmutes one
    kind ("nudges", "checkins", or an action kind such as "fundraising"), nm:<chat id> the
    reminders about one group's decisions."""

    what: str


class Answer(AnswerButton, prefix="pq"):
    """A new value chosen inside the editor: pq:<question>:<value>."""


router = Router(FLOW)


def editable(volunteer: Volunteer) -> list[str]:
    """The fields this volunteer can change."""
    names = ["display_name"]
    if volunteer.kind == "organisation":
        names += ["org_name", "org_type"]
    return [
        *names,
        "country",
        "timezone",
        "skills",
        "hours_per_month",
        "resources",
        "interests",
        "discreet",
        "quiet_hours",
        "digest",
        "pseudonym",
        "keep_username",
    ]


def current_values(volunteer: Volunteer) -> dict[str, Any]:
    """The volunteer's profile as question answers (quiet hours as in force: the default when
    none were chosen)."""
    values = {name: getattr(volunteer, name) for name in volunteers.PROFILE_FIELDS}
    values["quiet_hours"] = quiet_hours.effective(volunteer.quiet_hours)
    values["digest"] = volunteer.digest or quiet_hours.EACH
    return values


def view(ctx: Context, volunteer: Volunteer) -> tuple[Html, Keyboard]:
    """The profile card with one edit button per field."""
    t = ctx.t
    values = current_values(volunteer)
    names = ["kind", "language", *editable(volunteer)]
    lines = [t("profile.title"), "", *fields.summary_lines(t, values, names)]
    if volunteer.discreet:
        lines += ["", t("profile.discreet_note")]
    if volunteer.pseudonym:
        lines += ["", t("profile.pseudonym_note")]
    cells = [Button(t(f"field.{name}"), EditButton(name).pack()) for name in editable(volunteer)]
    rows = [cells[i : i + 2] for i in range(0, len(cells), 2)]
    rows.append([Button(t("notices.open"), NoticeToggle("menu").pack())])
    return Html("\n".join(lines)), rows


NOTICE_KINDS = ("nudges", volunteers.CHECKINS, *action_store.KINDS)


def _notice_label(t: Translator, what: str) -> str:
    if what in action_store.KINDS:
        return t("notices.actions_of", kind=t(f"actions.kind_{what}"))
    return t(f"notices.{what}")


async def notices_view(ctx: Context, volunteer: Volunteer) -> tuple[Html, Keyboard]:
    """The screen of what reaches the volunteer: one on/off button per kind of message."""
    nudges_off = ctx.user_id in await decision_store.not_to_nudge(ctx.session, [ctx.user_id])
    rows = []
    for what in NOTICE_KINDS:
        if what == "nudges":
            muted = nudges_off
        elif what == volunteers.CHECKINS:
            muted = volunteers.is_muted(volunteer, what)
        else:
            muted = volunteers.is_muted(volunteer, volunteers.action_mute(what))
        label = ("🔕 " if muted else "🔔 ") + _notice_label(ctx.t, what)
        rows.append([Button(label, NoticeToggle(what).pack())])
    for group in await group_store.of_member(ctx.session, ctx.user_id):
        muted = volunteers.is_muted(volunteer, volunteers.group_mute(group.chat_id))
        label = ("🔕 " if muted else "🔔 ") + ctx.t("notices.group", group=group.title)
        rows.append([Button(label, NoticeToggle(str(group.chat_id)).pack())])
    return Html(ctx.t("notices.title")), rows


def _group_of(what: str) -> int | None:
    """The chat id of a group's line on the notices screen (its NoticeToggle is the id)."""
    return int(what) if what.lstrip("-").isdigit() else None


@router.button(NoticeToggle)
async def notices_pressed(ctx: Context, button: NoticeToggle) -> None:
    """Shows what reaches the volunteer, or turns one kind of message off or back on."""
    volunteer = ctx.volunteer
    what = button.what
    group_id = _group_of(what)
    if group_id is not None and not await group_store.is_member(ctx.session, group_id, ctx.user_id):
        group_id = None
    known = what == "menu" or what in NOTICE_KINDS or group_id is not None
    if volunteer is None or not known:
        raise StaleButton(ctx.event.data)
    ctx.answer()
    if what == "menu":
        ctx.reply(*await notices_view(ctx, volunteer))
        return
    now = ctx.now()
    if what == "nudges":
        off = ctx.user_id in await decision_store.not_to_nudge(ctx.session, [ctx.user_id])
        await decision_store.set_nudges(ctx.session, ctx.user_id, off, now)
    elif group_id is not None:
        key = volunteers.group_mute(group_id)
        muted = volunteers.is_muted(volunteer, key)
        await volunteers.set_muted(ctx.session, volunteer, key, not muted, now)
    else:
        key = what if what == volunteers.CHECKINS else volunteers.action_mute(what)
        muted = volunteers.is_muted(volunteer, key)
        await volunteers.set_muted(ctx.session, volunteer, key, not muted, now)
    _, keyboard = await notices_view(ctx, volunteer)
    ctx.edit_keyboard(keyboard)


@router.command("profile")
async def show(ctx: Context) -> None:
    """Shows the volunteer's profile with buttons to change it."""
    if ctx.volunteer is None:
        ctx.reply(ctx.t("errors.not_registered"))
        return
    text, keyboard = view(ctx, ctx.volunteer)
    ctx.reply(text, keyboard)


def _ask_with_hint(step: Step) -> Step:
    def ask(t: Translator, data: Data, kind: type[AnswerButton]) -> tuple[str, Keyboard | None]:
        text, keyboard = step.ask(t, data, kind)
        return Html(text + "\n\n" + t("profile.cancel_hint")), keyboard

    return replace(step, ask=ask)


NO_PSEUDONYM = "none"


def _ask_pseudonym(t: Translator, data: Data, kind: type[AnswerButton]) -> tuple[str, Keyboard]:
    text, _ = fields.ask(t, QUESTIONS["pseudonym"], dict(data), kind)
    remove = fields.button(kind, "pseudonym", NO_PSEUDONYM, t("profile.no_pseudonym"))
    return text, [[remove]]


def _store_pseudonym(ctx: Context, data: Data, value: Any) -> dict[str, Any]:
    return {**data, "pseudonym": None if value == NO_PSEUDONYM else value}


def _after(data: Data, value: Any) -> str:
    return forms.FINISH


def _after_country(data: Data, value: Any) -> str:
    return "timezone" if fields.default_timezone(str(value)) is None else forms.FINISH


async def _save(ctx: Context, data: Data) -> None:
    """Stores the changed values and shows the profile again."""
    volunteer = ctx.volunteer
    if volunteer is None:
        raise StaleButton("not registered")
    values = dict(data)
    if values.get("country") != volunteer.country:
        values["timezone"] = fields.default_timezone(str(values["country"])) or values.get(
            "timezone"
        )
        if volunteer.kind == "organisation":
            values["org_country"] = values["country"]
    if values.get("quiet_hours") == quiet_hours.effective(volunteer.quiet_hours):
        values.pop("quiet_hours", None)  # unchanged: the default stays the default
    if values.get("digest") == (volunteer.digest or quiet_hours.EACH):
        values.pop("digest", None)
    elif values.get("digest") == quiet_hours.EACH:
        values["digest"] = None
    keep_again = bool(values.get("keep_username")) and not volunteer.keep_username
    acting_for = (volunteer.kind, volunteer.org_name)
    for name, value in values.items():
        if name in PROFILE_STORED and getattr(volunteer, name) != value:
            await volunteers.update_field(ctx.session, volunteer, name, value, ctx.now())
    if keep_again:  # the @username is kept again from now on: Telegram's current one
        username = ctx.event.user.username
        await volunteers.update_field(ctx.session, volunteer, "username", username, ctx.now())
    if (volunteer.kind, volunteer.org_name) != acting_for:
        await organisations.changed(ctx, volunteer)
    await ctx.clear_dialog()
    ctx.reply(ctx.t("profile.saved"))
    text, keyboard = view(ctx, volunteer)
    ctx.reply(text, keyboard)


PROFILE_STORED = frozenset({*volunteers.PROFILE_FIELDS, "org_country"})


def _declare() -> dict[str, Step]:
    declared: dict[str, Step] = {}
    for name, question in QUESTIONS.items():
        step = fields.question_step(question, then=_after)
        if name in fields.YES_NO_QUESTIONS:
            step = replace(step, store=fields.store_yes_no(name))
        if name == "pseudonym":
            step = replace(
                step,
                ask=_ask_pseudonym,
                read_button=lambda data, raw: raw if raw == NO_PSEUDONYM else None,
                store=_store_pseudonym,
            )
        if name == "country":
            step = replace(step, then=_after_country)
        declared[name] = _ask_with_hint(step)
    return declared


def _order(data: Data) -> list[str]:
    return list(QUESTIONS)


FORM = forms.Form(
    flow=FLOW,
    button=Answer,
    steps=_declare(),
    order=_order,
    finish=_save,
)
forms.route(FORM, router)


@router.button(EditButton)
async def edit_field(ctx: Context, button: EditButton) -> None:
    """Asks the new value of one field."""
    volunteer = ctx.volunteer
    name = button.field
    if volunteer is None or name not in editable(volunteer):
        raise StaleButton(ctx.event.data)
    ctx.answer()
    await forms.start(ctx, FORM, current_values(volunteer), name)
