"""The counting rules of group decisions, pure: ballots in, a fair outcome out.

- plurality: the option with the most votes wins; a tie for first place decides nothing.
- majority: an option needs more than half of the votes cast (exactly 50 % is not enough).
- two_thirds: an option needs at least two thirds of the votes cast.
- consensus: passes when someone agrees and nobody blocks (and the quorum of positions is
  reached, when one is set); when the stand-asides reach the weak share (default one third) of
  the positions, it is a weak consensus. Standing aside is consensus's abstention: it counts
  towards the quorum and never stops a proposal.

"Votes cast" counts voters (ballots) who did not abstain, as in common rules of order (Robert's
Rules: a majority is "more than half of the votes cast", abstentions aside); an abstention
still counts towards the quorum, which measures who took part. In a multiple-choice vote an
option's share is the share of the votes cast that chose it. With one vote per organisation,
the unit of counting is the organisation (its members' latest ballot), and quorum shares are
shares of eligible units.
Arithmetic is exact (fractions), so 2 of 3 is two thirds and 50 of 100 is not a majority.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from math import ceil

PLURALITY = "plurality"
MAJORITY = "majority"
TWO_THIRDS = "two_thirds"
CONSENSUS = "consensus"
VOTE_RULES = (PLURALITY, MAJORITY, TWO_THIRDS)

AGREE, STAND_ASIDE, BLOCK, QUESTION = 0, 1, 2, 3
POSITIONS = ("agree", "stand_aside", "block", "question")
COUNTED_POSITIONS = (AGREE, STAND_ASIDE, BLOCK)
DEFAULT_WEAK_SHARE = Fraction(1, 3)

ADOPTED = "adopted"
TIE = "tie"
NO_MAJORITY = "no_majority"
NO_QUORUM = "no_quorum"
NO_VOTES = "no_votes"
ALL_ABSTAINED = "all_abstained"
PASSED = "passed"
WEAK = "weak"
BLOCKED = "blocked"
NO_SUPPORT = "no_support"
NO_PREFERENCE = "no_preference"  # score, dots, meeting: no option got anything


@dataclass(frozen=True, slots=True)
class Quorum:
    """How many must take part: a number of voters, a share of the eligible, or nobody."""

    count: int | None = None
    share: Fraction | None = None

    def needed(self, eligible: int) -> int:
        """Voters needed, given how many may vote."""
        if self.count is not None:
            return self.count
        if self.share is not None:
            return ceil(self.share * eligible)
        return 0


@dataclass(frozen=True, slots=True)
class Cast:
    """A ballot as the rules see it: the counting unit, the choice, when it last changed."""

    unit: str
    choice: tuple[int, ...]
    at: datetime


@dataclass(frozen=True, slots=True)
class Tally:
    """Votes per option (or per position), how many units took part, how many abstained."""

    counts: tuple[int, ...]
    voters: int  # turnout: every unit with a ballot, abstentions included (the quorum's count)
    abstentions: int = 0

    @property
    def cast(self) -> int:
        """Votes cast: the voters who did not abstain (the base of every share)."""
        return self.voters - self.abstentions


@dataclass(frozen=True, slots=True)
class Outcome:
    """The result: a status, the winning option(s), the quorum needed."""

    status: str
    winners: tuple[int, ...] = ()
    needed: int = 0


def latest_per_unit(ballots: Iterable[Cast]) -> list[Cast]:
    """One ballot per counting unit: the latest (members of one organisation share its vote)."""
    chosen: dict[str, Cast] = {}
    for cast in ballots:
        current = chosen.get(cast.unit)
        if current is None or cast.at >= current.at:
            chosen[cast.unit] = cast
    return list(chosen.values())


def tally(
    option_count: int,
    ballots: Iterable[Cast],
    *,
    counted: Sequence[int] = (),
    abstain: int | None = None,
) -> Tally:
    """Counts the latest ballot of each unit; `counted` limits which choices make a voter.

    A ballot whose only choice is the `abstain` option is an abstention: it counts in the
    turnout, not in the votes cast; an abstain pick next to real choices is ignored.
    """
    counts = [0] * option_count
    voters = abstentions = 0
    for cast in latest_per_unit(ballots):
        picks = {c for c in cast.choice if 0 <= c < option_count and (not counted or c in counted)}
        if not picks:
            continue
        voters += 1
        if abstain is not None and picks != {abstain}:
            picks.discard(abstain)
        elif abstain is not None:
            abstentions += 1
        for pick in picks:
            counts[pick] += 1
    return Tally(tuple(counts), voters, abstentions)


def _threshold_met(rule: str, votes: int, cast: int) -> bool:
    if rule == MAJORITY:
        return Fraction(votes, cast) > Fraction(1, 2)
    if rule == TWO_THIRDS:
        return Fraction(votes, cast) >= Fraction(2, 3)
    return True


def decide_vote(
    rule: str, result: Tally, quorum: Quorum, eligible: int, abstain: int | None = None
) -> Outcome:
    """The outcome of a vote under a rule and a quorum: the quorum counts every voter, the
    shares are shares of the votes cast (abstentions aside); ValueError for an unknown rule."""
    if rule not in VOTE_RULES:
        raise ValueError(f"unknown rule {rule!r}")
    needed = quorum.needed(eligible)
    if result.voters == 0:
        return Outcome(NO_VOTES, needed=needed)
    if result.voters < needed:
        return Outcome(NO_QUORUM, needed=needed)
    if result.cast == 0:
        return Outcome(ALL_ABSTAINED, needed=needed)
    qualified = [
        index
        for index, votes in enumerate(result.counts)
        if votes and index != abstain and _threshold_met(rule, votes, result.cast)
    ]
    if not qualified:
        return Outcome(NO_MAJORITY, needed=needed)
    top = max(result.counts[index] for index in qualified)
    leaders = tuple(index for index in qualified if result.counts[index] == top)
    if len(leaders) > 1:
        return Outcome(TIE, leaders, needed)
    return Outcome(ADOPTED, leaders, needed)


def decide_consensus(result: Tally, quorum: Quorum, eligible: int, weak_share: Fraction) -> Outcome:
    """The outcome of a consensus proposal (counts: agree, stand aside, block, question)."""
    agree, stand_aside, block = (
        result.counts[AGREE],
        result.counts[STAND_ASIDE],
        result.counts[BLOCK],
    )
    needed = quorum.needed(eligible)
    positions = agree + stand_aside + block
    if positions == 0:
        return Outcome(NO_VOTES, needed=needed)
    if positions < needed:
        return Outcome(NO_QUORUM, needed=needed)
    if block:
        return Outcome(BLOCKED, needed=needed)
    if not agree:
        return Outcome(NO_SUPPORT, needed=needed)
    if stand_aside and Fraction(stand_aside, positions) >= weak_share:
        return Outcome(WEAK, needed=needed)
    return Outcome(PASSED, needed=needed)


def parse_share(text: str) -> Fraction:
    """An exact fraction from "1/3", "0.5" or "50" (percent when above 1)."""
    value = Fraction(text.strip())
    return value / 100 if value > 1 else value


RANKED = "ranked"


@dataclass(frozen=True, slots=True)
class Round:
    """One round of an instant-runoff count: votes per option (None: out of the count), the
    ballots exhausted (no continuing option left on them), the options eliminated after it."""

    counts: tuple[int | None, ...]
    exhausted: int
    eliminated: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Runoff:
    """An instant-runoff result: the status, the winner(s), every round, voters, quorum."""

    status: str
    winners: tuple[int, ...]
    rounds: tuple[Round, ...]
    voters: int
    needed: int = 0


def _last_places(tied: list[int], history: list[list[int]]) -> list[int]:
    """Among options tied for last, those with the fewest votes in the latest earlier round
    where they differ (the usual backwards tie-break); all of them when they never differed."""
    for counts in reversed(history):
        low = min(counts[i] for i in tied)
        fewest = [i for i in tied if counts[i] == low]
        if len(fewest) < len(tied):
            return fewest
    return tied


def instant_runoff(
    option_count: int, rankings: Sequence[Sequence[int]], quorum: Quorum, eligible: int
) -> Runoff:
    """Instant-runoff voting (ranked choice), as Loomio and most election law count it.

    Each ballot counts for its highest-ranked option still in the count. An option with more
    than half of the ballots still counting (exhausted ballots aside) wins. Otherwise the option
    with the fewest votes is eliminated (a tie for last is broken by the earlier rounds; options
    tied throughout are eliminated together) and its ballots go to their next choice. A ballot
    whose options are all eliminated is *exhausted*. When every remaining option is tied, or all
    would be eliminated at once, the result is a tie between them. Options nobody ranked take
    part from the first round, with 0 votes.
    """
    needed = quorum.needed(eligible)
    ballots = [[c for c in dict.fromkeys(r) if 0 <= c < option_count] for r in rankings]
    ballots = [b for b in ballots if b]
    if not ballots:
        return Runoff(NO_VOTES, (), (), 0, needed)
    if len(ballots) < needed:
        return Runoff(NO_QUORUM, (), (), len(ballots), needed)
    continuing = set(range(option_count))
    rounds: list[Round] = []
    history: list[list[int]] = []
    while True:
        counts = [0] * option_count
        exhausted = 0
        for ballot in ballots:
            top = next((c for c in ballot if c in continuing), None)
            if top is None:
                exhausted += 1
            else:
                counts[top] += 1
        active = len(ballots) - exhausted
        if not active:  # every ballot exhausted: nobody supports what is left
            rounds.append(Round(tuple(None for _ in counts), exhausted))
            return Runoff(NO_MAJORITY, (), tuple(rounds), len(ballots), needed)
        shown = tuple(counts[i] if i in continuing else None for i in range(option_count))
        leader = max(continuing, key=lambda i: counts[i])
        if Fraction(counts[leader], active) > Fraction(1, 2):
            rounds.append(Round(shown, exhausted))
            return Runoff(ADOPTED, (leader,), tuple(rounds), len(ballots), needed)
        low = min(counts[i] for i in continuing)
        tied = sorted(i for i in continuing if counts[i] == low)
        if len(tied) == len(continuing):
            rounds.append(Round(shown, exhausted))
            return Runoff(TIE, tuple(tied), tuple(rounds), len(ballots), needed)
        out = _last_places(tied, history)
        rounds.append(Round(shown, exhausted, tuple(out)))
        history.append(counts)
        continuing -= set(out)


SCORE = "score"
DOTS = "dots"
MEETING = "meeting"
MAX_SCORE = 5
DEFAULT_DOTS = 10
YES, IF_NEED_BE, NO = 2, 1, 0  # a meeting-time answer per moment; -1: not answered
UNANSWERED = -1


@dataclass(frozen=True, slots=True)
class Spread:
    """A vote where each ballot gives every option a value (a score, dots, an availability):
    totals per option, the distribution of values per option, voters, the outcome."""

    totals: tuple[int, ...]
    distribution: tuple[tuple[int, ...], ...]  # [option][value]: how many gave that value
    voters: int
    status: str
    winners: tuple[int, ...] = ()
    needed: int = 0


def decide_spread(
    rule: str, option_count: int, ballots: Sequence[Sequence[int]], quorum: Quorum, eligible: int
) -> Spread:
    """Score (0-5 each, Loomio's "score poll": the highest total, i.e. mean, wins), dot vote
    (dots spread over the options: the most dots win) or meeting time (yes / if need be / no
    per moment: the moment most can make — yes or if need be — wins, more yes breaking a tie).
    A tie for first decides nothing; without the quorum of voters, nothing is decided."""
    top = {SCORE: MAX_SCORE, MEETING: YES}.get(rule)
    if top is None and rule != DOTS:
        raise ValueError(f"unknown rule {rule!r}")
    values = [
        [max(0, v) if rule != MEETING else v for v in b[:option_count]]
        + [UNANSWERED if rule == MEETING else 0] * (option_count - len(b))
        for b in ballots
    ]
    width = (top if top is not None else max((max(b, default=0) for b in values), default=0)) + 1
    distribution = [[0] * width for _ in range(option_count)]
    totals = [0] * option_count
    available = [0] * option_count
    for ballot in values:
        for option, value in enumerate(ballot):
            if value < 0:
                continue
            distribution[option][value] += 1
            totals[option] += value if rule != MEETING else int(value == YES)
            available[option] += int(rule == MEETING and value in (YES, IF_NEED_BE))
    voters = len(values)  # a ballot exists once its voter gave something (handlers retract)
    needed = quorum.needed(eligible)
    shape = (tuple(totals), tuple(tuple(d) for d in distribution))
    if not voters:
        return Spread(*shape, 0, NO_VOTES, (), needed)
    if voters < needed:
        return Spread(*shape, voters, NO_QUORUM, (), needed)
    keys = [
        (available[i], totals[i]) if rule == MEETING else (totals[i], 0)
        for i in range(option_count)
    ]
    best = max(keys)
    leaders = tuple(i for i in range(option_count) if keys[i] == best)
    if best[0] == 0:
        return Spread(*shape, voters, NO_PREFERENCE, (), needed)
    return Spread(*shape, voters, TIE if len(leaders) > 1 else ADOPTED, leaders, needed)
