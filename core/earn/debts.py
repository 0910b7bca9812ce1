"""Debts: what a reversal could not take back because the user had already spent it.

A reversal never makes a balance negative (the ledger refuses it): it takes what the user
has, and the rest is recorded here, owed to the system account that paid it (``creditor``).
Every earning path calls ``repay_debts`` in its own transaction right after it credits the
user: the earning first pays back what is owed in that asset, up to the whole earning.
Called by: offer credits and releases (core.earn.offers), the faucet (core.earn.faucet), ad views
(core.earn.ads), faucet-site payments (core.earn.sites) and referral commissions (core.earn.referrals).
Repayment key: ``debt:{source_key}:{creditor}``, so a replayed earning repays once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite

from core.earn.tables import debts
from core.errors import InsufficientFunds
from core.money import ledger, user_account

CODE = "debt_repaid"

_WHERE = and_(
    debts.c.user_id == bindparam("u"), debts.c.asset == bindparam("s"), debts.c.creditor == bindparam("c")
)
_OWED_IN = (
    select(debts.c.creditor, debts.c.amount)
    .where(debts.c.user_id == bindparam("u"), debts.c.asset == bindparam("s"), debts.c.amount > 0)
    .order_by(debts.c.creditor)
)
_OWED = select(debts.c.asset, debts.c.creditor, debts.c.amount).where(
    debts.c.user_id == bindparam("u"), debts.c.amount > 0
)
_TAKE = (
    update(debts)
    .where(_WHERE, debts.c.amount >= bindparam("a"))
    .values(amount=debts.c.amount - bindparam("a"))
)
_GIVE_BACK = update(debts).where(_WHERE).values(amount=debts.c.amount + bindparam("a"))


def _add(dialect: Any) -> Any:
    ins = dialect.insert(debts).values(
        user_id=bindparam("u"), asset=bindparam("s"), creditor=bindparam("c"), amount=bindparam("a")
    )
    return ins.on_conflict_do_update(
        index_elements=[debts.c.user_id, debts.c.asset, debts.c.creditor],
        set_={"amount": debts.c.amount + ins.excluded.amount},
    )


_ADD = {"sqlite": _add(sqlite), "postgresql": _add(postgresql)}


@dataclass(frozen=True, slots=True)
class Debt:
    asset: str
    creditor: str
    amount: int  # minor units still owed


def add_debt(conn: Connection, user_id: int, asset: str, creditor: str, amount: int) -> None:
    """Record that ``user_id`` owes ``amount`` (> 0) minor units of ``asset`` to ``creditor``."""
    if amount > 0:
        conn.execute(_ADD[conn.dialect.name], {"u": user_id, "s": asset, "c": creditor, "a": amount})


def owed(conn: Connection, user_id: int) -> list[Debt]:
    """What the user still owes, per asset and creditor."""
    return [Debt(r.asset, r.creditor, r.amount) for r in conn.execute(_OWED, {"u": user_id})]


_OWES = (
    select(debts.c.amount)
    .where(debts.c.user_id == bindparam("u"), debts.c.asset == bindparam("s"), debts.c.amount > 0)
    .limit(1)
)


def owes(conn: Connection, user_id: int, asset: str) -> bool:
    """Does the user owe anything in ``asset``? (one indexed read)"""
    return conn.execute(_OWES, {"u": user_id, "s": asset}).first() is not None


def repay_debts(
    conn: Connection, user_id: int, asset: str, earned: int, *, source_key: str, now: datetime | None = None
) -> int:
    """Repay the user's debts in ``asset`` from an earning of ``earned`` just credited; returns
    what was repaid (at most ``earned``). Runs in the earning's transaction; one indexed read
    when nothing is owed."""
    rows = conn.execute(_OWED_IN, {"u": user_id, "s": asset}).all()
    left, repaid = earned, 0
    for row in rows:
        if left <= 0:
            break
        take = min(left, int(row.amount))
        params = {"u": user_id, "s": asset, "c": row.creditor, "a": take}
        if conn.execute(_TAKE, params).rowcount != 1:
            continue  # repaid meanwhile by another earning
        try:
            t = ledger.transfer(
                conn,
                debit=user_account(user_id),
                credit=row.creditor,
                asset=asset,
                amount=take,
                code=CODE,
                key=f"debt:{source_key}:{row.creditor}",
                now=now,
            )
        except InsufficientFunds:  # the earning is spoken for (held by a withdrawal): owe on
            conn.execute(_GIVE_BACK, params)
            break
        if t.replayed:
            conn.execute(_GIVE_BACK, params)
            continue
        left -= take
        repaid += take
    return repaid
