"""Referrals: who invited whom, and the commission a referrer earns on their friends' earnings.

A user is bound to a referrer once, at their first /start through an invite link
(``?start=r<base36 id>``). No self-referral, no re-binding, no cycles; a code that
does not name a known user is ignored. The commission (``referral.commission``,
basis points of the earning) is paid by the marketing account, never taken from the
earning itself, and only once the friend has solved a captcha (``activated_at``),
so bare sign-ups by bots earn nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Table,
    bindparam,
    func,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from core import audit, ledger, notices
from core.accounts import MARKETING, user_account
from core.errors import InsufficientFunds
from core.params import define
from core.schema import UTCDateTime, entries, metadata, transfers, users, utcnow

referrals = Table(
    "referrals",
    metadata,
    Column("user_id", BigInteger, primary_key=True, autoincrement=False, comment="the invited user"),
    Column("referrer_id", BigInteger, nullable=False, index=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column(
        "activated_at", UTCDateTime, nullable=True, comment="first solved captcha; commission from then on"
    ),
)

define("referral.commission", "10%", "share")
# A referrer hears about commissions at most once per this many seconds (notices are batched).
define("referral.notice_every", "1h", "duration", minimum=60)

CODE = "referral"
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


def _insert(dialect):
    return dialect.insert(referrals).on_conflict_do_nothing(index_elements=[referrals.c.user_id])


_INSERT = {"sqlite": _insert(sqlite), "postgresql": _insert(postgresql)}
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
        _INSERT[conn.dialect.name],
        dict(user_id=user_id, referrer_id=referrer, created_at=now or utcnow()),
    )
    return referrer if result.rowcount == 1 else None


def activate(conn: Connection, user_id: int, now: datetime | None = None) -> int | None:
    """The user solved a captcha: from now on their earnings pay their referrer a commission.

    Returns the referrer's id (None for a user nobody invited).
    """
    return conn.execute(_ACTIVATE, {"u": user_id, "now": now or utcnow()}).scalar()


def pay_commission(
    conn: Connection,
    *,
    user_id: int,
    asset: str,
    earned: int,
    source_key: str,
    share_bp: int,
    notice_every: int = 3600,
    now: datetime | None = None,
) -> int:
    """Pay the referrer of ``user_id`` ``share_bp`` of ``earned`` from marketing; returns the amount.

    Runs in the caller's transaction, beside the earning. Key: ``ref:<source_key>``.
    Never fails the earning: no referrer, not yet activated, or a commission that rounds
    to zero pay nothing; an empty marketing account skips it and writes an audit line.
    """
    row = conn.execute(_REFERRER, {"u": user_id}).first()
    if row is None or row.activated_at is None:
        return 0
    return pay_commission_to(
        conn,
        row.referrer_id,
        user_id=user_id,
        asset=asset,
        earned=earned,
        source_key=source_key,
        share_bp=share_bp,
        notice_every=notice_every,
        now=now,
    )


def pay_commission_to(
    conn: Connection,
    referrer: int,
    *,
    user_id: int,
    asset: str,
    earned: int,
    source_key: str,
    share_bp: int,
    notice_every: int = 3600,
    now: datetime | None = None,
) -> int:
    """pay_commission() for a caller that already knows the (activated) referrer, as from activate()."""
    commission = earned * share_bp // 10_000
    if commission <= 0:
        return 0
    now = now or utcnow()
    try:  # a refused debit leaves nothing behind (core.ledger takes back its own row)
        t = ledger.transfer(
            conn,
            debit=MARKETING,
            credit=user_account(referrer),
            asset=asset,
            amount=commission,
            code=CODE,
            key=f"ref:{source_key}",
            meta={"from": user_id},
            now=now,
        )
    except InsufficientFunds:
        audit.record(
            conn,
            "referral_skipped",
            actor=None,
            target=user_account(referrer),
            asset=asset,
            amount=commission,
            source=source_key,
            now=now,
        )
        return 0
    if not t.replayed:
        slot = int(now.timestamp()) // notice_every
        notices.enqueue(
            conn,
            referrer,
            "referral_earned",
            {"amount": commission, "asset": asset},
            key=f"refnote:{referrer}:{slot}",
            now=now,
            delay_seconds=30,
            latest=True,
        )
    return commission


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
    """core.users.record_start, and at the first start the referral binding, in one transaction."""
    from core.users import record_start as record

    first = record(conn, user_id, payload, now)
    if first and payload:
        bind_referrer(conn, user_id, payload, now)
    return first
