"""RSVP buttons: Going / Maybe / Can't for events, "I signed" / "I sent it" for petitions, letters
(and "I haven't signed after all" to take it back).

An answer is stored once per volunteer and action (a second press of the same button, or a
replayed update, changes nothing). When an event is full, new "Going" answers join a waitlist,
promoted in order — and told — when a place frees up. Once the action is over (its end, or its
deadline, has passed) no answer is taken and nobody is promoted.
"""

from __future__ import annotations

from handlers.actions import live
from handlers.actions.action_views import (
    KINDS,
    UNDO,
    RsvpButton,
    answer_label,
    answers_for,
    is_event,
    is_live,
    person_view,
    rsvp_keyboard,
    shown_status,
    skill_text,
)
from handlers.actions.broadcasts import MuteButton
from handlers.kernel.callbacks import CallbackData, StaleButton
from handlers.kernel.context import Context
from handlers.kernel.i18n import Html, translator
from handlers.kernel.ports import Button
from handlers.kernel.routing import Router
from storage import outbox
from storage.actions import action_store
from storage.actions.action_models import Action, Rsvp
from storage.outbox import Outgoing, SentMessage
from storage.people import volunteers

router = Router("rsvp")


@router.button(RsvpButton)
async def answer(ctx: Context, button: RsvpButton) -> None:
    """Records the volunteer's answer to an action, or puts them on its waitlist.

    A press must cost the same however many answered before (issue 17): the action's counts are
    kept on it (read with the lock), and only this person's answer and place are read."""
    choice = button.answer
    if button.action_id == 0:  # a button of a preview or a test: names no action
        ctx.answer(ctx.t("actions.preview_button"))
        return
    notices = live.promoted_ref(button.action_id)  # "a place freed up", with its buttons
    pressed = ctx.event.message_id if ctx.event.chat.is_private else None
    # The next presses of a batch: the action is held by this transaction already, so it is
    # checked first and their first answer written in `for_answer`'s statement.
    held = action_store.held_for_answer(ctx.session, button.action_id)
    first = None
    if held is not None:
        if await _refused(ctx, button, *held):
            return
        status = _status(choice, held[0])
        if choice != UNDO and not (choice == action_store.GOING and held[1]):
            first = action_store.FirstAnswer(status, ctx.now())
    found = await action_store.for_answer(
        ctx.session, button.action_id, ctx.user_id, notices, pressed, first=first
    )
    if found is None:
        raise StaleButton(ctx.event.data)
    action, previous, has_slots = found.action, found.previous, found.has_slots
    if held is None:
        if await _refused(ctx, button, action, has_slots):
            return
        status = _status(choice, action)
    going = action.going_count - (1 if found.first_written and status == action_store.GOING else 0)
    written, waiting_place = found.first_written, found.first_place
    if not found.known:  # PostgreSQL: a first answer is written without reading it first
        tried = found.first_tried and not has_slots  # roles added meanwhile: it was not
        if not tried and choice != UNDO and not (choice == action_store.GOING and has_slots):
            written, waiting_place = await action_store.first_answer(
                ctx.session, action.id, ctx.user_id, status, ctx.now()
            )
        if not written:
            previous = await action_store.answer_of(ctx.session, action.id, ctx.user_id)
    before = previous.status if previous is not None else None
    if choice == UNDO:
        await _undo(ctx, action, before)
        return
    if before == choice or (before == action_store.WAITLIST and choice == action_store.GOING):
        ctx.answer(ctx.t("rsvp.unchanged"))
        return
    if choice == action_store.GOING and has_slots:
        ctx.answer()
        await _ask_role(ctx, action)
        return
    if not written:
        waiting_place = await action_store.set_answer_placed(
            ctx.session, action.id, ctx.user_id, status, ctx.now(), previous=previous
        )
    if before == action_store.GOING:
        await not_coming(ctx, action, ctx.user_id)
    elif before == action_store.WAITLIST:
        await _shift_waitlist(ctx, action)
    if has_slots:  # counted per role: the whole standing (an action with roles is small)
        standing = await action_store.standing(ctx.session, action.id)
    else:
        positions = {}
        if status == action_store.WAITLIST:
            positions[ctx.user_id] = waiting_place or 1
        standing = action_store.Standing(
            action_store.counts_of(action), {ctx.user_id: status}, positions
        )
    position = standing.positions.get(ctx.user_id)
    if status == action_store.WAITLIST:
        place = ctx.t.number(position or 1)
        ctx.answer(ctx.t("rsvp.waitlisted", position=place), alert=True)
    else:
        ctx.answer(ctx.t("rsvp.recorded", answer=answer_label(ctx.t, action.kind, status)))
    keyboard = rsvp_keyboard(ctx.t, action.id, action.kind, status, position, calendar=True)
    if ctx.event.chat.is_private and not found.pressed_stripped:
        # (A copy marked outdated keeps no buttons: a tap on one its screen still showed is
        # taken, but gave them back.)
        ctx.edit_keyboard(keyboard)
    # Their other copies of its buttons (a reminder, "a place freed up") show the answer too:
    # each kept the one it was sent with (a sandbox finding: ✅ Going there, ✅ Can't here).
    # The announcement as well, pressed elsewhere; with places it is redrawn whole below.
    copies = found.noticed if action.capacity is not None else found.noticed + found.announced
    for message_id in copies:
        if message_id != pressed:
            ctx.edit_keyboard_of(ctx.user_id, message_id, keyboard)
    if action.capacity is not None:
        # The places-left line: the presser's own message now; everyone's when the action
        # became full or has places again (not at every press: that would be an edit per
        # volunteer per answer). The group posts follow every answer (coalesced).
        full_before = going >= action.capacity
        full_now = (standing.places_left(action.capacity) or 0) == 0
        if full_before != full_now:
            await live.refresh(ctx, action)
        else:
            announced = [SentMessage("", ctx.user_id, m, "") for m in found.announced]
            await live.refresh(
                ctx, action, users=[ctx.user_id], standing=standing, originals=announced
            )
    live.refresh_groups_later(ctx, action)


