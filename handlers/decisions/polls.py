"""Majority votes in group chats: /poll, the vote buttons, and answers to native polls.

Why a native poll for some votes and buttons for others is explained in handlers/ballots.py:
open and hidden one-vote-per-person votes are native non-anonymous polls (the bot receives every
poll_answer) unless a discreet member is in the group; anonymous and one-vote-per-organisation
votes use buttons.
"""

from __future__ import annotations

from datetime import datetime

from handlers.decisions import ballots
from handlers.decisions.decision_input import VOTE
from handlers.decisions.decision_views import MEETING_ICONS, SHOW, MarkButton, VoteButton
from handlers.decisions.vote_rules import (
    DEFAULT_DOTS,
    DOTS,
    IF_NEED_BE,
    MAX_SCORE,
    MEETING,
    NO,
    RANKED,
    SCORE,
    UNANSWERED,
    YES,
)
from handlers.kernel.callbacks import StaleButton
from handlers.kernel.context import Context, NotYet
from handlers.kernel.i18n import Html, translator
from handlers.kernel.routing import Router
from storage.decisions import decision_store
from storage.decisions.decision_models import Decision
from storage.models import Volunteer

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
    if decision.rule == RANKED:
        await _rank(ctx, decision, volunteer, existing.choice if existing else [], option)
        return
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
        labels = ctx.t.comma.join(decision.options[i] for i in sorted(chosen))
        key = "decisions.vote_changed" if current else "decisions.vote_recorded"
        ctx.answer(ctx.t(key, option=labels))
    ballots.refresh_later(ctx, decision.id)


@events.on("poll_answer")
async def poll_answered(ctx: Context) -> None:
    """Counts an eligible member's answer to a native poll; invites anyone else to register."""
    if ctx.event.poll_id is None:
        return
    decision = await decision_store.by_poll(ctx.session, ctx.event.poll_id)
    if decision is None and ctx.may_defer:
        # Perhaps the poll was just sent and its decision is not committed yet (a quick voter,
        # a loaded machine): the answer comes again shortly instead of being lost.
        raise NotYet(ctx.event.poll_id)
    if decision is None or decision.status != decision_store.OPEN:
        return
    if ctx.event.on_behalf is not None:  # no person to count: an anonymous admin
        if ctx.event.option_ids:
            text = translator(decision.locale)(
                "decisions.vote_own_name", question=decision.question
            )
            ctx.send(decision.chat_id, text, thread_id=decision.thread_id)
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


async def _rank(
    ctx: Context, decision: Decision, volunteer: Volunteer, ranking: list[int], option: int
) -> None:
    """Ranked choice: a press adds the option as the next preference, or takes it out."""
    ranking = [c for c in ranking if c != option] if option in ranking else [*ranking, option]
    if not ranking:
        await decision_store.retract(ctx.session, decision.id, ctx.user_id)
        ctx.answer(ctx.t("decisions.vote_withdrawn"))
    else:
        unit = ballots.unit_for(volunteer, decision.org_voting)
        await decision_store.cast(ctx.session, decision.id, ctx.user_id, unit, ranking, ctx.now())
        t = ctx.t
        ranked = (f"{n}. {t.isolate(decision.options[i])}" for n, i in enumerate(ranking, start=1))
        ctx.answer(t("decisions.ranking_now", ranking=Html(t.comma.join(ranked))))
    ballots.refresh_later(ctx, decision.id)


@router.button(MarkButton)
async def mark_pressed(ctx: Context, button: MarkButton) -> None:
    """Records a score, a dot or an availability for one option; or shows the person's own."""
    decision = await decision_store.get(ctx.session, button.decision_id)
    size = len(decision.options) if decision is not None else 0
    if (
        decision is None
        or decision.rule not in (SCORE, DOTS, MEETING)
        or not (0 <= button.option < size or button.option == SHOW)
        or not (0 <= button.value <= MAX_SCORE or button.value == SHOW)
    ):
        raise StaleButton(ctx.event.data)
    if decision.status != decision_store.OPEN:
        ctx.answer(ctx.t("decisions.closed_already"), alert=True)
        return
    existing = await decision_store.ballot_of(ctx.session, decision.id, ctx.user_id)
    blank = UNANSWERED if decision.rule == MEETING else 0
    ballot = list(existing.choice) if existing is not None else [blank] * size
    ballot += [blank] * (size - len(ballot))
    if button.value == SHOW:
        ctx.answer(_own(ctx, decision, ballot, button.option == SHOW), alert=True)
        return
    volunteer = await ballots.voter(ctx, decision)
    if volunteer is None:
        return
    option, value = button.option, button.value
    if decision.rule == SCORE:
        ballot[option] = value
    elif decision.rule == MEETING:
        if value not in (YES, IF_NEED_BE, NO):
            raise StaleButton(ctx.event.data)
        ballot[option] = value
    elif value == 1:
        if sum(ballot) >= (decision.dots or DEFAULT_DOTS):
            ctx.answer(ctx.t("decisions.no_dots_left", dots=decision.dots), alert=True)
            return
        ballot[option] += 1
    elif ballot[option] > 0:
        ballot[option] -= 1
    if decision.rule == DOTS and not any(ballot):
        await decision_store.retract(ctx.session, decision.id, ctx.user_id)
        ctx.answer(ctx.t("decisions.vote_withdrawn"))
    else:
        unit = ballots.unit_for(volunteer, decision.org_voting)
        await decision_store.cast(ctx.session, decision.id, ctx.user_id, unit, ballot, ctx.now())
        ctx.answer(_own(ctx, decision, ballot, False))
    ballots.refresh_later(ctx, decision.id)


def _own(ctx: Context, decision: Decision, ballot: list[int], moments: bool) -> str:
    """The person's own ballot, in a toast (plain text, at most 200 characters); for a meeting
    time, each moment in the person's own time zone."""
    zone = (ctx.volunteer.timezone if ctx.volunteer else None) or decision.timezone
    labels = list(decision.options)
    if decision.rule == MEETING and decision.moments:
        labels = [ctx.t.datetime_text(datetime.fromisoformat(m), zone) for m in decision.moments]
    if moments:
        return ctx.t("decisions.in_your_zone", zone=zone, moments="\n".join(labels))[:200]
    if decision.rule == SCORE:
        parts = [f"{label} {value}★" for label, value in zip(labels, ballot, strict=False)]
    elif decision.rule == DOTS:
        left = (decision.dots or DEFAULT_DOTS) - sum(ballot)
        parts = [f"{label} {value}" for label, value in zip(labels, ballot, strict=False) if value]
        parts.append(ctx.t.plural("decisions.dots_left", left))
    else:
        parts = [
            f"{MEETING_ICONS[value]} {label}"
            for label, value in zip(labels, ballot, strict=False)
            if value != UNANSWERED
        ]
    return ctx.t("decisions.your_ballot", ballot=ctx.t.semicolon.join(parts))[:200]
