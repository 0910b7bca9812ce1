"""A Bitcoin Core node, read only: the newest block's height and the hash of a block.

The crash salt is the hash of a Bitcoin block that was not mined when the chain was committed.
With a node configured, /crashnew asks it for the newest height (``getblockcount``) and
/crashsalt checks the hash an admin gives against the node's (``getblockhash``); without one,
the admin types the height and the bot can only check the hash's form and the time.

The node is the one in ``RPC_URL_BTC`` (``http://user:pass@host:8332/``, also the ``rpc`` payout
backend's wallet URL: these two calls work on a wallet path too). Errors never carry the URL.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Mapping
from typing import Any

import aiohttp
from yarl import URL

ENV = "RPC_URL_BTC"
TIMEOUT = 10


class NodeError(Exception):
    """The node did not answer, refused, or answered something that is not what was asked."""


class BitcoinNode:
    def __init__(self, url: str, *, timeout: float = TIMEOUT) -> None:  # float ok: seconds
        u = URL(url)
        self.headers = {"Content-Type": "application/json"}
        if u.user:
            creds = base64.b64encode(f"{u.user}:{u.password or ''}".encode()).decode()
            self.headers["Authorization"] = f"Basic {creds}"
        self.url = str(u.with_user(None))
        self.timeout = aiohttp.ClientTimeout(total=timeout)

    def __repr__(self) -> str:  # the URL holds credentials
        return "BitcoinNode(<redacted>)"

    async def _call(self, method: str, params: list[Any]) -> Any:
        body = {"jsonrpc": "1.0", "id": "dustpan", "method": method, "params": params}
        try:
            async with aiohttp.ClientSession(timeout=self.timeout) as s:
                async with s.post(self.url, data=json.dumps(body), headers=self.headers) as r:
                    if r.status in (401, 403):
                        raise NodeError("the node refused our credentials")
                    reply = json.loads(await r.text())
        except (TimeoutError, aiohttp.ClientError, ValueError) as e:
            raise NodeError(f"no answer from the node ({type(e).__name__})") from None
        if not isinstance(reply, dict):
            raise NodeError("the node's answer is not JSON-RPC")
        if reply.get("error"):
            error = reply["error"]
            raise NodeError(str(error.get("message", "error") if isinstance(error, dict) else error)[:150])
        return reply.get("result")

    async def height(self) -> int:
        """The height of the newest block the node knows."""
        result = await self._call("getblockcount", [])
        if type(result) is not int or result < 0:
            raise NodeError("getblockcount did not return a height")
        return result

    async def block_hash(self, height: int) -> str:
        """The hash of the block at ``height`` (64 lowercase hex characters)."""
        result = await self._call("getblockhash", [height])
        if not isinstance(result, str) or len(result) != 64:
            raise NodeError("getblockhash did not return a block hash")
        return result.lower()


def from_env(env: Mapping[str, str] | None = None) -> BitcoinNode | None:
    """The node in ``RPC_URL_BTC``, or None when none is configured."""
    url = ((os.environ if env is None else env).get(ENV) or "").strip()
    return BitcoinNode(url) if url else None
