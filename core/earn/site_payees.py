"""Who a faucet site pays, and what those users are told about it.

A site pays anyone whose address or @username it knows, and anyone can type anyone's
@username. So a site's payments are kept from reading as spam or as our own words:

- **Used.** A user has used a site once the site paid one of the addresses the user
  linked (only the user gave the site that address), or once the user rated the site in
  /faucets. Payments by @username to a user who never used the site are limited to
  ``faucet_api.stranger_daily`` per site and UTC day (``api_stranger_limit``).
- **Notices.** Site payments are summed per user, asset and UTC day, and the user hears
  of them in one keyed notice a day (key ``fpnote:{user}:{asset}:{day}``; it tells the
  latest total until it is sent), only once the day's total reaches
  ``notices.site_min.<ASSET>``, at low priority. The text is ours and names no site:
  an owner chooses a site's name, and "FREE_0.5_BTC_claim_now_at_t.me/..." in a message
  from the bot reads as our advice. The user finds the sites in /faucets and /history.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    Table,
    bindparam,
    func,
    select,
)

from core.earn.tables import payee_days, site_users, strangers
from core.errors import DomainError
from core.money import ASSETS
from core.platform import REGISTRY, define, notices, per_engine

define("faucet_api.stranger_daily", "100", "int", minimum=0, maximum=1_000_000)
# A day's site payments are told only from this total on (about ten faucet rewards).
_SITE_MIN = {"BTC": "0.000001", "LTC": "0.0001", "DOGE": "0.1", "USDT": "0.01", "TRX": "0.1", "DUST": "10"}
for _code in ASSETS:
    define(f"notices.site_min.{_code}", _SITE_MIN.get(_code, "0"), "amount", asset=_code)

NOTICE = "faucet_sites_day"
NOTICE_DELAY = 3600  # seconds: a session's payments go into the notice; never past the day's end


def default(key: str) -> int:
    """A setting's default, for callers that pass none."""
    p = REGISTRY[key]
    value = p.parse(p.default)
    assert isinstance(value, int)  # the keys asked for are counts
    return value


def day_of(now: datetime) -> int:
    return int(now.timestamp()) // 86400


def _upserts(insert: Callable[[Table], Any]) -> Any:
    used = insert(site_users).on_conflict_do_nothing()
    ins = insert(strangers).values(site_id=bindparam("i"), day=bindparam("d"), payments=1)
    stranger = ins.on_conflict_do_update(
        index_elements=[strangers.c.site_id, strangers.c.day],
        set_={"payments": strangers.c.payments + 1},
        where=strangers.c.payments < bindparam("limit"),
    ).returning(strangers.c.payments)
    ins = insert(payee_days).values(
        site_id=bindparam("i"),
        user_id=bindparam("u"),
        day=bindparam("d"),
        asset=bindparam("s"),
        amount=bindparam("a"),
        payments=1,
        to_address=bindparam("b"),
    )
    paid = ins.on_conflict_do_update(
        index_elements=[payee_days.c.site_id, payee_days.c.user_id, payee_days.c.day],
        set_={
            "amount": payee_days.c.amount + ins.excluded.amount,
            "payments": payee_days.c.payments + 1,
            "to_address": payee_days.c.to_address + ins.excluded.to_address,
        },
    ).returning(payee_days.c.to_address)
    return {"used": used, "stranger": stranger, "paid": paid}


_STMTS = per_engine(_upserts)
_USED = select(site_users.c.user_id).where(
    site_users.c.site_id == bindparam("i"), site_users.c.user_id == bindparam("u")
)
_DAY_TOTAL = select(func.sum(payee_days.c.amount), func.sum(payee_days.c.payments), func.count()).where(
    payee_days.c.user_id == bindparam("u"),
    payee_days.c.day == bindparam("d"),
    payee_days.c.asset == bindparam("s"),
)


def mark_used(conn: Connection, site_id: int, user_id: int, how: str, now: datetime) -> None:
    """The user used the site (it paid an address they linked, or they rated it). Once is enough."""
    conn.execute(_STMTS.of(conn)["used"], dict(site_id=site_id, user_id=user_id, since=now, how=how))


def has_used(conn: Connection, site_id: int, user_id: int) -> bool:
    return conn.execute(_USED, {"i": site_id, "u": user_id}).first() is not None


def admit(
    conn: Connection, site_id: int, user_id: int, *, by_address: bool, limit: int, now: datetime
) -> None:
    """Let the site pay this user, or refuse ``api_stranger_limit``.

    A payment to a linked address always may (``record_payment`` marks the user as having
    used the site). A payment by @username to a user who never used the site counts against
    the site's ``limit`` for the day.
    """
    if by_address or has_used(conn, site_id, user_id):
        return
    counted = (
        limit > 0
        and conn.execute(
            _STMTS.of(conn)["stranger"], {"i": site_id, "d": day_of(now), "limit": limit}
        ).first()
    )
    if not counted:
        raise DomainError("api_stranger_limit", limit=limit)


def record_payment(
    conn: Connection,
    site_id: int,
    user_id: int,
    asset: str,
    amount: int,
    *,
    by_address: bool,
    notice_min: int,
    now: datetime,
) -> None:
    """Add a payment to the user's day, and tell them once the day's total reaches ``notice_min``.

    The first payment of the day to one of the user's linked addresses marks the user as
    having used the site (once a day, not once a payment: it is on every send's path).
    """
    day = day_of(now)
    to_address = conn.execute(
        _STMTS.of(conn)["paid"],
        {"i": site_id, "u": user_id, "d": day, "s": asset, "a": amount, "b": int(by_address)},
    ).scalar_one()
    if by_address and to_address == 1:
        mark_used(conn, site_id, user_id, "address", now)
    total, payments, sites = conn.execute(_DAY_TOTAL, {"u": user_id, "d": day, "s": asset}).one()
    if int(total) < notice_min:
        return
    day_ends = datetime.fromtimestamp((day + 1) * 86400, UTC)
    delay = min(NOTICE_DELAY, int((day_ends - now) / timedelta(seconds=1)))
    notices.enqueue(
        conn,
        user_id,
        NOTICE,
        {
            "amount": int(total),
            "asset": asset,
            "payments": int(payments),
            "sites": int(sites),
            "date": f"{day_ends - timedelta(days=1):%Y-%m-%d}",
        },
        key=f"fpnote:{user_id}:{asset}:{day}",
        now=now,
        delay_seconds=max(0, delay),
        latest=True,
        priority=notices.LOW,
    )
