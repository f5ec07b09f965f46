"""A person in front of the sandbox page: picks who they are and a chat, types, clicks, reads.

Every step waits for what the page shows (Playwright's auto-waiting), never for a fixed time.
"""

from __future__ import annotations

from typing import Any

from playwright.async_api import Locator, Page, expect


class Screen:
    """The sandbox page as one person uses it."""

    def __init__(self, page: Page) -> None:
        self.page = page

    async def be(self, name: str) -> None:
        """Becomes the person with this name (from the people list)."""
        await self.page.locator("#people .person", has_text=name).first.click()
        await expect(self.page.locator("#me-name")).to_have_text(name)

    async def open_chat(self, title: str) -> None:
        """Opens a chat of the list by its title."""
        await self.page.locator(
            "#chats .chat", has=self.page.get_by_text(title, exact=True)
        ).click()
        await expect(self.page.locator("#chat-title")).to_have_text(title)

    async def send(self, text: str) -> None:
        """Types a message and presses Enter."""
        box = self.page.locator("#composer-text")
        await box.fill(text)
        await box.press("Enter")
        await expect(box).to_have_value("")

    def message(self, fragment: str) -> Locator:
        """The newest message that shows this text."""
        return self.page.locator("#messages .msg", has_text=fragment).last

    async def sees(self, fragment: str) -> Locator:
        """Waits until a message shows this text, and returns it."""
        found = self.message(fragment)
        await expect(found).to_be_visible()
        return found

    async def press(self, label: str, *, on: str | None = None) -> None:
        """Clicks the newest inline button with this label (on the newest message showing `on`)."""
        scope: Any = self.message(on) if on is not None else self.page.locator("#messages")
        await scope.get_by_role("button", name=label, exact=True).last.click()

    async def toast(self, fragment: str) -> None:
        """Waits for a notification (such as the bot's answer to a button) with this text."""
        await expect(self.page.locator("#toasts .toast", has_text=fragment).first).to_be_visible()

    async def skip_ahead(self, label: str) -> None:
        """Clicks a clock button ("+1 hour", "+1 day") and waits until the clock has moved."""
        before = int(await self.page.locator("#clock-now").get_attribute("data-unix") or 0)
        step = 3600 if "hour" in label else 86400
        await self.page.get_by_role("button", name=label, exact=True).click()
        await self.page.wait_for_function(
            "(at) => Number(document.querySelector('#clock-now').dataset.unix) >= at",
            arg=before + step,
        )
