"""Trust jobs: the daily proof of liabilities, hot-wallet readings, and sent payouts followed on chain.

Each runs under its own lease (jobs.exclusive), so with several instances one runs it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from core.money.assets import ASSET_CODES
from core.platform.db import Database
from core.platform.params import Params
from core.trust import reserves, tracking
from jobs import proof

log = logging.getLogger(__name__)


class Trust:
    def __init__(
        self,
        db: Database,
        params: Params,
        backends: Callable[[str, str], Any],
        *,
        secret_key: str,
        admin_ids: frozenset[int] = frozenset(),
        announce: proof.Announce | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.db, self.params, self.backends = db, params, backends
        self.secret_key, self.admin_ids, self.announce, self.now = secret_key, admin_ids, announce, now

    async def publish_proofs(self) -> list[Any]:
        return await proof.publish(self.db, self.secret_key, now=self.now, announce=self.announce)

    def _backend_of(self, asset: str) -> tuple[str, Any]:
        name = str(self.params.get(f"payout.backend.{asset}"))
        return name, self.backends(name, asset)

    async def read_hot_wallets(self) -> dict[str, int]:
        """Each coin's hot wallet balance as its payout backend reports it, recorded for /reserves."""
        await self.params.refresh(self.db)
        read: dict[str, int] = {}
        for asset in ASSET_CODES:
            name, backend = self._backend_of(asset)
            if backend is None or not hasattr(backend, "balance"):
                continue
            try:
                read[asset] = await backend.balance(asset)
            except Exception as e:  # a node or API down: keep the last reading, which shows its age
                log.warning(
                    "reserves: could not read the %s hot wallet (%s): %s", asset, name, type(e).__name__
                )
                continue
            await self.db.write(reserves.record_hot, asset, name, read[asset], self.now())
        return read

    async def follow_payouts(self) -> int:
        """Ask the node about every sent transaction not final yet; how many were looked at."""
        await self.params.refresh(self.db)
        await self.db.write(tracking.start, self.now())
        looked = 0
        for item in await self.db.read(tracking.open_items):
            backend = self.backends("rpc", item.asset)
            if backend is None or not hasattr(backend, "confirmations"):
                continue
            try:
                confirmations = await backend.confirmations(item.txid)
            except Exception as e:
                log.warning("tracking: could not look up batch %s (%s)", item.batch_id, type(e).__name__)
                continue
            await self.db.write(
                tracking.observe,
                item.batch_id,
                confirmations,
                self.now(),
                needed=int(self.params.get(f"cashout.confirmations.{item.asset}")),
                drop_after=int(self.params.get("cashout.drop_after")),
                admin_ids=self.admin_ids,
            )
            looked += 1
        return looked
