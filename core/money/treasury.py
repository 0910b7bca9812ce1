"""What admins do with money: record deposits, fund pools, credit and debit users.

Each is one ledger transfer plus an audit line in the same transaction. The
idempotency key comes from the admin's message (chat and message id), so a
retried update never moves money twice. Money knows users only by id: finding one by
@name, and counting them, is core.identity.credits's part.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, func, select, table

from core.money import ledger
from core.money.accounts import FUNDABLE, SYSTEM_ACCOUNTS, TREASURY, WORLD, parse_system_account, user_account
from core.money.codes import Code
from core.money.tables import accounts
from core.platform import audit, notices


@dataclass(frozen=True, slots=True)
class Stats:
    users: int
    liabilities: dict[str, int]  # asset -> sum of user balances
    system: list[tuple[str, str, int, int]]  # (account, asset, balance, held)


# Users are identity's; money only counts their rows (by table name: money imports no capability).
_COUNT_USERS = select(func.count()).select_from(table("users"))


def stats(conn: Connection) -> Stats:
    """How many users there are, what they hold per asset, and every system account's balance and hold."""
    liabilities = {
        r.asset: r.total
        for r in conn.execute(
            select(accounts.c.asset, func.sum(accounts.c.balance).label("total"))
            .where(accounts.c.owner.like("user:%"))
            .group_by(accounts.c.asset)
        )
    }
    system = [
        (r.owner, r.asset, r.balance, r.debits_pending)
        for r in conn.execute(
            select(accounts)
            .where(accounts.c.owner.not_like("user:%"))
            .order_by(accounts.c.owner, accounts.c.asset)
        )
        if r.owner.split(":", 1)[0] in SYSTEM_ACCOUNTS
    ]
    return Stats(conn.execute(_COUNT_USERS).scalar_one(), liabilities, system)


def deposit(
    conn: Connection, *, admin_id: int, asset: str, amount: int, note: str, key: str
) -> ledger.Transfer:
    """The operator put coins into the platform's wallets: world -> treasury."""
    t = ledger.transfer(
        conn,
        debit=WORLD,
        credit=TREASURY,
        asset=asset,
        amount=amount,
        code=Code.DEPOSIT,
        key=key,
        meta={"note": note},
    )
    if not t.replayed:
        audit.record(conn, "deposit", actor=admin_id, target=TREASURY, asset=asset, amount=amount, note=note)
    return t


def fund(
    conn: Connection, *, admin_id: int, account: str, asset: str, amount: int, key: str
) -> ledger.Transfer:
    """Move treasury money into a pool a feature pays from (faucet pool, marketing, house...)."""
    target = parse_system_account(account, FUNDABLE)
    t = ledger.transfer(
        conn,
        debit=TREASURY,
        credit=target,
        asset=asset,
        amount=amount,
        code=Code.FUND,
        key=key,
        meta={"admin": admin_id},
    )
    if not t.replayed:
        audit.record(conn, "fund", actor=admin_id, target=target, asset=asset, amount=amount)
    return t


def credit_user(
    conn: Connection, *, admin_id: int, user_id: int, asset: str, amount: int, reason: str, key: str
) -> ledger.Transfer:
    """Treasury -> user, e.g. a goodwill payment. The user is told (notice ``admin_credit`` with
    the amount and the reason, key ``admin_credit:{transfer}``) in the same transaction, so a
    credit is never silent."""
    t = ledger.transfer(
        conn,
        debit=TREASURY,
        credit=user_account(user_id),
        asset=asset,
        amount=amount,
        code=Code.ADMIN_CREDIT,
        key=key,
        meta={"reason": reason},
    )
    if not t.replayed:
        audit.record(
            conn, "credit", actor=admin_id, target=str(user_id), asset=asset, amount=amount, reason=reason
        )
    notices.enqueue(
        conn,
        user_id,
        "admin_credit",
        {"amount": amount, "asset": asset, "reason": reason},
        key=f"admin_credit:{t.id}",
    )
    return t


def debit_user(
    conn: Connection, *, admin_id: int, user_id: int, asset: str, amount: int, reason: str, key: str
) -> ledger.Transfer:
    """User -> treasury, e.g. clawing back an abuse payout. Never below the user's balance."""
    t = ledger.transfer(
        conn,
        debit=user_account(user_id),
        credit=TREASURY,
        asset=asset,
        amount=amount,
        code=Code.ADMIN_DEBIT,
        key=key,
        meta={"reason": reason},
    )
    if not t.replayed:
        audit.record(
            conn, "debit", actor=admin_id, target=str(user_id), asset=asset, amount=amount, reason=reason
        )
    return t
