"""The life of an event after its call (issue 14): "Still coming?" the day before, check-in at
the event, the action closing itself at its end, a thank-you an hour later.

- The day before (CONFIRM_BEFORE), people Going get "Still coming?" (through the outbox, after
  their quiet hours); "No, I can't" frees the place and promotes the waitlist at once.
- At the start, the host (whoever created the action) gets the check-in roster: one row per
  person Going, attended or no-show, and walk-ins typed by name; a coordinator opens it from
  the action's card. Marks are taken until the day after the end. People Going also get
  "📍 I'm here" on their message, which works from the start to the end.
- At the end the action closes itself: its messages lose their buttons and say it is over.
- An hour later, those marked attended get a thank-you and a one-tap "how did it go?".

Each step is a timer (`schedule` puts them, `drop` cancels them), so a restart loses none.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Literal

from handlers.actions import action_views as views
from handlers.actions import live, rsvp
from handlers.actions.broadcasts import hold_until
from handlers.coalition.audit import note
from handlers.kernel import forms, names, typed_text
from handlers.kernel.callbacks import CallbackData, StaleButton
from handlers.kernel.context import Context
from handlers.kernel.forms import AnswerButton, Data, Message, Step
from handlers.kernel.i18n import Html, Translator, translator
from handlers.kernel.ports import Button, Keyboard
from handlers.kernel.routing import Router
from storage.actions import action_store
from storage.actions.action_models import Action
from storage.outbox import Outgoing
from storage.people import shown_names, volunteers

log = logging.getLogger(__name__)

CONFIRM_BEFORE = timedelta(days=1)
THANKS_AFTER = timedelta(hours=1)
MARKS_UNTIL = timedelta(days=1)  # after the end, check-in marks are still taken this long
ROSTER_LIMIT = 40  # people shown with buttons on the check-in roster (Telegram: 100 buttons)
NAME_LIMITS = (2, 80)
WALKIN_FLOW = "walkin"
KINDS = ("action_confirm", "action_checkin", "action_end", "action_thanks")
RATINGS = ("good", "ok", "bad")
RATING_ICONS = {"good": "👍", "ok": "😐", "bad": "👎"}

router = Router("attendance")


class ConfirmButton(CallbackData, prefix="cf"):
    """The answer to "Still coming?": cf:<action id>:<yes|no>."""

    action_id: int
    answer: Literal["yes", "no"]


class CheckButton(CallbackData, prefix="ck"):
    """Check-in: ck:<action id>:<user id>:<a|n> marks attended or no-show; ck:<action>:0:w adds
    a walk-in; ck:<action>:0:v shows the roster."""

    action_id: int
    user_id: int
    mark: Literal["a", "n", "w", "v"]


class FeedbackButton(CallbackData, prefix="fb"):
    """How it went, after an event: fb:<action id>:<good|ok|bad>."""

    action_id: int
    rating: Literal["good", "ok", "bad"]


def _key(action_id: int) -> str:
    return f"a{action_id}"


async def schedule(ctx: Context, action: Action) -> None:
    """Puts the event's confirm, check-in, end and thank-you timers (replacing the old ones)."""
    await drop(ctx, action)
    if action.status != action_store.OPEN or action.at is None or not views.is_event(action.kind):
        return
    end = views.end_of(action)
    assert end is not None
    now = ctx.now()
    moments = {
        "action_confirm": action.at - CONFIRM_BEFORE,
        "action_checkin": action.at,
        "action_end": end,
        "action_thanks": end + THANKS_AFTER,
    }
    for kind, due in moments.items():
        if kind == "action_confirm" and due <= now:
            continue  # called less than a day before: nobody is asked again
        await ctx.schedule(
            kind,
            _key(action.id),
            max(due, now),
            payload={"action_id": action.id},
            grace_seconds=None if kind == "action_end" else 6 * 3600,
        )


async def drop(ctx: Context, action: Action, *, keep_thanks: bool = False) -> None:
    """Cancels the event's pending attendance timers (but the thank-you, if `keep_thanks`:
    an event closed by hand still thanks those who came)."""
    for kind in KINDS:
        if not (keep_thanks and kind == "action_thanks"):
            await ctx.cancel_timers(kind, _key(action.id))


