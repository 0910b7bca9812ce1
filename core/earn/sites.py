"""External faucet sites that pay our users through the FaucetPay-compatible API.

An owner registers a site (one asset), gets an API key (shown once; only its SHA-256
is stored) and funds the site's escrow ``owner_escrow:site:<id>`` from their balance.
The owner takes escrow back with ``withdraw_escrow`` (never what pending payments hold),
and ``remove_site`` retires the site (its key dies at once) and returns what is left.
``send`` pays a user from that escrow in one transaction: the transfer (key
``fpapi:<site>:<idempotency key>``, so a repeated key pays once), the daily cap
counter, the payout row, and the user's daily notice (core.earn.site_payees, which also
limits payments to users who never used the site). The platform pays no referral
commission on it: its cut is zero (core.earn.referrals).
The directory shows active sites whose escrow can still pay, with a health figure:
days of payouts the escrow funds at the last 24 hours' pace.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import urlsplit

from sqlalchemy import (
    Connection,
    Row,
    Table,
    and_,
    bindparam,
    func,
    select,
    update,
)

from core.earn import debts, payout_links, referrals, site_payees
from core.earn.tables import payouts, ratings, site_days, sites
from core.errors import DomainError, InsufficientFunds, InvalidAmount
from core.identity import standing
from core.money import OWNER_ESCROW, Code, get_asset, ledger, user_account
from core.money import accounts_table as accounts
from core.platform import audit, define, per_engine, utcnow

define("faucet_api.rate", "600", "int", minimum=1, maximum=1_000_000)  # requests per minute per key
define("faucet_api.max_sites", "10", "int", minimum=1, maximum=1000)  # per owner

CODE = Code.FAUCET_API
CODE_REFERRAL = Code.FAUCET_API_REFERRAL
CODE_FUND = Code.OWNER_FUND
CODE_RETURN = Code.OWNER_RETURN
_IDEM = re.compile(r"[A-Za-z0-9_.:-]{1,64}", re.ASCII)
_NAME = re.compile(r"[^\x00-\x1f<>]{1,64}")


def escrow(site_id: int) -> str:
    return f"{OWNER_ESCROW}:site:{int(site_id)}"


def hash_key(api_key: str) -> str:
    return hashlib.sha256(api_key.encode("utf-8", "replace")).hexdigest()


@dataclass(frozen=True, slots=True)
class Site:
    id: int
    owner_id: int
    name: str
    url: str
    asset: str
    reward: int
    timer: int
    daily_cap: int
    ips: frozenset[str]
    active: bool

    @classmethod
    def from_row(cls, r: Row[Any]) -> Site:
        ips = frozenset(x for x in (r.ip_allowlist or "").split(",") if x)
        return cls(r.id, r.owner_id, r.name, r.url, r.asset, r.reward, r.timer, r.daily_cap, ips, r.active)


# --- owners -------------------------------------------------------------------------


def _check_site_fields(name: str, url: str, reward: int, timer: int) -> None:
    if not _NAME.fullmatch(name or ""):
        raise DomainError("site_bad_name")
    parts = urlsplit(url or "")
    if parts.scheme not in ("http", "https") or not parts.netloc or len(url) > 200 or " " in url:
        raise DomainError("site_bad_url")
    if reward <= 0 or not 60 <= timer <= 7 * 86400:
        raise DomainError("site_bad_terms")


def add_site(
    conn: Connection,
    *,
    owner_id: int,
    name: str,
    url: str,
    asset: str,
    reward: int,
    timer: int,
    max_sites: int = 10,
    now: datetime | None = None,
) -> tuple[Site, str]:
    """Register a site; returns it with its API key (the only time the key is seen)."""
    asset = get_asset(asset).code
    _check_site_fields(name, url, reward, timer)
    # Removed sites count too: else remove-and-add would give fresh daily limits without end.
    count = conn.execute(
        select(func.count()).select_from(sites).where(sites.c.owner_id == owner_id)
    ).scalar_one()
    if count >= max_sites:
        raise DomainError("site_limit", limit=max_sites)
    api_key = secrets.token_hex(20)
    new_id = conn.execute(
        sites.insert().returning(sites.c.id),
        dict(
            owner_id=owner_id,
            name=name,
            url=url,
            asset=asset,
            reward=reward,
            timer=timer,
            key_hash=hash_key(api_key),
            created_at=now or utcnow(),
        ),
    ).scalar_one()
    return get_site(conn, new_id, owner_id), api_key


def get_site(conn: Connection, site_id: int, owner_id: int | None = None) -> Site:
    """A site by id; with ``owner_id``, only if that user owns it (else ``site_unknown``)."""
    row = conn.execute(select(sites).where(sites.c.id == site_id)).first()
    if row is None or (owner_id is not None and row.owner_id != owner_id):
        raise DomainError("site_unknown", id=site_id)
    return Site.from_row(row)


def live_site(conn: Connection, site_id: int, owner_id: int) -> Site:
    """``get_site`` for changing a site: a removed one is refused (``site_retired``)."""
    site = get_site(conn, site_id, owner_id)
    if not site.active:
        raise DomainError("site_retired", id=site.id)
    return site


def sites_of(conn: Connection, owner_id: int) -> list[tuple[Site, int]]:
    """The owner's sites with their escrow balances."""
    rows = conn.execute(select(sites).where(sites.c.owner_id == owner_id).order_by(sites.c.id)).all()
    owned = [Site.from_row(r) for r in rows]
    held = ledger.balances_of(conn, [escrow(s.id) for s in owned])
    return [(s, _available(held, s)) for s in owned]


