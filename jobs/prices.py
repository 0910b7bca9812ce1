"""Poll the price sources (core.exchange.sources), each under its own lease, every ``prices.every``.

One poll asks one source for every market coin and records the answer (core.exchange.prices):
prices that jumped wait for a second source; 429 and 418 answers are honoured by not asking
that source again before its Retry-After has passed; other failures are recorded for /rates.
After each poll, admins are told once about each coin left without a fresh price.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import aiohttp

from core.exchange import prices
from core.exchange.sources import PriceSource, SourceFailed, SourceLimited
from core.platform.db import Database
from core.platform.params import Params

log = logging.getLogger(__name__)


class PricePoller:
    def __init__(
        self,
        db: Database,
        params: Params,
        source: PriceSource,
        *,
        admin_ids: frozenset[int] = frozenset(),
        session_factory: Callable[[], aiohttp.ClientSession] = aiohttp.ClientSession,
    ) -> None:
        self.db, self.params, self.source, self.admin_ids = db, params, source, admin_ids
        self.session_factory = session_factory

    async def run_once(self) -> str:
        """One poll: "ok", "held" (some prices wait for a second source), "limited", "failed" or "waiting"."""
        await self.params.refresh(self.db)
        name = self.source.name
        if not await self.db.read(prices.source_due, name):
            return "waiting"
        status = "ok"
        try:
            async with self.session_factory() as session:
                got = await self.source.fetch(session)
        except SourceLimited as err:
            log.warning("price source %s: HTTP %s, retrying after %ss", name, err.status, err.retry_after)
            await self.db.write(
                prices.record_failure, name, f"HTTP {err.status}", retry_after=err.retry_after
            )
            status = "limited"
        except SourceFailed as err:
            log.warning("price source %s failed: %s", name, err)
            await self.db.write(prices.record_failure, name, str(err))
            status = "failed"
        else:
            held = await self.db.write(
                prices.record_prices,
                name,
                got,
                max_jump_bp=self.params.get("prices.max_jump"),
                max_age=self.params.get("prices.max_age"),
            )
            if held:
                log.warning(
                    "price source %s: held back jumps of %s until another source confirms", name, held
                )
                status = "held"
        await self.db.write(prices.warn_stale, self.admin_ids, max_age=self.params.get("prices.max_age"))
        return status
