"""decisions: score, dot and meeting-time methods (dots, moments) and the written outcome

Revision ID: dec2
Revises: dec1
Create Date: 2026-11-30 14:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "dec2"
down_revision: str | None = "dec1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("decisions") as batch:
        batch.add_column(sa.Column("dots", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("moments", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("outcome", sa.Text(), nullable=True))
        batch.add_column(sa.Column("outcome_by", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("outcome_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("decisions") as batch:
        for name in ("outcome_at", "outcome_by", "outcome", "moments", "dots"):
            batch.drop_column(name)
