"""Price sources over HTTP (aiohttp): CoinGecko and Binance, behind one small interface.

``await source.fetch(session)`` returns {coin: USD price as Decimal} for the coins it knows, or
raises SourceLimited (HTTP 429 or 418, with the Retry-After seconds) or SourceFailed (anything
else: a network error, another status, a body that is not what the API documents). Prices are
read from JSON with ``parse_float=Decimal`` or from strings: never through float. A zero,
negative or absurd price fails the whole answer (core.exchange.prices.parse_price): one bad
number makes the feed suspect.

CoinGecko: ``GET {PRICE_COINGECKO_URL}/api/v3/simple/price?ids=bitcoin,...&vs_currencies=usd``
answers ``{"bitcoin": {"usd": 67187.33}, ...}``; an API key (PRICE_COINGECKO_KEY) goes in the
``x-cg-demo-api-key`` header (``x-cg-pro-api-key`` for a pro-api host).
Binance: ``GET {PRICE_BINANCE_URL}/api/v3/ticker/price?symbols=["BTCUSDT",...]`` answers
``[{"symbol": "BTCUSDT", "price": "67187.33000000"}, ...]``; its prices are in USDT, taken as USD
(so USDT itself is 1 there).
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any, Protocol
from urllib.parse import urlsplit

import aiohttp

from core.exchange.prices import BINANCE, COINGECKO, MARKET_ASSETS, BadPrice, parse_price

TIMEOUT = aiohttp.ClientTimeout(total=10)
DEFAULT_RETRY = {429: 60, 418: 300}  # seconds, when a 429/418 comes without Retry-After
MAX_BODY = 1 << 20

COINGECKO_IDS = {"BTC": "bitcoin", "LTC": "litecoin", "DOGE": "dogecoin", "USDT": "tether", "TRX": "tron"}
BINANCE_SYMBOLS = {"BTC": "BTCUSDT", "LTC": "LTCUSDT", "DOGE": "DOGEUSDT", "TRX": "TRXUSDT"}


class SourceLimited(Exception):
    def __init__(self, status: int, retry_after: int) -> None:
        self.status, self.retry_after = status, retry_after
        super().__init__(f"HTTP {status}, retry after {retry_after}s")


class SourceFailed(Exception):
    pass


class PriceSource(Protocol):
    name: str

    async def fetch(self, session: aiohttp.ClientSession) -> dict[str, Decimal]: ...


def retry_after(status: int, header: str | None) -> int:
    """Seconds to wait after a 429/418: the Retry-After header's seconds, else a default."""
    raw = (header or "").strip()
    if raw.isascii() and raw.isdigit():
        return min(int(raw), 86400)
    return DEFAULT_RETRY.get(status, 60)


async def _get(
    session: aiohttp.ClientSession, url: str, params: dict[str, str], headers: dict[str, str]
) -> Any:
    try:
        async with session.get(url, params=params, headers=headers, timeout=TIMEOUT) as resp:
            if resp.status in (429, 418):
                raise SourceLimited(resp.status, retry_after(resp.status, resp.headers.get("Retry-After")))
            if resp.status != 200:
                raise SourceFailed(f"HTTP {resp.status}")
            body = await resp.content.read(MAX_BODY + 1)
    except (TimeoutError, aiohttp.ClientError) as err:
        raise SourceFailed(type(err).__name__) from None
    if len(body) > MAX_BODY:
        raise SourceFailed("answer too large")
    try:
        return json.loads(body, parse_float=Decimal, parse_int=Decimal)
    except (ValueError, UnicodeDecodeError):
        raise SourceFailed("malformed JSON") from None


def _price(raw: object, asset: str) -> Decimal:
    try:
        return parse_price(raw)
    except BadPrice:
        raise SourceFailed(f"bad price for {asset}: {str(raw)[:20]}") from None


class CoinGecko:
    name = COINGECKO

    def __init__(self, base_url: str, api_key: str = "") -> None:
        self.url = base_url.rstrip("/") + "/api/v3/simple/price"
        self.headers = {"accept": "application/json"}
        if api_key:
            pro = (urlsplit(base_url).hostname or "").startswith("pro-api.")
            self.headers["x-cg-pro-api-key" if pro else "x-cg-demo-api-key"] = api_key

    async def fetch(self, session: aiohttp.ClientSession) -> dict[str, Decimal]:
        ids = {COINGECKO_IDS[a]: a for a in MARKET_ASSETS if a in COINGECKO_IDS}
        params = {"ids": ",".join(ids), "vs_currencies": "usd", "precision": "full"}
        body = await _get(session, self.url, params, self.headers)
        return parse_coingecko(body, ids)


def parse_coingecko(body: Any, ids: dict[str, str]) -> dict[str, Decimal]:
    if not isinstance(body, dict):
        raise SourceFailed("unexpected answer")
    out: dict[str, Decimal] = {}
    for cg_id, asset in ids.items():
        entry = body.get(cg_id)
        if entry is None:
            continue  # a coin it does not list: the other source may
        if not isinstance(entry, dict) or "usd" not in entry:
            raise SourceFailed("unexpected answer")
        out[asset] = _price(entry["usd"], asset)
    return out


class Binance:
    name = BINANCE

    def __init__(self, base_url: str) -> None:
        self.url = base_url.rstrip("/") + "/api/v3/ticker/price"

    async def fetch(self, session: aiohttp.ClientSession) -> dict[str, Decimal]:
        symbols = {BINANCE_SYMBOLS[a]: a for a in MARKET_ASSETS if a in BINANCE_SYMBOLS}
        params = {"symbols": json.dumps(list(symbols), separators=(",", ":"))}
        body = await _get(session, self.url, params, {"accept": "application/json"})
        out = parse_binance(body, symbols)
        if "USDT" in MARKET_ASSETS:
            out["USDT"] = Decimal(1)  # the quote currency of every pair asked for
        return out


def parse_binance(body: Any, symbols: dict[str, str]) -> dict[str, Decimal]:
    if not isinstance(body, list):
        raise SourceFailed("unexpected answer")
    out: dict[str, Decimal] = {}
    for item in body:
        if not isinstance(item, dict) or not isinstance(item.get("symbol"), str):
            raise SourceFailed("unexpected answer")
        asset = symbols.get(item["symbol"])
        if asset is not None:
            price = item.get("price")
            if not isinstance(price, str):  # Binance sends prices as strings
                raise SourceFailed(f"bad price for {asset}")
            out[asset] = _price(price, asset)
    return out


def from_settings(coingecko_url: str, binance_url: str, coingecko_key: str = "") -> list[PriceSource]:
    return [CoinGecko(coingecko_url, coingecko_key), Binance(binance_url)]
