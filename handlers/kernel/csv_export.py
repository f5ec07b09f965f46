"""CSV exports, one way for all of them (roster, members, decisions, audit log).

Every export Chorus sends is a spreadsheet someone will open, so each one follows the same
rules, kept here and nowhere else:

- **Header row first.** The first line of the file is the column names; nothing is written
  above it, so spreadsheets and scripts read it as a table.
- **Who exported it and when** go in the file name (``members-2026-11-30-1410Z-by-42.csv``),
  never as a row above the header.
- **UTF-8 with a byte-order mark**, so spreadsheet programs read accents and Arabic right.
- **No formulas.** A text cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
  return gets a leading apostrophe, so a spreadsheet shows it instead of running it (OWASP,
  "CSV Injection"). Numbers are written as they are (``-3`` stays a number); only text is
  guarded, because only text comes from people.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
BOM = "\ufeff"

Cell = str | int | float | bool | None


def cell(value: Cell) -> str | int | float:
    """One cell: text guarded against formulas, ``None`` as empty, numbers unchanged.

    Booleans become ``true``/``false`` (not Python's ``True``), so that a file reads the same
    whichever language made it.
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return value
    return "'" + value if value.startswith(FORMULA_START) else value


def table(header: Sequence[str], rows: Iterable[Sequence[Cell]]) -> bytes:
    """The file: BOM, the header row, then one line per row (each cell through :func:`cell`).

    Raises ``ValueError`` when a row has not as many cells as the header (a programming error
    that would otherwise shift every later column).
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([cell(name) for name in header])
    for number, row in enumerate(rows, start=1):
        if len(row) != len(header):
            raise ValueError(f"row {number} has {len(row)} cells for {len(header)} columns")
        writer.writerow([cell(value) for value in row])
    return (BOM + buffer.getvalue()).encode("utf-8")


def file_name(kind: str, at: datetime, exported_by: int) -> str:
    """``<kind>-<YYYY-MM-DD>-<HHMM>Z-by-<user id>.csv``: what, when (UTC) and who, in the name.

    ``kind`` is a short ASCII word chosen by the code (``roster-12``, ``members``); ``at`` must
    be timezone-aware.
    """
    moment = at.astimezone(UTC)
    return f"{kind}-{moment:%Y-%m-%d-%H%M}Z-by-{exported_by}.csv"
