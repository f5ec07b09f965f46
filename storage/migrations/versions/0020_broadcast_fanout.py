"""a broadcast's fan-out still to enqueue: its plan and its cursor

A broadcast to a large audience is enqueued in chunks after the coordinator's transaction, each
chunk its own short transaction, so that other updates do not wait behind the whole fan-out
(issue 17). `fanout` holds what the remaining chunks need (the audience's filters, the message
of each share, who is left out); `fanout_after` the last volunteer id enqueued, advanced in the
transaction of each chunk. Both are NULL once every recipient is enqueued.

Revision ID: 0020_broadcast_fanout
Revises: 0019_rsvp_counts_by_trigger
Create Date: 2026-12-01 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020_broadcast_fanout"
down_revision: str | None = "0019_rsvp_counts_by_trigger"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("broadcasts") as batch:
        batch.add_column(sa.Column("fanout", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("fanout_after", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("broadcasts") as batch:
        batch.drop_column("fanout_after")
        batch.drop_column("fanout")
