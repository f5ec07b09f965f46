"""an action's answer counts kept by a trigger on rsvps

actions.<answer>_count (migration 0015) followed each change of an answer by an UPDATE of its
own in the same transaction (storage/actions/action_store.py); a trigger on rsvps now moves them
in the statement that writes the answer: an RSVP press is one statement fewer (issue 17). Every
write counts, whoever makes it (a bulk INSERT of answers too). Only a change of status moves the
counts (an erasure, which changes the user id, does not).

SQLite: a later migration that rebuilds rsvps or actions (batch mode) must drop these triggers
first and create them again after (SQLite checks their bodies when a table is renamed).

Revision ID: 0019_rsvp_counts_by_trigger
Revises: 0018_inbox_leaves_on_claim
Create Date: 2026-12-01 06:50:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0019_rsvp_counts_by_trigger"
down_revision: str | None = "0018_inbox_leaves_on_claim"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COUNTED = ("going", "waitlist", "maybe", "cant", "done")
SQLITE_TRIGGERS = (
    "rsvps_counted_insert",
    "rsvps_counted_delete",
    "rsvps_counted_update",
    "rsvps_counted_move",
)
POSTGRESQL_TRIGGERS = ("rsvps_counted", "rsvps_counted_update")
FUNCTION = "rsvps_counted"


def _moves(row: str, sign: str, cast: str = "") -> str:
    """The SET list that adds (sign +) or takes (sign -) `row`'s answer to its action's counts."""
    return ", ".join(f"{s}_count = {s}_count {sign} ({row}.status = '{s}'){cast}" for s in COUNTED)


def _both(cast: str = "") -> str:
    """The SET list that moves an answer from OLD's status to NEW's (same action)."""
    return ", ".join(
        f"{s}_count = {s}_count - (OLD.status = '{s}'){cast} + (NEW.status = '{s}'){cast}"
        for s in COUNTED
    )


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "CREATE TRIGGER rsvps_counted_insert AFTER INSERT ON rsvps BEGIN"
            f" UPDATE actions SET {_moves('NEW', '+')} WHERE id = NEW.action_id; END"
        )
        op.execute(
            "CREATE TRIGGER rsvps_counted_delete AFTER DELETE ON rsvps BEGIN"
            f" UPDATE actions SET {_moves('OLD', '-')} WHERE id = OLD.action_id; END"
        )
        op.execute(
            "CREATE TRIGGER rsvps_counted_update AFTER UPDATE OF status ON rsvps"
            " WHEN OLD.status IS NOT NEW.status AND OLD.action_id = NEW.action_id BEGIN"
            f" UPDATE actions SET {_both()} WHERE id = NEW.action_id; END"
        )
        op.execute(  # an answer moved to another action (no code does it today)
            "CREATE TRIGGER rsvps_counted_move AFTER UPDATE OF action_id ON rsvps"
            " WHEN OLD.action_id != NEW.action_id BEGIN"
            f" UPDATE actions SET {_moves('OLD', '-')} WHERE id = OLD.action_id;"
            f" UPDATE actions SET {_moves('NEW', '+')} WHERE id = NEW.action_id; END"
        )
        return
    op.execute(
        f"CREATE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
        " IF TG_OP = 'UPDATE' AND OLD.action_id = NEW.action_id THEN"
        f" UPDATE actions SET {_both('::int')} WHERE id = NEW.action_id; RETURN NULL; END IF;"
        " IF TG_OP IN ('UPDATE', 'DELETE') THEN"
        f" UPDATE actions SET {_moves('OLD', '-', '::int')} WHERE id = OLD.action_id; END IF;"
        " IF TG_OP IN ('UPDATE', 'INSERT') THEN"
        f" UPDATE actions SET {_moves('NEW', '+', '::int')} WHERE id = NEW.action_id; END IF;"
        " RETURN NULL; END $$"
    )
    op.execute(
        "CREATE TRIGGER rsvps_counted AFTER INSERT OR DELETE ON rsvps"
        f" FOR EACH ROW EXECUTE FUNCTION {FUNCTION}()"
    )
    op.execute(
        "CREATE TRIGGER rsvps_counted_update AFTER UPDATE OF status, action_id ON rsvps"
        " FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status"
        f" OR OLD.action_id != NEW.action_id) EXECUTE FUNCTION {FUNCTION}()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        return
    for name in POSTGRESQL_TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name} ON rsvps")
    op.execute(f"DROP FUNCTION IF EXISTS {FUNCTION}()")
