"""Registration in a private chat: language, who you are, skills and time, pledge, consent.

The dialog is drawn in registration.mmd. Its state lives in the database, so it survives a
restart of the bot at any step.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Final, Literal

from handlers import fields, membership
from handlers.callbacks import CallbackData, StaleButton
from handlers.context import Context
from handlers.fields import QUESTIONS, Invalid
from handlers.i18n import Html, normalise_locale
from handlers.ports import Button, Keyboard
from handlers.routing import Router
from storage import preferences, volunteers

FLOW = "registration"
PLEDGE: Final = "pledge"
CONSENT: Final = "consent"
CONFIRM: Final = "confirm"


class Answer(fields.AnswerButton, prefix="rq"):
    """An answer to a profile question during registration: rq:<question>:<value>."""


class StepButton(CallbackData, prefix="rg"):
    """The pledge, the consent and the summary: rg:<step>:<answer>."""

    step: Literal["pledge", "consent", "confirm"]
    answer: Literal["yes", "no", "restart"]


StartPayloadHandler = Callable[[Context, str], Awaitable[None]]
_start_payloads: dict[str, StartPayloadHandler] = {}

router = Router(FLOW)


def on_start_payload(prefix: str) -> Callable[[StartPayloadHandler], StartPayloadHandler]:
    """Lets another area handle deep links "t.me/<bot>?start=<prefix>…" once a person is known."""

    def register(handler: StartPayloadHandler) -> StartPayloadHandler:
        _start_payloads[prefix] = handler
        return handler

    return register


async def run_start_payload(ctx: Context, payload: str) -> bool:
    """Hands a deep-link payload to the area that owns it; False when nobody does."""
    for prefix, handler in _start_payloads.items():
        if payload.startswith(prefix):
            await handler(ctx, payload[len(prefix) :])
            return True
    return False


def steps(data: dict[str, Any]) -> list[str]:
    """The steps of the dialog, given the answers so far."""
    sequence = ["language", "kind", "display_name"]
    if data.get("kind") == "organisation":
        sequence += ["org_name", "org_type"]
    sequence.append("country")
    if data.get("country") and fields.default_timezone(str(data["country"])) is None:
        sequence.append("timezone")
    sequence += ["skills", "hours_per_month", "resources", "interests", "discreet"]
    return [*sequence, PLEDGE, CONSENT, CONFIRM]


def next_step(data: dict[str, Any], current: str) -> str:
    """The step after `current`."""
    sequence = steps(data)
    return sequence[sequence.index(current) + 1]


def _yes_no(
    ctx: Context, step: Literal["pledge", "consent"], yes_key: str, no_key: str
) -> Keyboard:
    return [
        [
            Button(ctx.t(yes_key), StepButton(step, "yes").pack()),
            Button(ctx.t(no_key), StepButton(step, "no").pack()),
        ]
    ]


def summary(ctx: Context, data: dict[str, Any]) -> Html:
    """The whole profile, for the person to check."""
    names = [s for s in steps(data) if s in QUESTIONS]
    lines = fields.summary_lines(ctx.t, data, names)
    return Html(ctx.t("registration.summary") + "\n\n" + "\n".join(lines))


def ask_step(ctx: Context, step: str, data: dict[str, Any]) -> None:
    """Asks the question of `step`."""
    t = ctx.t
    if step == PLEDGE:
        ctx.reply(
            t("registration.pledge"), _yes_no(ctx, PLEDGE, "registration.accept", "common.no")
        )
    elif step == CONSENT:
        ctx.reply(
            t("registration.consent"), _yes_no(ctx, CONSENT, "registration.agree", "common.no")
        )
    elif step == CONFIRM:
        keyboard = [
            [Button(t("registration.confirm"), StepButton(CONFIRM, "yes").pack())],
            [Button(t("registration.restart"), StepButton(CONFIRM, "restart").pack())],
        ]
        ctx.reply(summary(ctx, data), keyboard)
    else:
        text, buttons = fields.ask(t, QUESTIONS[step], data, Answer)
        ctx.reply(text, buttons)


async def begin(ctx: Context, payload: str = "") -> None:
    """Starts a fresh registration."""
    locale = normalise_locale(ctx.event.user.language_code, ctx.t.locale)
    ctx.use_locale(locale)
    data: dict[str, Any] = {"language": locale}
    if payload:
        data["payload"] = payload
    await ctx.set_dialog(FLOW, "language", data)
    ctx.reply(ctx.t("registration.welcome"))
    ask_step(ctx, "language", data)


def resume(ctx: Context) -> None:
    """Asks again the question the person stopped at."""
    assert ctx.dialog is not None
    ctx.reply(ctx.t("registration.resume"))
    ask_step(ctx, ctx.dialog.step, dict(ctx.dialog.data))


async def _accept(ctx: Context, step: str, value: Any, data: dict[str, Any]) -> None:
    """Stores one answer and asks the next question."""
    if step == "language":
        ctx.use_locale(value)
        await preferences.set_language(ctx.session, ctx.user_id, value, ctx.now())
    if step == "discreet":
        value = value == "yes"
    if step == "kind" and value == "individual":
        data.pop("org_name", None)
        data.pop("org_type", None)
    if step == "country":
        data.pop("timezone", None)
        zone = fields.default_timezone(str(value))
        if zone is not None:
            data["timezone"] = zone
    data[step] = value
    following = next_step(data, step)
    await ctx.set_dialog(FLOW, following, data)
    ask_step(ctx, following, data)


def _current(ctx: Context) -> tuple[str, dict[str, Any]]:
    if ctx.dialog is None or ctx.dialog.flow != FLOW:
        raise StaleButton("no registration in progress")
    return ctx.dialog.step, dict(ctx.dialog.data)


@router.button(Answer)
async def on_answer_button(ctx: Context, button: Answer) -> None:
    """Takes the answer a volunteer chose with a button."""
    raw = button.value
    step, data = _current(ctx)
    if button.question != step:
        raise StaleButton(button.question)
    question = QUESTIONS[step]
    value = fields.parse_button(question, raw, data)
    if value is None:
        raise StaleButton(raw)
    if question.kind == "multi" and value != fields.DONE:
        fields.toggle(data, step, value)
        await ctx.set_dialog(FLOW, step, data)
        ctx.answer()
        ctx.edit_keyboard(fields.ask(ctx.t, question, data, Answer)[1])
        return
    if question.kind == "multi":
        value = list(data.get(step) or [])
    ctx.answer()
    ctx.edit_keyboard(None)
    await _accept(ctx, step, value, data)


@router.dialog(FLOW)
async def on_text(ctx: Context) -> None:
    """Takes a typed answer, or says what is wrong with it and asks again."""
    step, data = _current(ctx)
    question = QUESTIONS.get(step)
    if question is None or question.kind in ("choice", "multi"):
        ctx.reply(ctx.t("invalid.use_buttons"))
        ask_step(ctx, step, data)
        return
    try:
        value = fields.parse_text(ctx.t, question, ctx.event.text or "", data, Answer)
    except Invalid as problem:
        ctx.reply(problem.message, problem.keyboard)
        if problem.keyboard is None:
            ask_step(ctx, step, data)
        return
    await _accept(ctx, step, value, data)


@router.button(StepButton)
async def on_step_button(ctx: Context, button: StepButton) -> None:
    """The pledge, the consent, and the final confirmation."""
    raw = button.answer
    step, data = _current(ctx)
    allowed = ("yes", "restart") if step == CONFIRM else ("yes", "no")
    if button.step != step or raw not in allowed:
        raise StaleButton(ctx.event.data)
    ctx.answer()
    ctx.edit_keyboard(None)
    if step == PLEDGE:
        if raw == "no":
            ctx.reply(ctx.t("registration.pledge_declined"))
            ask_step(ctx, PLEDGE, data)
            return
        data["pledge_at"] = ctx.now().isoformat()
        await ctx.set_dialog(FLOW, CONSENT, data)
        ask_step(ctx, CONSENT, data)
    elif step == CONSENT:
        if raw == "no":
            await ctx.clear_dialog()
            ctx.reply(ctx.t("registration.consent_declined"))
            return
        data["consent_at"] = ctx.now().isoformat()
        await ctx.set_dialog(FLOW, CONFIRM, data)
        ask_step(ctx, CONFIRM, data)
    else:
        if raw == "restart":
            await begin(ctx, str(data.get("payload") or ""))
            return
        await _complete(ctx, data)


async def _complete(ctx: Context, data: dict[str, Any]) -> None:
    """Saves the volunteer and welcomes them."""
    profile = {name: data[name] for name in volunteers.PROFILE_FIELDS if name in data}
    profile["username"] = ctx.event.user.username
    profile.setdefault("timezone", ctx.settings.default_timezone)
    if data.get("kind") == "organisation":
        profile["org_country"] = data.get("country")
    volunteer = await volunteers.register(
        ctx.session,
        ctx.user_id,
        profile,
        pledge_accepted_at=datetime.fromisoformat(str(data["pledge_at"])),
        consent_given_at=datetime.fromisoformat(str(data["consent_at"])),
        status=await membership.status_for_newcomer(ctx),
        now=ctx.now(),
    )
    ctx.volunteer = volunteer
    await ctx.clear_dialog()
    if await membership.registered(ctx, volunteer):
        return  # by application: the person is told their application was received
    ctx.reply(ctx.t("registration.done", name=volunteer.display_name))
    payload = str(data.get("payload") or "")
    if payload:
        await run_start_payload(ctx, payload)
