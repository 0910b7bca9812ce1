"""Fake payout services on 127.0.0.1: a Bitcoin Core-style JSON-RPC wallet and the Crypto Pay API.

Each keeps a log of the payments it executed (``paid``), so a test can check nothing was
paid twice. ``hang_after_pay`` makes the next payment execute and then not answer in time.
"""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal

from aiohttp import web


class FakeRpc:
    def __init__(self, user="rpc", password="secret") -> None:
        self.auth = (user, password)
        self.paid: list[dict] = []  # {"txid", "comment", "outputs"}
        self.hang_after_pay = 0  # the next N sendmany calls pay, then sleep past the client timeout
        self.fail_next = None  # an error message for the next sendmany
        self.hang_seconds = 5.0

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/", self.handle)
        return app

    async def handle(self, request: web.Request) -> web.Response:
        import base64

        expected = "Basic " + base64.b64encode(f"{self.auth[0]}:{self.auth[1]}".encode()).decode()
        if request.headers.get("Authorization") != expected:
            return web.Response(status=401)
        body = json.loads(await request.text(), parse_float=Decimal)
        method, params = body["method"], body["params"]
        if method == "sendmany":
            if self.fail_next:
                msg, self.fail_next = self.fail_next, None
                return web.json_response(
                    {"result": None, "error": {"code": -6, "message": msg}, "id": body["id"]}, status=500
                )
            if any(p["comment"] == params[3] for p in self.paid):  # a real wallet would pay again: we log it
                pass
            txid = f"{len(self.paid) + 1:064x}"
            self.paid.append(
                {
                    "txid": txid,
                    "comment": params[3],
                    "outputs": {a: str(Decimal(v)) for a, v in params[1].items()},
                }
            )
            if self.hang_after_pay:
                self.hang_after_pay -= 1
                await asyncio.sleep(self.hang_seconds)
            return web.json_response({"result": txid, "error": None, "id": body["id"]})
        if method == "listtransactions":
            txs = [{"txid": p["txid"], "comment": p["comment"], "category": "send"} for p in self.paid]
            count, skip = params[1], params[2]  # the newest ``count`` after skipping ``skip``, oldest first
            txs = txs[max(0, len(txs) - skip - count) : max(0, len(txs) - skip)]
            return web.json_response({"result": txs, "error": None, "id": body["id"]})
        return web.json_response(
            {"result": None, "error": {"code": -32601, "message": "Method not found"}, "id": body["id"]},
            status=404,
        )


class FakeCryptoPay:
    def __init__(self, token="12345:AAtoken") -> None:
        self.token = token
        self.paid: list[dict] = []
        self.hang_after_pay = 0
        self.hang_seconds = 5.0
        self.balance: dict[str, Decimal] = {}

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/api/{method}", self.handle)
        return app

    async def handle(self, request: web.Request) -> web.Response:
        if request.headers.get("Crypto-Pay-API-Token") != self.token:
            return web.json_response(
                {"ok": False, "error": {"code": 401, "name": "UNAUTHORIZED"}}, status=401
            )
        params = await request.json()
        method = request.match_info["method"]
        if method == "transfer":
            for p in self.paid:
                if p["spend_id"] == params["spend_id"]:
                    return web.json_response(
                        {"ok": False, "error": {"code": 400, "name": "SPEND_ID_ALREADY_USED"}}
                    )
            asset, amount = params["asset"], Decimal(params["amount"])
            if asset in self.balance and self.balance[asset] < amount:
                return web.json_response({"ok": False, "error": {"code": 400, "name": "INSUFFICIENT_FUNDS"}})
            t = {
                "transfer_id": len(self.paid) + 1,
                "spend_id": params["spend_id"],
                "user_id": params["user_id"],
                "asset": asset,
                "amount": params["amount"],
                "status": "completed",
                "completed_at": "2026-11-30T12:00:00.000Z",
            }
            self.paid.append(t)
            if self.hang_after_pay:
                self.hang_after_pay -= 1
                await asyncio.sleep(self.hang_seconds)
            return web.json_response({"ok": True, "result": t})
        if method == "getTransfers":
            items = [p for p in self.paid if params.get("spend_id") in (None, p["spend_id"])]
            return web.json_response({"ok": True, "result": {"items": items}})
        return web.json_response({"ok": False, "error": {"code": 405, "name": "METHOD_NOT_FOUND"}})


async def serve(app: web.Application, port: int = 0) -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    return runner, site._server.sockets[0].getsockname()[1]
