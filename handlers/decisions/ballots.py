"""The shared machinery of group decisions: creating, who may vote, live results, closing.

Native Telegram poll or inline buttons — decided per decision when it is created:

- An open vote with live results and one vote per person is sent as a *native, non-anonymous
  Telegram poll*: it is the interface members know, and Telegram shows exactly what an open,
  live vote promises (who chose what, the counts). The bot receives every `poll_answer` and
  keeps its own counted results message next to the poll (only eligible members count there).
- Not when the group has a member in discreet mode: Telegram shows every voter's name next to
  their choice in a non-anonymous poll, and a discreet member is never shown by name with a
  choice; such a group votes with buttons.
- A vote whose results are hidden until the close is a native poll too, sent with Bot API
  10.1's `hide_results_until_closes` (Telegram shows counts and voters only once it closes,
  which is what "hidden" promises); every native poll is sent with `allows_revoting` (a vote
  can be changed until the close) and the rules as its `description`.
- Everything else uses *inline buttons* on the results message: an anonymous native poll sends
  the bot no answers at all (no eligibility, quorum or nudges possible), and shows its counts
  as they change (so it cannot keep "turnout only until the close"); and a poll cannot count
  one vote per organisation. Consensus proposals use buttons too: a Block must start a private
  dialog for the reason, and "I have a question" is not a position, which a poll cannot express.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import datetime, timedelta
from fractions import Fraction
from functools import partial
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from handlers.coalition.audit import note
from handlers.decisions import group_voice
from handlers.decisions.decision_input import CONSENSUS, SPREAD_RULES, VOTE, parse
from handlers.decisions.decision_views import (
    Snapshot,
    final_text,
    keyboard,
    live_text,
    plain_text,
    rules_text,
    short_result,
)
from handlers.decisions.outcomes import outcome_row
from handlers.decisions.vote_rules import (
    BLOCK,
    COUNTED_POSITIONS,
    DEFAULT_WEAK_SHARE,
    DOTS,
    MEETING,
    NO,
    QUESTION,
    RANKED,
    SCORE,
    Cast,
    Outcome,
    Quorum,
    Tally,
    decide_consensus,
    decide_spread,
    decide_vote,
    instant_runoff,
    latest_per_unit,
    parse_share,
    tally,
)
from handlers.kernel import deadlines, failures
from handlers.kernel.context import Context, Services
from handlers.kernel.i18n import Html, translator
from handlers.kernel.invalid_input import InvalidInput
from handlers.kernel.permissions import may_start_decision
from handlers.kernel.ports import (
    BadRequest,
    Button,
    ChatNotFound,
    Forbidden,
    Keyboard,
    MessageGone,
    MessageNotModified,
    Messenger,
    MessengerError,
)
from storage.coalition import group_store, organisation_store
from storage.decisions import decision_store
from storage.decisions.decision_models import Decision
from storage.models import Volunteer
from storage.people import shown_names

log = logging.getLogger(__name__)

NATIVE = "native"
BUTTONS = "buttons"
CLOSE_TIMER = "decision_close"
NUDGE_TIMER = "decision_nudge"
HALFWAY = "half"
HOUR_BEFORE = "hour"
MEMBERS_CAN_CREATE = "members_can_create"
ORG_VOTING = "org_voting"
ACTIVE = "active"


def unit_for(volunteer: Volunteer, org_voting: bool) -> str:
    """The counting unit of a voter: their organisation's record (one vote per organisation,
    whatever spelling each of its people typed), or them."""
    if org_voting and volunteer.kind == "organisation" and volunteer.org_id is not None:
        return f"org:{volunteer.org_id}"
    return f"user:{volunteer.user_id}"


def votes_here(volunteer: Volunteer, org_voting: bool) -> bool:
    """Whether the volunteer's ballot counts: under one vote per organisation, an organisation's
    observers and those a coordinator has not yet approved do not vote."""
    if not org_voting or volunteer.kind != "organisation" or volunteer.org_id is None:
        return True
    return organisation_store.votes_for(volunteer)


def counts_as_vote(decision: Decision, choice: list[int]) -> bool:
    """A question in a consensus is not a position; everything else is."""
    return bool(choice) and not (decision.kind == CONSENSUS and choice == [QUESTION])


async def assess(session: AsyncSession, decision: Decision) -> Snapshot:
    """Counts a decision now (or returns its stored result once closed)."""
    if decision.status != decision_store.OPEN and decision.result:
        return Snapshot.from_json(decision.result)
    rows = await decision_store.ballots(session, decision.id)
    eligible = await decision_store.eligible(session, decision.chat_id)
    people = await decision_store.people(session, [row.voter_id for row in rows])
    units = {
        unit_for(v, decision.org_voting) for v in eligible if votes_here(v, decision.org_voting)
    }
    casts = [Cast(row.unit, tuple(row.choice), row.updated_at) for row in rows]
    used = await _proxy_casts(session, decision, casts)
    quorum = Quorum(
        count=decision.quorum_count,
        share=parse_share(decision.quorum_share) if decision.quorum_share else None,
    )
    latest = {(c.unit, c.at): c for c in latest_per_unit(casts)}
    rounds: list[dict[str, Any]] = []
    distribution: list[list[int]] = []
    counted_rows = [row for row in rows if (row.unit, row.updated_at) in latest]
    if decision.kind == CONSENSUS:
        result = tally(4, casts, counted=COUNTED_POSITIONS)
        weak = parse_share(decision.weak_share) if decision.weak_share else DEFAULT_WEAK_SHARE
        outcome = decide_consensus(result, quorum, len(units), weak)
        size = 3
    elif decision.rule in (SCORE, DOTS, MEETING):
        spread = decide_spread(
            decision.rule,
            len(decision.options),
            [c.choice for c in latest_per_unit(casts)],
            quorum,
            len(units),
        )
        result = Tally(spread.totals, spread.voters)
        outcome = Outcome(spread.status, spread.winners, spread.needed)
        distribution = [list(d) for d in spread.distribution]
        size = len(decision.options)
    elif decision.rule == RANKED:
        latest_casts = latest_per_unit(casts)
        runoff = instant_runoff(
            len(decision.options), [c.choice for c in latest_casts], quorum, len(units)
        )
        first = runoff.rounds[0].counts if runoff.rounds else ()
        result = Tally(tuple(c or 0 for c in first) or (0,) * len(decision.options), runoff.voters)
        outcome = Outcome(runoff.status, runoff.winners, runoff.needed)
        rounds = [
            {"counts": list(r.counts), "exhausted": r.exhausted, "eliminated": list(r.eliminated)}
            for r in runoff.rounds
        ]
        size = len(decision.options)
    else:
        abstain = decision.abstain_option
        result = tally(len(decision.options), casts, abstain=abstain)
        outcome = decide_vote(decision.rule, result, quorum, len(units), abstain)
        size = len(decision.options)
    names: list[list[str | None]] = [[] for _ in range(size)]
    voted: list[str | None] = []
    asking: list[str | None] = []
    reasons: list[list[str | None]] = []
    discussion: list[list[str | None]] = []
    for row in counted_rows:
        shown = shown_names.for_results(people.get(row.voter_id), decision.org_voting)
        name = shown if isinstance(shown, str) else None
        if decision.kind == CONSENSUS and row.reason and row.choice in ([BLOCK], [QUESTION]):
            kind = "block" if row.choice == [BLOCK] else "question"
            discussion.append([kind, name, row.reason, row.answer])
        if not counts_as_vote(decision, row.choice):
            if row.choice == [QUESTION]:
                asking.append(name)
            continue
        voted.append(name)
        for pick in _named_options(decision, row.choice):
            if 0 <= pick < size:
                names[pick].append(name)
        if decision.kind == CONSENSUS and row.choice == [BLOCK]:
            reasons.append([name, row.reason])
    return Snapshot(
        counts=list(result.counts[:size]),
        voters=result.voters,
        abstentions=result.abstentions,
        eligible=len(units),
        needed=outcome.needed,
        status=outcome.status,
        winners=list(outcome.winners),
        questions=len(asking),
        names=names,
        voted=voted,
        asking=asking,
        reasons=reasons,
        rounds=rounds,
        distribution=distribution,
        proxies=used,
        discussion=discussion,
    )


async def _proxy_casts(
    session: AsyncSession, decision: Decision, casts: list[Cast]
) -> list[list[str]]:
    """Adds to `casts` the ballots organisations cast by proxy: an organisation that gave its
    vote to another and cast none of its own votes as its delegate did (the delegate's latest
    ballot, at the same moment). Returns [delegate, organisation] names of the proxies used."""
    if not decision.org_voting:
        return []
    given = await decision_store.proxies(session, decision.id)
    if not given:
        return []
    own = {cast.unit for cast in casts if counts_as_vote(decision, list(cast.choice))}
    latest = {cast.unit: cast for cast in latest_per_unit(casts)}
    used: list[tuple[int, int]] = []
    for proxy in given:
        unit, delegate = f"org:{proxy.from_org}", latest.get(f"org:{proxy.to_org}")
        if unit in own or delegate is None or not counts_as_vote(decision, list(delegate.choice)):
            continue
        casts.append(Cast(unit, delegate.choice, delegate.at))
        used.append((proxy.to_org, proxy.from_org))
    names = await organisation_store.named(session, [org for pair in used for org in pair])
    return [[names.get(to, ""), names.get(of, "")] for to, of in used]


def _named_options(decision: Decision, choice: list[int]) -> list[int]:
    """The options a ballot names its voter under: the chosen ones; for a meeting time, the
    moments they cannot make; none for a ranking, a score or dots (shown as numbers only)."""
    if decision.rule == MEETING:
        return [i for i, answer in enumerate(choice) if answer == NO]
    if decision.rule in SPREAD_RULES:
        return []
    return sorted(set(choice))


async def voter(ctx: Context, decision: Decision) -> Volunteer | None:
    """The person, when they may vote in this decision; otherwise a private invitation."""
    volunteer = ctx.volunteer
    if (
        volunteer is not None
        and volunteer.status == ACTIVE
        and await in_group(ctx, decision.chat_id, ctx.user_id)
    ):
        if votes_here(volunteer, decision.org_voting):
            return volunteer
        key = (
            "decisions.org_observer"
            if volunteer.org_role == organisation_store.OBSERVER
            else "decisions.org_pending"
        )
        ctx.answer(ctx.t(key, organisation=volunteer.org_name or ""), alert=True)
        return None
    group = await group_store.get(ctx.session, decision.chat_id)
    title = group.title if group is not None else ""
    link = ctx.private_link()
    user_id = ctx.user_id
    keyboard: Keyboard | None = None
    if volunteer is None:
        text = ctx.t("decisions.invite_register", question=decision.question, group=title)
        keyboard = [[Button(ctx.t("decisions.button.register"), url=link)]]
    else:
        text = ctx.t("decisions.invite_member", question=decision.question, group=title)

    async def _invite(messenger: Messenger) -> None:
        await messenger.send_message(user_id, text, keyboard)

    if ctx.event.callback_id is None:  # a native poll's answer: nothing to answer in place
        ctx.send(user_id, text, keyboard)
        return None
    unreachable = ctx.t("decisions.not_counted_unreachable", link=link)
    ctx.privately(_invite, ctx.t("decisions.not_counted"), alert=True, unreachable=unreachable)
    return None


async def in_group(ctx: Context, chat_id: int, user_id: int) -> bool:
    """Whether the person is in the group: known to be, or — someone who never spoke there —
    as Telegram says (getChatMember), remembered for next time."""
    if await group_store.is_member(ctx.session, chat_id, user_id):
        return True
    try:
        status = await ctx.services.messenger.member_status(chat_id, user_id)
    except MessengerError as exc:
        log.info("membership of %s in %s unknown: %r", user_id, chat_id, exc)
        return False
    await group_store.set_member(ctx.session, chat_id, user_id, status, ctx.now())
    return status in group_store.PRESENT


MAX_LOOKUPS = 50  # members asked about when a decision opens (getChatMember each)


def find_members_later(ctx: Context, chat_id: int, decision_id: int) -> None:
    """After commit (no transaction waits on Telegram): when Telegram counts more people in
    the group than Chorus knows (getChatMemberCount), asks about the registered, active
    volunteers not known there (at most MAX_LOOKUPS, each once: the answer is recorded), and
    shows the decision again if the eligible count grew."""
    services = ctx.services

    async def _find(messenger: Messenger) -> None:
        async with services.sessionmaker() as session:
            known = await group_store.members(session, chat_id)
            unknown = await group_store.registered_not_known(session, chat_id, MAX_LOOKUPS)
        if not unknown:
            return
        found: dict[int, str] = {}
        try:
            if await messenger.member_count(chat_id) <= len(known) + 1:  # + the bot
                return
            for user_id in unknown:
                try:
                    found[user_id] = await messenger.member_status(chat_id, user_id)
                except ChatNotFound:  # "user not found": not someone of this group
                    found[user_id] = "left"
        except MessengerError as exc:  # a flood, the bot removed…: the rest another time
            log.info("members of %s not all known: %r", chat_id, exc)
        async with services.sessionmaker() as session, session.begin():
            for user_id, status in found.items():
                await group_store.set_member(
                    session, chat_id, user_id, status, services.clock.now()
                )
        if any(status in group_store.PRESENT for status in found.values()):
            async with services.sessionmaker() as session, session.begin():
                await _in_the_groups_voice(session, services, decision_id)
            await services.edits.submit(
                ("decision", decision_id), partial(render, services, decision_id)
            )

    ctx.after_commit(_find)


async def _in_the_groups_voice(session: AsyncSession, services: Services, decision_id: int) -> None:
    """The members just found may make another group voice (group_voice.of_group, the rule
    /decisions reports): the decision is then written in it, its buttons' generated labels
    (moments, "Abstain") too. A native poll's own options cannot be edited: left as they are."""
    decision = await decision_store.get(session, decision_id)
    if decision is None or decision.status != decision_store.OPEN:
        return
    settings = services.settings
    voice = await group_voice.of_group(
        session, decision.chat_id, settings.default_locale, settings.default_timezone
    )
    if (voice.locale, voice.timezone) == (decision.locale, decision.timezone):
        return
    options = list(decision.options)
    if decision.transport == BUTTONS:
        t = translator(voice.locale)
        for index, moment in enumerate(decision.moments or []):
            options[index] = t.datetime_text(datetime.fromisoformat(moment), voice.timezone)
        if decision.abstain_option is not None:
            options[decision.abstain_option] = t("decisions.abstain_option")
    await decision_store.set_voice(session, decision_id, voice.locale, voice.timezone, options)


