"""the safety kit: reports to the coordinators (/report)

Revision ID: 0009_safety_reports
Revises: 0008_safety
Create Date: 2026-11-30 15:15:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_safety_reports"
down_revision: str | None = "0008_safety"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "safety_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("anonymous", sa.Boolean(), nullable=False),
        sa.Column("topic", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("answered_by", sa.BigInteger(), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_safety_reports")),
    )
    op.create_index(op.f("ix_safety_reports_user_id"), "safety_reports", ["user_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_safety_reports_user_id"), table_name="safety_reports")
    op.drop_table("safety_reports")
