"""outbox keyboards stored neutral; why a person is unreachable

Outbox rows kept Bot API InlineKeyboardButton JSON ({"text", "callback_data" | "url"}); they
now keep neutral button rows ({"label", "data" | "url"}), and only bot/botapi writes Bot API
JSON. user_preferences.unreachable_reason says why blocked_bot_at is set (blocked,
deactivated, not_started); older rows keep NULL there (recorded as "blocked" for any 403).

Revision ID: 0007_botapi
Revises: 0004
Create Date: 2026-11-30 11:30:00.000000
"""

from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0007_botapi"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_outbox = sa.table(
    "outbox", sa.column("id", sa.Integer()), sa.column("keyboard", sa.JSON(none_as_null=True))
)


def _neutral(cell: dict[str, Any]) -> dict[str, Any]:
    if "label" in cell:
        return cell
    if cell.get("url") is not None:
        return {"label": cell.get("text", ""), "url": cell["url"]}
    return {"label": cell.get("text", ""), "data": cell.get("callback_data", "")}


def _bot_api(cell: dict[str, Any]) -> dict[str, Any]:
    if "text" in cell:
        return cell
    if cell.get("url") is not None:
        return {"text": cell.get("label", ""), "url": cell["url"]}
    return {"text": cell.get("label", ""), "callback_data": cell.get("data", "")}


def _convert(change: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(_outbox.c.id, _outbox.c.keyboard).where(_outbox.c.keyboard.is_not(None))
    ).all()
    for row_id, keyboard in rows:
        if not keyboard:
            continue
        converted = [[change(cell) for cell in row] for row in keyboard]
        connection.execute(
            _outbox.update().where(_outbox.c.id == row_id).values(keyboard=converted)
        )


def upgrade() -> None:
    _convert(_neutral)
    with op.batch_alter_table("user_preferences") as batch:
        batch.add_column(sa.Column("unreachable_reason", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("user_preferences") as batch:
        batch.drop_column("unreachable_reason")
    _convert(_bot_api)