async def _action_of_timer(ctx: Context) -> Action | None:
    payload = ctx.event.payload or {}
    action = await action_store.get(ctx.session, int(payload.get("action_id", 0)))
    if action is None or action.at is None or not views.is_event(action.kind):
        return None
    return action


@router.timer("action_confirm")
async def ask_still_coming(ctx: Context) -> None:
    """Asks the people Going whether they are still coming."""
    action = await _action_of_timer(ctx)
    if action is None or not views.is_live(action, ctx.now()):
        return
    assert action.at is not None
    people = await action_store.responders(ctx.session, action.id, (action_store.GOING,))
    now = ctx.now()
    messages = []
    waiting = bool(action.waitlist_count)  # else their place would go to nobody in particular
    for person in people:
        t = translator(person.language)
        text = _still_coming_text(t, action, person.timezone, waiting)
        keyboard = [
            [Button(t("attendance.yes"), ConfirmButton(action.id, "yes").pack())],
            [Button(t("attendance.no"), ConfirmButton(action.id, "no").pack())],
        ]
        not_before = hold_until(person, now, action.at)
        messages.append(Outgoing(person.user_id, text, keyboard, not_before=not_before))
    await ctx.enqueue(messages, purpose="notice", ref=live.confirm_ref(action.id))


def _still_coming_text(t: Translator, action: Action, timezone: str, waiting: bool) -> Html:
    """The question; `waiting`: someone is on the waitlist (their place would go to them)."""
    assert action.at is not None
    key = "attendance.still_coming" if waiting else "attendance.still_coming_open"
    return Html(
        t(key, title=action.title)
        + "\n"
        + t("actions.line_when", when=views.when_text(t, action.at, timezone))
    )


@router.button(ConfirmButton)
async def still_coming(ctx: Context, button: ConfirmButton) -> None:
    """Records "still coming", or frees the place and gives it to the waitlist."""
    action = await action_store.get(ctx.session, button.action_id, lock=True)
    if action is None:
        raise StaleButton(ctx.event.data)
    status = views.shown_status(action, ctx.now())
    if status != action_store.OPEN:  # over, closed or cancelled: the question is past
        t = ctx.t
        ctx.answer(t(f"attendance.past_{status}", title=action.title), alert=True)
        zone = ctx.volunteer.timezone if ctx.volunteer is not None else action.timezone
        waiting = bool(action.waitlist_count)
        past = _still_coming_text(t, action, zone, waiting) if action.at is not None else ""
        ctx.edit(Html(t(f"actions.banner_{status}") + "\n\n" + past))
        return
    answer = await action_store.answer_of(ctx.session, action.id, ctx.user_id)
    if answer is None or answer.status != action_store.GOING:
        ctx.answer(ctx.t("attendance.not_going"), alert=True)
        ctx.edit_keyboard(None)
        return
    if button.answer == "yes":
        answer.confirmed_at = ctx.now()
        ctx.answer(ctx.t("attendance.see_you"))
        ctx.edit_keyboard([[Button("✅ " + ctx.t("attendance.yes"), button.pack())]])
        return
    full_before = not rsvp.room_left(action)
    await action_store.set_answer(ctx.session, action.id, ctx.user_id, action_store.CANT, ctx.now())
    promoted = await rsvp.not_coming(ctx, action, ctx.user_id)  # another copy of it too
    # As a press on the call (rsvp.answer): everyone's places line once it has places again,
    # and their other copies of its buttons show their answer (a sandbox finding: a reminder
    # still said ✅ Going, and everyone else's copy "Full").
    if full_before != (not rsvp.room_left(action)):
        await live.refresh(ctx, action)
    else:
        await live.refresh(ctx, action, users=[ctx.user_id])
    keyboard = views.rsvp_keyboard(
        ctx.t, action.id, action.kind, action_store.CANT, None, calendar=True
    )
    for chat_id, message_id in await action_store.live_copies(
        ctx.session, action.id, [ctx.user_id], live.promoted_ref(action.id)
    ):
        ctx.edit_keyboard_of(chat_id, message_id, keyboard)
    live.refresh_groups_later(ctx, action)
    ctx.answer(ctx.t("attendance.freed" if promoted else "attendance.freed_open"))
    ctx.edit_keyboard([[Button("✅ " + ctx.t("attendance.no"), button.pack())]])


