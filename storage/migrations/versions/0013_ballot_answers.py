"""decision_ballots.answer: the author's answer to a Block reason or a question, shown live

Revision ID: dec6_answers
Revises: dec5_proxies
Create Date: 2026-11-30 18:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "dec6_answers"
down_revision: str | None = "dec5_proxies"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("decision_ballots") as batch:
        batch.add_column(sa.Column("answer", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("decision_ballots") as batch:
        batch.drop_column("answer")
