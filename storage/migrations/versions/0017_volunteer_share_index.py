"""index volunteers by their whole share (time zone, language, quiet hours, digest)

0016's (time zone, language) index let SQLite pick the (digest, time zone) one instead when it
queued a call to everyone, joined on all four (a share with no digest then visited everyone of
its time zone without one): the index on the whole share is the one it takes (issue 17).

Revision ID: 0017_volunteer_share_index
Revises: 0016_volunteer_shares
Create Date: 2026-11-30 23:50:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0017_volunteer_share_index"
down_revision: str | None = "0016_volunteer_shares"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SHARE = ["timezone", "language", "quiet_hours", "digest"]


def upgrade() -> None:
    op.drop_index("ix_volunteers_timezone_language", table_name="volunteers")
    op.create_index("ix_volunteers_share", "volunteers", SHARE)


def downgrade() -> None:
    op.drop_index("ix_volunteers_share", table_name="volunteers")
    op.create_index("ix_volunteers_timezone_language", "volunteers", ["timezone", "language"])
