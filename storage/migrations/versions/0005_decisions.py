"""group decisions: votes, consensus proposals, ballots, nudges

Revision ID: 0005
Revises: 0003
Create Date: 2026-11-27 11:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "decisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("multiple", sa.Boolean(), nullable=False),
        sa.Column("rule", sa.String(length=16), nullable=False),
        sa.Column("quorum_count", sa.Integer(), nullable=True),
        sa.Column("quorum_share", sa.String(length=16), nullable=True),
        sa.Column("weak_share", sa.String(length=16), nullable=True),
        sa.Column("anonymous", sa.Boolean(), nullable=False),
        sa.Column("hidden", sa.Boolean(), nullable=False),
        sa.Column("org_voting", sa.Boolean(), nullable=False),
        sa.Column("nudges", sa.Boolean(), nullable=False),
        sa.Column("transport", sa.String(length=8), nullable=False),
        sa.Column("poll_id", sa.String(length=64), nullable=True),
        sa.Column("poll_message_id", sa.BigInteger(), nullable=True),
        sa.Column("results_message_id", sa.BigInteger(), nullable=True),
        sa.Column("created_by", sa.BigInteger(), nullable=False),
        sa.Column("locale", sa.String(length=8), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closes_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("nudged", sa.JSON(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_decisions")),
    )
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_decisions_chat_id"), ["chat_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_decisions_poll_id"), ["poll_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_decisions_status"), ["status"], unique=False)
    op.create_table(
        "decision_ballots",
        sa.Column("decision_id", sa.Integer(), nullable=False),
        sa.Column("voter_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("unit", sa.String(length=200), nullable=False),
        sa.Column("choice", sa.JSON(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["decision_id"],
            ["decisions.id"],
            name=op.f("fk_decision_ballots_decision_id_decisions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("decision_id", "voter_id", name=op.f("pk_decision_ballots")),
    )
    op.create_table(
        "decision_nudges",
        sa.Column("decision_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("moment", sa.String(length=16), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["decision_id"],
            ["decisions.id"],
            name=op.f("fk_decision_nudges_decision_id_decisions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "decision_id", "user_id", "moment", name=op.f("pk_decision_nudges")
        ),
    )
    op.create_table(
        "decision_nudge_optouts",
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_decision_nudge_optouts")),
    )


def downgrade() -> None:
    op.drop_table("decision_nudge_optouts")
    op.drop_table("decision_nudges")
    op.drop_table("decision_ballots")
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_decisions_status"))
        batch_op.drop_index(batch_op.f("ix_decisions_poll_id"))
        batch_op.drop_index(batch_op.f("ix_decisions_chat_id"))
    op.drop_table("decisions")
