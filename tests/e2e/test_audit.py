"""The audit log end to end (both runtimes): every kind of change a coordinator makes shows in
/audit — who, when in the reader's time zone, the object, from → to — and reading does not."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from sqlalchemy import select

from bot.app import Storage, open_storage
from botapi_emulator.client import Person
from handlers.coalition.audit import CSV_HEADER
from handlers.kernel.i18n import translator
from storage.coalition import membership_store
from storage.decisions.decision_models import Decision
from storage.models import AuditEntry
from tests.e2e.conftest import ChorusUnderTest
from tests.support.coalition import make_member
from tests.support.csv_files import read_export

ZONE = "Asia/Beirut"


@asynccontextmanager
async def _db(chorus: ChorusUnderTest) -> AsyncIterator[Storage]:
    storage = await open_storage(chorus.database_url)
    try:
        yield storage
    finally:
        await storage.engine.dispose()


async def _says(person: Person, fragment: str) -> str:
    message = await person.wait_for_message(lambda m: fragment in (m.text or m.caption or ""))
    return message.text or message.caption or ""


async def _people(chorus: ChorusUnderTest) -> tuple[Person, Person, Person]:
    """Coral (coordinator, in Beirut), Amira (member), Élise and Lucía (applicants)."""
    coral = chorus.coordinator
    amira = await chorus.sandbox.create_user("Amira", username="amira_h", language_code="en")
    elise = await chorus.person("Élise", language_code="fr")
    lucia = await chorus.person("Lucía", language_code="es")
    now = chorus.clock.now()
    async with _db(chorus) as storage:
        await make_member(storage, coral.id, now=now, name="Coral", timezone=ZONE)
        await make_member(storage, amira.id, now=now, name="Amira Haddad", username="amira_h")
        for person in (elise, lucia):
            await make_member(
                storage, person.id, now=now, name=person.first_name, status="applicant"
            )
            async with storage.sessionmaker() as session, session.begin():
                await membership_store.submit(session, person.id, now)
    for person in (coral, amira, elise, lucia):  # the bot may only write to people who started
        await person.send("/start")
        await person.wait_for_message(lambda m: m.from_bot)
    return amira, elise, lucia


async def _create_meeting(coral: Person, when: str) -> None:
    await coral.send("/newaction")
    await coral.press("🤝 Meeting")
    await _says(coral, "What is its title?")
    await coral.send("Vigil & march")
    await _says(coral, "Describe it")
    await coral.send("Bring candles.")
    await coral.press("No link")
    await _says(coral, "When does it start?")
    await coral.send(when)
    await coral.press(ZONE)
    await _says(coral, "Where does it happen?")
    await coral.press("Online")
    await coral.press("No limit")
    await _says(coral, "Who receives it?")
    await coral.press("Done ✔")
    await _says(coral, "It will go to")


async def test_every_change_shows_in_the_audit_log_and_reading_does_not(
    chorus: ChorusUnderTest,
) -> None:
    coral = chorus.coordinator
    amira, elise, lucia = await _people(chorus)
    for reading in ("/members", "/actions", "/stats", "/audit"):
        await coral.send(reading)
        await coral.wait_for_message(lambda m: m.from_bot)
    # An action: created and sent, edited, cancelled.
    when = (chorus.clock.now() + timedelta(days=3)).strftime("%Y-%m-%d 18:00")
    await _create_meeting(coral, when)
    await coral.press("✅ Send it")
    await _says(coral, "Sending finished")
    await coral.send("/actions")
    await coral.press("#1 Vigil & march")
    await coral.press("✏️ Edit")
    await coral.press("Title")
    await coral.send("Vigil and march")
    await _says(coral, "Vigil and march")
    await coral.press("🚫 Cancel the action")
    await coral.press("Yes, cancel it")
    await _says(coral, "cancelled")
    # A decision: opened, extended by a day, closed early.
    group = await chorus.sandbox.create_group(
        "Coalition", [coral, amira], type="supergroup", bot_admin=True
    )
    await coral.send("/poll Venue? | Hall | Park | anonymous | in 3d", chat=group)
    await coral.wait_for_message(lambda m: "Venue?" in (m.text or ""), chat=group)
    await coral.press("⏰ +1 day", chat=group)
    await coral.wait_for_message(lambda m: "now closes" in (m.text or ""), chat=group)
    await coral.press("⏹ Close now", chat=group)
    await coral.wait_for_message(lambda m: "Result:" in (m.text or ""), chat=group)
    # A role granted and removed.
    await coral.send("/promote @amira_h")
    await coral.press("➕ Make Chair")
    await _says(amira, "You are now Chair")
    await coral.send("/demote @amira_h")
    await coral.press("➖ No longer Chair")
    await _says(amira, "You are no longer Chair")
    # Applications: one approved, one rejected with a reason (the newest card first).
    await coral.send("/applications")
    await coral.wait_for_message(lambda m: "Lucía" in (m.text or ""))
    await coral.press("✅ Approve")
    await _says(lucia, "application was approved")
    await coral.press("❌ Reject")
    await _says(coral, "Why is Élise's application rejected")
    await coral.send("Only organisations this year")
    await _says(elise, "Only organisations this year")
    # An export, and a setting.
    await coral.send("/members")
    await _says(coral, "members match")
    await coral.press("⬇️ CSV")
    await coral.wait_for_message(lambda m: m.document is not None)
    await coral.send("/coalition")
    await coral.press("By application")
    await _says(coral, "by application")

    await coral.send("/audit")
    log = await _says(coral, "Audit log")
    async with _db(chorus) as storage, storage.sessionmaker() as session:
        entries = (await session.scalars(select(AuditEntry).order_by(AuditEntry.id))).all()
        decision = await session.scalar(select(Decision))
    assert [e.action for e in entries] == [
        "action.create",
        "action.send",
        "action.edit",
        "action.cancel",
        "decision.open",
        "decision.extend",
        "decision.close",
        "role.grant",
        "role.revoke",
        "application.approve",
        "application.reject",
        "members.export",
        "settings.change",
    ]
    assert "Audit log — 13 entries" in log
    for line in (
        "Coral: created an action #1 “Vigil & march”",
        "Coral: sent an action #1 “Vigil & march” (recipients: ",
        "Coral: edited an action #1 “Vigil & march” — Title: Vigil & march → Vigil and march",
        "Coral: cancelled an action #1 “Vigil and march”",
        "Coral: opened a decision #1 “Venue?”",
        "Coral: closed a decision early #1 “Venue?”",
        "Coral: gave a role → Amira Haddad (role: Chair)",
        "Coral: took a role away → Amira Haddad (role: Chair)",
        "Coral: approved an application → Lucía",
        "Coral: rejected an application → Élise",
        "reason: Only organisations this year",
        "Coral: exported members (",
        "Coral: changed a setting — membership: open → application",
    ):
        assert line in log, line
    assert "/members" not in log and "/stats" not in log
    # Times in the reader's zone (Beirut), the extension from → to as well.
    t = translator("en")
    assert decision is not None
    new_close = t.datetime_text(decision.closes_at, ZONE)
    old_close = t.datetime_text(decision.closes_at - timedelta(days=1), ZONE)
    assert f"extended a decision #1 “Venue?” — closes: {old_close} → {new_close}" in log
    assert all(f"• {t.datetime_text(e.at, ZONE)} — " in log for e in entries)
    # Filtered: one person, one kind; and the CSV of what is shown.
    await coral.send("/audit @amira_h")
    only_amira = await _says(coral, "Showing: Amira Haddad")
    assert "— 2 entries" in only_amira and "took a role away" in only_amira
    await coral.send("/audit decisions")
    decisions = await _says(coral, "Showing: Decisions")
    assert "— 3 entries" in decisions and "created an action" not in decisions
    await coral.press("⬇️ CSV")
    exported = await coral.wait_for_message(lambda m: m.document is not None)
    assert exported.document is not None
    content = await chorus.sandbox.download(exported.document)
    name = exported.document.file_name or ""
    rows = read_export((name, content), "audit", coral.id, CSV_HEADER)
    assert [r["action"] for r in rows] == ["decision.open", "decision.extend", "decision.close"]