# check-in


async def roster_view(ctx: Context, t: Translator, action: Action) -> tuple[Html, Keyboard]:
    """The check-in roster: counts, then one row per person Going (attended / no-show)."""
    rows = await action_store.roster(ctx.session, action.id)
    going = [(r, v) for r, v in rows if r.status == action_store.GOING or r.attendance]
    walk_ins = list(action.walk_ins or [])
    attended = sum(1 for r, _ in going if r.attendance == action_store.ATTENDED)
    no_show = sum(1 for r, _ in going if r.attendance == action_store.NO_SHOW)
    lines = [
        t("attendance.roster_title", title=action.title),
        t(
            "attendance.roster_counts",
            attended=t.number(attended + len(walk_ins)),
            no_show=t.number(no_show),
            unmarked=t.number(len(going) - attended - no_show),
        ),
    ]
    if walk_ins:
        lines.append(t("attendance.walk_ins", names=t.join(walk_ins)))
    if not going:
        lines.append(t("attendance.nobody_going"))
    if len(going) > ROSTER_LIMIT:
        lines.append(t.plural("attendance.more_people", len(going) - ROSTER_LIMIT))
    keyboard: list[list[Button]] = []
    for answer, volunteer in going[:ROSTER_LIMIT]:
        mark = {"attended": "✅", "no_show": "🚫"}.get(answer.attendance or "", "▫️")
        name = names.in_words(t, shown_names.for_viewer(volunteer, True))
        keyboard.append(
            [
                Button(f"{mark} {name}"[:60], CheckButton(action.id, answer.user_id, "a").pack()),
                Button(t("attendance.no_show"), CheckButton(action.id, answer.user_id, "n").pack()),
            ]
        )
    keyboard.append([Button(t("attendance.add_walk_in"), CheckButton(action.id, 0, "w").pack())])
    return Html("\n".join(lines)), keyboard


@router.timer("action_checkin")
async def send_roster(ctx: Context) -> None:
    """Sends the host the check-in roster as the event starts."""
    action = await _action_of_timer(ctx)
    if action is None or action.status == action_store.CANCELLED:
        return
    host = await volunteers.get(ctx.session, action.created_by)
    t = translator(host.language if host is not None else ctx.settings.default_locale)
    ctx.send(action.created_by, *await roster_view(ctx, t, action))
    going = await action_store.user_ids_with(ctx.session, action.id, (action_store.GOING,))
    if going:  # their messages get "I'm here" while the event is under way
        await live.refresh(ctx, action, users=going)


@router.button(views.HereButton)
async def here(ctx: Context, button: views.HereButton) -> None:
    """Checks a volunteer who is Going in, from the start of the event to its end."""
    action = await action_store.get(ctx.session, button.action_id)
    if action is None or not views.is_event(action.kind):
        raise StaleButton(ctx.event.data)
    if not views.is_under_way(action, ctx.now()) or action.status == action_store.CANCELLED:
        ctx.answer(ctx.t("attendance.not_under_way"), alert=True)
        return
    answer = await action_store.answer_of(ctx.session, action.id, ctx.user_id)
    if answer is None or answer.status != action_store.GOING:
        ctx.answer(ctx.t("attendance.not_going"), alert=True)
        return
    answer.attendance = action_store.ATTENDED
    await ctx.session.flush()
    ctx.answer(ctx.t("attendance.checked_in"))
    standing = await action_store.standing(ctx.session, action.id)
    _, keyboard = views.person_view(
        ctx.t, action, action.timezone, ctx.now(), standing, ctx.user_id
    )
    ctx.edit_keyboard([row for row in keyboard or [] if row[0].data != button.pack()])


