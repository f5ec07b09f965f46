"""index volunteers by time zone and language, and by digest and time zone

A call to everyone is queued in one INSERT … SELECT that joins the audience with its shares
(language, time zone, quiet hours, digest; issue 17), and its digests are scheduled in one
that joins it with the digests due (digest, time zone): without these indexes SQLite scans
every volunteer once per share; with them, each share finds its own people.

Revision ID: 0016_volunteer_shares
Revises: 0015_action_counts
Create Date: 2026-11-30 23:20:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0016_volunteer_shares"
down_revision: str | None = "0015_action_counts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_volunteers_timezone_language", "volunteers", ["timezone", "language"])
    op.create_index("ix_volunteers_digest_timezone", "volunteers", ["digest", "timezone"])


def downgrade() -> None:
    op.drop_index("ix_volunteers_digest_timezone", table_name="volunteers")
    op.drop_index("ix_volunteers_timezone_language", table_name="volunteers")
