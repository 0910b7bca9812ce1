"""The FaucetPay-compatible API over real HTTP (aiohttp test server on loopback)."""

import asyncio

import pytest
from aiogram import Bot
from aiohttp import FormData
from aiohttp.test_utils import TestClient, TestServer

from core.earn import payout_links, referrals
from core.earn import sites as faucet_sites
from core.identity.users import upsert_user
from core.money import ledger
from core.money.accounts import MARKETING, user_account
from core.platform.params import Params
from handlers.dispatcher import build_dispatcher
from handlers.web import build_web_app
from tests.handlers.harness import BOT_TOKEN, RecordingSession
from tests.money import available, fund

OWNER, ALICE, BOB = 500, 111, 222
ADDR = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"


@pytest.fixture
async def api(settings, db):
    bot = Bot(BOT_TOKEN, session=RecordingSession())
    dp = build_dispatcher(settings, db, params=Params(env={}))
    app = build_web_app(settings, dp, bot, db)
    client = TestClient(TestServer(app))
    await client.start_server()
    yield client
    await client.close()


async def make_site(db, asset="BTC", escrow=10_000, cap=0, owner=OWNER):
    await db.write(upsert_user, id=owner, username=f"owner{owner}", first_name="O", language_code="en")
    site, key = await db.write(
        faucet_sites.add_site,
        owner_id=owner,
        name="Drip",
        url="https://drip.example",
        asset=asset,
        reward=10,
        timer=300,
    )
    if escrow:
        await fund(db, user_account(owner), escrow, asset=asset, key=f"owner{site.id}")
        await db.write(faucet_sites.fund_site, owner, site.id, escrow, key=f"fund{site.id}")
    if cap:
        await db.write(faucet_sites.set_cap, owner, site.id, cap)
    return site, key


async def make_user(db, uid=ALICE, username="alice", link=ADDR, asset="BTC"):
    await db.write(upsert_user, id=uid, username=username, first_name="A", language_code="en")
    if link:
        await db.write(payout_links.link, uid, asset, link)


async def call(api, method, **data):
    resp = await api.post(f"/api/v1/{method}", data=data)
    assert resp.status == 200
    return await resp.json()


async def test_send_pays_user_and_reports_like_faucetpay(api, db):
    site, key = await make_site(db)
    await make_user(db)
    body = await call(api, "send", api_key=key, currency="BTC", amount="25", to=ADDR, ip_address="1.2.3.4")
    assert body["status"] == 200 and body["message"] == "OK"
    assert body["balance"] == "9975" and body["balance_bitcoin"] == "0.00009975"
    assert body["currency"] == "BTC" and body["payout_id"] > 0 and len(body["payout_user_hash"]) == 32
    assert isinstance(body["rate_limit_remaining"], int)
    assert await available(db, user_account(ALICE)) == 25
    by_name = await call(api, "send", api_key=key, currency="BTC", amount="5", to="@alice")
    assert by_name["status"] == 200 and by_name["payout_user_hash"] == body["payout_user_hash"]
    got = await call(api, "getbalance", api_key=key, currency="BTC")
    assert (got["status"], got["balance"], got["balance_bitcoin"]) == (200, "9970", "0.00009970")
    chk = await call(api, "checkaddress", api_key=key, address=ADDR, currency="BTC")
    assert chk["status"] == 200 and chk["payout_user_hash"] == body["payout_user_hash"]
    pay = await call(api, "payouts", api_key=key, currency="BTC", count="5")
    assert [r["amount"] for r in pay["rewards"]] == [5, 25] and pay["rewards"][1]["to"] == ADDR
    cur = await call(api, "currencies", api_key=key)
    assert "BTC" in cur["currencies"] and {"name": "Bitcoin", "acronym": "BTC"} in cur["currencies_names"]
    moves, _ = await db.read(ledger.history, user_account(ALICE))
    assert {m.code for m in moves} == {"faucet_api"}


async def test_query_and_multipart_parameters(api, db):
    site, key = await make_site(db)
    await make_user(db)
    resp = await api.post(f"/api/v1/send?api_key={key}&currency=BTC&amount=7&to={ADDR}")
    assert (await resp.json())["status"] == 200
    form = FormData()
    for k, v in dict(api_key=key, currency="BTC", amount="8", to=ADDR).items():
        form.add_field(k, v)
    resp = await api.post("/api/v1/send", data=form())
    assert (await resp.json())["status"] == 200
    assert await available(db, user_account(ALICE)) == 15


async def test_six_decimal_assets_need_whole_minor_units(api, db):
    site, key = await make_site(db, asset="TRX", escrow=1_000_000)
    addr = "TJCnKsPa7y5okkXvQAidZBzqx3QyQ6sxMW"
    await make_user(db, link=addr, asset="TRX")
    bad = await call(api, "send", api_key=key, currency="TRX", amount="150", to=addr)
    assert bad["status"] == 405
    ok = await call(api, "send", api_key=key, currency="TRX", amount="200", to=addr)
    assert ok["status"] == 200 and ok["balance"] == str((1_000_000 - 2) * 100)
    assert await available(db, user_account(ALICE), "TRX") == 2