class SlotButton(CallbackData, prefix="sl"):
    """Going, in one role of an action: sl:<action id>:<slot id>."""

    action_id: int
    slot_id: int


async def _ask_role(ctx: Context, action: Action) -> None:
    """Asks, in the person's private chat, which role they take."""
    t = ctx.t
    standing = await action_store.standing(ctx.session, action.id)
    rows = []
    for slot in standing.slots:
        places = (
            t.plural("actions.slot_left", slot.left, total=t.number(slot.capacity))
            if slot.left
            else t("actions.slot_waitlist_button")
        )
        label = f"{slot.name}{skill_text(t, slot.skill)} — {places}"
        rows.append([Button(label[:64], SlotButton(action.id, slot.id).pack())])
    ctx.send(ctx.user_id, t("actions.ask_role", title=action.title), rows)


@router.button(SlotButton)
async def take_role(ctx: Context, button: SlotButton) -> None:
    """Records Going in the chosen role, or a place on that role's waitlist."""
    action = await action_store.get(ctx.session, button.action_id, lock=True)
    if action is None:
        raise StaleButton(ctx.event.data)
    slot = next(
        (s for s in await action_store.slots_of(ctx.session, action.id) if s.id == button.slot_id),
        None,
    )
    if slot is None:
        raise StaleButton(ctx.event.data)
    status_now = shown_status(action, ctx.now())
    if status_now != action_store.OPEN:
        ctx.answer(ctx.t(f"rsvp.action_{status_now}"), alert=True)
        ctx.edit_keyboard(None)
        return
    if await _passed_over_first(ctx, action, has_slots=True):
        ctx.edit_keyboard(None)
        return
    previous = await action_store.answer_of(ctx.session, action.id, ctx.user_id)
    before = previous.status if previous is not None else None
    if previous is not None and previous.slot_id == slot.id and before in WAITING_OR_GOING:
        ctx.answer(ctx.t("rsvp.unchanged"))
        return
    going = await action_store.slot_going(ctx.session, action.id, slot.id)
    status = action_store.GOING if going < slot.capacity else action_store.WAITLIST
    await action_store.set_answer(
        ctx.session, action.id, ctx.user_id, status, ctx.now(), slot_id=slot.id
    )
    if before == action_store.GOING:  # Going in another role still, or waiting for this one
        gone = leaves if status == action_store.GOING else not_coming
        await gone(ctx, action, ctx.user_id)
    elif before == action_store.WAITLIST:
        await _shift_waitlist(ctx, action)
    standing = await action_store.standing(ctx.session, action.id)
    if status == action_store.WAITLIST:
        place = ctx.t.number(standing.positions.get(ctx.user_id) or 1)
        ctx.answer(ctx.t("rsvp.waitlisted", position=place), alert=True)
        ctx.edit(ctx.t("actions.role_waiting", role=slot.name, position=place))
    else:
        ctx.answer(ctx.t("rsvp.recorded", answer=answer_label(ctx.t, action.kind, status)))
        ctx.edit(ctx.t("actions.role_taken", role=slot.name, title=action.title))
    await live.refresh(ctx, action, users=[ctx.user_id])
    live.refresh_groups_later(ctx, action)


