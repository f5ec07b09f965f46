"""Reminders before a decision closes: the eligible members who have not voted, privately.

Halfway and one hour before the close (handlers/ballots.py schedules them). Nobody is reminded
twice for the same moment (decision_nudges rows), nobody who voted (or whose organisation
voted, with one vote per organisation) is reminded, extending a vote does not re-run a moment
that has run, and anyone can turn the reminders off (and on again) with the button they get.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from handlers.decisions import ballots
from handlers.kernel import quiet_hours
from handlers.kernel.callbacks import CallbackData, StaleButton
from handlers.kernel.context import Context
from handlers.kernel.events import GROUP_ANONYMOUS_BOT_ID
from handlers.kernel.i18n import translator
from handlers.kernel.permissions import may_manage_decision, refusal
from handlers.kernel.ports import Button
from handlers.kernel.routing import Router
from storage.coalition import group_store
from storage.decisions import decision_store
from storage.decisions.decision_models import Decision
from storage.models import Volunteer
from storage.outbox import Outgoing
from storage.people import volunteers

events = Router("nudges-events")  # timers
private = Router("nudges-private")  # the on/off buttons, in private chats


class RescueButton(CallbackData, prefix="drescue"):
    """One more day for a vote short of its quorum, from its author's private chat."""

    decision_id: int


RESCUE = "rescue"  # in Decision.nudged once the extension was offered and taken
RESCUE_BY = timedelta(days=1)


class NudgeSwitch(CallbackData, prefix="dnudge"):
    """Turns reminders about group decisions on or off: dnudge:on | dnudge:off."""

    state: Literal["on", "off"]


class GroupNudgeSwitch(CallbackData, prefix="dnudgeg"):
    """Turns reminders about one group's decisions on or off: dnudgeg:<group>:on|off, where
    <group> is minus the chat id (a group's id is negative; buttons carry non-negative ints)."""

    group: int
    state: Literal["on", "off"]

    @property
    def chat_id(self) -> int:
        """The group's chat id."""
        return -self.group


def message_link(chat_id: int, message_id: int | None) -> str | None:
    """A t.me link to a message of a supergroup (basic groups have no message links)."""
    text = str(chat_id)
    if message_id is None or not text.startswith("-100"):
        return None
    return f"https://t.me/c/{text[4:]}/{message_id}"


def nudge_for(
    decision: Decision, volunteer: Volunteer, title: str, not_before: datetime | None = None
) -> Outgoing:
    """One reminder, in the member's language and time zone, due at `not_before` (UTC; None:
    now)."""
    t = translator(volunteer.language)
    closes = t.datetime_text(decision.closes_at, volunteer.timezone or decision.timezone)
    text = t("nudges.reminder", question=decision.question, group=title, time=closes)
    rows: list[list[Button]] = []
    link = message_link(decision.chat_id, decision.results_message_id)
    if link is not None:
        rows.append([Button(t("nudges.open_vote"), url=link)])
    rows.append([Button(t("nudges.mute_group"), GroupNudgeSwitch(-decision.chat_id, "off").pack())])
    rows.append([Button(t("nudges.stop"), NudgeSwitch("off").pack())])
    return Outgoing(volunteer.user_id, text, rows, not_before)


@events.timer(ballots.NUDGE_TIMER)
async def nudge_due(ctx: Context) -> None:
    """Reminds the eligible members who have not voted yet."""
    payload = ctx.event.payload or {}
    decision = await decision_store.get(ctx.session, int(payload.get("decision", 0)))
    moment = str(payload.get("moment", ""))
    if decision is None or decision.status != decision_store.OPEN or moment in decision.nudged:
        return
    if await ctx.superseded(f"{decision.id}:"):  # a later nudge is overdue too: it alone goes
        decision.nudged = [*decision.nudged, moment]
        return
    decision.nudged = [*decision.nudged, moment]
    rows = await decision_store.ballots(ctx.session, decision.id)
    voted = {row.unit for row in rows if ballots.counts_as_vote(decision, row.choice)}
    quiet = [
        v
        for v in await decision_store.eligible(ctx.session, decision.chat_id)
        if ballots.unit_for(v, decision.org_voting) not in voted
        and ballots.votes_here(v, decision.org_voting)
    ]
    skip = await decision_store.not_to_nudge(ctx.session, [v.user_id for v in quiet])
    now = ctx.now()
    # Quiet hours (issue 16): a reminder waits for the member's morning, and one that could
    # only arrive after the vote closes is not sent at all.
    night = {v.user_id: quiet_hours.held_until(v.quiet_hours, v.timezone, now) for v in quiet}

    def in_time(user_id: int) -> bool:
        until = night[user_id]
        return until is None or until < decision.closes_at

    # "Not for this group" (issue 16): this group's reminders only.
    muted = volunteers.group_mute(decision.chat_id)
    wanted = [
        v
        for v in quiet
        if v.user_id not in skip and in_time(v.user_id) and not volunteers.is_muted(v, muted)
    ]
    fresh = set(
        await decision_store.mark_nudged(
            ctx.session, decision.id, [v.user_id for v in wanted], moment, now
        )
    )
    group = await group_store.get(ctx.session, decision.chat_id)
    title = group.title if group is not None else ""
    messages = [
        nudge_for(decision, v, title, night[v.user_id]) for v in wanted if v.user_id in fresh
    ]
    await ctx.enqueue(messages, purpose="nudge", ref=f"decision:{decision.id}:{moment}")
    if moment == ballots.HOUR_BEFORE:
        await _rescue_quorum(ctx, decision)