def refresh_later(ctx: Context, decision_id: int) -> None:
    """After commit, edits the live results message — coalesced, as group edit limits require."""
    services = ctx.services

    async def _submit(_: Messenger) -> None:
        await services.edits.submit(
            ("decision", decision_id), partial(render, services, decision_id)
        )

    ctx.after_commit(_submit)


async def render(
    services: Services, decision_id: int, *, shown: tuple[str, Keyboard] | None = None
) -> None:
    """Edits the results message to show the decision as it is now (unless it shows that)."""
    async with services.sessionmaker() as session:
        decision = await decision_store.get(session, decision_id)
        if decision is None or decision.results_message_id is None:
            return
        if decision.status != decision_store.OPEN:
            return
        snap = await assess(session, decision)
    t = translator(decision.locale)
    text, buttons = live_text(t, decision, snap), keyboard(t, decision, snap)
    if shown is not None and (text, buttons) == shown:
        return
    try:
        with contextlib.suppress(MessageNotModified):
            await services.messenger.edit_message(
                decision.chat_id, decision.results_message_id, text, buttons
            )
    except MessageGone:  # deleted, or an id of a chat that is no more: posted anew, once
        sent = await services.messenger.send_message(
            decision.chat_id, text, buttons, thread_id=decision.thread_id
        )
        async with services.sessionmaker() as session, session.begin():
            await decision_store.set_results_message(session, decision_id, sent.message_id)


