"""Reserves against liabilities: what the platform holds per coin, next to what it owes.

Hot wallets are the payout backends' wallets, their balance read by a job (Bitcoin Core
``getbalance``, Crypto Pay ``getBalance``); cold wallets are addresses an admin declares, with the
balance the admin enters (audited). Liabilities are the latest published proof's total, so the
two figures a user compares are both public and both dated.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select, update

from core.errors import DomainError
from core.money.addresses import validate_address
from core.money.assets import get_asset
from core.platform import audit, notices, params
from core.trust import proof
from core.trust.tables import reserve_wallets

HOT, COLD = "hot", "cold"
MAX_LABEL = 64

params.define("reserves.hot_max_age", "1h", "duration", minimum=60, maximum=7 * 86400)


class ReserveError(DomainError):
    """reason: already_declared | not_declared | negative_reserve | label_too_long"""


@dataclass(frozen=True, slots=True)
class Wallet:
    asset: str
    kind: str
    address: str
    label: str | None
    balance: int
    taken_at: datetime


@dataclass(frozen=True, slots=True)
class CoinReserves:
    asset: str
    liabilities: int | None  # the latest proof's total; None before the first proof
    liabilities_at: datetime | None
    hot: int
    hot_at: datetime | None
    cold: int
    cold_at: datetime | None  # the oldest cold figure: the total is no fresher than that

    @property
    def reserves(self) -> int:
        return self.hot + self.cold

    @property
    def ratio_bp(self) -> int | None:
        """Reserves per liabilities in basis points (10,000 = 100%), rounded down; None if nothing is owed."""
        if not self.liabilities:
            return None
        return self.reserves * 10_000 // self.liabilities


def _wallet(row: Any) -> Wallet:
    return Wallet(row.asset, row.kind, row.address, row.label, int(row.balance), row.taken_at)


def _checked(asset: str, amount: int, label: str | None) -> str:
    code = get_asset(asset).code
    if amount < 0:
        raise ReserveError("negative_reserve")
    if label is not None and len(label) > MAX_LABEL:
        raise ReserveError("label_too_long", limit=MAX_LABEL)
    return code


def declare_cold(
    conn: Connection,
    admin_id: int,
    asset: str,
    address: str,
    amount: int,
    label: str | None,
    at: datetime,
    network: str = "mainnet",
) -> Wallet:
    """An admin declares a cold-storage address of ``asset`` holding ``amount``."""
    code = _checked(asset, amount, label)
    address = validate_address(code, address, network).text
    exists = conn.execute(
        select(reserve_wallets.c.id).where(
            reserve_wallets.c.asset == code,
            reserve_wallets.c.kind == COLD,
            reserve_wallets.c.address == address,
        )
    ).first()
    if exists is not None:
        raise ReserveError("already_declared", address=address)
    conn.execute(
        reserve_wallets.insert().values(
            asset=code,
            kind=COLD,
            address=address,
            label=label,
            balance=amount,
            taken_at=at,
            updated_by=admin_id,
        )
    )
    audit.record(conn, "reserve_add", actor=admin_id, target=code, now=at, address=address, amount=amount)
    return Wallet(code, COLD, address, label, amount, at)


def set_cold(
    conn: Connection,
    admin_id: int,
    asset: str,
    address: str,
    amount: int,
    at: datetime,
    network: str = "mainnet",
) -> Wallet:
    """An admin enters a declared cold wallet's balance as it is now."""
    code = _checked(asset, amount, None)
    address = validate_address(code, address, network).text
    row = conn.execute(
        update(reserve_wallets)
        .where(
            reserve_wallets.c.asset == code,
            reserve_wallets.c.kind == COLD,
            reserve_wallets.c.address == address,
        )
        .values(balance=amount, taken_at=at, updated_by=admin_id)
        .returning(*reserve_wallets.c)
    ).first()
    if row is None:
        raise ReserveError("not_declared", address=address)
    audit.record(conn, "reserve_set", actor=admin_id, target=code, now=at, address=address, amount=amount)
    return _wallet(row)


def record_hot(conn: Connection, asset: str, backend: str, balance: int, at: datetime) -> None:
    """The payout backend's wallet holds ``balance`` of ``asset`` now (read by the reserves job)."""
    where = (
        reserve_wallets.c.asset == asset,
        reserve_wallets.c.kind == HOT,
        reserve_wallets.c.address == backend,
    )
    values = {"balance": max(balance, 0), "taken_at": at}
    # Only the reserves job (one instance, under its lease) writes hot rows: update, else insert.
    if conn.execute(update(reserve_wallets).where(*where).values(**values)).rowcount == 0:
        conn.execute(reserve_wallets.insert().values(asset=asset, kind=HOT, address=backend, **values))


