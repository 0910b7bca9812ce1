"""Offerwalls end to end: an admin adds a wall in the running bot, a user opens /offers and takes
the sub id from the button's URL, an HTTP client sends the network's postback to the bot's
server, and the user sees the credit in /history."""

import hashlib

import aiohttp
import pytest

from core.money import ledger
from core.money.accounts import user_account
from tests.e2e.test_earning import say

pytestmark = pytest.mark.timeout(120)
SECRET = "s3cret-e2e"


async def test_admin_adds_wall_user_earns_by_postback(fake_api, bot_process, bot_env, db):
    proc = bot_process(env=bot_env)
    await proc.start(ready=fake_api.ready_when("getUpdates"), timeout=60)
    admin = fake_api.user(9001, "Root", username="root")
    for text in (
        "/start",
        "/deposit 1000 DOGE float",
        "/fund offer_pool 100 DOGE",
        "/set offers.trust_min 0",
    ):
        await say(admin, text)
    added = await say(admin, f"/offerwall add cpx cpx 12345 {SECRET} DOGE 0.00001")
    assert "/postback/cpx" in added and SECRET not in added
    await say(admin, "/offerwall hold cpx 1")

    alice = fake_api.user(1001, "Alice", username="alice")
    await say(alice, "/start")
    await say(alice, "/offers")
    urls = [b.get("url") for row in alice.last_message().buttons for b in row if b.get("url")]
    assert urls and urls[0].startswith("https://offers.cpx-research.com/")
    sub = urls[0].split("ext_user_id=")[1]
    assert "1001" not in sub

    base = f"http://127.0.0.1:{bot_env['WEB_PORT']}/postback/cpx"
    query = {
        "status": "1",
        "trans_id": "cpx-777",
        "user_id": sub,
        "amount_local": "250",
        "amount_usd": "0.25",
        "type": "complete",
        "hash": hashlib.md5(f"cpx-777-{SECRET}".encode()).hexdigest(),
    }
    async with aiohttp.ClientSession() as http:
        async with http.get(base, params=query) as r:
            assert (r.status, await r.text()) == (200, "1")
        async with http.get(base, params={**query, "hash": "0" * 32}) as r:  # forged
            assert (r.status, await r.text()) == (200, "0")
        async with http.get(base, params=query) as r:  # delivered again
            assert (r.status, await r.text()) == (200, "1")

    history = await say(alice, "/history")
    assert "0.00250000 DOGE" in history and "Offer completed" in history
    assert await proc.stop() == 0
    assert (await db.read(ledger.balance, user_account(1001), "DOGE")).available == 250_000