async def create(ctx: Context, kind: str) -> None:
    """Creates a vote or a proposal from the command's text, or explains what to fix."""
    voice = await group_voice.of_context(ctx)
    own = ctx.t  # settings and dates are read in the member's language too
    t = group_voice.replies(ctx, voice)  # in a group, replies are in the group's language
    usage = "polls.usage" if kind == VOTE else "consensus.usage"
    if not ctx.args:
        ctx.reply(t(usage))
        return
    group = await group_store.get(ctx.session, ctx.chat_id)
    settings = group.settings if group is not None else {}
    refused = may_start_decision(ctx.roles, ctx.volunteer, bool(settings.get(MEMBERS_CAN_CREATE)))
    if refused is not None:
        ctx.reply(t(refused))
        return
    timezone = voice.timezone  # "18:00" typed in a group is the group's 18:00
    try:
        draft = parse(kind, ctx.args, own, ctx.now(), timezone)
    except InvalidInput as exc:
        ctx.reply(Html(exc.text(t) + "\n" + t("decisions.usage_hint", command=kind_command(kind))))
        return
    org_voting = bool(settings.get(ORG_VOTING))
    posts = translator(voice.locale)
    if draft.moments:  # each moment written in the group's language and time zone
        draft.options = [posts.datetime_text(m, timezone) for m in draft.moments]
    abstain_option: int | None = None
    if draft.abstain:
        abstain_option = len(draft.options)
        draft.options.append(posts("decisions.abstain_option"))
    # Telegram names every voter of a non-anonymous poll to the group: never with discreet
    # members in it (they vote with buttons, where the bot's results never name them).
    native = (
        kind == VOTE
        and draft.rule not in SPREAD_RULES  # a Telegram poll cannot rank, score or spread
        and not (draft.anonymous or org_voting)
        and not await decision_store.has_discreet_member(ctx.session, ctx.chat_id)
    )
    decision = await decision_store.create(
        ctx.session,
        chat_id=ctx.chat_id,
        thread_id=ctx.event.thread_id,
        kind=kind,
        question=draft.question,
        options=draft.options,
        multiple=draft.multiple,
        rule=draft.rule if kind == VOTE else CONSENSUS,
        quorum_count=draft.quorum.count,
        quorum_share=_fraction(draft.quorum.share),
        weak_share=_fraction(draft.weak_share) if kind == CONSENSUS else None,
        anonymous=draft.anonymous,
        hidden=draft.hidden,
        org_voting=org_voting,
        nudges=draft.nudges,
        transport=NATIVE if native else BUTTONS,
        created_by=ctx.user_id,
        locale=posts.locale,
        timezone=timezone,
        abstain_option=abstain_option,
        dots=draft.dots,
        moments=[m.isoformat() for m in draft.moments] or None,
        created_at=ctx.now(),
        closes_at=draft.closes_at,
    )
    await note(ctx, "decision.open", decision=decision.id, question=decision.question)
    await schedule_timers(ctx, decision)
    publish(ctx, decision, await assess(ctx.session, decision))
    find_members_later(ctx, ctx.chat_id, decision.id)


