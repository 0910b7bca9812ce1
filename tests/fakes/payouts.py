"""Fake payout services on 127.0.0.1: a Bitcoin Core-style JSON-RPC wallet and the Crypto Pay API.

Each keeps a log of the payments it executed (``paid``), so a test can check nothing was
paid twice. ``hang_after_pay`` makes the next payment execute and then not answer in time.

The wallet also plays what a real node does after a call it did not answer: ``hold_sends``
parks the next ``sendmany`` calls unanswered and unpaid, and ``release()`` pays them later
(a send that lands after the caller gave up and looked); ``mine``, ``evict``, ``bump`` (a
fee bump: a replacement with the same comment and outputs) and ``double_spend`` (a
conflicting transaction that pays someone else) move a payment through the states
``listtransactions``, ``gettransaction`` and ``getmempoolentry`` report.
"""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal

import pytest
from aiohttp import web


def _num(d: Decimal) -> float:  # float ok: JSON numbers as a node writes them; parsed back as Decimal
    return float(d)


class FakeRpc:
    def __init__(self, user="rpc", password="secret") -> None:
        self.auth = (user, password)
        # {"txid", "comment", "outputs": {address: "0.00001000"}, "confirmations", "in_mempool",
        #  "abandoned", "walletconflicts", "replaced_by_txid", "replaces_txid"}
        self.paid: list[dict] = []
        self.hang_after_pay = 0  # the next N sendmany calls pay, then sleep past the client timeout
        self.fail_next = None  # an error message for the next sendmany
        self.hang_seconds = 5.0
        self.hold_sends = 0  # the next N sendmany calls are parked: not paid, not answered
        self.held: list[dict] = []  # {"params", "answered": asyncio.Event, "txid"}
        self.calls: list[str] = []
        self.wallet_balance = Decimal("21000000")  # getbalance: what the hot wallet holds

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/", self.handle)
        return app

    # -- what the node's owner (or the network) does -----------------------------------------

    def pay(self, comment: str, outputs: dict, **extra) -> dict:
        tx = {
            "txid": f"{len(self.paid) + 1:064x}",
            "comment": comment,
            "outputs": {a: str(Decimal(v)) for a, v in outputs.items()},
            "confirmations": 0,
            "in_mempool": True,
            "abandoned": False,
            "walletconflicts": [],
            **extra,
        }
        self.paid.append(tx)
        return tx

    def release(self) -> list[dict]:
        """Pay every parked sendmany now (their callers gave up long ago)."""
        done = []
        for call in self.held:
            tx = self.pay(call["params"][3], call["params"][1])
            call["txid"] = tx["txid"]
            call["answered"].set()
            done.append(tx)
        self.held = []
        return done

    def tx(self, txid: str) -> dict:
        return next(t for t in self.paid if t["txid"] == txid)

    def mine(self, txid: str, confirmations: int = 1) -> None:
        t = self.tx(txid)
        t.update(confirmations=confirmations, in_mempool=False)

    def evict(self, txid: str) -> None:
        self.tx(txid)["in_mempool"] = False

    def bump(self, txid: str) -> dict:
        """bumpfee: a replacement paying the same outputs, with the same comment; the original
        leaves the mempool and is conflicted once the replacement is mined."""
        old = self.tx(txid)
        new = self.pay(old["comment"], old["outputs"], replaces_txid=txid, walletconflicts=[txid])
        old.update(in_mempool=False, replaced_by_txid=new["txid"], walletconflicts=[new["txid"]])
        return new

    def double_spend(self, txid: str) -> dict:
        """A confirmed transaction spending the same coins that pays someone else (no comment)."""
        old = self.tx(txid)
        other = self.pay("", {"1BitcoinEaterAddressDontSendf59kuE": "0.001"}, walletconflicts=[txid])
        self.mine(other["txid"])
        old.update(in_mempool=False, confirmations=-1, walletconflicts=[other["txid"]])
        return other

    # -- the JSON-RPC side -------------------------------------------------------------------

    def _entries(self, t: dict) -> list[dict]:
        """listtransactions' "send" entries of one wallet transaction: one per output."""
        common = {
            "category": "send",
            "txid": t["txid"],
            "confirmations": t["confirmations"],
            "walletconflicts": list(t["walletconflicts"]),
            "mempoolconflicts": [],
            "abandoned": t["abandoned"],
            "fee": -0.0000141,
            "bip125-replaceable": "yes" if t["confirmations"] <= 0 else "no",
        }
        if t["confirmations"] <= 0:
            common["trusted"] = t["in_mempool"]
        if t.get("comment"):
            common["comment"] = t["comment"]
        for k in ("replaced_by_txid", "replaces_txid"):
            if t.get(k):
                common[k] = t[k]
        return [
            {**common, "address": a, "amount": -_num(Decimal(v)), "vout": n}
            for n, (a, v) in enumerate(t["outputs"].items())
        ]

    async def handle(self, request: web.Request) -> web.Response:
        import base64

        expected = "Basic " + base64.b64encode(f"{self.auth[0]}:{self.auth[1]}".encode()).decode()
        if request.headers.get("Authorization") != expected:
            return web.Response(status=401)
        body = json.loads(await request.text(), parse_float=Decimal)
        method, params = body["method"], body["params"]
        self.calls.append(method)

        def ok(result):
            return web.json_response({"result": result, "error": None, "id": body["id"]})

        def error(code, message, status=500):
            return web.json_response(
                {"result": None, "error": {"code": code, "message": message}, "id": body["id"]}, status=status
            )

        if method == "sendmany":
            if self.fail_next:
                msg, self.fail_next = self.fail_next, None
                return error(-6, msg)
            if self.hold_sends:
                self.hold_sends -= 1
                call = {"params": params, "answered": asyncio.Event(), "txid": None}
                self.held.append(call)
                try:  # the caller timed out long before; a test that never releases it ends here
                    await asyncio.wait_for(call["answered"].wait(), self.hang_seconds * 4)
                except TimeoutError:
                    return error(-1, "held and never released")
                return ok(call["txid"])
            tx = self.pay(params[3], params[1])  # a real wallet pays a repeated comment again: logged
            if self.hang_after_pay:
                self.hang_after_pay -= 1
                await asyncio.sleep(self.hang_seconds)
            return ok(tx["txid"])
        if method == "listtransactions":
            entries = [e for t in self.paid for e in self._entries(t)]
            count, skip = params[1], params[2]  # the newest ``count`` after skipping ``skip``, oldest first
            return ok(entries[max(0, len(entries) - skip - count) : max(0, len(entries) - skip)])
        if method == "gettransaction":
            t = next((t for t in self.paid if t["txid"] == params[0]), None)
            if t is None:
                return error(-5, "Invalid or non-wallet transaction id")
            entries = self._entries(t)
            top = {k: v for k, v in entries[0].items() if k not in ("address", "amount", "vout", "category")}
            top["details"] = [
                {k: e[k] for k in ("address", "category", "amount", "vout", "abandoned")} for e in entries
            ]
            return ok(top)
        if method == "getbalance":
            return ok(_num(self.wallet_balance))
        if method == "getmempoolentry":
            t = next((t for t in self.paid if t["txid"] == params[0]), None)
            if t is None or not t["in_mempool"] or t["confirmations"] != 0:
                return error(-5, "Transaction not in mempool")
            return ok({"vsize": 250, "fees": {"base": 0.0000141}})
        return error(-32601, "Method not found", status=404)


