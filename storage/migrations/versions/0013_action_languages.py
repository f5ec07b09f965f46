"""one call in several languages

actions.language: the language the coordinator wrote the call in; actions.translations: the
title and description in other languages, {"fr": {"title": …, "description": …}} (issue 14).

Revision ID: 0013_action_languages
Revises: 0012_attendance
Create Date: 2026-11-30 17:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_action_languages"
down_revision: str | None = "0012_attendance"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("actions") as batch:
        batch.add_column(sa.Column("language", sa.String(length=8), nullable=True))
        batch.add_column(sa.Column("translations", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("actions") as batch:
        batch.drop_column("translations")
        batch.drop_column("language")