def kind_command(kind: str) -> str:
    """The command that creates a kind of decision."""
    return "/poll" if kind == VOTE else "/consensus"


def _fraction(value: Fraction | None) -> str | None:
    return None if value is None else f"{value.numerator}/{value.denominator}"


def publish(ctx: Context, decision: Decision, snap: Snapshot) -> None:
    """After commit, posts the poll (native) and the results message, and remembers their ids."""
    services = ctx.services
    t = translator(decision.locale)
    text, buttons = live_text(t, decision, snap), keyboard(t, decision, snap)
    author_locale = ctx.t.locale

    async def _publish(messenger: Messenger) -> None:
        poll_id: str | None = None
        poll_message_id: int | None = None
        try:
            if decision.transport == NATIVE:
                sent = await messenger.send_poll(
                    decision.chat_id,
                    decision.question,
                    decision.options,
                    anonymous=False,
                    multiple=decision.multiple,
                    hide_results=decision.hidden,
                    description=plain_text(rules_text(t, decision, snap)),
                    thread_id=decision.thread_id,
                )
                poll_id, poll_message_id = sent.poll_id, sent.message_id
                await _remember(services, decision.id, poll_id, poll_message_id, None)
            results = await messenger.send_message(
                decision.chat_id, text, buttons, thread_id=decision.thread_id
            )
        except MessengerError as exc:  # flood control already waited out (bot/botapi/patience)
            log.warning("decision %s could not be published: %r", decision.id, exc)
            async with services.sessionmaker() as session, session.begin():
                await decision_store.fail(session, decision.id, services.clock.now())
            told, chat, thread = t, decision.chat_id, decision.thread_id
            if isinstance(exc, Forbidden | ChatNotFound):  # not in the group: privately
                told, chat, thread = translator(author_locale), decision.created_by, None
            why = failures.reason(told, exc)
            said = told("decisions.publish_failed", question=decision.question, reason=why)
            await failures.tell(services, chat, said, thread_id=thread)
            return
        await _remember(services, decision.id, poll_id, poll_message_id, results.message_id)
        # A vote handled while the message was on its way found no message to edit: show it.
        await render(services, decision.id, shown=(text, buttons))

    ctx.after_commit(_publish)


