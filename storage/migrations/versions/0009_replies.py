"""outbox.edit_of: replies (sends and edits) are recorded in the outbox

A reply to a person is written to the outbox in the transaction of the change it answers
(purpose "reply", already 'sending'), sent right after commit, and sent again after a crash.
An edit of a message (editMessageText) keeps the edited message's id in `edit_of`.

Revision ID: 0009_replies
Revises: 0008_inbox
Create Date: 2026-11-30 14:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_replies"
down_revision: str | None = "0008_inbox"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("edit_of", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("edit_of")
