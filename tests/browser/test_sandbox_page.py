"""The sandbox page in a real browser: people register, answer calls to action, vote, move time."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from bot.sandbox_app import Sandbox
from botapi_emulator.client import Person
from tests.browser.screen import Screen

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
# The README's picture is rewritten only on request, so a test run leaves the tree clean.
README_SCREENSHOT = (
    ROOT / "docs" / "sandbox.png"
    if os.environ.get("CHORUS_UPDATE_SCREENSHOT") == "1"
    else ROOT / "test-artifacts" / "sandbox.png"
)


async def test_a_newcomer_registers_by_typing_and_clicking(page: Page) -> None:
    me = Screen(page)
    await me.be("Tom")
    label = page.locator("#people .person", has_text="Tom").locator(".badge.role")
    await expect(label).to_have_text("newcomer, not registered yet")
    await me.send("/start")
    await me.sees("Welcome to Chorus")
    await me.press("English")
    await me.press("An individual")
    await me.sees("What name should coordinators use")
    await me.send("Tom <Okello>")
    await me.sees("Which country")
    await me.send("Kenya")
    await me.sees("Which skills")
    await me.press("Translation")
    await me.press("Done ✔", on="Which skills")
    await me.sees("How many hours")
    await me.press("5")
    await me.sees("Which resources")
    await me.press("Done ✔", on="Which resources")
    await me.sees("Which themes")
    await me.press("Youth")
    await me.press("Done ✔", on="Which themes")
    await me.sees("discreet mode")
    await me.press("No")
    await me.press("I accept the pledge")
    await me.press("I agree")
    summary = await me.sees("Please check your answers")
    await expect(summary).to_contain_text("Tom <Okello>")  # typed markup shows as text
    await me.press("✅ Confirm")
    await me.sees("Thank you, Tom <Okello>")
    await expect(label).to_have_text("volunteer")  # it said "newcomer" still (sandbox finding)


async def test_arabic_renders_right_to_left(page: Page) -> None:
    me = Screen(page)
    await me.be("Amira")
    await me.send("/start")
    welcome = await me.sees("أهلاً")
    bubble = welcome.locator(".bubble")
    assert await bubble.evaluate("b => getComputedStyle(b).direction") == "rtl"
    assert await bubble.evaluate("b => getComputedStyle(b).textAlign") in ("right", "start")
    mine = await me.sees("/start")
    assert await mine.locator(".bubble").evaluate("b => getComputedStyle(b).direction") == "ltr"
    await me.open_chat("Coalition")
    await me.send("مرحبا بالجميع، أنا أميرة")
    typed = await me.sees("مرحبا بالجميع")
    text = typed.locator(".text")
    assert await text.evaluate("t => getComputedStyle(t).direction") == "rtl"
    # The first word sits at the right edge of the bubble.
    box = await typed.locator(".bubble").bounding_box()
    first = await text.evaluate(
        """t => { const r = document.createRange(); r.setStart(t.firstChild, 0);
                  r.setEnd(t.firstChild, 5); return r.getBoundingClientRect().right; }"""
    )
    assert box is not None and first > box["x"] + box["width"] / 2


async def test_a_vote_in_the_group_shows_its_live_result(
    page: Page, people: dict[str, Person]
) -> None:
    coral = Screen(page)
    await coral.open_chat("Coalition")
    await coral.send("/poll Join the march on Saturday? | Yes | No | majority | in 2h")
    poll = page.locator("#messages .msg .poll").last
    await expect(poll).to_contain_text("Join the march on Saturday?")
    await coral.sees("Rule: majority")
    group_id = int(await page.evaluate("document.body.dataset.chatId"))
    amira, marie = people["Amira"], people["Marie"]
    native = await amira.wait_for_message(lambda m: m.poll is not None, chat=group_id)
    await amira.vote(native, [0])
    await marie.vote(native, [1])
    await poll.get_by_role("button", name="Yes").click()  # Coral votes on the page
    await expect(poll).to_have_class("poll results")
    await expect(poll.locator(".poll-option.chosen")).to_contain_text("Yes")
    await expect(poll.locator(".poll-option.chosen .poll-percent")).to_have_text("67%")
    live = await coral.sees("Yes — 2 (67%)")  # the bot's live result, edited in place
    await expect(live).to_contain_text("No — 1 (33%): Marie")
    await coral.skip_ahead("+1 hour")
    await coral.skip_ahead("+1 hour")
    result = await coral.sees("Result:")
    await expect(result).to_contain_text("Adopted: Yes — 2 of 3 votes (67%).")
    await page.locator("#toasts").evaluate("toasts => toasts.replaceChildren()")
    README_SCREENSHOT.parent.mkdir(exist_ok=True)
    await page.screenshot(path=str(README_SCREENSHOT))


async def test_telegram_things_happen_to_the_bot(page: Page, sandbox: Sandbox) -> None:
    me = Screen(page)
    await me.be("Marie")
    await page.get_by_role("button", name="Block bot").click()
    await expect(page.locator("#chat-subtitle")).to_have_text("you blocked this bot")
    assert sandbox.emulator.state.chats[100_003].blocked
    await page.get_by_role("button", name="Unblock bot").click()
    await me.open_chat("Coalition")
    await page.get_by_role("button", name="Leave group").click()
    await me.sees("Marie left the group")
    await expect(page.locator("#composer-text")).to_be_disabled()
    await page.get_by_role("button", name="Join again").click()
    await me.sees("Marie joined the group")
    await page.get_by_role("button", name="Make supergroup").click()
    await expect(page.locator("#chat-subtitle")).to_contain_text("supergroup")
    await me.sees("Upgraded from the group")
    await page.get_by_role("button", name="+ Person").click()
    await page.locator("#add-person-name").fill("Zoé")
    await page.locator("#add-person-language").select_option("fr")
    await page.locator("#add-person").get_by_role("button", name="Add").click()
    await expect(page.locator("#me-name")).to_have_text("Zoé")
    await me.send("/start")
    await me.sees("Bienvenue")


async def _create_meeting_on_page(coral: Screen, title: str, when: str) -> None:
    await coral.send("/newaction")
    await coral.press("🤝 Meeting")
    await coral.sees("What is its title?")
    await coral.send(title)
    await coral.sees("Describe it")
    await coral.send("Candles at the parliament steps. Bring a friend!")
    await coral.press("No link")
    await coral.sees("When does it start?")
    await coral.send(when)
    await coral.sees("In which time zone")
    await coral.press("Europe/London")
    await coral.sees("Where does it happen?")
    await coral.press("Online")
    await coral.sees("How many places")
    await coral.press("No limit")
    await coral.sees("Who receives it?")
    await coral.press("Done ✔", on="Who receives it?")
    await coral.sees("Also post it in coalition group chats?")
    await coral.press("Done ✔", on="Also post it in coalition group chats?")


async def test_a_french_volunteer_answers_a_coordinators_call_to_action(page: Page) -> None:
    coral = Screen(page)
    await _create_meeting_on_page(coral, "Vigil for the treaty", "2026-03-04 18:00")
    await coral.sees("It will go to")
    await coral.press("✅ Send it")
    await coral.sees("Sending finished")
    marie = Screen(page)
    await marie.be("Marie")
    card = await marie.sees("Vigil for the treaty")
    await expect(card).to_contain_text("Quand")
    await marie.press("J’y serai", on="Vigil for the treaty")
    await marie.toast("C’est noté\u202f: J’y serai")


async def _create_meeting_through_the_api(coral: Person, title: str, when: str) -> None:
    """The coordinator's side, through the control API (the page's side is tested above)."""

    async def answer(question: str, *, text: str | None = None, press: str | None = None) -> None:
        await coral.wait_for_message(lambda m: question in m.text)
        if text is not None:
            await coral.send(text)
        if press is not None:
            await coral.press(press)

    await coral.send("/newaction")
    await answer("What kind of action", press="🤝 Meeting")
    await answer("What is its title?", text=title)
    await answer("Describe it", text="Bring a banner.")
    await answer("Send a link", press="No link")
    await answer("When does it start?", text=when)
    await answer("In which time zone", press="Europe/London")
    await answer("Where does it happen?", press="Online")
    await answer("How many places", press="No limit")
    await answer("Who receives it?", press="Done ✔")
    await answer("Also post it in coalition group chats?", press="Done ✔")
    await answer("It will go to", press="✅ Send it")
    await coral.wait_for_message(lambda m: "Sending finished" in m.text)


async def test_skipping_ahead_makes_a_reminder_appear(
    page: Page, people: dict[str, Person]
) -> None:
    await _create_meeting_through_the_api(
        people["Coral"], "March to the ministry", "2026-03-04 16:00"
    )
    lucia = Screen(page)
    await lucia.be("Lucía")
    await lucia.sees("March to the ministry")
    await lucia.press("Voy", on="March to the ministry")
    await lucia.toast("Anotado: Voy")
    await expect(page.locator("#messages")).not_to_contain_text("Recordatorio")
    await lucia.skip_ahead("+1 day")  # 3 March, 15:00: the reminder a day ahead is not yet due
    await expect(page.locator("#clock-now")).to_contain_text("3 Mar 2026, 15:00")
    await expect(page.locator("#messages")).not_to_contain_text("Recordatorio")
    await lucia.skip_ahead("+1 hour")
    reminder = await lucia.sees("Recordatorio")
    await expect(reminder).to_contain_text("March to the ministry")


async def test_a_document_the_bot_sends_downloads(page: Page) -> None:
    me = Screen(page)
    await me.be("Amira")
    await me.send("/mydata")
    document = page.locator("#messages .document").last
    await expect(document).to_be_visible()
    async with page.expect_download() as waiting:
        await document.click()
    download = await waiting.value
    assert download.suggested_filename.endswith(".json")
    saved = await download.path()
    assert (await asyncio.to_thread(Path(saved).read_bytes)).startswith(b"{")


async def test_the_attach_menu_sends_non_text_messages(page: Page) -> None:
    me = Screen(page)
    await me.be("Tom")
    await me.open_chat("Coalition")
    await page.locator("#attach-button").click()
    await page.get_by_role("menuitem", name="🎉 Sticker").click()
    sticker = await me.sees("🎉")
    await expect(sticker.locator(".media.sticker")).to_be_visible()
    await page.locator("#composer-text").fill("The hall")
    await page.locator("#attach-button").click()
    await page.get_by_role("menuitem", name="🖼 Photo").click()
    photo = await me.sees("Photo 1280×960")
    await expect(photo).to_contain_text("The hall")  # what was typed is the caption
    await expect(page.locator("#composer-text")).to_have_value("")
    await page.locator("#attach-button").click()
    await page.get_by_role("menuitem", name="📍 Location").click()
    await me.sees("📍 48.8566, 2.3522")
    await page.locator("#attach-button").click()
    await page.locator("#attach-file").set_input_files(
        {"name": "minutes.txt", "mimeType": "text/plain", "buffer": b"Agreed: Friday"}
    )
    document = await me.sees("minutes.txt")
    link = document.locator("a.document")
    assert (await link.get_attribute("href") or "").startswith("/control/files/")
