"""The staking jobs: the epoch distribution (00:05 UTC, lease ``staking``) and the release of
unstaked DUST whose cooldown has ended (every minute, lease ``unstakes``).

The distribution fixes the epoch's pools in one transaction (core.loyalty.staking.fix_pools),
then pays the positions in chunks, one set-based transaction each, and last returns the
remainder to ``staking``. Every payment has its key ``stake:{user}:{epoch}:{asset}``, so a run
killed in the middle pays every position once when it runs again. The clock is injected.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from core.loyalty import staking
from core.loyalty.points import day_of
from core.platform.db import Database
from core.platform.params import Params
from core.platform.schema import utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class EpochReport:
    epoch: int
    pools: list[staking.EpochPool]
    paid_now: int


class StakingJob:
    def __init__(
        self, db: Database, params: Params, *, clock: Callable[[], datetime] = utcnow, chunk: int = 20_000
    ) -> None:
        self.db, self.params, self.clock, self.chunk = db, params, clock, chunk

    async def release_once(self) -> int:
        now, total = self.clock(), 0
        while True:
            n = await self.db.write(staking.release_due, now)
            total += n
            if n == 0:
                return total

    async def distribute(self, epoch: int | None = None) -> EpochReport:
        """Distribute ``epoch`` (default: the UTC day before the clock's)."""
        await self.params.refresh(self.db)
        now = self.clock()
        epoch = day_of(now) - 1 if epoch is None else epoch
        share, emission = int(self.params.get("staking.share")), int(self.params.get("staking.emission"))
        pools = await self.db.read(staking.pools_of, epoch)
        paid_now = 0
        if not pools or any(not p.done for p in pools):
            weights = await self.db.read(staking.weights, epoch)
            pools = await self.db.write(
                staking.fix_pools, epoch, share, emission, now=now, weights_of=weights
            )
            for pool in pools:
                if pool.done:
                    continue
                shares, rest = staking.split(pool.pool, weights)
                if rest != pool.remainder:  # the log changed under the epoch: pay nothing rather than wrong
                    log.error("staking: epoch %s %s no longer splits as fixed; not paid", epoch, pool.asset)
                    continue
                for part in staking.chunks(shares, self.chunk):
                    paid_now += await self.db.write(staking.pay_shares, epoch, pool.asset, part, now=now)
                await self.db.write(staking.close_pool, pool, now=now)
        report = EpochReport(epoch, await self.db.read(staking.pools_of, epoch), paid_now)
        log.info("staking epoch %s: %s paid now", epoch, paid_now)
        return report
