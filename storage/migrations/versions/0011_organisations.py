"""organisations: organisations are records, and one vote per organisation counts by their id

A table of organisations (name, its folded form, country, created_at) and, on volunteers, the
organisation they act for (org_id), their role there (representative | alternate | observer)
and whether a coordinator approved it (approved | pending). Existing organisation volunteers
are grouped by their typed name, folded (case, spaces and accents aside): the first registrant
becomes the representative, the others approved alternates (they already shared the vote);
ballots cast for "org:<typed name>" are moved to "org:<id>".

Revision ID: dec4_orgs
Revises: dec3
Create Date: 2026-11-30 18:10:00.000000
"""

import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "dec4_orgs"
down_revision: str | None = "dec3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _folded(name: str) -> str:
    bare = "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c))
    return " ".join(bare.casefold().split())[:150]


def upgrade() -> None:
    op.create_table(
        "organisations",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(150), nullable=False),
        sa.Column("key", sa.String(150), nullable=False, unique=True),
        sa.Column("country", sa.String(2), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    with op.batch_alter_table("volunteers") as batch:
        batch.add_column(sa.Column("org_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("org_role", sa.String(16), nullable=True))
        batch.add_column(sa.Column("org_status", sa.String(16), nullable=True))
        batch.create_index("ix_volunteers_org_id", ["org_id"])
    connection = op.get_bind()
    rows = connection.execute(
        sa.text(
            "SELECT user_id, org_name, org_country, registered_at FROM volunteers"
            " WHERE kind = 'organisation' AND org_name IS NOT NULL ORDER BY registered_at, user_id"
        )
    ).all()
    found: dict[str, int] = {}
    for user_id, name, country, registered_at in rows:
        key = _folded(name)
        if not key:
            continue
        role = "alternate"
        if key not in found:
            connection.execute(
                sa.text(
                    "INSERT INTO organisations (name, key, country, created_at)"
                    " VALUES (:name, :key, :country, :at)"
                ),
                {
                    "name": " ".join(name.split()),
                    "key": key,
                    "country": country,
                    "at": registered_at,
                },
            )
            found[key] = connection.execute(
                sa.text("SELECT id FROM organisations WHERE key = :key"), {"key": key}
            ).scalar_one()
            role = "representative"
        connection.execute(
            sa.text(
                "UPDATE volunteers SET org_id = :org, org_role = :role, org_status = 'approved'"
                " WHERE user_id = :user"
            ),
            {"org": found[key], "role": role, "user": user_id},
        )
        connection.execute(
            sa.text(
                "UPDATE decision_ballots SET unit = :unit WHERE voter_id = :user"
                " AND unit LIKE 'org:%'"
            ),
            {"unit": f"org:{found[key]}", "user": user_id},
        )


def downgrade() -> None:
    with op.batch_alter_table("volunteers") as batch:
        batch.drop_index("ix_volunteers_org_id")
        batch.drop_column("org_status")
        batch.drop_column("org_role")
        batch.drop_column("org_id")
    op.drop_table("organisations")
