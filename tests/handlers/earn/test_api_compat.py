"""The FaucetPay-compatible API: the published list shape, the BTC default, per-site user
hashes, throttles for unauthenticated work, fresh site settings, and answers when the
database fails. Real HTTP on loopback against the production app."""

import asyncio
import dataclasses
import ipaddress
from datetime import UTC, datetime

import pytest
from aiogram import Bot
from aiohttp.test_utils import TestClient, TestServer

from core.earn import sites as faucet_sites
from core.money.accounts import user_account
from core.money.assets import ASSETS
from core.platform.db import Database
from core.platform.params import Params
from handlers.dispatcher import build_dispatcher
from handlers.earn.api import API_KEY
from handlers.web import build_web_app
from tests.handlers.earn.test_api import ADDR, ALICE, OWNER, call, make_site, make_user
from tests.handlers.harness import BOT_TOKEN, RecordingSession
from tests.handlers.test_throttle_redis import REDIS_URL
from tests.money import available

# FaucetPay's documented answer of /api/listv1/faucetlist (its API documentation page,
# "Faucet List"): what the public faucet-list scripts read, types included.
PUBLISHED = {
    "status": 200,
    "message": "OK",
    "list_data": {
        "normal": {
            "ETH": [
                {
                    "id": 2,
                    "name": "MBZ Community",
                    "url": "https://xcoin.mybook.biz",
                    "owner_id": "1036",
                    "owner_name": "Misael29",
                    "currency": "ETH",
                    "timer_in_minutes": "60",
                    "reward": "84",
                    "is_enabled": "1",
                    "creation_date": "0",
                    "category": None,
                    "paid_today": "0.062315",
                    "total_users_paid": "104",
                    "active_users": "103",
                    "balance": "0.02714408",
                    "health": "100",
                }
            ]
        }
    },
}


def _shape(value):
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    return type(value).__name__


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def _serve(settings, db):
    bot = Bot(BOT_TOKEN, session=RecordingSession())
    app = build_web_app(settings, build_dispatcher(settings, db, params=Params(env={})), bot, db)
    client = TestClient(TestServer(app))
    await client.start_server()
    return client


@pytest.fixture
async def api(settings, db):
    client = await _serve(settings, db)
    yield client
    await client.close()


@pytest.fixture
async def proxied(settings, db):
    """The API behind a reverse proxy on 127.0.0.1 (TRUSTED_PROXIES)."""
    trusted = dataclasses.replace(settings, trusted_proxies=(ipaddress.ip_network("127.0.0.1/32"),))
    client = await _serve(trusted, db)
    yield client
    await client.close()


async def test_faucetlist_has_faucetpays_published_shape(api, db):
    site, _ = await make_site(db, asset="BTC", escrow=10_000)
    await make_user(db)
    assert (await call(api, "send", api_key=_, amount="25", to=ADDR, currency="BTC"))["status"] == 200
    body = await (await api.post("/api/listv1/faucetlist", data={"api_key": "optional"})).json()
    sample = PUBLISHED["list_data"]["normal"]["ETH"][0]
    assert _shape({k: body[k] for k in ("status", "message")}) == {"status": "int", "message": "str"}
    normal = body["list_data"]["normal"]
    # A list per currency, every coin present (a script indexing normal[CURRENCY] never fails).
    assert set(normal) == set(ASSETS) and all(isinstance(v, list) for v in normal.values())
    assert normal["LTC"] == [] and len(normal["BTC"]) == 1
    entry = normal["BTC"][0]
    assert {k: _shape(entry[k]) for k in sample} == _shape(sample)  # every field, same JSON type
    assert entry["id"] == site.id and entry["url"] == "https://drip.example" and entry["currency"] == "BTC"
    assert entry["reward"] == "10" and entry["timer_in_minutes"] == "5" and entry["is_enabled"] == "1"
    assert entry["balance"] == "0.00009975" and entry["paid_today"] == "0.00000025"
    assert entry["total_users_paid"] == "1" and entry["active_users"] == "1"
    assert 0 <= int(entry["health"]) <= 100
    assert abs(int(entry["creation_date"]) - datetime.now(UTC).timestamp()) < 3600
    assert entry["owner_id"].isdigit() and entry["owner_id"] != str(OWNER)  # never the Telegram id


async def test_faucetlist_is_cached_for_a_few_seconds(api, db):
    state = api.server.app[API_KEY]
    state.clock = clock = Clock()
    first, _ = await make_site(db)
    got = await (await api.get("/api/listv1/faucetlist")).json()
    assert [f["id"] for f in got["list_data"]["normal"]["BTC"]] == [first.id]
    second, _ = await make_site(db, owner=502)
    # A burst of list requests within the TTL: one answer, no new database work.
    bodies = await asyncio.gather(*(api.post("/api/v1/faucetlist") for _ in range(50)))
    for resp in bodies:
        assert [f["id"] for f in (await resp.json())["list_data"]["normal"]["BTC"]] == [first.id]
    clock.now += 6
    got = await (await api.get("/api/listv1/faucetlist")).json()
    assert {f["id"] for f in got["list_data"]["normal"]["BTC"]} == {first.id, second.id}


