"""Admins' /rates and /rates set: shows each source's price and age; setting a manual price needs
the 2FA code, is audited, and is used only while every source is stale. Non-admins see nothing."""

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import update

from core.exchange import prices
from core.exchange.tables import exchange_prices
from core.platform import audit
from core.platform.schema import utcnow
from handlers.common.notices import render
from tests.exchange import set_prices
from tests.handlers.cashout.test_cashout import enable_2fa
from tests.handlers.conftest import ADMIN
from tests.handlers.harness import texts


async def manual(db, asset="BTC"):
    return [r.price for r in await db.read(prices.read_book) if r.source == "manual" and r.asset == asset]


async def test_rates_shows_sources_prices_and_ages(tg, db):
    admin = tg.person(ADMIN)
    await admin.send("/start")
    await set_prices(db)
    await db.write(prices.record_failure, "binance", "HTTP 429", retry_after=120)
    out = texts(await admin.send("/rates"))
    assert "<b>BTC</b>: 60000 (market)" in out
    assert "coingecko: 60000" in out and "binance: 60000" in out
    assert "<b>DUST</b>: paused" in out
    assert "error: HTTP 429" in out and "next try in 2 min" in out


async def test_rates_set_is_used_only_while_every_source_is_stale(tg, db):
    admin = tg.person(ADMIN)
    await admin.send("/start")
    await set_prices(db)
    assert "Manual price of BTC: 55000 USD" in texts(await admin.send("/rates set btc 55000"))
    assert await manual(db) == [Decimal("55000")]
    assert [a.action for a in await db.read(audit.recent, 1)] == ["rate_set"]
    assert "<b>BTC</b>: 60000 (market)" in texts(await admin.send("/rates"))
    await db.write(
        lambda c: c.execute(
            update(exchange_prices)
            .where(exchange_prices.c.source != "manual")
            .values(fetched_at=utcnow() - timedelta(hours=1))
        )
    )
    assert "<b>BTC</b>: 55000 (manual)" in texts(await admin.send("/rates"))
    assert "cleared" in texts(await admin.send("/rates set BTC off"))
    assert await manual(db) == []


async def test_rates_set_bad_input(tg, db):
    admin = tg.person(ADMIN)
    await admin.send("/start")
    for command, answer in [
        ("/rates set BTC 0", "is not a price"),
        ("/rates set BTC -5", "is not a price"),
        ("/rates set BTC abc", "is not a price"),
        ("/rates set XMR 5", "Unknown coin"),
        ("/rates set RP 5", "not swapped"),
        ("/rates set DUST 5", "swap.rate.DUST"),
        ("/rates set BTC", "Usage: /rates set"),
        ("/rates nonsense", "Usage: /rates"),
    ]:
        assert answer in texts(await admin.send(command)), command
    assert await db.read(prices.read_book) == []


async def test_rates_set_needs_the_2fa_code_but_rates_does_not(tg, db):
    admin = tg.person(ADMIN)
    await admin.send("/start")
    t = await enable_2fa(db, ADMIN)
    assert "Rates" in texts(await admin.send("/rates"))
    assert "6-digit code" in texts(await admin.send("/rates set BTC 50000"))
    assert "wrong" in texts(await admin.send("000000"))
    assert await manual(db) == []
    assert "wrong" in texts(await admin.send("/rates set BTC 50000 code 000000"))
    assert await manual(db) == []
    await admin.send("/rates set BTC 50000")
    from datetime import UTC, datetime

    assert "Manual price" in texts(await admin.send(t.at(datetime.now(UTC) + timedelta(seconds=30))))
    assert await manual(db) == [Decimal("50000")]


async def test_non_admins_cannot_see_or_set_rates(tg, db):
    eve = tg.person(4242)
    await eve.send("/start")
    for command in ("/rates", "/rates set BTC 1"):
        assert "don't know that command" in texts(await eve.send(command))
    assert await db.read(prices.read_book) == []


def test_stale_notice_reads_well():
    import handlers.exchange.rates  # noqa: F401  (registers the template)
    from handlers.common.i18n import get_i18n

    i18n = get_i18n()
    with i18n.context(), i18n.use_locale("en"):
        text = render("prices_stale", {"asset": "BTC", "since": "2026-12-06 12:00 UTC", "manual": False})
    assert "No fresh price for BTC since 2026-12-06 12:00 UTC" in text and "paused" in text
