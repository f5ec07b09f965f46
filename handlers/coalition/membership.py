"""Membership: the coalition's settings (/coalition) and applications (/applications).

When membership is by application, a completed registration is an application: coordinators
get a card with Approve / Reject / Ask a question; the applicant is told the outcome in their
language. The review dialog is drawn in membership.mmd.
"""

from __future__ import annotations

from typing import Any, Literal

from handlers.coalition import checkins, roles
from handlers.kernel import forms, limits, names, permissions, typed_text
from handlers.kernel.callbacks import CallbackData, StaleButton
from handlers.kernel.context import Context
from handlers.kernel.forms import AnswerButton, Data, Message, Step
from handlers.kernel.i18n import Html, Translator, translator
from handlers.kernel.invalid_input import InvalidInput
from handlers.kernel.ports import Button, Keyboard
from handlers.kernel.routing import Router
from handlers.people import fields
from storage.coalition import audit_store, membership_store
from storage.coalition.coalition_models import Application
from storage.models import Volunteer
from storage.people import shown_names, volunteers

REVIEW_FLOW = "app_review"  # a coordinator types a reason or a question
ANSWER_FLOW = "app_answer"  # the applicant types an answer
MAX_TEXT = 1000

Short = Literal["m", "c", "d"]
SETTINGS: dict[Short, tuple[str, tuple[Any, ...]]] = {
    "m": ("membership", (membership_store.OPEN, membership_store.BY_APPLICATION)),
    "c": ("checkin_months", (3, 6, 12, 0)),
    "d": ("checkin_days", (7, 14, 30)),
}
CARD_FIELDS = ("kind", "org_name", "org_type", "country", "language", "skills", "hours_per_month")

router = Router("membership")


class SettingButton(CallbackData, prefix="cs"):
    """One choice of a coalition setting: cs:<m|c|d>:<value> (one of that setting's options)."""

    short: Short
    raw: str

    def __post_init__(self) -> None:
        if self.raw not in (str(option) for option in SETTINGS[self.short][1]):
            raise ValueError(self.raw)

    @property
    def value(self) -> Any:
        """The option itself (a string or a number, as the setting stores it)."""
        return next(o for o in SETTINGS[self.short][1] if str(o) == self.raw)


class ReviewButton(CallbackData, prefix="ap"):
    """A review of an application: ap:<application>:ok|no|ask|skip."""

    application_id: int
    verdict: Literal["ok", "no", "ask", "skip"]


# The coalition's settings


def settings_view(ctx: Context, values: dict[str, Any]) -> tuple[Html, Keyboard]:
    """The settings with a button for each choice (the current one ticked)."""
    t = ctx.t
    months, days = int(values["checkin_months"]), int(values["checkin_days"])
    checkin = (
        t.plural("coalition.checkins_every", months, days=t.number(days))
        if months
        else t("coalition.checkins_off")
    )
    text = Html(
        "\n".join(
            [
                t("coalition.settings_title"),
                "",
                t(f"coalition.membership.{values['membership']}"),
                checkin,
            ]
        )
    )

    def cell(short: Short, value: Any, label: str) -> Button:
        name = SETTINGS[short][0]
        mark = "✅ " if values[name] == value else ""
        return Button(mark + label, SettingButton(short, str(value)).pack())

    rows: list[list[Button]] = [
        [
            cell("m", membership_store.OPEN, t("coalition.open")),
            cell("m", membership_store.BY_APPLICATION, t("coalition.by_application")),
        ],
        [
            cell("c", m, t.plural("coalition.months", m) if m else t("coalition.off"))
            for m in SETTINGS["c"][1]
        ],
        [cell("d", d, t.plural("coalition.days", d)) for d in SETTINGS["d"][1]],
    ]
    return text, rows


@router.command("coalition")
async def show_settings(ctx: Context) -> None:
    """Shows the coalition's settings: how people join, how often they check in."""
    ctx.reply(*settings_view(ctx, await membership_store.settings(ctx.session)))


