"""decisions.thread_id: a decision started in a forum topic lives in that topic

Its poll, live results, reminders in the group and result are posted in the topic where the
command was typed (message_thread_id; NULL: General, or not a forum).

Revision ID: dec3
Revises: dec2
Create Date: 2026-11-30 17:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "dec3"
down_revision: str | None = "dec2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("decisions") as batch:
        batch.add_column(sa.Column("thread_id", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("decisions") as batch:
        batch.drop_column("thread_id")
