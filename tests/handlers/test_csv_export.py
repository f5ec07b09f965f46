"""The one CSV module: formula guard, BOM, header first, who and when in the file name."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta, timezone

import pytest

from handlers.kernel import csv_export


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("=SUM(A1)", "'=SUM(A1)"),
        ("+1", "'+1"),
        ("-2+3", "'-2+3"),
        ("@cmd", "'@cmd"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("Amira", "Amira"),
        ("a=b", "a=b"),
        ("", ""),
        (None, ""),
        (True, "true"),
        (False, "false"),
        (-3, -3),
        (2.5, 2.5),
    ],
)
def test_cell_guards_text_only(value: csv_export.Cell, shown: object) -> None:
    assert csv_export.cell(value) == shown


def test_table_has_bom_then_header_then_rows() -> None:
    content = csv_export.table(("name", "n"), [("=1+1", -4), ('Élise, "E"', None)])
    assert content.startswith(b"\xef\xbb\xbf")
    text = content.decode("utf-8-sig")
    assert text.splitlines()[0] == "name,n"
    assert list(csv.reader(io.StringIO(text))) == [
        ["name", "n"],
        ["'=1+1", "-4"],
        ['Élise, "E"', ""],
    ]


def test_table_refuses_a_row_of_the_wrong_width() -> None:
    with pytest.raises(ValueError, match="row 1 has 1 cells for 2 columns"):
        csv_export.table(("a", "b"), [("only",)])


def test_file_name_says_what_when_in_utc_and_who() -> None:
    at = datetime(2026, 12, 31, 23, 30, tzinfo=timezone(timedelta(hours=-5)))
    assert csv_export.file_name("members", at, 42) == "members-2027-01-01-0430Z-by-42.csv"
    at = datetime(2026, 3, 1, 9, 5, tzinfo=UTC)
    assert csv_export.file_name("roster-7", at, 1) == "roster-7-2026-03-01-0905Z-by-1.csv"