@router.button(SettingButton)
async def setting_pressed(ctx: Context, button: SettingButton) -> None:
    """Changes one setting, writes it to the audit log, shows the settings again."""
    name, value = SETTINGS[button.short][0], button.value
    before = await membership_store.change_setting(ctx.session, name, value, ctx.user_id, ctx.now())
    if before != value:
        await audit_store.record(
            ctx.session,
            ctx.user_id,
            "settings.change",
            ctx.now(),
            details={"setting": name, "from": before, "to": value},
        )
    if name.startswith("checkin") and value:
        await checkins.ensure_sweep(ctx)
    ctx.answer(ctx.t("coalition.saved"))
    ctx.edit(*settings_view(ctx, await membership_store.settings(ctx.session)))


# Applications


async def registered(ctx: Context, volunteer: Volunteer) -> bool:
    """After a registration: starts check-ins, or files an application. True: it is one."""
    if volunteer.status != membership_store.APPLICANT:
        await checkins.start(ctx, volunteer.user_id)
        return False
    application = await membership_store.submit(ctx.session, volunteer.user_id, ctx.now())
    ctx.reply(ctx.t("membership.received", name=shown_names.for_themselves(volunteer)))
    see_discreet = await permissions.holders(ctx, "members.discreet")
    for reviewer, language in (await _reviewers(ctx)).items():
        t = translator(language)
        sees = reviewer in see_discreet  # told in their private chat
        text = Html(t("membership.new") + "\n\n" + card(t, application, volunteer, sees))
        await roles.tell(ctx, reviewer, text, review_keyboard(t, application.id))
    return True


async def status_for_newcomer(ctx: Context) -> str:
    """The status a completed registration gets: active, or applicant (by application)."""
    mode = await membership_store.setting(ctx.session, "membership")
    return (
        membership_store.APPLICANT
        if mode == membership_store.BY_APPLICATION
        else membership_store.ACTIVE
    )


async def _reviewers(ctx: Context) -> dict[int, str]:
    """Who reviews applications, with their language; those who blocked the bot are skipped."""
    ids = set(await permissions.holders(ctx, "applications.review"))
    ids -= await membership_store.blocked(ctx.session, ids)
    languages = await membership_store.languages(ctx.session, ids)
    default = ctx.settings.default_locale
    return {uid: languages.get(uid) or default for uid in sorted(ids)}


def _sees(ctx: Context) -> bool:
    return permissions.may_see_discreet(ctx.roles, ctx.event.chat.is_private)


def _name(t: Translator, volunteer: Volunteer | None, sees_discreet: bool) -> str:
    """The applicant's name for a reviewer (a discreet one only if they may see them)."""
    return names.in_words(t, shown_names.for_viewer(volunteer, sees_discreet))


def card(
    t: Translator, application: Application, volunteer: Volunteer, sees_discreet: bool
) -> Html:
    """The applicant's profile and the questions and answers so far, for a reviewer who may or
    may not see discreet members (permissions.may_see_discreet)."""
    values = {name: getattr(volunteer, name) for name in volunteers.PROFILE_FIELDS}
    fields_shown = [n for n in CARD_FIELDS if n != "org_name" or volunteer.kind == "organisation"]
    lines: list[str] = [
        t(
            "membership.card_title",
            name=_name(t, volunteer, sees_discreet),
            number=application.id,
        )
    ]
    if username := shown_names.username_for_viewer(volunteer, sees_discreet):
        lines.append(t("membership.username", username=username))
    lines += fields.summary_lines(t, values, fields_shown)
    for exchange in application.exchanges:
        key = "membership.asked" if exchange["from"] == "coordinator" else "membership.replied"
        lines.append(t(key, text=exchange["text"]))
    return limits.fitted(t, lines)


def review_keyboard(t: Translator, application_id: int) -> Keyboard:
    """Approve / Reject / Ask a question."""
    return [
        [
            Button(t("membership.approve"), ReviewButton(application_id, "ok").pack()),
            Button(t("membership.reject"), ReviewButton(application_id, "no").pack()),
        ],
        [Button(t("membership.ask"), ReviewButton(application_id, "ask").pack())],
    ]


