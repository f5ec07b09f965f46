"""a person's messages of a sending in an index: outbox (chat, ref); rsvps (action, status) gone

Every RSVP press reads the presser's copies of the action's messages (the announcement, a
reminder, "a place freed up") to show their answer on each: by chat and ref. Without an index
that read went through every row of the announcement, 100,000 for a call to everyone, so that
a press cost more the larger the coalition (issue 17).

The index of rsvps on (action, status) is dropped: 0021's (action, status, queued) begins with
it and serves every query it served, and each answer written kept both up to date.

Revision ID: 0022_outbox_chat_ref_index
Revises: 0021_rsvps_waitlist_index
Create Date: 2026-12-01 17:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0022_outbox_chat_ref_index"
down_revision: str | None = "0021_rsvps_waitlist_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.create_index("ix_outbox_chat_ref", ["chat_id", "ref"])
    with op.batch_alter_table("rsvps") as batch:
        batch.drop_index("ix_rsvps_action_status")


def downgrade() -> None:
    with op.batch_alter_table("rsvps") as batch:
        batch.create_index("ix_rsvps_action_status", ["action_id", "status"])
    with op.batch_alter_table("outbox") as batch:
        batch.drop_index("ix_outbox_chat_ref")
