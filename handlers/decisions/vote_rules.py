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
