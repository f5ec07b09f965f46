"""What a group sees of a decision: the live results message, the final result, the buttons.

What is shown, and when (the promise of each mode, stated in docs/decisions.md):

- open: who chose what, live (discreet members as "a member (discreet)", never by name);
- hidden: while open, only the turnout and who has voted; at the close, who chose what;
- anonymous: while open, only the turnout as a number — no counts, no names, nothing on the
  buttons — so that no sequence of edits can be matched with who pressed in between; at the
  close, the counts only. No name is ever attached to a choice (ballots are deleted then).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from babel.numbers import format_decimal, format_percent

from handlers.decisions.vote_rules import (
    ADOPTED,
    AGREE,
    BLOCK,
    CONSENSUS,
    DEFAULT_DOTS,
    DOTS,
    IF_NEED_BE,
    MAX_SCORE,
    MEETING,
    NO,
    NO_QUORUM,
    POSITIONS,
    RANKED,
    SCORE,
    STAND_ASIDE,
    YES,
    parse_share,
)
from handlers.kernel import limits
from handlers.kernel.callbacks import CallbackData
from handlers.kernel.i18n import Html, Translator
from handlers.kernel.ports import Button, Keyboard
from storage.decisions.decision_models import Decision


class VoteButton(CallbackData, prefix="dv"):
    """An option of a vote by buttons: dv:<decision>:<option index> (checked when pressed)."""

    decision_id: int
    option: int


class PositionButton(CallbackData, prefix="dp"):
    """A consensus position: dp:<decision>:<position> (0 agree … 3 a question)."""

    decision_id: int
    position: int

    def __post_init__(self) -> None:
        if self.position >= len(POSITIONS):
            raise ValueError(self.position)


class MarkButton(CallbackData, prefix="dm"):
    """A score (0-5), a dot (1 add, 0 take back) or an availability (2 yes, 1 if need be, 0 no)
    for one option: dm:<decision>:<option>:<value>; value SHOW answers with the person's own
    ballot (and, for a meeting time, the moments in their own time zone)."""

    decision_id: int
    option: int
    value: int


SHOW = 9
MEETING_ICONS = {YES: "✅", IF_NEED_BE: "🤷", NO: "❌"}


class AdminButton(CallbackData, prefix="dx"):
    """Close now or extend by a day: dx:<decision>:close|extend."""

    decision_id: int
    operation: Literal["close", "extend"]


_TAG = re.compile(r"<[^>]*>")
MAX_NAMES = 25
SPREADS = frozenset({SCORE, DOTS, MEETING})
LATE_NOTICE_SECONDS = 120  # on time is within a second; later means the bot was down
NAME_CAPS = (MAX_NAMES, 10, 3, 0)  # names per list, tried in turn until the text fits
POSITION_ICONS = ("👍", "🤚", "✋", "❓")


@dataclass(slots=True)
class Snapshot:
    """Counts and names of a decision at one moment (live), or its stored result (closed)."""

    counts: list[int]
    voters: int
    eligible: int
    needed: int
    status: str
    winners: list[int] = field(default_factory=list)
    questions: int = 0
    names: list[list[str | None]] = field(default_factory=list)  # per option; None: discreet
    voted: list[str | None] = field(default_factory=list)  # who has voted
    asking: list[str | None] = field(default_factory=list)  # consensus: who has a question
    reasons: list[list[str | None]] = field(default_factory=list)  # [name, reason] per block
    late_seconds: float = 0.0
    abstentions: int = 0  # voters whose only choice was the abstain option
    # ranked choice: each round's {"counts": [n | None], "exhausted": n, "eliminated": [i]}
    rounds: list[dict[str, Any]] = field(default_factory=list)
    distribution: list[list[int]] = field(default_factory=list)  # score, dots, meeting
    proxies: list[list[str]] = field(default_factory=list)  # [delegate, organisation] used
    # consensus, while open: [kind ("block" | "question"), name, text, the author's answer]
    discussion: list[list[str | None]] = field(default_factory=list)

    @property
    def cast(self) -> int:
        """Votes cast: voters who did not abstain."""
        return self.voters - self.abstentions

    def to_json(self) -> dict[str, Any]:
        """The snapshot as stored in Decision.result."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Snapshot:
        """A stored result."""
        return cls(**data)


