"""Offerwalls: walls admins add, credits networks report by postback, holds, trust and reversals.

A wall (``offer_walls``) is one placement at a network (core.earn.postbacks.NETWORKS) with its
secret (a SecretBox token under SECRET_KEY, aad ``offerwall:<name>``: never shown or logged),
the coin it pays in and its ``rate`` (what one reward unit is worth). A user opens a wall with
their **sub id** on it (``sub_id_for``: an HMAC of the wall and user under SECRET_KEY, stored in
``offer_subs`` so a postback maps it back; never the Telegram id).

``record_postback`` takes one verified postback (core.earn.postbacks.read) in one transaction:

* Idempotent on (wall, transaction id): a repeat with the same fields moves nothing and
  answers success; the same id with other fields is refused (``replay_mismatch``).
* A credit of units × rate (minor units, rounded down) from ``offer_pool`` to the user, key
  ``postback:{wall}:{txid}``. Held (a pending transfer) when it is above the wall's
  ``hold_above`` or the user's trust is low; released by ``release_due`` after
  ``offers.hold_days`` (key ``offer_release:{row}``). Posted at once otherwise.
* On release (or an immediate credit): debts are repaid first (core.earn.debts), the
  referrer's commission is paid (core.earn.referrals, never more than the platform's cut,
  ``offers.margin`` of the credit), and trust rises.
* A reversal voids a held credit, or takes a released one back (key ``offer_reverse:{row}``)
  as far as the user's available balance goes: the rest becomes a debt. The referrer's
  commission is taken back the same way. Trust falls. A reversal that comes first is
  recorded (``preempted``) and its credit is refused later (``reversed_before``).
* The pool cannot pay: ``OfferPoolDry`` (nothing is kept; the network retries later).

Trust is counted from the credit rows themselves: released ones minus REVERSAL_WEIGHT times
reversed ones (``trust_of``). What a user is told (credited, held, reversed) is collected by
``queue_notices``, run by the job, never on the postback path. On PostgreSQL every credit
locks the pool's account row, so everything else of the transaction comes first and the pool
is debited last: the lock is held only until the commit.

State changes are single conditional UPDATEs of the credit row, so a reversal racing its own
release, or two release jobs, end in exactly one state.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, bindparam, func, literal, outerjoin, select, update
from sqlalchemy.dialects import postgresql, sqlite

from core.earn import debts, postbacks, referrals
from core.earn.tables import debts as debt_rows
from core.earn.tables import offer_credits, offer_subs, offer_walls
from core.earn.tables import referrals as referral_rows
from core.errors import DomainError, InsufficientFunds
from core.identity import SecretBox, standing
from core.money import MARKETING, MAX_AMOUNT, OFFER_POOL, get_asset, ledger, parse_amount, user_account
from core.platform import Params, audit, define, notices, utcnow

define("offers.hold_days", "7d", "duration", minimum=0, maximum=365 * 86400)
define("offers.trust_min", "3", "int", minimum=0, maximum=1_000_000)
define("offers.margin", "25%", "share")

CODE = "offer"
CODE_REVERSAL = "offer_reversal"
CODE_REFERRAL_REVERSAL = "referral_reversal"
NOTICE = "offers_update"
REVERSAL_WEIGHT = 5  # one reversal undoes this many released offers of trust
HELD, RELEASED, REVERSED, VOIDED, PREEMPTED = "held", "released", "reversed", "voided", "preempted"

_NAME = re.compile(r"[a-z0-9_-]{1,32}", re.ASCII)


class OfferwallError(DomainError):
    """Admin refusals: bad_network, bad_wall_name, wall_exists, unknown_wall, bad_app_id,
    bad_secret, bad_rate, bad_ips, bad_hold."""


class OfferRefused(DomainError):
    """Postback refusals: unknown_wall, wall_off, ip_refused, unknown_sub, bad_amount,
    replay_mismatch, reversed_before. Nothing moved."""


class OfferPoolDry(DomainError):
    """offer_pool cannot pay the credit: nothing moved; the network should retry."""

    reason = "offer_pool_dry"


@dataclass(frozen=True, slots=True)
class Wall:
    id: int
    name: str
    network: str
    app_id: str
    asset: str
    rate: int  # see postbacks.parse_rate
    hold_above: int
    ips: tuple[str, ...]
    enabled: bool

    @property
    def rate_text(self) -> str:
        return postbacks.format_rate(self.rate, get_asset(self.asset).decimals)


@dataclass(frozen=True, slots=True)
class WallKey:
    """What checking a postback's signature needs: the wall's network and sealed secret."""

    id: int
    name: str
    network: str
    sealed: str


@dataclass(frozen=True, slots=True)
class Settings:
    hold_seconds: int
    trust_min: int
    margin_bp: int
    commission_bp: int
    commission_cap: int
    referral_notice_every: int


def settings_for(params: Params, asset: str) -> Settings:
    return Settings(
        hold_seconds=params.get("offers.hold_days"),
        trust_min=params.get("offers.trust_min"),
        margin_bp=params.get("offers.margin"),
        commission_bp=params.get("referral.commission"),
        commission_cap=params.get(f"referral.daily_cap.{asset}"),
        referral_notice_every=params.get("referral.notice_every"),
    )


@dataclass(frozen=True, slots=True)
class Outcome:
    status: str  # credited | held | reversed | voided | preempted | replay
    user_id: int
    asset: str
    amount: int


# --- walls (admin) ------------------------------------------------------------------------

_WALL_BY_NAME = select(offer_walls).where(offer_walls.c.name == bindparam("n"))


def _wall(row: Any) -> Wall:
    ips = tuple(x for x in (row.ips or "").split(",") if x)
    return Wall(
        row.id, row.name, row.network, row.app_id, row.asset, row.rate, row.hold_above, ips, row.enabled
    )


def _live_row(conn: Connection, name: str) -> Any:
    row = conn.execute(_WALL_BY_NAME, {"n": (name or "").strip().lower()[:40]}).first()
    if row is None or row.removed_at is not None:
        raise OfferwallError("unknown_wall", name=(name or "")[:32])
    return row


def seal(secret_key: str, name: str, secret: str) -> str:
    return SecretBox(secret_key).encrypt(secret, aad=f"offerwall:{name}")


def open_secret(secret_key: str, key: WallKey) -> str:
    return SecretBox(secret_key).decrypt(key.sealed, aad=f"offerwall:{key.name}")


def add_wall(
    conn: Connection,
    *,
    admin_id: int,
    network: str,
    name: str,
    app_id: str,
    secret: str,
    asset: str,
    rate: str,
    secret_key: str,
    now: datetime | None = None,
) -> Wall:
    """Add a wall, enabled, holding every credit (``hold_above`` 0) until an admin sets it.
    The secret is sealed; the audit line never holds it."""
    now = now or utcnow()
    network, name = network.strip().lower(), name.strip().lower()
    if network not in postbacks.NETWORKS:
        raise OfferwallError("bad_network", network=network[:16])
    if not _NAME.fullmatch(name):
        raise OfferwallError("bad_wall_name", name=name[:32])
    if not (0 < len(app_id) <= 100 and app_id.isprintable() and " " not in app_id):
        raise OfferwallError("bad_app_id")
    if not (0 < len(secret) <= 200 and secret.isprintable()):
        raise OfferwallError("bad_secret")
    code = get_asset(asset).code
    try:
        rate_scaled = postbacks.parse_rate(rate, get_asset(code).decimals)
    except postbacks.PostbackRefused:
        raise OfferwallError("bad_rate", rate=rate[:24]) from None
    if conn.execute(_WALL_BY_NAME, {"n": name}).first() is not None:
        raise OfferwallError("wall_exists", name=name)
    conn.execute(
        offer_walls.insert().values(
            name=name,
            network=network,
            app_id=app_id,
            secret=seal(secret_key, name, secret),
            asset=code,
            rate=rate_scaled,
            hold_above=0,
            ips=None,
            enabled=True,
            created_at=now,
        )
    )
    audit.record(
        conn,
        "offerwall_add",
        actor=admin_id,
        target=f"offerwall:{name}",
        network=network,
        asset=code,
        rate=rate,
        now=now,
    )
    return _wall(conn.execute(_WALL_BY_NAME, {"n": name}).one())


def list_walls(conn: Connection) -> list[Wall]:
    rows = conn.execute(
        select(offer_walls).where(offer_walls.c.removed_at.is_(None)).order_by(offer_walls.c.id)
    )
    return [_wall(r) for r in rows]


def _change(
    conn: Connection, admin_id: int, name: str, action: str, now: datetime | None, **values: Any
) -> Wall:
    row = _live_row(conn, name)
    conn.execute(update(offer_walls).where(offer_walls.c.id == row.id).values(**values))
    shown = {k: v for k, v in values.items() if k != "secret"}
    audit.record(conn, action, actor=admin_id, target=f"offerwall:{row.name}", now=now or utcnow(), **shown)
    return _wall(conn.execute(_WALL_BY_NAME, {"n": row.name}).one())


def set_enabled(conn: Connection, admin_id: int, name: str, enabled: bool) -> Wall:
    return _change(
        conn, admin_id, name, "offerwall_on" if enabled else "offerwall_off", None, enabled=enabled
    )


def set_ips(conn: Connection, admin_id: int, name: str, text: str) -> Wall:
    """A comma-separated allowlist of addresses or networks; ``-`` allows any source."""
    text = (text or "").strip()
    if text == "-":
        return _change(conn, admin_id, name, "offerwall_ips", None, ips=None)
    items = [x.strip() for x in text.split(",") if x.strip()]
    if not items or len(items) > 50:
        raise OfferwallError("bad_ips")
    try:
        normal = [str(ipaddress.ip_network(x, strict=False)) for x in items]
    except ValueError:
        raise OfferwallError("bad_ips") from None
    return _change(conn, admin_id, name, "offerwall_ips", None, ips=",".join(normal))


def set_hold(conn: Connection, admin_id: int, name: str, amount: str) -> Wall:
    """Credits above ``amount`` (in the wall's coin; 0 holds every credit) wait offers.hold_days."""
    row = _live_row(conn, name)
    text = (amount or "").strip()
    try:
        value = 0 if text == "0" else parse_amount(text, get_asset(row.asset))
    except DomainError:
        raise OfferwallError("bad_hold") from None
    return _change(conn, admin_id, name, "offerwall_hold", None, hold_above=value)


def remove_wall(conn: Connection, admin_id: int, name: str, now: datetime | None = None) -> Wall:
    """Retire a wall: its postbacks are refused from now on; held credits still release."""
    now = now or utcnow()
    return _change(conn, admin_id, name, "offerwall_remove", now, enabled=False, removed_at=now)


_KEY = select(offer_walls.c.id, offer_walls.c.name, offer_walls.c.network, offer_walls.c.secret).where(
    offer_walls.c.name == bindparam("n"), offer_walls.c.removed_at.is_(None)
)


def wall_key(conn: Connection, name: str) -> WallKey | None:
    row = conn.execute(_KEY, {"n": name}).first()
    return WallKey(row.id, row.name, row.network, row.secret) if row is not None else None


# --- users: sub ids, walls, their offers -----------------------------------------------------


def sub_id_for(secret_key: str, wall_id: int, user_id: int) -> str:
    """Opaque, stable per user and wall; reveals nothing of the Telegram id."""
    mac = hmac.new(secret_key.encode(), f"offersub:{wall_id}:{user_id}".encode(), hashlib.sha256)
    return mac.hexdigest()[:24]


def _insert_sub(dialect: Any) -> Any:
    return dialect.insert(offer_subs).on_conflict_do_nothing(
        index_elements=[offer_subs.c.wall_id, offer_subs.c.user_id]
    )


_INSERT_SUB = {"sqlite": _insert_sub(sqlite), "postgresql": _insert_sub(postgresql)}


@dataclass(frozen=True, slots=True)
class WallLink:
    name: str
    network: str
    asset: str
    url: str


def open_walls(conn: Connection, user_id: int, secret_key: str) -> list[WallLink]:
    """The enabled walls, each with the URL that opens it for ``user_id`` (sub ids recorded)."""
    walls = [w for w in list_walls(conn) if w.enabled]
    links = []
    for w in walls:
        sub = sub_id_for(secret_key, w.id, user_id)
        conn.execute(_INSERT_SUB[conn.dialect.name], {"wall_id": w.id, "user_id": user_id, "sub_id": sub})
        links.append(WallLink(w.name, w.network, w.asset, postbacks.wall_url(w.network, w.app_id, sub)))
    return links


@dataclass(frozen=True, slots=True)
class HeldOffer:
    wall: str
    asset: str
    amount: int
    release_at: datetime


@dataclass(frozen=True, slots=True)
class Trust:
    released: int
    reversed: int

    @property
    def score(self) -> int:
        return self.released - REVERSAL_WEIGHT * self.reversed


@dataclass(frozen=True, slots=True)
class MyOffers:
    held: list[HeldOffer]
    debts: list[debts.Debt]


_HELD_OF = (
    select(offer_walls.c.name, offer_credits.c.asset, offer_credits.c.amount, offer_credits.c.release_at)
    .join(offer_walls, offer_walls.c.id == offer_credits.c.wall_id)
    .where(offer_credits.c.user_id == bindparam("u"), offer_credits.c.state == HELD)
    .order_by(offer_credits.c.release_at)
    .limit(20)
)
_REVERSED_STATES = (REVERSED, VOIDED, PREEMPTED)


def _count(user: Any, states: tuple[str, ...]) -> Any:
    return (
        select(func.count())
        .select_from(offer_credits)
        .where(offer_credits.c.user_id == user, offer_credits.c.state.in_(states))
        .scalar_subquery()
    )


_TRUST = select(
    _count(bindparam("u"), (RELEASED,)).label("released"),
    _count(bindparam("u"), _REVERSED_STATES).label("reversed"),
)


def my_offers(conn: Connection, user_id: int) -> MyOffers:
    held = [
        HeldOffer(r.name, r.asset, r.amount, r.release_at) for r in conn.execute(_HELD_OF, {"u": user_id})
    ]
    return MyOffers(held, debts.owed(conn, user_id))


def trust_of(conn: Connection, user_id: int) -> Trust:
    """Released offers and reversed ones (counted from the credits themselves)."""
    row = conn.execute(_TRUST, {"u": user_id}).one()
    return Trust(int(row.released), int(row.reversed))


# --- postbacks ------------------------------------------------------------------------------

_CREDIT = select(offer_credits).where(
    offer_credits.c.wall_id == bindparam("w"), offer_credits.c.txid == bindparam("t")
)


def _insert_credit(dialect: Any) -> Any:
    return dialect.insert(offer_credits).on_conflict_do_nothing().returning(offer_credits.c.id)


_INSERT_CREDIT = {"sqlite": _insert_credit(sqlite), "postgresql": _insert_credit(postgresql)}
_MOVE = (
    update(offer_credits)
    .where(offer_credits.c.id == bindparam("i"), offer_credits.c.state == bindparam("old"))
    .values(state=bindparam("new"), settled_at=bindparam("now"), noticed=False)
)


def _allowed(ips: tuple[str, ...], ip: str | None) -> bool:
    if not ips:
        return True
    try:
        addr = ipaddress.ip_address(ip or "")
    except ValueError:
        return False
    return any(addr in ipaddress.ip_network(net) for net in ips)


# Everything a credit needs to decide, in one statement: the wall, the sub id's user, their
# trust, whether they owe in the wall's coin, and their activated referrer.
_sub = offer_subs.alias("sub")
_LOOKUP = (
    select(
        offer_walls,
        _sub.c.user_id.label("user_id"),
        _count(_sub.c.user_id, (RELEASED,)).label("released"),
        _count(_sub.c.user_id, _REVERSED_STATES).label("reversed"),
        select(literal(1))
        .where(
            debt_rows.c.user_id == _sub.c.user_id,
            debt_rows.c.asset == offer_walls.c.asset,
            debt_rows.c.amount > 0,
        )
        .limit(1)
        .scalar_subquery()
        .label("owes"),
        select(referral_rows.c.referrer_id)
        .where(referral_rows.c.user_id == _sub.c.user_id, referral_rows.c.activated_at.is_not(None))
        .scalar_subquery()
        .label("referrer"),
    )
    .select_from(
        outerjoin(
            offer_walls, _sub, and_(_sub.c.wall_id == offer_walls.c.id, _sub.c.sub_id == bindparam("s"))
        )
    )
    .where(offer_walls.c.id == bindparam("i"))
)


def record_postback(
    conn: Connection,
    wall_id: int,
    done: postbacks.Completion,
    *,
    ip: str | None,
    settings_of: Any,
    now: datetime | None = None,
) -> Outcome:
    """Apply one verified postback of wall ``wall_id``; see the module docstring.

    ``settings_of(asset) -> Settings``. Raises OfferRefused (nothing moved; answer as refused)
    or OfferPoolDry (nothing moved; the network should retry)."""
    now = now or utcnow()
    row = conn.execute(_LOOKUP, {"i": wall_id, "s": done.sub_id}).first()
    if row is None or row.removed_at is not None:
        raise OfferRefused("unknown_wall")
    wall = _wall(row)
    if not wall.enabled:
        raise OfferRefused("wall_off", wall=wall.name)
    if not _allowed(wall.ips, ip):
        raise OfferRefused("ip_refused", wall=wall.name)
    user_id = row.user_id
    if user_id is None:
        raise OfferRefused("unknown_sub", wall=wall.name)
    amount = postbacks.amount_for(done.units_scaled, wall.rate, get_asset(wall.asset).decimals)
    if not 0 < amount <= MAX_AMOUNT:
        raise OfferRefused("bad_amount", wall=wall.name)
    s: Settings = settings_of(wall.asset)
    if done.reversal:
        existing = conn.execute(_CREDIT, {"w": wall.id, "t": done.txid}).first()
        return _reverse(conn, wall, existing, user_id, done, amount, s, now)
    if standing.is_banned(conn, user_id):
        # A banned user's offers are refused, not held: the network is told so (its protocol's
        # "refused" answer) and counts the completion as not credited; a reversal still passes.
        raise OfferRefused("banned", wall=wall.name)
    key = f"postback:{wall.id}:{done.txid}"
    hold = amount > wall.hold_above or Trust(row.released, row.reversed).score < s.trust_min
    # The insert finds out whether the transaction is new: one statement instead of two.
    new_id = conn.execute(
        _INSERT_CREDIT[conn.dialect.name],
        dict(
            wall_id=wall.id,
            txid=done.txid,
            user_id=user_id,
            asset=wall.asset,
            units=done.units_scaled,
            amount=amount,
            state=HELD if hold else RELEASED,
            release_at=now + timedelta(seconds=s.hold_seconds) if hold else None,
            settled_at=None if hold else now,
            created_at=now,
            proof=done.proof,
        ),
    ).scalar()
    if new_id is None:  # delivered before (or concurrently)
        existing = conn.execute(_CREDIT, {"w": wall.id, "t": done.txid}).first()
        if existing is None:  # its proof is another transaction's: the unsigned id was changed
            raise OfferRefused("replay_mismatch", wall=wall.name)
        if existing.state == PREEMPTED:
            raise OfferRefused("reversed_before", wall=wall.name)
        if existing.user_id != user_id or existing.units != done.units_scaled:
            raise OfferRefused("replay_mismatch", wall=wall.name)
        return Outcome("replay", user_id, wall.asset, existing.amount)
    # Everything about the user first; the pool's row (which every credit locks on PostgreSQL)
    # is debited last, so it is held only until the commit.
    due = referrals.commission_for(s.commission_bp, amount, amount * s.margin_bp // 10_000) > 0
    after = None if hold else (row.owes is not None, row.referrer if due else None)
    try:
        move = ledger.reserve if hold else ledger.transfer
        move(
            conn,
            debit=OFFER_POOL,
            credit=user_account(user_id),
            asset=wall.asset,
            amount=amount,
            code=CODE,
            key=key,
            meta={"wall": wall.name},
            now=now,
        )
    except InsufficientFunds:
        raise OfferPoolDry(asset=wall.asset) from None
    if after is None:
        return Outcome("held", user_id, wall.asset, amount)
    _after_release(conn, user_id, wall.asset, amount, key, s, now, *after)
    return Outcome("credited", user_id, wall.asset, amount)


def _before_release(
    conn: Connection, user_id: int, asset: str, amount: int, s: Settings, now: datetime
) -> tuple[bool, int | None]:
    """What paying out a released credit needs: whether the user owes, and their activated
    referrer when a commission is due."""
    owes = debts.owes(conn, user_id, asset)
    due = referrals.commission_for(s.commission_bp, amount, amount * s.margin_bp // 10_000) > 0
    return owes, referrals.referrer_of(conn, user_id) if due else None


def _after_release(
    conn: Connection,
    user_id: int,
    asset: str,
    amount: int,
    key: str,
    s: Settings,
    now: datetime,
    owes: bool,
    referrer: int | None,
) -> None:
    """Once the credit reached the user: debts are repaid first, then the referrer's commission."""
    if owes:
        debts.repay_debts(conn, user_id, asset, amount, source_key=key, now=now)
    if referrer is not None:
        referrals.pay_commission_to(
            conn,
            referrer,
            source=referrals.Source.OFFER,
            user_id=user_id,
            asset=asset,
            earned=amount,
            platform_cut=amount * s.margin_bp // 10_000,
            source_key=key,
            share_bp=s.commission_bp,
            daily_cap=s.commission_cap,
            notice_every=s.referral_notice_every,
            now=now,
        )


def _reverse(
    conn: Connection,
    wall: Wall,
    existing: Any,
    user_id: int,
    done: postbacks.Completion,
    amount: int,
    s: Settings,
    now: datetime,
) -> Outcome:
    if existing is None:  # the reversal came first: remember it, so its credit is refused
        new_id = conn.execute(
            _INSERT_CREDIT[conn.dialect.name],
            dict(
                wall_id=wall.id,
                txid=done.txid,
                user_id=user_id,
                asset=wall.asset,
                units=done.units_scaled,
                amount=0,
                state=PREEMPTED,
                created_at=now,
                settled_at=now,
            ),
        ).scalar()
        if new_id is not None:
            return Outcome("preempted", user_id, wall.asset, 0)
        existing = conn.execute(_CREDIT, {"w": wall.id, "t": done.txid}).first()
        if existing is None:
            raise OfferRefused("replay_mismatch", wall=wall.name)
    if existing.user_id != user_id or existing.units != done.units_scaled:
        raise OfferRefused("replay_mismatch", wall=wall.name)
    if existing.state in (REVERSED, VOIDED, PREEMPTED):
        return Outcome("replay", user_id, wall.asset, existing.amount)
    return reverse_credit(conn, existing.id, s, now) or Outcome(
        "replay", user_id, wall.asset, existing.amount
    )


def _pending_id(conn: Connection, row: Any) -> int:
    t = ledger.get_transfer(conn, key=f"postback:{row.wall_id}:{row.txid}")
    assert t is not None and t.kind == ledger.PENDING, row.id
    return t.id


def reverse_credit(
    conn: Connection, credit_id: int, s: Settings, now: datetime | None = None
) -> Outcome | None:
    """Void a held credit, or take back a released one (and its referral commission); the
    part already spent becomes a debt. None when the credit was reversed already."""
    now = now or utcnow()
    row = conn.execute(select(offer_credits).where(offer_credits.c.id == credit_id)).one()
    key = f"offer_reverse:{row.id}"
    if conn.execute(_MOVE, {"i": row.id, "old": HELD, "new": VOIDED, "now": now}).rowcount == 1:
        ledger.void_pending(conn, _pending_id(conn, row), key=key, now=now)
        return Outcome("voided", row.user_id, row.asset, row.amount)
    if conn.execute(_MOVE, {"i": row.id, "old": RELEASED, "new": REVERSED, "now": now}).rowcount != 1:
        return None
    _take_back(
        conn,
        user_account(row.user_id),
        row.user_id,
        OFFER_POOL,
        row.asset,
        row.amount,
        CODE_REVERSAL,
        key,
        now,
    )
    paid = ledger.get_transfer(conn, key=f"ref:postback:{row.wall_id}:{row.txid}")
    if paid is not None:
        referrer = int(paid.credit.split(":", 1)[1])
        _take_back(
            conn,
            paid.credit,
            referrer,
            MARKETING,
            row.asset,
            paid.amount,
            CODE_REFERRAL_REVERSAL,
            f"ref_reverse:{row.id}",
            now,
        )
    return Outcome("reversed", row.user_id, row.asset, row.amount)


def _take_back(
    conn: Connection,
    account: str,
    user_id: int,
    creditor: str,
    asset: str,
    amount: int,
    code: str,
    key: str,
    now: datetime,
) -> None:
    """Move up to ``amount`` from ``account`` back to ``creditor``; what is not there is a debt."""
    for _attempt in range(5):  # the balance may shrink between the read and the debit (PostgreSQL)
        take = min(amount, max(0, ledger.balance(conn, account, asset).available))
        if take == 0:
            break
        try:
            ledger.transfer(
                conn, debit=account, credit=creditor, asset=asset, amount=take, code=code, key=key, now=now
            )
        except InsufficientFunds:
            continue
        amount -= take
        break
    debts.add_debt(conn, user_id, asset, creditor, amount)


# --- the hold-release job -----------------------------------------------------------------

_DUE = (
    select(offer_credits.c.id)
    .where(offer_credits.c.state == HELD, offer_credits.c.release_at <= bindparam("now"))
    .order_by(offer_credits.c.release_at, offer_credits.c.id)
    .limit(bindparam("n"))
)


def release_due(conn: Connection, settings_of: Any, *, limit: int = 200, now: datetime | None = None) -> int:
    """Release held credits whose time has come (at most ``limit``); returns how many.

    Each release is a conditional UPDATE held -> released and a post of the pending transfer
    with key ``offer_release:{row}``, so a second run, a concurrent instance or a run killed
    half-way never pays one twice; a reversal that won the row leaves it alone."""
    now = now or utcnow()
    done = 0
    for credit_id in conn.execute(_DUE, {"now": now, "n": limit}).scalars().all():
        if conn.execute(_MOVE, {"i": credit_id, "old": HELD, "new": RELEASED, "now": now}).rowcount != 1:
            continue
        row = conn.execute(select(offer_credits).where(offer_credits.c.id == credit_id)).one()
        s: Settings = settings_of(row.asset)
        after = _before_release(conn, row.user_id, row.asset, row.amount, s, now)
        ledger.post_pending(conn, _pending_id(conn, row), key=f"offer_release:{row.id}", now=now)
        key = f"postback:{row.wall_id}:{row.txid}"
        _after_release(conn, row.user_id, row.asset, row.amount, key, s, now, *after)
        done += 1
    return done


# --- notices: what changed since the last run, one message per user --------------------------

_NEWS = (
    select(
        offer_credits.c.id,
        offer_credits.c.user_id,
        offer_credits.c.state,
        offer_credits.c.asset,
        offer_credits.c.amount,
    )
    .where(offer_credits.c.noticed.is_(False))
    .order_by(offer_credits.c.id)
    .limit(bindparam("n"))
)
_NOTICED = (
    update(offer_credits).where(offer_credits.c.id.in_(bindparam("ids", expanding=True))).values(noticed=True)
)
_KIND = {HELD: "held", RELEASED: "credited", REVERSED: "reversed", VOIDED: "reversed"}


def queue_notices(conn: Connection, *, limit: int = 5000, now: datetime | None = None) -> int:
    """One notice per user with what was credited, held and reversed since the last run (each
    credit row is told once per state it reaches); returns how many notices were queued."""
    rows = conn.execute(_NEWS, {"n": limit}).all()
    if not rows:
        return 0
    news: dict[int, dict[str, dict[str, int]]] = {}
    for r in rows:
        kind = _KIND.get(r.state)
        if kind is not None:
            bucket = news.setdefault(r.user_id, {}).setdefault(kind, {})
            bucket[r.asset] = bucket.get(r.asset, 0) + int(r.amount)
    conn.execute(_NOTICED, {"ids": [r.id for r in rows]})
    first = rows[0].id
    notices.enqueue_many(
        conn,
        [(user, NOTICE, params, f"offers:{user}:{first}") for user, params in news.items()],
        now=now,
    )
    return len(news)
