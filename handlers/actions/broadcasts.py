"""Sending an action to many people through the outbox, and the coordinator's progress report.

The report is one message in the coordinator's chat, edited at most every few seconds while
the delivery engine works (it calls `refresh_refs` after recording results), then turned into
the final summary with the reasons of failure.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from handlers.actions.action_views import INERT, is_event, person_view, relative_text
from handlers.kernel import quiet_hours
from handlers.kernel.callbacks import CallbackData
from handlers.kernel.context import AfterCommit, Context, Services
from handlers.kernel.i18n import Html, Translator, translator
from handlers.kernel.ports import (
    Button,
    Keyboard,
    MessageGone,
    MessageNotModified,
    Messenger,
    MessengerError,
    RetryAfter,
    TransientError,
)
from storage import advisory, outbox, timers
from storage.actions import action_store, audience_store, broadcast_store, digest_store
from storage.actions.action_models import Action, Broadcast
from storage.actions.action_store import Recipient
from storage.coalition import audit_store
from storage.outbox import Outgoing

log = logging.getLogger(__name__)


class StopButton(CallbackData, prefix="bs"):
    """Stops a broadcast from its progress message: bs:<broadcast id>."""

    broadcast_id: int


class MuteButton(CallbackData, prefix="mk"):
    """Mutes (off) or unmutes (on) calls to action of one kind: mk:<kind>:<off|on>."""

    kind: str
    state: Literal["on", "off"]


REPORT_EVERY = timedelta(seconds=3)
FAILURE_REASONS = (
    "blocked",
    "deactivated",
    "not_started",
    "not_in_chat",
    "forbidden",
    "chat_not_found",
    "bad_request",
    "transient",
    "stopped",
    "other",
)
CHANGES = ("update", "cancel")  # purposes that tell people going that an event changed


def holds_for(action: Action, purpose: str, now: datetime) -> tuple[bool, datetime | None]:
    """Whether this purpose waits for the end of people's quiet hours, and the latest moment
    it may usefully arrive (issue 16).

    A call to action waits; a change or cancellation of an event within the next 24 hours
    does not (urgent); a reminder waits unless the night ends after the event or deadline it
    is about, when it goes at once.
    """
    if purpose in CHANGES:
        return not (is_event(action.kind) and quiet_hours.urgent_change(action.at, now)), None
    if purpose == "reminder":
        return True, action.at
    return True, None


def hold_until(
    person: Recipient, now: datetime, deadline: datetime | None = None
) -> datetime | None:
    """When a message that can wait may reach this person (None: now); a night that ends at
    or after `deadline` holds nothing."""
    until = quiet_hours.held_until(person.quiet_hours, person.timezone, now)
    if until is None or (deadline is not None and until >= deadline):
        return None
    return until


def less_like_this(t: Translator, kind: str, *, inert: bool = False) -> Button:
    """The "Less like this" button under a call to action (`inert`: on a preview or a test)."""
    data = INERT if inert else MuteButton(kind, "off").pack()
    return Button(t("mute.less_like_this"), data)


View = Callable[[str, str, "int | None"], "tuple[str, Keyboard | None]"]


async def _views(
    ctx: Context,
    action: Action,
    purpose: str,
    intro: Callable[[Translator], str] | None = None,
    buttons: bool = True,
) -> tuple[View, action_store.Standing]:
    """The message for one reader (None: a group), with their answer marked: built once per
    language, time zone and answer (a reader's own answer: their own view)."""
    return await _views_at(ctx.session, ctx.now(), action, purpose, intro, buttons)


async def _views_at(
    session: AsyncSession,
    now: datetime,
    action: Action,
    purpose: str,
    intro: Callable[[Translator], str] | None = None,
    buttons: bool = True,
) -> tuple[View, action_store.Standing]:
    """`_views` read in this session at this moment."""
    standing = await action_store.standing(session, action.id)
    views: dict[tuple[str, str, int | None], tuple[str, Keyboard | None]] = {}

    def view(language: str, timezone: str, reader: int | None) -> tuple[str, Keyboard | None]:
        answer = standing.answers.get(reader) if reader is not None else None
        shared = None if answer is None else reader
        found = views.get((language, timezone, shared))
        if found is None:
            t = translator(language)
            text, keyboard = person_view(
                t, action, timezone, now, standing, reader, banner=purpose != "cancel"
            )
            if intro is not None:
                text = Html(intro(t) + "\n\n" + text)
            if not buttons:
                keyboard = None
            if keyboard is not None and purpose == "announce":
                keyboard = [*keyboard, [less_like_this(t, action.kind)]]
            found = views[(language, timezone, shared)] = (text, keyboard)
        return found

    return view, standing


async def _create(ctx: Context, action: Action, purpose: str, report: bool) -> Broadcast:
    return await broadcast_store.create(
        ctx.session,
        action.id,
        purpose,
        ctx.now(),
        report_chat_id=ctx.chat_id if report else None,
        report_locale=ctx.t.locale,
    )


async def send_about(
    ctx: Context,
    action: Action,
    people: Sequence[Recipient],
    purpose: str,
    *,
    intro: Callable[[Translator], str] | None = None,
    group_ids: Iterable[int] = (),
    buttons: bool = True,
    report: bool = False,
) -> Broadcast:
    """Queues the action (with an optional intro line) for each person, in their language;
    what can wait is due at the end of each person's quiet hours (`holds_for`)."""
    broadcast = await _create(ctx, action, purpose, report)
    now = ctx.now()
    view, _ = await _views(ctx, action, purpose, intro, buttons)
    if purpose == "announce":
        people = await _keep_for_digests(ctx, action, people)
    quiet, deadline = holds_for(action, purpose, now)
    messages = [
        Outgoing(
            p.user_id,
            *view(p.language, p.timezone, p.user_id),
            not_before=hold_until(p, now, deadline) if quiet else None,
        )
        for p in people
    ]
    default = ctx.settings.default_locale
    messages += [Outgoing(chat_id, *view(default, action.timezone, None)) for chat_id in group_ids]
    broadcast.total = await ctx.enqueue(
        messages, purpose="broadcast", ref=broadcast_store.ref(broadcast.id)
    )
    if report:
        ctx.after_commit(_start_report(ctx.services, broadcast.id, ctx.chat_id, ctx.t))
    return broadcast


ANYONE = 0  # a reader who has not answered (Telegram user ids are positive)


async def announce(
    ctx: Context,
    action: Action,
    *,
    group_ids: Iterable[int] = (),
    report: bool = False,
    shares: Sequence[audience_store.Share] | None = None,
    audit_id: int | None = None,
    large: bool | None = None,
) -> Broadcast:
    """`send_about(…, audience(action), "announce")` computed by the database (issue 17: the
    cost must not grow with the coalition). The audience is split into shares by what its
    messages need (language, time zone, quiet hours, digest); each share's message is built
    once, and one INSERT … SELECT queues it for all its people, as one more schedules the
    digests. Those who already answered (through a scheduled call's deep link) get their own
    view, one by one, as before. `shares`: the audience's (`audience_store.shares`), when the
    caller has read them in this transaction already; None, for an audience larger than a
    chunk, leaves them to be read after the commit (`plan_fan_out`), and the plan then fills
    in the recipients of the audit entry `audit_id`. `large`: whether the audience takes more
    than a chunk, when the caller knows (`audience_store.larger_than`)."""
    broadcast = await _create(ctx, action, "announce", report)
    now = ctx.now()
    view, standing = await _views(ctx, action, "announce")
    filters, kind = action.audience, action.kind
    quiet, deadline = holds_for(action, "announce", now)
    if shares is None and large is None:
        large = await audience_store.larger_than(
            ctx.session, filters, kind, broadcast_store.FANOUT_CHUNK
        )
    planning = shares is None and bool(large)
    if shares is None and not planning:
        shares = await audience_store.shares(ctx.session, filters, kind)
    answered = set(standing.answers) | set(standing.positions) | set(standing.slot_of)
    found = await audience_store.among(ctx.session, filters, kind, answered)
    own = [Recipient(*row) for row in found]
    ref = broadcast_store.ref(broadcast.id)
    total = 0
    fanning = planning
    if shares is not None:
        views, dues, shared = _plan(shares, own, view, now, quiet, deadline)
        for people in audience_store.digests(ctx.session, filters, kind, dues):
            await ctx.schedule_each(DIGEST_TIMER, people, grace_seconds=None)
            await digest_store.add_each(ctx.session, people, action.id, now)
        fanning = shared > broadcast_store.FANOUT_CHUNK
        if not fanning:
            statements = audience_store.messages(
                ctx.session, filters, kind, views, leaving_out=answered
            )
            for rows in statements:
                total += await ctx.enqueue_each(rows, purpose="broadcast", ref=ref)
    messages = [
        Outgoing(
            p.user_id,
            *view(p.language, p.timezone, p.user_id),
            not_before=hold_until(p, now, deadline) if quiet else None,
        )
        for p in own
        if quiet_hours.next_digest(p.digest, p.timezone, now) is None
    ]
    default = ctx.settings.default_locale
    messages += [Outgoing(chat_id, *view(default, action.timezone, None)) for chat_id in group_ids]
    if planning:
        # A large audience: its shares are read after the commit, in a read session, then
        # enqueued a chunk a transaction (issue 17: no heavy read under the write lock here).
        broadcast.fanout = broadcast_store.pending_plan(filters, kind, answered, audit_id)
        broadcast.fanout_after = broadcast_store.PLANNING
        await ctx.session.flush()
    elif fanning:
        # A large audience: the first chunk is enqueued here, the rest after the commit, a
        # chunk a transaction, so that other updates need not wait for all of it (issue 17).
        plan = broadcast_store.fanout_plan(filters, kind, views, answered, shared + len(messages))
        broadcast.fanout, broadcast.fanout_after = plan, 0
        await ctx.session.flush()
        if await broadcast_store.fan_out(ctx.session, broadcast.id, now):
            ctx.after_commit(_wake_delivery(ctx.services))
        total = broadcast.total
    total += await ctx.enqueue(messages, purpose="broadcast", ref=ref)
    broadcast.total = total
    if report:
        ctx.after_commit(_start_report(ctx.services, broadcast.id, ctx.chat_id, ctx.t))
    if broadcast.fanout_after is not None:
        ctx.after_commit(_continue_fan_out(ctx.services, broadcast.id))
    return broadcast


def _plan(
    shares: Sequence[audience_store.Share],
    own: Sequence[Recipient],
    view: View,
    now: datetime,
    quiet: bool,
    deadline: datetime | None,
) -> tuple[list[broadcast_store.View], dict[tuple[str, str], datetime], int]:
    """The shares' messages (a share whose people all answered gets none: they have their own
    view), the digests due (digest, time zone) of those who take calls in a digest, and how
    many rows the shares' messages make."""
    theirs = Counter((p.language, p.timezone, p.quiet_hours, p.digest) for p in own)
    dues: dict[tuple[str, str], datetime] = {}
    views: list[broadcast_store.View] = []
    for share in shares:
        due = quiet_hours.next_digest(share.digest, share.timezone, now)
        if due is not None and share.digest is not None:
            dues[(share.digest, share.timezone)] = due
            continue
        key = (share.language, share.timezone, share.quiet_hours, share.digest)
        if share.people <= theirs[key]:
            continue  # everyone of this share gets their own view
        text, keyboard = view(share.language, share.timezone, ANYONE)
        person = Recipient(ANYONE, share.language, share.timezone, share.quiet_hours)
        not_before = hold_until(person, now, deadline) if quiet else None
        views.append((share, text, outbox.stored_keyboard(keyboard), not_before))
    shared = sum(
        share.people - theirs[(share.language, share.timezone, share.quiet_hours, share.digest)]
        for share, *_ in views
    )
    return views, dues, shared


async def rows_to_plan(session: AsyncSession, broadcast: Broadcast) -> int:
    """How many rows the chunks of a fan-out still to plan will enqueue (its report, or the
    answer to a stop, while "Send it"'s plan is pending): the audience's shares, read here
    (in a read session for a report), less those left out and those who take a digest."""
    if broadcast.fanout is None or broadcast.fanout_after != broadcast_store.PLANNING:
        return 0
    filters, kind = broadcast.fanout["filters"], broadcast.fanout["kind"]
    shares = await audience_store.shares(session, filters, kind)
    found = await audience_store.among(session, filters, kind, broadcast.fanout["leaving_out"])
    own = [Recipient(*row) for row in found]
    now = broadcast.created_at  # the shares' messages do not matter here, nor their moment
    _, _, shared = _plan(shares, own, lambda *_: ("", None), now, False, None)
    return shared


async def plan_fan_out(services: Services, broadcast_id: int) -> None:
    """Plans a fan-out left to plan by "Send it" (`broadcast_store.PLANNING`): its shares are
    read in a read session, which never holds the write lock (~86 ms at 100k volunteers), then
    the plan is stored with the digests it schedules and the audit entry's recipients, in one
    short transaction. A crash before that commit leaves it to plan again at the next start;
    two planners store one plan (compare-and-set on the cursor)."""
    async with services.read_session() as session, session.begin():
        broadcast = await broadcast_store.get(session, broadcast_id)
        if broadcast is None or broadcast.fanout_after != broadcast_store.PLANNING:
            return
        pending = dict(broadcast.fanout or {})
        action = await action_store.get(session, broadcast.action_id)
        now = services.clock.now()
        filters, kind = pending["filters"], pending["kind"]
        leaving_out = pending["leaving_out"]
        views: list[broadcast_store.View] = []
        dues: dict[tuple[str, str], datetime] = {}
        shared = people = 0
        if action is not None:  # else (deleted meanwhile) an empty plan ends the fan-out
            quiet, deadline = holds_for(action, "announce", now)
            view, _ = await _views_at(session, now, action, "announce")
            shares = await audience_store.shares(session, filters, kind)
            found = await audience_store.among(session, filters, kind, leaving_out)
            own = [Recipient(*row) for row in found]
            views, dues, shared = _plan(shares, own, view, now, quiet, deadline)
            people = sum(share.people for share in shares)
    plan = broadcast_store.fanout_plan(filters, kind, views, leaving_out, 0)
    async with services.sessionmaker() as session, session.begin():
        if not await broadcast_store.store_plan(session, broadcast_id, plan, shared):
            return  # planned meanwhile, by another worker
        scheduled = 0
        for dated in audience_store.digests(session, filters, kind, dues):
            scheduled += await timers.schedule_each(
                session, DIGEST_TIMER, dated, now, grace_seconds=None
            )
            await digest_store.add_each(session, dated, broadcast.action_id, now)
        audit_id = pending.get("audit_id")
        if audit_id is not None:
            await audit_store.set_detail(session, int(audit_id), "recipients", people)
    if scheduled:
        services.scheduler.wake()


def _wake_delivery(services: Services) -> AfterCommit:
    async def wake(_: Messenger) -> None:
        services.delivery.wake()

    return wake


def _continue_fan_out(services: Services, broadcast_id: int) -> AfterCommit:
    async def go(_: Messenger) -> None:
        await continue_fan_out(services, broadcast_id)

    return go


async def continue_fan_out(services: Services, broadcast_id: int) -> None:
    """Plans a broadcast's fan-out if "Send it" left it to plan (`plan_fan_out`), enqueues the
    rest of it, a chunk a short transaction (other updates take their turn between two), then
    refreshes its report. A failure leaves the rest to the next start (`resume_fan_outs`): the
    plan is stored in one transaction, and each chunk moves the cursor with its rows."""
    try:
        await plan_fan_out(services, broadcast_id)
        while True:
            async with services.sessionmaker() as session, session.begin():
                count = await broadcast_store.fan_out(session, broadcast_id, services.clock.now())
            if count is None:
                break
            if count:
                services.delivery.wake()
    except Exception:
        log.exception("fan-out of broadcast %s stopped: the next start resumes it", broadcast_id)
        return
    await refresh(services, broadcast_id)


async def resume_fan_outs(services: Services) -> None:
    """The fan-outs a crash interrupted, enqueued to the end when the bot starts (by the
    leader; a worker still enqueueing one meanwhile shares its chunks, none twice)."""
    async with services.sessionmaker() as session:
        pending = await broadcast_store.fanning_out(session)
    for broadcast_id in pending:
        await continue_fan_out(services, broadcast_id)


DIGEST_TIMER = "digest"


async def _keep_for_digests(
    ctx: Context, action: Action, people: Sequence[Recipient]
) -> list[Recipient]:
    """Keeps the action for those who take calls to action in a digest (their next digest is
    scheduled); returns the others, who get it now."""
    now = ctx.now()
    now_people: list[Recipient] = []
    later: list[int] = []
    for person in people:
        due = quiet_hours.next_digest(person.digest, person.timezone, now)
        if due is None:
            now_people.append(person)
            continue
        later.append(person.user_id)
        await ctx.schedule(
            DIGEST_TIMER,
            str(person.user_id),
            due,
            chat_id=person.user_id,
            grace_seconds=None,
        )
    await digest_store.add(ctx.session, later, action.id, now)
    return now_people


def _start_report(
    services: Services, broadcast_id: int, chat_id: int, t: Translator
) -> AfterCommit:
    async def start(messenger: Messenger) -> None:
        await _begin_report(services, messenger, broadcast_id, chat_id, t)

    return start


# The progress messages being posted by this process (one post per report: `_begin_report`).
_starting: weakref.WeakValueDictionary[int, asyncio.Lock] = weakref.WeakValueDictionary()


async def _begin_report(
    services: Services,
    messenger: Messenger,
    broadcast_id: int,
    chat_id: int,
    t: Translator,
    *,
    resumed: bool = False,
) -> None:
    """Posts the progress message once (see `_post_report`): while this process or another
    worker posts it, a resumed start (`resumed`) leaves it to them, and the start of "Send it"
    waits for a resumed one, then finds it posted."""
    lock = _starting.setdefault(broadcast_id, asyncio.Lock())
    if resumed and lock.locked():
        return  # this process is posting it
    async with lock:
        claim = advisory.held(
            services.sessionmaker, advisory.REPORT_START, broadcast_id, wait=not resumed
        )
        async with claim as mine:
            if not mine:
                return  # another worker is posting it, and will show the counts in it
            async with services.sessionmaker() as session:
                broadcast = await broadcast_store.get(session, broadcast_id)
                if broadcast is None or broadcast.report_message_id is not None:
                    return  # posted already (a resumed start came first)
                if broadcast.finished_at is not None:
                    return  # ended meanwhile (refused for good: nobody can see it)
            await _post_report(services, messenger, broadcast_id, chat_id, t)


async def _post_report(
    services: Services, messenger: Messenger, broadcast_id: int, chat_id: int, t: Translator
) -> None:
    """Sends the progress message, records its id, and shows the counts in it. A passing
    failure is tried again (as a report edit is); if it still fails, the next start of the bot
    sends it (`resume_reports`). A refusal for good (the coordinator blocked the bot) ends the
    report: nobody can see it."""
    async with services.read_session() as session, session.begin():
        broadcast = await broadcast_store.get(session, broadcast_id)
        if broadcast is None:
            return
        tally = await _tally(session, broadcast, services.clock.now())
    text, keyboard = _report_view(t, broadcast, tally)
    message_id: int | None = None
    for attempt in range(REPORT_ATTEMPTS):
        try:
            message_id = (await messenger.send_message(chat_id, text, keyboard)).message_id
            break
        except (RetryAfter, TransientError) as exc:
            if attempt + 1 == REPORT_ATTEMPTS:
                log.warning("the report of broadcast %s could not start: %r", broadcast_id, exc)
                return
            await asyncio.sleep(exc.seconds if isinstance(exc, RetryAfter) else float(2**attempt))
        except MessengerError:
            async with services.sessionmaker() as session, session.begin():
                broadcast = await broadcast_store.get(session, broadcast_id)
                if broadcast is not None and broadcast.finished_at is None:
                    broadcast.finished_at = services.clock.now()
            raise
    if message_id is None:
        return
    async with services.sessionmaker() as session, session.begin():
        broadcast = await broadcast_store.get(session, broadcast_id)
        if broadcast is not None:
            broadcast.report_message_id = message_id
    await refresh(services, broadcast_id, force=True)


async def resume_reports(services: Services, before: datetime) -> None:
    """The reports a crash interrupted, resumed when the bot starts (issue 13).

    A broadcast created before `before` that still owes its coordinator a report either never
    got its progress message (the bot stopped between the commit of "Send it" and that post):
    it is sent now; or its report was not yet the summary: it is refreshed now, which shows the
    summary when every row is done (nothing else would: the engine refreshes a report only
    when it records a result of that broadcast). A progress message Telegram accepted just
    before the kill, its id not yet written, is sent a second time; one that a live worker (or
    this process) is posting right now is left to it (`_begin_report`).
    """
    async with services.sessionmaker() as session:
        owed = await broadcast_store.unreported(session, before)
    for broadcast in owed:
        try:
            if broadcast.report_message_id is None:
                assert broadcast.report_chat_id is not None
                t = translator(broadcast.report_locale)
                await _begin_report(
                    services,
                    services.messenger,
                    broadcast.id,
                    broadcast.report_chat_id,
                    t,
                    resumed=True,
                )
            else:
                await refresh(services, broadcast.id, force=True)
        except Exception:
            log.exception("could not resume the report of broadcast %s", broadcast.id)


@dataclass(frozen=True, slots=True)
class Tally:
    """Where a broadcast's messages are: its outbox rows by state, with those its fan-out has
    still to enqueue (as pending, or as not sent once stopped); how many remain (at least one
    while the fan-out is pending: never "done" before it ends); of those, how many wait for
    the end of their recipients' quiet hours; why the failed ones failed; who it was meant for
    but got no message because the bot could no longer write to them, by why; the moment;
    when the last held message is due."""

    counts: dict[str, int]
    remaining: int
    held: int
    reasons: dict[str, int]
    unreachable: dict[str, int]
    now: datetime
    held_until: datetime | None = None  # when the last held message is due


async def _tally(
    session: AsyncSession, broadcast: Broadcast, now: datetime, *, details: bool = True
) -> Tally:
    """The broadcast's `Tally` at `now` (`details`: with what only a report shows, the holds,
    and once nothing remains the reasons of failure and who could not be reached)."""
    ref = broadcast_store.ref(broadcast.id)
    counts = await outbox.counts(session, ref)
    fanning = broadcast.fanout_after is not None  # rows still to enqueue: not done yet
    if fanning:
        stopped = broadcast.state == broadcast_store.STOPPED  # they will come as not sent
        key = outbox.STOPPED if stopped else outbox.PENDING
        still = broadcast_store.not_enqueued(broadcast)
        still += await rows_to_plan(session, broadcast)  # its plan pending: read here
        counts[key] = counts.get(key, 0) + still
    remaining = counts.get(outbox.PENDING, 0) + counts.get(outbox.SENDING, 0)
    if fanning:
        remaining = max(remaining, 1)
    held, held_until = await outbox.held(session, ref, now) if details and remaining else (0, None)
    summary = details and not remaining
    reasons = await outbox.failures(session, ref) if summary else {}
    unreachable = await _unreachable(session, broadcast) if summary else {}
    return Tally(counts, remaining, held, reasons, unreachable, now, held_until)


async def _unreachable(session: AsyncSession, broadcast: Broadcast) -> dict[str, int]:
    """Who an announcement was meant for (its audience) but got no message of it, because the
    bot could no longer write to them (blocked it before the sending, or before their chunk of
    a fan-out): the audience leaves them out, so no row of it says so. Other sendings go to
    people picked one by one (those going, a reminder's): none."""
    if broadcast.purpose != "announce":
        return {}
    action = await action_store.get(session, broadcast.action_id)
    if action is None:
        return {}
    ref = broadcast_store.ref(broadcast.id)
    return await audience_store.unreachable(
        session, action.audience, action.kind, ref, broadcast.created_at
    )


def _report_view(t: Translator, broadcast: Broadcast, tally: Tally) -> tuple[Html, Keyboard | None]:
    """The report as the tally stands: the progress message, or the summary once nothing
    remains."""
    if not tally.remaining:
        return summary_view(t, broadcast, tally.counts, tally.reasons, tally.unreachable), None
    counts = tally.counts
    done = counts.get(outbox.SENT, 0) + counts.get(outbox.FAILED, 0)
    elapsed = (tally.now - broadcast.created_at).total_seconds()
    going = tally.remaining - tally.held
    eta = timedelta(seconds=going * elapsed / done) if going and done and elapsed > 0 else None
    if eta is not None and tally.held_until is not None:
        # The held ones go at their recipients' morning. Once only they remain, no estimate:
        # nothing is sent until then, so nothing would edit it ("Done in 10 hours" for hours;
        # second sandbox pass), and the held line says when.
        eta = max(eta, tally.held_until - tally.now)
    return progress_view(t, broadcast.id, counts, eta, tally.held)


def progress_view(
    t: Translator,
    broadcast_id: int,
    counts: dict[str, int],
    eta: timedelta | None = None,
    held: int = 0,
) -> tuple[Html, Keyboard | None]:
    """The progress message while sending, with its stop button; `held` of the remaining
    messages wait for the end of their recipients' quiet hours (counted as remaining: a
    tester read "Remaining: 0" above them as done)."""
    sent = counts.get(outbox.SENT, 0)
    failed = counts.get(outbox.FAILED, 0)
    remaining = counts.get(outbox.PENDING, 0) + counts.get(outbox.SENDING, 0)
    lines = [
        t("broadcast.progress_title"),
        t("broadcast.progress", sent=t.number(sent), failed=t.number(failed)),
        t("broadcast.remaining", remaining=t.number(remaining)),
    ]
    if held:
        lines.append(t.plural("broadcast.held", held))
    if eta is not None:
        lines.append(t("broadcast.eta", eta=relative_text(t, eta)))
    keyboard = [[Button(t("broadcast.stop"), StopButton(broadcast_id).pack())]]
    return Html("\n".join(lines)), keyboard


def summary_view(
    t: Translator,
    broadcast: Broadcast,
    counts: dict[str, int],
    reasons: dict[str, int],
    unreachable: dict[str, int] | None = None,
) -> Html:
    """The final report: delivered, failed and why, not reached (those it was meant for whom
    the bot could no longer write to) and why, stopped."""
    key = (
        "broadcast.summary_stopped"
        if broadcast.state == broadcast_store.STOPPED
        else "broadcast.summary"
    )
    lines: list[str] = [t(key), t.plural("broadcast.delivered", counts.get(outbox.SENT, 0))]
    failed = counts.get(outbox.FAILED, 0)
    if failed:
        lines.append(t.plural("broadcast.failed", failed))
        lines += _reason_lines(t, reasons)
    missed = sum((unreachable or {}).values())
    if missed:
        lines.append(t.plural("broadcast.unreachable", missed))
        lines += _reason_lines(t, unreachable or {})
    stopped = counts.get(outbox.STOPPED, 0)
    if stopped:
        lines.append(t.plural("broadcast.not_sent", stopped))
    return Html("\n".join(lines))


def _reason_lines(t: Translator, reasons: dict[str, int]) -> list[str]:
    """A line per reason, the most frequent first."""
    lines: list[str] = []
    for reason, count in sorted(reasons.items(), key=lambda item: -item[1]):
        known = reason if reason in FAILURE_REASONS else "other"
        lines.append(f"  • {t(f'broadcast.reason_{known}')}{t.colon}{t.number(count)}")
    return lines


# A report edit that meets a 5xx, a dropped connection or a 429 is tried again this many times
# (waiting `retry_after`, or 1, 2, 4 s) before the report is left for the next refresh.
REPORT_ATTEMPTS = 4


# One refresh of a report at a time in this process: a slower refresh showing older counts
# must not overwrite the summary a quicker one has just shown (the engine's, the report's
# start and a resumed report may run together).
_refreshing: weakref.WeakValueDictionary[int, asyncio.Lock] = weakref.WeakValueDictionary()


async def refresh(services: Services, broadcast_id: int, *, force: bool = False) -> None:
    """Edits the coordinator's progress message (at most every few seconds), or its summary.

    The broadcast counts as reported (`finished_at`) only once the summary has been shown to
    the coordinator: a summary edit that fails for a passing reason is retried, and a report
    message not yet sent (its id is recorded after it was) is summarised when it is (issue 13).
    """
    lock = _refreshing.setdefault(broadcast_id, asyncio.Lock())
    async with lock:
        await _refresh(services, broadcast_id, force=force)


async def _refresh(services: Services, broadcast_id: int, *, force: bool) -> None:
    # Counting a broadcast's rows takes ~70 ms at 100k: it reads in a read-only session, which
    # never holds the write lock; what changes is written after, in a short transaction.
    now = services.clock.now()
    async with services.read_session() as session, session.begin():
        broadcast = await broadcast_store.get(session, broadcast_id)
        if broadcast is None or broadcast.finished_at is not None:
            return
        # nobody waits for a report; or the report's own start will refresh it once its
        # message is there
        unreported = broadcast.report_chat_id is None
        show = not unreported and broadcast.report_message_id is not None
        tally = await _tally(session, broadcast, now, details=show)
        remaining = tally.remaining
        done_now = remaining == 0 and broadcast.state == broadcast_store.RUNNING
        recent = broadcast.reported_at is not None and now - broadcast.reported_at < REPORT_EVERY
        if remaining > tally.held and recent and not force:
            show = False
    finished = unreported and remaining == 0
    if done_now or finished or show:
        async with services.sessionmaker() as session, session.begin():
            current = await broadcast_store.get(session, broadcast_id)
            if current is None or current.finished_at is not None:
                return
            if done_now and current.state == broadcast_store.RUNNING:
                current.state = broadcast_store.DONE
            if finished:
                current.finished_at = now
            if show:
                current.reported_at = now
            broadcast.state = current.state  # stopped meanwhile: the summary says so
    if not show:
        return
    text, keyboard = _report_view(translator(broadcast.report_locale), broadcast, tally)
    assert broadcast.report_chat_id is not None and broadcast.report_message_id is not None
    chat_id, message_id = broadcast.report_chat_id, broadcast.report_message_id
    shown = await _show_report(
        services.messenger, broadcast_id, chat_id, message_id, text, keyboard
    )
    if shown and not remaining:
        async with services.sessionmaker() as session, session.begin():
            broadcast = await broadcast_store.get(session, broadcast_id)
            if broadcast is not None and broadcast.finished_at is None:
                broadcast.finished_at = services.clock.now()


async def _show_report(
    messenger: Messenger,
    broadcast_id: int,
    chat_id: int,
    message_id: int,
    text: Html,
    keyboard: Keyboard | None,
) -> bool:
    """Edits the report; True once the coordinator sees this text (or can never see it)."""
    for attempt in range(REPORT_ATTEMPTS):
        try:
            await messenger.edit_message(chat_id, message_id, text, keyboard)
            return True
        except MessageNotModified:
            return True
        except MessageGone:
            # The report was deleted: the summary comes as a message of its own.
            try:
                await messenger.send_message(chat_id, text, keyboard)
            except MessengerError as exc:
                log.warning("could not send the report of broadcast %s: %r", broadcast_id, exc)
            return True
        except (RetryAfter, TransientError) as exc:
            if attempt + 1 == REPORT_ATTEMPTS:
                log.warning("the report of broadcast %s is late: %r", broadcast_id, exc)
                return False
            wait = exc.seconds if isinstance(exc, RetryAfter) else float(2**attempt)
            await asyncio.sleep(wait)
        except MessengerError as exc:
            log.warning("could not update the report of broadcast %s: %r", broadcast_id, exc)
            return True
    return False


async def refresh_refs(services: Services, refs: Iterable[str]) -> None:
    """Refreshes the reports of the broadcasts behind these outbox refs (the engine's hook)."""
    for ref in refs:
        broadcast_id = broadcast_store.id_of(ref)
        if broadcast_id is not None:
            await refresh(services, broadcast_id)
