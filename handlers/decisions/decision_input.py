"""Reads "/poll Question? | A | B | in 2h | majority | quorum 50% | anonymous | hidden | multiple".

The question comes first, then the options, then the settings in any order (a setting ends the
options). Without "|", one part per line also works. Settings are English words or the words of
the person's language (catalogue keys "decisions.keywords.*"); everything is validated here,
against Telegram's poll limits, with a message key that explains what is wrong.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from datetime import datetime
from fractions import Fraction

from handlers.decisions.vote_rules import (
    DEFAULT_DOTS,
    DEFAULT_WEAK_SHARE,
    DOTS,
    MAJORITY,
    MEETING,
    PLURALITY,
    RANKED,
    SCORE,
    TWO_THIRDS,
    Quorum,
)
from handlers.kernel import deadlines, typed_text, when
from handlers.kernel.i18n import SUPPORTED_LOCALES, Translator, translator
from handlers.kernel.invalid_input import InvalidInput

VOTE = "vote"
CONSENSUS = "consensus"
MAX_QUESTION = 300  # Telegram's poll question
MAX_PROPOSAL = 1000
MAX_OPTIONS = 12  # Telegram's poll options
MAX_OPTION = 100
MAX_QUORUM = 100_000
MAX_DOTS = 100
SPREAD_RULES = frozenset({RANKED, SCORE, DOTS, MEETING})  # no multiple, no abstain

FLAGS = (
    "plurality",
    "majority",
    "two_thirds",
    "anonymous",
    "open",
    "hidden",
    "live",
    "multiple",
    "single",
    "quiet",
    "abstain",
    "ranked",
    "score",
    "meeting",
)
RULE_FLAGS = {
    "plurality": PLURALITY,
    "majority": MAJORITY,
    "two_thirds": TWO_THIRDS,
    "ranked": RANKED,
    "score": SCORE,
    "meeting": MEETING,
}
VOTE_ONLY = frozenset(
    {"plurality", "majority", "two_thirds", "multiple", "single", "abstain", "ranked", "score"}
    | {"meeting"}
)
_NUMBER = re.compile(r"^(\d+(?:[.,]\d+)?)\s*(%|٪)?$")


@dataclass(slots=True)
class Draft:
    """A validated decision, ready to be stored."""

    kind: str
    question: str
    closes_at: datetime
    options: list[str] = field(default_factory=list)
    rule: str = PLURALITY
    quorum: Quorum = field(default_factory=Quorum)
    anonymous: bool = False
    hidden: bool = False
    multiple: bool = False
    nudges: bool = True
    abstain: bool = False  # an "Abstain" option is added last (see vote_rules.tally)
    dots: int | None = None  # dot vote: how many dots each voter spreads
    moments: list[datetime] = field(default_factory=list)  # meeting time: one per option
    weak_share: Fraction = DEFAULT_WEAK_SHARE


def _words(t: Translator, name: str) -> set[str]:
    words: set[str] = set()
    for catalogue in {translator("en"), t}:
        text = catalogue(f"decisions.keywords.{name}").lstrip("\u200f")
        words.update(w.strip().casefold() for w in re.split(r"[,،]", text) if w.strip())
    return words


def _keywords(t: Translator) -> dict[str, str]:
    table: dict[str, str] = {}
    for name in FLAGS:
        for word in _words(t, name):
            table.setdefault(word, name)
    for word in anonymity_words():  # a secret ballot, asked for in any of our languages
        table.setdefault(word, "anonymous")
    return table


def anonymity_words() -> set[str]:
    """The words for "anonymous" in every catalogue: a secret ballot must never turn into an
    open vote (names shown) because it was asked for in another language than the sender's
    profile (`anonyme` from an English profile used to become an answer option)."""
    words: set[str] = set()
    for locale in SUPPORTED_LOCALES:
        words |= _words(translator(locale), "anonymous")
    return words


def _looks_like_anonymity(part: str) -> str | None:
    """The anonymity word `part` looks like a misspelling of ("anonymus"), if any."""
    folded = part.strip().casefold()
    if len(folded) < 5:
        return None
    close = difflib.get_close_matches(folded, sorted(anonymity_words()), n=1, cutoff=0.8)
    return close[0] if close else None


def _split(args: str) -> list[str]:
    raw = args.split("|") if "|" in args else args.strip().splitlines()
    if not raw or not raw[0].strip():
        return []
    return [raw[0].strip()] + [part.strip() for part in raw[1:] if part.strip()]


def _number(text: str, what: str) -> tuple[Fraction, bool]:
    match = _NUMBER.match(text.strip())
    if match is None:
        raise InvalidInput(f"decisions.error.bad_{what}", value=text)
    value = Fraction(match.group(1).replace(",", "."))
    return value, match.group(2) is not None


def _quorum(text: str) -> Quorum:
    value, percent = _number(text, "quorum")
    if percent:
        if not 0 < value <= 100:
            raise InvalidInput("decisions.error.bad_quorum", value=text)
        return Quorum(share=value / 100)
    if value.denominator != 1 or not 1 <= value <= MAX_QUORUM:
        raise InvalidInput("decisions.error.bad_quorum", value=text)
    return Quorum(count=int(value))


def _weak(text: str) -> Fraction:
    value, _ = _number(text, "weak")
    if not 0 < value <= 100:
        raise InvalidInput("decisions.error.bad_weak", value=text)
    return value / 100


def _prefixed(part: str, words: set[str]) -> str | None:
    folded = part.casefold()
    for word in sorted(words, key=len, reverse=True):
        if folded.startswith(word) and (
            len(folded) == len(word) or not folded[len(word)].isalpha()
        ):
            return part[len(word) :].strip(" :=")
    return None


def parse(kind: str, args: str, t: Translator, now: datetime, timezone: str) -> Draft:
    """A validated draft from the command's text; InvalidInput says what to fix."""
    parts = _split(args)
    if not parts:
        raise InvalidInput("decisions.error.no_question")
    question, rest = typed_text.check(parts[0]), parts[1:]
    limit = MAX_QUESTION if kind == VOTE else MAX_PROPOSAL
    if len(question) > limit:
        raise InvalidInput("decisions.error.question_too_long", length=len(question), limit=limit)
    if when.looks_like_moment(question) or question.casefold() in _keywords(t):
        raise InvalidInput("decisions.error.no_question")
    draft = Draft(kind, question, now + deadlines.DEFAULT)
    keywords = _keywords(t)
    quorum_words, weak_words = _words(t, "quorum"), _words(t, "weak")
    dots_words = _words(t, "dots")
    meeting = kind == VOTE and any(keywords.get(p.casefold()) == "meeting" for p in rest)
    settings_started = False
    for part in rest:
        name = keywords.get(part.casefold())
        quorum_text = _prefixed(part, quorum_words)
        weak_text = _prefixed(part, weak_words)
        dots_text = _prefixed(part, dots_words) if kind == VOTE else None
        if dots_text and not dots_text[0].isdigit():
            dots_text = None  # an option that starts with the word: "Dots and lines"
        if meeting and not settings_started and name is None and when.looks_like_moment(part):
            _add_moment(draft, part, now, timezone)
        elif dots_text is not None:
            settings_started = True
            draft.rule, draft.dots = DOTS, _dots(dots_text)
        elif name is not None:
            settings_started = True
            if kind == CONSENSUS and name in VOTE_ONLY:
                raise InvalidInput("decisions.error.not_for_consensus", value=part)
            _apply_flag(draft, name)
        elif quorum_text is not None:
            settings_started = True
            draft.quorum = _quorum(quorum_text)
        elif weak_text is not None:
            settings_started = True
            if kind != CONSENSUS:
                raise InvalidInput("decisions.error.weak_only_consensus")
            draft.weak_share = _weak(weak_text)
        elif when.looks_like_moment(part):
            settings_started = True
            draft.closes_at = deadlines.parse_deadline(part, now, timezone)
        elif (looks_like := _looks_like_anonymity(part)) is not None and (
            settings_started or kind == CONSENSUS or part is rest[-1]
        ):
            # A misspelt secret ballot would be an open vote with names: ask instead.
            raise InvalidInput("decisions.error.anonymous_misspelt", value=part, word=looks_like)
        elif settings_started or kind == CONSENSUS:
            raise InvalidInput("decisions.error.unknown_setting", value=part)
        else:
            _add_option(draft, part)
    if kind == VOTE and len(draft.options) < 2:
        raise InvalidInput("decisions.error.too_few_options")
    if draft.rule in SPREAD_RULES and (draft.multiple or draft.abstain):
        # A ranking already says everything: later choices, and none (ranking nothing).
        raise InvalidInput("decisions.error.ranked_alone")
    if draft.abstain and len(draft.options) >= MAX_OPTIONS:
        raise InvalidInput("decisions.error.too_many_options", limit=MAX_OPTIONS - 1)
    return draft


