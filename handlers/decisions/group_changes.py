"""What becomes of a group's decisions when the group changes under them.

- The bot is removed from the group (my_chat_member: left or kicked): every open decision there
  is paused — its close and reminders cancelled, its live results no longer edited, what waited
  in the outbox for the group stopped — and whoever started it is told privately. Added back,
  the bot resumes them (a deadline passed meanwhile closes them at once) and says so.
- The group becomes a supergroup: a new chat id, and message ids that start afresh there. The
  decisions follow it; an open one is posted again in the new chat (a new native poll, a new
  live results message: the old poll cannot be stopped in a chat that is no more, and an old
  message id would name another message of the new chat). Ballots cast so far still count.
"""

from __future__ import annotations

from handlers.decisions import ballots
from handlers.kernel.context import Context
from handlers.kernel.events import GROUP_ANONYMOUS_BOT_ID
from handlers.kernel.i18n import translator
from handlers.kernel.routing import Router
from storage import outbox
from storage.coalition import group_store
from storage.decisions import decision_store
from storage.decisions.decision_models import Decision
from storage.people import volunteers

events = Router("decisions-group-changes")

NOT_IN_GROUP = "not_in_group"  # why the outbox stopped a group's rows


@events.on("bot_membership")
async def bot_removed_or_back(ctx: Context) -> None:
    """Pauses a group's decisions when the bot is removed from it; resumes them when it is back."""
    chat = ctx.event.chat
    if not chat.is_group:
        return
    if ctx.event.member_status in group_store.PRESENT:
        await _resume(ctx)
        return
    await outbox.stop_chat(ctx.session, chat.id, NOT_IN_GROUP)
    for decision in await decision_store.in_chat(ctx.session, chat.id, decision_store.OPEN):
        decision.status = decision_store.PAUSED
        await ctx.cancel_timers(ballots.CLOSE_TIMER, f"{decision.id}:")
        await ctx.cancel_timers(ballots.NUDGE_TIMER, f"{decision.id}:")
        for moment in (ballots.HALFWAY, ballots.HOUR_BEFORE):
            await outbox.stop(ctx.session, f"decision:{decision.id}:{moment}")
        await _tell_author(ctx, decision, "decisions.paused_removed")
    await ctx.session.flush()


async def _resume(ctx: Context) -> None:
    for decision in await decision_store.in_chat(ctx.session, ctx.chat_id, decision_store.PAUSED):
        decision.status = decision_store.OPEN
        await ctx.session.flush()
        await ballots.schedule_timers(ctx, decision)
        if decision.results_message_id is None:  # it moved meanwhile: nothing to edit there
            ballots.publish(ctx, decision, await ballots.assess(ctx.session, decision))
        else:
            ballots.refresh_later(ctx, decision.id)
        await _tell_author(ctx, decision, "decisions.resumed")


@events.on("migration")
async def group_migrated(ctx: Context) -> None:
    """Follows a group that became a supergroup, and posts its open decisions there again."""
    new_id = ctx.event.migrate_to_chat_id
    if new_id is None:
        return
    for decision in await decision_store.move_chat(ctx.session, ctx.chat_id, new_id):
        if decision.status == decision_store.OPEN:
            await ballots.schedule_timers(ctx, decision)  # their chat is the new one now
            ballots.publish(ctx, decision, await ballots.assess(ctx.session, decision))


async def _tell_author(ctx: Context, decision: Decision, key: str) -> None:
    """Tells the person who started the decision, in their language (an anonymous admin, who
    cannot be written to, is not told)."""
    if decision.created_by == GROUP_ANONYMOUS_BOT_ID:
        return
    author = await volunteers.get(ctx.session, decision.created_by)
    group = await group_store.get(ctx.session, decision.chat_id)
    t = translator(author.language if author is not None else decision.locale)
    title = (group.title if group is not None else None) or ctx.event.chat.title or ""
    ctx.send(decision.created_by, t(key, question=decision.question, group=title))
