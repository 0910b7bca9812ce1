"""The price job against a local fake of CoinGecko and Binance: agreeing and diverging sources,
stale ones, 429/418 with Retry-After, malformed JSON, zero and negative prices."""

from decimal import Decimal

import pytest

from core.exchange import prices
from core.exchange.sources import Binance, CoinGecko
from core.platform.params import Params
from jobs.prices import PricePoller
from tests.fakes.prices import FakePrices

PRICES = {"BTC": "60000.5", "LTC": "80.25", "DOGE": "0.1234", "USDT": "0.9998", "TRX": "0.25"}


@pytest.fixture
async def fake():
    async with FakePrices() as server:
        yield server


def pollers(db, fake, key=""):
    params = Params(env={})
    return (
        PricePoller(db, params, CoinGecko(fake.url, key), admin_ids=frozenset({7})),
        PricePoller(db, params, Binance(fake.url), admin_ids=frozenset({7})),
    )


async def in_force(db, asset):
    book = await db.read(prices.read_book)
    from core.platform.schema import utcnow

    p = prices.price_of(book, asset, utcnow(), 300, None)
    return p.usd if p else None


async def test_sources_that_agree(db, fake):
    fake.set_both(PRICES)
    cg, bn = pollers(db, fake, key="CG-demo-key")
    assert await cg.run_once() == "ok"
    assert await bn.run_once() == "ok"
    assert await in_force(db, "BTC") == Decimal("60000.5")
    assert await in_force(db, "USDT") == Decimal("0.9999")  # CoinGecko's and Binance's 1 (its quote coin)
    assert fake.coingecko.queries[0]["vs_currencies"] == "usd"
    assert set(fake.coingecko.queries[0]["ids"].split(",")) == {
        "bitcoin",
        "litecoin",
        "dogecoin",
        "tether",
        "tron",
    }
    assert fake.coingecko.headers[0]["x-cg-demo-api-key"] == "CG-demo-key"
    assert fake.binance.queries[0]["symbols"] == '["BTCUSDT","LTCUSDT","DOGEUSDT","TRXUSDT"]'


async def test_sources_that_diverge_give_the_median_and_a_jump_waits(db, fake):
    fake.set_both(PRICES)
    cg, bn = pollers(db, fake)
    await cg.run_once()
    await bn.run_once()
    fake.binance.prices = {**fake.binance.prices, "BTC": "63000"}  # +5%: within prices.max_jump
    fake.coingecko.prices = {**fake.coingecko.prices, "DOGE": "0.5"}  # x4: held back
    assert await bn.run_once() == "ok"
    assert await cg.run_once() == "held"
    assert await in_force(db, "BTC") == (Decimal("60000.5") + 63000) / 2
    assert await in_force(db, "DOGE") == Decimal("0.1234")


@pytest.mark.parametrize("status,header,wait", [(429, "120", 120), (418, "600", 600), (429, None, 60)])
async def test_429_and_418_are_honoured(db, fake, status, header, wait):
    fake.binance.status, fake.binance.retry_after = status, header
    _cg, bn = pollers(db, fake)
    assert await bn.run_once() == "limited"
    assert await bn.run_once() == "waiting"  # not asked again before Retry-After
    assert fake.binance.calls == 1
    report = await db.read(prices.report)
    state = {s.source: s for s in report.sources}["binance"]
    assert state.error == f"HTTP {status}"
    assert state.polled_at is not None and state.retry_at is not None
    assert round((state.retry_at - state.polled_at).total_seconds()) == wait


@pytest.mark.parametrize(
    "feed,body,prices_",
    [
        ("coingecko", '{"bitcoin": {"usd": 600', None),  # cut short
        ("coingecko", "<html>gateway</html>", None),
        ("coingecko", '{"bitcoin": {"usd": 0}}', None),
        ("coingecko", '{"bitcoin": {"usd": -5}}', None),
        ("coingecko", '{"bitcoin": {"usd": "1e400"}}', None),
        ("binance", '{"code": -1100}', None),
        ("binance", '[{"symbol": "BTCUSDT", "price": 60000.0}]', None),  # a number, not a string
        ("binance", None, {"BTC": "0.00000000"}),
        ("binance", None, {"BTC": "-60000"}),
    ],
)
async def test_malformed_answers_and_bad_prices_change_nothing(db, fake, feed, body, prices_):
    fake.set_both(PRICES)
    cg, bn = pollers(db, fake)
    await cg.run_once()
    await bn.run_once()
    before = await db.read(prices.read_book)
    side = getattr(fake, feed)
    side.body = body
    if prices_ is not None:
        side.prices = {**side.prices, **prices_}
    poller = cg if feed == "coingecko" else bn
    assert await poller.run_once() == "failed"
    assert await db.read(prices.read_book) == before
    assert {s.source: s for s in (await db.read(prices.report)).sources}[feed].error


async def test_unreachable_source_fails_quietly(db):
    params = Params(env={})
    poller = PricePoller(db, params, Binance("http://127.0.0.1:9"))  # nothing listens there
    assert await poller.run_once() == "failed"


async def test_a_source_that_goes_stale_pauses_swaps_and_tells_admins_once(db, fake):
    from datetime import timedelta

    from sqlalchemy import select, update

    from core.exchange.tables import exchange_prices
    from core.platform.notices import notices
    from core.platform.schema import utcnow

    fake.set_both(PRICES)
    cg, bn = pollers(db, fake)
    await cg.run_once()
    await bn.run_once()
    fake.coingecko.status = fake.binance.status = 500
    await db.write(
        lambda c: c.execute(update(exchange_prices).values(fetched_at=utcnow() - timedelta(hours=1)))
    )
    assert await cg.run_once() == "failed"
    assert await bn.run_once() == "failed"
    assert await in_force(db, "BTC") is None
    sent = await db.read(
        lambda c: c.execute(select(notices.c.chat_id, notices.c.template, notices.c.key)).all()
    )
    assert len(sent) == len(prices.MARKET_ASSETS) and {s.chat_id for s in sent} == {7}
    assert {s.template for s in sent} == {"prices_stale"}
