"""Broadcast: the bot's own CPU per message sent, against a bare aiogram send; and the admin
dashboard's query time on a million users and ten million transfers.

    python -m bench.broadcast [N]            # both
    python -m bench.broadcast N dashboard    # the dashboard only (USERS=, TRANSFERS= to resize)

The fake answers instantly and in process (no HTTP), and the rate limit is lifted, so what is
left is our cost: claiming each recipient in the database before the send, recording its outcome,
building the request. The reference, measured in the same run, is a bare ``bot.send_message`` loop
to the same fake. CPU is process time (the database thread included). SQLite, and PostgreSQL when
BENCH_PG_URL (or the default bench database) is reachable.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from typing import Any

from aiogram import Bot
from aiogram.client.session.base import BaseSession
from aiogram.types import Chat, Message
from sqlalchemy import insert

from bench.common import fresh_pg, fresh_sqlite
from core.ops import broadcasts as bc
from core.platform.budget import SendBudget
from core.platform.db import Database
from core.platform.params import Params
from core.platform.schema import users, utcnow
from jobs.broadcast import BroadcastSender

TOKEN = "123456:BENCH"


class InstantSession(BaseSession):
    """Answers every send at once with a message, like Telegram on a very good day."""

    async def make_request(self, bot: Bot, method: Any, timeout: int | None = None) -> Any:
        return Message(
            message_id=1,
            date=datetime.now(UTC),
            chat=Chat(id=getattr(method, "chat_id", 1), type="private"),
            text="x",
        )

    async def stream_content(self, *args: Any, **kwargs: Any) -> Any:  # pragma: no cover
        raise NotImplementedError

    async def close(self) -> None:
        pass


def _seed(conn: Any, n: int) -> None:
    now = utcnow()
    conn.execute(
        insert(users), [dict(id=i, first_name="u", created_at=now, seen_at=now) for i in range(1, n + 1)]
    )


async def measure(url: str, n: int, label: str) -> None:
    db = Database(url)
    await db.start()
    await db.write(_seed, n)
    bot = Bot(TOKEN, session=InstantSession())
    text = "<b>News</b> for everyone, with a <a href='https://example.com'>link</a>"

    cpu, wall = time.process_time(), time.perf_counter()
    for i in range(1, n + 1):
        await bot.send_message(i, text, parse_mode="HTML")
    bare_cpu, bare_wall = time.process_time() - cpu, time.perf_counter() - wall

    bid = await db.write(bc.create_draft, 1, text)
    await db.write(bc.start, bid, bc.Segment.parse("everyone"), admin_id=1)
    sender = BroadcastSender(db, bot, Params(env={}), SendBudget(10**9))
    cpu, wall = time.process_time(), time.perf_counter()
    sent = await sender.run_once()
    ours_cpu, ours_wall = time.process_time() - cpu, time.perf_counter() - wall
    assert sent == n, sent
    await db.close()
    print(
        f"{label}: broadcast {ours_cpu / n * 1e6:.0f} µs CPU/message ({n / ours_wall:.0f} msg/s wall); "
        f"bare aiogram send {bare_cpu / n * 1e6:.0f} µs CPU/message ({n / bare_wall:.0f} msg/s); "
        f"ratio {ours_cpu / bare_cpu:.1f}×"
    )


# --- the dashboard on a big data set -------------------------------------------------------------
USERS = int(os.environ.get("USERS", 1_000_000))
TRANSFERS = int(os.environ.get("TRANSFERS", 10_000_000))
BETS = USERS  # one bet per user over the year
YEAR = 365 * 86400
# Transfer codes in the mix (one in ten each): most are faucet claims, the rest what the dashboard sums.
MIX = (
    "faucet",
    "faucet",
    "faucet",
    "faucet",
    "referral",
    "ad_view",
    "ad_fee",
    "withdrawal_fee",
    "swap_fee",
    "send",
)
ASSETS3 = ("BTC", "LTC", "DOGE")


def _case(expr: str, values: tuple[str, ...]) -> str:
    """SQL picking values[expr % len(values)]."""
    whens = " ".join(f"WHEN {i} THEN '{v}'" for i, v in enumerate(values))
    return f"CASE ({expr}) % {len(values)} {whens} END"


def _sql(engine: str) -> list[str]:
    """Set-based INSERTs: a recursive CTE of integers on SQLite, generate_series on PostgreSQL.

    Times are spread over the last year: ``at(expr)`` is now minus ``expr`` seconds."""
    if engine == "sqlite":

        def series(n: int) -> str:
            return f"WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {n}) "

        def at(expr: str) -> str:
            return f"strftime('%Y-%m-%d %H:%M:%f000', :now, '-' || ({expr}) || ' seconds')"

        def src(n: int) -> str:
            return "FROM s"

        key = "printf('t%010d', i)"
        owner = "'user:' || (1 + i % :users)"
        false_, true_ = "0", "1"
    else:

        def series(n: int) -> str:
            return ""

        def at(expr: str) -> str:
            return f"(CAST(:now AS timestamptz) - ({expr}) * interval '1 second')"

        def src(n: int) -> str:
            return f"FROM generate_series(1, {n}::bigint) AS s(i)"

        key = "'t' || lpad(i::text, 10, '0')"
        owner = "'user:' || (1 + i % :users)"
        false_, true_ = "false", "true"
    debit = f"CASE WHEN i % 10 < 5 THEN 'faucet_pool' WHEN i % 10 = 9 THEN {owner} ELSE 'fees_src' END"
    return [
        series(USERS) + "INSERT INTO users (id, first_name, created_at, seen_at, is_blocked) "
        f"SELECT i, 'u', {at(f'(i * 7919) % {YEAR}')}, {at('(i * 104729) % (60 * 86400)')}, "
        f"CASE WHEN i % 50 = 0 THEN {true_} ELSE {false_} END {src(USERS)}",
        series(USERS)
        + "INSERT INTO accounts (owner, asset, balance, debits_pending, credits_pending, created_at) "
        f"SELECT 'user:' || i, 'BTC', i % 100000, 0, 0, :now {src(USERS)}",
        series(TRANSFERS)
        + "INSERT INTO transfers (key, kind, debit, credit, asset, amount, code, meta, created_at) "
        f"SELECT {key}, 'posted', {debit}, "
        "CASE WHEN i % 10 IN (6, 7, 8) THEN 'fees' ELSE 'user:' || (1 + (i + 7) % :users) END, "
        f"{_case('i', ASSETS3)}, 1 + i % 1000, {_case('i', MIX)}, '{{}}', {at(f'(i * 31) % {YEAR}')} "
        f"{src(TRANSFERS)}",
        series(BETS) + "INSERT INTO bets (user_id, game, asset, amount, payout, seed_id, nonce, client_seed, "
        "params, result, multiplier_x10k, idem, created_at) "
        f"SELECT 1 + i % :users, {_case('i', ('dice', 'limbo', 'plinko'))}, {_case('i / 3', ASSETS3)}, "
        f"1000, (i % 3) * 900, 1, i, 'c', '{{}}', 0, 0, 'b' || i, {at(f'(i * 17) % {YEAR}')} {src(BETS)}",
        series(10_000) + "INSERT INTO withdrawals (user_id, asset, amount, fee, address, chain, state, "
        "created_at, updated_at) "
        f"SELECT i, 'BTC', 10000, 100, 'bc1q', 'btc', {_case('i', ('requested', 'sent', 'sent', 'approved'))}, "
        f"{at('i * 600')}, {at('i * 600')} {src(10_000)}",
    ]


def _system(conn: Any, now: datetime) -> None:
    from core.money.tables import accounts

    conn.execute(
        insert(accounts),
        [
            dict(owner=o, asset=a, balance=b, created_at=now)
            for a in ASSETS3
            for o, b in (
                ("world", -(10**12)),
                ("treasury", 10**11),
                ("faucet_pool", 10**9),
                ("house", 0),
                ("fees", 5),
            )
        ],
    )


async def fresh_sqlite_at(path: str) -> str:
    from core.platform.migrate import upgrade_async

    url = f"sqlite+aiosqlite:///{path}"
    await upgrade_async(url)
    return url


async def measure_dashboard(url: str, label: str) -> None:
    from sqlalchemy import text

    db = Database(url)
    await db.start()
    engine = db.engine.dialect.name
    now = utcnow()
    t0 = time.perf_counter()
    loaded = await db.read(lambda c: c.execute(text("SELECT count(*) FROM users")).scalar())
    if loaded:  # a kept SQLite file: measure again without loading
        now = await db.read(lambda c: c.execute(text("SELECT max(created_at) FROM transfers")).scalar())
        now = datetime.fromisoformat(str(now)).replace(tzinfo=UTC) if isinstance(now, str) else now
    else:
        await _load(db, engine, now)
    version = await db.read(
        lambda c: c.execute(
            text("SELECT sqlite_version()" if engine == "sqlite" else "SHOW server_version")
        ).scalar()
    )
    load = time.perf_counter() - t0
    await _timed(db, now, label, version, load)


async def _load(db: Database, engine: str, now: datetime) -> None:
    from sqlalchemy import text

    stamp: Any = now.strftime("%Y-%m-%d %H:%M:%S") if engine == "sqlite" else now
    async with db.engine.begin() as conn:
        await conn.execute(text("DROP INDEX ix_transfers_code_at"))  # built once after the load: faster
        for sql in _sql(engine):
            await conn.execute(text(sql), {"now": stamp, "users": USERS})
        await conn.run_sync(_system, now)
        await conn.execute(
            text("CREATE INDEX ix_transfers_code_at ON transfers (code, created_at, asset, amount, kind)")
        )
    # Fresh statistics, as autovacuum (PostgreSQL) or ``ANALYZE`` (SQLite) give a live database;
    # VACUUM also sets PostgreSQL's visibility map, so the covering index is read without the table.
    async with db.engine.connect() as conn:
        auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await auto.execute(text("ANALYZE" if engine == "sqlite" else "VACUUM ANALYZE"))


async def _timed(db: Database, now: datetime, label: str, version: Any, load: float) -> None:
    from sqlalchemy import text

    from core.ops import dashboard as dash

    rows = await db.read(
        lambda c: c.execute(
            text("SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM transfers)")
        ).one()
    )
    times = []
    for _ in range(3):
        t = time.perf_counter()
        d = await db.read(dash.dashboard, now)
        times.append(time.perf_counter() - t)
    t = time.perf_counter()
    await db.read(lambda c: c.execute(text("SELECT count(*) FROM transfers WHERE amount > 500")).scalar())
    ref = time.perf_counter() - t
    await db.close()
    print(
        f"{label} {version}: dashboard on {rows[0]:,} users and {rows[1]:,} transfers "
        f"(loaded in {load:.0f} s): first {times[0]:.3f} s, best {min(times):.3f} s; "
        f"reference (one full scan of transfers) {ref:.3f} s, ratio {min(times) / ref:.2f}; "
        f"users {d.users:,}, active 7 d {d.active_week:,}, revenue week fees {d.revenue_week['fees']}"
    )


async def main(n: int, only: str = "") -> None:
    if only != "dashboard":
        with tempfile.TemporaryDirectory() as tmp:
            await measure(await fresh_sqlite(tmp), n, "SQLite")
        if url := await fresh_pg():
            await measure(url, n, "PostgreSQL")
    if only in ("", "dashboard"):
        engines = os.environ.get("BENCH_ENGINES", "sqlite,postgresql")
        if keep := os.environ.get("BENCH_KEEP"):  # a SQLite file kept between runs: loaded once
            url = f"sqlite+aiosqlite:///{keep}"
            kept = await asyncio.to_thread(os.path.exists, keep)
            await measure_dashboard(url if kept else await fresh_sqlite_at(keep), "SQLite")
        elif "sqlite" in engines:
            with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as tmp:
                await measure_dashboard(await fresh_sqlite(tmp), "SQLite")
        if "postgresql" in engines and (url := await fresh_pg()):
            await measure_dashboard(url, "PostgreSQL")


if __name__ == "__main__":
    asyncio.run(
        main(int(sys.argv[1]) if len(sys.argv) > 1 else 5000, sys.argv[2] if len(sys.argv) > 2 else "")
    )