class FakeCryptoPay:
    """One Crypto Pay app. Several Dustpan installations may share it (one token, one list of
    transfers): ``spend_id`` is unique per app, as the real API enforces."""

    def __init__(self, token="12345:AAtoken") -> None:
        self.token = token
        self.paid: list[dict] = []
        self.hang_after_pay = 0
        self.hang_seconds = 5.0
        self.balance: dict[str, Decimal] = {}
        self.fail_next: tuple[int, str] | None = None  # (code, name) for the next transfer

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/api/{method}", self.handle)
        return app

    def pay(self, spend_id: str, user_id: int, asset: str, amount: str) -> dict:
        t = {
            "transfer_id": len(self.paid) + 1,
            "spend_id": spend_id,
            "user_id": user_id,
            "asset": asset,
            "amount": amount,
            "status": "completed",
            "completed_at": "2026-11-30T12:00:00.000Z",
        }
        self.paid.append(t)
        return t

    async def handle(self, request: web.Request) -> web.Response:
        if request.headers.get("Crypto-Pay-API-Token") != self.token:
            return web.json_response(
                {"ok": False, "error": {"code": 401, "name": "UNAUTHORIZED"}}, status=401
            )
        params = await request.json()
        method = request.match_info["method"]
        if method == "transfer":
            if self.fail_next:
                (code, name), self.fail_next = self.fail_next, None
                return web.json_response({"ok": False, "error": {"code": code, "name": name}}, status=code)
            for p in self.paid:
                if p["spend_id"] == params["spend_id"]:
                    return web.json_response(
                        {"ok": False, "error": {"code": 400, "name": "SPEND_ID_ALREADY_USED"}}, status=400
                    )
            asset, amount = params["asset"], Decimal(params["amount"])
            if asset in self.balance and self.balance[asset] < amount:
                return web.json_response({"ok": False, "error": {"code": 400, "name": "INSUFFICIENT_FUNDS"}})
            t = self.pay(params["spend_id"], params["user_id"], asset, params["amount"])
            if self.hang_after_pay:
                self.hang_after_pay -= 1
                await asyncio.sleep(self.hang_seconds)
            return web.json_response({"ok": True, "result": t})
        if method == "getBalance":  # only the coins a test gave a balance
            return web.json_response(
                {
                    "ok": True,
                    "result": [
                        {"currency_code": a, "available": str(v), "onhold": "0"} for a, v in self.balance.items()
                    ],
                }
            )
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


@pytest.fixture
async def node():
    """A fake Bitcoin Core wallet node on 127.0.0.1; ``node.url`` carries its credentials."""
    fake = FakeRpc()
    runner, port = await serve(fake.app())
    fake.url = f"http://rpc:secret@127.0.0.1:{port}/"
    yield fake
    fake.release()  # nothing parked stays behind the server's shutdown
    await runner.cleanup()
