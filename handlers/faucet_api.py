"""The FaucetPay-compatible HTTP API: external faucet scripts pay Dustpan users.

``POST /api/v1/{balance,getbalance,currencies,checkaddress,send,payouts,faucetlist}``
and ``/api/listv1/faucetlist``; parameters urlencoded, multipart or in the query.
Every answer is HTTP 200 with FaucetPay's ``status`` code and a ``message`` in the
JSON body. Amounts are integers in 1e-8 units for every currency; for 6-decimal
coins (USDT, TRX) an amount that is not a whole minor unit is refused, never rounded.
Beyond FaucetPay: ``idempotency_key`` on send, and a per-key rate limit per minute.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import time

from aiohttp import web

from core import faucet_sites, payout_links
from core.assets import ASSETS, get_asset
from core.db import Database
from core.errors import DomainError
from core.params import Params
from handlers.web import DB_KEY, SETTINGS_KEY

log = logging.getLogger(__name__)

METHODS = ("balance", "getbalance", "currencies", "checkaddress", "send", "payouts", "faucetlist")
KEY_TTL = 5.0  # float ok: seconds an API key -> site lookup is cached (a rotated key dies within it)
_DIGITS = re.compile(r"[0-9]{1,18}", re.ASCII)
_ERRORS = {
    "insufficient_funds": (402, "Insufficient funds."),
    "api_no_user": (456, "The address does not belong to any user."),
    "api_cap": (450, "Daily send limit of this faucet reached."),
    "idempotency_conflict": (409, "This idempotency_key was used for a different payment."),
    "api_bad_idempotency_key": (400, "idempotency_key must be 1-64 letters, digits or _ . : -"),
    "bad_amount": (405, "Invalid amount."),
    "unknown_asset": (410, "Invalid currency."),
    "site_retired": (403, "Invalid API key."),
    "api_stranger_limit": (
        451,
        "This user never used your faucet: today's payments to such users are used up.",
    ),
}


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        self.status, self.message = status, message


class FaucetApi:
    """Per-process state: the API key cache and the per-key request counters."""

    def __init__(self, db: Database, secret: str, params: Params | None = None) -> None:
        self.db, self.secret = db, secret.encode()
        self.params = params or Params()
        self._keys: dict[str, tuple[float, faucet_sites.Site | None]] = {}  # float ok: monotonic
        self._counts: dict[int, tuple[int, int]] = {}

    def user_hash(self, user_id: int) -> str:
        return hmac.new(self.secret, f"user:{user_id}".encode(), hashlib.sha256).hexdigest()[:32]

    async def site(self, api_key: str | None) -> faucet_sites.Site:
        if not api_key or len(api_key) > 200:
            raise ApiError(403, "Invalid API key.")
        h = faucet_sites.hash_key(api_key)
        now = time.monotonic()
        hit = self._keys.get(h)
        if hit is None or now - hit[0] > KEY_TTL:
            if len(self._keys) > 10_000:
                self._keys.clear()
            hit = (now, await self.db.read(faucet_sites.site_by_key, api_key))
            self._keys[h] = hit
        if hit[1] is None or not hit[1].active:
            raise ApiError(403, "Invalid API key.")
        return hit[1]

    def spend(self, site_id: int) -> int:
        """Count a request against the key's per-minute limit; returns what is left."""
        limit = self.params.get("faucet_api.rate")
        minute = int(time.time() // 60)
        prev, used = self._counts.get(site_id, (minute, 0))
        used = used + 1 if prev == minute else 1
        self._counts[site_id] = (minute, used)
        if used > limit:
            raise ApiError(429, "Rate limit reached for this API key; try again in a minute.")
        return limit - used


API_KEY = web.AppKey("faucet_api", FaucetApi)


def setup(app: web.Application) -> None:
    app[API_KEY] = FaucetApi(app[DB_KEY], app[SETTINGS_KEY].secret_key or "dustpan")
    app.router.add_route("*", "/api/v1/{method}", handle)
    app.router.add_route("*", "/api/listv1/faucetlist", handle_list)


def reply(status: int, message: str, **fields) -> web.Response:
    return web.json_response({"status": status, "message": message, **fields})


async def read_params(request: web.Request) -> dict[str, str]:
    data = {k: v for k, v in request.query.items()}
    if request.method == "POST" and request.body_exists:
        try:
            form = await request.post()
        except web.HTTPRequestEntityTooLarge:
            raise ApiError(400, "Request body too large.") from None
        except Exception:  # a malformed urlencoded or multipart body
            raise ApiError(400, "Malformed request body.") from None
        data.update({k: v for k, v in form.items() if isinstance(v, str)})
    return data


def to_units(asset: str, raw: str | None) -> int:
    """A FaucetPay amount (integer, 1e-8 units) -> minor units of ``asset``; 405 if not exact."""
    if raw is None or not _DIGITS.fullmatch(raw.strip()):
        raise ApiError(405, "Invalid amount: a positive integer number of 1e-8 units is required.")
    value = int(raw.strip())
    factor = 10 ** (8 - get_asset(asset).decimals)
    if value <= 0 or value % factor:
        raise ApiError(405, f"Invalid amount: {asset} amounts must be a positive multiple of {factor}.")
    return value // factor


def from_units(asset: str, minor: int) -> tuple[str, str]:
    """Minor units -> FaucetPay's ``balance`` (1e-8 units) and ``balance_bitcoin`` (coins) strings."""
    v = minor * 10 ** (8 - get_asset(asset).decimals)
    return str(v), f"{v // 10**8}.{v % 10**8:08d}"


def currency_of(site: faucet_sites.Site, data: dict) -> str:
    code = (data.get("currency") or site.asset).strip().upper()
    if code not in ASSETS or code != site.asset:
        raise ApiError(410, "Invalid currency.")
    return code


async def handle(request: web.Request) -> web.Response:
    method = request.match_info["method"].lower()
    api: FaucetApi = request.app[API_KEY]
    try:
        if method not in METHODS:
            raise ApiError(404, "Invalid API method accessed.")
        data = await read_params(request)
        if method == "faucetlist":
            return await faucetlist(api)
        await api.params.refresh(api.db)
        site = await api.site(data.get("api_key"))
        if site.ips and request.remote not in site.ips:
            raise ApiError(401, "Your IP address is not allowed to use this API key.")
        left = api.spend(site.id)
        return await METHOD_HANDLERS[method](api, site, data, left)
    except ApiError as err:
        return reply(err.status, err.message)
    except DomainError as err:
        status, message = _ERRORS.get(err.reason, (400, "Request refused."))
        if status == 400:
            log.info("faucet API %s refused: %s %s", method, err.reason, err.params)
        return reply(status, message)


async def handle_list(request: web.Request) -> web.Response:
    return await faucetlist(request.app[API_KEY])


async def balance(api: FaucetApi, site, data, left) -> web.Response:
    asset = currency_of(site, data)
    bal, coins = from_units(asset, await api.db.read(faucet_sites.balance, site))
    return reply(200, "OK", currency=asset, balance=bal, balance_bitcoin=coins)


async def currencies(api: FaucetApi, site, data, left) -> web.Response:
    return reply(
        200,
        "OK",
        currencies=list(ASSETS),
        currencies_names=[{"name": a.name, "acronym": a.code} for a in ASSETS.values()],
    )


async def checkaddress(api: FaucetApi, site, data, left) -> web.Response:
    asset = currency_of(site, data)
    user_id = await api.db.read(payout_links.find_user, asset, data.get("address") or "")
    if user_id is None:
        raise ApiError(456, "The address does not belong to any user.")
    return reply(200, "Address Exists", payout_user_hash=api.user_hash(user_id))


async def send(api: FaucetApi, site, data, left) -> web.Response:
    asset = currency_of(site, data)
    minor = to_units(asset, data.get("amount"))
    to = data.get("to") or ""
    if not to.strip():
        raise ApiError(456, "The address does not belong to any user.")
    referral = (data.get("referral") or "").strip().lower() in ("1", "true", "yes", "on")
    sent = await api.db.write(
        faucet_sites.send,
        site,
        to=to,
        amount=minor,
        referral=referral,
        idempotency_key=data.get("idempotency_key") or None,
        share_bp=api.params.get("referral.commission"),
        notice_every=api.params.get("referral.notice_every"),
        notice_min=api.params.get(f"notices.site_min.{asset}"),
        stranger_daily=api.params.get("faucet_api.stranger_daily"),
    )
    bal, coins = from_units(asset, sent.balance)
    return reply(
        200,
        "OK",
        rate_limit_remaining=left,
        currency=asset,
        balance=bal,
        balance_bitcoin=coins,
        payout_id=sent.payout_id,
        payout_user_hash=api.user_hash(sent.user_id),
        replayed=sent.replayed,
    )


async def payouts(api: FaucetApi, site, data, left) -> web.Response:
    asset = currency_of(site, data)
    raw = (data.get("count") or "1").strip()
    count = int(raw) if _DIGITS.fullmatch(raw) else 0
    if not 1 <= count <= 100:
        raise ApiError(400, "count must be between 1 and 100.")
    rows = await api.db.read(faucet_sites.recent_payouts, site.id, count)
    rewards = [
        {
            "to": p.to,
            "amount": int(from_units(asset, p.amount)[0]),
            "date": f"{p.created_at:%Y-%m-%d %H:%M:%S}",
        }
        for p in rows
    ]
    return reply(200, "OK", rewards=rewards)


async def faucetlist(api: FaucetApi) -> web.Response:
    listings = await api.db.read(faucet_sites.directory)
    normal = [
        {
            "faucet_id": x.site.id,
            "name": x.site.name,
            "url": x.site.url,
            "currency": x.site.asset,
            "reward": int(from_units(x.site.asset, x.site.reward)[0]),
            "timer_in_minutes": x.site.timer // 60,
            "health_days": x.health_tenths / 10,  # float ok: display figure, not money
            "paid_today": x.paid_today,
            "balance": from_units(x.site.asset, x.balance)[0],
        }
        for x in listings
    ]
    return reply(200, "OK", list_data={"normal": normal})


METHOD_HANDLERS = {
    "balance": balance,
    "getbalance": balance,
    "currencies": currencies,
    "checkaddress": checkaddress,
    "send": send,
    "payouts": payouts,
}
