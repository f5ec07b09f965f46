"""/profile: shows a volunteer everything they told Chorus, and lets them change any of it.

The edit dialog is drawn in profile.mmd.
"""

from __future__ import annotations

from typing import Any

from handlers import fields
from handlers.callbacks import CallbackData, StaleButton
from handlers.context import Context
from handlers.fields import QUESTIONS, Invalid
from handlers.i18n import Html
from handlers.ports import Button, Keyboard
from handlers.routing import Router
from storage import volunteers
from storage.models import Volunteer

FLOW = "profile"


class EditButton(CallbackData, prefix="pe"):
    """Opens the editor of one field: pe:<field>."""

    field: str


class Answer(fields.AnswerButton, prefix="pq"):
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
    ]


def current_values(volunteer: Volunteer) -> dict[str, Any]:
    """The volunteer's profile as question answers."""
    return {name: getattr(volunteer, name) for name in volunteers.PROFILE_FIELDS}


def view(ctx: Context, volunteer: Volunteer) -> tuple[Html, Keyboard]:
    """The profile card with one edit button per field."""
    t = ctx.t
    values = current_values(volunteer)
    names = ["kind", "language", *editable(volunteer)]
    lines = [t("profile.title"), "", *fields.summary_lines(t, values, names)]
    if volunteer.discreet:
        lines += ["", t("profile.discreet_note")]
    cells = [Button(t(f"field.{name}"), EditButton(name).pack()) for name in editable(volunteer)]
    rows = [cells[i : i + 2] for i in range(0, len(cells), 2)]
    return Html("\n".join(lines)), rows


@router.command("profile")
async def show(ctx: Context) -> None:
    """Shows the volunteer's profile with buttons to change it."""
    if ctx.volunteer is None:
        ctx.reply(ctx.t("errors.not_registered"))
        return
    text, keyboard = view(ctx, ctx.volunteer)
    ctx.reply(text, keyboard)


@router.button(EditButton)
async def edit_field(ctx: Context, button: EditButton) -> None:
    """Asks the new value of one field."""
    volunteer = ctx.volunteer
    name = button.field
    if volunteer is None or name not in editable(volunteer):
        raise StaleButton(ctx.event.data)
    data = current_values(volunteer)
    await ctx.set_dialog(FLOW, name, data)
    ctx.answer()
    text, keyboard = fields.ask(ctx.t, QUESTIONS[name], data, Answer)
    ctx.reply(Html(text + "\n\n" + ctx.t("profile.cancel_hint")), keyboard)


def _current(ctx: Context) -> tuple[Volunteer, str, dict[str, Any]]:
    if ctx.volunteer is None or ctx.dialog is None or ctx.dialog.flow != FLOW:
        raise StaleButton("no profile edit in progress")
    return ctx.volunteer, ctx.dialog.step, dict(ctx.dialog.data)


async def _save(ctx: Context, volunteer: Volunteer, name: str, value: Any) -> None:
    """Stores the new value and shows the profile again."""
    if name == "discreet":
        value = value == "yes"
    await volunteers.update_field(ctx.session, volunteer, name, value, ctx.now())
    if name == "country":
        if volunteer.kind == "organisation":
            await volunteers.update_field(ctx.session, volunteer, "org_country", value, ctx.now())
        zone = fields.default_timezone(str(value))
        if zone is None:
            data = current_values(volunteer)
            await ctx.set_dialog(FLOW, "timezone", data)
            text, keyboard = fields.ask(ctx.t, QUESTIONS["timezone"], data, Answer)
            ctx.reply(text, keyboard)
            return
        await volunteers.update_field(ctx.session, volunteer, "timezone", zone, ctx.now())
    await ctx.clear_dialog()
    ctx.reply(ctx.t("profile.saved"))
    text, keyboard = view(ctx, volunteer)
    ctx.reply(text, keyboard)


@router.button(Answer)
async def on_answer_button(ctx: Context, button: Answer) -> None:
    """Takes a new value chosen with a button."""
    raw = button.value
    volunteer, step, data = _current(ctx)
    if button.question != step:
        raise StaleButton(button.question)
    question = QUESTIONS[step]
    value = fields.parse_button(question, raw, data)
    if value is None:
        raise StaleButton(raw)
    ctx.answer()
    if question.kind == "multi" and value != fields.DONE:
        fields.toggle(data, step, value)
        await ctx.set_dialog(FLOW, step, data)
        ctx.edit_keyboard(fields.ask(ctx.t, question, data, Answer)[1])
        return
    if question.kind == "multi":
        value = list(data.get(step) or [])
    ctx.edit_keyboard(None)
    await _save(ctx, volunteer, step, value)


@router.dialog(FLOW)
async def on_text(ctx: Context) -> None:
    """Takes a typed new value, or says what is wrong with it."""
    volunteer, step, data = _current(ctx)
    question = QUESTIONS[step]
    if question.kind in ("choice", "multi"):
        ctx.reply(ctx.t("invalid.use_buttons"))
        return
    try:
        value = fields.parse_text(ctx.t, question, ctx.event.text or "", data, Answer)
    except Invalid as problem:
        ctx.reply(problem.message, problem.keyboard)
        return
    await _save(ctx, volunteer, step, value)