def plain_text(text: str) -> str:
    """Message HTML as plain text (for a poll's description, which takes no markup)."""
    return html.unescape(_TAG.sub("", text))


def _name(t: Translator, name: str | None) -> str:
    return t.isolate(name) if name is not None else t("decisions.discreet_member")


def name_list(t: Translator, names: list[str | None], cap: int = MAX_NAMES) -> str:
    """Names, discreet members masked, at most `cap` of them."""
    shown = [_name(t, n) for n in names[:cap]]
    if len(names) > cap:
        shown.append(t("decisions.and_more", count=len(names) - cap))
    return t.comma.join(shown)


def _percent(t: Translator, part: int, whole: int) -> str:
    return str(format_percent(part / whole if whole else 0, locale=t.babel_locale))


def when(t: Translator, decision: Decision) -> str:
    """The closing time, in the decision's time zone."""
    moment = t.datetime_text(decision.closes_at, decision.timezone)
    return t("decisions.closes_at", time=moment, zone=decision.timezone)


def rules_text(t: Translator, decision: Decision, snap: Snapshot) -> str:
    """The rule, the quorum and what is visible, in one short paragraph."""
    if decision.kind == CONSENSUS:
        weak = parse_share(decision.weak_share or "1/3")
        percent = format_percent(float(weak), locale=t.babel_locale)
        lines: list[str] = [t("decisions.rule.consensus", weak=percent)]
    else:
        lines = [t(f"decisions.rule.{decision.rule}", dots=decision.dots or DEFAULT_DOTS)]
    if decision.quorum_count is not None:
        lines.append(t.plural("decisions.quorum_count", decision.quorum_count))
    elif decision.quorum_share is not None:
        share = parse_share(decision.quorum_share)
        lines.append(
            t(
                "decisions.quorum_share",
                share=format_percent(float(share), locale=t.babel_locale),
                needed=snap.needed,
            )
        )
    lines.append(t("decisions.mode.anonymous" if decision.anonymous else "decisions.mode.open"))
    if decision.hidden:
        lines.append(t("decisions.mode.hidden"))
    if decision.org_voting:
        lines.append(t("decisions.mode.org_voting"))
    if decision.multiple:
        lines.append(t("decisions.mode.multiple"))
    if decision.abstain_option is not None:
        lines.append(t("decisions.mode.abstain"))
    return "\n".join(lines)


def _option_lines(
    t: Translator, decision: Decision, snap: Snapshot, *, with_names: bool, cap: int = MAX_NAMES
) -> list[str]:
    lines: list[str] = []
    labels = option_labels(t, decision)
    for index, count in enumerate(snap.counts[: len(labels)]):
        if index == decision.abstain_option:
            line = t("decisions.abstain_count", option=labels[index], count=count)
        else:
            line = t(
                "decisions.option_count",
                option=labels[index],
                count=count,
                percent=_percent(t, count, snap.cast),
            )
        names = snap.names[index] if with_names and cap and index < len(snap.names) else []
        if names:
            line = Html(f"{line}{t.colon}{name_list(t, names, cap)}")
        lines.append(line)
    if decision.kind == CONSENSUS and snap.questions:
        line = t.plural("decisions.questions_open", snap.questions)
        if with_names and cap and snap.asking:
            line = Html(f"{line}{t.colon}{name_list(t, snap.asking, cap)}")
        lines.append(line)
    return lines


def option_labels(t: Translator, decision: Decision) -> list[str]:
    """The options of a vote, or the positions of a consensus."""
    if decision.kind == CONSENSUS:
        return [
            f"{POSITION_ICONS[i]} {t(f'decisions.position.{POSITIONS[i]}')}"
            for i in (AGREE, STAND_ASIDE, BLOCK)
        ]
    return list(decision.options)


