"""Issue 12's screens through the production dispatcher: /balance, and ▶️ Play on a game panel
(the bet, then the balance after it and the panel's buttons: coins held, Min/Max in reach).

    PYTHONPATH=. python bench/panels.py          # SQLite (temp file); BENCH_PG_URL: PostgreSQL too

A bare aiogram handler on the same session and updates is measured in the same run as the
reference (bench/updates.py's method), and the ratio printed. USERS updates of each kind.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from datetime import UTC, datetime

sys.path.insert(0, os.getcwd())

from bench.common import fresh_pg  # noqa: E402
from bench.updates import bench_session, feed, migrate, report  # noqa: E402

USERS = int(os.environ.get("USERS", "1500"))


def _updates(kind: str, bot_user):
    from aiogram.types import CallbackQuery, Chat, Message, MessageEntity, Update, User

    from handlers.play.games import PlayCB

    out = []
    for n in range(USERS):
        uid = 10_000 + n
        user = User(id=uid, is_bot=False, first_name="U", language_code="en")
        chat = Chat(id=uid, type="private")
        if kind == "balance":
            msg = Message(
                message_id=n + 2,
                date=datetime.now(UTC),
                chat=chat,
                from_user=user,
                text="/balance",
                entities=[MessageEntity(type="bot_command", offset=0, length=8)],
            )
            out.append(Update(update_id=n + 1, message=msg))
        else:
            shown = Message(message_id=1, date=datetime.now(UTC), chat=chat, from_user=bot_user, text="🎲")
            data = PlayCB(act="go", g="d", a="DOGE", amt=10_000, x=5050, y="o").pack()
            cq = CallbackQuery(id=str(n), from_user=user, chat_instance="c", data=data, message=shown)
            out.append(Update(update_id=n + 1, callback_query=cq))
    return out


async def run(name: str, url: str) -> None:
    from aiogram import Bot, Dispatcher, Router
    from aiogram.types import CallbackQuery, Message

    from core.config import load_settings
    from core.identity.users import upsert_user
    from core.money import ledger
    from core.money.accounts import HOUSE, TREASURY, WORLD, user_account
    from core.platform.db import Database
    from core.platform.params import Params
    from handlers.dispatcher import build_dispatcher
    from handlers.middlewares import Throttle
    from tests.handlers.harness import BOT_TOKEN, BOT_USER

    await asyncio.to_thread(migrate, url)
    db = Database(url)
    await db.start()

    def money(conn):
        ledger.transfer(
            conn, debit=WORLD, credit=TREASURY, asset="DOGE", amount=10**17, code="deposit", key="d"
        )
        ledger.transfer(conn, debit=TREASURY, credit=HOUSE, asset="DOGE", amount=10**16, code="fund", key="h")
        for n in range(USERS):
            uid = 10_000 + n
            upsert_user(conn, id=uid, username=None, first_name="U", language_code="en")
            for asset, amount in (("DOGE", 10**9), ("BTC", 10**6)):
                if asset == "BTC":
                    ledger.transfer(
                        conn,
                        debit=WORLD,
                        credit=TREASURY,
                        asset=asset,
                        amount=amount,
                        code="deposit",
                        key=f"db{n}",
                    )
                ledger.transfer(
                    conn,
                    debit=TREASURY,
                    credit=user_account(uid),
                    asset=asset,
                    amount=amount,
                    code="fund",
                    key=f"f{asset}{n}",
                )

    await db.write(money)
    settings = load_settings({"BOT_TOKEN": BOT_TOKEN, "DATABASE_URL": url, "SECRET_KEY": "s" * 40})
    session = bench_session()
    bot = Bot(BOT_TOKEN, session=session)
    dp = build_dispatcher(settings, db, params=Params(env={}), throttle=Throttle(limit=10**9))
    dp["bot_username"] = "bench_bot"
    balance, play = _updates("balance", BOT_USER), _updates("play", BOT_USER)
    await feed(dp, bot, balance)  # warm the members cache (first contact writes each user once)

    bare = Dispatcher()
    router = Router()

    @router.message()
    async def answer(message: Message) -> None:
        await message.answer("💰")

    @router.callback_query()
    async def reply(query: CallbackQuery) -> None:
        assert isinstance(query.message, Message)
        await query.message.edit_text("🎲")
        await query.answer()

    bare.include_router(router)
    ref_b = await feed(bare, bot, balance)
    report(f"{name}: bare message handler", *ref_b)
    got_b = await feed(dp, bot, balance)
    report(f"{name}: /balance", *got_b)
    ref_p = await feed(bare, bot, play)
    report(f"{name}: bare callback handler", *ref_p)
    got_p = await feed(dp, bot, play)
    report(f"{name}: dice ▶️ Play + panel", *got_p)
    bets = await db.read(lambda c: c.exec_driver_sql("SELECT count(*) FROM bets").scalar_one())
    assert bets == USERS, f"every tap must place exactly one bet ({bets})"
    print(
        f"{name}: /balance at {len(got_b[1]) / got_b[0] / (len(ref_b[1]) / ref_b[0]):.2f} of the bare handler's rate, "
        f"▶️ Play at {len(got_p[1]) / got_p[0] / (len(ref_p[1]) / ref_p[0]):.2f}"
    )
    await db.close()


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(run("sqlite", f"sqlite+aiosqlite:///{tmp}/bench.db"))
    pg = asyncio.run(fresh_pg())
    if pg:
        asyncio.run(run("postgresql", pg))
