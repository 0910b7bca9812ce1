"""A fake Bitcoin Core node on 127.0.0.1 for the crash salt: getblockcount and getblockhash.

``btc_node`` starts one and points RPC_URL_BTC at it (with credentials, as a real node wants);
tests mine blocks with ``mine(height, hash)``.
"""

from __future__ import annotations

import base64
import hashlib
import json

import pytest
from aiohttp import web


class FakeNode:
    def __init__(self, tip: int = 925_000, user: str = "rpc", password: str = "node-secret") -> None:
        self.tip = tip
        self.auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        self.credentials = f"{user}:{password}"
        self.hashes: dict[int, str] = {}
        self.calls: list[str] = []
        self.down = False

    def hash_of(self, height: int) -> str:
        return self.hashes.get(height) or hashlib.sha256(b"block %d" % height).hexdigest()

    def mine(self, height: int, block_hash: str | None = None) -> str:
        self.tip = max(self.tip, height)
        if block_hash:
            self.hashes[height] = block_hash
        return self.hash_of(height)

    async def handle(self, request: web.Request) -> web.Response:
        if self.down:
            return web.Response(status=503, text="warming up")
        if request.headers.get("Authorization") != self.auth:
            return web.Response(status=401)
        body = json.loads(await request.text())
        method, params = body["method"], body["params"]
        self.calls.append(method)
        if method == "getblockcount":
            return web.json_response({"result": self.tip, "error": None, "id": body["id"]})
        if method == "getblockhash":
            if not 0 <= params[0] <= self.tip:
                error = {"code": -8, "message": "Block height out of range"}
                return web.json_response({"result": None, "error": error, "id": body["id"]}, status=500)
            return web.json_response({"result": self.hash_of(params[0]), "error": None, "id": body["id"]})
        error = {"code": -32601, "message": "Method not found"}
        return web.json_response({"result": None, "error": error, "id": body["id"]}, status=404)


async def serve(node: FakeNode) -> web.AppRunner:
    """Start ``node`` on a free port of 127.0.0.1; ``node.url`` is what RPC_URL_BTC takes."""
    app = web.Application()
    app.router.add_post("/", node.handle)
    app.router.add_post("/wallet/{name}", node.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    node.url = f"http://{node.credentials}@127.0.0.1:{port}/wallet/payouts"
    return runner


@pytest.fixture
async def btc_node(monkeypatch):
    node = FakeNode()
    runner = await serve(node)
    monkeypatch.setenv("RPC_URL_BTC", node.url)
    yield node
    await runner.cleanup()