def _apply_flag(draft: Draft, name: str) -> None:
    if name in RULE_FLAGS:
        draft.rule = RULE_FLAGS[name]
    elif name in ("anonymous", "open"):
        draft.anonymous = name == "anonymous"
    elif name in ("hidden", "live"):
        draft.hidden = name == "hidden"
    elif name in ("multiple", "single"):
        draft.multiple = name == "multiple"
    elif name == "quiet":
        draft.nudges = False
    elif name == "abstain":
        draft.abstain = True


def _add_option(draft: Draft, option: str) -> None:
    typed_text.check(option)
    if len(option) > MAX_OPTION:
        raise InvalidInput(
            "decisions.error.option_too_long", option=option[:30] + "…", limit=MAX_OPTION
        )
    if option.casefold() in {o.casefold() for o in draft.options}:
        raise InvalidInput("decisions.error.duplicate_option", option=option)
    if len(draft.options) >= MAX_OPTIONS:
        raise InvalidInput("decisions.error.too_many_options", limit=MAX_OPTIONS)
    draft.options.append(option)


def _dots(text: str) -> int:
    if not text:
        return DEFAULT_DOTS
    value, percent = _number(text, "dots")
    if percent or value.denominator != 1 or not 1 <= value <= MAX_DOTS:
        raise InvalidInput("decisions.error.bad_dots", value=text, limit=MAX_DOTS)
    return int(value)


def _add_moment(draft: Draft, part: str, now: datetime, timezone: str) -> None:
    """A meeting-time option: a future moment in the group's time zone (its label is written
    when the vote is posted, in the group's language)."""
    moment = when.parse(part, now, timezone)
    if moment <= now:
        raise InvalidInput("decisions.error.moment_past", value=part)
    if moment in draft.moments:
        raise InvalidInput("decisions.error.duplicate_option", option=part)
    if len(draft.moments) >= MAX_OPTIONS:
        raise InvalidInput("decisions.error.too_many_options", limit=MAX_OPTIONS)
    draft.moments.append(moment)
    draft.options.append(part)
