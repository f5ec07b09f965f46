"""/audit (owners and the chair) and /stats (coordinators): what they show, CSV, the chart."""

from __future__ import annotations

from bot.app import Storage
from handlers.coalition import audit
from handlers.kernel.ports import ShiftedClock
from tests.conftest import COORDINATOR_ID
from tests.support.coalition import make_member, someone
from tests.support.csv_files import read_export
from tests.support.recording import Conversation


async def test_audit_log_lists_admin_actions_and_exports_them(
    conversation: Conversation, storage: Storage, clock: ShiftedClock
) -> None:
    await make_member(storage, COORDINATOR_ID, now=clock.now(), name="Coral")
    await make_member(storage, 9001, now=clock.now(), name="Amira", username="amira")
    coral = someone(conversation, COORDINATOR_ID, "Coral")
    await coral.send("/promote @amira")
    await coral.press("➕ Make Treasurer")
    await coral.send("/coalition")
    await coral.press("By application")
    await coral.send("/audit")
    shown = coral.last.text
    assert "Audit log</b> — 2 entries" in shown  # the changes; commands that read are not kept
    assert "<b>Coral</b>: gave a role → Amira (role: Treasurer)" in shown
    assert "changed a setting" in shown and "/promote" not in shown
    await coral.press("⬇️ CSV")
    rows = read_export(coral.last.document, "audit", COORDINATOR_ID, audit.CSV_HEADER)
    assert any(row["action"] == "role.grant" and row["target"] == "Amira" for row in rows)
    assert "exported by Coral" in coral.last.text
    amira = someone(conversation, 9001, "Amira")
    await amira.send("/audit")
    assert "Sorry, only these roles can do this: Owner, Chair." in amira.last.text


async def test_stats_in_words_and_a_chart(
    conversation: Conversation, storage: Storage, clock: ShiftedClock
) -> None:
    await make_member(storage, 9001, now=clock.now(), name="Amira", skills=["media", "legal"])
    await make_member(storage, 9002, now=clock.now(), name="Omar", skills=["media"], country="FR")
    coral = someone(conversation, COORDINATOR_ID, "Coral")
    await coral.send("/stats")
    text = coral.messages[-2].text
    assert "Media: 2" in text and "Legal: 1" in text and "France: 1" in text
    assert "No action yet." in text and "No decision closed yet." in text
    assert coral.last.document is not None
    name, picture = coral.last.document
    assert name == "stats.png" and picture.startswith(b"\x89PNG")