def _available(held: dict[tuple[str, str], ledger.Balance], site: Site) -> int:
    b = held.get((escrow(site.id), site.asset))
    return b.available if b else 0


def rotate_key(conn: Connection, owner_id: int, site_id: int) -> str:
    """A new API key for the site; the old one stops working (within the API's key cache TTL)."""
    live_site(conn, site_id, owner_id)
    api_key = secrets.token_hex(20)
    conn.execute(update(sites).where(sites.c.id == site_id).values(key_hash=hash_key(api_key)))
    return api_key


def fund_site(conn: Connection, owner_id: int, site_id: int, amount: int, key: str) -> ledger.Transfer:
    """Owner's balance -> the site's escrow. ``key`` comes from the owner's message."""
    site = live_site(conn, site_id, owner_id)
    return ledger.transfer(
        conn,
        debit=user_account(owner_id),
        credit=escrow(site.id),
        asset=site.asset,
        amount=amount,
        code=CODE_FUND,
        key=key,
        meta={"site": site.id},
    )


# The escrow's row, locked (PostgreSQL) while what is left is returned: a send in flight
# either commits first or finds the escrow empty.
_ESCROW_FOR_UPDATE = (
    select(accounts.c.balance, accounts.c.debits_pending)
    .where(accounts.c.owner == bindparam("o"), accounts.c.asset == bindparam("s"))
    .with_for_update()
)


def _short(conn: Connection, site: Site) -> DomainError:
    held = ledger.balance(conn, escrow(site.id), site.asset)
    return DomainError("site_escrow_short", id=site.id, asset=site.asset, available=held.available)


def withdraw_escrow(
    conn: Connection, owner_id: int, site_id: int, amount: int, key: str, now: datetime | None = None
) -> ledger.Transfer:
    """The site's escrow -> the owner's balance: ``amount`` minor units, at most what is available.

    What pending payments hold on the escrow is never returned (``site_escrow_short`` names
    what is available). Works on a removed site too: what is left is still the owner's.
    ``key`` comes from the owner's message, so a retried update returns the first transfer.
    """
    site = get_site(conn, site_id, owner_id)
    if type(amount) is not int or amount <= 0:
        raise InvalidAmount("zero" if amount == 0 else "negative")
    if ledger.get_transfer(conn, key=key) is not None:  # a retried update: the first answer
        return _return(conn, site, amount, key, now)
    if amount > ledger.balance(conn, escrow(site.id), site.asset).available:
        raise _short(conn, site)
    try:  # another payment may have taken the escrow in between: the debit decides
        t = _return(conn, site, amount, key, now)
    except InsufficientFunds:
        raise _short(conn, site) from None
    audit.record(
        conn,
        "site_withdraw",
        actor=owner_id,
        target=escrow(site.id),
        asset=site.asset,
        amount=amount,
        now=now,
    )
    return t


def _return(conn: Connection, site: Site, amount: int, key: str, now: datetime | None) -> ledger.Transfer:
    return ledger.transfer(
        conn,
        debit=escrow(site.id),
        credit=user_account(site.owner_id),
        asset=site.asset,
        amount=amount,
        code=CODE_RETURN,
        key=key,
        meta={"site": site.id},
        now=now,
    )


@dataclass(frozen=True, slots=True)
class Removed:
    site: Site
    returned: int  # minor units moved back to the owner now (or by the first try of this key)
    retired_now: bool  # False: the site had been removed before
    held: int  # what pending payments still hold on the escrow (the owner withdraws it later)


