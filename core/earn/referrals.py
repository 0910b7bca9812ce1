"""Referrals: who invited whom, and the commission a referrer earns on their friends' earnings.

A user is bound to a referrer once, at their first /start through an invite link
(``?start=r<base36 id>``). No self-referral, no re-binding, no cycles; a code that
does not name a known user is ignored. The commission (``referral.commission``,
basis points of the earning) is paid by the marketing account, never taken from the
earning itself, and only once the friend has solved a captcha (``activated_at``),
so bare sign-ups by bots earn nothing.

The rule for every source of earnings (the faucet, faucet sites, and the ads and offers
to come): **a commission the platform pays is never larger than the platform's own cut
on that earning** (``commission_for``). The faucet is paid by the platform, so its cut
is the whole claim; a faucet-site payment comes out of the site's escrow, so the
platform's cut is zero and it pays no commission on it (a site pays its own referral
commissions from its escrow with ``referral=true``). What the platform pays one
referrer in one asset per UTC day is capped by ``referral.daily_cap.<ASSET>``, counted
in the same statement that grants it, so concurrent earnings never pass the cap.
Without these, an owner invited by his own second account could pay himself through
his site again and again, and the second account would earn 10% of every round.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    Connection,
    Table,
    and_,
    bindparam,
    case,
    func,
    select,
    update,
)

from core.earn import debts
from core.earn.tables import referral_days, referrals
from core.errors import InsufficientFunds
from core.identity import standing
from core.identity import users_table as users
from core.money import ASSETS, MARKETING, MAX_AMOUNT, Code, ledger, user_account
from core.money import entries_table as entries
from core.money import transfers_table as transfers
from core.platform import audit, define, notices, per_engine, utcnow

define("referral.commission", "10%", "share")
# Platform-paid commission per referrer per UTC day; 0 removes the cap. About 40 friends'
# worth of hourly faucet claims at the default rewards.
_DEFAULT_CAPS = {"BTC": "0.0001", "LTC": "0.001", "DOGE": "1", "USDT": "1", "TRX": "1", "DUST": "100"}
for _code in ASSETS:
    define(f"referral.daily_cap.{_code}", _DEFAULT_CAPS.get(_code, "0"), "amount", asset=_code)
# A referrer hears about commissions at most once per this many seconds (notices are batched).
define("referral.notice_every", "1h", "duration", minimum=60)

CODE = Code.REFERRAL


class Source(StrEnum):
    """Where an earning that pays a commission comes from, and so who pays for it."""

    FAUCET = "faucet"  # the platform pays the claim: its cut is the whole claim
    FAUCET_SITE = "faucet_site"  # the site's escrow pays: the platform's cut is zero
    ADS = "ads"  # the campaign's escrow pays: the platform's cut is the ad fee
    OFFER = "offer"  # an offerwall credit: the cut is offers.margin of the credit


_CODE_RE = re.compile(r"r([0-9a-z]{1,13})", re.ASCII)
_MAX_DEPTH = 64


def invite_code(user_id: int) -> str:
    """The start payload that invites to Dustpan on behalf of ``user_id``: 'r' + base36 id."""
    n, digits = int(user_id), ""
    while True:
        n, r = divmod(n, 36)
        digits = "0123456789abcdefghijklmnopqrstuvwxyz"[r] + digits
        if n == 0:
            return "r" + digits


def parse_code(payload: str | None) -> int | None:
    """The referrer's id in an invite payload, or None for anything else."""
    m = _CODE_RE.fullmatch(payload or "")
    if m is None:
        return None
    value = int(m[1], 36)
    return value if 0 < value < 2**63 else None


def _insert(insert: Callable[[Table], Any]) -> Any:
    return insert(referrals).on_conflict_do_nothing(index_elements=[referrals.c.user_id])


_INSERT = per_engine(_insert)
_REFERRER = select(referrals.c.referrer_id, referrals.c.activated_at).where(
    referrals.c.user_id == bindparam("u")
)
_USER_EXISTS = select(users.c.id).where(users.c.id == bindparam("u"))
# One statement activates (once: the first time is kept) and names the referrer.
_ACTIVATE = (
    update(referrals)
    .where(referrals.c.user_id == bindparam("u"))
    .values(activated_at=func.coalesce(referrals.c.activated_at, bindparam("now")))
    .returning(referrals.c.referrer_id)
)


