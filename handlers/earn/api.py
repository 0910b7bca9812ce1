"""The FaucetPay-compatible HTTP API: external faucet scripts pay Dustpan users.

``POST /api/v1/{balance,getbalance,currencies,checkaddress,send,payouts,faucetlist}``
and ``/api/listv1/faucetlist``; parameters urlencoded, multipart or in the query.
Every answer under ``/api/`` is HTTP 200 with FaucetPay's ``status`` code and a ``message``
in the JSON body, whatever went wrong (a refused request, an unknown path, a database
failure). Amounts are integers in 1e-8 units for every currency; for 6-decimal coins
(USDT, TRX) an amount that is not a whole minor unit is refused, never rounded. A missing
``currency`` means BTC, as in FaucetPay's documentation.

The site is read afresh inside each request's own transaction (``faucet_sites.as_site``),
so a rotated key, a daily cap or an IP allowlist applies from the next request.
Beyond FaucetPay: ``idempotency_key`` on send; rate limits per key and client address
(``faucet_api.rate``), for checkaddress per key (``faucet_api.checkaddress_rate``) and for
invalid keys per client address (``faucet_api.bad_keys``), in memory or in Redis.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from core.earn import payout_links
from core.earn import sites as faucet_sites
from core.errors import DomainError
from core.money.assets import ASSETS, get_asset
from core.platform.db import Database
from core.platform.params import Params, define
from handlers.web import DB_KEY, REDIS_KEY, SETTINGS_KEY, client_ip

log = logging.getLogger(__name__)

define(
    "faucet_api.bad_keys", "20", "int", minimum=1, maximum=1_000_000
)  # invalid keys per minute per address
define("faucet_api.checkaddress_rate", "60", "int", minimum=1, maximum=1_000_000)  # per minute per key

METHODS = ("balance", "getbalance", "currencies", "checkaddress", "send", "payouts", "faucetlist")
KEY_TTL = 5.0  # float ok: seconds a key -> (site id, coin) lookup is cached; both never change
LIST_TTL = 5.0  # float ok: seconds the public faucet list is cached
HEALTH_FULL_TENTHS = 70  # health 100 = the escrow funds a week of payouts at the current pace
_DIGITS = re.compile(r"[0-9]{1,18}", re.ASCII)
_ERRORS = {
    "insufficient_funds": (402, "Insufficient funds."),
    "api_no_user": (456, "The address does not belong to any user."),
    "api_cap": (450, "Daily send limit of this faucet reached."),
    "idempotency_conflict": (409, "This idempotency_key was used for a different payment."),
    "api_bad_idempotency_key": (400, "idempotency_key must be 1-64 letters, digits or _ . : -"),
    "bad_amount": (405, "Invalid amount."),
    "unknown_asset": (410, "Invalid currency."),
    "api_bad_key": (403, "Invalid API key."),
    "api_ip_refused": (401, "Your IP address is not allowed to use this API key."),
    "site_retired": (403, "Invalid API key."),
    "banned": (456, "This user cannot receive payments."),  # banned by the platform's admins
    "api_stranger_limit": (
        451,
        "This user never used your faucet: today's payments to such users are used up.",
    ),
}


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        self.status, self.message = status, message


@dataclass(frozen=True, slots=True)
class Key:
    """What a valid API key names and never changes: the site and its coin."""

    hash: str
    site_id: int
    asset: str


class Limiter:
    """Fixed-window counters, per process or shared by every instance through Redis."""

    def __init__(self, redis=None, clock: Callable[[], float] = time.time) -> None:
        self.redis, self.clock = redis, clock
        self._counts: dict[str, tuple[int, int]] = {}

    def _slot(self, window: int) -> int:
        return int(self.clock() // window)

    async def count(self, name: str, window: int = 60) -> int:
        slot = self._slot(window)
        if self.redis is not None:
            return int(await self.redis.get(f"dustpan:fpapi:{name}:{slot}") or 0)
        prev, n = self._counts.get(name, (slot, 0))
        return n if prev == slot else 0

    async def add(self, name: str, window: int = 60) -> int:
        """Count one more in the current window; returns the window's count."""
        slot = self._slot(window)
        if self.redis is not None:
            key = f"dustpan:fpapi:{name}:{slot}"
            async with self.redis.pipeline(transaction=True) as pipe:
                n, _ = await pipe.incr(key).expire(key, window * 2).execute()
            return int(n)
        prev, n = self._counts.get(name, (slot, 0))
        n = n + 1 if prev == slot else 1
        if len(self._counts) > 100_000:
            self._counts = {k: v for k, v in self._counts.items() if v[0] == slot}
        self._counts[name] = (slot, n)
        return n