def _turnout(
    t: Translator,
    decision: Decision,
    snap: Snapshot,
    *,
    names: bool,
    closed: bool = False,
    cap: int = MAX_NAMES,
) -> list[str]:
    lines: list[str] = [t.plural("decisions.turnout", snap.voters, eligible=snap.eligible)]
    if decision.abstain_option is not None and not (decision.anonymous and not closed):
        lines.append(t("decisions.votes_cast", cast=snap.cast, abstentions=snap.abstentions))
    if snap.needed:
        missing = snap.needed - snap.voters
        if missing <= 0:
            lines.append(t("decisions.quorum_reached"))
        elif not closed:  # at the close the outcome says the quorum was not reached
            lines.append(t.plural("decisions.quorum_missing", missing))
    if names and cap and snap.voted:
        lines.append(t("decisions.who_voted", names=Html(name_list(t, snap.voted, cap))))
    return lines


def _fit(render: Callable[[int], list[str]]) -> Html:
    """The text with as many names as fit Telegram's limit (25 per list, then 10, 3, none);
    cut, markup kept whole, only when even the counts alone do not fit."""
    text = ""
    for cap in NAME_CAPS:
        text = "\n".join(render(cap))
        if limits.fits(text):
            return Html(text)
    return limits.shorten(text)


def live_text(t: Translator, decision: Decision, snap: Snapshot) -> Html:
    """The live results message."""
    return _fit(lambda cap: _live_lines(t, decision, snap, cap))


def _live_lines(t: Translator, decision: Decision, snap: Snapshot, cap: int) -> list[str]:
    head = "decisions.head_consensus" if decision.kind == CONSENSUS else "decisions.head_vote"
    lines = [
        t(head, question=decision.question),
        "",
        rules_text(t, decision, snap),
        when(t, decision),
        "",
    ]
    ranked = decision.rule == RANKED  # first choices alone would mislead: shown at the close
    if not (decision.hidden or decision.anonymous or ranked):
        if decision.rule in SPREADS:
            lines += spread_lines(t, decision, snap, with_names=True, cap=cap)
        else:
            lines += _option_lines(t, decision, snap, with_names=True, cap=cap)
        lines.append("")
    shown = (decision.hidden or ranked) and not decision.anonymous
    lines += _turnout(t, decision, snap, names=shown, cap=cap)
    if snap.discussion and not decision.anonymous:  # reasons and questions, while it is open
        lines += ["", t("consensus.discussion")]
        for kind, name, text, answer in snap.discussion[:cap]:
            mark = "🚫" if kind == "block" else "❓"
            lines.append(f"{mark} {_name(t, name)}{t.colon}{t.isolate(text or '')}")
            if answer:
                lines.append(t("consensus.answer_line", answer=answer))
    return lines


def final_text(t: Translator, decision: Decision, snap: Snapshot) -> Html:
    """The result posted (and pinned) at the close."""
    return _fit(lambda cap: _final_lines(t, decision, snap, cap))


def short_result(t: Translator, decision: Decision, snap: Snapshot) -> Html:
    """The result in its shortest form (question, outcome, turnout), for when Telegram refuses
    the full one: the result of a vote must always get through."""
    lines = [
        t("decisions.final_head", question=decision.question),
        "",
        outcome_text(t, decision, snap),
        "",
        *_turnout(t, decision, snap, names=False, closed=True),
    ]
    return limits.shorten("\n".join(lines))