WAITING_OR_GOING = (action_store.GOING, action_store.WAITLIST)


async def _undo(ctx: Context, action: Action, before: str | None) -> None:
    """Takes back "I signed" / "I sent it"."""
    if before != action_store.DONE:
        ctx.answer(ctx.t("rsvp.unchanged"))
        return
    await action_store.clear_answer(ctx.session, action.id, ctx.user_id)
    ctx.answer(ctx.t("rsvp.undone"))
    if ctx.event.chat.is_private:
        ctx.edit_keyboard(rsvp_keyboard(ctx.t, action.id, action.kind, None))
    live.refresh_groups_later(ctx, action)


async def withdraw_everywhere(ctx: Context, user_id: int) -> None:
    """Takes back a person's Going, Maybe and waitlist answers to every action still taking
    answers: they are erasing their data (/forget, /vanish) and will not come. A freed place
    goes to the waitlist in turn, as if they had said Can't. Answers to actions that are over
    stay, anonymised by the erasure, so that what happened is still counted right."""
    for action_id in await action_store.coming_to(ctx.session, user_id):
        action = await action_store.get(ctx.session, action_id, lock=True)
        previous = await action_store.answer_of(ctx.session, action_id, user_id)
        if action is None or previous is None or not is_live(action, ctx.now()):
            continue
        await action_store.clear_answer(ctx.session, action.id, user_id)
        if previous.status == action_store.GOING:
            await not_coming(ctx, action, user_id)
        elif previous.status == action_store.WAITLIST:
            await _shift_waitlist(ctx, action)
        live.refresh_groups_later(ctx, action)


async def _shift_waitlist(ctx: Context, action: Action) -> None:
    """Shows those still waiting their new place on the waitlist."""
    standing = await action_store.standing(ctx.session, action.id)
    if standing.positions:
        await live.refresh(ctx, action, users=standing.positions)


async def leaves(ctx: Context, action: Action, user_id: int) -> list[int]:
    """A volunteer who was going is no more: a "place freed up" notice to them not sent yet is
    not sent (it would tell them they are in: their Can't and another's, pressed together, had
    one promote them and the other take it back), and their place goes to the waitlist
    (`promote`). Returns who was promoted."""
    await outbox.stop(ctx.session, live.promoted_ref(action.id), chat_id=user_id)
    return await promote(ctx, action)


async def not_coming(ctx: Context, action: Action, user_id: int) -> list[int]:
    """`leaves`, for a volunteer who is not going at all any more (not one who changed role):
    their "Still coming?" question is not asked any more either — not sent if it waits, its
    buttons taken away if delivered (a sandbox finding: it still asked after their Maybe
    elsewhere, and its Yes only said they were not going)."""
    confirm = live.confirm_ref(action.id)
    await outbox.stop(ctx.session, confirm, chat_id=user_id)
    pressed = ctx.event.message_id if ctx.event.chat.id == user_id else None
    for asked in await outbox.sent_messages(ctx.session, [confirm], chat_id=user_id):
        if asked.message_id != pressed:  # the one pressed shows their answer (still_coming)
            ctx.edit_keyboard_of(user_id, asked.message_id, None)
    return await leaves(ctx, action, user_id)


