"""outbox.thread_id: a message for a forum group goes to the topic it belongs to

A command typed in a forum topic is answered in that topic, and so is anything posted later
about what it started; the outbox keeps the topic (message_thread_id) of each row.

Revision ID: 0010_outbox_threads
Revises: 0009_replies
Create Date: 2026-11-30 17:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_outbox_threads"
down_revision: str | None = "0009_replies"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("thread_id", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("thread_id")
