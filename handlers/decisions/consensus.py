"""Consensus proposals in group chats: Agree, Stand aside, Block (with a reason), a question.

A Block asks the member privately for their reason, "I have a question" for their question (a
one-step form of handlers/forms.py, drawn in consensus.mmd); while the proposal is open both are
shown to the group under it (not in an anonymous one), and the proposal's author gets each with
an "Answer" button (a one-step form, consensus_answer.mmd) whose answer is shown beneath it. The
reasons are shown with the outcome. A question is not a position. Positions are inline buttons (see
handlers/ballots.py).
"""

from __future__ import annotations

from typing import Any

from handlers.coalition import roles
from handlers.decisions import ballots
from handlers.decisions.decision_input import CONSENSUS
from handlers.decisions.decision_views import PositionButton
from handlers.decisions.vote_rules import BLOCK, POSITIONS, QUESTION
from handlers.kernel import forms
from handlers.kernel.callbacks import CallbackData, StaleButton
from handlers.kernel.context import Context
from handlers.kernel.forms import AnswerButton, Data, Message, Step
from handlers.kernel.i18n import Translator, translator
from handlers.kernel.invalid_input import InvalidInput
from handlers.kernel.ports import Button
from handlers.kernel.routing import Router
from storage import dialogs
from storage.decisions import decision_store
from storage.decisions.decision_models import Decision
from storage.people import shown_names, volunteers

FLOW = "block_reason"
REASON = "reason"
ANSWER_FLOW = "consensus_answer"  # the author answers a reason or a question
ANSWER = "answer"
MAX_REASON = 500


class ReplyButton(CallbackData, prefix="dans"):
    """The proposal's author answers a Block reason or a question: dans:<decision>:<voter>."""

    decision_id: int
    voter_id: int


router = Router("consensus")  # group chats only
private = Router("consensus-private")  # the block-reason dialog


@router.command("consensus")
async def consensus_command(ctx: Context) -> None:
    """Puts a proposal to the group for consensus, or explains how to write one."""
    await ballots.create(ctx, CONSENSUS)


@router.button(PositionButton)
async def position_pressed(ctx: Context, button: PositionButton) -> None:
    """Records the member's position; a Block asks privately for the reason."""
    decision = await decision_store.get(ctx.session, button.decision_id)
    if decision is None or decision.kind != CONSENSUS:
        raise StaleButton(ctx.event.data)
    position = button.position
    if decision.status != decision_store.OPEN:
        ctx.answer(ctx.t("decisions.closed_already"), alert=True)
        return
    volunteer = await ballots.voter(ctx, decision)
    if volunteer is None:
        return
    existing = await decision_store.ballot_of(ctx.session, decision.id, ctx.user_id)
    label = ctx.t(f"decisions.position.{POSITIONS[position]}")
    if existing is not None and existing.choice == [position] and position != BLOCK:
        ctx.answer(ctx.t("decisions.vote_unchanged", option=label))
        return
    unit = ballots.unit_for(volunteer, decision.org_voting)
    await decision_store.cast(ctx.session, decision.id, ctx.user_id, unit, [position], ctx.now())
    pending = await dialogs.get(ctx.session, ctx.user_id, ctx.user_id)
    if position == BLOCK:
        done = ctx.t("consensus.block_recorded")
        await forms.start_privately(
            ctx, FORM, {"decision": decision.id}, REASON, done=done, alert=True
        )
    elif position == QUESTION:  # typed privately, shown to the group with the proposal
        done = ctx.t("consensus.question_noted", option=label)
        data = {"decision": decision.id, "asking": True}
        await forms.start_privately(ctx, FORM, data, REASON, done=done)
    else:
        if pending is not None and pending.flow == FLOW:
            await dialogs.clear(ctx.session, ctx.user_id, ctx.user_id)
        ctx.answer(ctx.t("decisions.vote_recorded", option=label))
    ballots.refresh_later(ctx, decision.id)


async def _proposal(ctx: Context, data: Data) -> dict[str, Any]:
    decision = await decision_store.get(ctx.session, int(data.get("decision", 0)))
    return {"question": decision.question if decision is not None else ""}


def _ask_reason(t: Translator, data: Data, kind: type[AnswerButton]) -> Message:
    key = "consensus.ask_question" if data.get("asking") else "consensus.ask_reason"
    return t(key, question=data["question"]), None


def _read_reason(ctx: Context, data: Data, text: str, kind: type[AnswerButton]) -> str:
    reason = text.strip()
    if not reason or len(reason) > MAX_REASON:
        raise InvalidInput("consensus.reason_length", length=len(reason), limit=MAX_REASON)
    return reason