def bind_referrer(
    conn: Connection, user_id: int, payload: str | None, now: datetime | None = None
) -> int | None:
    """Bind ``user_id`` to the referrer named by ``payload`` (call at the first /start only).

    Returns the referrer's id, or None when the payload is not an invite, names an
    unknown user or the user themself, would close a cycle, or the user is bound already.
    """
    referrer = parse_code(payload)
    if referrer is None or referrer == user_id:
        return None
    if conn.execute(_USER_EXISTS, {"u": referrer}).first() is None:
        return None
    up = referrer
    for _ in range(_MAX_DEPTH):  # the referrer's own chain must not lead back to the user
        row = conn.execute(_REFERRER, {"u": up}).first()
        if row is None:
            break
        if row.referrer_id == user_id:
            return None
        up = row.referrer_id
    result = conn.execute(
        _INSERT.of(conn),
        dict(user_id=user_id, referrer_id=referrer, created_at=now or utcnow()),
    )
    return referrer if result.rowcount == 1 else None


def activate(conn: Connection, user_id: int, now: datetime | None = None) -> int | None:
    """The user solved a captcha: from now on their earnings pay their referrer a commission.

    Returns the referrer's id (None for a user nobody invited).
    """
    return conn.execute(_ACTIVATE, {"u": user_id, "now": now or utcnow()}).scalar()


def invited_by(conn: Connection, user_id: int) -> int | None:
    """Who invited ``user_id`` (whether or not they earn on them yet); None: nobody."""
    row = conn.execute(_REFERRER, {"u": user_id}).first()
    return row.referrer_id if row is not None else None


def referrer_of(conn: Connection, user_id: int) -> int | None:
    """The referrer who earns on ``user_id``'s earnings: None when nobody invited them or they
    have not solved a captcha yet (then no commission is due)."""
    row = conn.execute(_REFERRER, {"u": user_id}).first()
    return row.referrer_id if row is not None and row.activated_at is not None else None


