"""the end of an event

actions.ends_at: when an event ends (NULL: two hours after its start; petitions and letters
end at their deadline). Answers, waitlist promotions and reminders stop there (issue 14).

Revision ID: 0011_action_end
Revises: 0010_digest
Create Date: 2026-11-30 17:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_action_end"
down_revision: str | None = "0010_digest"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("actions") as batch:
        batch.add_column(sa.Column("ends_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("actions") as batch:
        batch.drop_column("ends_at")
