"""/report — "Tell the coordinators": a volunteer reports a problem (a person, a risk, a
question), anonymously if they choose; a coordinator answers through the bot.

Two forms of handlers/kernel/forms.py, drawn in report.mmd: `report` (what about, with the name
or not, the text) and `report_answer` (a coordinator types the answer). The report reaches
every holder of reports.answer through the outbox, in each one's language, with an "Answer"
button; an anonymous report says "anonymous" and nothing else about the sender, and the answer
goes back to the reporter without the coordinator ever seeing who it was (the reporter's id
stays in the database, where only the answer's delivery reads it).
"""

from __future__ import annotations

from typing import Any

from handlers.kernel import forms, permissions, typed_text
from handlers.kernel.callbacks import CallbackData, StaleButton
from handlers.kernel.context import Context
from handlers.kernel.forms import AnswerButton, Data, Step
from handlers.kernel.i18n import Html, Translator, translator
from handlers.kernel.ports import Button, Keyboard
from handlers.kernel.routing import Router
from storage.coalition import membership_store
from storage.outbox import Outgoing
from storage.people import report_store, shown_names
from storage.people.people_models import SafetyReport

FLOW = "report"
ANSWER_FLOW = "report_answer"
TEXT_LIMITS = (2, 2000)
YES, NO = "yes", "no"

router = Router(FLOW)


class Answer(AnswerButton, prefix="rp"):
    """An answer in /report: rp:<question>:<value> (topic: a topic; anonymous: yes | no)."""


class ReplyButton(CallbackData, prefix="ra"):
    """A coordinator's "Answer" under a report: ra:<report>."""

    report: int


def _ask_topic(t: Translator, data: Data, kind: type[AnswerButton]) -> tuple[str, Keyboard]:
    rows = [
        [Button(t(f"report.topic.{topic}"), kind("topic", topic).pack())]
        for topic in report_store.TOPICS
    ]
    return t("report.ask_topic"), rows


def _ask_anonymous(t: Translator, data: Data, kind: type[AnswerButton]) -> tuple[str, Keyboard]:
    rows = [
        [Button(t("report.with_name"), kind("anonymous", NO).pack())],
        [Button(t("report.anonymously"), kind("anonymous", YES).pack())],
    ]
    return t("report.ask_anonymous"), rows


def _ask_text(t: Translator, data: Data, kind: type[AnswerButton]) -> tuple[str, None]:
    return Html(t("report.ask_text") + "\n\n" + t("report.cancel_hint")), None


def _topic_shown(t: Translator, data: Data, value: Any) -> str:
    return t("report.ask_topic") + "\n\n✅ " + t(f"report.topic.{value}")


def _anonymous_shown(t: Translator, data: Data, value: Any) -> str:
    chosen = t("report.anonymously") if value == YES else t("report.with_name")
    return t("report.ask_anonymous") + "\n\n✅ " + chosen


def _read_block(ctx: Context, data: Data, text: str, kind: type[AnswerButton]) -> str:
    return typed_text.clean_block(text, TEXT_LIMITS)


FORM = forms.Form(
    flow=FLOW,
    button=Answer,
    steps={
        "topic": Step(
            "topic",
            _ask_topic,
            read_button=lambda data, raw: raw if raw in report_store.TOPICS else None,
            shown=_topic_shown,
        ),
        "anonymous": Step(
            "anonymous",
            _ask_anonymous,
            read_button=lambda data, raw: raw if raw in (YES, NO) else None,
            store=lambda ctx, data, value: {**data, "anonymous": value == YES},
            shown=_anonymous_shown,
        ),
        "text": Step(
            "text", _ask_text, read_text=_read_block, then=lambda data, value: forms.FINISH
        ),
    },
    order=lambda data: ["topic", "anonymous", "text"],
    finish=lambda ctx, data: _file(ctx, data),
    diagram="report.mmd",
)


def _ask_answer(t: Translator, data: Data, kind: type[AnswerButton]) -> tuple[str, None]:
    number = int(data.get("report", 0))
    return Html(t("report.ask_answer", number=number) + "\n\n" + t("report.cancel_hint")), None