async def reason_given(ctx: Context, data: Data) -> None:
    """Keeps the reason for a Block (or the question asked), shown to the group while the
    proposal is open (and the reason with the outcome); its author is asked to answer."""
    decision = await decision_store.get(ctx.session, int(data.get("decision", 0)))
    await ctx.clear_dialog()
    if decision is None or decision.status != decision_store.OPEN:
        ctx.reply(ctx.t("consensus.reason_too_late"))
        return
    asking = bool(data.get("asking"))
    ballot = await decision_store.ballot_of(ctx.session, decision.id, ctx.user_id)
    if ballot is None or ballot.choice != [QUESTION if asking else BLOCK]:
        key = "consensus.question_not_open" if asking else "consensus.reason_not_blocking"
        ctx.reply(ctx.t(key))
        return
    text = str(data["reason"])
    await decision_store.set_reason(ctx.session, decision.id, ctx.user_id, text)
    key = "consensus.question_saved" if asking else "consensus.reason_saved"
    ctx.reply(ctx.t(key, question=decision.question))
    ballots.refresh_later(ctx, decision.id)
    if decision.created_by != ctx.user_id and not decision.anonymous:
        await _tell_author(ctx, decision, text, asking)


async def _tell_author(ctx: Context, decision: Decision, text: str, asking: bool) -> None:
    """Sends the proposal's author the reason or question, with a button to answer it."""
    author = await volunteers.get(ctx.session, decision.created_by)
    t = translator(author.language if author is not None else decision.locale)
    shown = shown_names.for_results(ctx.volunteer, decision.org_voting)
    who = shown if isinstance(shown, str) else t("decisions.discreet_member")
    key = "consensus.to_author_question" if asking else "consensus.to_author_block"
    said = t(key, name=who, question=decision.question, text=text)
    button = Button(t("consensus.answer_button"), ReplyButton(decision.id, ctx.user_id).pack())
    await roles.tell(ctx, decision.created_by, said, [[button]])


@private.button(ReplyButton)
async def reply_pressed(ctx: Context, button: ReplyButton) -> None:
    """The proposal's author starts typing their answer to a reason or a question."""
    decision = await decision_store.get(ctx.session, button.decision_id)
    ballot = await decision_store.ballot_of(ctx.session, button.decision_id, button.voter_id)
    if decision is None or decision.created_by != ctx.user_id:
        raise StaleButton(ctx.event.data)
    ctx.answer()
    if decision.status != decision_store.OPEN or ballot is None or not ballot.reason:
        ctx.reply(ctx.t("consensus.answer_too_late"))
        return
    data = {"decision": decision.id, "voter": button.voter_id, "asked": ballot.reason}
    await forms.start(ctx, ANSWER_FORM, data, ANSWER)


def _ask_answer(t: Translator, data: Data, kind: type[AnswerButton]) -> Message:
    return t("consensus.ask_answer", text=data["asked"]), None


async def answer_given(ctx: Context, data: Data) -> None:
    """Shows the author's answer under the reason or question, in the group's live message."""
    decision = await decision_store.get(ctx.session, int(data.get("decision", 0)))
    await ctx.clear_dialog()
    if decision is None or decision.status != decision_store.OPEN:
        ctx.reply(ctx.t("consensus.answer_too_late"))
        return
    voter = int(data.get("voter", 0))
    if not await decision_store.set_answer(ctx.session, decision.id, voter, str(data[ANSWER])):
        ctx.reply(ctx.t("consensus.answer_too_late"))
        return
    ctx.reply(ctx.t("consensus.answer_saved", question=decision.question))
    ballots.refresh_later(ctx, decision.id)


FORM = forms.Form(
    flow=FLOW,
    button=AnswerButton,  # typed only
    steps={
        REASON: Step(
            REASON,
            _ask_reason,
            read_text=_read_reason,
            then=lambda data, value: forms.FINISH,
            view=_proposal,
        )
    },
    order=lambda data: [REASON],
    finish=reason_given,
    diagram="consensus.mmd",
)
forms.route(FORM, private)

ANSWER_FORM = forms.Form(
    flow=ANSWER_FLOW,
    button=AnswerButton,  # typed only
    steps={
        ANSWER: Step(
            ANSWER,
            _ask_answer,
            read_text=_read_reason,
            then=lambda data, value: forms.FINISH,
        )
    },
    order=lambda data: [ANSWER],
    finish=answer_given,
)
forms.route(ANSWER_FORM, private)
