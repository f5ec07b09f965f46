"""decisions: the posted result's message (re-rendered after /forget) and the abstain option

Revision ID: dec1
Revises: 0005
Create Date: 2026-11-30 14:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "dec1"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("decisions") as batch:
        batch.add_column(sa.Column("final_message_id", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("abstain_option", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("decisions") as batch:
        batch.drop_column("abstain_option")
        batch.drop_column("final_message_id")
