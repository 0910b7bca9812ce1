"""Faucet claims (captcha answer -> payment -> reply) through the production dispatcher.

    PYTHONPATH=. python bench/updates.py                      # SQLite (temp file)
    BENCH_PG_URL=postgresql+asyncpg://... PYTHONPATH=. python bench/updates.py   # also PostgreSQL

Each of USERS users answers one stored challenge correctly: the update goes through
build_dispatcher() (middlewares, routers, filters, the claim use case) and a bot
session that encodes every request exactly as aiogram's AiohttpSession does
(build_form_data: model_dump, prepare_value, FormData) but sends nothing and answers
True. (The tests' RecordingSession does more: it dumps each request twice and keeps a
copy of every message, which is bookkeeping for assertions, not the bot's work.)
A bare aiogram handler that edits the message and answers the tap, on the same session
and updates, is measured in the same run as the reference.
The PostgreSQL database is wiped.
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
    report(f"{name}: bare aiogram handler", *await feed(bare, bot, updates))
    before = session.requests
    report(f"{name}: faucet claims", *await feed(dp, bot, updates))
    paid = await db.read(ledger.balance, FAUCET_POOL, "BTC")
    assert big - paid.balance == USERS * s.reward, "every claim must pay exactly once"
    assert session.requests - before == 2 * USERS
    report(f"{name}: bare aiogram handler", *await feed(bare, bot, updates))
    await db.close()


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(run("sqlite", f"sqlite+aiosqlite:///{tmp}/bench.db"))
    pg = asyncio.run(fresh_pg())  # BENCH_PG_URL or the local dustpan_bench database; skipped when unreachable
    if pg:
        asyncio.run(run("postgresql", pg))