def _final_lines(t: Translator, decision: Decision, snap: Snapshot, cap: int) -> list[str]:
    lines = [
        t("decisions.final_head", question=decision.question),
        "",
        outcome_text(t, decision, snap),
        "",
    ]
    if decision.rule == RANKED:
        lines += round_lines(t, decision, snap)
    elif decision.rule in SPREADS:
        lines += spread_lines(t, decision, snap, with_names=not decision.anonymous, cap=cap)
    else:
        lines += _option_lines(t, decision, snap, with_names=not decision.anonymous, cap=cap)
    if snap.reasons:
        lines.append("")
        lines.append(t("decisions.block_reasons"))
        for name, reason in snap.reasons:
            reason_text = t.isolate(reason) if reason else t("decisions.no_reason")
            who = _name(t, name) if not decision.anonymous else t("decisions.a_member")
            lines.append(f"• {who}{t.colon}{reason_text}")
    lines.append("")
    lines += _turnout(t, decision, snap, names=False, closed=True)
    for delegate, organisation in snap.proxies:
        lines.append(t("decisions.proxy_line", delegate=delegate, organisation=organisation))
    if decision.kind != CONSENSUS:
        lines.append(t(f"decisions.rule.{decision.rule}", dots=decision.dots or DEFAULT_DOTS))
    if decision.outcome:
        lines += ["", t("decisions.outcome_line", outcome=decision.outcome)]
    if snap.late_seconds >= LATE_NOTICE_SECONDS:
        minutes = max(1, round(snap.late_seconds / 60))
        lines.append(t.plural("decisions.closed_late", minutes))
    return lines


def _mean(t: Translator, total: int, voters: int) -> str:
    return str(format_decimal(total / voters if voters else 0, "0.#", locale=t.babel_locale))


def spread_lines(
    t: Translator, decision: Decision, snap: Snapshot, *, with_names: bool, cap: int = MAX_NAMES
) -> list[str]:
    """Score: the mean and how many gave each score; dots: the dots; meeting time: yes / if
    need be / no per moment, and (open votes) who cannot make it, discreet members masked."""
    labels = option_labels(t, decision)
    lines: list[str] = []
    for index, label in enumerate(labels):
        total = snap.counts[index] if index < len(snap.counts) else 0
        spread = snap.distribution[index] if index < len(snap.distribution) else []
        if decision.rule == SCORE:
            given = " · ".join(f"{v}★×{n}" for v, n in reversed(list(enumerate(spread))) if n)
            line = t("decisions.score_line", option=label, mean=_mean(t, total, snap.voters))
            if given:
                line = Html(f"{line} ({given})")
        elif decision.rule == DOTS:
            line = t.plural("decisions.dots_line", total, option=label)
        else:
            counts = " · ".join(
                f"{MEETING_ICONS[v]} {spread[v] if v < len(spread) else 0}"
                for v in (YES, IF_NEED_BE, NO)
            )
            line = Html(t("decisions.moment_line", option=label) + " " + counts)
            names = snap.names[index] if with_names and cap and index < len(snap.names) else []
            if names:
                cannot = name_list(t, names, cap)
                line = Html(line + " " + t("decisions.cannot", names=Html(cannot)))
        lines.append(line)
    return lines


def round_lines(t: Translator, decision: Decision, snap: Snapshot) -> list[str]:
    """Ranked choice: one line per round of the instant runoff."""
    labels = option_labels(t, decision)
    lines: list[str] = []
    for number, data in enumerate(snap.rounds, start=1):
        counts = " · ".join(
            f"{t.isolate(labels[i])} {count}"
            for i, count in enumerate(data["counts"])
            if count is not None and i < len(labels)
        )
        line = t("decisions.round", number=number, counts=Html(counts))
        if data["exhausted"]:
            line = Html(line + " " + t.plural("decisions.round_exhausted", data["exhausted"]))
        out = [labels[i] for i in data["eliminated"] if i < len(labels)]
        if out:
            line = Html(
                line
                + " "
                + t("decisions.round_eliminated", options=Html(" / ".join(map(t.isolate, out))))
            )
        lines.append(line)
    return lines


