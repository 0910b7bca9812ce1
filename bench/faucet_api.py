"""FaucetPay-compatible ``send`` over loopback: requests/s and p50/p99 latency.

    PYTHONPATH=. python bench/faucet_api.py                      # SQLite (temp file)
    BENCH_PG_URL=postgresql+asyncpg://... PYTHONPATH=. python bench/faucet_api.py   # also PostgreSQL

The server (build_web_app, the production app) runs in a child process so the
clients do not share its event loop; CLIENTS concurrent clients send REQUESTS in all,
each to one of USERS users by linked address. The PostgreSQL database is wiped.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.getcwd())
os.environ["FAUCET_API_RATE"] = "1000000"

CLIENTS = int(os.environ.get("CLIENTS", "16"))
REQUESTS = int(os.environ.get("REQUESTS", "6000"))
from bench.common import fresh_pg  # noqa: E402

USERS = 1000
PORT = int(os.environ.get("BENCH_PORT", "18931"))


def prepare(url: str) -> str:
    """Migrate, create a funded site and USERS users with linked DUST addresses; return the key."""
    from core.platform.migrate import upgrade

    upgrade(url)  # PostgreSQL arrives emptied and migrated by bench.common.fresh_pg; a no-op then

    async def go():
        from core.earn import payout_links
        from core.earn import sites as faucet_sites
        from core.identity.users import upsert_user
        from core.money import ledger
        from core.money.accounts import TREASURY, WORLD, user_account
        from core.platform.db import Database

        db = Database(url)
        await db.start()
        await db.write(upsert_user, id=1, username="owner", first_name="O", language_code="en")
        site, key = await db.write(
            faucet_sites.add_site,
            owner_id=1,
            name="Bench",
            url="https://b.example",
            asset="DUST",
            reward=1,
            timer=60,
        )
        big = 10**15
        await db.write(
            ledger.transfer, debit=WORLD, credit=TREASURY, asset="DUST", amount=big, code="deposit", key="d"
        )
        await db.write(
            ledger.transfer,
            debit=TREASURY,
            credit=user_account(1),
            asset="DUST",
            amount=big,
            code="x",
            key="o",
        )
        await db.write(faucet_sites.fund_site, 1, site.id, big, "f")

        def users(conn):
            for i in range(USERS):
                upsert_user(conn, id=1000 + i, username=None, first_name="U", language_code="en")
                payout_links.link(conn, 1000 + i, "DUST", f"dust-user-{i}")

        await db.write(users)
        await db.close()
        return key

    return asyncio.run(go())


def serve(url: str, ready) -> None:
    async def go():
        from aiogram import Bot

        from core.config import load_settings
        from core.platform.db import Database
        from handlers.dispatcher import build_dispatcher
        from handlers.http_server import HttpServer
        from handlers.web import build_web_app
        from tests.handlers.harness import BOT_TOKEN, RecordingSession

        settings = load_settings({"BOT_TOKEN": BOT_TOKEN, "DATABASE_URL": url, "SECRET_KEY": "s" * 40})
        db = Database(url)
        await db.start()
        app = build_web_app(
            settings, build_dispatcher(settings, db), Bot(BOT_TOKEN, session=RecordingSession()), db
        )
        await HttpServer(app, settings).start("127.0.0.1", PORT)  # as bot.py serves it
        ready.set()
        await asyncio.Event().wait()

    asyncio.run(go())


async def drive(key: str) -> tuple[float, list[float]]:  # float ok: seconds
    import aiohttp

    latencies: list[float] = []  # float ok: seconds
    counter = iter(range(REQUESTS))
    statuses: dict[int, int] = {}

    async def client(session):
        for n in counter:
            data = {"api_key": key, "currency": "DUST", "amount": "100", "to": f"dust-user-{n % USERS}"}
            t = time.perf_counter()
            async with session.post(f"http://127.0.0.1:{PORT}/api/v1/send", data=data) as resp:
                body = await resp.json()
            latencies.append(time.perf_counter() - t)
            statuses[body["status"]] = statuses.get(body["status"], 0) + 1
            if body["status"] != 200:
                print(body)
                return

    conn = aiohttp.TCPConnector(limit=CLIENTS)
    async with aiohttp.ClientSession(connector=conn) as session:
        # warm up: connections, caches
        warm = iter(range(CLIENTS))
        await asyncio.gather(
            *(session.post(f"http://127.0.0.1:{PORT}/api/v1/getbalance", data={"api_key": key, "currency": "DUST"}) for _ in warm)
        )
        start = time.perf_counter()
        await asyncio.gather(*(client(session) for _ in range(CLIENTS)))
        elapsed = time.perf_counter() - start
    assert statuses == {200: REQUESTS}, statuses
    return elapsed, latencies


def run(name: str, url: str) -> None:
    key = prepare(url)
    ready = mp.get_context("spawn").Event()
    proc = mp.get_context("spawn").Process(target=serve, args=(url, ready), daemon=True)
    proc.start()
    try:
        ready.wait(30)
        elapsed, lat = asyncio.run(drive(key))
    finally:
        proc.terminate()
        proc.join()
    lat.sort()
    p50 = statistics.median(lat) * 1000
    p99 = lat[int(len(lat) * 0.99) - 1] * 1000
    print(
        f"{name:10s} send: {REQUESTS / elapsed:7.0f} req/s   p50 {p50:6.1f} ms   p99 {p99:6.1f} ms"
        f"   ({REQUESTS} requests, {CLIENTS} clients)"
    )


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        run("sqlite", f"sqlite+aiosqlite:///{tmp}/bench.db")
    pg = asyncio.run(fresh_pg())  # BENCH_PG_URL or the local dustpan_bench database; skipped when unreachable
    if pg:
        run("postgresql", pg)
