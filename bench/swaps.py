"""Swap throughput through core.exchange: executed swaps per second on SQLite and PostgreSQL, and a
sweep of every other coin into one, with the plain ledger transfer measured in the same run as the
reference (a swap posts three transfers, a quote row and a volume row in one transaction).

    python bench/swaps.py [--n 4000] [--pg postgresql+asyncpg://postgres@127.0.0.1:5432/dustpan_bench | none]

"quote + confirm" is what a user does (two transactions); "confirm" executes quotes made
beforehand, which is where the money moves. Every result is acknowledged only once committed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import PG_URL, fresh_pg, fresh_sqlite  # noqa: E402
from core.exchange import Policy, confirm_quote, quote_swap, quote_sweep  # noqa: E402
from core.exchange import prices as price_book  # noqa: E402
from core.money import ledger  # noqa: E402
from core.money.accounts import LIQUIDITY, TREASURY, WORLD, user_account  # noqa: E402
from core.platform.db import Database  # noqa: E402
from core.platform.schema import utcnow  # noqa: E402

USERS = 64
TASKS = 32
PRICES = {"BTC": "60000", "LTC": "80", "DOGE": "0.1", "USDT": "1", "TRX": "0.25"}
POLICY = Policy(spread_bp=100, quote_ttl=3600, dust_rate=Decimal("0.001"))
COINS = {"BTC": 10**8, "LTC": 10**9, "DOGE": 10**12, "USDT": 10**9, "TRX": 10**9, "DUST": 10**11}  # per user


async def seed(db: Database) -> None:
    for asset, amount in COINS.items():
        await db.write(
            ledger.transfer,
            debit=WORLD,
            credit=LIQUIDITY,
            asset=asset,
            amount=amount * 10**5,
            code="seed",
            key=f"l:{asset}",
        )
        for u in range(1, USERS + 1):
            await db.write(
                ledger.transfer,
                debit=WORLD,
                credit=user_account(u),
                asset=asset,
                amount=amount,
                code="seed",
                key=f"s:{asset}:{u}",
            )
    got = {k: Decimal(v) for k, v in PRICES.items()}
    for source in price_book.SOURCES:
        await db.write(price_book.record_prices, source, got, max_jump_bp=10000, max_age=3600, now=utcnow())


async def timed(n: int, job) -> float:
    async def worker(w: int) -> None:
        for i in range(w, n, TASKS):
            await job(i)

    start = time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(TASKS)))
    return n / (time.perf_counter() - start)


async def run(db: Database, n: int, tag: str) -> dict[str, float]:
    policy = replace(POLICY, max_age=3600)

    async def transfer(i: int) -> None:
        await db.write(
            ledger.transfer,
            debit=user_account(1 + i % USERS),
            credit=TREASURY,
            asset="BTC",
            amount=1,
            code="bench",
            key=f"{tag}:t:{i}",
        )

    async def quote_and_confirm(i: int) -> None:
        q = await db.write(quote_swap, 1 + i % USERS, "BTC", "DOGE", 1000, policy)
        await db.write(confirm_quote, 1 + i % USERS, q.id, policy)

    quotes = [await db.write(quote_swap, 1 + i % USERS, "USDT", "TRX", 10_000, policy) for i in range(n)]

    async def confirm(i: int) -> None:
        await db.write(confirm_quote, 1 + i % USERS, quotes[i].id, policy)

    async def sweep(i: int) -> None:
        q = await db.write(quote_sweep, 1 + i % USERS, "DOGE", policy)
        await db.write(confirm_quote, 1 + i % USERS, q.id, policy)
        refill = [  # one transaction: the user holds five coins again for the next sweep
            ledger.Move(WORLD, user_account(1 + i % USERS), a, 1_000_000, "seed", f"{tag}:refill:{a}:{i}")
            for a in ("BTC", "LTC", "USDT", "TRX", "DUST")
        ]
        await db.write(ledger.transfer_many, refill)

    return {
        "ledger transfer (reference)": await timed(n, transfer),
        "swap: confirm a quote": await timed(n, confirm),
        "swap: quote + confirm": await timed(n, quote_and_confirm),
        "sweep, 5 legs: quote + confirm (+ a refill)": await timed(max(64, n // 10), sweep),
    }


def report(results: dict[str, float]) -> None:
    ref = results["ledger transfer (reference)"]
    for label, rate in results.items():
        print(f"  {label:<46} {rate:>8,.0f}/s  ({rate / ref:.2f}x of the ledger transfer)")


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=4000)
    ap.add_argument("--pg", default=PG_URL)
    args = ap.parse_args()
    print(f"swap benchmark: {args.n} swaps per run, {TASKS} concurrent tasks, {os.cpu_count()} cores")
    url = await fresh_sqlite(tempfile.mkdtemp())
    db = Database(url)
    await db.start()
    await seed(db)
    print("SQLite (WAL, synchronous=FULL)")
    report(await run(db, args.n, "lite"))
    problems = await db.read(ledger.check_invariants)
    print(f"  invariants after the runs: {'ok' if not problems else problems[:3]}")
    await db.close()

    if args.pg == "none" or not await fresh_pg(args.pg):
        return
    pg = Database(args.pg)
    await pg.start()
    await seed(pg)
    print(f"PostgreSQL ({args.pg.split('@')[-1]})")
    report(await run(pg, args.n, "pg"))
    problems = await pg.read(ledger.check_invariants)
    print(f"  invariants after the runs: {'ok' if not problems else problems[:3]}")
    await pg.close()


if __name__ == "__main__":
    asyncio.run(main())
