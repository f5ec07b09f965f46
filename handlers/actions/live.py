"""Every message that shows an action is kept current, or marked as outdated (issue 14).

The announcements (each volunteer's original message and the group posts) are edited to the
action as it is now: its time and place, the places left, the reader's answer and place on the
waitlist, and buttons only while answers are taken. Older notices about it (reminders, "changed"
notices) get a line saying they are outdated and lose their buttons; once the action is over
(ended, closed, cancelled) they are headed by its status instead, and lose the reader's place
on the waitlist and the places left (a notice must not keep promising a place). Edits of
people's messages go through the outbox (ref "e<action id>"), so a kill or a flood loses none; a
group post's places-left line follows each answer at once, coalesced, as Telegram's group edit
limits require.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from handlers.actions.action_views import person_view, shown_status, without_places
from handlers.kernel.context import Context, Services
from handlers.kernel.i18n import Html, translator
from handlers.kernel.ports import Messenger, MessengerError
from handlers.kernel.routing import Router
from storage import outbox
from storage.actions import action_store, broadcast_store
from storage.actions.action_models import Action
from storage.coalition import group_store
from storage.outbox import Outgoing, SentMessage

log = logging.getLogger(__name__)

events = Router("actions-live-events")  # a group that became a supergroup


def edits_ref(action_id: int) -> str:
    """The outbox ref of the edits of an action's messages."""
    return f"e{action_id}"


def promoted_ref(action_id: int) -> str:
    """The outbox ref of the "a place freed up" notices of an action."""
    return f"p{action_id}"


def confirm_ref(action_id: int) -> str:
    """The outbox ref of an event's "Still coming?" questions (handlers/actions/attendance)."""
    return f"c{action_id}"


def invitations_ref(action_id: int) -> str:
    """The outbox ref of the invitations to an event's open roles (handlers/actions/slots)."""
    return f"i{action_id}"


def _answered_only_here(action_id: int) -> tuple[str, str]:
    """Notices whose buttons no later notice replaces: a role invitation (its reader got no
    call nor, not having answered, any notice of a change) and a "Still coming?" question.
    Marked only once the action is over; an edit while it is open leaves them their buttons."""
    return invitations_ref(action_id), confirm_ref(action_id)


async def _messages(
    session: AsyncSession, action_id: int, chats: Collection[int] | None = None
) -> tuple[list[SentMessage], list[SentMessage]]:
    """The action's delivered announcements, and its other delivered notices (only those in
    these `chats` when given: a press reads its presser's, not the whole audience's)."""
    # Every notice with buttons that answer the action: once it is over they must not answer.
    notices = (promoted_ref(action_id), confirm_ref(action_id), invitations_ref(action_id))
    originals, others = await outbox.action_messages(session, action_id, notices, chats)
    # A group the bot was removed from is not written to: its posts wait until it is back.
    gone = await group_store.absent(
        session, {m.chat_id for m in originals + others if m.chat_id < 0}
    )
    if gone:
        originals = [m for m in originals if m.chat_id not in gone]
        others = [m for m in others if m.chat_id not in gone]
    return originals, others


