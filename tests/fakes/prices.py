"""A local fake of the two price APIs, on 127.0.0.1: CoinGecko and Binance in one server.

``GET /api/v3/simple/price?ids=bitcoin,...&vs_currencies=usd`` answers like CoinGecko,
``{"bitcoin": {"usd": 67187.33}, ...}`` (numbers, written exactly as given), and
``GET /api/v3/ticker/price?symbols=["BTCUSDT",...]`` answers like Binance,
``[{"symbol": "BTCUSDT", "price": "67187.33000000"}, ...]`` (strings). Each side has its own
``Feed``: set ``prices`` (coin -> decimal text), or make it answer ``status`` (429, 418 with
``retry_after``, 500) or a raw ``body`` (malformed JSON). ``calls`` counts requests per side.

    async with FakePrices() as fake:      # fake.url -> http://127.0.0.1:<port>
        fake.coingecko.prices = {"BTC": "60000", ...}
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from aiohttp import web

CG_IDS = {"bitcoin": "BTC", "litecoin": "LTC", "dogecoin": "DOGE", "tether": "USDT", "tron": "TRX"}


@dataclass
class Feed:
    prices: dict[str, str] = field(default_factory=dict)  # coin -> price text, written as is
    status: int = 200
    retry_after: str | None = None
    body: str | None = None  # a raw answer instead of the prices (malformed JSON...)
    calls: int = 0
    headers: list[dict[str, str]] = field(default_factory=list)
    queries: list[dict[str, str]] = field(default_factory=list)

    def answer(self, request: web.Request, build) -> web.Response:
        self.calls += 1
        self.headers.append(dict(request.headers))
        self.queries.append(dict(request.query))
        if self.status != 200:
            headers = {"Retry-After": self.retry_after} if self.retry_after is not None else {}
            return web.json_response({"error": "limited"}, status=self.status, headers=headers)
        text = self.body if self.body is not None else build(request)
        return web.Response(text=text, content_type="application/json")


@dataclass
class FakePrices:
    coingecko: Feed = field(default_factory=Feed)
    binance: Feed = field(default_factory=Feed)
    url: str = ""
    _runner: web.AppRunner | None = None

    def set_both(self, prices: dict[str, str]) -> None:
        self.coingecko.prices = dict(prices)
        self.binance.prices = {k: v for k, v in prices.items() if k != "USDT"}

    def _coingecko(self, request: web.Request) -> str:
        wanted = request.query.get("ids", "").split(",")
        parts = [
            f'"{cg}": {{"usd": {self.coingecko.prices[CG_IDS[cg]]}}}'
            for cg in wanted
            if cg in CG_IDS and CG_IDS[cg] in self.coingecko.prices
        ]
        return "{" + ", ".join(parts) + "}"  # numbers exactly as written, as the API sends them

    def _binance(self, request: web.Request) -> str:
        symbols = json.loads(request.query.get("symbols", "[]"))
        out = [
            {"symbol": s, "price": self.binance.prices[s.removesuffix("USDT")]}
            for s in symbols
            if s.removesuffix("USDT") in self.binance.prices
        ]
        return json.dumps(out)

    async def _cg(self, request: web.Request) -> web.Response:
        return self.coingecko.answer(request, self._coingecko)

    async def _bn(self, request: web.Request) -> web.Response:
        return self.binance.answer(request, self._binance)

    async def __aenter__(self) -> FakePrices:
        app = web.Application()
        app.router.add_get("/api/v3/simple/price", self._cg)
        app.router.add_get("/api/v3/ticker/price", self._bn)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
