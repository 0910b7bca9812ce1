"""Games throughput: seeded bets settled through core, and a crash round of many players.

    PYTHONPATH=. python bench/games.py [BENCH_PG_URL] [--crash-players 10000] [--engines sqlite,postgresql]

Prints bets per second (dice, plinko 16 rows) under 32 concurrent players on SQLite and, when
reachable, PostgreSQL (BENCH_PG_URL, default the local dustpan_bench database, which it empties first), and the
time to settle a crash round with ``--crash-players`` joined players (target: within one second of
the bust). Each engine's block starts with its server version, and the dice rate is followed by
a lean reference measured in the same run: the same number of players each moving its stake to
the house in one statement per bet (PostgreSQL: a data-modifying CTE on an asyncpg pool of 8;
SQLite: one hop to a writer thread and one durable transaction per bet).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import sys
import tempfile
import time
from datetime import timedelta

sys.path.insert(0, os.getcwd())

from bench.common import PG_URL, fresh_pg, fresh_sqlite  # noqa: E402
from core.money import ledger  # noqa: E402
from core.money.accounts import HOUSE, TREASURY, WORLD, user_account  # noqa: E402
from core.platform.db import Database  # noqa: E402
from core.platform.schema import utcnow  # noqa: E402
from core.play import crash, games  # noqa: E402
from core.play.stakes import Rules  # noqa: E402

PLAYERS = 32
BETS_PER_PLAYER = 60
CRASH_PLAYERS = 10_000  # --crash-players
RULES = Rules(edge_bp=100, min_bet=1, max_bet=10**12, max_profit_bp=100, limbo_max=100_000)
PG_DEFAULT = PG_URL
SECRET_KEY = "bench-secret-key-" * 3
_ids = itertools.count(1)


async def fund(db: Database, users: range, each: int) -> None:
    def go(conn):
        n = next(_ids)
        ledger.transfer(
            conn, debit=WORLD, credit=TREASURY, asset="DOGE", amount=10**17, code="deposit", key=f"b:{n}"
        )
        ledger.transfer(
            conn, debit=TREASURY, credit=HOUSE, asset="DOGE", amount=10**16, code="fund", key=f"b:h:{n}"
        )
        for u in users:
            ledger.transfer(
                conn,
                debit=TREASURY,
                credit=user_account(u),
                asset="DOGE",
                amount=each,
                code="fund",
                key=f"b:{n}:{u}",
            )

    await db.write(go)


async def seeded(db: Database, game: str, params: dict, base: int) -> float:  # float ok: rate
    users = range(base, base + PLAYERS)
    await fund(db, users, 10**12)
    for u in users:  # seeds exist before timing, as for returning players
        await db.write(games.seed_state, u, secret_key=SECRET_KEY)

    async def player(u: int) -> None:
        for i in range(BETS_PER_PLAYER):
            await db.write(
                games.place_bet,
                user_id=u,
                game=game,
                asset="DOGE",
                amount=1000,
                params=params,
                rules=RULES,
                idem=f"bench:{game}:{u}:{i}",
                secret_key=SECRET_KEY,
            )

    started = time.perf_counter()
    await asyncio.gather(*(player(u) for u in users))
    return PLAYERS * BETS_PER_PLAYER / (time.perf_counter() - started)


async def lean_bets(db: Database, url: str, base: int) -> float:  # float ok: rate
    """The lean reference: each of PLAYERS players moves its stake to the house, one statement a bet."""
    from bench.updates import LeanPG, LeanSQLite

    users = range(base, base + PLAYERS)
    await fund(db, users, 10**12)
    lean = LeanSQLite(url.split(":///", 1)[1]) if db.is_sqlite else LeanPG(url)
    if not db.is_sqlite:
        await lean.start()

    async def player(u: int) -> None:
        for i in range(BETS_PER_PLAYER):
            assert await lean.pay(f"lean:{u}:{i}", user_account(u), HOUSE, "DOGE", 1000)

    started = time.perf_counter()
    await asyncio.gather(*(player(u) for u in users))
    rate = PLAYERS * BETS_PER_PLAYER / (time.perf_counter() - started)
    await lean.close()
    return rate


async def crash_round(db: Database, base: int) -> tuple[float, float]:  # float ok: seconds
    users = range(base, base + CRASH_PLAYERS)
    await fund(db, users, 10**9)
    key = SECRET_KEY
    chains = crash.ChainCache(key)
    now = utcnow()
    chain = await db.write(
        crash.create_chain,
        crash.build_chain(1000),
        secret_key=key,
        admin_id=1,
        tip_height=900_000,
        salt_blocks=6,
        now=now - timedelta(hours=1),
    )
    await db.write(crash.set_salt, "ab" * 32, admin_id=1, now=now)
    chains.load(await db.read(crash.sealed_chain, chain.id))
    rnd = await db.write(crash.open_round, chains, betting_seconds=10, now=now)
    while not 200 <= rnd.crash_point < 400:  # a round where auto cash-outs 1.10x..4.09x win and lose
        await db.write(crash.start_round, rnd.id, now=now)
        await db.write(crash.crash_round, rnd.id, "00" * 32, now=now)
        rnd = await db.write(crash.open_round, chains, betting_seconds=10, now=now)

    def joins(conn, part: range) -> None:  # 500 players a write: the setup, not the target
        for u in part:
            crash.join(
                conn,
                user_id=u,
                asset="DOGE",
                amount=1000,
                auto_cashout=110 + (u % 300),
                rules=RULES,
                idem=f"bench:crash:{u}",
                chat_id=u,
                now=now,
            )

    started = time.perf_counter()
    await asyncio.gather(*(db.write(joins, users[i : i + 500]) for i in range(0, len(users), 500)))
    joined = time.perf_counter() - started
    await db.write(crash.start_round, rnd.id, now=now)
    h = chains.game_hash(rnd.chain_id, rnd.game).hex()
    started = time.perf_counter()
    settled = await db.write(crash.crash_round, rnd.id, h, now=now + timedelta(minutes=5))
    elapsed = time.perf_counter() - started
    assert len(settled) == CRASH_PLAYERS and any(b.status == "won" for b in settled)
    assert any(b.status == "lost" for b in settled)
    return joined, elapsed


async def run(url: str, label: str) -> None:
    from bench.updates import server_version

    db = Database(url)
    await db.start()
    try:
        print(f"{label}: {await server_version(db)}; load {os.getloadavg()[0]:.2f}")
        ref = await lean_bets(db, url, 3_000)
        dice = await seeded(db, "dice", {"target": 5050, "direction": "over"}, 1_000)
        ref = (ref + await lean_bets(db, url, 4_000)) / 2
        plinko = await seeded(db, "plinko", {"rows": 16, "risk": "high"}, 2_000)
        print(f"{label}: dice {dice:,.0f} bets/s, plinko-16 {plinko:,.0f} bets/s ({PLAYERS} players)")
        print(
            f"{label}: lean reference {ref:,.0f} stakes/s (one statement each); dice / reference = {dice / ref:.2f}"
        )
        joined, settle = await crash_round(db, 10_000)
        print(
            f"{label}: crash, {CRASH_PLAYERS} players: joins {joined:.2f} s (500 a write), "
            f"settlement {settle:.3f} s (target < 1 s)"
        )
        problems = await db.read(ledger.check_invariants)
        print(f"{label}: ledger invariants {'OK' if not problems else problems[:3]}")
    finally:
        await db.close()


async def main(pg_url: str, engines: set[str]) -> None:
    if "sqlite" in engines:
        with tempfile.TemporaryDirectory() as tmp:
            await run(await fresh_sqlite(tmp), "SQLite")
    if "postgresql" in engines and await fresh_pg(pg_url):
        await run(pg_url, "PostgreSQL")


if __name__ == "__main__":
    cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_argument("pg_url", nargs="?", default=PG_DEFAULT)
    cli.add_argument("--crash-players", type=int, default=10_000)
    cli.add_argument("--engines", default="sqlite,postgresql")
    args = cli.parse_args()
    CRASH_PLAYERS = args.crash_players
    asyncio.run(main(args.pg_url, set(args.engines.split(","))))
