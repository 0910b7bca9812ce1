"""Exchange helpers for tests: prices as both sources read them, and a funded liquidity pool."""

from decimal import Decimal

from core.exchange import prices
from core.exchange.prices import BINANCE, COINGECKO
from core.money.accounts import LIQUIDITY
from core.platform.schema import utcnow
from tests.money import fund

PRICES = {"BTC": "60000", "LTC": "80", "DOGE": "0.1", "USDT": "1", "TRX": "0.25"}


async def set_prices(db, table=None, now=None, sources=(COINGECKO, BINANCE)) -> None:
    got = {k: Decimal(v) for k, v in (table or PRICES).items()}
    for source in sources:
        await db.write(prices.record_prices, source, got, max_jump_bp=10000, max_age=300, now=now or utcnow())


async def fund_liquidity(db, amounts: dict[str, int], key: str = "liq") -> None:
    for asset, amount in amounts.items():
        await fund(db, LIQUIDITY, amount, asset, key=f"{key}:{asset}")