async def _remember(
    services: Services, decision_id: int, poll_id: str | None, poll_mid: int | None, mid: int | None
) -> None:
    async with services.sessionmaker() as session, session.begin():
        await decision_store.set_messages(
            session, decision_id, poll_id=poll_id, poll_message_id=poll_mid, results_message_id=mid
        )


def nudge_moments(decision: Decision) -> list[tuple[str, datetime]]:
    """When the quiet members are reminded: halfway, and one hour before the close."""
    moments = [(HALFWAY, decision.created_at + (decision.closes_at - decision.created_at) / 2)]
    hour_before = decision.closes_at - timedelta(hours=1)
    if hour_before > moments[0][1]:
        moments.append((HOUR_BEFORE, hour_before))
    return moments


async def schedule_timers(ctx: Context, decision: Decision) -> None:
    """Schedules (or moves) the close and the nudges still to come."""
    payload = {"decision": decision.id}
    await ctx.schedule(
        CLOSE_TIMER,
        f"{decision.id}:close",
        decision.closes_at,
        chat_id=decision.chat_id,
        payload=payload,
    )
    if not decision.nudges:
        return
    for moment, due in nudge_moments(decision):
        if moment in decision.nudged or due <= ctx.now():
            continue
        await ctx.schedule(
            NUDGE_TIMER,
            f"{decision.id}:{moment}",
            due,
            chat_id=decision.chat_id,
            payload={**payload, "moment": moment},
            grace_seconds=int((decision.closes_at - due).total_seconds()),
        )