@pytest.mark.parametrize(
    "method, data, status",
    [
        ("send", dict(amount="-5"), 405),
        ("send", dict(amount="1.5"), 405),
        ("send", dict(amount="0"), 405),
        ("send", dict(amount="1e3"), 405),
        ("send", dict(amount="99999999999999999999"), 405),
        ("send", dict(amount=""), 405),
        ("send", dict(currency="XYZ"), 410),
        ("send", dict(currency="LTC"), 410),
        ("send", dict(to="nobody-here"), 456),
        ("send", dict(to=""), 456),
        ("send", dict(api_key="wrong"), 403),
        ("send", dict(api_key=""), 403),
        ("send", dict(amount="999999"), 402),
        ("send", dict(idempotency_key="bad key!"), 400),
        ("nosuch", dict(), 404),
        ("getbalance", dict(currency="DOGE"), 410),
        ("checkaddress", dict(address="nope"), 456),
        ("payouts", dict(count="1000"), 400),
    ],
)
async def test_bad_requests_move_nothing(api, db, method, data, status):
    site, key = await make_site(db)
    await make_user(db)
    body = dict(api_key=key, currency="BTC", amount="10", to=ADDR)
    body.update(data)
    if "api_key" in data and not data["api_key"]:
        del body["api_key"]
    got = await call(api, method, **body)
    assert got["status"] == status and got["message"], got
    assert await available(db, user_account(ALICE)) == 0


async def test_malformed_and_oversized_bodies(api, db):
    site, key = await make_site(db)
    await make_user(db)
    resp = await api.post(
        "/api/v1/send", data=b"--x\r\nbroken", headers={"Content-Type": "multipart/form-data; boundary=x"}
    )
    assert resp.status == 200 and (await resp.json())["status"] == 400
    resp = await api.post(
        "/api/v1/send", data={"api_key": key, "to": ADDR, "amount": "10", "pad": "x" * 100_000}
    )
    assert resp.status == 200 and (await resp.json())["status"] == 400
    assert await available(db, user_account(ALICE)) == 0


async def test_ip_allowlist_and_rotated_key(api, db):
    site, key = await make_site(db)
    await make_user(db)
    await db.write(faucet_sites.set_ips, OWNER, site.id, ["10.9.9.9"])
    from handlers.earn.api import API_KEY

    api.server.app[API_KEY]._keys.clear()
    assert (await call(api, "send", api_key=key, amount="10", to=ADDR, currency="BTC"))["status"] == 401
    await db.write(faucet_sites.set_ips, OWNER, site.id, ["127.0.0.1"])
    new_key = await db.write(faucet_sites.rotate_key, OWNER, site.id)
    api.server.app[API_KEY]._keys.clear()
    assert (await call(api, "send", api_key=key, amount="10", to="@alice", currency="BTC"))["status"] == 403
    assert (await call(api, "send", api_key=new_key, amount="10", to=ADDR, currency="BTC"))["status"] == 200


async def test_daily_cap_and_rate_limit(api, db):
    site, key = await make_site(db, cap=25)
    await make_user(db)
    got = [
        (await call(api, "send", api_key=key, amount="10", to=ADDR, currency="BTC"))["status"]
        for _ in range(3)
    ]
    assert got == [200, 200, 450]
    from handlers.earn.api import API_KEY

    state = api.server.app[API_KEY]
    state.params = Params(env={"FAUCET_API_RATE": "4"})
    assert (await call(api, "getbalance", api_key=key, currency="BTC"))["status"] == 200
    assert (await call(api, "getbalance", api_key=key, currency="BTC"))["status"] == 429
    assert await available(db, user_account(ALICE)) == 20


async def test_site_payments_earn_no_platform_commission_and_referral_flag(api, db):
    """A referred user paid by a faucet site earns their referrer nothing from marketing: the
    platform's cut on a site payment is zero (issue 9, item 1). A site pays its own referral
    commissions from its escrow with referral=true."""
    site, key = await make_site(db)
    await fund(db, MARKETING, 1_000, key="m")
    await make_user(db, BOB, "bobby", link=None)
    await make_user(db)
    await db.write(referrals.record_start, ALICE, referrals.invite_code(BOB))
    await db.write(referrals.activate, ALICE)
    assert (await call(api, "send", api_key=key, amount="100", to=ADDR, currency="BTC"))["status"] == 200
    assert await available(db, user_account(ALICE)) == 100
    assert await available(db, user_account(BOB)) == 0 and await available(db, MARKETING) == 1_000
    ref = await call(api, "send", api_key=key, amount="10", to="@bobby", currency="BTC", referral="true")
    assert ref["status"] == 200  # the site pays the referrer itself, from its escrow
    moves, _ = await db.read(ledger.history, user_account(BOB))
    assert [m.code for m in moves] == ["faucet_api_referral"]
    assert await available(db, faucet_sites.escrow(site.id)) == 10_000 - 110
    assert await available(db, MARKETING) == 1_000


