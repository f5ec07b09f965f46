"""Consensus proposals in group chats: Agree, Stand aside, Block (with a reason), a question.

A Block asks the member privately for their reason (the dialog is drawn in consensus.mmd); the
reason is shown with the outcome. "I have a question" keeps the proposal open for discussion
without counting as a position. Positions are inline buttons (see handlers/ballots.py).
"""

from __future__ import annotations

from handlers import ballots
from handlers.callbacks import StaleButton
from handlers.context import Context
from handlers.decision_input import CONSENSUS
from handlers.decision_views import PositionButton
from handlers.routing import Router
from handlers.vote_rules import BLOCK, POSITIONS, QUESTION
from storage import decisions, dialogs

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
    decision = await decisions.get(ctx.session, button.decision_id)
    if decision is None or decision.kind != CONSENSUS:
        raise StaleButton(ctx.event.data)
    position = button.position
    if decision.status != decisions.OPEN:
        ctx.answer(ctx.t("decisions.closed_already"), alert=True)
        return
    volunteer = await ballots.voter(ctx, decision)
    if volunteer is None:
        return
    existing = await decisions.ballot_of(ctx.session, decision.id, ctx.user_id)
    label = ctx.t(f"decisions.position.{POSITIONS[position]}")
    if existing is not None and existing.choice == [position] and position != BLOCK:
        ctx.answer(ctx.t("decisions.vote_unchanged", option=label))
        return
    unit = ballots.unit_for(volunteer, decision.org_voting)
    await decisions.cast(ctx.session, decision.id, ctx.user_id, unit, [position], ctx.now())
    pending = await dialogs.get(ctx.session, ctx.user_id, ctx.user_id)
    if position == BLOCK:
        await dialogs.save(
            ctx.session,
            ctx.user_id,
            ctx.user_id,
            FLOW,
            REASON,
            {"decision": decision.id},
            ctx.now(),
        )
        ctx.send(ctx.user_id, ctx.t("consensus.ask_reason", question=decision.question))
        ctx.answer(ctx.t("consensus.block_recorded"), alert=True)
    else:
        if pending is not None and pending.flow == FLOW:
            await dialogs.clear(ctx.session, ctx.user_id, ctx.user_id)
        key = "consensus.question_noted" if position == QUESTION else "decisions.vote_recorded"
        ctx.answer(ctx.t(key, option=label))
    ballots.refresh_later(ctx, decision.id)


@private.dialog(FLOW)
async def reason_given(ctx: Context) -> None:
    """Keeps the reason for a Block, to be shown with the outcome."""
    data = ctx.dialog.data if ctx.dialog is not None else {}
    reason = (ctx.event.text or "").strip()
    if not reason or len(reason) > MAX_REASON:
        ctx.reply(ctx.t("consensus.reason_length", length=len(reason), limit=MAX_REASON))
        return
    decision = await decisions.get(ctx.session, int(data.get("decision", 0)))
    await ctx.clear_dialog()
    if decision is None or decision.status != decisions.OPEN:
        ctx.reply(ctx.t("consensus.reason_too_late"))
        return
    ballot = await decisions.ballot_of(ctx.session, decision.id, ctx.user_id)
    if ballot is None or ballot.choice != [BLOCK]:
        ctx.reply(ctx.t("consensus.reason_not_blocking"))
        return
    await decisions.set_reason(ctx.session, decision.id, ctx.user_id, reason)
    ctx.reply(ctx.t("consensus.reason_saved", question=decision.question))
