"""/postback/<name> over real HTTP (aiohttp on loopback): every network, and every bad input."""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import urlencode

import pytest
from aiogram import Bot
from aiohttp.test_utils import TestClient, TestServer

from core.config import load_settings
from core.earn import offers, postbacks
from core.earn.tables import offer_subs
from core.identity.users import upsert_user
from core.money.accounts import OFFER_POOL, user_account
from core.platform.params import Params
from handlers.dispatcher import build_dispatcher
from handlers.earn.postback import POSTBACKS
from handlers.web import build_web_app
from tests.core.earn.test_postbacks import SECRET, md5, signed
from tests.handlers.harness import BOT_TOKEN, RecordingSession
from tests.money import available, fund

ORIGIN = "https://bot.example.com"  # PUBLIC_URL: TLS ends at the proxy, the bot sees http
ALICE = 111
KEY = "k" * 40


@pytest.fixture
def web_settings(database_url):
    return load_settings(
        {
            "BOT_TOKEN": BOT_TOKEN,
            "DATABASE_URL": database_url,
            "ADMIN_IDS": "9001",
            "SECRET_KEY": KEY,
            "PUBLIC_URL": ORIGIN,
        }
    )


@pytest.fixture
async def http(web_settings, db):
    bot = Bot(BOT_TOKEN, session=RecordingSession())
    dp = build_dispatcher(web_settings, db, params=Params(env={}))
    app = build_web_app(web_settings, dp, bot, db)
    app[POSTBACKS].params = Params(env={"OFFERS_TRUST_MIN": "0"})  # credits post at once
    client = TestClient(TestServer(app))
    await client.start_server()
    yield client
    await client.close()


async def make_wall(db, network="cpx", name="w", pool=10**9):
    await db.write(upsert_user, id=ALICE, username="alice", first_name="A", language_code="en")
    wall = await db.write(
        offers.add_wall,
        admin_id=9001,
        network=network,
        name=name,
        app_id="123",
        secret=SECRET,
        asset="DOGE",
        rate="0.00001",
        secret_key=KEY,
    )
    await db.write(offers.set_hold, 9001, name, "100")
    await db.write(
        lambda c: c.execute(offer_subs.insert().values(wall_id=wall.id, user_id=ALICE, sub_id="abc"))
    )
    if pool:
        await fund(db, OFFER_POOL, pool, asset="DOGE", key=f"pool{name}")
    return wall


async def send(http, request: postbacks.Request, *, method="GET", name="w"):
    path = request.url[len(ORIGIN) :].replace("/postback/w", f"/postback/{name}", 1)
    resp = await http.request(method, path, headers=request.headers or {})
    return resp.status, await resp.text()


async def alice(db) -> int:
    return await available(db, user_account(ALICE), "DOGE")


@pytest.mark.parametrize("network", postbacks.NETWORKS)
async def test_each_network_credits_once_and_reverses(http, db, network):
    await make_wall(db, network)
    assert await send(http, signed(network)) == (200, postbacks.SUCCESS_BODY[network])
    assert await alice(db) == 250_000
    assert await send(http, signed(network)) == (200, postbacks.SUCCESS_BODY[network])  # repeated
    assert await alice(db) == 250_000
    assert await send(http, signed(network, credit=False)) == (200, postbacks.SUCCESS_BODY[network])
    assert await alice(db) == 0


async def test_post_is_accepted_too(http, db):
    await make_wall(db, "ayet")
    r = signed("ayet")
    status, body = await send(http, r, method="POST")
    assert (status, body) == (200, "OK") and await alice(db) == 250_000


async def test_url_signature_checked_against_public_url_not_the_rebuilt_http_one(http, db):
    """BitLabs signs https://bot.example.com/...; the bot sees http://127.0.0.1:port/..."""
    await make_wall(db, "bitlabs")
    good = signed("bitlabs")
    assert await send(http, good) == (200, "OK")
    q = urlencode([("uid", "abc"), ("tx", "T2"), ("val", "5")])
    import hashlib

    from tests.core.earn.test_postbacks import hmac_hex

    local = f"http://{http.host}:{http.port}/postback/w?{q}"
    forged_for_local = f"{ORIGIN}/postback/w?{q}&hash={hmac_hex(hashlib.sha1, SECRET, local)}"
    req = postbacks.Request(url=forged_for_local, query=[])
    assert await send(http, req) == (200, "0")
    assert await alice(db) == 250_000


def _cpx(**over):
    p = {"status": "1", "trans_id": "T9", "user_id": "abc", "amount_local": "5", "amount_usd": "0.01"}
    p.update(over)
    p.setdefault("hash", md5(f"{p['trans_id']}-{SECRET}"))
    q = urlencode(p)
    return postbacks.Request(url=f"{ORIGIN}/postback/w?{q}", query=[])


@pytest.mark.parametrize(
    "request_,why",
    [
        (_cpx(hash=md5("T9-wrong")), "forged signature"),
        (_cpx(hash="zz"), "malformed signature"),
        (_cpx(hash=""), "missing signature"),
        (_cpx(trans_id="T10", hash=md5(f"T9-{SECRET}")), "mutated transaction id"),
        (_cpx(user_id="stranger"), "unknown sub id"),
        (_cpx(amount_local="0"), "zero amount"),
        (_cpx(amount_local="99999999999"), "huge amount"),
        (_cpx(amount_local="12abc"), "non-numeric amount"),
        (_cpx(amount_local="-5"), "negative credit"),
        (_cpx(status="7"), "unknown status"),
        (postbacks.Request(url=f"{ORIGIN}/postback/w?a=%ff&b", query=[]), "malformed query"),
        (postbacks.Request(url=f"{ORIGIN}/postback/w?status=1&status=1", query=[]), "repeated parameter"),
    ],
    ids=lambda x: x if isinstance(x, str) else "",
)
async def test_bad_input_is_refused_as_cpx_expects_and_logged_without_secret(http, db, caplog, request_, why):
    await make_wall(db, "cpx")
    caplog.set_level(logging.INFO)
    assert await send(http, request_) == (200, "0"), why
    assert await alice(db) == 0
    assert "refused" in caplog.text and SECRET not in caplog.text


async def test_unknown_wall_ip_allowlist_and_replay_with_other_fields(http, db, caplog):
    await make_wall(db, "cpx")
    caplog.set_level(logging.INFO)
    assert await send(http, _cpx(), name="nowall") == (200, "0")
    await db.write(offers.set_ips, 9001, "w", "10.0.0.0/8")
    assert await send(http, _cpx()) == (200, "0")  # 127.0.0.1 is outside the allowlist
    await db.write(offers.set_ips, 9001, "w", "-")
    assert await send(http, _cpx()) == (200, "1")
    assert await alice(db) == 5000
    assert await send(http, _cpx(amount_local="500")) == (200, "0")  # same trans_id, other amount
    assert await alice(db) == 5000
    assert SECRET not in caplog.text and "ip_refused" in caplog.text and "replay_mismatch" in caplog.text


async def test_pool_dry_answers_503_so_the_network_retries(http, db):
    await make_wall(db, "cpx", pool=0)
    status, _ = await send(http, _cpx())
    assert status == 503 and await alice(db) == 0


async def test_hundred_concurrent_deliveries_over_http_credit_once(http, db):
    await make_wall(db, "torox")
    got = await asyncio.gather(*(send(http, signed("torox")) for _ in range(100)))
    assert set(got) == {(200, "1")}
    assert await alice(db) == 250_000
