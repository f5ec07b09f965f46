"""/audit: changes (not reading), each with who, when in the reader's zone, the object and
from → to; filters by person, kind and dates; pages; CSV of what is shown."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.app import Storage
from handlers.coalition import audit as handlers_audit
from handlers.kernel.ports import ShiftedClock
from storage.coalition import audit_store
from tests.conftest import COORDINATOR_ID
from tests.handlers.test_actions import create_meeting
from tests.support.actions import engine_for
from tests.support.coalition import make_member, someone
from tests.support.csv_files import read_export
from tests.support.recording import Conversation

AMIRA, BILAL = 9001, 9002
NEXT = "Next ▶"


async def _people(storage: Storage, clock: ShiftedClock, zone: str = "UTC") -> None:
    await make_member(storage, COORDINATOR_ID, now=clock.now(), name="Coral", timezone=zone)
    await make_member(storage, AMIRA, now=clock.now(), name="Amira", username="amira")
    await make_member(storage, BILAL, now=clock.now(), name="Bilal", username="bilal")


async def test_changes_are_logged_and_reading_is_not(
    conversation: Conversation, storage: Storage, clock: ShiftedClock
) -> None:
    await _people(storage, clock)
    coral = someone(conversation, COORDINATOR_ID, "Coral")
    for reading in ("/members", "/stats", "/actions", "/audit", "/members", "/coalition"):
        await coral.send(reading)
    await coral.send("/audit")
    assert "Audit log</b> — 0 entries" in coral.last.text and "Nothing yet." in coral.last.text
    await coral.send("/promote @amira")
    await coral.press("➕ Make Treasurer")
    await coral.send("/demote @amira")
    await coral.press("➖ No longer Treasurer")
    await coral.send("/coalition")
    await coral.press("By application")
    await coral.send("/audit")
    shown = coral.last.text
    assert "Audit log</b> — 3 entries" in shown
    assert "<b>Coral</b>: gave a role → Amira (role: Treasurer)" in shown
    assert "<b>Coral</b>: took a role away → Amira (role: Treasurer)" in shown
    assert "<b>Coral</b>: changed a setting — membership: open → application" in shown
    assert "/members" not in shown and "/promote" not in shown


async def test_an_action_created_sent_edited_and_cancelled(
    conversation: Conversation, storage: Storage, clock: ShiftedClock
) -> None:
    await _people(storage, clock)
    coral = someone(conversation, COORDINATOR_ID, "Coral")
    await create_meeting(coral, clock)
    await coral.press("✅ Send it")
    await engine_for(conversation.dispatcher.services).drain()
    await coral.send("/actions")
    await coral.press("#1 Vigil for survivors")
    await coral.press("✏️ Edit")
    await coral.press("Title")
    await coral.send("Vigil and march")
    await coral.press("✏️ Edit")
    await coral.press("Place")
    await coral.send("Parliament gate")
    await coral.press("🚫 Cancel the action")
    await coral.press("Yes, cancel it")
    await coral.send("/audit actions")
    lines = coral.last.text.splitlines()
    assert "Showing: Actions" in lines[1]
    changes = [line.split("</b>: ", 1)[1] for line in lines if "</b>: " in line]
    assert changes == [
        "cancelled an action #1 “Vigil and march”",
        "edited an action #1 “Vigil and march” — Place: Martyrs' Square → Parliament gate",
        "edited an action #1 “Vigil for survivors” — Title: Vigil for survivors → Vigil and march",
        "sent an action #1 “Vigil for survivors” (recipients: 3)",
        "created an action #1 “Vigil for survivors”",
    ]


async def test_times_are_shown_in_the_readers_zone(
    conversation: Conversation, storage: Storage, clock: ShiftedClock
) -> None:
    await _people(storage, clock, zone="Asia/Beirut")
    at = datetime(2026, 11, 2, 21, 30, tzinfo=UTC)  # 23:30 in Beirut
    async with storage.sessionmaker() as session, session.begin():
        await audit_store.record(session, COORDINATOR_ID, "role.grant", at, target_id=AMIRA)
    coral = someone(conversation, COORDINATOR_ID, "Coral")
    await coral.send("/audit")
    assert "Nov 2, 2026, 11:30\u202fPM — <b>Coral</b>: gave a role → Amira" in coral.last.text


async def _history(storage: Storage) -> None:
    """20 role changes by Coral to Amira (1-20 Nov), a setting by Bilal, an export by Coral."""
    async with storage.sessionmaker() as session, session.begin():
        for day in range(1, 21):
            at = datetime(2026, 11, day, 12, tzinfo=UTC)
            kind = "role.grant" if day % 2 else "role.revoke"
            await audit_store.record(
                session, COORDINATOR_ID, kind, at, target_id=AMIRA, details={"role": "chair"}
            )
        at = datetime(2026, 11, 5, 12, tzinfo=UTC)
        details = {"setting": "membership", "from": "open", "to": "application"}
        await audit_store.record(session, BILAL, "settings.change", at, details=details)
        at = datetime(2026, 11, 6, 12, tzinfo=UTC)
        await audit_store.record(
            session, COORDINATOR_ID, "members.export", at, details={"count": 4}
        )
        old = datetime(2026, 11, 7, 12, tzinfo=UTC)
        await audit_store.record(session, COORDINATOR_ID, "command.members", old)  # before the rule


async def test_filters_by_person_kind_and_dates_with_pages(
    conversation: Conversation, storage: Storage, clock: ShiftedClock
) -> None:
    await _people(storage, clock)
    await _history(storage)
    coral = someone(conversation, COORDINATOR_ID, "Coral")
    await coral.send("/audit")
    assert "— 22 entries" in coral.last.text and "Page 1 of 2" in coral.last.text
    assert "/members" not in coral.last.text  # the reading of the old days is left out
    await coral.press(NEXT)
    assert "Page 2 of 2" in coral.last.text
    await coral.send("/audit @bilal")
    assert "— 1 entry" in coral.last.text and "Showing: Bilal" in coral.last.text
    await coral.send("/audit settings")
    assert "— 1 entry" in coral.last.text and "membership: open → application" in coral.last.text
    await coral.send("/audit exports 2026-11-06")
    assert "— 1 entry" in coral.last.text and "exported members (rows: 4)" in coral.last.text
    await coral.send("/audit @amira 2026-11-03..2026-11-04")
    assert "— 2 entries" in coral.last.text
    await coral.send("/audit roles ..2026-11-10")
    assert (
        "— 10 entries" in coral.last.text and "Showing: Roles · … to 2026-11-10" in coral.last.text
    )
    await coral.press("• Roles")  # the kind shown is marked; pressing it keeps the filters
    assert "— 10 entries" in coral.last.text
    await coral.press("Exports")
    assert "— 1 entry" in coral.last.text  # the dates still apply
    assert "Showing: Exports · … to 2026-11-10" in coral.last.text
    await coral.press("All")
    assert "— 12 entries" in coral.last.text
    await coral.send("/audit @nobody")
    assert "Nobody registered has the username @nobody." in coral.last.text
    await coral.send("/audit yesterday")
    assert "I don't understand “yesterday”" in coral.last.text


async def test_csv_exports_what_the_filters_show_and_is_logged(
    conversation: Conversation, storage: Storage, clock: ShiftedClock
) -> None:
    await _people(storage, clock)
    await _history(storage)
    coral = someone(conversation, COORDINATOR_ID, "Coral")
    await coral.send("/audit @bilal")
    await coral.press("⬇️ CSV")
    rows = read_export(coral.last.document, "audit", COORDINATOR_ID, handlers_audit.CSV_HEADER)
    assert [(r["action"], r["actor"]) for r in rows] == [("settings.change", "Bilal")]
    async with storage.sessionmaker() as session:
        (entry,) = await audit_store.of_action(session, "audit.export")
    assert entry.actor_id == COORDINATOR_ID and entry.details == {"person": BILAL, "count": 1}
    assert clock.now() - entry.at < timedelta(minutes=1)


async def test_an_action_closed_is_logged(
    conversation: Conversation, storage: Storage, clock: ShiftedClock
) -> None:
    await _people(storage, clock)
    coral = someone(conversation, COORDINATOR_ID, "Coral")
    await create_meeting(coral, clock)
    await coral.press("✅ Send it")
    await coral.send("/actions")
    await coral.press("#1 Vigil for survivors")
    await coral.press("🔒 Close")
    await coral.send("/audit")
    assert "<b>Coral</b>: closed an action #1 “Vigil for survivors”" in coral.last.text
