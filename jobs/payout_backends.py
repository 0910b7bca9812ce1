"""Payout backends: where a batch goes. Each has ``send(batch)`` and ``lookup(batch)``, both
returning one core.payouts.Outcome per item, and never raising for the outside world's
failures: an error that proves nothing was paid is ``failed``; a timeout or a dropped
connection after the request went out is ``unknown`` (reconciled later with ``lookup``,
never sent again).

- RpcBackend: Bitcoin Core-compatible JSON-RPC (BTC, LTC, DOGE). One ``sendmany`` per
  batch with the batch key as its comment; ``lookup`` finds it with ``listtransactions``.
  URL with user:pass from the environment (RPC_URL_BTC ...).
- CryptoPayBackend: Crypto Pay API ``transfer`` to the user's Telegram id, ``spend_id``
  ``wd-{withdrawal id}`` (the API refuses a second transfer with one spend_id);
  ``lookup`` asks ``getTransfers`` by spend_id. Token from CRYPTOPAY_TOKEN.
- ManualBackend: the batch as a CSV document to the admins; they settle it by hand.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import logging
import os
from decimal import Decimal

import aiohttp
from yarl import URL

from core.assets import get_asset
from core.money import to_decimal
from core.payouts import Batch, Outcome

log = logging.getLogger(__name__)
TIMEOUT = 30
LOOKUP_PAGES = 200


def coins(amount: int, asset: str) -> str:
    return format(to_decimal(amount, get_asset(asset)), "f")


def _all(batch: Batch, result: str, txid=None, reason=None) -> list[Outcome]:
    return [Outcome(i.withdrawal_id, result, txid, reason) for i in batch.items]


class RpcBackend:
    def __init__(
        self, url: str, *, timeout: float = TIMEOUT, conf_target: int = 6, fee_options: bool = True
    ):  # float ok: seconds
        u = URL(url)
        creds = base64.b64encode(f"{u.user or ''}:{u.password or ''}".encode()).decode()
        self.headers = {"Content-Type": "application/json"}
        if u.user:
            self.headers["Authorization"] = f"Basic {creds}"
        self.url = str(u.with_user(None))
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.conf_target = conf_target
        self.fee_options = fee_options  # False for Dogecoin Core, whose sendmany stops at the comment

    def __repr__(self) -> str:  # the URL holds credentials
        return "RpcBackend(<redacted>)"

    async def _call(self, method: str, params: list):
        body = {"jsonrpc": "1.0", "id": "dustpan", "method": method, "params": params}
        async with aiohttp.ClientSession(timeout=self.timeout) as s:
            async with s.post(self.url, data=json.dumps(body), headers=self.headers) as r:
                if r.status in (401, 403):  # refused before anything ran
                    raise RpcError("payout node refused our credentials")
                reply = json.loads(await r.text(), parse_float=Decimal)
        if reply.get("error"):
            raise RpcError(str(reply["error"].get("message", "error"))[:150])
        return reply["result"]

    async def send(self, batch: Batch) -> list[Outcome]:
        amounts: dict[str, Decimal] = {}
        for i in batch.items:  # two withdrawals to one address are one output
            amounts[i.address] = amounts.get(i.address, Decimal(0)) + to_decimal(i.amount, get_asset(i.asset))
        outputs = {a: format(v, "f") for a, v in amounts.items()}
        try:
            params = ["", outputs, 1, batch.key]
            if self.fee_options:
                params += [[], True, self.conf_target, "economical"]
            txid = await self._call("sendmany", params)
        except RpcError as e:
            return _all(batch, "failed", reason=str(e))
        except aiohttp.ClientConnectorError:
            return _all(batch, "failed", reason="payout node unreachable")
        except (TimeoutError, aiohttp.ClientError, ValueError):
            log.warning("payout batch %s: outcome unknown", batch.key)
            return _all(batch, "unknown")
        return _all(batch, "sent", txid=str(txid))

    async def lookup(self, batch: Batch) -> list[Outcome]:
        """Find the batch's transaction by its comment, newest first, page by page.

        Not in the wallet's whole history: it was never sent (failed). Cannot tell (an
        error, or more history than we page through): still unknown.
        """
        page = 1000
        for skip in range(0, page * LOOKUP_PAGES, page):
            try:
                txs = await self._call("listtransactions", ["*", page, skip, True])
            except (RpcError, TimeoutError, aiohttp.ClientError, ValueError):
                return _all(batch, "unknown")
            for tx in txs:
                if tx.get("comment") == batch.key and tx.get("category") == "send":
                    return _all(batch, "sent", txid=tx["txid"])
            if len(txs) < page:
                return _all(batch, "failed", reason="not sent")
        return _all(batch, "unknown")


class RpcError(Exception):
    pass


class CryptoPayBackend:
    MAINNET = "https://pay.crypt.bot/api"
    TESTNET = "https://testnet-pay.crypt.bot/api"

    def __init__(
        self, token: str, *, base_url: str | None = None, testnet: bool = False, timeout: float = TIMEOUT
    ):  # float ok: seconds
        self.token = token
        self.base = (base_url or (self.TESTNET if testnet else self.MAINNET)).rstrip("/")
        self.timeout = aiohttp.ClientTimeout(total=timeout)

    def __repr__(self) -> str:
        return "CryptoPayBackend(<redacted>)"

    async def _call(self, session, method: str, params: dict):
        async with session.post(
            f"{self.base}/{method}", json=params, headers={"Crypto-Pay-API-Token": self.token}
        ) as r:
            reply = await r.json(content_type=None)
        if not reply.get("ok"):
            raise RpcError(str((reply.get("error") or {}).get("name", "error"))[:150])
        return reply["result"]

    async def send(self, batch: Batch) -> list[Outcome]:
        out = []
        async with aiohttp.ClientSession(timeout=self.timeout) as s:
            for i in batch.items:
                params = {
                    "user_id": i.user_id,
                    "asset": i.asset,
                    "amount": coins(i.amount, i.asset),
                    "spend_id": f"wd-{i.withdrawal_id}",
                    "comment": "Dustpan withdrawal",
                }
                try:
                    t = await self._call(s, "transfer", params)
                    out.append(Outcome(i.withdrawal_id, "sent", txid=f"cryptopay:{t['transfer_id']}"))
                except RpcError as e:
                    out.append(Outcome(i.withdrawal_id, "failed", reason=str(e)))
                except aiohttp.ClientConnectorError:
                    out.append(Outcome(i.withdrawal_id, "failed", reason="payout service unreachable"))
                except (TimeoutError, aiohttp.ClientError, ValueError):
                    out.append(Outcome(i.withdrawal_id, "unknown"))
        return out

    async def lookup(self, batch: Batch) -> list[Outcome]:
        out = []
        async with aiohttp.ClientSession(timeout=self.timeout) as s:
            for i in batch.items:
                try:
                    found = await self._call(s, "getTransfers", {"spend_id": f"wd-{i.withdrawal_id}"})
                except (RpcError, TimeoutError, aiohttp.ClientError, ValueError):
                    out.append(Outcome(i.withdrawal_id, "unknown"))
                    continue
                items = [t for t in found.get("items", []) if t.get("spend_id") == f"wd-{i.withdrawal_id}"]
                if items:
                    out.append(Outcome(i.withdrawal_id, "sent", txid=f"cryptopay:{items[0]['transfer_id']}"))
                else:
                    out.append(Outcome(i.withdrawal_id, "failed", reason="not sent"))
        return out


class ManualBackend:
    """Sends the batch to every admin as a CSV (id, address, amount); an admin settles it."""

    def __init__(self, bot, admin_ids) -> None:
        self.bot, self.admin_ids = bot, admin_ids

    @staticmethod
    def csv_bytes(batch: Batch) -> bytes:
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(["withdrawal_id", "asset", "address", "amount"])
        for i in batch.items:
            w.writerow([i.withdrawal_id, i.asset, i.address, coins(i.amount, i.asset)])
        return buf.getvalue().encode()

    async def send(self, batch: Batch) -> list[Outcome]:
        from aiogram.types import BufferedInputFile

        doc = BufferedInputFile(self.csv_bytes(batch), filename=f"batch-{batch.id}-{batch.asset}.csv")
        from handlers.i18n import _, get_i18n

        i18n = get_i18n()
        with i18n.context(), i18n.use_locale("en"):  # admins' working language
            caption = _(
                "Payout batch {id} ({asset}, {count} items): /paid {id} TXID or /failed {id} REASON"
            ).format(id=batch.id, asset=batch.asset, count=len(batch.items))
        for admin in self.admin_ids:
            try:
                await self.bot.send_document(admin, doc, caption=caption, parse_mode=None)
            except Exception:
                log.warning("could not send batch %s to admin %s", batch.id, admin, exc_info=True)
        return _all(batch, "manual")

    lookup = send  # after a restart the CSV is simply sent again; nothing is paid by it


def from_env(name: str, asset: str, *, bot=None, admin_ids=frozenset(), env=None):
    """The backend called ``name`` for ``asset``, or None when it is not configured or not known
    (a batch then waits, still open, for a backend that can settle it)."""
    env = os.environ if env is None else env
    if name == "rpc":
        url = env.get(f"RPC_URL_{asset}")
        target = int(env.get("RPC_CONF_TARGET") or 6)
        return RpcBackend(url, conf_target=target, fee_options=asset != "DOGE") if url else None
    if name == "cryptopay":
        token = env.get("CRYPTOPAY_TOKEN")
        testnet = (env.get("CRYPTOPAY_NETWORK") or "mainnet").lower() == "testnet"
        return CryptoPayBackend(token, testnet=testnet, base_url=env.get("CRYPTOPAY_URL")) if token else None
    if name == "manual":
        return ManualBackend(bot, admin_ids)
    return None


__all__ = ["RpcBackend", "CryptoPayBackend", "ManualBackend", "from_env"]
