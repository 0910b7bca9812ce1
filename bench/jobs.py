"""Loyalty jobs at scale: the daily bonus for many users and a staking epoch for many positions,
through the set-based ledger path (core.money.bulk), with the single-transfer path measured in
the same run as the reference (so the ratio shows what the bulk path buys).

    python bench/jobs.py [--users 1000000] [--positions 100000] [--pg URL | --no-pg]

Targets (issue 15): daily bonus for 1,000,000 users < 60 s and < 300 MB; an epoch for
100,000 positions < 10 s; on SQLite and PostgreSQL. Peak memory is the process's max RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text  # noqa: E402

from bench.common import PG_URL, fresh_pg, fresh_sqlite  # noqa: E402
from core.loyalty import points  # noqa: E402
from core.money import ledger  # noqa: E402
from core.money.accounts import STAKING, WORLD, user_account  # noqa: E402
from core.platform.db import Database  # noqa: E402
from core.platform.params import Params  # noqa: E402
from jobs.daily import DailyJob  # noqa: E402
from jobs.staking import StakingJob  # noqa: E402

NOW = datetime(2026, 3, 2, 0, 5, tzinfo=UTC)
DAY = points.day_of(NOW) - 1
REF_N = 2000


def rss_mb() -> float:  # float ok: a measurement
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _seq(n: int) -> str:
    return f"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < {int(n)}) "


async def seed_activity(db: Database, users: int) -> None:
    async with db.engine.begin() as conn:
        await conn.execute(
            text(
                _seq(users)
                + f"INSERT INTO loyalty_activity (day, user_id, actions) SELECT {DAY}, x, 1 + x % 25 FROM c"
            )
        )


async def seed_positions(db: Database, positions: int) -> None:
    """Positions of 1..100 DUST staked all along (world pays them in, so the books balance)."""
    at = (NOW - timedelta(days=3)).strftime("%Y-%m-%d %H:%M:%S.%f")
    async with db.engine.begin() as conn:
        await conn.execute(
            text(
                _seq(positions)
                + "INSERT INTO accounts (owner, asset, balance, debits_pending, credits_pending, created_at) "
                + "SELECT 'staking:user:' || x, 'DUST', CAST(1 + x % 100 AS BIGINT) * 100000000, 0, 0, :at FROM c"
            ),
            {"at": at if db.is_sqlite else NOW - timedelta(days=3)},
        )
        total = sum((1 + x % 100) * 100_000_000 for x in range(1, positions + 1))
        await conn.execute(
            text(
                "INSERT INTO accounts (owner, asset, balance, debits_pending, credits_pending, created_at) "
                "VALUES ('world', 'DUST', :b, 0, 0, :at)"
            ),
            {"b": -total, "at": at if db.is_sqlite else NOW - timedelta(days=3)},
        )
    await db.write(
        ledger.transfer,
        debit=WORLD,
        credit=STAKING,
        asset="DUST",
        amount=10**12,
        code="deposit",
        key="bench:reserve",
        now=NOW - timedelta(days=3),
    )


async def reference(db: Database) -> float:  # float ok: seconds
    """The single-transfer path: REF_N daily bonuses, one ledger.transfer each through the writer."""
    t = time.perf_counter()
    for i in range(REF_N):
        await db.write(
            ledger.transfer,
            debit=WORLD,
            credit=user_account(10_000_000 + i),
            asset="RP",
            amount=5,
            code="rp_daily",
            key=f"ref:{i}",
            now=NOW,
        )
    return (time.perf_counter() - t) / REF_N


def params() -> Params:
    p = Params(env={})
    p._stored.update({"staking.emission": "1000", "staking.share": "10%"})
    p._loaded_at = 1e18  # float ok: no reloads in the bench
    return p


async def run(name: str, url: str, users: int, positions: int) -> None:
    db = Database(url)
    await db.start()
    try:
        per_transfer = await reference(db)
        print(
            f"{name}: reference: single ledger.transfer {1 / per_transfer:,.0f}/s "
            f"(would take {per_transfer * users:,.0f} s for {users:,} users)"
        )
        await seed_activity(db, users)
        t = time.perf_counter()
        report = await DailyJob(db, params(), clock=lambda: NOW).run_once()
        took = time.perf_counter() - t
        print(
            f"{name}: daily bonus for {users:,} active users: {took:.1f} s, {report.paid:,} paid "
            f"({report.paid / took:,.0f}/s, {per_transfer * users / took:.1f}x the single path), "
            f"peak RSS {rss_mb():.0f} MB"
        )
        t = time.perf_counter()
        again = await DailyJob(db, params(), clock=lambda: NOW).run_once()
        print(
            f"{name}: run again: {time.perf_counter() - t:.1f} s, {again.paid} paid, {again.replayed:,} replayed"
        )
        await seed_positions(db, positions)
        t = time.perf_counter()
        ep = await StakingJob(db, params(), clock=lambda: NOW).distribute()
        took = time.perf_counter() - t
        pool = ep.pools[0] if ep.pools else None
        print(
            f"{name}: epoch for {positions:,} positions: {took:.1f} s, {ep.paid_now:,} paid "
            f"({per_transfer * ep.paid_now / took:.1f}x the single path); pool {pool.pool if pool else 0} = "
            f"paid {pool.paid if pool else 0} + remainder {pool.remainder if pool else 0}; peak RSS {rss_mb():.0f} MB"
        )
    finally:
        await db.close()


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--users", type=int, default=1_000_000)
    ap.add_argument("--positions", type=int, default=100_000)
    ap.add_argument("--pg", default=PG_URL)
    ap.add_argument("--no-pg", action="store_true")
    ap.add_argument("--no-sqlite", action="store_true")
    a = ap.parse_args()
    if not a.no_sqlite:
        with tempfile.TemporaryDirectory() as tmp:
            await run("SQLite", await fresh_sqlite(tmp), a.users, a.positions)
    if not a.no_pg:
        url = await fresh_pg(a.pg)
        if url:
            await run("PostgreSQL", url, a.users, a.positions)


if __name__ == "__main__":
    asyncio.run(main())
