"""The bank workload on several instances: random transfers among 20 funded accounts, with
1 and then 2 instances (separate processes, each with its own Database and writer) on one
PostgreSQL database. Prints transfers/s per instance count, the ratio of two to one, and the
deadlocks the writers retried (SQLSTATE 40P01).

    PYTHONPATH=. python bench/bank.py [--seconds 30] [--tasks 32] [--pg URL] [--without-lock]

``--without-lock`` also measures the writers without their advisory lock (as before it),
which shows why it is there; that run is shorter, since it mostly waits on deadlocks.
The bench empties the schema of its database (BENCH_PG_URL, by default one of the benches' own).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text  # noqa: E402

from bench.common import PG_URL, fresh_pg  # noqa: E402
from core.money import ledger  # noqa: E402
from core.money.accounts import WORLD, user_account  # noqa: E402
from core.platform.db import Database  # noqa: E402

ACCOUNTS = 20
FUNDS = 10**12


async def _instance(url: str, tag: str, seconds: float, tasks: int, lock: bool, start_at: float) -> dict:
    db = Database(url, writer_lock=lock)
    await db.start()
    done = 0
    refused = 0
    rng = random.Random(tag)

    async def worker(w: int) -> None:
        nonlocal done, refused
        i = 0
        while time.time() < start_at + seconds:
            a, b = rng.sample(range(1, ACCOUNTS + 1), 2)
            try:
                await db.write(
                    ledger.transfer,
                    debit=user_account(a),
                    credit=user_account(b),
                    asset="BTC",
                    amount=rng.randint(1, 100),
                    code="bank",
                    key=f"bank:{tag}:{w}:{i}",
                )
                done += 1
            except Exception:  # noqa: BLE001 - counted, not expected (every account is funded)
                refused += 1
            i += 1

    await asyncio.sleep(max(0.0, start_at - time.time()))
    t0 = time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(tasks)))
    elapsed = time.perf_counter() - t0
    retries = dict(db.retries)
    groups = dict(db._writer.failed_groups)  # type: ignore[union-attr]
    await db.close()
    return {"done": done, "refused": refused, "elapsed": elapsed, "retries": retries, "groups": groups}


def _process(
    url: str, tag: str, seconds: float, tasks: int, lock: bool, start_at: float, out: mp.Queue
) -> None:
    out.put(asyncio.run(_instance(url, tag, seconds, tasks, lock, start_at)))


def run(url: str, instances: int, seconds: float, tasks: int, lock: bool, tag: str) -> dict:
    ctx = mp.get_context("spawn")
    out: mp.Queue = ctx.Queue()
    start_at = time.time() + 3.0  # every process is up and connected by then
    procs = [
        ctx.Process(target=_process, args=(url, f"{tag}{k}", seconds, tasks, lock, start_at, out))
        for k in range(instances)
    ]
    for p in procs:
        p.start()
    results = [out.get() for _ in procs]
    for p in procs:
        p.join()
    total = sum(r["done"] for r in results)
    elapsed = max(r["elapsed"] for r in results)
    deadlocks = sum(r["groups"].get("40P01", 0) for r in results)
    retried = sum(r["retries"].get("40P01", 0) for r in results)
    return {
        "rate": total / elapsed,
        "done": total,
        "refused": sum(r["refused"] for r in results),
        "deadlocks": deadlocks,
        "retried": retried,
        "per": [r["done"] / r["elapsed"] for r in results],
    }


async def seed(url: str) -> None:
    db = Database(url)
    await db.start()
    for a in range(1, ACCOUNTS + 1):
        await db.write(
            ledger.transfer,
            debit=WORLD,
            credit=user_account(a),
            asset="BTC",
            amount=FUNDS,
            code="seed",
            key=f"seed:{a}",
        )
    await db.close()


async def books(url: str) -> tuple[str, int, int, list[str]]:
    db = Database(url)
    async with db.engine.connect() as conn:
        version = (await conn.execute(text("select version()"))).scalar_one()
        total = (
            await conn.execute(
                text("SELECT sum(balance) FROM accounts WHERE owner LIKE 'user:%' AND asset = 'BTC'")
            )
        ).scalar_one()
        count = (await conn.execute(text("SELECT count(*) FROM transfers WHERE code = 'bank'"))).scalar_one()
    problems = await db.read(ledger.check_invariants)
    await db.close()
    return version, int(total), int(count), problems


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--tasks", type=int, default=32, help="concurrent callers per instance")
    ap.add_argument("--pg", default=PG_URL)
    ap.add_argument("--without-lock", action="store_true")
    args = ap.parse_args()
    if not asyncio.run(fresh_pg(args.pg)):
        return
    asyncio.run(seed(args.pg))
    version, *_ = asyncio.run(books(args.pg))
    print(
        f"bank benchmark: {ACCOUNTS} funded accounts, random transfers, {args.tasks} tasks per instance,"
        f" {args.seconds:g} s per run, {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}"
    )
    print(f"PostgreSQL ({args.pg.split('@')[-1]}): {version}")
    expected = 0
    runs = [(True, 1), (True, 2)] + ([(False, 1), (False, 2)] if args.without_lock else [])
    ref = None
    for lock, n in runs:
        seconds = args.seconds if lock else min(args.seconds, 10.0)
        r = run(args.pg, n, seconds, args.tasks, lock, f"{'l' if lock else 'n'}{n}-")
        expected += r["done"]
        if lock and n == 1:
            ref = r["rate"]
        ratio = f"  ({r['rate'] / ref:.2f}x of 1 instance with the lock)" if ref else ""
        label = f"{n} instance{'s' if n > 1 else ''}, {'advisory writer lock' if lock else 'no writer lock (before)'}"
        print(
            f"  {label:<44} {r['rate']:>8,.0f} transfers/s{ratio}; per instance "
            + ", ".join(f"{x:,.0f}" for x in r["per"])
            + f"; deadlocks {r['deadlocks']} ({r['retried']} use cases retried); refused {r['refused']}"
        )
    _, total, count, problems = asyncio.run(books(args.pg))
    ok = total == ACCOUNTS * FUNDS and count == expected and not problems
    print(
        f"  books: accounts sum {total} (want {ACCOUNTS * FUNDS}), {count} bank transfers stored"
        f" (want {expected}), invariants {'ok' if not problems else problems[:3]} -> {'ok' if ok else 'WRONG'}"
    )
    print(f"  load after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