def hot_balance(conn: Connection, asset: str) -> tuple[int, datetime] | None:
    """The freshest hot-wallet reading of ``asset`` (summed over backends), and its time."""
    rows = conn.execute(
        select(reserve_wallets.c.balance, reserve_wallets.c.taken_at).where(
            reserve_wallets.c.asset == asset, reserve_wallets.c.kind == HOT
        )
    ).all()
    if not rows:
        return None
    return sum(int(r.balance) for r in rows), min(r.taken_at for r in rows)


def wallets(conn: Connection) -> list[Wallet]:
    rows = conn.execute(
        select(reserve_wallets).order_by(
            reserve_wallets.c.asset, reserve_wallets.c.kind, reserve_wallets.c.id
        )
    )
    return [_wallet(r) for r in rows]


def overview(conn: Connection) -> list[CoinReserves]:
    """Per coin with a proof or a reserve: liabilities, hot and cold reserves, and when each was taken."""
    roots = proof.latest_roots(conn)
    per: dict[str, list[Wallet]] = {}
    for w in wallets(conn):
        per.setdefault(w.asset, []).append(w)
    out = []
    for asset in sorted(set(roots) | set(per)):
        root = roots.get(asset)
        hot = [w for w in per.get(asset, []) if w.kind == HOT]
        cold = [w for w in per.get(asset, []) if w.kind == COLD]
        out.append(
            CoinReserves(
                asset,
                root.total if root else None,
                root.taken_at if root else None,
                sum(w.balance for w in hot),
                min((w.taken_at for w in hot), default=None),
                sum(w.balance for w in cold),
                min((w.taken_at for w in cold), default=None),
            )
        )
    return out


# --- the hot wallet in front of payout batches ---------------------------------------------------


def approved_total(conn: Connection, asset: str) -> int:
    """What the approved, not yet batched withdrawals of ``asset`` will send (fees stay with us)."""
    from core.cashout.withdrawals import withdrawals  # cashout sits above trust's tables, not below

    return int(
        conn.execute(
            select(func.coalesce(func.sum(withdrawals.c.amount - withdrawals.c.fee), 0)).where(
                withdrawals.c.asset == asset, withdrawals.c.state == "approved"
            )
        ).scalar_one()
    )


def assets_waiting(conn: Connection) -> list[str]:
    """Coins with approved withdrawals not yet in a batch."""
    from core.cashout.withdrawals import withdrawals

    rows = conn.execute(select(withdrawals.c.asset).where(withdrawals.c.state == "approved").distinct())
    return sorted(r.asset for r in rows)


def gate(
    conn: Connection, asset: str, backend: str, hot: int, at: datetime, admin_ids: frozenset[int]
) -> bool:
    """Record the hot wallet's balance and say whether batches of ``asset`` may go out now.

    When approved withdrawals need more than the hot wallet holds, none of that coin is batched:
    the users waiting are told once that the hot wallet is being refilled, and every admin once
    per shortfall how much to move from cold storage (keys carry the shortfall's first
    withdrawal, so a new shortfall tells again). False while short."""
    from core.cashout.withdrawals import withdrawals

    record_hot(conn, asset, backend, hot, at)
    need = approved_total(conn, asset)
    short = need - hot if need > hot else 0
    where = (
        reserve_wallets.c.asset == asset,
        reserve_wallets.c.kind == HOT,
        reserve_wallets.c.address == backend,
    )
    conn.execute(update(reserve_wallets).where(*where).values(short_by=short or None))
    if not short:
        return True
    waiting = conn.execute(
        select(withdrawals.c.id, withdrawals.c.user_id, withdrawals.c.amount, withdrawals.c.fee)
        .where(withdrawals.c.asset == asset, withdrawals.c.state == "approved")
        .order_by(withdrawals.c.id)
    ).all()
    items: list[tuple[int, str, dict[str, object] | None, str | None]] = [
        (
            int(w.user_id),
            "withdrawal_refill",
            {"id": int(w.id), "state": "refilling", "amount": int(w.amount - w.fee), "asset": asset},
            f"withdrawal:{w.id}:refilling",
        )
        for w in waiting
    ]
    first = int(waiting[0].id) if waiting else 0
    items += [
        (
            admin,
            "hot_wallet_short",
            {"asset": asset, "short": short, "need": need, "hot": hot, "backend": backend},
            f"hot_wallet_short:{asset}:{first}:{admin}",
        )
        for admin in sorted(admin_ids)
    ]
    notices.enqueue_many(conn, items, now=at)
    return False


def refilling(conn: Connection) -> dict[str, int]:
    """Coins whose batches wait for the hot wallet, and by how much it is short."""
    rows = conn.execute(
        select(reserve_wallets.c.asset, reserve_wallets.c.short_by).where(
            reserve_wallets.c.kind == HOT, reserve_wallets.c.short_by.is_not(None)
        )
    )
    return {r.asset: int(r.short_by) for r in rows}