_RETIRE = (
    update(sites)
    .where(sites.c.id == bindparam("i"), sites.c.active.is_(True))
    .values(active=False, key_hash=bindparam("h"))
)


def remove_site(
    conn: Connection, owner_id: int, site_id: int, key: str, now: datetime | None = None
) -> Removed:
    """Retire the site and return what is left of its escrow to the owner.

    The site leaves the directory and its API key dies at once (``send`` re-reads the
    site; the key's hash is replaced). Idempotent: removing again retires nothing and
    returns only what became available since; a retried update (same ``key``) answers
    as the first time. Audited as ``site_remove`` when something changed.
    """
    site = get_site(conn, site_id, owner_id)
    first = ledger.get_transfer(conn, key=key)
    if first is not None:
        return Removed(site, first.amount, False, ledger.balance(conn, escrow(site.id), site.asset).held)
    retired_now = (
        conn.execute(_RETIRE, {"i": site.id, "h": hash_key("retired:" + secrets.token_hex(20))}).rowcount == 1
    )
    row = conn.execute(_ESCROW_FOR_UPDATE, {"o": escrow(site.id), "s": site.asset}).first()
    available, held = (row.balance - row.debits_pending, row.debits_pending) if row else (0, 0)
    if available > 0:
        _return(conn, site, available, key, now)
    if retired_now or available > 0:
        audit.record(
            conn,
            "site_remove",
            actor=owner_id,
            target=escrow(site.id),
            asset=site.asset,
            returned=available,
            held=held,
            now=now,
        )
    return Removed(get_site(conn, site.id), max(available, 0), retired_now, held)


def set_cap(conn: Connection, owner_id: int, site_id: int, cap: int) -> Site:
    if cap < 0:
        raise DomainError("site_bad_terms")
    live_site(conn, site_id, owner_id)
    conn.execute(update(sites).where(sites.c.id == site_id).values(daily_cap=cap))
    return get_site(conn, site_id)


def parse_ips(text: str) -> list[str]:
    """'1.2.3.4, ::1' -> normalised addresses; '-' or '' clears the list."""
    text = (text or "").strip()
    if text in ("", "-", "any"):
        return []
    out = []
    for part in text.replace(" ", ",").split(","):
        if part:
            try:
                out.append(str(ipaddress.ip_address(part)))
            except ValueError:
                raise DomainError("site_bad_ip", ip=part[:45]) from None
    if len(out) > 20:
        raise DomainError("site_bad_ip", ip="…")
    return sorted(set(out))


def set_ips(conn: Connection, owner_id: int, site_id: int, ips: list[str]) -> Site:
    live_site(conn, site_id, owner_id)
    conn.execute(update(sites).where(sites.c.id == site_id).values(ip_allowlist=",".join(ips)))
    return get_site(conn, site_id)


@dataclass(frozen=True, slots=True)
class Payout:
    id: int
    user_id: int
    to: str
    asset: str
    amount: int
    referral: bool
    created_at: datetime


def recent_payouts(conn: Connection, site_id: int, limit: int = 10) -> list[Payout]:
    rows = conn.execute(
        select(payouts).where(payouts.c.site_id == site_id).order_by(payouts.c.id.desc()).limit(limit)
    )
    return [Payout(r.id, r.user_id, r.to_text, r.asset, r.amount, r.referral, r.created_at) for r in rows]


# --- the API ------------------------------------------------------------------------

_BY_HASH = select(sites).where(sites.c.key_hash == bindparam("h"))


def site_by_key(conn: Connection, api_key: str) -> Site | None:
    if not api_key or len(api_key) > 200:
        return None
    row = conn.execute(_BY_HASH, {"h": hash_key(api_key)}).first()
    return Site.from_row(row) if row is not None else None


def authorize(conn: Connection, key_hash: str, client_ip: str | None) -> Site:
    """The active site whose API key hashes to ``key_hash``, read inside the caller's
    transaction: a rotated key, a retired site, a new allowlist or daily cap count from the
    very next request. Refuses (DomainError): api_bad_key, api_ip_refused."""
    row = conn.execute(_BY_HASH, {"h": key_hash}).first()
    if row is None or not row.active:
        raise DomainError("api_bad_key")
    site = Site.from_row(row)
    if site.ips and client_ip not in site.ips:
        raise DomainError("api_ip_refused")
    return site


T = TypeVar("T")


