"""Every JSON column keeps a change made deep inside its value (issue 10: audience filters lost).

SQLAlchemy's plain JSON type does not see in-place changes; a nested one was silently dropped
at commit. The test walks the whole schema, so a JSON column added later is covered too.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import JSON, BigInteger, Boolean, DateTime, Integer, String, Text, inspect
from sqlalchemy.orm import Mapper

from bot.app import Storage
from storage.coalition import membership_store
from storage.models import Base

MOMENT = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
_numbers = itertools.count(1)


# Columns that may hold a bare scalar (a setting's value: a number, a word, a list) cannot track
# changes in place; their storage module hands out copies and stores only what is assigned.
SCALAR_CAPABLE = {("coalition_settings", "value")}


def _tracked_keys(mapper: Mapper[Any]) -> list[str]:
    return [
        attr.key
        for attr in mapper.column_attrs
        if isinstance(attr.columns[0].type, JSON)
        and (attr.columns[0].table.name, attr.columns[0].name) not in SCALAR_CAPABLE
    ]


def _json_mappers() -> list[Mapper[Any]]:
    return [mapper for mapper in Base.registry.mappers if _tracked_keys(mapper)]


def _plain_value(column: Any, parents: dict[str, dict[str, Any]]) -> Any:
    for key in column.foreign_keys:
        return parents[key.column.table.name][key.column.name]
    kind = column.type
    if isinstance(kind, JSON):
        return {"outer": {"inner": [1]}}
    if isinstance(kind, Boolean):
        return False
    if isinstance(kind, Integer | BigInteger):
        return next(_numbers)
    if isinstance(kind, DateTime) or getattr(kind, "impl", None) is not None:
        return MOMENT
    if isinstance(kind, String | Text):
        return f"v{next(_numbers)}"[: getattr(kind, "length", None) or 50]
    raise AssertionError(f"no sample value for {column}")


def _row(mapper: Mapper[Any], parents: dict[str, dict[str, Any]]) -> Any:
    values = {attr.key: _plain_value(attr.columns[0], parents) for attr in mapper.column_attrs}
    return mapper.class_(**values)


def _nested(value: Any) -> list[Any]:
    """The innermost list of a sample value."""
    inner: list[Any] = value["outer"]["inner"]
    return inner


@pytest.mark.parametrize("mapper", _json_mappers(), ids=lambda m: m.class_.__name__)
async def test_a_nested_change_is_stored(storage: Storage, mapper: Mapper[Any]) -> None:
    parents: dict[str, dict[str, Any]] = {}
    rows = []
    async with storage.sessionmaker() as session, session.begin():
        # Rows this one refers to (a ballot's decision) come first.
        for key in {fk.column.table for c in mapper.columns for fk in c.foreign_keys}:
            parent_mapper = next(m for m in Base.registry.mappers if key in m.tables)
            parent = _row(parent_mapper, parents)
            session.add(parent)
            await session.flush()
            parents[key.name] = {c.name: getattr(parent, c.key) for c in parent_mapper.columns}
        row = _row(mapper, parents)
        session.add(row)
        rows.append(row)
    identity = inspect(row).identity
    json_keys = _tracked_keys(mapper)

    async with storage.sessionmaker() as session, session.begin():
        loaded = await session.get(mapper.class_, identity)
        for key in json_keys:
            _nested(getattr(loaded, key)).append(2)

    async with storage.sessionmaker() as session:
        reloaded = await session.get(mapper.class_, identity)
        for key in json_keys:
            assert _nested(getattr(reloaded, key)) == [1, 2], f"{mapper.class_.__name__}.{key}"


async def test_settings_are_handed_out_as_copies(storage: Storage) -> None:
    """A setting read and changed in place does not change what is stored, nor the default."""
    async with storage.sessionmaker() as session, session.begin():
        await membership_store.change_setting(
            session, "membership", {"outer": {"inner": [1]}}, 1, MOMENT
        )
    async with storage.sessionmaker() as session, session.begin():
        value = await membership_store.setting(session, "membership")
        value["outer"]["inner"].append(2)
        everything = await membership_store.settings(session)
        everything["membership"]["outer"]["inner"].append(3)
    async with storage.sessionmaker() as session:
        assert await membership_store.setting(session, "membership") == {"outer": {"inner": [1]}}
        assert (await membership_store.settings(session))["membership"] == {"outer": {"inner": [1]}}


def test_every_json_column_is_covered() -> None:
    """Each JSON column is tracked at depth, or listed as scalar-capable on purpose."""
    columns = {
        (column.table.name, column.name)
        for mapper in Base.registry.mappers
        for column in mapper.columns
        if isinstance(column.type, JSON)
    }
    tracked = {(m.local_table.name, key) for m in _json_mappers() for key in _tracked_keys(m)}
    assert columns == tracked | SCALAR_CAPABLE
    assert len(tracked) >= 17
