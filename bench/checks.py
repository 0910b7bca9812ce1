"""Check claims and inline queries through the production dispatcher, against faucet claims.

    PYTHONPATH=. python bench/checks.py                       # SQLite (temp file)

USERS users each claim one activation of a check through ``/start c<code>`` (build_dispatcher():
middlewares, routers, the claim-link filter, start + claim in one transaction, the reply with
the menu), on a session that encodes every request as aiogram's AiohttpSession does but sends
nothing (bench.updates.bench_session). The reference, in the same run and on the same database:
faucet claims (bench/updates.py's path: a captcha answer that pays) by as many users; the target
is check claims at no less than 0.9 of them. Then USERS inline queries ``0.001 DOGE`` (each a
balance read and an answer with a signed result), first uncached, then again within
``inline.cache_seconds`` (answered from the per-user cache), against a bare aiogram handler
that answers the same queries with one fixed article.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from datetime import UTC, datetime

sys.path.insert(0, os.getcwd())

from bench.updates import bench_session, feed, report, updates_for  # noqa: E402

USERS = int(os.environ.get("USERS", "2000"))


def claim_updates(users: list[int], codes: list[str], first_id: int):
    from aiogram.types import Chat, Message, MessageEntity, Update, User

    out = []
    for n, (uid, code) in enumerate(zip(users, codes, strict=True)):
        text = f"/start c{code}"
        msg = Message(
            message_id=2,
            date=datetime.now(UTC),
            chat=Chat(id=uid, type="private"),
            from_user=User(id=uid, is_bot=False, first_name="U", language_code="en"),
            text=text,
            entities=[MessageEntity(type="bot_command", offset=0, length=6)],
        )
        out.append(Update(update_id=first_id + n, message=msg))
    return out


def inline_updates(users: list[int], first_id: int, text: str = "0.001 DOGE"):
    from aiogram.types import InlineQuery, Update, User

    return [
        Update(
            update_id=first_id + n,
            inline_query=InlineQuery(
                id=str(first_id + n),
                from_user=User(id=uid, is_bot=False, first_name="U", language_code="en"),
                query=text,
                offset="",
            ),
        )
        for n, uid in enumerate(users)
    ]


async def run(name: str, url: str) -> None:
    from aiogram import Bot, Dispatcher, Router
    from aiogram.types import InlineQuery, InlineQueryResultArticle, InputTextMessageContent

    from core.config import load_settings
    from core.earn import faucet
    from core.identity.users import record_start, upsert_user
    from core.money import ledger
    from core.money.accounts import FAUCET_POOL, TREASURY, WORLD, user_account
    from core.platform.db import Database
    from core.platform.migrate import upgrade_async
    from core.platform.params import Params
    from core.social import checks
    from handlers.dispatcher import build_dispatcher
    from handlers.middlewares import Throttle
    from tests.handlers.harness import BOT_TOKEN, BOT_USER

    await upgrade_async(url)
    db = Database(url)
    await db.start()
    big = 10**15
    creator = 9_000_000
    for asset, pool in (("BTC", FAUCET_POOL), ("DOGE", user_account(creator))):
        await db.write(
            ledger.transfer,
            debit=WORLD,
            credit=TREASURY,
            asset=asset,
            amount=big,
            code="deposit",
            key=f"d{asset}",
        )
        await db.write(
            ledger.transfer,
            debit=TREASURY,
            credit=pool,
            asset=asset,
            amount=big,
            code="fund",
            key=f"f{asset}",
        )
    params = Params(env={})
    s = faucet.settings_for(params, "BTC")
    users = [10_000 + i for i in range(USERS)]
    policy = checks.Policy(minimum=1, max_activations=10**6)

    def setup(conn):
        upsert_user(conn, id=creator, username="creator", first_name="C", language_code="en")
        record_start(conn, creator, None)
        pairs = []
        for uid in users:
            upsert_user(conn, id=uid, username=None, first_name="U", language_code="en")
            record_start(conn, uid, None)
            ch = faucet.new_challenge(conn, uid, "BTC", s)
            pairs.append((uid, ch.id, ch.options.index(ch.target)))
            ledger.transfer(
                conn,
                debit=user_account(creator),
                credit=user_account(uid),
                asset="DOGE",
                amount=10**6,
                code="fund",
                key=f"g{uid}",
            )
        # 100 checks of USERS / 100 activations each: one claim per user, the claims spread as in life
        made = [checks.create_check(conn, creator, "DOGE", 1000, USERS // 100, policy) for _ in range(100)]
        return pairs, [made[i % 100].code for i in range(USERS)]

    pairs, codes = await db.write(setup)
    settings = load_settings({"BOT_TOKEN": BOT_TOKEN, "DATABASE_URL": url, "SECRET_KEY": "s" * 40})
    session = bench_session()
    bot = Bot(BOT_TOKEN, session=session)
    dp = build_dispatcher(settings, db, params=params, throttle=Throttle(limit=10**9))
    dp["bot_username"] = "bench_bot"
    faucet_updates = updates_for(pairs, BOT_USER)
    warm = [
        u.model_copy(update={"callback_query": u.callback_query.model_copy(update={"data": "zz"})})
        for u in faucet_updates
    ]
    await feed(dp, bot, warm)  # the members cache, as on any first contact

    elapsed, lat = await feed(dp, bot, faucet_updates)
    faucet_rate = len(lat) / elapsed
    report(f"{name}: faucet claims (ref)", elapsed, lat)
    elapsed, lat = await feed(dp, bot, claim_updates(users, codes, 10**6))
    claim_rate = len(lat) / elapsed
    report(f"{name}: check claims", elapsed, lat)
    left = sum([(await db.read(ledger.balance, checks.escrow(i), "DOGE")).balance for i in range(1, 101)])
    assert left == 0, "every activation must be paid exactly once"
    print(f"{name}: check claims / faucet claims = {claim_rate / faucet_rate:.2f} (target >= 0.90)")

    bare = Dispatcher()
    router = Router()

    @router.inline_query()
    async def answer(inline_query: InlineQuery) -> None:
        article = InlineQueryResultArticle(
            id="x", title="Send a check", input_message_content=InputTextMessageContent(message_text="check")
        )
        await inline_query.answer([article], cache_time=5, is_personal=True)

    bare.include_router(router)
    await feed(dp, bot, warm)  # again: the members cache refreshes a user's row after a minute
    elapsed, lat = await feed(bare, bot, inline_updates(users, 2 * 10**6))
    bare_rate = len(lat) / elapsed
    report(f"{name}: bare inline handler (ref)", elapsed, lat)
    elapsed, lat = await feed(dp, bot, inline_updates(users, 3 * 10**6))
    report(f"{name}: inline queries", elapsed, lat)
    print(f"{name}: inline queries / bare handler = {len(lat) / elapsed / bare_rate:.2f}")
    elapsed, lat = await feed(dp, bot, inline_updates(users, 4 * 10**6))
    report(f"{name}: inline queries, cached", elapsed, lat)
    await db.close()


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(run("sqlite", f"sqlite+aiosqlite:///{tmp}/bench.db"))
