"""the safety kit: a pseudonym, and the choice not to keep the Telegram @username

Revision ID: 0008_safety
Revises: 0002
Create Date: 2026-11-30 15:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_safety"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("volunteers") as batch:
        batch.add_column(sa.Column("pseudonym", sa.String(length=64), nullable=True))
        batch.add_column(
            sa.Column("keep_username", sa.Boolean(), nullable=False, server_default=sa.true())
        )


def downgrade() -> None:
    with op.batch_alter_table("volunteers") as batch:
        batch.drop_column("keep_username")
        batch.drop_column("pseudonym")
