"""answers counted on the action

actions.going_count, waitlist_count, maybe_count, cant_count, done_count: how many volunteers
gave each answer, kept by every change of an answer in the same transaction (storage/actions/
action_store.py), so that a press reads one row instead of counting every answer (issue 17).
Filled here from the answers already given.

Revision ID: 0015_action_counts
Revises: 0014_action_slots
Create Date: 2026-11-30 23:15:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_action_counts"
down_revision: str | None = "0014_action_slots"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COUNTED = ("going", "waitlist", "maybe", "cant", "done")


def upgrade() -> None:
    with op.batch_alter_table("actions") as batch:
        for status in COUNTED:
            batch.add_column(
                sa.Column(f"{status}_count", sa.Integer(), nullable=False, server_default="0")
            )
    for status in COUNTED:
        op.execute(
            f"UPDATE actions SET {status}_count = (SELECT count(*) FROM rsvps"
            f" WHERE rsvps.action_id = actions.id AND rsvps.status = '{status}')"
        )


def downgrade() -> None:
    with op.batch_alter_table("actions") as batch:
        for status in reversed(COUNTED):
            batch.drop_column(f"{status}_count")