def commission_for(share_bp: int, earning: int, platform_cut: int) -> int:
    """The commission an earning may pay its referrer from platform money, in minor units.

    ``share_bp`` of ``earning`` (rounded down), and never more than ``platform_cut``: what
    the platform itself keeps or spends on that earning. Every source passes its cut: the
    faucet the whole claim, a faucet-site payment zero, an ad or offer what the advertiser
    paid beyond what the user received.
    """
    return max(0, min(earning * share_bp // 10_000, platform_cut))


def _grant(insert: Callable[[Table], Any]) -> Any:
    """Add ``c`` to the referrer's day, up to ``cap``, in one statement; returns what was granted.

    The day's row is locked by the statement itself (PostgreSQL re-reads it after a
    concurrent update), so two earnings at once can never both take the last of the cap.
    """
    ins = insert(referral_days).values(
        referrer_id=bindparam("r"),
        asset=bindparam("s"),
        day=bindparam("d"),
        paid=bindparam("g0"),
        granted=bindparam("g0"),
    )
    over = referral_days.c.paid + bindparam("c") > bindparam("cap")
    return ins.on_conflict_do_update(
        index_elements=[referral_days.c.referrer_id, referral_days.c.asset, referral_days.c.day],
        set_={
            "granted": case((over, bindparam("cap") - referral_days.c.paid), else_=bindparam("c")),
            "paid": case((over, bindparam("cap")), else_=referral_days.c.paid + bindparam("c")),
        },
        where=referral_days.c.paid < bindparam("cap"),
    ).returning(referral_days.c.granted)


_GRANT = per_engine(_grant)
_DAY = and_(
    referral_days.c.referrer_id == bindparam("r"),
    referral_days.c.asset == bindparam("s"),
    referral_days.c.day == bindparam("d"),
)
_UNGRANT = update(referral_days).where(_DAY).values(paid=referral_days.c.paid - bindparam("g"))
_PAID = select(referral_days.c.paid).where(_DAY)


def _day(now: datetime) -> int:
    return int(now.timestamp()) // 86400


def paid_today(conn: Connection, referrer: int, asset: str, now: datetime | None = None) -> int:
    """Platform-paid commission ``referrer`` received in ``asset`` on ``now``'s UTC day."""
    return conn.execute(_PAID, {"r": referrer, "s": asset, "d": _day(now or utcnow())}).scalar() or 0


def pay_commission(
    conn: Connection,
    *,
    source: Source,
    user_id: int,
    asset: str,
    earned: int,
    platform_cut: int,
    source_key: str,
    share_bp: int,
    daily_cap: int = 0,
    notice_every: int = 3600,
    now: datetime | None = None,
) -> int:
    """Pay the referrer of ``user_id`` their commission on ``earned`` from marketing; returns it.

    Runs in the caller's transaction, beside the earning. Key: ``ref:<source_key>``.
    The amount is ``commission_for(share_bp, earned, platform_cut)``, within what is left
    of the referrer's ``daily_cap`` (0: no cap). Never fails the earning: no referrer, not
    yet activated, a commission of zero or a spent cap pay nothing; an empty marketing
    account skips it (the cap is not used up) and writes an audit line.
    """
    if commission_for(share_bp, earned, platform_cut) <= 0:
        return 0  # e.g. every faucet-site payment: not even a lookup
    row = conn.execute(_REFERRER, {"u": user_id}).first()
    if row is None or row.activated_at is None:
        return 0
    return pay_commission_to(
        conn,
        row.referrer_id,
        source=source,
        user_id=user_id,
        asset=asset,
        earned=earned,
        platform_cut=platform_cut,
        source_key=source_key,
        share_bp=share_bp,
        daily_cap=daily_cap,
        notice_every=notice_every,
        now=now,
    )


def pay_commission_to(
    conn: Connection,
    referrer: int,
    *,
    source: Source,
    user_id: int,
    asset: str,
    earned: int,
    platform_cut: int,
    source_key: str,
    share_bp: int,
    daily_cap: int = 0,
    notice_every: int = 3600,
    now: datetime | None = None,
) -> int:
    """pay_commission() for a caller that already knows the (activated) referrer, as from activate().
    A banned referrer earns nothing (the commission is not paid, nor owed later)."""
    wanted = commission_for(share_bp, earned, platform_cut)
    if wanted <= 0 or standing.is_banned(conn, referrer):
        return 0
    now = now or utcnow()
    cap = daily_cap if daily_cap > 0 else MAX_AMOUNT
    day = {"r": referrer, "s": asset, "d": _day(now)}
    granted: int | None = conn.execute(
        _GRANT.of(conn), {**day, "c": wanted, "cap": cap, "g0": min(wanted, cap)}
    ).scalar()
    if not granted or granted <= 0:
        return 0  # today's cap is spent
    try:  # a refused debit leaves nothing behind (core.money.ledger takes back its own row)
        t = ledger.transfer(
            conn,
            debit=MARKETING,
            credit=user_account(referrer),
            asset=asset,
            amount=granted,
            code=CODE,
            key=f"ref:{source_key}",
            meta={"from": user_id, "source": str(source)},
            now=now,
        )
    except InsufficientFunds:
        conn.execute(_UNGRANT, {**day, "g": granted})
        audit.record(
            conn,
            "referral_skipped",
            actor=None,
            target=user_account(referrer),
            asset=asset,
            amount=granted,
            source=source_key,
            now=now,
        )
        return 0
    if t.replayed:  # paid before under this key: nothing moved now, nothing counts now
        conn.execute(_UNGRANT, {**day, "g": granted})
        return 0
    debts.repay_debts(conn, referrer, asset, granted, source_key=f"ref:{source_key}", now=now)
    slot = int(now.timestamp()) // notice_every
    notices.enqueue(
        conn,
        referrer,
        "referral_earned",
        {"amount": granted, "asset": asset},
        key=f"refnote:{referrer}:{slot}",
        now=now,
        delay_seconds=30,
        latest=True,
    )
    return granted


@dataclass(frozen=True, slots=True)
class Stats:
    invited: int
    active: int
    earned: dict[str, int]  # asset -> minor units


def stats(conn: Connection, user_id: int) -> Stats:
    """How many people ``user_id`` invited, how many are active, and what they earned them."""
    invited, active = conn.execute(
        select(func.count(), func.count(referrals.c.activated_at)).where(referrals.c.referrer_id == user_id)
    ).one()
    earned = {
        r.asset: int(r.total)
        for r in conn.execute(
            select(entries.c.asset, func.sum(entries.c.amount).label("total"))
            .join(transfers, transfers.c.id == entries.c.transfer_id)
            .where(entries.c.owner == user_account(user_id), transfers.c.code == CODE)
            .group_by(entries.c.asset)
        )
    }
    return Stats(invited, active, earned)


def record_start(conn: Connection, user_id: int, payload: str | None, now: datetime | None = None) -> bool:
    """core.identity.users.record_start, and at the first start the referral binding, in one transaction."""
    from core.identity import record_start as record

    first = record(conn, user_id, payload, now)
    if first and payload:
        bind_referrer(conn, user_id, payload, now)
    return first
