"""Faucet claims (captcha answer -> payment -> reply) through the production dispatcher.

    PYTHONPATH=. python bench/updates.py                      # SQLite (temp file)
    BENCH_PG_URL=postgresql+asyncpg://... PYTHONPATH=. python bench/updates.py   # also PostgreSQL

Each of USERS users answers one stored challenge correctly: the update goes through
build_dispatcher() (middlewares, routers, filters, the claim use case) and a bot
session that encodes every request exactly as aiogram's AiohttpSession does
(build_form_data: model_dump, prepare_value, FormData) but sends nothing and answers
True. (The tests' RecordingSession does more: it dumps each request twice and keeps a
copy of every message, which is bookkeeping for assertions, not the bot's work.)
Measured in the same run, on the same session and updates:
- a bare aiogram handler that edits the message and answers the tap (no database);
- the lean reference, before and after the claims: a minimal aiogram bot with an async filter,
  where one update makes one transfer in one statement (PostgreSQL: a data-modifying CTE on an
  asyncpg pool of 8 connections; SQLite: one hop to a writer thread, one durable transaction)
  and one reply. It shows what the hardware allows; the last line is claims / reference.
Each block starts with the engine and its server version. The PostgreSQL database is wiped.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime

sys.path.insert(0, os.getcwd())

from bench.common import fresh_pg  # noqa: E402

USERS = int(os.environ.get("USERS", "4000"))
CONCURRENCY = int(os.environ.get("CONCURRENCY", "64"))


def migrate(url: str) -> None:
    from core.platform.migrate import upgrade

    upgrade(url)  # PostgreSQL arrives emptied and migrated by bench.common.fresh_pg; a no-op then


def updates_for(pairs, bot_user):
    from aiogram.types import CallbackQuery, Chat, Message, Update, User

    from handlers.earn.faucet import CaptchaCB

    out = []
    for n, (uid, cid, opt) in enumerate(pairs):
        user = User(id=uid, is_bot=False, first_name="U", language_code="en")
        msg = Message(
            message_id=1,
            date=datetime.now(UTC),
            chat=Chat(id=uid, type="private"),
            from_user=bot_user,
            text="🧩",
        )
        cq = CallbackQuery(
            id=str(n), from_user=user, chat_instance="c", data=CaptchaCB(c=cid, o=opt).pack(), message=msg
        )
        out.append(Update(update_id=n + 1, callback_query=cq))
    return out


async def feed(dp, bot, updates) -> tuple[float, list[float]]:  # float ok: seconds
    latencies: list[float] = []  # float ok: seconds
    it = iter(updates)

    async def worker():
        for u in it:
            t = time.perf_counter()
            await dp.feed_update(bot, u)
            latencies.append(time.perf_counter() - t)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return time.perf_counter() - start, latencies


def bench_session():
    from aiogram.client.session.aiohttp import AiohttpSession

    class SerialiseOnly(AiohttpSession):
        """The production session's request encoding, without the network."""

        def __init__(self) -> None:
            super().__init__()
            self.requests = 0

        async def make_request(self, bot, method, timeout=None):
            self.build_form_data(bot=bot, method=method)  # model_dump + prepare_value + FormData
            self.requests += 1
            return True

    return SerialiseOnly()


def report(name: str, elapsed: float, lat: list[float]) -> None:  # float ok: seconds
    lat.sort()
    print(
        f"{name:28s} {len(lat) / elapsed:7.0f} updates/s   p50 {statistics.median(lat) * 1000:6.1f} ms"
        f"   p99 {lat[int(len(lat) * 0.99) - 1] * 1000:6.1f} ms"
    )


