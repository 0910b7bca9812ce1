"""Boosts: spend reward points on a multiplier of faucet, ad and offerwall rewards for a while.

The choices are the admins' (``rp.boosts``: ``PERCENT%/DURATION/PRICE`` items, e.g.
``25%/24h/500``). One boost at a time: buying another while one runs either extends it (same
percentage only: the time is added) or replaces it (the new one starts now), as the user chose.
The extra is paid in core when a reward is paid (core.loyalty.points.reward_paid), from
``marketing``, as its own transfer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, bindparam, select, update

from core.errors import InvalidParam
from core.identity import standing
from core.loyalty.errors import LoyaltyError
from core.loyalty.tables import loyalty_users
from core.money import POINTS, WORLD, ledger, user_account
from core.platform import Param, define

CODE = "rp_boost"
BOOSTED_SOURCES = ("faucet", "ad", "offer")


@dataclass(frozen=True, slots=True)
class Choice:
    number: int  # 1-based, as /boost N names it
    bp: int  # the extra, basis points of the reward
    seconds: int
    price: int  # reward points


@dataclass(frozen=True, slots=True)
class Boost:
    bp: int
    until: datetime

    def left(self, now: datetime) -> int:
        return max(0, int((self.until - now).total_seconds()))


_ITEM = re.compile(r"([0-9]{1,4})%?/([0-9]{1,6})([mhd])/([0-9]{1,9})", re.ASCII)
_UNIT = {"m": 60, "h": 3600, "d": 86400}


def parse_choices(raw: str) -> tuple[Choice, ...]:
    """``25%/24h/500,50%/6h/800`` -> choices 1, 2; ValueError for anything else."""
    out: list[Choice] = []
    for part in filter(None, (p.strip() for p in raw.split(","))):
        m = _ITEM.fullmatch(part.replace(" ", ""))
        if m is None:
            raise ValueError(part)
        percent, count, unit, price = int(m[1]), int(m[2]), m[3], int(m[4])
        if not (0 < percent <= 1000 and count > 0 and price > 0):
            raise ValueError(part)
        out.append(Choice(len(out) + 1, percent * 100, count * _UNIT[unit], price))
    return tuple(out)


def _check(p: Param, value: object) -> None:
    try:
        parse_choices(str(value))
    except ValueError:
        raise InvalidParam("bad_value", key=p.key, value=str(value)[:40], kind=p.kind) from None


define("rp.boosts", "25%/24h/500,50%/24h/1000,100%/6h/800", "text", check=_check)


_BOOST = select(loyalty_users.c.boost_bp, loyalty_users.c.boost_until).where(
    loyalty_users.c.user_id == bindparam("u")
)  # built once: it runs with every reward


def active(conn: Connection, user_id: int, now: datetime) -> Boost | None:
    row = conn.execute(_BOOST, {"u": user_id}).first()
    if row is None or row.boost_until is None or row.boost_until <= now or row.boost_bp <= 0:
        return None
    return Boost(int(row.boost_bp), row.boost_until)


def buy(
    conn: Connection,
    choices: tuple[Choice, ...],
    user_id: int,
    number: int,
    mode: str,
    *,
    key: str,
    now: datetime,
) -> Boost:
    """Buy boost ``number`` for its price in RP. ``mode``: ``new`` (no boost may be running),
    ``extend`` (same percentage: the time is added) or ``replace``. Key ``rp:boost:{key}``:
    a replayed request returns the boost in force and charges nothing again.

    Refuses (LoyaltyError): unknown_boost, boost_running (mode new while one runs),
    boost_mismatch (extend with another percentage), not_enough_points.
    """
    standing.require(conn, user_id, standing.SWAP)
    from core.loyalty.points import ensure_row

    choice = next((c for c in choices if c.number == number), None)
    if choice is None:
        raise LoyaltyError("unknown_boost", number=number)
    if mode not in ("new", "extend", "replace"):
        raise LoyaltyError("unknown_boost", number=number)
    ensure_row(conn, user_id)
    current = active(conn, user_id, now)
    if mode == "new" and current is not None:
        raise LoyaltyError("boost_running", bp=current.bp, seconds=current.left(now))
    if mode == "extend" and current is not None and current.bp != choice.bp:
        raise LoyaltyError("boost_mismatch", bp=current.bp)
    if ledger.balance(conn, user_account(user_id), POINTS.code).available < choice.price:
        raise LoyaltyError("not_enough_points", need=choice.price)
    t = ledger.transfer(
        conn,
        debit=user_account(user_id),
        credit=WORLD,
        asset=POINTS.code,
        amount=choice.price,
        code=CODE,
        key=f"rp:boost:{key}",
        meta={"boost": choice.number, "mode": mode},
        now=now,
    )
    if t.replayed:
        got = active(conn, user_id, now)
        if got is None:
            raise LoyaltyError("already_done")
        return got
    start = current.until if (mode == "extend" and current is not None) else now
    boost = Boost(choice.bp, start + timedelta(seconds=choice.seconds))
    conn.execute(
        update(loyalty_users)
        .where(loyalty_users.c.user_id == user_id)
        .values(boost_bp=boost.bp, boost_until=boost.until)
    )
    return boost
