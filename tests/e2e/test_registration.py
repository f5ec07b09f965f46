"""Registration end to end: the emulator, the real aiogram client, the bot, over HTTP."""

from __future__ import annotations

from sqlalchemy import select

from bot.app import open_storage
from botapi_emulator.client import Person
from storage.models import Volunteer
from tests.e2e.conftest import ChorusUnderTest


async def _says(person: Person, fragment: str) -> str:
    message = await person.wait_for_message(lambda m: fragment in (m.text or ""))
    return message.text or ""


async def _volunteer(chorus: ChorusUnderTest, user_id: int) -> Volunteer | None:
    storage = await open_storage(chorus.database_url)
    try:
        async with storage.sessionmaker() as session:
            return await session.scalar(select(Volunteer).where(Volunteer.user_id == user_id))
    finally:
        await storage.engine.dispose()


async def test_an_individual_registers_in_spanish(chorus: ChorusUnderTest) -> None:
    lucia = await chorus.person("Lucía", language_code="es")
    await lucia.send("/start")
    await _says(lucia, "Te damos la bienvenida a")
    await lucia.press("Español")
    await lucia.press("A título individual")
    await _says(lucia, "¿Con qué nombre")
    await lucia.send("Lucía <Pérez>")
    await _says(lucia, "¿En qué país")
    await lucia.send("Colombia")
    await _says(lucia, "habilidades")
    await lucia.press("Traducción")
    await lucia.press("Listo ✔")
    await lucia.press("5")
    await lucia.press("Listo ✔")
    await lucia.press("Juventud")
    await lucia.press("Listo ✔")
    await lucia.press("No")
    await lucia.press("Acepto el compromiso")
    await lucia.press("Estoy de acuerdo")
    summary = await _says(lucia, "Revisa tus respuestas")
    assert "Lucía <Pérez>" in summary
    await lucia.press("✅ Confirmar")
    await _says(lucia, "¡Gracias, Lucía <Pérez>!")
    volunteer = await _volunteer(chorus, lucia.id)
    assert volunteer is not None
    assert (volunteer.language, volunteer.country, volunteer.timezone) == (
        "es",
        "CO",
        "America/Bogota",
    )
    assert volunteer.skills == ["translation"]


async def test_an_organisation_registers_in_arabic_across_a_restart(
    chorus: ChorusUnderTest,
) -> None:
    nour = await chorus.person("Nour", language_code="ar")
    await nour.send("/start")
    await _says(nour, "أهلاً بك")
    await nour.press("العربية")
    await nour.press("منظمة")
    await nour.send("نور")
    await _says(nour, "ما اسم منظمتك")
    await chorus.restart()
    await nour.send("جمعية الناجين")
    await _says(nour, "ما نوع هذه المنظمة")
    await nour.press("شبكة ناجين")
    await nour.send("لبنان")
    await _says(nour, "المهارات")
    await chorus.kill()
    await chorus.start()
    await nour.press("مساعدة الناجين")
    await nour.press("تمّ ✔")
    await nour.send("12")
    await nour.press("تمّ ✔")
    await nour.press("نزع السلاح")
    await nour.press("تمّ ✔")
    await nour.press("نعم")
    await nour.press("أقبل التعهّد")
    await nour.press("أوافق")
    summary = await _says(nour, "مراجعة إجاباتك")
    assert summary.startswith("\u200f"), "Arabic messages start with a right-to-left mark"
    await nour.press("✅ تأكيد")
    await _says(nour, "شكراً يا \u2068نور\u2069")  # the name isolated (FSI…PDI)
    volunteer = await _volunteer(chorus, nour.id)
    assert volunteer is not None
    assert (volunteer.kind, volunteer.org_name, volunteer.org_type, volunteer.country) == (
        "organisation",
        "جمعية الناجين",
        "survivor_network",
        "LB",
    )
    assert volunteer.skills == ["survivor_assistance"]
    assert volunteer.discreet is True


async def test_forged_button_and_over_long_answer_get_clear_messages(
    chorus: ChorusUnderTest,
) -> None:
    ben = await chorus.person("Ben")
    await ben.send("/start")
    question = await ben.wait_for_message(lambda m: "Which language" in (m.text or ""))
    answer = await ben.press_data(question, "rq:language:klingon")
    assert answer is not None and answer.show_alert
    assert "no longer active" in (answer.text or "")
    answer = await ben.press_data(question, "x" * 10)
    assert answer is not None and "no longer active" in (answer.text or "")
    await ben.press("English")
    await ben.press("An individual")
    await _says(ben, "What name")
    await ben.send("B" * 500)
    await _says(ben, "too long (500 characters): at most 64")


async def test_commands_are_published_per_language(chorus: ChorusUnderTest) -> None:
    commands = await chorus.sandbox.request("GET", "/control/commands")
    text = str(commands)
    assert "Voir et modifier votre profil" in text
    assert "عرض ملفك الشخصي وتعديله" in text
    assert "See and change your profile" in text


async def test_an_update_delivered_twice_changes_nothing_twice(chorus: ChorusUnderTest) -> None:
    ada = await chorus.person("Ada")
    await ada.send("/start")
    await ada.press("English")
    await ada.press("An individual")
    await _says(ada, "What name")
    await ada.send("Ada Lovelace")
    await _says(ada, "Which country")
    shown_before = len(await ada.chat_messages())
    confirmed = await chorus.sandbox.confirmed_updates()
    name_update = next(
        u for u in reversed(confirmed) if u.get("message", {}).get("text") == "Ada Lovelace"
    )
    # The reply is recorded as delivered (a kill before that may send it again: at least once).
    assert chorus.running is not None and chorus.running.delivery is not None
    await chorus.running.delivery.wait_until_idle()
    await chorus.kill()
    await chorus.sandbox.redeliver(name_update["update_id"])
    await chorus.start()
    await ada.send("Ireland")
    await _says(ada, "Which skills")
    messages = await ada.chat_messages()
    bot_texts = [m.text or "" for m in messages[shown_before:] if m.from_bot]
    assert not any("Which country" in text for text in bot_texts), bot_texts
    assert not any("know that country" in text or "Did you mean" in text for text in bot_texts)