async def promote(ctx: Context, action: Action) -> list[int]:
    """Gives free places to the waitlist, first come first served, and tells those promoted;
    nobody is promoted once the action is over. Returns who was promoted."""
    if not is_live(action, ctx.now()):
        return []
    promoted = await _next_in_line(ctx, action)
    if not promoted:
        return []
    for rsvp in promoted:
        await action_store.set_answer(
            ctx.session, action.id, rsvp.user_id, action_store.GOING, ctx.now(), previous=rsvp
        )
    people = await action_store.recipients(ctx.session, [r.user_id for r in promoted])
    standing = await action_store.standing(ctx.session, action.id)
    # Their earlier copies of its buttons ("a place freed up" before, a reminder) show Going
    # too (a sandbox finding: the one pressed while waiting still said "⏳ #1").
    copies = await action_store.live_copies(
        ctx.session, action.id, [r.user_id for r in promoted], live.promoted_ref(action.id)
    )
    languages = {person.user_id: person.language for person in people}
    for chat_id, message_id in copies:
        t = translator(languages.get(chat_id, ctx.settings.default_locale))
        going = rsvp_keyboard(t, action.id, action.kind, action_store.GOING, None, calendar=True)
        ctx.edit_keyboard_of(chat_id, message_id, going)
    messages = []
    for person in people:
        t = translator(person.language)
        text, keyboard = person_view(
            t, action, person.timezone, ctx.now(), standing, person.user_id
        )
        messages.append(
            Outgoing(person.user_id, Html(t("rsvp.promoted") + "\n\n" + text), keyboard)
        )
    await ctx.enqueue(messages, purpose="notice", ref=live.promoted_ref(action.id))
    await live.refresh(ctx, action, users=[*standing.positions, *(r.user_id for r in promoted)])
    return [rsvp.user_id for rsvp in promoted]


def room_left(action: Action) -> bool:
    """Whether the action (without roles) has a free place, by the counts it holds."""
    return action.capacity is None or action.going_count < action.capacity


async def _refused(ctx: Context, button: RsvpButton, action: Action, has_slots: bool) -> bool:
    """Checks a press before anything is written: a forged answer raises StaleButton; an
    action no longer open is told (True), as is one whose freed place went to the presser
    (`_passed_over_first`)."""
    allowed = answers_for(action.kind) + (() if is_event(action.kind) else (UNDO,))
    if button.answer not in allowed:
        raise StaleButton(ctx.event.data)
    status_now = shown_status(action, ctx.now())
    if status_now != action_store.OPEN:
        ctx.answer(ctx.t(f"rsvp.action_{status_now}"), alert=True)
        ctx.edit_keyboard(None)
        return True
    return await _passed_over_first(ctx, action, has_slots)


def _status(choice: str, action: Action) -> str:
    """The answer to write for `choice`: Going becomes the waitlist once the action is full."""
    full = not room_left(action)
    return action_store.WAITLIST if choice == action_store.GOING and full else choice


async def _passed_over_first(ctx: Context, action: Action, has_slots: bool) -> bool:
    """Free places while some wait: a place freed while those first in line could not be told
    (`promote` passes over them). Theirs in turn, before this press counts, now that they may
    be back: a newcomer must not take it from them. True when the presser was among them (they
    are told by their "place freed up" notice: nothing more to do). Costs nothing more while
    the waitlist is empty, or (without roles) full."""
    if not action.waitlist_count or not (has_slots or room_left(action)):
        return False
    promoted = await promote(ctx, action)
    if ctx.user_id not in promoted:
        return False
    ctx.answer()
    live.refresh_groups_later(ctx, action)
    return True


async def _next_in_line(ctx: Context, action: Action) -> list[Rsvp]:
    """Those on the waitlist who get a free place now (per role when the action has roles)."""
    slots = await action_store.slots_of(ctx.session, action.id)
    if slots:
        found: list[Rsvp] = []
        for slot in slots:
            free = slot.capacity - await action_store.slot_going(ctx.session, action.id, slot.id)
            if free > 0:
                found += await action_store.slot_waitlisted(
                    ctx.session, action.id, slot.id, min(free, 1000)
                )
        return found
    free = 1 << 30 if action.capacity is None else action.capacity - action.going_count
    if free <= 0:
        return []
    return list(await action_store.waitlisted(ctx.session, action.id, min(free, 1000)))


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
