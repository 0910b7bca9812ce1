"""Payout backends: where a batch goes. Each has ``send(batch)`` and ``lookup(batch)``, both
returning one core.cashout.payouts.Outcome per item, and never raising for the outside world's
failures: an error that proves nothing was paid is ``failed``; a timeout, a dropped
connection after the request went out, or a service error that may have come after the
payment is ``unknown`` (reconciled later with ``lookup``, never sent again).

``lookup`` never answers ``failed``: a payment it cannot find may still land (a node that
took the call and sends later, a wallet that broadcasts again), so the items stay
``unknown`` and are looked up again every ``payout.reconcile_after``; only an admin with
evidence marks them failed (``/failed BATCH EVIDENCE``, core.cashout.payouts.settle_manual).

- RpcBackend: Bitcoin Core-compatible JSON-RPC (BTC, LTC, DOGE). One ``sendmany`` per
  batch with the batch key as its comment. ``lookup`` finds the wallet transactions with
  that comment (``listtransactions``, newest first, back to a day before the batch) that
  pay exactly the batch's outputs; one that is mined, or in the node's mempool
  (``getmempoolentry``), settles the batch as sent. One that is neither (evicted, conflicted,
  abandoned) is followed through its ``walletconflicts``, ``mempoolconflicts`` and
  ``replaced_by_txid`` (``gettransaction``): a replacement that pays the same outputs and
  was mined or is in the mempool counts. Anything else stays unknown.
  URL with user:pass from the environment (RPC_URL_BTC ...).
- CryptoPayBackend: Crypto Pay API ``transfer`` to the user's Telegram id. The ``spend_id``
  (which the API accepts once per app) is ``wd-{withdrawal id}-{mac}``, the mac an HMAC of
  the withdrawal id under this installation's id (itself an HMAC of SECRET_KEY), so two
  installations sharing one app never collide and nobody can guess ours. ``lookup`` asks
  ``getTransfers`` by spend id and takes a transfer as ours only if spend id, recipient,
  coin and amount all match. SPEND_ID_ALREADY_USED means "maybe sent": unknown, then lookup.
  Token from CRYPTOPAY_TOKEN.
- ManualBackend: the batch as a CSV document to the admins; they settle it by hand.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import hmac
import io
import json
import logging
import os
from datetime import timedelta
from decimal import Decimal, InvalidOperation

import aiohttp
from yarl import URL

from core.cashout.payouts import Batch, Outcome
from core.money.amounts import to_decimal
from core.money.assets import get_asset

log = logging.getLogger(__name__)
TIMEOUT = 30
LOOKUP_PAGES = 200
# Our server's clock and the node's may differ: look this far before a batch was formed.
CLOCK_MARGIN = timedelta(days=1)
NOT_FOUND = -5  # Bitcoin Core's RPC_INVALID_ADDRESS_OR_KEY: no such transaction (wallet or mempool)


def to_minor(value: Decimal, asset: str) -> int:
    """A node's or Crypto Pay's decimal amount in minor units, rounded down (never counts a
    fraction of a unit we could not send)."""
    if not value.is_finite():
        raise ValueError("not a finite amount")
    return int((value * get_asset(asset).unit).to_integral_value(rounding="ROUND_FLOOR"))


def coins(amount: int, asset: str) -> str:
    return format(to_decimal(amount, get_asset(asset)), "f")


def _all(batch: Batch, result: str, txid=None, reason=None) -> list[Outcome]:
    return [Outcome(i.withdrawal_id, result, txid, reason) for i in batch.items]


def installation_id(secret_key: str) -> bytes:
    """This installation's secret id: every instance of one deployment shares SECRET_KEY, so
    they share it; another deployment (another SECRET_KEY) has another one."""
    if not secret_key:
        raise ValueError("an installation id needs SECRET_KEY")
    return hmac.new(secret_key.encode(), b"dustpan/installation-id/v1", hashlib.sha256).digest()


def batch_outputs(batch: Batch) -> dict[str, Decimal]:
    """What ``sendmany`` pays: two withdrawals to one address are one output."""
    amounts: dict[str, Decimal] = {}
    for i in batch.items:
        amounts[i.address] = amounts.get(i.address, Decimal(0)) + to_decimal(i.amount, get_asset(i.asset))
    return amounts


def _paid_by(entries: list[dict]) -> dict[str, Decimal]:
    """The outputs a wallet transaction sent, from its "send" entries (amounts are negative)."""
    out: dict[str, Decimal] = {}
    for e in entries:
        if e.get("category") == "send" and e.get("address"):
            out[e["address"]] = out.get(e["address"], Decimal(0)) - Decimal(str(e.get("amount", 0)))
    return out


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
            err = reply["error"]
            raise RpcError(str(err.get("message", "error"))[:150], code=err.get("code"))
        return reply["result"]

    async def send(self, batch: Batch) -> list[Outcome]:
        outputs = {a: format(v, "f") for a, v in batch_outputs(batch).items()}
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

    async def balance(self, asset: str) -> int:
        """The node wallet's spendable balance, in minor units (``getbalance``)."""
        result = await self._call("getbalance", [])
        return to_minor(Decimal(str(result)), asset)

    async def confirmations(self, txid: str) -> int | None:
        """Confirmations of our transaction ``txid``; None when the node does not know it
        (RPC error -5); negative when a conflicting transaction was mined instead."""
        for _hop in range(3):  # a fee bump replaced it: follow the replacement (at most a few)
            try:
                info = await self._call("gettransaction", [txid])
            except RpcError as e:
                if e.code == -5:
                    return None
                raise
            replaced_by = info.get("replaced_by_txid")
            if not replaced_by:
                break
            txid = str(replaced_by)
        confirmations = int(info.get("confirmations", 0))
        if confirmations == 0:  # known to the wallet, but is it still waiting to be mined?
            try:
                await self._call("getmempoolentry", [txid])
            except RpcError as e:
                if e.code == -5:
                    return None  # evicted or never relayed: missing
                raise
        return confirmations

    async def lookup(self, batch: Batch) -> list[Outcome]:
        """Sent (with the paying transaction's id) once a transaction of ours that pays the
        batch is mined or in the mempool; otherwise unknown, never failed (see the module)."""
        try:
            txid = await self._find_payment(batch)
        except (RpcError, TimeoutError, aiohttp.ClientError, ValueError, InvalidOperation, KeyError):
            log.warning("payout batch %s: lookup failed; still unknown", batch.key, exc_info=True)
            return _all(batch, "unknown")
        if txid is None:
            log.warning("payout batch %s: no mined or pending payment found; still unknown", batch.key)
            return _all(batch, "unknown")
        return _all(batch, "sent", txid=txid)

    async def _find_payment(self, batch: Batch) -> str | None:
        expected = batch_outputs(batch)
        found = await self._with_comment(batch)
        ours = {txid: entries for txid, entries in found.items() if _paid_by(entries) == expected}
        if len(ours) < len(found):  # the same comment paying other outputs: another installation's?
            log.warning("payout batch %s: a transaction with its comment pays other outputs", batch.key)
        found_in: dict[str, list[str]] = {"mined": [], "mempool": []}
        seen = set(ours)
        for txid, entries in ours.items():
            info = entries[0]
            state = await self._state(txid, info)
            found_in.get(state, []).append(txid)
            if state in found_in:
                continue
            # Evicted, conflicted or abandoned: did a replacement that pays the same outputs land?
            others = [*info.get("walletconflicts", []), *info.get("mempoolconflicts", [])]
            if info.get("replaced_by_txid"):
                others.append(info["replaced_by_txid"])
            for other in others:
                if other in seen:
                    continue
                seen.add(other)
                try:
                    tx = await self._call("gettransaction", [other])
                except RpcError as e:
                    if e.code == NOT_FOUND:  # not a wallet transaction: it pays nobody of ours
                        continue
                    raise
                if _paid_by(tx.get("details", [])) == expected:
                    found_in.get(await self._state(other, tx), []).append(other)
        if len(found_in["mined"]) > 1:
            log.error("payout batch %s: paid by more than one transaction: %s", batch.key, found_in["mined"])
        paying = found_in["mined"] or found_in["mempool"]
        return paying[0] if paying else None

    async def _state(self, txid: str, info: dict) -> str:
        """mined | mempool | limbo (not mined, not in our mempool) | dead (conflicted or abandoned)."""
        confirmations = int(info.get("confirmations", 0))
        if confirmations > 0:
            return "mined"
        if confirmations < 0 or info.get("abandoned"):
            return "dead"
        try:
            await self._call("getmempoolentry", [txid])
        except RpcError as e:
            if e.code == NOT_FOUND:
                return "limbo"
            raise
        return "mempool"

    async def _with_comment(self, batch: Batch) -> dict[str, list[dict]]:
        """Wallet "send" entries whose comment is the batch key, by txid: newest first, back to
        a day before the batch was formed (entries carry the node's receive time)."""
        since = int((batch.created_at - CLOCK_MARGIN).timestamp()) if batch.created_at else None
        found: dict[str, list[dict]] = {}
        page = 1000
        for skip in range(0, page * LOOKUP_PAGES, page):
            txs = await self._call("listtransactions", ["*", page, skip, True])
            for tx in txs:
                if tx.get("comment") == batch.key and tx.get("category") == "send":
                    found.setdefault(tx["txid"], []).append(tx)
            if len(txs) < page:
                return found
            oldest = txs[0].get("timereceived", txs[0].get("time"))  # a page runs oldest first
            if since is not None and oldest is not None and int(oldest) < since:
                return found
        raise RpcError("more wallet history than a lookup pages through")