@router.command("applications")
async def list_applications(ctx: Context) -> None:
    """Shows each application still waiting, with its buttons."""
    waiting = await membership_store.pending(ctx.session)
    if not waiting:
        ctx.reply(ctx.t("membership.none_waiting"))
        return
    ctx.reply(ctx.t.plural("membership.waiting", len(waiting)))
    for application, volunteer in waiting[:20]:
        shown = card(ctx.t, application, volunteer, _sees(ctx))
        ctx.reply(shown, review_keyboard(ctx.t, application.id))


async def _open(ctx: Context, application_id: int) -> tuple[Application, Volunteer] | None:
    """The pending application and its applicant, or None (the reviewer is told why)."""
    application = await membership_store.get(ctx.session, application_id)
    volunteer = await volunteers.get(ctx.session, application.user_id) if application else None
    if application is None or volunteer is None:
        raise StaleButton("no such application")
    if application.status != membership_store.PENDING:
        who = await volunteers.get(ctx.session, application.decided_by or 0)
        key = f"membership.already_{application.status}"
        name = shown_names.for_viewer(who, _sees(ctx))
        message = ctx.t(key, name=name if isinstance(name, str) else ctx.t("membership.someone"))
        if ctx.event.callback_id is not None:
            ctx.answer(message, alert=True)
            ctx.edit_keyboard(None)
        else:
            ctx.reply(message)
        await ctx.clear_dialog()
        return None
    return application, volunteer


@router.button(ReviewButton)
async def review_pressed(ctx: Context, button: ReviewButton) -> None:
    """Approves at once; for a rejection or a question, asks the coordinator to type it."""
    what = button.verdict
    opened = await _open(ctx, button.application_id)
    if opened is None:
        return
    application, volunteer = opened
    ctx.answer()
    if what == "ok":
        ctx.edit_keyboard(None)
        await decide(ctx, application, volunteer, approved=True)
    elif what == "skip":
        ctx.edit_keyboard(None)
        await decide(ctx, application, volunteer, approved=False)
    else:
        step = "reason" if what == "no" else "question"
        await forms.start(ctx, REVIEW_FORM, {"application": application.id}, step)


async def decide(
    ctx: Context,
    application: Application,
    volunteer: Volunteer,
    *,
    approved: bool,
    reason: str | None = None,
) -> None:
    """Records the decision, tells the applicant in their language and the coordinator."""
    await membership_store.decide(
        ctx.session, application, volunteer, approved, ctx.user_id, ctx.now(), reason
    )
    await audit_store.record(
        ctx.session,
        ctx.user_id,
        "application.approve" if approved else "application.reject",
        ctx.now(),
        target_id=volunteer.user_id,
        details={"application": application.id, **({"reason": reason} if reason else {})},
    )
    await ctx.clear_dialog()
    t = translator(volunteer.language)
    if approved:
        await checkins.start(ctx, volunteer.user_id)
        text = t("membership.approved", name=shown_names.for_themselves(volunteer))
    elif reason:
        text = t("membership.rejected_because", reason=reason)
    else:
        text = t("membership.rejected")
    await roles.tell(ctx, volunteer.user_id, text)
    key = "membership.you_approved" if approved else "membership.you_rejected"
    ctx.reply(ctx.t(key, name=_name(ctx.t, volunteer, _sees(ctx))))


def _read_text(ctx: Context, data: Data, text: str, kind: type[AnswerButton]) -> str:
    """The typed text, cleaned; InvalidInput (said why, asked again) when it cannot be used."""
    cleaned = " ".join(text.split())
    if not cleaned:
        raise InvalidInput("membership.type_text")
    typed_text.check(cleaned)
    if len(cleaned) > MAX_TEXT:
        raise InvalidInput("membership.too_long", max=MAX_TEXT, length=len(cleaned))
    return cleaned


async def _applicant(ctx: Context, data: Data) -> dict[str, Any]:
    application = await membership_store.get(ctx.session, int(data.get("application", 0)))
    volunteer = await volunteers.get(ctx.session, application.user_id) if application else None
    return {"name": _name(ctx.t, volunteer, _sees(ctx)) if volunteer is not None else ""}


