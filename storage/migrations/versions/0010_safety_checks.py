"""the safety kit: the safety check-in after a risky action (safety_plans, safety_checks)

Revision ID: 0010_safety_checks
Revises: 0009_safety_reports
Create Date: 2026-11-30 17:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_safety_checks"
down_revision: str | None = "0009_safety_reports"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "safety_plans",
        sa.Column("action_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("wait_minutes", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("action_id", name=op.f("pk_safety_plans")),
    )
    op.create_table(
        "safety_checks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("action_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("buddy_id", sa.BigInteger(), nullable=True),
        sa.Column("invite", sa.String(length=32), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("asked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_safety_checks")),
        sa.UniqueConstraint("action_id", "user_id", name=op.f("uq_safety_checks_action_id")),
        sa.UniqueConstraint("invite", name=op.f("uq_safety_checks_invite")),
    )
    op.create_index(
        op.f("ix_safety_checks_action_id"), "safety_checks", ["action_id"], unique=False
    )
    op.create_index(op.f("ix_safety_checks_buddy_id"), "safety_checks", ["buddy_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_safety_checks_buddy_id"), table_name="safety_checks")
    op.drop_index(op.f("ix_safety_checks_action_id"), table_name="safety_checks")
    op.drop_table("safety_checks")
    op.drop_table("safety_plans")