class RpcError(Exception):
    def __init__(self, message: str, *, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class CryptoPayBackend:
    MAINNET = "https://pay.crypt.bot/api"
    TESTNET = "https://testnet-pay.crypt.bot/api"
    MAYBE_SENT = "SPEND_ID_ALREADY_USED"

    def __init__(
        self,
        token: str,
        *,
        secret_key: str,
        base_url: str | None = None,
        testnet: bool = False,
        timeout: float = TIMEOUT,  # float ok: seconds
    ):
        self.token = token
        self._installation = installation_id(secret_key)
        self.base = (base_url or (self.TESTNET if testnet else self.MAINNET)).rstrip("/")
        self.timeout = aiohttp.ClientTimeout(total=timeout)

    def __repr__(self) -> str:
        return "CryptoPayBackend(<redacted>)"

    def spend_id(self, withdrawal_id: int) -> str:
        """``wd-{id}-{24 hex}``: readable by an admin, unique to this installation, not guessable
        from the ones other apps' owners can see. At most 64 characters, as the API allows."""
        mac = hmac.new(self._installation, f"cryptopay-spend:{withdrawal_id}".encode(), hashlib.sha256)
        return f"wd-{withdrawal_id}-{mac.hexdigest()[:24]}"

    async def _call(self, session, method: str, params: dict):
        async with session.post(
            f"{self.base}/{method}", json=params, headers={"Crypto-Pay-API-Token": self.token}
        ) as r:
            reply = await r.json(content_type=None)
        if not reply.get("ok"):
            error = reply.get("error") or {}
            raise RpcError(str(error.get("name", "error"))[:150], code=error.get("code"))
        return reply["result"]

    async def send(self, batch: Batch) -> list[Outcome]:
        out = []
        async with aiohttp.ClientSession(timeout=self.timeout) as s:
            for i in batch.items:
                params = {
                    "user_id": i.user_id,
                    "asset": i.asset,
                    "amount": coins(i.amount, i.asset),
                    "spend_id": self.spend_id(i.withdrawal_id),
                    "comment": "Dustpan withdrawal",
                }
                try:
                    t = await self._call(s, "transfer", params)
                    out.append(Outcome(i.withdrawal_id, "sent", txid=f"cryptopay:{t['transfer_id']}"))
                except RpcError as e:
                    if str(e) == self.MAYBE_SENT or (isinstance(e.code, int) and e.code >= 500):
                        log.warning("withdrawal %s: Crypto Pay said %s; outcome unknown", i.withdrawal_id, e)
                        out.append(Outcome(i.withdrawal_id, "unknown"))
                    else:  # refused: nothing was paid
                        out.append(Outcome(i.withdrawal_id, "failed", reason=str(e)))
                except aiohttp.ClientConnectorError:
                    out.append(Outcome(i.withdrawal_id, "failed", reason="payout service unreachable"))
                except (TimeoutError, aiohttp.ClientError, ValueError):
                    out.append(Outcome(i.withdrawal_id, "unknown"))
        return out

    async def balance(self, asset: str) -> int:
        """The app's available balance of ``asset`` (``getBalance``), in minor units."""
        async with aiohttp.ClientSession(timeout=self.timeout) as s:
            found = await self._call(s, "getBalance", {})
        for b in found:
            if b.get("currency_code") == asset:
                return to_minor(Decimal(str(b.get("available", "0"))), asset)
        raise LookupError(f"Crypto Pay reported no {asset} balance")

    async def lookup(self, batch: Batch) -> list[Outcome]:
        out = []
        async with aiohttp.ClientSession(timeout=self.timeout) as s:
            for i in batch.items:
                sid = self.spend_id(i.withdrawal_id)
                try:
                    found = await self._call(s, "getTransfers", {"spend_id": sid, "asset": i.asset})
                    ours = [t for t in found.get("items", []) if self._is_ours(t, sid, i)]
                except (RpcError, TimeoutError, aiohttp.ClientError, ValueError, InvalidOperation, TypeError):
                    out.append(Outcome(i.withdrawal_id, "unknown"))
                    continue
                if ours:
                    out.append(Outcome(i.withdrawal_id, "sent", txid=f"cryptopay:{ours[0]['transfer_id']}"))
                else:  # not (yet) there, or under our spend id someone else's transfer: an admin decides
                    out.append(Outcome(i.withdrawal_id, "unknown"))
        return out

    @staticmethod
    def _is_ours(t: dict, sid: str, item) -> bool:
        return (
            t.get("spend_id") == sid
            and str(t.get("user_id")) == str(item.user_id)
            and t.get("asset") == item.asset
            and Decimal(str(t.get("amount"))) == to_decimal(item.amount, get_asset(item.asset))
            and t.get("status", "completed") == "completed"
        )


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
        from handlers.common.i18n import _, get_i18n

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


def from_env(name: str, asset: str, *, bot=None, admin_ids=frozenset(), env=None, secret_key: str = ""):
    """The backend called ``name`` for ``asset``, or None when it is not configured or not known
    (a batch then waits, still open, for a backend that can settle it). ``secret_key`` is
    SECRET_KEY, from which Crypto Pay spend ids are derived (core.config.Settings.secret_key)."""
    env = os.environ if env is None else env
    if name == "rpc":
        url = env.get(f"RPC_URL_{asset}")
        target = int(env.get("RPC_CONF_TARGET") or 6)
        return RpcBackend(url, conf_target=target, fee_options=asset != "DOGE") if url else None
    if name == "cryptopay":
        token = env.get("CRYPTOPAY_TOKEN")
        testnet = (env.get("CRYPTOPAY_NETWORK") or "mainnet").lower() == "testnet"
        if not token or not secret_key:
            return None
        return CryptoPayBackend(
            token, secret_key=secret_key, testnet=testnet, base_url=env.get("CRYPTOPAY_URL")
        )
    if name == "manual":
        return ManualBackend(bot, admin_ids)
    return None


__all__ = ["RpcBackend", "CryptoPayBackend", "ManualBackend", "from_env", "installation_id"]