class FaucetApi:
    """Per-process state: the key cache, the rate limits and the cached faucet list."""

    def __init__(
        self,
        db: Database,
        secret: str,
        params: Params | None = None,
        redis=None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.db, self.secret = db, secret.encode()
        self.params = params or Params()
        self.clock = clock
        self.limits = Limiter(redis)
        self._keys: dict[str, tuple[float, Key]] = {}  # float ok: clock time
        self._list: tuple[float, bytes] | None = None  # float ok: clock time
        self._list_lock = asyncio.Lock()

    def user_hash(self, site_id: int, user_id: int) -> str:
        """FaucetPay's payout_user_hash: stable for one user at one site, unlinkable across sites."""
        msg = f"site:{site_id}:user:{user_id}".encode()
        return hmac.new(self.secret, msg, hashlib.sha256).hexdigest()[:32]

    def owner_ref(self, owner_id: int) -> str:
        """A stable number standing for a site's owner in the public list (never the Telegram id)."""
        digest = hmac.new(self.secret, f"owner:{owner_id}".encode(), hashlib.sha256).digest()
        return str(int.from_bytes(digest[:8], "big") % 10**9)

    async def key(self, api_key: str | None, ip: str | None) -> Key:
        """The site an API key names; 403 for an unknown key, 429 once an address has sent
        ``faucet_api.bad_keys`` unknown keys this minute (then no database lookup at all)."""
        if not api_key or len(api_key) > 200:
            raise ApiError(403, "Invalid API key.")
        h = faucet_sites.hash_key(api_key)
        now = self.clock()
        hit = self._keys.get(h)
        if hit is not None and now - hit[0] <= KEY_TTL:
            return hit[1]
        bad = f"badkey:{ip}"
        if await self.limits.count(bad) >= self.params.get("faucet_api.bad_keys"):
            raise ApiError(429, "Too many invalid API keys from your address; try again in a minute.")
        site = await self.db.read(faucet_sites.site_by_key, api_key)
        if site is None or not site.active:
            await self.limits.add(bad)
            raise ApiError(403, "Invalid API key.")
        if len(self._keys) > 10_000:
            self._keys.clear()
        key = Key(h, site.id, site.asset)
        self._keys[h] = (now, key)
        return key

    async def spend(self, key: Key, ip: str | None) -> int:
        """Count a request against the per-minute limit of this key from this address (so a
        refused or abusive address does not use up the site server's budget); returns what is left."""
        limit = self.params.get("faucet_api.rate")
        used = await self.limits.add(f"rate:{key.site_id}:{ip}")
        if used > limit:
            raise ApiError(429, "Rate limit reached for this API key; try again in a minute.")
        return limit - used


API_KEY = web.AppKey("faucet_api", FaucetApi)


def setup(app: web.Application) -> None:
    app[API_KEY] = FaucetApi(app[DB_KEY], app[SETTINGS_KEY].secret_key or "dustpan", redis=app[REDIS_KEY])
    app.middlewares.append(api_answers)
    app.router.add_route("*", "/api/v1/{method}", handle)
    app.router.add_route("*", "/api/listv1/faucetlist", handle_list)


def reply(status: int, message: str, **fields) -> web.Response:
    return web.json_response({"status": status, "message": message, **fields})


@web.middleware
async def api_answers(request: web.Request, handler) -> web.StreamResponse:
    """Everything under /api/ answers in FaucetPay's form, even paths no route matches."""
    if not request.path.startswith("/api/"):
        return await handler(request)
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status == 404:
            return reply(404, "Invalid API method accessed.")
        return reply(exc.status if 400 <= exc.status < 500 else 400, exc.reason or "Request refused.")


async def read_params(request: web.Request) -> dict[str, str]:
    data = {k: v for k, v in request.query.items()}
    if request.method == "POST" and request.body_exists:
        try:
            form = await request.post()
        except web.HTTPRequestEntityTooLarge:
            raise ApiError(400, "Request body too large.") from None
        except Exception:  # a malformed urlencoded or multipart body, or a body cut short
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


def currency_of(key: Key, data: dict) -> str:
    """The request's coin: ``currency``, or BTC when it is missing (FaucetPay's default)."""
    code = (data.get("currency") or "BTC").strip().upper()
    if code != key.asset:
        raise ApiError(
            410, f"Invalid currency. This API key pays in {key.asset} only: send currency={key.asset}."
        )
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
        ip = client_ip(request)
        key = await api.key(data.get("api_key"), ip)
        left = await api.spend(key, ip)
        return await METHOD_HANDLERS[method](api, key, ip, data, left)
    except ApiError as err:
        return reply(err.status, err.message)
    except DomainError as err:
        status, message = _ERRORS.get(err.reason, (400, "Request refused."))
        if status == 400:
            log.info("faucet API %s refused: %s %s", method, err.reason, err.params)
        return reply(status, message)
    except Exception as exc:  # the database or Redis failed: still FaucetPay's JSON, HTTP 200
        log.error("faucet API %s failed: %s", method, type(exc).__name__, exc_info=not _outage(exc))
        return reply(503, "Service temporarily unavailable; try again in a minute.")


def _outage(exc: BaseException) -> bool:
    """A database or network outage (logged in one line), not a bug (logged with its traceback)."""
    from sqlalchemy.exc import SQLAlchemyError

    return isinstance(exc, SQLAlchemyError | OSError | TimeoutError | ConnectionError) or type(
        exc
    ).__module__.startswith(("redis", "asyncpg", "sqlite3"))


async def handle_list(request: web.Request) -> web.Response:
    try:
        return await faucetlist(request.app[API_KEY])
    except Exception as exc:
        log.error("faucet list failed: %s", type(exc).__name__, exc_info=not _outage(exc))
        return reply(503, "Service temporarily unavailable; try again in a minute.")


async def balance(api: FaucetApi, key: Key, ip, data, left) -> web.Response:
    asset = currency_of(key, data)
    minor = await api.db.read(faucet_sites.as_site, key.hash, ip, faucet_sites.balance)
    bal, coins = from_units(asset, minor)
    return reply(200, "OK", currency=asset, balance=bal, balance_bitcoin=coins)


async def currencies(api: FaucetApi, key: Key, ip, data, left) -> web.Response:
    await api.db.read(faucet_sites.authorize, key.hash, ip)
    return reply(
        200,
        "OK",
        currencies=list(ASSETS),
        currencies_names=[{"name": a.name, "acronym": a.code} for a in ASSETS.values()],
    )


def _find_user(conn, site: faucet_sites.Site, address: str) -> int | None:
    return payout_links.find_user(conn, site.asset, address)


async def checkaddress(api: FaucetApi, key: Key, ip, data, left) -> web.Response:
    currency_of(key, data)
    if await api.limits.add(f"check:{key.site_id}") > api.params.get("faucet_api.checkaddress_rate"):
        raise ApiError(429, "checkaddress rate limit reached for this API key; try again in a minute.")
    user_id = await api.db.read(faucet_sites.as_site, key.hash, ip, _find_user, data.get("address") or "")
    if user_id is None:
        raise ApiError(456, "The address does not belong to any user.")
    return reply(200, "Address Exists", payout_user_hash=api.user_hash(key.site_id, user_id))


async def send(api: FaucetApi, key: Key, ip, data, left) -> web.Response:
    asset = currency_of(key, data)
    minor = to_units(asset, data.get("amount"))
    to = data.get("to") or ""
    if not to.strip():
        raise ApiError(456, "The address does not belong to any user.")
    referral = (data.get("referral") or "").strip().lower() in ("1", "true", "yes", "on")
    sent = await api.db.write(
        faucet_sites.as_site,
        key.hash,
        ip,
        faucet_sites.send,
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
        payout_user_hash=api.user_hash(key.site_id, sent.user_id),
        replayed=sent.replayed,
    )


async def payouts(api: FaucetApi, key: Key, ip, data, left) -> web.Response:
    asset = currency_of(key, data)
    raw = (data.get("count") or "1").strip()
    count = int(raw) if _DIGITS.fullmatch(raw) else 0
    if not 1 <= count <= 100:
        raise ApiError(400, "count must be between 1 and 100.")
    rows = await api.db.read(faucet_sites.as_site, key.hash, ip, _recent, count)
    rewards = [
        {
            "to": p.to,
            "amount": int(from_units(asset, p.amount)[0]),
            "date": f"{p.created_at:%Y-%m-%d %H:%M:%S}",
        }
        for p in rows
    ]
    return reply(200, "OK", rewards=rewards)


def _recent(conn, site: faucet_sites.Site, count: int) -> list[faucet_sites.Payout]:
    return faucet_sites.recent_payouts(conn, site.id, count)


async def faucetlist(api: FaucetApi) -> web.Response:
    """FaucetPay's list: ``list_data.normal[CURRENCY]``, a list per coin (every coin present),
    with FaucetPay's field names and types; ``faucet_id`` and ``health_days`` are ours.
    Built at most once per LIST_TTL seconds, however many ask at once."""
    cached = api._list
    if cached is None or api.clock() - cached[0] > LIST_TTL:
        async with api._list_lock:
            cached = api._list
            if cached is None or api.clock() - cached[0] > LIST_TTL:
                listings = await api.db.read(faucet_sites.directory)
                body = {"status": 200, "message": "OK", "list_data": {"normal": _normal(api, listings)}}
                cached = api._list = (api.clock(), json.dumps(body).encode())
    return web.Response(body=cached[1], content_type="application/json")


def _normal(api: FaucetApi, listings: list[faucet_sites.Listing]) -> dict[str, list[dict]]:
    normal: dict[str, list[dict]] = {code: [] for code in ASSETS}
    for x in listings:
        s = x.site
        normal.setdefault(s.asset, []).append(
            {
                "id": s.id,
                "name": s.name,
                "url": s.url,
                "owner_id": api.owner_ref(s.owner_id),
                "owner_name": "",
                "currency": s.asset,
                "timer_in_minutes": str(s.timer // 60),
                "reward": from_units(s.asset, s.reward)[0],
                "is_enabled": "1" if s.active else "0",
                "creation_date": str(int(x.created_at.timestamp())) if x.created_at else "0",
                "category": None,
                "paid_today": from_units(s.asset, x.sent_today)[1],
                "total_users_paid": str(x.users_24h),
                "active_users": str(x.paid_today),
                "balance": from_units(s.asset, x.balance)[1],
                "health": str(min(100, x.health_tenths * 100 // HEALTH_FULL_TENTHS)),
                "faucet_id": s.id,
                "health_days": x.health_tenths / 10,  # float ok: display figure, not money
            }
        )
    return normal


METHOD_HANDLERS = {
    "balance": balance,
    "getbalance": balance,
    "currencies": currencies,
    "checkaddress": checkaddress,
    "send": send,
    "payouts": payouts,
}