def as_site(
    conn: Connection, key_hash: str, client_ip: str | None, fn: Callable[..., T], /, *args: Any, **kwargs: Any
) -> T:
    """``fn(conn, site, ...)`` for the site ``authorize`` finds, in one transaction."""
    return fn(conn, authorize(conn, key_hash, client_ip), *args, **kwargs)


@dataclass(frozen=True, slots=True)
class Sent:
    payout_id: int
    user_id: int
    amount: int
    balance: int  # the escrow's balance after the payment, minor units
    replayed: bool


_PAYOUT_BY_TRANSFER = select(payouts.c.id).where(payouts.c.transfer_id == bindparam("t"))


def _cap_upsert(insert: Callable[[Table], Any]) -> Any:
    ins = insert(site_days).values(site_id=bindparam("i"), day=bindparam("d"), sent=bindparam("a"))
    return ins.on_conflict_do_update(
        index_elements=[site_days.c.site_id, site_days.c.day],
        set_={"sent": site_days.c.sent + ins.excluded.sent},
        where=site_days.c.sent + ins.excluded.sent <= bindparam("cap"),
    ).returning(site_days.c.sent)


_CAP = per_engine(_cap_upsert)
_INSERT_PAYOUT = payouts.insert().returning(payouts.c.id)


# After a payment: is the site still active (a removed site's cached key dies at once),
# and the escrow's balance, in one statement.
_AFTER = (
    select(sites.c.active, (accounts.c.balance - accounts.c.debits_pending).label("available"))
    .select_from(
        sites.outerjoin(accounts, and_(accounts.c.owner == bindparam("o"), accounts.c.asset == sites.c.asset))
    )
    .where(sites.c.id == bindparam("i"))
)


def send(
    conn: Connection,
    site: Site,
    *,
    to: str,
    amount: int,
    referral: bool = False,
    idempotency_key: str | None = None,
    share_bp: int = 0,
    notice_every: int = 3600,
    notice_min: int | None = None,
    stranger_daily: int | None = None,
    now: datetime | None = None,
) -> Sent:
    """Pay ``amount`` minor units of the site's asset from its escrow to the user ``to`` names.

    Key ``fpapi:<site>:<idempotency_key>`` (a random one when none is given): a repeated
    key returns the first payment. ``notice_min`` (``notices.site_min.<ASSET>``) and
    ``stranger_daily`` (``faucet_api.stranger_daily``) default to their settings' defaults.
    Refuses (DomainError): site_retired (the site was removed, whatever ``site`` says),
    api_no_user, insufficient_funds, api_cap (daily cap), api_stranger_limit,
    idempotency_conflict, api_bad_idempotency_key.
    """
    now = now or utcnow()
    if idempotency_key is not None and not _IDEM.fullmatch(idempotency_key):
        raise DomainError("api_bad_idempotency_key")
    user_id = payout_links.find_by_address(conn, site.asset, to)
    by_address = user_id is not None
    if user_id is None:
        user_id = payout_links.find_user(conn, site.asset, to)
    if user_id is None:
        raise DomainError("api_no_user")
    standing.require(conn, user_id, standing.EARN)  # a banned user: FaucetPay-style error 456
    account = escrow(site.id)
    key = f"fpapi:{site.id}:{idempotency_key or uuid.uuid4().hex}"
    try:
        t = ledger.transfer(
            conn,
            debit=account,
            credit=user_account(user_id),
            asset=site.asset,
            amount=amount,
            code=CODE_REFERRAL if referral else CODE,
            key=key,
            meta={"site": site.id, "name": site.name},
            now=now,
        )
    except InsufficientFunds:  # a removed site's escrow is empty: say so as a dead key
        if not conn.execute(_AFTER, {"i": site.id, "o": account}).one().active:
            raise DomainError("site_retired", id=site.id) from None
        raise
    active, after = conn.execute(_AFTER, {"i": site.id, "o": account}).one()
    if not active:  # rolls the payment back
        raise DomainError("site_retired", id=site.id)
    after = after or 0
    if t.replayed:
        return Sent(conn.execute(_PAYOUT_BY_TRANSFER, {"t": t.id}).scalar_one(), user_id, amount, after, True)
    if site.daily_cap > 0:
        day = int(now.timestamp()) // 86400
        if amount > site.daily_cap or (
            conn.execute(_CAP.of(conn), {"i": site.id, "d": day, "a": amount, "cap": site.daily_cap}).first()
            is None
        ):
            raise DomainError("api_cap")
    if stranger_daily is None:
        stranger_daily = site_payees.default("faucet_api.stranger_daily")
    site_payees.admit(conn, site.id, user_id, by_address=by_address, limit=stranger_daily, now=now)
    payout_id = conn.execute(
        _INSERT_PAYOUT,
        dict(
            site_id=site.id,
            user_id=user_id,
            asset=site.asset,
            amount=amount,
            referral=referral,
            to_text=to.strip()[:128],
            transfer_id=t.id,
            created_at=now,
        ),
    ).scalar_one()
    debts.repay_debts(conn, user_id, site.asset, amount, source_key=key, now=now)  # what a reversal left owed
    if not referral:  # a referral payment is itself a commission: none on top of it
        referrals.pay_commission(
            conn,
            source=referrals.Source.FAUCET_SITE,
            user_id=user_id,
            asset=site.asset,
            earned=amount,
            platform_cut=0,  # the site's escrow pays it all: the platform keeps nothing, so pays nothing
            source_key=key,
            share_bp=share_bp,
            notice_every=notice_every,
            now=now,
        )
    if notice_min is None:
        notice_min = site_payees.default(f"notices.site_min.{site.asset}")
    site_payees.record_payment(
        conn, site.id, user_id, site.asset, amount, by_address=by_address, notice_min=notice_min, now=now
    )
    return Sent(payout_id, user_id, amount, after, False)


