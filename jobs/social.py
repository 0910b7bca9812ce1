"""Every minute: close expired checks (what is left goes back to the creator) and return tips
held longer than ``send.unclaimed_days`` to their senders. Both tell the owner by a notice
written in the same transaction; the notice job delivers it."""

from __future__ import annotations

import logging

from core.platform.db import Database
from core.platform.params import Params
from core.social import checks, tips

log = logging.getLogger(__name__)


async def run(db: Database, params: Params) -> tuple[int, int]:
    """One pass; returns (checks closed, tips returned). Each batch is one transaction."""
    await params.refresh(db)
    closed = await db.write(checks.expire_checks)
    returned = await db.write(tips.return_unclaimed, params.get("send.unclaimed_days"))
    if closed or returned:
        log.info("social: %d expired checks closed, %d unclaimed tips returned", len(closed), len(returned))
    return len(closed), len(returned)
