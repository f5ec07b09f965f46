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
    DOTS,
    IF_NEED_BE,
    MAJORITY,
    MEETING,
    NO,
    NO_MAJORITY,
    NO_PREFERENCE,
    NO_QUORUM,
    NO_SUPPORT,
    NO_VOTES,
    PASSED,
    PLURALITY,
    SCORE,
    TIE,
    TWO_THIRDS,
    UNANSWERED,
    WEAK,
    YES,
    Cast,
    Quorum,
    Round,
    Tally,
    decide_consensus,
    decide_spread,
    decide_vote,
    instant_runoff,
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


A, B, C, D = range(4)


def test_instant_runoff_transfers_the_last_options_ballots() -> None:
    # Round 1: A 2, B 1, C 2 — nobody over half of 5; B is last and goes.
    # Round 2: B's ballot moves to A: A 3, C 2 — A has 3 of 5, over half.
    result = instant_runoff(3, [[A, B], [A, C], [B, A], [C, B], [C, B]], Quorum(), 5)
    assert (result.status, result.winners, result.voters) == (ADOPTED, (A,), 5)
    assert result.rounds == (
        Round((2, 1, 2), 0, (B,)),
        Round((3, None, 2), 0),
    )


def test_instant_runoff_counts_exhausted_ballots_and_ends_in_a_tie() -> None:
    # Round 1: A 2, B 1, C 2; B goes. Its only ballot ranked B alone: exhausted.
    # Round 2: A 2, C 2 of the 4 ballots still counting — a tie: no decision.
    result = instant_runoff(3, [[A], [A], [B], [C, B], [C]], Quorum(), 5)
    assert (result.status, result.winners) == (TIE, (A, C))
    assert result.rounds == (Round((2, 1, 2), 0, (B,)), Round((2, None, 2), 1))


def test_instant_runoff_breaks_a_tie_for_last_with_the_earlier_round() -> None:
    ballots = [[A]] * 4 + [[B]] * 3 + [[C, A]] * 2 + [[D, C, B]]
    # Round 1: A 4, B 3, C 2, D 1: D goes, to C. Round 2: A 4, B 3, C 3: B and C tie for last;
    # in round 1 C had fewer (2 < 3), so C goes: two ballots to A, one (D, C, B) to B.
    # Round 3: A 6, B 4: A has 6 of 10.
    result = instant_runoff(4, ballots, Quorum(), 12)
    assert (result.status, result.winners) == (ADOPTED, (A,))
    assert [r.counts for r in result.rounds] == [
        (4, 3, 2, 1),
        (4, 3, 3, None),
        (6, 4, None, None),
    ]
    assert [r.eliminated for r in result.rounds] == [(D,), (C,), ()]


def test_instant_runoff_eliminates_options_tied_throughout_together_and_needs_a_quorum() -> None:
    result = instant_runoff(3, [[A], [A], [A], [B], [C]], Quorum(), 5)
    assert result.winners == (A,) and result.rounds[0].eliminated == ()
    result = instant_runoff(4, [[A], [A], [B, A], [C, A], [D]], Quorum(), 5)
    # Round 1: A 2, B 1, C 1, D 1 — B, C and D were never apart: all three go at once.
    assert result.rounds[0].eliminated == (B, C, D) and result.winners == (A,)
    assert result.rounds[1] == Round((4, None, None, None), 1)
    assert instant_runoff(3, [[A]], Quorum(count=2), 5).status == NO_QUORUM
    assert instant_runoff(3, [], Quorum(), 5).status == NO_VOTES


def test_score_votes_are_won_by_the_highest_mean_with_the_distribution() -> None:
    # Three voters score A, B, C from 0 to 5: A 5+3+1 = 9 (mean 3), B 4+4+4 = 12 (mean 4), C 0.
    result = decide_spread(SCORE, 3, [[5, 4, 0], [3, 4, 0], [1, 4, 0]], Quorum(), 5)
    assert (result.status, result.winners, result.totals) == (ADOPTED, (1,), (9, 12, 0))
    assert result.distribution[0] == (0, 1, 0, 1, 0, 1) and result.distribution[2][0] == 3
    assert decide_spread(SCORE, 2, [[3, 3]], Quorum(), 5).status == TIE
    assert decide_spread(SCORE, 2, [[0, 0]], Quorum(), 5).status == NO_PREFERENCE
    assert decide_spread(SCORE, 2, [[1, 0]], Quorum(count=2), 5).status == NO_QUORUM


def test_dot_votes_add_the_dots() -> None:
    # Ten dots each: A 6+0 = 6, B 4+7 = 11, C 0+3 = 3.
    result = decide_spread(DOTS, 3, [[6, 4, 0], [0, 7, 3]], Quorum(), 5)
    assert (result.status, result.winners, result.totals, result.voters) == (
        ADOPTED,
        (1,),
        (6, 11, 3),
        2,
    )


def test_a_meeting_time_is_the_moment_most_can_make_more_yes_breaking_ties() -> None:
    y, m, n, u = YES, IF_NEED_BE, NO, UNANSWERED
    # Moment 0: yes, yes, no -> 2 can come (2 yes). Moment 1: yes, if need be, if need be
    # -> 3 can come (1 yes). Moment 2: not answered by one, no, yes -> 1.
    result = decide_spread(MEETING, 3, [[y, y, u], [y, m, n], [n, m, y]], Quorum(), 3)
    assert (result.status, result.winners) == (ADOPTED, (1,))
    assert result.totals == (2, 1, 1)  # yes per moment
    assert result.distribution[1] == (0, 2, 1) and result.distribution[2] == (1, 0, 1)
    tie = decide_spread(MEETING, 2, [[y, m], [m, y]], Quorum(), 2)
    assert (tie.status, tie.winners) == (TIE, (0, 1))
