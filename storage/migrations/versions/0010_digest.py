"""daily or weekly digests of calls to action

volunteers.digest: NULL (one by one), "daily HH:MM" or "weekly HH:MM" (Mondays), local time;
digest_items: the calls to action waiting for a volunteer's next digest (issue 16).

Revision ID: 0010_digest
Revises: 0009_muted
Create Date: 2026-11-30 15:25:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_digest"
down_revision: str | None = "0009_muted"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("volunteers") as batch:
        batch.add_column(sa.Column("digest", sa.String(length=16), nullable=True))
    op.create_table(
        "digest_items",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("action_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("user_id", "action_id"),
    )
    op.create_index("ix_digest_items_user_id", "digest_items", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_digest_items_user_id", table_name="digest_items")
    op.drop_table("digest_items")
    with op.batch_alter_table("volunteers") as batch:
        batch.drop_column("digest")
