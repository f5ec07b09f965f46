"""SQL over the JSON list columns (skills, muted…), on SQLite and PostgreSQL alike: a filter
on them is computed by the database instead of loading every row (issue 17)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import JSON, ColumnElement, case, cast, exists, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.selectable import TableValuedAlias


def dialect_of(session: AsyncSession) -> str:
    """The database's dialect name ("sqlite", "postgresql")."""
    return session.bind.dialect.name if session.bind is not None else "sqlite"


def json_items(dialect: str, column: Any) -> TableValuedAlias:
    """The items of a JSON list column as a table with a `value` column, to join a row with
    (NULL, `null` or no list: no items)."""
    if dialect == "postgresql":
        as_list = case(
            (func.json_typeof(column) == "array", column), else_=cast(literal("[]"), JSON)
        )
        return func.json_array_elements_text(as_list).table_valued("value")
    return func.json_each(column).table_valued("value")


def json_has_any(dialect: str, column: Any, values: Collection[str]) -> ColumnElement[bool]:
    """Whether a JSON list column holds any of `values` (NULL, `null` or no list: no)."""
    items = json_items(dialect, column)
    return exists(select(literal(1)).select_from(items).where(items.c.value.in_(list(values))))
