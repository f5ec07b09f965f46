"""Consensus proposals in group chats: Agree, Stand aside, Block (with a reason), a question.

A Block asks the member privately for their reason (a one-step form of handlers/forms.py, drawn
in consensus.mmd); the reason is shown with the outcome. "I have a question" keeps the proposal
open for discussion without counting as a position. Positions are inline buttons (see
handlers/ballots.py).
"""

from __future__ import annotations

from typing import Any

from handlers.decisions import ballots
from handlers.decisions.decision_input import CONSENSUS
from handlers.decisions.decision_views import PositionButton
from handlers.decisions.vote_rules import BLOCK, POSITIONS, QUESTION
from handlers.kernel import forms
from handlers.kernel.callbacks import StaleButton
from handlers.kernel.context import Context
from handlers.kernel.forms import AnswerButton, Data, Message, Step
from handlers.kernel.i18n import Translator
from handlers.kernel.invalid_input import InvalidInput
from handlers.kernel.routing import Router
from storage import dialogs
from storage.decisions import decision_store

FLOW = "block_reason"
REASON = "reason"
MAX_REASON = 500

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
    else:
        if pending is not None and pending.flow == FLOW:
            await dialogs.clear(ctx.session, ctx.user_id, ctx.user_id)
        key = "consensus.question_noted" if position == QUESTION else "decisions.vote_recorded"
        ctx.answer(ctx.t(key, option=label))
    ballots.refresh_later(ctx, decision.id)


async def _proposal(ctx: Context, data: Data) -> dict[str, Any]:
    decision = await decision_store.get(ctx.session, int(data.get("decision", 0)))
    return {"question": decision.question if decision is not None else ""}


def _ask_reason(t: Translator, data: Data, kind: type[AnswerButton]) -> Message:
    return t("consensus.ask_reason", question=data["question"]), None


def _read_reason(ctx: Context, data: Data, text: str, kind: type[AnswerButton]) -> str:
    reason = text.strip()
    if not reason or len(reason) > MAX_REASON:
        raise InvalidInput("consensus.reason_length", length=len(reason), limit=MAX_REASON)
    return reason


async def reason_given(ctx: Context, data: Data) -> None:
    """Keeps the reason for a Block, to be shown with the outcome."""
    decision = await decision_store.get(ctx.session, int(data.get("decision", 0)))
    await ctx.clear_dialog()
    if decision is None or decision.status != decision_store.OPEN:
        ctx.reply(ctx.t("consensus.reason_too_late"))
        return
    ballot = await decision_store.ballot_of(ctx.session, decision.id, ctx.user_id)
    if ballot is None or ballot.choice != [BLOCK]:
        ctx.reply(ctx.t("consensus.reason_not_blocking"))
        return
    await decision_store.set_reason(ctx.session, decision.id, ctx.user_id, str(data["reason"]))
    ctx.reply(ctx.t("consensus.reason_saved", question=decision.question))


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
