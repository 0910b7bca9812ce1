"""Ledger throughput: durable transfers per second through core.money.ledger, and the same
statements through the bare drivers in the same run (so the ratio shows our layers' cost).

    python bench/ledger.py [--n 4000] [--pg postgresql+asyncpg://postgres@127.0.0.1:5432/test]

Every transfer is acknowledged only once committed durably (SQLite: WAL, synchronous=FULL).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import PG_URL, fresh_pg  # noqa: E402
from core.money import ledger
from core.money.accounts import HOUSE, WORLD, user_account  # noqa: E402
from core.platform.db import Database  # noqa: E402
from core.platform.migrate import upgrade_async  # noqa: E402

USERS = 64
NOW = datetime.now(UTC).isoformat(" ")

INSERT_T = (
    "INSERT INTO transfers (key, kind, debit, credit, asset, amount, code, meta, created_at) "
    "VALUES (?, 'posted', ?, ?, 'BTC', ?, 'bench', '{}', ?) ON CONFLICT (key) DO NOTHING RETURNING id"
)
DEBIT = (
    "UPDATE accounts SET balance = balance - ? WHERE owner = ? AND asset = 'BTC' "
    "AND balance - debits_pending >= ? RETURNING balance"
)
CREDIT = (
    "INSERT INTO accounts (owner, asset, balance, created_at) VALUES (?, 'BTC', ?, ?) "
    "ON CONFLICT (owner, asset) DO UPDATE SET balance = accounts.balance + excluded.balance RETURNING balance"
)
ENTRY = "INSERT INTO entries (transfer_id, owner, asset, amount, balance_after) VALUES (?, ?, 'BTC', ?, ?)"


def pair(i: int) -> tuple[str, str]:
    """Half the transfers debit the hot house account, half move between users."""
    if i % 2 == 0:
        return HOUSE, user_account(1 + i % USERS)
    return user_account(1 + i % USERS), user_account(1 + (i + 7) % USERS)


async def seed(db: Database) -> None:
    await db.write(
        ledger.transfer, debit=WORLD, credit=HOUSE, asset="BTC", amount=10**15, code="seed", key="seed:house"
    )
    for u in range(1, USERS + 1):
        await db.write(
            ledger.transfer,
            debit=WORLD,
            credit=user_account(u),
            asset="BTC",
            amount=10**12,
            code="seed",
            key=f"seed:{u}",
        )


async def run_ledger(db: Database, n: int, tasks: int, tag: str) -> float:
    async def worker(w: int) -> None:
        for i in range(w, n, tasks):
            debit, credit = pair(i)
            await db.write(
                ledger.transfer,
                debit=debit,
                credit=credit,
                asset="BTC",
                amount=1,
                code="bench",
                key=f"{tag}:{i}",
            )

    start = time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(tasks)))
    return n / (time.perf_counter() - start)


def bare_sqlite3(path: str, n: int, group: int, tag: str) -> float:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    start = time.perf_counter()
    for base in range(0, n, group):
        conn.execute("BEGIN IMMEDIATE")
        for i in range(base, min(n, base + group)):
            debit, credit = pair(i)
            tid = conn.execute(INSERT_T, (f"{tag}:{i}", debit, credit, 1, NOW)).fetchone()[0]
            d = conn.execute(DEBIT, (1, debit, 1)).fetchone()[0]
            c = conn.execute(CREDIT, (credit, 1, NOW)).fetchone()[0]
            conn.executemany(ENTRY, [(tid, debit, -1, d), (tid, credit, 1, c)])
        conn.execute("COMMIT")
    rate = n / (time.perf_counter() - start)
    conn.close()
    return rate


async def bare_aiosqlite(path: str, n: int, tag: str) -> float:
    import aiosqlite

    async with aiosqlite.connect(path, isolation_level=None) as conn:
        await conn.execute("PRAGMA synchronous=FULL")
        start = time.perf_counter()
        for i in range(n):
            debit, credit = pair(i)
            await conn.execute("BEGIN IMMEDIATE")
            tid = (await (await conn.execute(INSERT_T, (f"{tag}:{i}", debit, credit, 1, NOW))).fetchone())[0]
            d = (await (await conn.execute(DEBIT, (1, debit, 1))).fetchone())[0]
            c = (await (await conn.execute(CREDIT, (credit, 1, NOW))).fetchone())[0]
            await conn.executemany(ENTRY, [(tid, debit, -1, d), (tid, credit, 1, c)])
            await conn.execute("COMMIT")
        return n / (time.perf_counter() - start)


async def bare_asyncpg(url: str, n: int, tasks: int, tag: str) -> float:
    import asyncpg

    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    pool = await asyncpg.create_pool(dsn, min_size=8, max_size=8)
    ts = datetime.now(UTC)

    def pg(sql: str) -> str:
        parts = sql.split("?")
        return "".join(p + (f"${k + 1}" if k < len(parts) - 1 else "") for k, p in enumerate(parts))

    async def worker(w: int) -> None:
        async with pool.acquire() as conn:
            for i in range(w, n, tasks):
                debit, credit = pair(i)
                async with conn.transaction():
                    tid = await conn.fetchval(pg(INSERT_T), f"{tag}:{i}", debit, credit, 1, ts)
                    d = await conn.fetchval(pg(DEBIT), 1, debit, 1)
                    c = await conn.fetchval(pg(CREDIT), credit, 1, ts)
                    await conn.executemany(pg(ENTRY), [(tid, debit, -1, d), (tid, credit, 1, c)])

    start = time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(tasks)))
    rate = n / (time.perf_counter() - start)
    await pool.close()
    return rate


def line(label: str, rate: float, ref: float | None = None) -> None:
    ratio = f"  ({rate / ref:.2f}x of bare)" if ref else ""
    print(f"  {label:<48} {rate:>9,.0f} transfers/s{ratio}")


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=4000)
    ap.add_argument("--pg", default=PG_URL)
    args = ap.parse_args()
    n = args.n
    print(
        f"ledger benchmark: {n} transfers per run, {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f};"
        " half debit one hot account (house)"
    )

    tmp = tempfile.mkdtemp()
    path = f"{tmp}/bench.db"
    url = f"sqlite+aiosqlite:///{path}"
    await upgrade_async(url)
    db = Database(url)
    await db.start()
    await seed(db)
    print(f"SQLite {sqlite3.sqlite_version} (WAL, synchronous=FULL: every acknowledged transfer is durable)")
    raw1 = await asyncio.to_thread(bare_sqlite3, path, n // 4, 1, "raw1")
    raw100 = await asyncio.to_thread(bare_sqlite3, path, n * 4, 100, "raw100")
    aio = await bare_aiosqlite(path, n // 4, "aio")
    one = await run_ledger(db, n // 2, 1, "one")
    many = await run_ledger(db, n * 2, 32, "many")
    line("bare sqlite3, 1 transfer per commit", raw1)
    line("bare sqlite3, 100 transfers per commit", raw100)
    line("bare aiosqlite, 1 transfer per commit", aio)
    line("core.money.ledger via db.write, 1 task", one, raw1)
    line("core.money.ledger via db.write, 32 concurrent tasks", many, raw1)
    problems = await db.read(ledger.check_invariants)
    print(f"  invariants after the runs: {'ok' if not problems else problems[:3]}")
    await db.close()

    if not await fresh_pg(args.pg):
        return
    pgdb = Database(args.pg)
    await pgdb.start()
    await seed(pgdb)
    async with pgdb.engine.connect() as conn:
        version = (await conn.exec_driver_sql("select version()")).scalar_one()
    print(f"PostgreSQL ({args.pg.split('@')[-1]}), pool of 8 connections: {version}")
    bare = await bare_asyncpg(args.pg, n, 32, "pgraw")
    one = await run_ledger(pgdb, n // 4, 1, "pgone")
    many = await run_ledger(pgdb, n, 32, "pgmany")
    line("bare asyncpg, 32 tasks, 1 transfer per commit", bare)
    line("core.money.ledger via db.write, 1 task", one, bare)
    line("core.money.ledger via db.write, 32 concurrent tasks", many, bare)
    problems = await pgdb.read(ledger.check_invariants)
    print(f"  invariants after the runs: {'ok' if not problems else problems[:3]}")
    await pgdb.close()
    print(f"  load after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    asyncio.run(main())
