"""RSVP buttons: Going / Maybe / Can't for events, "I signed" / "I sent it" for petitions, letters.

An answer is stored once per volunteer and action (a second press of the same button, or a
replayed update, changes nothing). When an event is full, new "Going" answers join a waitlist,
promoted in order — and told — when a place frees up.
"""

from __future__ import annotations

from handlers.actions.action_views import (
    KINDS,
    RsvpButton,
    answer_label,
    answers_for,
    render,
    rsvp_keyboard,
)
from handlers.actions.broadcasts import MuteButton
from handlers.kernel.callbacks import StaleButton
from handlers.kernel.context import Context
from handlers.kernel.i18n import Html, translator
from handlers.kernel.ports import Button
from handlers.kernel.routing import Router
from storage.actions import action_store
from storage.actions.action_models import Action
from storage.outbox import Outgoing
from storage.people import volunteers

router = Router("rsvp")


@router.button(RsvpButton)
async def answer(ctx: Context, button: RsvpButton) -> None:
    """Records the volunteer's answer to an action, or puts them on its waitlist."""
    choice = button.answer
    action = await action_store.get(ctx.session, button.action_id, lock=True)
    if action is None or choice not in answers_for(action.kind):
        raise StaleButton(ctx.event.data)
    if action.status != action_store.OPEN:
        ctx.answer(ctx.t(f"rsvp.action_{action.status}"), alert=True)
        return
    previous = await action_store.answer_of(ctx.session, action.id, ctx.user_id)
    before = previous.status if previous is not None else None
    if before == choice or (before == action_store.WAITLIST and choice == action_store.GOING):
        ctx.answer(ctx.t("rsvp.unchanged"))
        return
    status = choice
    if choice == action_store.GOING and action.capacity is not None:
        going = (await action_store.counts(ctx.session, action.id)).get(action_store.GOING, 0)
        if going >= action.capacity:
            status = action_store.WAITLIST
    await action_store.set_answer(ctx.session, action.id, ctx.user_id, status, ctx.now())
    if before == action_store.GOING:
        await promote(ctx, action)
    if status == action_store.WAITLIST:
        ctx.answer(ctx.t("rsvp.waitlisted"), alert=True)
    else:
        ctx.answer(ctx.t("rsvp.recorded", answer=answer_label(ctx.t, action.kind, status)))
    if ctx.event.chat.is_private:
        ctx.edit_keyboard(rsvp_keyboard(ctx.t, action.id, action.kind, status))


async def promote(ctx: Context, action: Action) -> int:
    """Gives free places to the waitlist, first come first served, and tells those promoted."""
    if action.capacity is None:
        free = 1 << 30
    else:
        going = (await action_store.counts(ctx.session, action.id)).get(action_store.GOING, 0)
        free = action.capacity - going
    if free <= 0:
        return 0
    promoted = await action_store.waitlisted(ctx.session, action.id, min(free, 1000))
    for rsvp in promoted:
        await action_store.set_answer(
            ctx.session, action.id, rsvp.user_id, action_store.GOING, ctx.now()
        )
    people = await action_store.recipients(ctx.session, [r.user_id for r in promoted])
    messages = []
    for person in people:
        t = translator(person.language)
        text = Html(t("rsvp.promoted") + "\n\n" + render(t, action, person.timezone))
        messages.append(Outgoing(person.user_id, text))
    await ctx.enqueue(messages, purpose="notice", ref=f"p{action.id}")
    return len(promoted)


@router.button(MuteButton)
async def mute_pressed(ctx: Context, button: MuteButton) -> None:
    """Stops (or restarts) calls to action of one kind for this volunteer ("Less like this")."""
    volunteer = ctx.volunteer
    if volunteer is None or button.kind not in KINDS:
        raise StaleButton(ctx.event.data)
    muted = button.state == "off"
    what = volunteers.action_mute(button.kind)
    await volunteers.set_muted(ctx.session, volunteer, what, muted, ctx.now())
    kind = ctx.t(f"actions.kind_{button.kind}")
    if not muted:
        ctx.answer(ctx.t("mute.on", kind=kind))
        ctx.edit_keyboard([])
        return
    ctx.answer()
    undo = MuteButton(button.kind, "on").pack()
    ctx.reply(ctx.t("mute.off", kind=kind), [[Button(ctx.t("mute.undo"), undo)]])
