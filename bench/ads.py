"""Ads: tracking-link opens over loopback HTTP, and view claims through the production dispatcher.

    PYTHONPATH=. python bench/ads.py                      # SQLite (temp file)
    BENCH_PG_URL=postgresql+asyncpg://... PYTHONPATH=. python bench/ads.py   # also PostgreSQL

1. ``GET /go/<token>``: OPENS fresh one-time tokens opened by CLIENTS keep-alive connections
   against the bot's own aiohttp app (handlers.web.build_web_app) on 127.0.0.1: each open checks
   the signature and records the visit (one write), then answers 302. Reference in the same run:
   ``GET /healthz`` of the same app (no database).
2. View claims: USERS viewers, each with an opened visit past its duration and a stored puzzle,
   tap the right number; the update goes through build_dispatcher() (middlewares, routers,
   filters, the claim use case: the puzzle, the reward, the fee, the view) and the serialise-only
   session of bench/updates.py. References in the same run: faucet claims (bench/updates.py's
   setup) and the bare aiogram handler. Target: ad claims at least 0.9 of faucet claims.
The PostgreSQL database is wiped.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from datetime import timedelta

sys.path.insert(0, os.getcwd())

from bench.common import fresh_pg  # noqa: E402
from bench.updates import bench_session, feed, migrate, report, updates_for  # noqa: E402

USERS = int(os.environ.get("USERS", "3000"))
OPENS = int(os.environ.get("OPENS", "6000"))
CLIENTS = int(os.environ.get("CLIENTS", "32"))
SECRET = "s" * 40


async def http_round(base: str, paths: list[str]) -> tuple[float, list[float]]:  # float ok: seconds
    import aiohttp

    latencies: list[float] = []  # float ok: seconds
    it = iter(paths)
    connector = aiohttp.TCPConnector(limit=CLIENTS)
    async with aiohttp.ClientSession(base, connector=connector) as http:

        async def client() -> None:
            for path in it:
                t = time.perf_counter()
                async with http.get(path, allow_redirects=False) as r:
                    await r.read()
                    assert r.status in (200, 302), (r.status, path)
                latencies.append(time.perf_counter() - t)

        start = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(CLIENTS)))
        return time.perf_counter() - start, latencies


def report_http(name: str, elapsed: float, lat: list[float]) -> None:  # float ok: seconds
    lat.sort()
    print(
        f"{name:30s} {len(lat) / elapsed:7.0f} opens/s     p50 {statistics.median(lat) * 1000:6.1f} ms"
        f"   p99 {lat[int(len(lat) * 0.99) - 1] * 1000:6.1f} ms"
    )


async def setup_world(db, users: int, views: int):
    """A funded faucet pool and an approved campaign with budget for ``views`` views."""
    from core.earn import ad_campaigns, ads
    from core.identity.users import upsert_user
    from core.money import ledger
    from core.money.accounts import FAUCET_POOL, TREASURY, WORLD, user_account

    big = 10**15
    await db.write(
        ledger.transfer, debit=WORLD, credit=TREASURY, asset="BTC", amount=big, code="deposit", key="d"
    )
    await db.write(
        ledger.transfer,
        debit=TREASURY,
        credit=FAUCET_POOL,
        asset="BTC",
        amount=big // 2,
        code="fund",
        key="f",
    )
    await db.write(
        ledger.transfer,
        debit=TREASURY,
        credit=user_account(1),
        asset="BTC",
        amount=big // 4,
        code="fund",
        key="a",
    )
    s = ads.Settings(fee_bp=2000, daily_cap=10**5)
    await db.write(upsert_user, id=1, username=None, first_name="A", language_code="en")
    spec = ad_campaigns.Spec(
        kind="visit",
        title="Bench",
        asset="BTC",
        price=100,
        views=views,
        url="https://shop.example/",
        duration=5,
    )
    quote = await db.write(ad_campaigns.create_draft, 1, spec, s)
    await db.write(ad_campaigns.confirm, 1, quote.campaign_id)
    await db.write(ad_campaigns.approve, 9001, quote.campaign_id)

    def viewers(conn):
        for i in range(users):
            upsert_user(conn, id=10_000 + i, username=None, first_name="U", language_code="en")

    await db.write(viewers)
    return quote.campaign_id, s


async def bench_opens(name: str, db, settings, campaign_id: int) -> None:
    from aiogram import Bot

    from core.earn import ad_tokens
    from handlers.dispatcher import build_dispatcher
    from handlers.http_server import HttpServer
    from handlers.web import build_web_app
    from tests.handlers.harness import BOT_TOKEN

    bot = Bot(BOT_TOKEN, session=bench_session())
    app = build_web_app(settings, build_dispatcher(settings, db), bot, db)
    server = HttpServer(app, settings)
    await server.start("127.0.0.1", settings.web_port)
    base = f"http://127.0.0.1:{settings.web_port}"
    now = int(time.time())
    paths = [
        f"/go/{ad_tokens.make(SECRET, campaign_id, 10_000 + i % USERS, now - i // USERS)}"
        for i in range(OPENS)
    ]
    try:
        await http_round(base, ["/healthz"] * 500)  # warm up connections and the app
        report_http(f"{name}: GET /healthz (ref)", *await http_round(base, ["/healthz"] * OPENS))
        report_http(f"{name}: GET /go/<token>", *await http_round(base, paths))
        report_http(f"{name}: GET /healthz (ref)", *await http_round(base, ["/healthz"] * OPENS))
    finally:
        await server.stop()
        await bot.session.close()


async def bench_claims(name: str, db, settings, campaign_id: int, s) -> None:
    from aiogram import Bot, Dispatcher, Router
    from aiogram.types import CallbackQuery
    from sqlalchemy import update

    from core.earn import ads, faucet
    from core.earn.tables import ad_views
    from core.identity import captcha
    from core.money import ledger
    from core.money.accounts import FAUCET_POOL
    from core.platform.params import Params
    from core.platform.schema import utcnow
    from handlers.dispatcher import build_dispatcher
    from handlers.earn.ads import AdCaptchaCB
    from handlers.middlewares import Throttle
    from tests.handlers.harness import BOT_TOKEN, BOT_USER

    params = Params(env={"ADS_DAILY_CAP": "100000"})
    fs = faucet.settings_for(params, "BTC")

    def puzzles(conn):
        """One stored faucet puzzle and one ads puzzle (on a visit opened 10 s ago) per viewer."""
        fau, ad = [], []
        started = utcnow() - timedelta(seconds=10)
        for i in range(USERS):
            uid = 10_000 + i
            ch = faucet.new_challenge(conn, uid, "BTC", fs)
            fau.append((uid, ch.id, ch.options.index(ch.target)))
            vid = conn.execute(
                ad_views.insert()
                .values(campaign_id=campaign_id, user_id=uid, started_at=started, status=ads.STARTED)
                .returning(ad_views.c.id)
            ).scalar_one()
            a = captcha.new_challenge(conn, uid, ads.PURPOSE, subject=f"{campaign_id}:{vid}")
            ad.append((uid, a.id, a.options.index(a.target)))
        conn.execute(update(ad_views).values(started_at=started))
        return fau, ad

    fau, ad = await db.write(puzzles)
    session = bench_session()
    bot = Bot(BOT_TOKEN, session=session)
    dp = build_dispatcher(settings, db, params=params, throttle=Throttle(limit=10**9))
    dp["bot_username"] = "bench_bot"
    faucet_updates = updates_for(fau, BOT_USER)
    ad_updates = [
        u.model_copy(
            update={
                "callback_query": u.callback_query.model_copy(
                    update={"data": AdCaptchaCB(c=cid, o=opt).pack()}
                )
            }
        )
        for u, (_uid, cid, opt) in zip(updates_for(ad, BOT_USER), ad, strict=True)
    ]
    warm = [
        u.model_copy(update={"callback_query": u.callback_query.model_copy(update={"data": "zz"})})
        for u in faucet_updates
    ]
    await feed(dp, bot, warm)

    bare = Dispatcher()
    router = Router()

    @router.callback_query()
    async def reply(query: CallbackQuery) -> None:
        await query.message.edit_text("✅ paid")
        await query.answer()

    bare.include_router(router)
    half = len(faucet_updates) // 2
    report(f"{name}: bare aiogram handler", *await feed(bare, bot, faucet_updates))
    # Faucet claims before and after the ad claims (half the viewers each), so drift hits both alike.
    f1 = await feed(dp, bot, faucet_updates[:half])
    report(f"{name}: faucet claims (ref)", f1[0], list(f1[1]))
    a_elapsed, a_lat = await feed(dp, bot, ad_updates)
    report(f"{name}: ad view claims", a_elapsed, list(a_lat))
    f2 = await feed(dp, bot, faucet_updates[half:])
    report(f"{name}: faucet claims (ref)", f2[0], list(f2[1]))
    escrow = await db.read(ledger.balance, ads.escrow_of(campaign_id), "BTC")
    pool = await db.read(ledger.balance, FAUCET_POOL, "BTC")
    assert escrow.balance == 0, "every view paid exactly once: the escrow is spent"
    assert 10**15 // 2 - pool.balance == USERS * fs.reward
    faucet_rate = (len(f1[1]) + len(f2[1])) / (f1[0] + f2[0])
    print(f"{name}: ad claims / faucet claims = {(len(a_lat) / a_elapsed) / faucet_rate:.2f}")
    await bot.session.close()


async def run(name: str, url: str) -> None:
    from core.config import load_settings
    from core.platform.db import Database
    from tests.e2e.conftest import free_port
    from tests.handlers.harness import BOT_TOKEN

    await asyncio.to_thread(migrate, url)
    db = Database(url)
    await db.start()
    campaign_id, s = await setup_world(db, USERS, USERS)
    settings = load_settings(
        {"BOT_TOKEN": BOT_TOKEN, "DATABASE_URL": url, "SECRET_KEY": SECRET, "WEB_PORT": str(free_port())}
    )
    await bench_opens(name, db, settings, campaign_id)
    await bench_claims(name, db, settings, campaign_id, s)
    await db.close()


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(run("sqlite", f"sqlite+aiosqlite:///{tmp}/bench.db"))
    pg = asyncio.run(fresh_pg())  # BENCH_PG_URL or the local database; skipped when unreachable
    if pg:
        asyncio.run(run("postgresql", pg))
