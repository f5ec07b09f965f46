"""Typed button data: packing, refusing forged data, and reading buttons already sent."""

from __future__ import annotations

import enum
from typing import Literal

import pytest

from handlers import build_router
from handlers.actions.action_dialog import Answer as NewActionAnswer
from handlers.actions.action_list import CardButton
from handlers.actions.action_views import RsvpButton
from handlers.coalition.audit import AuditButton
from handlers.coalition.directory import MemberButton, RoleEditorButton
from handlers.coalition.membership import ReviewButton, SettingButton
from handlers.decisions.decision_views import AdminButton, PositionButton, VoteButton
from handlers.kernel.callbacks import CallbackData, StaleButton
from handlers.people.common import LanguageButton
from handlers.people.registration import StepButton


class Colour(enum.StrEnum):
    RED = "r"
    BLUE = "b"


class Sample(CallbackData, prefix="zz"):
    number: int
    word: str
    colour: Colour
    flag: bool
    mode: Literal["a", "b"] = "a"


def test_pack_and_unpack_round_trip() -> None:
    button = Sample(12, "hello", Colour.BLUE, True, "b")
    assert button.pack() == "zz:12:hello:b:1:b"
    assert Sample.unpack("zz:12:hello:b:1:b") == button


def test_a_trailing_default_is_left_out_and_read_back() -> None:
    assert Sample(1, "", Colour.RED, False).pack() == "zz:1::r:0"
    assert Sample.unpack("zz:1::r:0").mode == "a"


@pytest.mark.parametrize(
    "data",
    [
        "",
        "zz",
        "zz:1:w:r",  # a field missing
        "zz:1:w:r:0:a:extra",
        "yy:1:w:r:0",  # another kind
        "zz:-1:w:r:0",
        "zz:01:w:r:0",
        "zz:+1:w:r:0",
        "zz: 1:w:r:0",
        "zz:١:w:r:0",  # a non-ASCII digit
        "zz:1:w:g:0",
        "zz:1:w:r:2",
        "zz:1:w:r:0:c",
        "zz:1:" + "w" * 60 + ":r:0",  # over 64 bytes
    ],
)
def test_malformed_or_forged_data_is_a_stale_button(data: str) -> None:
    with pytest.raises(StaleButton):
        Sample.unpack(data)


def test_packing_refuses_what_telegram_would_refuse() -> None:
    with pytest.raises(ValueError, match="64 bytes"):
        Sample(1, "x" * 60, Colour.RED, False).pack()
    with pytest.raises(ValueError, match="':'"):
        Sample(1, "a:b", Colour.RED, False).pack()
    with pytest.raises(ValueError):
        Sample(-1, "", Colour.RED, False).pack()


def test_an_unsupported_field_type_fails_when_routed() -> None:
    class Odd(CallbackData, prefix="odd"):
        value: float

    with pytest.raises(TypeError, match="unsupported"):
        Odd.codecs()


def test_a_check_of_the_class_makes_a_forged_value_stale() -> None:
    with pytest.raises(StaleButton):
        CardButton.unpack("ac:field:5:nonsense")
    with pytest.raises(StaleButton):
        CardButton.unpack("ac:open:5:title")
    with pytest.raises(StaleButton):
        LanguageButton.unpack("lang:xx")
    with pytest.raises(StaleButton):
        SettingButton.unpack("cs:c:5")
    with pytest.raises(StaleButton):
        PositionButton.unpack("dp:3:4")
    with pytest.raises(StaleButton):
        AuditButton.unpack("au:-1")


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("rv:7:going", RsvpButton(7, "going")),
        ("ac:open:5", CardButton("open", 5)),
        ("ac:field:5:title", CardButton("field", 5, "title")),
        ("dv:3:1", VoteButton(3, 1)),
        ("dp:3:2", PositionButton(3, 2)),
        ("dx:3:extend", AdminButton(3, "extend")),
        ("mm:4:123456789", MemberButton(4, 123456789)),
        ("mr:123:g", RoleEditorButton(123, "g")),
        ("ap:9:skip", ReviewButton(9, "skip")),
        ("cs:c:6", SettingButton("c", "6")),
        ("au:csv", AuditButton("csv")),
        ("au:2", AuditButton("2")),
        ("rg:consent:no", StepButton("consent", "no")),
        ("na:groups:-100123", NewActionAnswer("groups", "-100123")),
    ],
)
def test_buttons_of_messages_already_sent_keep_working(data: str, expected: CallbackData) -> None:
    assert type(expected).unpack(data) == expected
    assert expected.pack() == data


def test_every_routed_prefix_belongs_to_one_button_class() -> None:
    prefixes = set(build_router().buttons)
    assert {"rv", "ac", "dv", "dp", "dx", "mm", "mr", "ap", "cs", "au", "rg", "na"} <= prefixes
    assert SettingButton("c", "6").value == 6
    assert AuditButton("2").page == 2 and AuditButton("csv").page is None
