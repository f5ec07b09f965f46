"""After /forget: the decision posts the bot can still edit are shown again without the name.

/forget scrubs the person's name from stored results (storage/people/privacy_store.py) and
turns their ballots into anonymous placeholders; the messages already posted in groups still
show the name until they are edited. This module finds them before the erasure and edits them
after the commit: the live results of open decisions, and the posted result of closed ones
(Telegram lets a bot edit its own messages at any age). What the bot cannot edit stays: a
native poll's voter list belongs to Telegram, and messages forwarded elsewhere are copies.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable

from handlers.decisions import ballots
from handlers.decisions.decision_views import Snapshot, final_text
from handlers.decisions.outcomes import outcome_row
from handlers.kernel.context import Context
from handlers.kernel.i18n import translator
from handlers.kernel.ports import MessageNotModified, Messenger, MessengerError
from storage.decisions import decision_store

log = logging.getLogger(__name__)


async def posts_naming(ctx: Context, user_id: int, names: Iterable[str]) -> list[int]:
    """The decisions whose group posts may name the person (call before erasing them)."""
    return await decision_store.naming(ctx.session, user_id, names)


def rerender_after_commit(ctx: Context, decision_ids: list[int]) -> None:
    """Once the erasure is committed, edits those posts to show the decisions as stored now."""
    if not decision_ids:
        return
    services = ctx.services

    async def _rerender(messenger: Messenger) -> None:
        for decision_id in decision_ids:
            async with services.sessionmaker() as session:
                decision = await decision_store.get(session, decision_id)
            if decision is None:
                continue
            if decision.status == decision_store.OPEN:
                await ballots.render(services, decision_id)
                continue
            if decision.final_message_id is None or not decision.result:
                continue
            text = final_text(
                translator(decision.locale), decision, Snapshot.from_json(decision.result)
            )
            try:
                with contextlib.suppress(MessageNotModified):
                    await messenger.edit_message(
                        decision.chat_id,
                        decision.final_message_id,
                        text,
                        outcome_row(translator(decision.locale), decision),
                    )
            except MessengerError as exc:
                log.info("result of decision %s not re-rendered: %r", decision_id, exc)

    ctx.after_commit(_rerender)