async def test_invalid_keys_are_throttled_per_client_address(proxied, db):
    site, key = await make_site(db)
    state = proxied.server.app[API_KEY]
    state.params = Params(env={"FAUCET_API_BAD_KEYS": "5"})

    async def balance(api_key, client):
        resp = await proxied.post(
            "/api/v1/getbalance", data={"api_key": api_key}, headers={"X-Forwarded-For": client}
        )
        assert resp.status == 200
        return (await resp.json())["status"]

    got = [await balance(f"wrong-{i}", "198.51.100.7") for i in range(7)]
    assert got == [403] * 5 + [429] * 2
    assert await balance(key, "198.51.100.7") == 429  # no lookup at all from that address now
    assert await balance("wrong-x", "198.51.100.8") == 403  # another client has its own budget
    assert await balance(key, "198.51.100.8") == 200
    assert await balance(key, "198.51.100.7") == 200  # a key already known is not looked up again


async def test_a_missing_currency_means_btc(api, db):
    btc, btc_key = await make_site(db, asset="BTC")
    ltc, ltc_key = await make_site(db, asset="LTC", owner=501)
    await make_user(db)
    ok = await call(api, "getbalance", api_key=btc_key)
    assert ok["status"] == 200 and ok["currency"] == "BTC"
    assert (await call(api, "send", api_key=btc_key, to=ADDR, amount="10"))["status"] == 200
    for method, data in (("getbalance", {}), ("send", {"to": "@alice", "amount": "10"}), ("payouts", {})):
        refused = await call(api, method, api_key=ltc_key, **data)
        assert refused["status"] == 410, refused
        assert "Invalid currency" in refused["message"] and "LTC" in refused["message"]
    assert (await call(api, "getbalance", api_key=ltc_key, currency="ltc"))["status"] == 200
    assert await available(db, user_account(ALICE), "LTC") == 0
    assert await available(db, user_account(ALICE)) == 10


async def test_user_hash_is_per_site_and_checkaddress_is_limited_per_key(api, db):
    one, key1 = await make_site(db)
    two, key2 = await make_site(db, owner=501)
    await make_user(db)
    h1 = (await call(api, "checkaddress", api_key=key1, address=ADDR, currency="BTC"))["payout_user_hash"]
    h2 = (await call(api, "checkaddress", api_key=key2, address="@alice", currency="BTC"))["payout_user_hash"]
    assert h1 != h2 and len(h1) == len(h2) == 32
    sent = await call(api, "send", api_key=key1, to="@alice", amount="10", currency="BTC")
    assert sent["payout_user_hash"] == h1  # stable within one site
    state = api.server.app[API_KEY]
    state.params = Params(env={"FAUCET_API_CHECKADDRESS_RATE": "3"})
    got = [
        (await call(api, "checkaddress", api_key=key2, address=f"guess{i}", currency="BTC"))["status"]
        for i in range(4)
    ]
    assert got == [456, 456, 429, 429]  # 1 + 2 within the minute, then refused
    assert (await call(api, "checkaddress", api_key=key1, address=ADDR, currency="BTC"))["status"] == 200
    assert (await call(api, "getbalance", api_key=key2, currency="BTC"))["status"] == 200  # only checkaddress


async def test_cap_allowlist_and_key_changes_apply_on_the_next_request(api, db):
    site, key = await make_site(db)
    await make_user(db)
    assert (await call(api, "send", api_key=key, amount="10", to=ADDR, currency="BTC"))["status"] == 200
    await db.write(faucet_sites.set_cap, OWNER, site.id, 15)
    assert (await call(api, "send", api_key=key, amount="10", to=ADDR, currency="BTC"))["status"] == 200
    assert (await call(api, "send", api_key=key, amount="10", to=ADDR, currency="BTC"))["status"] == 450
    await db.write(faucet_sites.set_cap, OWNER, site.id, 0)
    await db.write(faucet_sites.set_ips, OWNER, site.id, ["10.9.9.9"])
    assert (await call(api, "send", api_key=key, amount="10", to=ADDR, currency="BTC"))["status"] == 401
    assert (await call(api, "getbalance", api_key=key, currency="BTC"))["status"] == 401
    await db.write(faucet_sites.set_ips, OWNER, site.id, ["127.0.0.1"])
    assert (await call(api, "send", api_key=key, amount="10", to=ADDR, currency="BTC"))["status"] == 200
    new_key = await db.write(faucet_sites.rotate_key, OWNER, site.id)
    assert (await call(api, "send", api_key=key, amount="10", to=ADDR, currency="BTC"))["status"] == 403
    assert (await call(api, "send", api_key=new_key, amount="10", to=ADDR, currency="BTC"))["status"] == 200
    assert await available(db, user_account(ALICE)) == 40


