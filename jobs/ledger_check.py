"""Hourly: check the books balance, and tell the admins at once if they do not."""

from __future__ import annotations

import logging
from collections.abc import Callable

import jobs
from core.money.ledger import check_invariants
from core.platform.db import Database

log = logging.getLogger(__name__)


async def run(
    db: Database, bot, admin_ids: frozenset[int], *, alert: Callable[[list[str]], str] | None = None
) -> list[str]:
    """Check the books; tell each admin the problems (``alert`` renders them, by default
    jobs.TEXTS.ledger_alert). Returns the problems found."""
    try:
        problems = await db.read(check_invariants)
    except Exception as exc:  # a check that cannot run is news for the admins too
        log.exception("ledger check could not run")
        problems = [f"the check could not run: {type(exc).__name__}: {str(exc)[:300]}"]
    if problems:
        log.error("ledger invariants broken: %s", problems[:20])
        text = (alert or jobs.texts().ledger_alert)(problems[:20])
        for admin_id in admin_ids:
            try:
                await bot.send_message(admin_id, text, parse_mode=None)
            except Exception:
                log.warning("could not alert admin %s", admin_id, exc_info=True)
    return problems
