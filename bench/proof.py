"""The proof of liabilities at scale: building the tree for N users, and serving one proof.

    PYTHONPATH=. python bench/proof.py [N]

N (default 1,000,000) users hold BTC. Each engine runs in its own child process so that its
peak RSS is its own: SQLite on a fresh file, then PostgreSQL at BENCH_PG_URL when reachable.
Prints the build time (read, hash, write, publish) next to a lean reference measured in the
same run (the bare balance read plus one SHA-256 per leaf and per node, nothing written), the
process's peak RSS, and the time to serve one user's proof (p50/p99 over 300 random users).
Targets on this machine: the build < 30 s and < 500 MB, one proof < 10 ms.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

# The repository first: bench/jobs.py must not stand in for the jobs package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert  # noqa: E402

from bench.common import PG_URL, fresh_pg, fresh_sqlite  # noqa: E402
from core.platform.db import Database  # noqa: E402
from core.platform.schema import accounts  # noqa: E402
from core.trust import proof  # noqa: E402
from jobs.proof import publish  # noqa: E402

SECRET = "bench-secret-" + "x" * 30
CHUNK = 50_000


def seed(conn, first: int, count: int, now: datetime) -> None:
    # Balances only: a bench database, not books (no transfers behind them).
    rng = random.Random(first)
    conn.execute(
        insert(accounts),
        [
            {"owner": f"user:{u}", "asset": "BTC", "balance": rng.randint(1, 10**7), "created_at": now}
            for u in range(first, first + count)
        ],
    )


def lean(owed: list[tuple[int, int]]) -> None:
    """One SHA-256 per leaf and per node: the hashing any such tree needs, nothing else."""
    level = [hashlib.sha256(b"%d:%d" % pair).digest() for pair in owed]
    while len(level) > 1:
        level = [hashlib.sha256(b"".join(level[i : i + 2])).digest() for i in range(0, len(level), 2)]


async def measure(url: str, n: int, label: str) -> None:
    db = Database(url)
    await db.start()
    now = datetime.now(UTC)
    t = time.perf_counter()
    for first in range(1, n + 1, CHUNK):
        await db.write(seed, first, min(CHUNK, n + 1 - first), now)
    print(f"{label}: seeded {n:,} balances in {time.perf_counter() - t:.1f} s (not measured)")

    t = time.perf_counter()
    owed = await db.read(proof.owed_balances, "BTC")
    lean(owed)
    reference = time.perf_counter() - t
    del owed

    t = time.perf_counter()
    [root] = await publish(db, SECRET, assets=["BTC"])
    build = time.perf_counter() - t
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"{label}: build {build:.1f} s for {root.leaves:,} users (target < 30 s), "
        f"lean reference {reference:.1f} s, ratio {build / reference:.2f}; peak RSS {rss:.0f} MB (target < 500 MB)"
    )

    users = random.Random(7).sample(range(1, n + 1), 300)
    times = []
    for u in users:
        t = time.perf_counter()
        doc = await db.read(proof.proof_document, SECRET, u, "BTC")
        times.append((time.perf_counter() - t) * 1000)
        assert doc is not None and doc["root"] == root.root_hash
    times.sort()
    print(f"{label}: one proof p50 {times[150]:.2f} ms, p99 {times[296]:.2f} ms (target < 10 ms)")
    await db.close()


async def child(engine: str, n: int) -> None:
    if engine == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            await measure(await fresh_sqlite(tmp), n, "SQLite")
    else:
        url = await fresh_pg(PG_URL)
        if url:
            await measure(url, n, "PostgreSQL")


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--engine":
        asyncio.run(child(sys.argv[2], int(sys.argv[3])))
        return
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    for engine in ("sqlite", "pg"):
        subprocess.run([sys.executable, __file__, "--engine", engine, str(n)], check=False)


if __name__ == "__main__":
    main()
