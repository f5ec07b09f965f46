"""Running the coalition end to end (both runtimes): roles, applications, directory, check-ins,
/mydata and /forget, the rate limit and the audit log."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.app import Storage, open_storage
from botapi_emulator.client import Person
from handlers.kernel.dispatch import RateLimit, RateLimiter
from storage.models import AuditEntry, Role, Volunteer
from storage.outbox import OutboxMessage
from tests.e2e.conftest import ChorusUnderTest
from tests.e2e.test_decisions_more import until
from tests.support.coalition import make_member, set_membership


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


async def _member(chorus: ChorusUnderTest, person: Person, name: str, **extra: object) -> None:
    async with _db(chorus) as storage:
        await make_member(storage, person.id, now=chorus.clock.now(), name=name, **extra)  # type: ignore[arg-type]


async def _volunteer(chorus: ChorusUnderTest, user_id: int) -> Volunteer | None:
    async with _db(chorus) as storage, storage.sessionmaker() as session:
        return await session.get(Volunteer, user_id)


async def test_promote_demote_refusals_menus_and_audit(chorus: ChorusUnderTest) -> None:
    coral = chorus.coordinator
    amira = await chorus.sandbox.create_user("Amira", username="amira_h", language_code="en")
    await _member(chorus, amira, "Amira Haddad", username="amira_h")
    await amira.send("/start")  # the bot may only write to people who started it
    await _says(amira, "Welcome back")
    await coral.send("/promote @amira_h")
    await _says(coral, "Roles: Member")
    await coral.press("➕ Make Chair")
    await _says(amira, "You are now Chair")
    commands = str(await chorus.sandbox.commands())
    assert "Member directory and search" in commands
    await amira.send("/coalition")  # a chair may
    await _says(amira, "Coalition settings")
    await coral.send("/demote @amira_h")
    await coral.press("➖ No longer Chair")
    await _says(amira, "You are no longer Chair")
    for command in ("/promote @amira_h", "/members", "/audit", "/stats", "/newaction"):
        await amira.send(command)
        await amira.wait_for_message(lambda m: "only" in (m.text or "").lower())
    message = await amira.send("hello")
    answer = await amira.press_data(message, f"rl:g:{amira.id}:owner")
    assert (
        answer is not None
        and answer.show_alert
        and "Sorry, only these roles" in (answer.text or "")
    )
    async with _db(chorus) as storage, storage.sessionmaker() as session:
        held = (await session.scalars(select(Role.role).where(Role.user_id == amira.id))).all()
        actions = (await session.scalars(select(AuditEntry.action))).all()
    assert held == []
    assert actions.count("role.grant") == 1 and actions.count("role.revoke") == 1
    await coral.send("/audit")
    log = await _says(coral, "Audit log")
    assert "gave a role → Amira Haddad" in log and "took a role away" in log


async def _register(person: Person, words: dict[str, str]) -> None:
    await person.send("/start")
    await person.press(words["language"])
    await person.press(words["individual"])
    await _says(person, words["name?"])
    await person.send(words["name"])
    await _says(person, words["country?"])
    await person.send(words["country"])
    await person.press(words["skill"])  # a skill is required
    await person.press(words["done"])
    await person.press("5")
    await person.press(words["done"])
    await person.press(words["done"])
    await person.press(words["no"])
    await person.press(words["pledge"])
    await person.press(words["agree"])
    await person.press(words["confirm"])


FRENCH = {
    "language": "Français",
    "individual": "À titre individuel",
    "name?": "Sous quel nom",
    "name": "Élise",
    "country?": "pays",
    "country": "France",
    "skill": "Médias",
    "done": "Terminé ✔",
    "no": "Non",
    "pledge": "J’accepte l’engagement",
    "agree": "J’accepte",
    "confirm": "✅ Confirmer",
}
SPANISH = {
    "language": "Español",
    "individual": "A título individual",
    "name?": "¿Con qué nombre",
    "name": "Lucía",
    "country?": "¿En qué país",
    "country": "Colombia",
    "skill": "Medios",
    "done": "Listo ✔",
    "no": "No",
    "pledge": "Acepto el compromiso",
    "agree": "Estoy de acuerdo",
    "confirm": "✅ Confirmar",
}


async def test_applications_approved_in_french_and_rejected_in_spanish(
    chorus: ChorusUnderTest,
) -> None:
    async with _db(chorus) as storage:
        await set_membership(storage, "application", chorus.clock.now())
    coral = chorus.coordinator
    await coral.send("/help")  # the bot may only write to people who started it
    await _says(coral, "/members")
    elise = await chorus.person("Élise", language_code="fr")
    await _register(elise, FRENCH)
    await _says(elise, "Votre demande d’adhésion a été transmise")
    await _says(coral, "New membership application")
    await coral.press("✅ Approve")
    await _says(elise, "Votre demande d’adhésion a été acceptée")
    lucia = await chorus.person("Lucía", language_code="es")
    await _register(lucia, SPANISH)
    await _says(lucia, "Tu solicitud se ha enviado")
    await coral.wait_for_message(lambda m: "Lucía" in (m.text or ""))
    await coral.press("❌ Reject")
    await _says(coral, "Why is Lucía's application rejected")
    await coral.send("Only organisations this year")
    await _says(lucia, "Motivo: Only organisations this year")
    elise_row = await _volunteer(chorus, elise.id)
    lucia_row = await _volunteer(chorus, lucia.id)
    assert elise_row is not None and elise_row.status == "active"
    assert lucia_row is not None and lucia_row.status == "rejected"


async def test_directory_search_and_a_lapsed_check_in_coming_back(chorus: ChorusUnderTest) -> None:
    coral = chorus.coordinator
    nour = await chorus.person("Nour")
    await _member(chorus, nour, "Nour", skills=["legal"], country="LB")
    await nour.send("/start")
    omar = await chorus.person("Omar")
    await _member(chorus, omar, "Omar", skills=["media"], country="FR")
    await coral.send("/members skill:legal")
    listing = await _says(coral, "member matches")
    assert "Nour" in listing and "Omar" not in listing
    await coral.send("/coalition")
    await coral.press("3 months")  # also starts the daily check-in sweep
    await _says(coral, "every 3 months")
    await chorus.advance(timedelta(days=95))
    await _says(nour, "It has been 3 months")
    await chorus.advance(timedelta(days=15))
    await _says(nour, "marked inactive")
    row = await _volunteer(chorus, nour.id)
    assert row is not None and row.status == "inactive"
    await nour.press("✅ Still right")
    await _says(nour, "Welcome back")
    row = await _volunteer(chorus, nour.id)
    assert row is not None and row.status == "active"


async def test_mydata_then_forget_leaves_nothing(chorus: ChorusUnderTest) -> None:
    nina = await chorus.sandbox.create_user("Nina", username="nina_q", language_code="en")
    await _member(chorus, nina, "Nina Quartermaine", username="nina_q", skills=["media"])
    await nina.send("/mydata")
    message = await nina.wait_for_message(lambda m: m.document is not None)
    assert message.document is not None
    data = json.loads(await chorus.sandbox.download(message.document))
    assert data["tables"]["volunteers"][0]["display_name"] == "Nina Quartermaine"
    await nina.send("/forget")
    await nina.press("🗑 Yes, erase my data")
    await _says(nina, "Your data has been erased")
    async with _db(chorus) as storage, storage.sessionmaker() as session:
        assert await session.get(Volunteer, nina.id) is None

    async def reply_done(session: AsyncSession) -> bool:
        # "Your data has been erased" arrives, then its outbox row goes when the delivery
        # engine writes its result (the next batch, ~50 ms): the check raced it (CI, once).
        mine = select(func.count()).where(OutboxMessage.chat_id == nina.id)
        return not await session.scalar(mine)

    await until(chorus, reply_done, "the delivered reply's outbox row removed")
    from tests.handlers.test_privacy import _traces

    async with _db(chorus) as storage:
        assert await _traces(storage, ["Nina Quartermaine", "nina_q"], nina.id) == []


async def test_rate_limit_says_slow_down_once(chorus: ChorusUnderTest) -> None:
    assert chorus.running is not None
    chorus.running.dispatcher.limiter = RateLimiter(
        RateLimit(burst=2, per_second=0.001, warn_every=3600), chorus.clock
    )
    kim = await chorus.person("Kim")
    for _ in range(5):
        await kim.send("/help")
    await _says(kim, "Slow down")
    messages = [m for m in await kim.chat_messages() if m.from_bot]
    assert sum("Slow down" in (m.text or "") for m in messages) == 1
