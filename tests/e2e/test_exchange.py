"""The exchange end to end: the running bot polls a local fake of CoinGecko and Binance, and a
user holding five coins sweeps them into DOGE; what arrives is checked against the rates the
fake served (the median of the two sources, less the spread, rounded down)."""

import asyncio
from decimal import Decimal

import pytest

from core.exchange import prices
from core.exchange.quotes import price_leg
from core.money import ledger
from core.money.accounts import FEES, LIQUIDITY, user_account
from tests.fakes.prices import FakePrices

pytestmark = pytest.mark.timeout(120)
CG = {"BTC": "60000", "LTC": "80", "DOGE": "0.1", "USDT": "1", "TRX": "0.25"}
BN = {"BTC": "60100", "LTC": "79", "DOGE": "0.1002", "TRX": "0.2502"}
HELD = {"BTC": 100_000, "LTC": 50_000_000, "USDT": 3_000_000, "TRX": 10_000_000, "DOGE": 123}


async def say(user, text):
    await user.send(text)
    await user.wait_for("sendMessage")
    return user.last_message().text


async def test_sweep_doge_for_a_user_holding_five_coins(fake_api, bot_process, bot_env, db):
    async with FakePrices() as fake:
        fake.coingecko.prices, fake.binance.prices = dict(CG), dict(BN)
        env = {
            **bot_env,
            "PRICE_COINGECKO_URL": fake.url,
            "PRICE_BINANCE_URL": fake.url,
            "PRICES_EVERY": "1s",
        }
        proc = bot_process(env=env)
        await proc.start(ready=fake_api.ready_when("getUpdates", timeout=50), timeout=60)
        admin = fake_api.user(9001, "Root", username="root")
        alice = fake_api.user(1001, "Alice", username="alice")
        await say(admin, "/start")
        await say(alice, "/start")
        await say(admin, "/deposit 100000 DOGE float")
        assert "liquidity" in await say(admin, "/fund liquidity 100000 DOGE")
        for asset, amount in HELD.items():
            await say(admin, f"/deposit 1000 {asset} float")
            await db.write(
                ledger.transfer,
                debit="treasury",
                credit=user_account(1001),
                asset=asset,
                amount=amount,
                code="admin_credit",
                key=f"e2e:{asset}",
            )
        for _ in range(100):  # both sources polled
            book = await db.read(prices.read_book)
            if {r.source for r in book if r.asset == "TRX"} == {"coingecko", "binance"}:
                break
            await asyncio.sleep(0.1)

        preview = await say(alice, "/sweep DOGE")
        assert "Sweep into DOGE" in preview, preview
        expected = 0
        for asset in ("BTC", "LTC", "USDT", "TRX"):
            usd = (Decimal(CG[asset]) + Decimal(BN.get(asset, "1"))) / 2
            doge = (Decimal(CG["DOGE"]) + Decimal(BN["DOGE"])) / 2
            leg = price_leg(HELD[asset], asset, "DOGE", usd, doge, 100, 0)
            expected += leg.amount_out
        from core.money.amounts import format_amount
        from core.money.assets import get_asset

        assert f"You receive in total: {format_amount(expected, get_asset('DOGE'))}" in preview
        await alice.tap_button("Confirm")
        await fake_api.wait_for("answerCallbackQuery", chat_id=alice.id)
        await asyncio.sleep(0.3)
        assert "4 coins swept" in alice.last_message().text
        held = await db.read(ledger.balances, user_account(1001))
        assert {a: b.available for a, b in held.items() if b.available} == {"DOGE": 123 + expected}
        assert (await db.read(ledger.balance, LIQUIDITY, "BTC")).available == HELD["BTC"]
        assert (await db.read(ledger.balance, FEES, "DOGE")).available > 0
        await proc.stop()
