"""Majority votes in group chats: /poll, the vote buttons, and answers to native polls.

Why a native poll for some votes and buttons for others is explained in handlers/ballots.py:
open and hidden one-vote-per-person votes are native non-anonymous polls (the bot receives every
poll_answer) unless a discreet member is in the group; anonymous and one-vote-per-organisation
votes use buttons.
"""

from __future__ import annotations

from handlers.decisions import ballots
from handlers.decisions.decision_input import VOTE
from handlers.decisions.decision_views import VoteButton
from handlers.kernel.callbacks import StaleButton
from handlers.kernel.context import Context
from handlers.kernel.i18n import Html
from handlers.kernel.routing import Router
from storage.decisions import decision_store

router = Router("polls")  # group chats only (the guard is applied where it is included)
events = Router("polls-events")  # poll answers arrive from the voter's private side


@router.command("poll")
async def poll_command(ctx: Context) -> None:
    """Puts a question to the group as a vote, or explains how to write one."""
    await ballots.create(ctx, VOTE)


@router.button(VoteButton)
async def vote_pressed(ctx: Context, button: VoteButton) -> None:
    """Records (or changes) the member's vote and refreshes the live results."""
    decision = await decision_store.get(ctx.session, button.decision_id)
    option = button.option
    if (
        decision is None
        or decision.kind != VOTE
        or decision.transport != ballots.BUTTONS
        or option >= len(decision.options)
    ):
        raise StaleButton(ctx.event.data)
    if decision.status != decision_store.OPEN:
        ctx.answer(ctx.t("decisions.closed_already"), alert=True)
        return
    volunteer = await ballots.voter(ctx, decision)
    if volunteer is None:
        return
    existing = await decision_store.ballot_of(ctx.session, decision.id, ctx.user_id)
    current = set(existing.choice) if existing is not None else set()
    chosen = current ^ {option} if decision.multiple else {option}
    abstain = decision.abstain_option
    if abstain is not None and len(chosen) > 1:  # abstaining excludes every other choice
        chosen = {option} if option == abstain else chosen - {abstain}
    if chosen == current:
        ctx.answer(ctx.t("decisions.vote_unchanged", option=decision.options[option]))
        return
    if not chosen:
        await decision_store.retract(ctx.session, decision.id, ctx.user_id)
        ctx.answer(ctx.t("decisions.vote_withdrawn"))
    else:
        unit = ballots.unit_for(volunteer, decision.org_voting)
        await decision_store.cast(
            ctx.session, decision.id, ctx.user_id, unit, sorted(chosen), ctx.now()
        )
        labels = ", ".join(decision.options[i] for i in sorted(chosen))
        key = "decisions.vote_changed" if current else "decisions.vote_recorded"
        ctx.answer(ctx.t(key, option=labels))
    ballots.refresh_later(ctx, decision.id)


@events.on("poll_answer")
async def poll_answered(ctx: Context) -> None:
    """Counts an eligible member's answer to a native poll; invites anyone else to register."""
    if ctx.event.poll_id is None:
        return
    decision = await decision_store.by_poll(ctx.session, ctx.event.poll_id)
    if decision is None or decision.status != decision_store.OPEN:
        return
    volunteer = await ballots.voter(ctx, decision)
    if volunteer is None:
        return
    picks = sorted({i for i in ctx.event.option_ids if 0 <= i < len(decision.options)})
    if not decision.multiple:
        picks = picks[:1]
    existing = await decision_store.ballot_of(ctx.session, decision.id, ctx.user_id)
    if not picks:
        await decision_store.retract(ctx.session, decision.id, ctx.user_id)
    else:
        unit = ballots.unit_for(volunteer, decision.org_voting)
        await decision_store.cast(ctx.session, decision.id, ctx.user_id, unit, picks, ctx.now())
        if volunteer.discreet and existing is None:
            ctx.reply(Html(ctx.t("polls.discreet_note", question=decision.question)))
    ballots.refresh_later(ctx, decision.id)
