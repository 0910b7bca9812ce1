"""Prices per source: the median of fresh ones, a manual price while all are stale, jumps held
back until a second source confirms them, admins told once per stale spell."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from core.exchange import prices
from core.exchange.prices import BINANCE, COINGECKO, BadPrice, median, parse_price, price_of, read_book
from core.platform.notices import notices

T0 = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
AGE = 300
JUMP = 1000  # 10%


async def record(db, source, got, now=T0):
    return await db.write(
        prices.record_prices,
        source,
        {k: Decimal(v) for k, v in got.items()},
        max_jump_bp=JUMP,
        max_age=AGE,
        now=now,
    )


async def usd(db, asset, now=T0, dust=None):
    book = await db.read(read_book)
    p = price_of(book, asset, now, AGE, dust)
    return p.usd if p else None


@pytest.mark.parametrize(
    "raw,ok",
    [
        ("67187.33", True),
        ("0.00000001", True),
        (Decimal("8.5E-5"), True),
        ("0", False),
        ("-1", False),
        ("1e5", False),
        ("NaN", False),
        (Decimal("NaN"), False),
        (Decimal("-3"), False),
        ("", False),
        (True, False),
        (1.5, False),  # a float is refused: prices never pass through float
        ("99999999999999", False),
    ],
)
def test_parse_price(raw, ok):
    if ok:
        assert parse_price(raw) > 0
    else:
        with pytest.raises(BadPrice):
            parse_price(raw)


def test_median_is_exact():
    assert median([Decimal("1"), Decimal("2")]) == Decimal("1.5")
    assert median([Decimal("3"), Decimal("1"), Decimal("2")]) == Decimal("2")
    assert median([Decimal("0.00000001"), Decimal("0.00000002")]) == Decimal("0.000000015")


async def test_two_sources_that_agree_give_their_median(db):
    await record(db, COINGECKO, {"BTC": "60000"})
    await record(db, BINANCE, {"BTC": "60100"})
    assert await usd(db, "BTC") == Decimal("60050")


async def test_a_stale_source_drops_out_and_all_stale_pauses(db):
    await record(db, COINGECKO, {"BTC": "60000"})
    await record(db, BINANCE, {"BTC": "61000"}, now=T0 + timedelta(seconds=200))
    later = T0 + timedelta(seconds=AGE + 1)
    assert await usd(db, "BTC", now=later) == Decimal("61000")  # only binance is fresh
    assert await usd(db, "BTC", now=later + timedelta(seconds=200)) is None  # nothing fresh: paused


async def test_manual_price_only_while_every_source_is_stale(db):
    await record(db, COINGECKO, {"BTC": "60000"})
    await db.write(prices.set_manual_price, "BTC", Decimal("55000"), admin_id=1, now=T0)
    assert await usd(db, "BTC") == Decimal("60000")
    assert await usd(db, "BTC", now=T0 + timedelta(seconds=AGE + 1)) == Decimal("55000")
    await db.write(prices.set_manual_price, "BTC", None, admin_id=1, now=T0)
    assert await usd(db, "BTC", now=T0 + timedelta(seconds=AGE + 1)) is None


async def test_a_jump_is_held_until_a_second_source_confirms_it(db):
    await record(db, COINGECKO, {"BTC": "60000"})
    await record(db, BINANCE, {"BTC": "60000"})
    t1 = T0 + timedelta(seconds=60)
    assert await record(db, COINGECKO, {"BTC": "6000"}, now=t1) == ["BTC"]  # a bad feed: -90%
    assert await usd(db, "BTC", now=t1) == Decimal("60000")
    await record(db, BINANCE, {"BTC": "60100"}, now=t1)  # the other source disagrees: still held
    assert await usd(db, "BTC", now=t1) == Decimal("60050")
    # a real move: both sources see it, the second confirms the first
    t2 = t1 + timedelta(seconds=60)
    assert await record(db, COINGECKO, {"BTC": "80000"}, now=t2) == ["BTC"]
    assert await record(db, BINANCE, {"BTC": "80400"}, now=t2) == []
    assert await usd(db, "BTC", now=t2) == Decimal("80200")


async def test_dust_is_priced_by_the_setting_and_rp_never(db):
    assert await usd(db, "DUST") is None
    assert await usd(db, "DUST", dust=Decimal("0.001")) == Decimal("0.001")
    assert price_of([], "RP", T0, AGE, Decimal(1)) is None


async def test_admins_are_told_once_per_stale_spell(db):
    await record(db, COINGECKO, {"BTC": "60000", "DOGE": "0.1"})
    later = T0 + timedelta(seconds=AGE + 5)
    assert await db.write(prices.warn_stale, [7, 8], max_age=AGE, now=later) == ["BTC", "DOGE"]
    await db.write(prices.warn_stale, [7, 8], max_age=AGE, now=later + timedelta(seconds=60))
    rows = await db.read(lambda c: c.execute(select(notices.c.chat_id, notices.c.template)).all())
    assert sorted(rows) == [(7, "prices_stale")] * 2 + [(8, "prices_stale")] * 2
    # fresh again, then stale again: a new spell, told again
    await record(db, COINGECKO, {"BTC": "60000"}, now=later)
    await db.write(prices.warn_stale, [7], max_age=AGE, now=later + timedelta(seconds=AGE + 5))
    count = await db.read(lambda c: c.execute(select(notices.c.id)).all())
    assert len(count) == 5  # BTC's new spell; DOGE's spell is the same one


async def test_a_new_install_that_never_read_a_price_tells_no_one(db):
    assert await db.write(prices.warn_stale, [7], max_age=AGE, now=T0) == []


async def test_retry_after_keeps_a_source_quiet(db):
    await db.write(prices.record_failure, BINANCE, "HTTP 429", retry_after=120, now=T0)
    assert not await db.read(prices.source_due, BINANCE, T0 + timedelta(seconds=119))
    assert await db.read(prices.source_due, BINANCE, T0 + timedelta(seconds=121))
    assert await db.read(prices.source_due, COINGECKO, T0)
