"""inbox: updates received and not yet handled

With long polling, the next getUpdates tells Telegram to forget the updates before its offset.
Chorus now asks for it only once the updates it got are written here (one small transaction
each); a row is deleted in the transaction that handles its update, and rows left by a crash
are handled first at start-up (storage/inbox.py, docs/delivery.md).

Revision ID: 0008_inbox
Revises: 0007_botapi
Create Date: 2026-11-30 14:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_inbox"
down_revision: str | None = "0007_botapi"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "inbox",
        sa.Column("update_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("update_id", name=op.f("pk_inbox")),
    )


def downgrade() -> None:
    op.drop_table("inbox")