def balance(conn: Connection, site: Site) -> int:
    return ledger.balance(conn, escrow(site.id), site.asset).available


# --- the directory --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Listing:
    site: Site
    balance: int
    health_tenths: int  # days of payouts the escrow funds, in tenths of a day
    paid_today: int  # distinct users paid since 00:00 UTC
    rating_sum: int
    rating_count: int
    sent_today: int = 0  # minor units paid since 00:00 UTC
    users_24h: int = 0  # distinct users paid in the last 24 hours
    created_at: datetime | None = None


def directory(conn: Connection, now: datetime | None = None, asset: str | None = None) -> list[Listing]:
    """Active sites whose escrow can pay at least one reward, healthiest first."""
    now = now or utcnow()
    q = select(sites).where(sites.c.active.is_(True))
    if asset:
        q = q.where(sites.c.asset == asset)
    rows = conn.execute(q).all()
    if not rows:
        return []
    ids = [r.id for r in rows]
    held = ledger.balances_of(conn, [escrow(i) for i in ids])
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    day_ago = now - timedelta(days=1)
    since_midnight = payouts.c.created_at >= midnight
    stats = {
        r.site_id: (int(r.sent or 0), int(r.today or 0), int(r.sent_today or 0), int(r.users or 0))
        for r in conn.execute(
            select(
                payouts.c.site_id,
                func.sum(payouts.c.amount).label("sent"),
                func.count(payouts.c.user_id.distinct()).filter(since_midnight).label("today"),
                func.sum(payouts.c.amount).filter(since_midnight).label("sent_today"),
                func.count(payouts.c.user_id.distinct()).label("users"),
            )
            .where(payouts.c.site_id.in_(ids), payouts.c.created_at >= day_ago)
            .group_by(payouts.c.site_id)
        )
    }
    out = []
    for r in rows:
        site = Site.from_row(r)
        bal = _available(held, site)
        if bal < site.reward:
            continue  # an escrow that cannot pay a claim hides the site
        sent_24h, today, sent_today, users = stats.get(site.id, (0, 0, 0, 0))
        per_day = max(sent_24h, site.reward * max(1, 86400 // site.timer))
        health = bal * 10 // per_day
        out.append(
            Listing(site, bal, health, today, r.rating_sum, r.rating_count, sent_today, users, r.created_at)
        )
    out.sort(key=lambda x: (-x.health_tenths, x.site.id))
    return out


def _rate_insert(insert: Callable[[Table], Any]) -> Any:
    return insert(ratings).on_conflict_do_nothing()


_RATE = per_engine(_rate_insert)


def rate_site(conn: Connection, user_id: int, site_id: int, stars: int, now: datetime | None = None) -> None:
    """One rating (1-5 stars) per user per site."""
    if not 1 <= stars <= 5:
        raise DomainError("site_bad_rating")
    get_site(conn, site_id)
    done = conn.execute(
        _RATE.of(conn),
        dict(site_id=site_id, user_id=user_id, stars=stars, created_at=now or utcnow()),
    )
    if done.rowcount != 1:
        raise DomainError("site_already_rated")
    site_payees.mark_used(conn, site_id, user_id, "rating", now or utcnow())
    conn.execute(
        update(sites)
        .where(sites.c.id == site_id)
        .values(rating_sum=sites.c.rating_sum + stars, rating_count=sites.c.rating_count + 1)
    )
