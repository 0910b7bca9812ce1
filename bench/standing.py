"""The cost of the one standing check (core.identity.standing.require) on a money-moving use case.

    PYTHONPATH=. python bench/standing.py                                      # SQLite (temp file)
    BENCH_PG_URL=postgresql+asyncpg://.../dustpan_bench_users PYTHONPATH=. python bench/standing.py

WORKERS concurrent tasks post TRANSFERS faucet-like transfers (pool -> user, one transaction each)
through Database.write, as the use cases do. Reference, in the same run: the same transfers without
the check. The variants alternate over ROUNDS rounds (the machine drifts between runs), and the
median transfers/s of each is printed with the ratio (check / reference). PostgreSQL is measured only
with BENCH_PG_URL set (its database is wiped).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.getcwd())

from bench.common import fresh_pg, fresh_sqlite  # noqa: E402
from core.identity import standing  # noqa: E402
from core.identity.users import upsert_user  # noqa: E402
from core.money import FAUCET_POOL, ledger, user_account  # noqa: E402
from core.money.accounts import TREASURY, WORLD  # noqa: E402
from core.platform.db import Database  # noqa: E402

USERS = int(os.environ.get("USERS", "200"))
TRANSFERS = int(os.environ.get("TRANSFERS", "2000"))
WORKERS = int(os.environ.get("WORKERS", "8"))
ROUNDS = int(os.environ.get("ROUNDS", "3"))
_keys = itertools.count()


def pay(conn, user_id: int, key: str, check: bool) -> None:
    if check:
        standing.require(conn, user_id, standing.EARN)
    ledger.transfer(
        conn, debit=FAUCET_POOL, credit=user_account(user_id), asset="BTC", amount=1, code="faucet", key=key
    )


async def setup(db: Database) -> None:
    def go(conn) -> None:
        for uid in range(1, USERS + 1):
            upsert_user(conn, id=uid, username=None, first_name="U", language_code="en")
        ledger.transfer(
            conn, debit=WORLD, credit=TREASURY, asset="BTC", amount=10**12, code="deposit", key="d"
        )
        ledger.transfer(
            conn, debit=TREASURY, credit=FAUCET_POOL, asset="BTC", amount=10**12, code="fund", key="f"
        )

    await db.write(go)


async def round_of(db: Database, check: bool) -> float:  # float ok: transfers per second
    jobs = iter(range(TRANSFERS))

    async def worker() -> None:
        for n in jobs:
            await db.write(pay, 1 + n % USERS, f"b:{next(_keys)}", check)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(WORKERS)))
    return TRANSFERS / (time.perf_counter() - started)


async def measure(name: str, url: str) -> None:
    db = Database(url)
    await db.start()
    try:
        await setup(db)
        await round_of(db, False)  # warm up
        ref, chk = [], []
        for _ in range(ROUNDS):
            ref.append(await round_of(db, False))
            chk.append(await round_of(db, True))
        r, c = statistics.median(ref), statistics.median(chk)
        print(
            f"{name}: reference (transfer only) {r:,.0f}/s · with the standing check {c:,.0f}/s · "
            f"ratio {c / r:.2f} ({WORKERS} workers, {TRANSFERS} transfers x {ROUNDS} rounds each)"
        )
        assert await db.read(ledger.check_invariants) == []
    finally:
        await db.close()


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        await measure("SQLite", await fresh_sqlite(tmp))
    if os.environ.get("BENCH_PG_URL"):
        url = await fresh_pg(os.environ["BENCH_PG_URL"])
        if url:
            await measure("PostgreSQL", url)
    else:
        print("PostgreSQL: skipped (set BENCH_PG_URL)")


if __name__ == "__main__":
    asyncio.run(main())
