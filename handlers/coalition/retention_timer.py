"""The daily retention timer: forgets what Chorus no longer needs (see storage/retention.py)."""

from __future__ import annotations

import logging

from handlers.kernel.context import Context
from handlers.kernel.routing import Router
from storage import retention

log = logging.getLogger(__name__)

events = Router("retention-events")


@events.timer(retention.TIMER)
async def prune(ctx: Context) -> None:
    """Forgets a batch of old delivered messages, update ids and audit entries; comes back a
    minute later while there is more, else at the next 03:00 UTC."""
    now = ctx.now()
    done = await retention.prune(ctx.session, now, ctx.settings.retention)
    if done.total:
        log.info(
            "retention: %s outbox rows, %s update ids, %s audit entries forgotten",
            done.outbox,
            done.updates,
            done.audit,
        )
    due = now + retention.AGAIN_SOON if done.full else retention.next_run(now)
    await ctx.schedule(retention.TIMER, retention.KEY, due)