async def test_allowlist_behind_a_trusted_proxy_uses_the_forwarded_client(proxied, db):
    site, key = await make_site(db)
    await make_user(db)
    await db.write(faucet_sites.set_ips, OWNER, site.id, ["203.0.113.5"])

    async def send(headers):
        data = {"api_key": key, "to": ADDR, "amount": "10", "currency": "BTC"}
        return (await (await proxied.post("/api/v1/send", data=data, headers=headers)).json())["status"]

    assert await send({}) == 401  # the proxy itself is not the client
    assert await send({"X-Forwarded-For": "203.0.113.5"}) == 200
    assert await send({"X-Forwarded-For": "203.0.113.5, 127.0.0.1"}) == 200  # a trusted hop is skipped
    assert await send({"X-Forwarded-For": "203.0.113.5, 198.51.100.1"}) == 401  # forged left of a real one
    assert await send({"X-Forwarded-For": "garbage"}) == 401
    assert await available(db, user_account(ALICE)) == 20


async def test_forwarded_for_is_ignored_without_trusted_proxies(api, db):
    site, key = await make_site(db)
    await make_user(db)
    await db.write(faucet_sites.set_ips, OWNER, site.id, ["203.0.113.5"])
    data = {"api_key": key, "to": ADDR, "amount": "10", "currency": "BTC"}
    resp = await api.post("/api/v1/send", data=data, headers={"X-Forwarded-For": "203.0.113.5"})
    assert (await resp.json())["status"] == 401
    assert await available(db, user_account(ALICE)) == 0


async def test_per_key_rate_limit_counts_each_client_address(proxied, db):
    site, key = await make_site(db)
    state = proxied.server.app[API_KEY]
    state.params = Params(env={"FAUCET_API_RATE": "2"})

    async def balance(client):
        data = {"api_key": key, "currency": "BTC"}
        resp = await proxied.post("/api/v1/getbalance", data=data, headers={"X-Forwarded-For": client})
        return (await resp.json())["status"]

    assert [await balance("198.51.100.1") for _ in range(3)] == [200, 200, 429]
    assert await balance("198.51.100.2") == 200


async def test_database_failure_still_answers_faucetpay_json(api, db, caplog):
    site, key = await make_site(db)
    await make_user(db)
    assert (await call(api, "getbalance", api_key=key, currency="BTC"))["status"] == 200
    broken = Database("postgresql+asyncpg://nobody@127.0.0.1:9/gone")  # nothing listens there
    await broken.start()
    state = api.server.app[API_KEY]
    state.db, state._keys = broken, {}
    try:
        for method in ("getbalance", "send", "faucetlist"):
            resp = await api.post(f"/api/v1/{method}", data={"api_key": key, "to": ADDR, "amount": "10"})
            assert resp.status == 200 and resp.content_type == "application/json"
            body = await resp.json()
            assert body["status"] == 503 and body["message"]
    finally:
        await broken.close()
    assert await available(db, user_account(ALICE)) == 0
    assert "Traceback" not in caplog.text and key not in caplog.text


@pytest.mark.parametrize(
    "path, method",
    [("/api/v1/", "GET"), ("/api/v1", "POST"), ("/api/v1/send/more", "POST"), ("/api/v2/x", "GET")],
)
async def test_unknown_api_paths_answer_in_faucetpay_form(api, path, method):
    resp = await api.request(method, path)
    assert resp.status == 200
    assert (await resp.json())["status"] == 404


@pytest.fixture
async def redis():
    from redis.asyncio import Redis

    client = Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        await client.ping()
    except Exception:
        await client.aclose()
        pytest.skip(f"needs Redis at {REDIS_URL} (set TEST_REDIS_URL)")
    yield client
    await client.aclose()


async def test_invalid_key_budget_is_shared_by_instances_through_redis(settings, db, redis):
    one, two = await _serve(settings, db), await _serve(settings, db)
    try:
        for client in (one, two):
            state = client.server.app[API_KEY]
            state.limits.redis = redis
            state.params = Params(env={"FAUCET_API_BAD_KEYS": "4"})
        async for stale in redis.scan_iter("dustpan:fpapi:badkey:127.0.0.1:*"):  # an earlier run's
            await redis.delete(stale)
        got = []
        for i in range(6):
            resp = await (one, two)[i % 2].post("/api/v1/getbalance", data={"api_key": f"bad{i}"})
            got.append((await resp.json())["status"])
        assert got == [403, 403, 403, 403, 429, 429]
    finally:
        await one.close()
        await two.close()
