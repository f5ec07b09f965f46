"""what a volunteer asked not to get

volunteers.muted: a JSON list of kinds, "action:<kind>" for calls to action of that kind (issue
16: "Less like this"); NULL or [] mutes nothing.

Revision ID: 0009_muted
Revises: 0008_quiet
Create Date: 2026-11-30 15:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_muted"
down_revision: str | None = "0008_quiet"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("volunteers") as batch:
        batch.add_column(sa.Column("muted", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("volunteers") as batch:
        batch.drop_column("muted")
