"""Offerwall postbacks over loopback: credits/s and p50/p99 latency, against a reference.

    PYTHONPATH=. python bench/postbacks.py                      # SQLite (temp file)
    BENCH_PG_URL=postgresql+asyncpg://... PYTHONPATH=. python bench/postbacks.py   # also PostgreSQL

The server (build_web_app, the production app, served as bot.py serves it) runs in a child
process; CLIENTS concurrent clients send REQUESTS signed CPX postbacks (each a new transaction,
to one of USERS users, credited at once: offers.trust_min 0 and a high hold limit), then the
same number of GET /healthz as the reference: the bare aiohttp route on the same server and
connections. The PostgreSQL database is wiped.
"""

from __future__ import annotations

import asyncio
import hashlib
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.getcwd())
os.environ["OFFERS_TRUST_MIN"] = "0"

CLIENTS = int(os.environ.get("CLIENTS", "16"))
REQUESTS = int(os.environ.get("REQUESTS", "6000"))
from bench.common import fresh_pg  # noqa: E402

USERS = 1000
PORT = int(os.environ.get("BENCH_PORT", "18941"))
SECRET = "bench-secret"
KEY = "s" * 40


def prepare(url: str) -> None:
    """Migrate, fund offer_pool, add a CPX wall and give USERS users a sub id on it."""
    from core.platform.migrate import upgrade

    upgrade(url)

    async def go() -> None:
        from core.earn import offers
        from core.earn.tables import offer_subs
        from core.identity.users import upsert_user
        from core.money import ledger
        from core.money.accounts import OFFER_POOL, TREASURY, WORLD
        from core.platform.db import Database

        db = Database(url)
        await db.start()
        big = 10**15
        await db.write(
            ledger.transfer, debit=WORLD, credit=TREASURY, asset="DUST", amount=big, code="deposit", key="d"
        )
        await db.write(
            ledger.transfer, debit=TREASURY, credit=OFFER_POOL, asset="DUST", amount=big, code="fund", key="f"
        )
        wall = await db.write(
            offers.add_wall,
            admin_id=1,
            network="cpx",
            name="bench",
            app_id="1",
            secret=SECRET,
            asset="DUST",
            rate="0.01",
            secret_key=KEY,
        )
        await db.write(offers.set_hold, 1, "bench", "1000000")

        def users(conn) -> None:
            for i in range(USERS):
                upsert_user(conn, id=1000 + i, username=None, first_name="U", language_code="en")
                conn.execute(offer_subs.insert().values(wall_id=wall.id, user_id=1000 + i, sub_id=f"sub{i}"))

        await db.write(users)
        await db.close()

    asyncio.run(go())


def serve(url: str, ready) -> None:  # type: ignore[no-untyped-def]
    async def go() -> None:
        from aiogram import Bot

        from core.config import load_settings
        from core.platform.db import Database
        from handlers.dispatcher import build_dispatcher
        from handlers.http_server import HttpServer
        from handlers.web import build_web_app
        from tests.handlers.harness import BOT_TOKEN, RecordingSession

        settings = load_settings({"BOT_TOKEN": BOT_TOKEN, "DATABASE_URL": url, "SECRET_KEY": KEY})
        db = Database(url)
        await db.start()
        app = build_web_app(
            settings, build_dispatcher(settings, db), Bot(BOT_TOKEN, session=RecordingSession()), db
        )
        await HttpServer(app, settings).start("127.0.0.1", PORT)
        ready.set()
        await asyncio.Event().wait()

    asyncio.run(go())


def query(n: int) -> dict[str, str]:
    tx = f"bench-{n}"
    return {
        "status": "1",
        "trans_id": tx,
        "user_id": f"sub{n % USERS}",
        "amount_local": "100",
        "amount_usd": "0.01",
        "hash": hashlib.md5(f"{tx}-{SECRET}".encode()).hexdigest(),
    }


async def drive(path: str, make) -> tuple[float, list[float]]:  # type: ignore[no-untyped-def]  # float ok: seconds
    import aiohttp

    latencies: list[float] = []  # float ok: seconds
    counter = iter(range(REQUESTS))
    bodies: dict[str, int] = {}

    async def client(session: aiohttp.ClientSession) -> None:
        for n in counter:
            t = time.perf_counter()
            async with session.get(f"http://127.0.0.1:{PORT}{path}", params=make(n)) as resp:
                body = await resp.text()
            latencies.append(time.perf_counter() - t)
            bodies[body] = bodies.get(body, 0) + 1

    conn = aiohttp.TCPConnector(limit=CLIENTS)
    async with aiohttp.ClientSession(connector=conn) as session:
        await asyncio.gather(*(session.get(f"http://127.0.0.1:{PORT}/healthz") for _ in range(CLIENTS)))
        start = time.perf_counter()
        await asyncio.gather(*(client(session) for _ in range(CLIENTS)))
        elapsed = time.perf_counter() - start
    assert len(bodies) == 1 and sum(bodies.values()) == REQUESTS, bodies
    return elapsed, latencies


def stats(lat: list[float]) -> tuple[float, float]:  # float ok: milliseconds
    lat.sort()
    return statistics.median(lat) * 1000, lat[int(len(lat) * 0.99) - 1] * 1000


def run(name: str, url: str) -> None:
    prepare(url)
    ready = mp.get_context("spawn").Event()
    proc = mp.get_context("spawn").Process(target=serve, args=(url, ready), daemon=True)
    proc.start()
    try:
        ready.wait(30)
        elapsed, lat = asyncio.run(drive("/postback/bench", query))
        ref_elapsed, ref_lat = asyncio.run(drive("/healthz", lambda n: {}))
    finally:
        proc.terminate()
        proc.join()
    p50, p99 = stats(lat)
    r50, r99 = stats(ref_lat)
    rate, ref = REQUESTS / elapsed, REQUESTS / ref_elapsed
    print(
        f"{name:10s} postbacks: {rate:7.0f}/s  p50 {p50:5.1f} ms  p99 {p99:5.1f} ms | "
        f"reference GET /healthz: {ref:7.0f}/s  p50 {r50:5.1f} ms  p99 {r99:5.1f} ms | "
        f"ratio {rate / ref:.2f}   ({REQUESTS} requests, {CLIENTS} clients)"
    )


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        run("sqlite", f"sqlite+aiosqlite:///{tmp}/bench.db")
    pg = asyncio.run(fresh_pg())
    if pg:
        run("postgresql", pg)