async def close(ctx: Context, decision: Decision, late_seconds: float = 0.0) -> None:
    """Counts, stores the outcome, forgets anonymous ballots, then posts and pins the result."""
    snap = await assess(ctx.session, decision)
    snap.late_seconds = late_seconds
    snap.discussion = []  # the close shows the block reasons (as before), not the discussion
    if decision.anonymous:  # only the counts outlive an anonymous decision
        snap.names = [[] for _ in snap.names]
        snap.voted, snap.asking = [], []
        snap.reasons = [[None, reason] for _, reason in snap.reasons]
    await decision_store.close(ctx.session, decision, snap.to_json(), ctx.now())
    if decision.anonymous:
        await decision_store.purge_ballots(ctx.session, decision.id)
    await ctx.cancel_timers(CLOSE_TIMER, f"{decision.id}:")
    await ctx.cancel_timers(NUDGE_TIMER, f"{decision.id}:")
    services = ctx.services
    t = translator(decision.locale)
    result, short = final_text(t, decision, snap), short_result(t, decision, snap)
    closed_note = t("decisions.closed_see_below", question=decision.question)

    async def _announce(messenger: Messenger) -> None:
        services.edits.cancel(("decision", decision.id))
        if decision.transport == NATIVE and decision.poll_message_id is not None:
            try:
                await messenger.stop_poll(decision.chat_id, decision.poll_message_id)
            except MessengerError as exc:
                log.info("poll of decision %s not stopped: %r", decision.id, exc)
        if decision.results_message_id is not None:
            try:
                await messenger.edit_message(
                    decision.chat_id, decision.results_message_id, closed_note
                )
            except MessengerError as exc:
                log.info("results of decision %s not edited: %r", decision.id, exc)
        row, thread = outcome_row(t, decision), decision.thread_id
        try:
            try:
                sent = await messenger.send_message(decision.chat_id, result, row, thread_id=thread)
            except BadRequest as exc:  # still refused (too long, too many entities): short form
                log.warning("result of decision %s refused, sent short: %r", decision.id, exc)
                sent = await messenger.send_message(decision.chat_id, short, row, thread_id=thread)
        except MessengerError as exc:  # flood control already waited out: tell who started it
            log.warning("result of decision %s not posted: %r", decision.id, exc)
            why = failures.reason(t, exc)
            said = t(
                "decisions.result_failed", question=decision.question, reason=why, result=short
            )
            await failures.tell(services, decision.created_by, said)
            return
        async with services.sessionmaker() as session, session.begin():
            await decision_store.set_final_message(session, decision.id, sent.message_id)
        try:
            await messenger.pin_message(decision.chat_id, sent.message_id)
        except MessengerError as exc:
            log.info("result of decision %s not pinned: %r", decision.id, exc)

    ctx.after_commit(_announce)


async def extend(ctx: Context, decision: Decision, delta: timedelta) -> bool:
    """Moves the close later (the nudges already sent are not sent again); False if too far."""
    try:
        deadlines.check(decision.closes_at + delta, ctx.now())
    except InvalidInput:
        return False
    decision.closes_at = decision.closes_at + delta
    await ctx.session.flush()
    await schedule_timers(ctx, decision)
    t = translator(decision.locale)
    moment = t.datetime_text(decision.closes_at, decision.timezone)
    text = t("decisions.extended", question=decision.question, time=moment)
    ctx.send(decision.chat_id, text, thread_id=decision.thread_id)
    refresh_later(ctx, decision.id)
    return True
