"""on SQLite, claiming an update (its processed_updates row) removes its inbox row

A trigger does in the claim's statement what was a DELETE of its own in every update's
transaction (issue 17: one statement fewer a press). PostgreSQL needs none: the claim deletes
the row in a common table expression of the same statement (storage/updates.py).

Revision ID: 0018_inbox_leaves_on_claim
Revises: 0017_volunteer_share_index
Create Date: 2026-12-01 03:05:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0018_inbox_leaves_on_claim"
down_revision: str | None = "0017_volunteer_share_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = "0008_inbox"  # the inbox is on another branch

TRIGGER = "processed_update_leaves_inbox"


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute(
        f"CREATE TRIGGER {TRIGGER} AFTER INSERT ON processed_updates "
        "BEGIN DELETE FROM inbox WHERE update_id = NEW.update_id; END"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute(f"DROP TRIGGER IF EXISTS {TRIGGER}")
