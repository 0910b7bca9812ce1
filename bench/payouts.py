"""Time to batch and settle N approved withdrawals against the fake payout backends.

    PYTHONPATH=. python bench/payouts.py [N] [DATABASE_URL]

Default N = 100000 on a fresh SQLite file; pass a PostgreSQL URL (an empty scratch
database: its schema is dropped) to measure that. 95 % of the withdrawals are BTC paid
by JSON-RPC ``sendmany`` in batches of ``payout.batch_size`` (1000), 5 % USDT paid one
by one through the Crypto Pay API. Prints set-up time (not measured), job time, and the
process's peak RSS.
"""

from __future__ import annotations

import asyncio
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

# The repository first: bench/jobs.py must not stand in for the jobs package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import bindparam, text  # noqa: E402

from core.cashout.withdrawals import withdrawals  # noqa: E402
from core.money import ledger  # noqa: E402
from core.money.accounts import TREASURY, WITHDRAWALS_PENDING, WORLD, user_account  # noqa: E402
from core.money.tables import accounts, transfers  # noqa: E402
from core.platform.db import Database  # noqa: E402
from core.platform.migrate import upgrade_async  # noqa: E402
from core.platform.params import Params  # noqa: E402
from core.platform.schema import users, utcnow  # noqa: E402
from jobs.payout_backends import CryptoPayBackend, RpcBackend  # noqa: E402
from jobs.payouts import Payouts  # noqa: E402
from tests.fakes.payouts import FakeCryptoPay, FakeRpc, serve  # noqa: E402

ADDR = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"
TRON = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
USERS = 1000


def make(conn, start: int, count: int, asset: str, address: str) -> None:
    """``count`` approved withdrawals of 20000 units each, each with its reserve (a pending
    transfer from the user to withdrawals_pending) written set-based: what ``ledger.reserve``
    would write for each, in a few statements, since the set-up is not what is measured and
    100,000 reserves one by one took longer than the run itself. The books are checked after."""
    now = utcnow()
    rows = []
    for n in range(start, start + count):
        rows.append(
            dict(
                user_id=1 + n % USERS,
                asset=asset,
                amount=20_000,
                fee=1_000,
                address=address,
                chain="x",
                state="approved",
                created_at=now,
                updated_at=now,
            )
        )
    ids = conn.execute(withdrawals.insert().returning(withdrawals.c.id, sort_by_parameter_order=True), rows)
    ids = ids.scalars().all()
    reserves = [
        dict(
            key=f"withdrawal:{wid}",
            kind="pending",
            debit=user_account(row["user_id"]),
            credit=WITHDRAWALS_PENDING,
            asset=asset,
            amount=20_000,
            code="withdrawal",
            meta="{}",
            created_at=now,
        )
        for wid, row in zip(ids, rows, strict=True)
    ]
    tids = (
        conn.execute(transfers.insert().returning(transfers.c.id, sort_by_parameter_order=True), reserves)
        .scalars()
        .all()
    )
    conn.execute(
        withdrawals.update().where(withdrawals.c.id == bindparam("wid")).values(reserve_id=bindparam("tid")),
        [dict(wid=w, tid=t) for w, t in zip(ids, tids, strict=True)],
    )
    held: dict[str, int] = {}
    for r in reserves:
        held[r["debit"]] = held.get(r["debit"], 0) + r["amount"]
    hold = (
        accounts.update()
        .where(accounts.c.owner == bindparam("o"), accounts.c.asset == asset)
        .values(debits_pending=accounts.c.debits_pending + bindparam("a"))
    )
    conn.execute(hold, [dict(o=o, a=a) for o, a in sorted(held.items())])
    incoming = (
        accounts.update()
        .where(accounts.c.owner == WITHDRAWALS_PENDING, accounts.c.asset == asset)
        .values(credits_pending=accounts.c.credits_pending + 20_000 * count)
    )
    if conn.execute(incoming).rowcount == 0:
        conn.execute(
            accounts.insert().values(
                owner=WITHDRAWALS_PENDING, asset=asset, credits_pending=20_000 * count, created_at=now
            )
        )


def seed(conn, n: int) -> None:
    now = utcnow()
    conn.execute(
        users.insert(), [dict(id=u, first_name="b", created_at=now, seen_at=now) for u in range(1, USERS + 1)]
    )
    per = 20_000 * (n // USERS + 1)
    for asset in ("BTC", "USDT"):
        ledger.transfer(
            conn,
            debit=WORLD,
            credit=TREASURY,
            asset=asset,
            amount=per * USERS,
            code="deposit",
            key=f"seed:{asset}",
        )
        for u in range(1, USERS + 1):
            ledger.transfer(
                conn,
                debit=TREASURY,
                credit=user_account(u),
                asset=asset,
                amount=per,
                code="admin_credit",
                key=f"seed:{asset}:{u}",
            )


async def main(n: int, url: str | None) -> None:
    if url is None:
        path = os.path.join(tempfile.mkdtemp(), "bench.db")
        url = f"sqlite+aiosqlite:///{path}"
    else:
        db = Database(url)
        async with db.engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
        await db.close()
    await upgrade_async(url)
    db = Database(url)
    await db.start()
    t0 = time.perf_counter()
    await db.write(seed, n)
    n_usdt = n // 20
    n_btc = n - n_usdt
    for start in range(0, n_btc, 5000):
        await db.write(make, start, min(5000, n_btc - start), "BTC", ADDR)
    for start in range(0, n_usdt, 5000):
        await db.write(make, start, min(5000, n_usdt - start), "USDT", TRON)
    setup = time.perf_counter() - t0

    rpc, cp = FakeRpc(), FakeCryptoPay()
    r1, p1 = await serve(rpc.app())
    r2, p2 = await serve(cp.app())
    backends = {
        "rpc": RpcBackend(f"http://rpc:secret@127.0.0.1:{p1}/", timeout=60),
        "cryptopay": CryptoPayBackend(
            cp.token, secret_key="bench" * 8, base_url=f"http://127.0.0.1:{p2}/api", timeout=60
        ),
    }
    env = {"PAYOUT_BACKEND_BTC": "rpc", "PAYOUT_BACKEND_USDT": "cryptopay", "PAYOUT_BATCH_SIZE": "1000"}
    job = Payouts(db, Params(env=env), lambda name, asset: backends[name])
    t0 = time.perf_counter()
    totals = await job.run_once()
    elapsed = time.perf_counter() - t0
    await r1.cleanup()
    await r2.cleanup()
    problems = await db.read(ledger.check_invariants)
    await db.close()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    engine = url.split(":", 1)[0]
    print(f"{engine}: {n} approved withdrawals (set-up {setup:.1f} s, not measured)")
    print(f"  batch + settle: {elapsed:.1f} s ({n / elapsed:,.0f} withdrawals/s); outcomes {totals}")
    print(f"  sendmany calls: {len(rpc.paid)}, Crypto Pay transfers: {len(cp.paid)}")
    print(f"  peak RSS: {peak:.0f} MB; ledger invariants: {'ok' if not problems else problems[:3]}")


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    asyncio.run(main(count, sys.argv[2] if len(sys.argv) > 2 else None))