@router.button(CheckButton)
async def check_in(ctx: Context, button: CheckButton) -> None:
    """Marks a person attended or a no-show, adds a walk-in, or shows the roster."""
    action = await action_store.get(ctx.session, button.action_id, lock=True)
    if action is None or action.at is None or not views.is_event(action.kind):
        raise StaleButton(ctx.event.data)
    if button.mark == "v":
        ctx.answer()
        ctx.reply(*await roster_view(ctx, ctx.t, action))
        return
    end = views.end_of(action)
    now = ctx.now()
    if action.status == action_store.CANCELLED or now < action.at - timedelta(hours=1):
        ctx.answer(ctx.t("attendance.not_yet"), alert=True)
        return
    if end is not None and now > end + MARKS_UNTIL:
        ctx.answer(ctx.t("attendance.too_late"), alert=True)
        return
    if button.mark == "w":
        ctx.answer()
        await forms.start(ctx, WALKIN_FORM, {"action_id": action.id})
        return
    answer = await action_store.answer_of(ctx.session, action.id, button.user_id)
    if answer is None:
        raise StaleButton(ctx.event.data)
    wanted = action_store.ATTENDED if button.mark == "a" else action_store.NO_SHOW
    answer.attendance = None if answer.attendance == wanted else wanted
    await ctx.session.flush()
    ctx.answer()
    ctx.edit(*await roster_view(ctx, ctx.t, action))


def _ask_name(t: Translator, data: Data, kind: type[AnswerButton]) -> Message:
    return t("attendance.ask_walk_in"), None


def _read_name(ctx: Context, data: Data, text: str, kind: type[AnswerButton]) -> str:
    return typed_text.clean_line(text, NAME_LIMITS)


async def add_walk_in(ctx: Context, data: Data) -> None:
    """Adds the typed walk-in to the roster and shows it again."""
    await ctx.clear_dialog()
    action = await action_store.get(ctx.session, int(data.get("action_id", 0)), lock=True)
    if action is None:
        return
    action.walk_ins = [*(action.walk_ins or []), str(data["name"])]
    await ctx.session.flush()
    await note(ctx, "action.walk_in", action=action.id, title=action.title)
    ctx.reply(*await roster_view(ctx, ctx.t, action))


WALKIN_FORM = forms.Form(
    flow=WALKIN_FLOW,
    button=AnswerButton,  # typed only
    steps={"name": Step("name", _ask_name, read_text=_read_name, key="name")},
    order=lambda data: ["name"],
    finish=add_walk_in,
    diagram="walkin.mmd",
)
forms.route(WALKIN_FORM, router)


# the end, and after


@router.timer("action_end")
async def close_at_end(ctx: Context) -> None:
    """Closes the action at its end: its messages say it is over and lose their buttons."""
    action = await _action_of_timer(ctx)
    if action is None or action.status != action_store.OPEN:
        return
    await action_store.change(ctx.session, action, {"status": action_store.CLOSED}, ctx.now())
    await live.refresh(ctx, action)


@router.timer("action_thanks")
async def thank_attendees(ctx: Context) -> None:
    """Thanks those who attended and asks, in one tap, how it went."""
    action = await _action_of_timer(ctx)
    if action is None or action.status == action_store.CANCELLED:
        return
    ids = await action_store.attendees(ctx.session, action.id)
    messages = []
    for person in await action_store.recipients(ctx.session, ids):
        t = translator(person.language)
        keyboard = [
            [
                Button(
                    f"{RATING_ICONS[r]} {t(f'attendance.rating_{r}')}",
                    FeedbackButton(action.id, r).pack(),  # type: ignore[arg-type]
                )
                for r in RATINGS
            ]
        ]
        text = t("attendance.thanks", title=action.title)
        messages.append(Outgoing(person.user_id, text, keyboard))
    await ctx.enqueue(messages, purpose="notice", ref=f"t{action.id}")


@router.button(FeedbackButton)
async def feedback(ctx: Context, button: FeedbackButton) -> None:
    """Records how the event went for this volunteer."""
    answer = await action_store.answer_of(ctx.session, button.action_id, ctx.user_id)
    if answer is None or answer.attendance != action_store.ATTENDED:
        raise StaleButton(ctx.event.data)
    answer.feedback = button.rating
    await ctx.session.flush()
    ctx.answer(ctx.t("attendance.feedback_thanks"))
    label = f"{RATING_ICONS[button.rating]} {ctx.t(f'attendance.rating_{button.rating}')}"
    ctx.edit_keyboard([[Button("✅ " + label, button.pack())]])
