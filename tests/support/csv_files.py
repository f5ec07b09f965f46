"""Checks every CSV export must pass (the rules of handlers/csv_export.py)."""

from __future__ import annotations

import csv
import io
import re

from handlers.kernel import csv_export

NAME = re.compile(r"^(?P<kind>[a-z0-9-]+)-\d{4}-\d{2}-\d{2}-\d{4}Z-by-(?P<user>\d+)\.csv$")


def read_export(
    document: tuple[str, bytes] | None, kind: str, user_id: int, header: tuple[str, ...]
) -> list[dict[str, str]]:
    """The rows of an exported file, after checking its name, BOM and header row.

    Asserts that the file name says what, when and who; that the bytes start with the UTF-8
    BOM; that the very first line is the header (nothing above it); and that no text cell
    starts like a formula.
    """
    assert document is not None
    name, content = document
    match = NAME.match(name)
    assert match is not None, name
    assert (match["kind"], int(match["user"])) == (kind, user_id)
    assert content.startswith(b"\xef\xbb\xbf")
    text = content.decode("utf-8").removeprefix(csv_export.BOM)
    rows = list(csv.reader(io.StringIO(text)))
    assert tuple(rows[0]) == header
    for row in rows[1:]:
        assert len(row) == len(header)
        for value in row:
            assert not value.startswith(csv_export.FORMULA_START) or value.lstrip("-").isdigit()
    return list(csv.DictReader(io.StringIO(text)))