async def test_the_commission_farm_earns_nothing(api, db):
    """Issue 9, item 1, over the API as the attacker runs it: the owner was invited by his own
    second account; he funds his escrow, pays himself with send, and does it again."""
    await fund(db, MARKETING, 100_000, key="m")
    await make_user(db, BOB, "bob", link=None)  # the second account
    await make_user(db, OWNER, f"owner{OWNER}", link=None)
    await db.write(referrals.record_start, OWNER, referrals.invite_code(BOB))
    await db.write(referrals.activate, OWNER)
    site, key = await make_site(db, escrow=10_000)
    for n in range(5):
        for _ in range(10):
            got = await call(api, "send", api_key=key, amount="1000", to=f"@owner{OWNER}", currency="BTC")
            assert got["status"] == 200, got
        await db.write(faucet_sites.fund_site, OWNER, site.id, 10_000, key=f"again{n}")
    assert await available(db, user_account(BOB)) == 0
    assert await available(db, MARKETING) == 100_000


async def test_removed_site_key_dies_at_once_and_strangers_are_limited(api, db):
    site, key = await make_site(db)
    await make_user(db, link=None)
    from handlers.earn.api import API_KEY

    state = api.server.app[API_KEY]
    state.params = Params(env={"FAUCET_API_STRANGER_DAILY": "2"})
    got = [
        (await call(api, "send", api_key=key, amount="10", to="@alice", currency="BTC"))["status"]
        for _ in range(3)
    ]
    assert got == [200, 200, 451]
    assert await available(db, user_account(ALICE)) == 20
    await db.write(faucet_sites.remove_site, OWNER, site.id, key="rm")  # the key is still in the API's cache
    assert (await call(api, "send", api_key=key, amount="10", to="@alice", currency="BTC"))["status"] == 403
    assert await available(db, user_account(OWNER)) == 10_000 - 20


async def test_hundred_concurrent_sends_against_escrow_for_sixty(api, db):
    site, key = await make_site(db, escrow=600)
    await make_user(db)
    bodies = await asyncio.gather(
        *(call(api, "send", api_key=key, amount="10", to=ADDR, currency="BTC") for _ in range(100))
    )
    statuses = [b["status"] for b in bodies]
    assert statuses.count(200) == 60 and statuses.count(402) == 40, statuses
    assert await available(db, user_account(ALICE)) == 600
    assert await available(db, faucet_sites.escrow(site.id)) == 0


async def test_same_idempotency_key_ten_times_pays_once(api, db):
    site, key = await make_site(db)
    await make_user(db)
    bodies = await asyncio.gather(
        *(
            call(api, "send", api_key=key, amount="10", to=ADDR, currency="BTC", idempotency_key="claim-42")
            for _ in range(10)
        )
    )
    assert all(b["status"] == 200 for b in bodies), bodies
    assert len({b["payout_id"] for b in bodies}) == 1
    assert sum(not b["replayed"] for b in bodies) == 1
    assert await available(db, user_account(ALICE)) == 10
    other = await call(
        api, "send", api_key=key, amount="11", to=ADDR, currency="BTC", idempotency_key="claim-42"
    )
    assert other["status"] == 409


async def test_faucetlist_shows_healthy_sites_only(api, db):
    site, key = await make_site(db)
    await make_site(db, escrow=0, owner=501)
    for path in ("/api/listv1/faucetlist", "/api/v1/faucetlist"):
        body = await (await api.post(path)).json()
        assert body["status"] == 200
        assert [f["id"] for f in body["list_data"]["normal"]["BTC"]] == [site.id]


async def test_send_to_a_username_pays_its_current_holder(api, db):
    site, key = await make_site(db)
    await make_user(db, ALICE, username="alice", link=None)
    await make_user(db, BOB, username="ALICE", link=None)  # Bob was seen with @alice after Alice
    body = await call(api, "send", api_key=key, currency="BTC", amount="25", to="@alice")
    assert body["status"] == 200
    assert await available(db, user_account(BOB)) == 25 and await available(db, user_account(ALICE)) == 0


async def test_a_banned_user_cannot_be_paid(api, db):
    from core.ops import moderation

    site, key = await make_site(db)
    await make_user(db)
    await db.write(moderation.ban, 9001, "111", "multi-accounting", admin_ids={9001})
    body = await call(api, "send", api_key=key, currency="BTC", amount="25", to=ADDR)
    assert (body["status"], body["message"]) == (456, "This user cannot receive payments.")
    assert await available(db, user_account(ALICE)) == 0
    assert (await call(api, "getbalance", api_key=key, currency="BTC"))["balance"] == "10000"