ANSWER_FORM = forms.Form(
    flow=ANSWER_FLOW,
    button=AnswerButton,  # typed only
    steps={
        "answer": Step(
            "answer", _ask_answer, read_text=_read_block, then=lambda data, value: forms.FINISH
        )
    },
    order=lambda data: ["answer"],
    finish=lambda ctx, data: _answered(ctx, data),
    diagram="report.mmd",
)
forms.route(FORM, router)
forms.route(ANSWER_FORM, router)


@router.command("report")
async def report(ctx: Context) -> None:
    """Asks what the problem is about, to tell the coordinators."""
    if ctx.volunteer is None:
        ctx.reply(ctx.t("errors.not_registered"))
        return
    ctx.reply(ctx.t("report.intro"))
    await forms.start(ctx, FORM, {}, "topic")


def for_coordinators(t: Translator, report: SafetyReport, sender: str) -> Html:
    """The report as a coordinator reads it: its number, topic, sender (or "anonymous")."""
    who = t("report.from_anonymous") if report.anonymous else t("report.from", name=sender)
    topic = t(f"report.topic.{report.topic}")
    return t("report.new", number=report.id, topic=topic, sender=who, text=report.text)


async def _languages(ctx: Context, ids: set[int]) -> dict[int, str]:
    """Each person's language (the coalition's default when unknown)."""
    found = await membership_store.languages(ctx.session, ids)
    return {uid: found.get(uid) or ctx.settings.default_locale for uid in sorted(ids)}


async def _file(ctx: Context, data: Data) -> None:
    """Stores the report and sends it to every coordinator who answers reports."""
    volunteer = ctx.volunteer
    await ctx.clear_dialog()
    if volunteer is None:
        ctx.reply(ctx.t("errors.not_registered"))
        return
    filed = await report_store.create(
        ctx.session,
        ctx.user_id,
        str(data["topic"]),
        str(data["text"]),
        bool(data.get("anonymous")),
        ctx.now(),
    )
    ids = set(await permissions.holders(ctx, "reports.answer")) - {ctx.user_id}
    ids -= await membership_store.blocked(ctx.session, ids)
    sender = shown_names.for_coordinators(volunteer)  # read in their private chat only
    messages = []
    for uid, language in (await _languages(ctx, ids)).items():
        t = translator(language)
        keyboard = [[Button(t("report.answer_button"), ReplyButton(filed.id).pack())]]
        messages.append(Outgoing(uid, for_coordinators(t, filed, sender), keyboard))
    await ctx.enqueue(messages, purpose="notice", ref=f"report:{filed.id}")
    key = "report.sent_anonymously" if filed.anonymous else "report.sent"
    ctx.reply(ctx.t(key, number=filed.id) if messages else ctx.t("report.no_coordinators"))


@router.button(ReplyButton)
async def answer_pressed(ctx: Context, button: ReplyButton) -> None:
    """Asks the coordinator for the answer to a report."""
    filed = await report_store.get(ctx.session, button.report)
    if filed is None:
        raise StaleButton(ctx.event.data)  # the reporter erased themselves
    ctx.answer()
    await forms.start(ctx, ANSWER_FORM, {"report": filed.id}, "answer")


async def _answered(ctx: Context, data: Data) -> None:
    """Sends the coordinator's answer to the reporter, who may stay anonymous."""
    await ctx.clear_dialog()
    filed = await report_store.get(ctx.session, int(data.get("report", 0)))
    if filed is None:
        ctx.reply(ctx.t("report.gone"))
        return
    text = str(data["answer"])
    await report_store.answer(ctx.session, filed, ctx.user_id, text, ctx.now())
    language = (await _languages(ctx, {filed.user_id}))[filed.user_id]
    t = translator(language)
    topic = t(f"report.topic.{filed.topic}")
    body = t("report.answer_came", number=filed.id, topic=topic, text=text)
    await ctx.enqueue([Outgoing(filed.user_id, body)], purpose="notice", ref=f"report:{filed.id}")
    ctx.reply(ctx.t("report.answer_sent", number=filed.id))
