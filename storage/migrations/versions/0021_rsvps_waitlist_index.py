"""the waitlist's order in an index: (action, answer, queued)

A place on a waitlist was counted by reading every answer waiting before it, and a promotion
sorted the whole waitlist to find its head: both grew with the waitlist (issue 17). The place
is now the waitlist's count kept on the action less those queued after it, which this index
finds without reading the others, as it gives a promotion the head of the queue.

Revision ID: 0021_rsvps_waitlist_index
Revises: 0020_broadcast_fanout
Create Date: 2026-12-01 16:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0021_rsvps_waitlist_index"
down_revision: str | None = "0020_broadcast_fanout"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("rsvps") as batch:
        batch.create_index("ix_rsvps_waitlist", ["action_id", "status", "queued_at"])


def downgrade() -> None:
    with op.batch_alter_table("rsvps") as batch:
        batch.drop_index("ix_rsvps_waitlist")
