"""Membership by application: approve, reject with a reason, ask a question; the settings."""

from __future__ import annotations

from sqlalchemy import select

from bot.app import Storage
from handlers.kernel.ports import ShiftedClock
from storage.coalition.coalition_models import Application
from storage.models import AuditEntry, Volunteer
from tests.conftest import COORDINATOR_ID
from tests.handlers.test_registration import register_individual
from tests.support.actions import engine_for
from tests.support.coalition import make_member, set_membership, someone
from tests.support.recording import Conversation, Someone

SECRETARY = 6001


async def _status(storage: Storage, user_id: int) -> str | None:
    async with storage.sessionmaker() as session:
        volunteer = await session.get(Volunteer, user_id)
        return volunteer.status if volunteer else None


async def _register_in_french(person: Someone) -> None:
    await person.send("/start")
    await person.press("Français")
    await person.press("À titre individuel")
    await person.send("Élise <Martin>")
    await person.send("France")
    await person.press("Traduction")
    await person.press("Terminé ✔")
    await person.press("5")
    await person.press("Terminé ✔")
    await person.press("Terminé ✔")
    await person.press("Non")
    await person.press("J’accepte l’engagement")
    await person.press("J’accepte")
    await person.press("✅ Confirmer")


async def test_open_membership_makes_members_at_once(
    conversation: Conversation, storage: Storage
) -> None:
    amira = conversation.person("Amira")
    await register_individual(amira)
    assert "you are now part of the network" in amira.last.text
    assert await _status(storage, amira.person.id) == "active"


async def test_an_application_approved_in_french(
    conversation: Conversation, storage: Storage, clock: ShiftedClock
) -> None:
    await set_membership(storage, "application", clock.now())
    await make_member(storage, SECRETARY, now=clock.now(), name="Sam", role="secretariat")
    elise = conversation.person("Élise", language_code="fr")
    await _register_in_french(elise)
    assert "Votre demande d’adhésion a été transmise" in elise.last.text
    assert await _status(storage, elise.person.id) == "applicant"
    await elise.send("/profile")  # a pending applicant still sees their profile
    await engine_for(conversation.dispatcher.services).drain()
    coral = someone(conversation, COORDINATOR_ID, "Coral")
    sam = someone(conversation, SECRETARY, "Sam")
    assert "New membership application" in coral.last.text
    assert "Élise &lt;Martin&gt;" in coral.last.text and "Translation" in coral.last.text
    assert "New membership application" in sam.last.text
    await sam.press("✅ Approve")
    assert "Élise &lt;Martin&gt; is now a member" in sam.last.text
    assert await _status(storage, elise.person.id) == "active"
    text, alert = await coral.press("✅ Approve")
    assert alert and text is not None and "already approved by Sam" in text
    await engine_for(conversation.dispatcher.services).drain()
    assert "Votre demande d’adhésion a été acceptée" in elise.last.text
    async with storage.sessionmaker() as session:
        entry = await session.scalar(
            select(AuditEntry).where(AuditEntry.action == "application.approve")
        )
    assert entry is not None and (entry.actor_id, entry.target_id) == (SECRETARY, elise.person.id)


async def test_an_application_rejected_with_a_reason_in_spanish_after_a_question(
    conversation: Conversation, storage: Storage, clock: ShiftedClock
) -> None:
    await set_membership(storage, "application", clock.now())
    lucia = conversation.person("Lucía", language_code="es")
    await lucia.send("/start")
    await lucia.press("Español")
    await lucia.press("A título individual")
    await lucia.send("Lucía")
    await lucia.send("Colombia")
    await lucia.press("Medios")  # a skill is required
    await lucia.press("Listo ✔")
    await lucia.press("5")
    await lucia.press("Listo ✔")
    await lucia.press("Listo ✔")
    await lucia.press("No")
    await lucia.press("Acepto el compromiso")
    await lucia.press("Estoy de acuerdo")
    await lucia.press("✅ Confirmar")
    assert "Tu solicitud se ha enviado" in lucia.last.text
    await engine_for(conversation.dispatcher.services).drain()
    coral = someone(conversation, COORDINATOR_ID, "Coral")
    await coral.press("❓ Ask a question")
    assert "Type your question for Lucía" in coral.last.text
    await coral.send("Which <group> are you with?")
    assert "Your question was sent to Lucía" in coral.last.text
    await engine_for(conversation.dispatcher.services).drain()
    assert "Which &lt;group&gt; are you with?" in lucia.last.text
    await lucia.send("Ninguno, soy independiente")
    assert "tu respuesta se envió" in lucia.last.text
    await engine_for(conversation.dispatcher.services).drain()
    assert "An applicant answered your question" in coral.last.text
    assert "Ninguno, soy independiente" in coral.last.text
    await coral.press("❌ Reject")
    assert "Why is Lucía's application rejected" in coral.last.text
    await coral.send("x" * 1001)
    assert "too long (1001 characters)" in coral.messages[-2].text
    assert "Why is Lucía's application rejected" in coral.last.text  # asked again
    await coral.send("We only take organisations this year")
    assert "application is rejected" in coral.last.text
    await engine_for(conversation.dispatcher.services).drain()
    assert "no fue aceptada" in lucia.last.text
    assert "Motivo: We only take organisations this year" in lucia.last.text
    assert await _status(storage, lucia.person.id) == "rejected"
    await lucia.send("/mydata")  # still allowed: their own data
    assert lucia.last.document is not None
    async with storage.sessionmaker() as session:
        application = await session.scalar(select(Application))
    assert application is not None and application.status == "rejected"
    assert [e["from"] for e in application.exchanges] == ["coordinator", "applicant"]


async def test_settings_switch_membership_and_check_ins_with_an_audit_entry(
    conversation: Conversation, storage: Storage
) -> None:
    coral = someone(conversation, COORDINATOR_ID, "Coral")
    await coral.send("/coalition")
    assert "Joining: <b>open</b>" in coral.last.text
    assert "every 6 months, 14 days to answer" in coral.last.text
    await coral.press("By application")
    assert "Joining: <b>by application</b>" in coral.last.text
    await coral.press("3 months")
    await coral.press("No check-ins")
    assert "Check-ins: off." in coral.last.text
    await coral.send("/applications")
    assert coral.last.text == "No application is waiting."
    async with storage.sessionmaker() as session:
        changes = (
            await session.scalars(
                select(AuditEntry.details).where(AuditEntry.action == "settings.change")
            )
        ).all()
    assert [c["to"] for c in changes] == ["application", 3, 0]
