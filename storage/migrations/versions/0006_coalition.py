"""coalition: settings, membership applications, check-ins, directory searches

Revision ID: 0006
Revises: 0003
Create Date: 2026-11-27 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "coalition_settings",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("updated_by", sa.BigInteger(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_coalition_settings")),
    )
    op.create_table(
        "membership_applications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("exchanges", sa.JSON(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.BigInteger(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_membership_applications")),
    )
    op.create_index(
        op.f("ix_membership_applications_user_id"),
        "membership_applications",
        ["user_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_membership_applications_status"),
        "membership_applications",
        ["status"],
        unique=False,
    )
    op.create_table(
        "checkins",
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("asked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lapsed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_checkins")),
    )
    op.create_table(
        "directory_searches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.BigInteger(), nullable=False),
        sa.Column("filters", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_directory_searches")),
    )
    op.create_index(
        op.f("ix_directory_searches_owner_id"), "directory_searches", ["owner_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_directory_searches_owner_id"), table_name="directory_searches")
    op.drop_table("directory_searches")
    op.drop_table("checkins")
    op.drop_index(op.f("ix_membership_applications_status"), table_name="membership_applications")
    op.drop_index(op.f("ix_membership_applications_user_id"), table_name="membership_applications")
    op.drop_table("membership_applications")
    op.drop_table("coalition_settings")
