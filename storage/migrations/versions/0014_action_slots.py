"""role slots of an action

action_slots: an action's roles ("2 stewards, 1 photographer"), each with its places and an
optional skill; rsvps.slot_id: the role a volunteer took (or waits for); slot_invitations: who
was invited to fill an empty role, once (issue 14).

Revision ID: 0014_action_slots
Revises: 0013_action_languages
Create Date: 2026-11-30 17:55:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_action_slots"
down_revision: str | None = "0013_action_languages"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "action_slots",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("action_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("skill", sa.String(length=32), nullable=True),
    )
    op.create_index("ix_action_slots_action_id", "action_slots", ["action_id"])
    op.create_table(
        "slot_invitations",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("action_id", sa.Integer(), nullable=False),
        sa.Column("slot_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("action_id", "user_id"),
    )
    with op.batch_alter_table("rsvps") as batch:
        batch.add_column(sa.Column("slot_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("rsvps") as batch:
        batch.drop_column("slot_id")
    op.drop_table("slot_invitations")
    op.drop_index("ix_action_slots_action_id", table_name="action_slots")
    op.drop_table("action_slots")
