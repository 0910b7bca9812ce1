"""The daily bonus job (00:05 UTC, lease ``daily``) and the streak reminders (lease ``daily_remind``).

For the UTC day just ended it settles streaks (a freeze used, or the streak broken), then pays
every user active that day the bonus of their activity tier in chunks of ``chunk`` users, one
set-based transaction each (core.money.bulk). Each payment's key is ``rp:daily:{user}:{date}``,
so a second run, or a run killed in the middle and started again, pays each user once.
The clock is injected: tests move it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from core.loyalty import daily
from core.loyalty.points import day_of, rules_from
from core.platform.db import Database
from core.platform.params import Params
from core.platform.schema import utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DailyReport:
    day: int
    frozen: int
    broken: int
    paid: int
    replayed: int


class DailyJob:
    def __init__(
        self, db: Database, params: Params, *, clock: Callable[[], datetime] = utcnow, chunk: int = 20_000
    ) -> None:
        self.db, self.params, self.clock, self.chunk = db, params, clock, chunk

    async def run_once(self) -> DailyReport:
        """Settle and pay the UTC day before the clock's."""
        await self.params.refresh(self.db)
        now = self.clock()
        day = day_of(now) - 1
        rules = rules_from(self.params)
        frozen, broken = await self.db.write(daily.settle_streaks, day)
        after, done = await self.db.read(daily.bonus_progress, day)  # a run started again resumes
        paid, replayed = 0, 0
        while not done:
            last, p, r = await self.db.write(
                daily.pay_bonus, rules, day, after=after, limit=self.chunk, now=now
            )
            if last == 0:
                break
            after, paid, replayed = last, paid + p, replayed + r
        report = DailyReport(day, frozen, broken, paid, replayed)
        log.info("daily bonus for %s: %s", daily.date_of(day), report)
        return report

    async def remind_once(self) -> int:
        """Queue today's streak reminders (opt-in); the outbox sends them within Telegram's limits."""
        now, after, queued = self.clock(), 0, 0
        while True:
            last, n = await self.db.write(daily.remind, now, after=after)
            if last == 0:
                return queued
            after, queued = last, queued + n
