"""volunteers' quiet hours

volunteers.quiet_hours: "HH:MM-HH:MM" in the volunteer's time zone, "off", or NULL for the
default 22:00-08:00 (issue 16: non-urgent messages wait until the end of the person's night).

Revision ID: 0008_quiet
Revises: 0007_botapi
Create Date: 2026-11-30 15:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_quiet"
down_revision: str | None = "0007_botapi"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("volunteers") as batch:
        batch.add_column(sa.Column("quiet_hours", sa.String(length=11), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("volunteers") as batch:
        batch.drop_column("quiet_hours")