async def _rescue_quorum(ctx: Context, decision: Decision) -> None:
    """Quorum rescue: an hour before the close, a quorum not reached yet is out of reach for a
    vote that closes now; the quiet members were just reminded, and the person who started it
    is told, privately, with one extension of a day they may take (once per decision)."""
    snap = await ballots.assess(ctx.session, decision)
    if not snap.needed or snap.voters >= snap.needed or RESCUE in decision.nudged:
        return
    if decision.created_by == GROUP_ANONYMOUS_BOT_ID:  # an anonymous admin: nobody to write to
        return
    author = (await decision_store.people(ctx.session, [decision.created_by])).get(
        decision.created_by
    )
    t = translator(author.language if author is not None else decision.locale)
    zone = (author.timezone if author is not None else None) or decision.timezone
    text = t(
        "decisions.quorum_rescue",
        question=decision.question,
        voters=snap.voters,
        needed=snap.needed,
        time=t.datetime_text(decision.closes_at, zone),
    )
    button = Button(t("decisions.button.rescue"), RescueButton(decision.id).pack())
    ctx.send(decision.created_by, text, [[button]])


@private.button(RescueButton)
async def rescue_pressed(ctx: Context, button: RescueButton) -> None:
    """Gives a vote short of its quorum one more day (once), at its author's request."""
    decision = await decision_store.get(ctx.session, button.decision_id)
    if decision is None:
        raise StaleButton(ctx.event.data)
    if decision.status != decision_store.OPEN:
        ctx.answer(ctx.t("decisions.closed_already"), alert=True)
        return
    if not may_manage_decision(ctx.roles, ctx.user_id, decision):
        ctx.answer(refusal(ctx.t, "decisions.manage", or_author=True), alert=True)
        return
    if RESCUE in decision.nudged:
        ctx.answer(ctx.t("decisions.rescue_used"), alert=True)
        return
    decision.nudged = [*decision.nudged, RESCUE]
    if await ballots.extend(ctx, decision, RESCUE_BY):
        ctx.answer(ctx.t("decisions.extended_toast"))
        ctx.edit_keyboard([])
    else:
        ctx.answer(ctx.t("decisions.error.extend_too_far"), alert=True)


@private.button(NudgeSwitch)
async def switch_pressed(ctx: Context, button: NudgeSwitch) -> None:
    """Turns reminders about group decisions off, or back on."""
    wanted = button.state == "on"
    await decision_store.set_nudges(ctx.session, ctx.user_id, wanted, ctx.now())
    if wanted:
        ctx.answer(ctx.t("nudges.on"))
        ctx.edit_keyboard([])
    else:
        ctx.answer()
        ctx.reply(
            ctx.t("nudges.off"), [[Button(ctx.t("nudges.turn_on"), NudgeSwitch("on").pack())]]
        )


@private.button(GroupNudgeSwitch)
async def group_switch_pressed(ctx: Context, button: GroupNudgeSwitch) -> None:
    """Turns reminders about one group's decisions off, or back on (also in /profile →
    What reaches you)."""
    volunteer = ctx.volunteer
    if volunteer is None:
        raise StaleButton(ctx.event.data)
    group = await group_store.get(ctx.session, button.chat_id)
    title = group.title if group is not None else ""
    wanted = button.state == "on"
    key = volunteers.group_mute(button.chat_id)
    await volunteers.set_muted(ctx.session, volunteer, key, not wanted, ctx.now())
    if wanted:
        ctx.answer(ctx.t("nudges.group_on", group=title))
        ctx.edit_keyboard([])
    else:
        ctx.answer()
        back_on = GroupNudgeSwitch(button.group, "on").pack()
        ctx.reply(
            ctx.t("nudges.group_off", group=title),
            [[Button(ctx.t("nudges.turn_on"), back_on)]],
        )
