"""decision_proxies: an organisation's vote given to another organisation for one decision

Revision ID: dec5_proxies
Revises: dec4_orgs
Create Date: 2026-11-30 18:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "dec5_proxies"
down_revision: str | None = "dec4_orgs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "decision_proxies",
        sa.Column(
            "decision_id",
            sa.Integer(),
            sa.ForeignKey("decisions.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("from_org", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("to_org", sa.Integer(), nullable=False),
        sa.Column("given_by", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("decision_proxies")