def _ask_reason(t: Translator, data: Data, kind: type[AnswerButton]) -> Message:
    skip = ReviewButton(int(data["application"]), "skip").pack()
    text = t("membership.type_reason", name=data["name"])
    return text, [[Button(t("membership.no_reason"), skip)]]


def _ask_question(t: Translator, data: Data, kind: type[AnswerButton]) -> Message:
    return t("membership.type_question", name=data["name"]), None


async def review_typed(ctx: Context, data: Data) -> None:
    """Takes the reason of a rejection, or a question for the applicant."""
    step = ctx.dialog.step if ctx.dialog is not None else ""
    opened = await _open(ctx, int(data.get("application", 0)))
    if opened is None:
        return
    application, volunteer = opened
    text = str(data["text"])
    if step == "reason":
        await decide(ctx, application, volunteer, approved=False, reason=text)
        return
    await membership_store.add_exchange(ctx.session, application, "coordinator", text, ctx.now())
    await audit_store.record(
        ctx.session,
        ctx.user_id,
        "application.ask",
        ctx.now(),
        target_id=volunteer.user_id,
        details={"application": application.id, "question": text},
    )
    await ctx.clear_dialog()
    asked = {"application": application.id, "asker": ctx.user_id, "question": text}
    await forms.open_for(ctx, ANSWER_FORM, volunteer.user_id, volunteer.user_id, asked, "answer")
    t = translator(volunteer.language)
    await roles.tell(ctx, volunteer.user_id, t("membership.question_for_you", question=text))
    ctx.reply(ctx.t("membership.question_sent", name=_name(ctx.t, volunteer, _sees(ctx))))


def _ask_answer(t: Translator, data: Data, kind: type[AnswerButton]) -> Message:
    return t("membership.question_for_you", question=data.get("question") or ""), None


async def answer_typed(ctx: Context, data: Data) -> None:
    """Passes the applicant's answer on to the coordinator who asked, with the buttons again."""
    application = await membership_store.get(ctx.session, int(data.get("application", 0)))
    if application is None or application.status != membership_store.PENDING or not ctx.volunteer:
        await ctx.clear_dialog()
        ctx.reply(ctx.t("membership.answer_too_late"))
        return
    asker = int(data.get("asker", 0))
    await membership_store.add_exchange(
        ctx.session, application, "applicant", str(data["text"]), ctx.now()
    )
    await ctx.clear_dialog()
    languages = await membership_store.languages(ctx.session, [asker])
    t = translator(languages.get(asker) or ctx.settings.default_locale)
    sees = asker in await permissions.holders(ctx, "members.discreet")  # their private chat
    body = Html(t("membership.answer_came") + "\n\n" + card(t, application, ctx.volunteer, sees))
    await roles.tell(ctx, asker, body, review_keyboard(t, application.id))
    ctx.reply(ctx.t("membership.answer_sent"))


def _typed_step(name: str, ask: forms.Ask, view: forms.View | None = None) -> Step:
    return Step(
        name, ask, read_text=_read_text, key="text", then=lambda data, v: forms.FINISH, view=view
    )


REVIEW_FORM = forms.Form(
    flow=REVIEW_FLOW,
    button=AnswerButton,  # typed only (the reason's "skip" is a ReviewButton)
    steps={
        "reason": _typed_step("reason", _ask_reason, _applicant),
        "question": _typed_step("question", _ask_question, _applicant),
    },
    order=lambda data: ["reason", "question"],
    finish=review_typed,
    diagram="membership.mmd",
)
ANSWER_FORM = forms.Form(
    flow=ANSWER_FLOW,
    button=AnswerButton,  # typed only
    steps={"answer": _typed_step("answer", _ask_answer)},
    order=lambda data: ["answer"],
    finish=answer_typed,
    diagram="membership.mmd",
)
forms.route(REVIEW_FORM, router)
forms.route(ANSWER_FORM, router)
