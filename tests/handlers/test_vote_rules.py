"""The counting rules, pure: ties, exactly half, two thirds, quorum edges, consensus."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from fractions import Fraction

import pytest

from handlers.decisions.vote_rules import (
    ADOPTED,
    ALL_ABSTAINED,
    BLOCKED,
    COUNTED_POSITIONS,
    DEFAULT_WEAK_SHARE,
    MAJORITY,
    NO_MAJORITY,
    NO_QUORUM,
    NO_SUPPORT,
    NO_VOTES,
    PASSED,
    PLURALITY,
    TIE,
    TWO_THIRDS,
    WEAK,
    Cast,
    Quorum,
    Tally,
    decide_consensus,
    decide_vote,
    parse_share,
    tally,
)

T0 = datetime(2026, 12, 1, tzinfo=UTC)


def votes(*choices: int) -> list[Cast]:
    return [Cast(f"user:{i}", (c,), T0) for i, c in enumerate(choices)]


@pytest.mark.parametrize(
    ("rule", "choices", "status", "winners"),
    [
        (PLURALITY, (0, 0, 1), ADOPTED, (0,)),
        (PLURALITY, (0, 1), TIE, (0, 1)),
        (PLURALITY, (0, 1, 2, 2, 1), TIE, (1, 2)),
        (MAJORITY, (0, 0, 1, 1), NO_MAJORITY, ()),  # exactly 50 % is not a majority
        (MAJORITY, (0, 0, 0, 1, 1), ADOPTED, (0,)),
        (MAJORITY, (0, 0, 1, 2), NO_MAJORITY, ()),  # a plurality is not a majority
        (TWO_THIRDS, (0, 0, 1), ADOPTED, (0,)),  # exactly two thirds passes
        (TWO_THIRDS, (0, 0, 0, 1, 1), NO_MAJORITY, ()),  # 60 % is not enough
        (TWO_THIRDS, (0,) * 67 + (1,) * 33, ADOPTED, (0,)),
        (TWO_THIRDS, (0,) * 66 + (1,) * 34, NO_MAJORITY, ()),
    ],
)
def test_vote_rules(
    rule: str, choices: tuple[int, ...], status: str, winners: tuple[int, ...]
) -> None:
    outcome = decide_vote(rule, tally(3, votes(*choices)), Quorum(), 100)
    assert (outcome.status, outcome.winners) == (status, winners)


def test_quorum_just_missed_and_just_reached() -> None:
    assert decide_vote(PLURALITY, tally(2, votes(0, 0, 1)), Quorum(count=4), 10).status == NO_QUORUM
    assert (
        decide_vote(PLURALITY, tally(2, votes(0, 0, 1, 1, 0)), Quorum(count=4), 10).status
        == ADOPTED
    )
    share = Quorum(share=Fraction(1, 2))
    assert share.needed(7) == 4  # half of 7, rounded up
    assert decide_vote(MAJORITY, tally(2, votes(0, 0, 1)), share, 7).status == NO_QUORUM
    assert decide_vote(MAJORITY, tally(2, votes(0, 0, 1, 0)), share, 7).status == ADOPTED


def test_no_votes_decides_nothing() -> None:
    assert decide_vote(MAJORITY, tally(2, []), Quorum(), 5).status == NO_VOTES


def test_latest_ballot_of_an_organisation_counts_once() -> None:
    ballots = [
        Cast("org:handicap & co", (0,), T0),
        Cast("org:handicap & co", (1,), T0 + timedelta(minutes=1)),
        Cast("user:7", (0,), T0),
    ]
    result = tally(2, ballots)
    assert result == Tally((1, 1), 2)


def test_multiple_choice_shares_are_shares_of_voters() -> None:
    ballots = [Cast("user:1", (0, 1), T0), Cast("user:2", (0,), T0), Cast("user:3", (1, 2), T0)]
    result = tally(3, ballots)
    assert result == Tally((2, 2, 1), 3)
    assert decide_vote(MAJORITY, result, Quorum(), 3).status == TIE


@pytest.mark.parametrize(
    ("positions", "status"),
    [
        ((0, 0, 0), PASSED),
        ((0, 0, 2), BLOCKED),
        ((0, 0, 1), WEAK),  # one stand-aside of three: exactly the default third
        ((0, 0, 0, 1), PASSED),  # one of four: under a third
        ((1, 1), NO_SUPPORT),
        ((3, 3), NO_VOTES),  # questions are not positions
    ],
)
def test_consensus(positions: tuple[int, ...], status: str) -> None:
    result = tally(4, votes(*positions), counted=COUNTED_POSITIONS)
    assert decide_consensus(result, Quorum(), 10, DEFAULT_WEAK_SHARE).status == status


def test_consensus_quorum_counts_positions_not_questions() -> None:
    result = tally(4, votes(0, 0, 3, 3), counted=COUNTED_POSITIONS)
    assert decide_consensus(result, Quorum(count=3), 10, DEFAULT_WEAK_SHARE).status == NO_QUORUM


def test_shares_parse_exactly() -> None:
    assert parse_share("1/3") == Fraction(1, 3)
    assert parse_share("40") == Fraction(2, 5)
    assert parse_share("0.5") == Fraction(1, 2)


def test_abstentions_count_for_the_quorum_not_in_the_votes_cast() -> None:
    # Options: 0 Yes, 1 No, 2 Abstain. Yes 2, No 2, Abstain 1: 5 took part, 4 votes cast.
    result = tally(3, votes(0, 0, 1, 1, 2), abstain=2)
    assert (result.voters, result.abstentions, result.cast) == (5, 1, 4)
    assert decide_vote(MAJORITY, result, Quorum(count=5), 9, abstain=2).status == NO_MAJORITY
    # Yes 2, No 1, Abstain 2: 2 of 3 cast is a majority; counting abstentions it would not be.
    result = tally(3, votes(0, 0, 1, 2, 2), abstain=2)
    outcome = decide_vote(MAJORITY, result, Quorum(count=5), 9, abstain=2)
    assert (outcome.status, outcome.winners) == (ADOPTED, (0,))
    assert decide_vote(MAJORITY, result, Quorum(count=6), 9, abstain=2).status == NO_QUORUM
    # The abstain option never wins, even with the most ballots.
    result = tally(3, votes(0, 2, 2), abstain=2)
    assert decide_vote(PLURALITY, result, Quorum(), 9, abstain=2).winners == (0,)


def test_only_abstentions_decide_nothing_and_an_abstain_pick_with_others_is_ignored() -> None:
    assert decide_vote(PLURALITY, tally(3, votes(2, 2), abstain=2), Quorum(), 2, 2).status == (
        ALL_ABSTAINED
    )
    mixed = tally(3, [Cast("user:1", (0, 2), T0)], abstain=2)
    assert (mixed.counts, mixed.abstentions, mixed.cast) == ((1, 0, 0), 0, 1)