async def run(name: str, url: str) -> None:
    from aiogram import Bot, Dispatcher, Router
    from aiogram.types import CallbackQuery

    from core.config import load_settings
    from core.earn import faucet
    from core.identity.users import upsert_user
    from core.money import ledger
    from core.money.accounts import FAUCET_POOL, TREASURY, WORLD
    from core.platform.db import Database
    from core.platform.params import Params
    from handlers.dispatcher import build_dispatcher
    from handlers.earn.faucet import CaptchaCB
    from handlers.middlewares import Throttle
    from tests.handlers.harness import BOT_TOKEN, BOT_USER

    await asyncio.to_thread(migrate, url)
    db = Database(url)
    await db.start()
    big = 10**15
    await db.write(
        ledger.transfer, debit=WORLD, credit=TREASURY, asset="BTC", amount=big, code="deposit", key="d"
    )
    await db.write(
        ledger.transfer, debit=TREASURY, credit=FAUCET_POOL, asset="BTC", amount=big, code="fund", key="f"
    )
    params = Params(env={})
    s = faucet.settings_for(params, "BTC")

    def challenges(conn):
        out = []
        for i in range(USERS):
            uid = 10_000 + i
            upsert_user(conn, id=uid, username=None, first_name="U", language_code="en")
            ch = faucet.new_challenge(conn, uid, "BTC", s)
            out.append((uid, ch.id, ch.options.index(ch.target)))
        return out

    pairs = await db.write(challenges)
    settings = load_settings({"BOT_TOKEN": BOT_TOKEN, "DATABASE_URL": url, "SECRET_KEY": "s" * 40})
    session = bench_session()
    bot = Bot(BOT_TOKEN, session=session)
    dp = build_dispatcher(settings, db, params=params, throttle=Throttle(limit=10**9))
    dp["bot_username"] = "bench_bot"
    updates = updates_for(pairs, BOT_USER)
    # Warm the members cache (one user write each, as on any first contact) with stale buttons.
    warm = [
        u.model_copy(update={"callback_query": u.callback_query.model_copy(update={"data": "zz"})})
        for u in updates
    ]
    await feed(dp, bot, warm)

    bare = Dispatcher()
    router = Router()

    @router.callback_query()
    async def reply(query: CallbackQuery) -> None:
        await query.message.edit_text("✅ paid")
        await query.answer()

    bare.include_router(router)
    lean_db = LeanSQLite(url.split(":///", 1)[1]) if db.is_sqlite else LeanPG(url)
    if not db.is_sqlite:
        await lean_db.start()
    rounds = iter(range(1, 100))

    async def lean_round() -> float:  # float ok: updates/s
        tag = next(rounds)

        async def pay(key, *args):
            return await lean_db.pay(f"{key}:{tag}", *args)

        elapsed, lat = await feed(lean_dispatcher(pay, CaptchaCB.__prefix__ + ":", s.reward), bot, updates)
        report(f"{name}: lean reference", elapsed, lat)
        return len(lat) / elapsed

    print(
        f"{name}: {await server_version(db)}; {USERS} users, {CONCURRENCY} at once; load {os.getloadavg()[0]:.2f}"
    )
    report(f"{name}: bare aiogram handler", *await feed(bare, bot, updates))
    refs = [await lean_round()]
    before = session.requests
    elapsed, lat = await feed(dp, bot, updates)
    report(f"{name}: faucet claims", elapsed, lat)
    claims = len(lat) / elapsed
    paid = await db.read(ledger.balance, FAUCET_POOL, "BTC")
    assert big - paid.balance == USERS * s.reward * (1 + len(refs)), "every claim must pay exactly once"
    assert session.requests - before == 2 * USERS
    refs.append(await lean_round())
    ref = statistics.mean(refs)
    print(
        f"{name}: faucet claims / lean reference = {claims:.0f} / {ref:.0f} = {claims / ref:.2f} (target >= 0.8)"
    )
    await lean_db.close()
    await db.close()


# --- the lean reference: what this hardware allows for the same work ---------------------------
# One update -> async filter -> one transfer in one statement (PostgreSQL: a data-modifying CTE
# on an asyncpg pool of 8; SQLite: one hop to a writer thread, one transaction of plain sqlite3
# statements, durable commit) -> one reply. No middlewares, no captcha, no referral, no loyalty.

LEAN_PG_TRANSFER = """
WITH t AS (
    INSERT INTO transfers (key, kind, debit, credit, asset, amount, code, meta, created_at)
    VALUES ($1, 'posted', $2, $3, $4, $5, 'faucet', '{}', now())
    ON CONFLICT (key) DO NOTHING RETURNING id
), d AS (
    UPDATE accounts SET balance = balance - $5
    WHERE owner = $2 AND asset = $4 AND balance - debits_pending >= $5 AND EXISTS (SELECT 1 FROM t)
    RETURNING balance
), c AS (
    INSERT INTO accounts (owner, asset, balance, debits_pending, credits_pending, created_at)
    SELECT $3, $4, $5, 0, 0, now() WHERE EXISTS (SELECT 1 FROM d)
    ON CONFLICT (owner, asset) DO UPDATE SET balance = accounts.balance + excluded.balance
    RETURNING balance
), e AS (
    INSERT INTO entries (transfer_id, owner, asset, amount, balance_after)
    SELECT t.id, $2, $4, -$5, d.balance FROM t, d, c
    UNION ALL SELECT t.id, $3, $4, $5, c.balance FROM t, d, c
)
SELECT (SELECT id FROM t), (SELECT balance FROM c)
"""


