"""the attendance loop

rsvps.confirmed_at: "Still coming?" answered yes; rsvps.attendance: attended | no_show, marked
at check-in; rsvps.feedback: how it went (good | ok | bad); actions.walk_ins: the names of
people who came without answering (issue 14).

Revision ID: 0012_attendance
Revises: 0011_action_end
Create Date: 2026-11-30 17:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_attendance"
down_revision: str | None = "0011_action_end"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("rsvps") as batch:
        batch.add_column(sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("attendance", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("feedback", sa.String(length=16), nullable=True))
    with op.batch_alter_table("actions") as batch:
        batch.add_column(sa.Column("walk_ins", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("actions") as batch:
        batch.drop_column("walk_ins")
    with op.batch_alter_table("rsvps") as batch:
        batch.drop_column("feedback")
        batch.drop_column("attendance")
        batch.drop_column("confirmed_at")
