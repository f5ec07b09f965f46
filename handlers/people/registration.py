"""Registration in a private chat: language, who you are, skills and time, pledge, consent.

A form run by the engine in handlers/forms.py, drawn in registration.mmd. Its state lives in
the database, so it survives a restart of the bot at any step. The summary at the end has one
"change" button per answer; refusing consent asks "are you sure?" before anything is deleted.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Final

from handlers.coalition import membership, organisations
from handlers.kernel import forms
from handlers.kernel.context import Context
from handlers.kernel.forms import AnswerButton, Data, Step
from handlers.kernel.i18n import Html, Translator, normalise_locale
from handlers.kernel.ports import Button, Keyboard
from handlers.kernel.routing import Router
from handlers.people import fields
from handlers.people.fields import QUESTIONS
from storage.coalition import organisation_store
from storage.people import preferences, shown_names, volunteers

FLOW = "registration"
PLEDGE: Final = "pledge"
CONSENT: Final = "consent"
CONFIRM: Final = "confirm"
CONSENT_SURE: Final = "consent_sure"
ORG_JOIN: Final = "org_join"  # the organisation's name is taken: join it, or another name
JOIN_CHOICES = (*organisations.JOIN_ROLES, "other")


class Answer(AnswerButton, prefix="rq"):
    """An answer to a profile question during registration: rq:<question>:<value>."""


class StepButton(AnswerButton, prefix="rg"):
    """The pledge, the consent and the summary as sent before the form engine: rg:<step>:<answer>.

    New messages carry `Answer` buttons only; these stay routed for messages already sent.
    """


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


def order(data: Data) -> list[str]:
    """The steps of the dialog, given the answers so far."""
    sequence = ["language", "kind", "display_name"]
    if data.get("kind") == "organisation":
        sequence += ["org_name", ORG_JOIN]
        if data.get(ORG_JOIN) is None:  # who joins an organisation keeps its type
            sequence.append("org_type")
    sequence.append("country")
    if data.get("country") and fields.default_timezone(str(data["country"])) is None:
        sequence.append("timezone")
    sequence += ["skills", "hours_per_month", "resources", "interests", "discreet"]
    return [*sequence, PLEDGE, CONSENT, CONFIRM]


def steps(data: Data) -> list[str]:
    """The steps of the dialog for the answers so far (the form's order)."""
    return order(data)


def summary(ctx: Context, data: Data) -> Html:
    """The whole profile, for the person to check."""
    return _summary(ctx.t, data)


def _summary(t: Translator, data: Data) -> Html:
    names = [s for s in order(data) if s in QUESTIONS]
    lines = fields.summary_lines(t, dict(data), names)
    return Html(t("registration.summary") + "\n\n" + "\n".join(lines))


def _buttons(
    kind: type[AnswerButton], step: str, *choices: tuple[str, str], t: Translator
) -> Keyboard:
    return [[Button(t(label), kind(step, value).pack()) for value, label in choices]]


async def _language_chosen(ctx: Context, data: Data, value: Any) -> None:
    ctx.use_locale(value)
    await preferences.set_language(ctx.session, ctx.user_id, value, ctx.now())


def _kind_stored(ctx: Context, data: Data, value: Any) -> dict[str, Any]:
    kept = {k: v for k, v in data.items() if value == "organisation" or k not in ORG_ONLY}
    return {**kept, "kind": value}


def _country_stored(ctx: Context, data: Data, value: Any) -> dict[str, Any]:
    new = {k: v for k, v in data.items() if k != "timezone"}
    zone = fields.default_timezone(str(value))
    if zone is not None:
        new["timezone"] = zone
    return {**new, "country": value}


def _yes_no(name: str, prompt: str, yes: str) -> forms.Ask:
    def ask(t: Translator, data: Data, kind: type[AnswerButton]) -> tuple[str, Keyboard | None]:
        return t(prompt), _buttons(kind, name, ("yes", yes), ("no", "common.no"), t=t)

    return ask


def _read_yes_no(data: Data, raw: str) -> str | None:
    return raw if raw in ("yes", "no") else None


def _accepted(prompt: str, label: str) -> forms.Shown:
    def shown(t: Translator, data: Data, value: Any) -> str:
        answer = "✅ " + t(label) if value == "yes" else "✖ " + t("common.no")
        return t(prompt) + "\n\n" + answer

    return shown


def _keep(ctx: Context, data: Data, value: Any) -> dict[str, Any]:
    return dict(data)


def _moment_if_yes(key: str) -> forms.Store:
    def store(ctx: Context, data: Data, value: Any) -> dict[str, Any]:
        return {**data, key: ctx.now().isoformat()} if value == "yes" else dict(data)

    return store


async def _pledge_declined(ctx: Context, data: Data, value: Any) -> None:
    if value == "no":
        ctx.reply(ctx.t("registration.pledge_declined"))


def _ask_consent_sure(
    t: Translator, data: Data, kind: type[AnswerButton]
) -> tuple[str, Keyboard | None]:
    rows = [
        [Button(t("registration.consent_delete"), kind(CONSENT_SURE, "delete").pack())],
        [Button(t("registration.consent_back"), kind(CONSENT_SURE, "back").pack())],
    ]
    return t("registration.consent_sure"), rows


async def _consent_refused(ctx: Context, data: Data, value: Any) -> None:
    if value == "delete":
        await ctx.clear_dialog()
        ctx.reply(ctx.t("registration.consent_declined"))


def _ask_confirm(t: Translator, data: Data, kind: type[AnswerButton]) -> tuple[str, Keyboard]:
    rows = [
        [Button(t("registration.confirm"), kind(CONFIRM, "yes").pack())],
        [Button(t("registration.restart"), kind(CONFIRM, "restart").pack())],
    ]
    return _summary(t, data), rows


async def _restart(ctx: Context, data: Data, value: Any) -> None:
    if value == "restart":
        await begin(ctx, str(data.get("payload") or ""))


ORG_ONLY = ("org_name", "org_type", ORG_JOIN)


def _org_name_stored(ctx: Context, data: Data, value: Any) -> dict[str, Any]:
    """A new name: whether it is taken is asked again."""
    return {**{k: v for k, v in data.items() if k != ORG_JOIN}, "org_name": value}


async def _org_is_new(ctx: Context, data: Data) -> bool:
    return await organisation_store.find(ctx.session, str(data.get("org_name") or "")) is None


async def _org_view(ctx: Context, data: Data) -> dict[str, Any]:
    found = await organisation_store.find(ctx.session, str(data.get("org_name") or ""))
    return {"organisation": found.name if found is not None else data.get("org_name")}


def _ask_org_join(t: Translator, data: Data, kind: type[AnswerButton]) -> tuple[str, Keyboard]:
    rows = [
        [Button(t(f"registration.org_join_{choice}"), kind(ORG_JOIN, choice).pack())]
        for choice in JOIN_CHOICES
    ]
    return t("registration.org_taken", organisation=data.get("organisation", "")), rows


def _org_join_stored(ctx: Context, data: Data, value: Any) -> dict[str, Any]:
    if value == "other":  # another organisation: its name is asked again
        return {k: v for k, v in data.items() if k not in (ORG_JOIN, "org_name")}
    return {**{k: v for k, v in data.items() if k != "org_type"}, ORG_JOIN: value}


def _org_join_shown(t: Translator, data: Data, value: Any) -> str:
    named = data.get("organisation") or data.get("org_name") or ""
    asked = t("registration.org_taken", organisation=named)
    return asked + "\n\n✅ " + t(f"registration.org_join_{value}")


def _declare() -> dict[str, Step]:
    declared = {
        name: fields.question_step(question)
        for name, question in QUESTIONS.items()
        if name not in fields.PROFILE_ONLY
    }
    declared["language"] = fields.question_step(QUESTIONS["language"], effect=_language_chosen)
    declared["kind"] = fields.question_step(QUESTIONS["kind"], store=_kind_stored)
    declared["country"] = fields.question_step(QUESTIONS["country"], store=_country_stored)
    declared["org_name"] = fields.question_step(QUESTIONS["org_name"], store=_org_name_stored)
    declared[ORG_JOIN] = Step(
        ORG_JOIN,
        _ask_org_join,
        read_button=lambda data, raw: raw if raw in JOIN_CHOICES else None,
        store=_org_join_stored,
        shown=_org_join_shown,
        view=_org_view,
        skip=_org_is_new,
        then=lambda data, value: "org_name" if value == "other" else forms.NEXT,
    )
    declared["discreet"] = fields.question_step(QUESTIONS["discreet"], store=fields.store_discreet)
    declared[PLEDGE] = Step(
        PLEDGE,
        _yes_no(PLEDGE, "registration.pledge", "registration.accept"),
        read_button=_read_yes_no,
        key="pledge_at",
        store=_moment_if_yes("pledge_at"),
        effect=_pledge_declined,
        shown=_accepted("registration.pledge", "registration.accept"),
        then=lambda data, value: CONSENT if value == "yes" else PLEDGE,
    )
    declared[CONSENT] = Step(
        CONSENT,
        _yes_no(CONSENT, "registration.consent", "registration.agree"),
        read_button=_read_yes_no,
        key="consent_at",
        store=_moment_if_yes("consent_at"),
        shown=_accepted("registration.consent", "registration.agree"),
        then=lambda data, value: CONFIRM if value == "yes" else CONSENT_SURE,
    )
    declared[CONSENT_SURE] = Step(
        CONSENT_SURE,
        _ask_consent_sure,
        read_button=lambda data, raw: raw if raw in ("delete", "back") else None,
        store=_keep,
        effect=_consent_refused,
        then=lambda data, value: CONSENT if value == "back" else None,
    )
    declared[CONFIRM] = Step(
        CONFIRM,
        _ask_confirm,
        read_button=lambda data, raw: raw if raw in ("yes", "restart") else None,
        store=_keep,
        effect=_restart,
        then=lambda data, value: forms.FINISH if value == "yes" else None,
    )
    return declared


def _changeable(data: Data) -> list[str]:
    return [name for name in order(data) if name in QUESTIONS and name != "language"]


FORM = forms.Form(
    flow=FLOW,
    button=Answer,
    steps=_declare(),
    order=order,
    finish=lambda ctx, data: _complete(ctx, data),
    preview=CONFIRM,
    changeable=_changeable,
    change_label=lambda t, name: t(f"field.{name}"),
    legacy_buttons=(StepButton,),
)
forms.route(FORM, router)


async def begin(ctx: Context, payload: str = "") -> None:
    """Starts a fresh registration."""
    locale = normalise_locale(ctx.event.user.language_code, ctx.t.locale)
    ctx.use_locale(locale)
    data: dict[str, Any] = {"language": locale}
    if payload:
        data["payload"] = payload
    ctx.reply(ctx.t("registration.welcome"))
    await forms.start(ctx, FORM, data, "language")


async def resume(ctx: Context) -> None:
    """Asks again the question the person stopped at."""
    ctx.reply(ctx.t("registration.resume"))
    await forms.resume(ctx, FORM)


async def _complete(ctx: Context, data: Data) -> None:
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
    join = data.get(ORG_JOIN)
    await organisations.registered(ctx, volunteer, str(join) if join else None)
    if await membership.registered(ctx, volunteer):
        return  # by application: the person is told their application was received
    ctx.reply(ctx.t("registration.done", name=shown_names.for_themselves(volunteer)))
    payload = str(data.get("payload") or "")
    if payload:
        await run_start_payload(ctx, payload)