class LeanSQLite:
    """One writer thread with its own sqlite3 connection: one hop and one commit per transfer."""

    def __init__(self, path: str) -> None:
        import concurrent.futures
        import sqlite3

        self.pool = concurrent.futures.ThreadPoolExecutor(1)
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=FULL")
        self.conn.execute("PRAGMA busy_timeout=30000")

    def _pay(self, key: str, debit: str, credit: str, asset: str, amount: int) -> bool:
        at = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        c = self.conn
        c.execute("BEGIN IMMEDIATE")
        try:
            got = c.execute(
                "INSERT INTO transfers (key, kind, debit, credit, asset, amount, code, meta, created_at)"
                " VALUES (?, 'posted', ?, ?, ?, ?, 'faucet', '{}', ?) ON CONFLICT (key) DO NOTHING RETURNING id",
                (key, debit, credit, asset, amount, at),
            ).fetchone()
            ok = got is not None
            if ok:
                d = c.execute(
                    "UPDATE accounts SET balance = balance - ? WHERE owner = ? AND asset = ?"
                    " AND balance - debits_pending >= ? RETURNING balance",
                    (amount, debit, asset, amount),
                ).fetchone()
                cr = c.execute(
                    "INSERT INTO accounts (owner, asset, balance, debits_pending, credits_pending, created_at)"
                    " VALUES (?, ?, ?, 0, 0, ?) ON CONFLICT (owner, asset)"
                    " DO UPDATE SET balance = accounts.balance + excluded.balance RETURNING balance",
                    (credit, asset, amount, at),
                ).fetchone()
                c.executemany(
                    "INSERT INTO entries (transfer_id, owner, asset, amount, balance_after) VALUES (?, ?, ?, ?, ?)",
                    ((got[0], debit, asset, -amount, d[0]), (got[0], credit, asset, amount, cr[0])),
                )
            c.execute("COMMIT")
            return ok
        except BaseException:
            c.execute("ROLLBACK")
            raise

    async def pay(self, *args) -> bool:
        return await asyncio.get_running_loop().run_in_executor(self.pool, self._pay, *args)

    async def close(self) -> None:
        self.pool.shutdown()
        self.conn.close()


class LeanPG:
    def __init__(self, url: str) -> None:
        from sqlalchemy.engine import make_url

        u = make_url(url)
        self.dsn = f"postgresql://{u.username}@{u.host}:{u.port or 5432}/{u.database}"
        if u.password:
            self.dsn = f"postgresql://{u.username}:{u.password}@{u.host}:{u.port or 5432}/{u.database}"

    async def start(self) -> None:
        import asyncpg

        self.pool = await asyncpg.create_pool(self.dsn, min_size=8, max_size=8)

    async def pay(self, key: str, debit: str, credit: str, asset: str, amount: int) -> bool:
        async with self.pool.acquire() as conn:
            tid, _after = await conn.fetchrow(LEAN_PG_TRANSFER, key, debit, credit, asset, amount)
        return tid is not None

    async def close(self) -> None:
        await self.pool.close()


def lean_dispatcher(pay, prefix: str, reward: int):
    """A minimal aiogram bot: an async filter, one transfer, one edit and one answer per tap."""
    from aiogram import Dispatcher, Router
    from aiogram.filters import Filter
    from aiogram.types import CallbackQuery

    from core.money.accounts import FAUCET_POOL, user_account

    class Answer(Filter):
        async def __call__(self, query: CallbackQuery) -> bool:
            return bool(query.data) and query.data.startswith(prefix)

    router = Router()

    @router.callback_query(Answer())
    async def claim(query: CallbackQuery) -> None:
        uid = query.from_user.id
        paid = await pay(f"lean:{uid}", FAUCET_POOL, user_account(uid), "BTC", reward)
        await query.message.edit_text("✅ paid" if paid else "already")
        await query.answer()

    dp = Dispatcher()
    dp.include_router(router)
    return dp


async def server_version(db) -> str:
    import sqlite3

    from sqlalchemy import text

    if db.is_sqlite:
        return f"SQLite {sqlite3.sqlite_version}"
    async with db.engine.connect() as conn:
        return (await conn.scalar(text("select version()"))).split(",")[0]


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(run("sqlite", f"sqlite+aiosqlite:///{tmp}/bench.db"))
    pg = asyncio.run(fresh_pg())  # BENCH_PG_URL or the local dustpan_bench database; skipped when unreachable
    if pg:
        asyncio.run(run("postgresql", pg))