def outcome_text(t: Translator, decision: Decision, snap: Snapshot) -> str:
    """One line: what was decided."""
    labels = option_labels(t, decision)
    winners = [labels[i] for i in snap.winners if i < len(labels)]
    # "{count} of {voters} votes" are votes cast; "{voters} voted, {needed} needed" is turnout.
    voters = snap.voters if snap.status == NO_QUORUM else snap.cast
    values: dict[str, Any] = {"needed": snap.needed, "voters": voters}
    if winners:
        values["option"] = winners[0]
        values["options"] = " / ".join(winners)
        values["count"] = snap.counts[snap.winners[0]]
        values["percent"] = _percent(t, snap.counts[snap.winners[0]], snap.cast)
    if decision.rule == RANKED and snap.status == ADOPTED and snap.rounds and winners:
        last = snap.rounds[-1]
        active = sum(c for c in last["counts"] if c is not None)
        count = last["counts"][snap.winners[0]] or 0
        return t(
            "decisions.outcome.ranked_adopted",
            option=winners[0],
            count=count,
            voters=active,
            percent=_percent(t, count, active),
            rounds=len(snap.rounds),
        )
    if decision.rule in SPREADS and snap.status == ADOPTED and winners:
        best = snap.winners[0]
        spread = snap.distribution[best] if best < len(snap.distribution) else []
        return t(
            f"decisions.outcome.{decision.rule}_adopted",
            option=winners[0],
            count=snap.counts[best],
            mean=_mean(t, snap.counts[best], snap.voters),
            able=sum(spread[v] for v in (YES, IF_NEED_BE) if v < len(spread)),
            voters=snap.voters,
        )
    if decision.kind == CONSENSUS:
        stand = snap.counts[STAND_ASIDE]
        values["stand_asides"] = stand
        values["blocks"] = snap.counts[BLOCK]
    return t(f"decisions.outcome.{snap.status}", **values)


def admin_row(t: Translator, decision: Decision) -> list[Button]:
    """Close now and extend, for coordinators (checked when pressed)."""
    return [
        Button(t("decisions.button.close"), AdminButton(decision.id, "close").pack()),
        Button(t("decisions.button.extend"), AdminButton(decision.id, "extend").pack()),
    ]


def mark_rows(t: Translator, decision: Decision) -> list[list[Button]]:
    """Score: each option, then 0-5; dots: ➕ and ➖ per option; meeting time: each moment,
    then ✅ 🤷 ❌. Pressing an option's name shows the person their own ballot, privately."""
    rows: list[list[Button]] = []
    for index, label in enumerate(option_labels(t, decision)):
        mark = MarkButton(decision.id, index, SHOW).pack()
        if decision.rule == DOTS:
            rows.append(
                [
                    Button(f"➕ {label}", MarkButton(decision.id, index, 1).pack()),
                    Button("➖", MarkButton(decision.id, index, 0).pack()),
                ]
            )
            continue
        rows.append([Button(label, mark)])
        values = range(MAX_SCORE + 1) if decision.rule == SCORE else (YES, IF_NEED_BE, NO)
        rows.append(
            [
                Button(
                    str(v) if decision.rule == SCORE else MEETING_ICONS[v],
                    MarkButton(decision.id, index, v).pack(),
                )
                for v in values
            ]
        )
    if decision.rule == MEETING:
        rows.append(
            [Button(t("decisions.button.my_time"), MarkButton(decision.id, SHOW, SHOW).pack())]
        )
    return rows


def keyboard(t: Translator, decision: Decision, snap: Snapshot) -> Keyboard:
    """The buttons of the results message: options or positions (buttons votes), admin row."""
    rows: list[list[Button]] = []
    if decision.rule in SPREADS:
        rows += mark_rows(t, decision)
    elif decision.transport == "buttons":
        labels = option_labels(t, decision)
        kind = PositionButton if decision.kind == CONSENSUS else VoteButton
        for index, label in enumerate(labels):
            text = label
            counted = not (decision.hidden or decision.anonymous or decision.rule == RANKED)
            if counted and index < len(snap.counts):
                text = f"{label} · {snap.counts[index]}"
            rows.append([Button(text, kind(decision.id, index).pack())])
        if decision.kind == CONSENSUS:
            question = f"{POSITION_ICONS[3]} {t('decisions.position.question')}"
            rows.append([Button(question, PositionButton(decision.id, 3).pack())])
    rows.append(admin_row(t, decision))
    return rows