async def refresh(
    ctx: Context,
    action: Action,
    *,
    users: Collection[int] | None = None,
    outdate: bool = False,
    standing: action_store.Standing | None = None,
    originals: Sequence[SentMessage] | None = None,
) -> int:
    """Queues edits of the messages that show the action (only these `users`' originals when
    given; the group posts and every original otherwise); with `outdate`, or once the action
    no longer takes answers, older notices are marked and lose their buttons. Returns how many.
    `standing`: the action's standing as these users see it, when the caller has it;
    `originals`: these users' announcements (in their private chats), when the caller read
    them (a press reads its presser's with the action: issue 17)."""
    now = ctx.now()
    if users is not None:
        wanted = set(users)
        if originals is None:
            originals, _ = await _messages(ctx.session, action.id, wanted)
        others: list[SentMessage] = []
        if not originals:
            return 0
        if standing is None:
            standing = await action_store.standing_for(ctx.session, action, wanted)
    else:
        originals, others = await _messages(ctx.session, action.id)
        standing = await action_store.standing(ctx.session, action.id)
    private = {m.chat_id for m in [*originals, *others] if m.chat_id > 0}
    people: dict[int, action_store.Recipient] = {}
    volunteer = ctx.volunteer
    if volunteer is not None and volunteer.user_id in private:  # the presser: already read
        people[volunteer.user_id] = action_store.Recipient(
            volunteer.user_id, volunteer.language, volunteer.timezone
        )
    for found in await action_store.recipients(ctx.session, private - set(people)):
        people[found.user_id] = found
    default = ctx.settings.default_locale
    status = shown_status(action, now)
    edits: list[Outgoing] = []
    for message in originals:
        person = people.get(message.chat_id)
        t = translator(person.language if person else default)
        zone = person.timezone if person else action.timezone
        reader = message.chat_id if message.chat_id > 0 else None
        text, keyboard = person_view(t, action, zone, now, standing, reader)
        edits.append(Outgoing(message.chat_id, text, keyboard, edit_of=message.message_id))
    if outdate or status != action_store.OPEN:
        for message in others:
            if status == action_store.OPEN and message.ref in _answered_only_here(action.id):
                continue  # its buttons are the only ones its reader has: kept while open
            person = people.get(message.chat_id)
            t = translator(person.language if person else default)
            if status == action_store.OPEN:
                text = Html(t("actions.outdated") + "\n\n" + message.text)
            else:  # over: no place promised any more
                body = without_places(t, message.text, action.capacity, standing.slots)
                text = Html(t(f"actions.banner_{status}") + "\n\n" + body)
            edits.append(Outgoing(message.chat_id, text, None, edit_of=message.message_id))
    return await ctx.enqueue(edits, purpose="action_edit", ref=edits_ref(action.id))


def refresh_groups_later(ctx: Context, action: Action) -> None:
    """After commit, edits the action's group posts to the places left now (coalesced). An
    action posted in no group has none: nothing to read then (a press in a storm)."""
    if not action.group_ids:
        return
    services = ctx.services
    action_id = action.id

    async def submit(_: Messenger) -> None:
        async def job() -> None:
            await _refresh_groups(services, action_id)

        await services.edits.submit(("action", action_id), job)

    ctx.after_commit(submit)


async def _refresh_groups(services: Services, action_id: int) -> None:
    now: datetime = services.clock.now()
    async with services.sessionmaker() as session:
        action = await action_store.get(session, action_id)
        if action is None:
            return
        originals, _ = await _messages(session, action_id)
        originals = [m for m in originals if m.chat_id < 0]
        if not originals:
            return
        standing = await action_store.standing_for(session, action, ())
    t = translator(services.settings.default_locale)
    text, keyboard = person_view(t, action, action.timezone, now, standing, None)
    for message in originals:
        try:
            await services.messenger.edit_message(
                message.chat_id, message.message_id, text, keyboard
            )
        except MessengerError as exc:  # not modified, deleted, or the bot left the group
            log.info("group post of action %s not refreshed: %r", action_id, exc)


@events.on("migration")
async def group_migrated(ctx: Context) -> None:
    """Follows a group that became a supergroup: its open actions are posted there again (the
    old posts' ids name nothing, or another message, in the new chat), and kept current there."""
    new_id = ctx.event.migrate_to_chat_id
    if new_id is None:
        return
    now = ctx.now()
    t = translator(ctx.settings.default_locale)
    for action in await action_store.open_in_group(ctx.session, ctx.chat_id):
        action.group_ids = [new_id if g == ctx.chat_id else g for g in action.group_ids]
        announced = [
            b
            for b in await broadcast_store.of_action(ctx.session, action.id)
            if b.purpose == "announce"
        ]
        if not announced:
            continue
        standing = await action_store.standing(ctx.session, action.id)
        text, keyboard = person_view(t, action, action.timezone, now, standing, None)
        await ctx.enqueue(
            [Outgoing(new_id, text, keyboard)],
            purpose="broadcast",
            ref=broadcast_store.ref(announced[-1].id),
        )
