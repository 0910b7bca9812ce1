"""Withdrawals: a user's request to send coins out, from quote to sent (or failed).

States: draft (quoted, nothing held) -> requested (confirmed: amount reserved) ->
approved (automatically at or under ``withdraw.auto_approve.<ASSET>`` for users in
good standing, else by an admin) -> batched (in a payout batch, see core.cashout.payouts) ->
sent (txid) | failed (reserve voided) | unknown (outcome not confirmed: reconciled,
never blindly sent again). Drafts and requests may be cancelled (reserve voided)
until they are batched.

Money: ``amount`` is what leaves the user's balance; ``fee`` (``withdraw.fee.<ASSET>``)
is part of it, and ``amount - fee`` arrives. Confirming reserves ``amount`` from the user
to withdrawals_pending (key ``withdrawal:{id}``). When sent, the reserve is posted
(``withdrawal:{id}:post``) and core.cashout.payouts pays what arrives to world and the fees to
fees, one transfer each per settled group of a batch. Failed or cancelled: voided
(``withdrawal:{id}:void``), the whole amount, fee included, is the user's again.
Every state change queues a notice keyed ``withdrawal:{id}:{state}``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    Connection,
    Row,
    select,
    update,
)

from core.cashout.addressbook import resolve
from core.cashout.tables import withdrawals
from core.errors import DomainError, InsufficientFunds
from core.identity import standing, twofa
from core.identity import users_table as users
from core.money import ASSET_CODES, WITHDRAWALS_PENDING, Code, get_asset, ledger, user_account
from core.platform import Params, audit, define, notices, utcnow

_FEES = {"BTC": "0.00001", "LTC": "0.0001", "DOGE": "1", "USDT": "1", "TRX": "1", "DUST": "0.0001"}
_MINS = {"BTC": "0.0001", "LTC": "0.001", "DOGE": "5", "USDT": "5", "TRX": "10", "DUST": "0.001"}
_AUTO = {"BTC": "0.001", "LTC": "0.1", "DOGE": "100", "USDT": "50", "TRX": "500", "DUST": "1"}
for _code in ASSET_CODES:
    define(f"withdraw.fee.{_code}", _FEES[_code], "amount", asset=_code)
    define(f"withdraw.min.{_code}", _MINS[_code], "amount", asset=_code)
    define(f"withdraw.auto_approve.{_code}", _AUTO[_code], "amount", asset=_code)
define("withdraw.good_standing_age", "0s", "duration")


class State(StrEnum):
    """Where a withdrawal is (``withdrawals.state``): draft -> requested -> approved -> batched ->
    sent, or unknown (the payout service's answer was lost: checked again) -> sent | failed;
    cancelled by the user before it is batched; failed when refused or not sent."""

    DRAFT = "draft"
    REQUESTED = "requested"
    APPROVED = "approved"
    BATCHED = "batched"
    UNKNOWN = "unknown"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"


DRAFT_TTL = timedelta(minutes=15)
CANCELLABLE = (State.DRAFT, State.REQUESTED, State.APPROVED)
TELEGRAM_WALLET = "@CryptoBot"
# A failed withdrawal's ``reason`` is a code users read translated (handlers.cashout.withdraw), or
# what a payout service or an admin's /failed said.
REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class Policy:
    """The settings in force for one asset's withdrawals (amounts in its minor units)."""

    fee: int
    minimum: int
    auto_approve: int
    good_standing_age: int  # seconds
    network: str  # mainnet | testnet
    to_telegram_wallet: bool  # the asset pays out through Crypto Pay: no address needed
    max_failures: int  # 2FA codes wrong in 24 hours before 2FA actions lock
    twofa_session: int = 0  # seconds a used 2FA code still confirms the next action (twofa.session)


def policy_for(params: Params, asset: str) -> Policy:
    """Read ``asset``'s withdrawal settings from ``params`` (core.platform.params.Params)."""
    code = get_asset(asset).code
    return Policy(
        fee=params.get(f"withdraw.fee.{code}"),
        minimum=params.get(f"withdraw.min.{code}"),
        auto_approve=params.get(f"withdraw.auto_approve.{code}"),
        good_standing_age=params.get("withdraw.good_standing_age"),
        network=str(params.get("cashout.network")),
        to_telegram_wallet=params.get(f"payout.backend.{code}") == "cryptopay",
        max_failures=params.get("twofa.max_failures"),
        twofa_session=params.get("twofa.session"),
    )


class WithdrawalError(DomainError):
    """below_minimum, withdrawal_not_found, withdrawal_cancelled, quote_expired, too_late_to_cancel..."""


@dataclass(frozen=True, slots=True)
class Withdrawal:
    id: int
    user_id: int
    asset: str
    amount: int
    fee: int
    address: str
    chain: str
    state: str
    txid: str | None
    reason: str | None
    batch_id: int | None
    created_at: datetime
    replayed: bool = False

    @property
    def arrives(self) -> int:
        return self.amount - self.fee


def _w(row: Row[Any], replayed: bool = False) -> Withdrawal:
    m = row._mapping
    return Withdrawal(**{k: m[k] for k in Withdrawal.__slots__ if k != "replayed"}, replayed=replayed)


def _get(conn: Connection, user_id: int | None, wid: int) -> Row[Any]:
    q = select(withdrawals).where(withdrawals.c.id == wid)
    if user_id is not None:
        q = q.where(withdrawals.c.user_id == user_id)
    row = conn.execute(q).first()
    if row is None:
        raise WithdrawalError("withdrawal_not_found")
    return row


def _move(
    conn: Connection, wid: int, frm: tuple[str, ...], to: str, now: datetime, **values: Any
) -> Row[Any] | None:
    """Change state only from one of ``frm``; the row as this call left it, or None if it did not.

    Use the returned row, not one read before: on PostgreSQL another transaction may have
    changed it in between (a draft confirmed, its reserve_id set, before a cancel).
    """
    stmt = (
        update(withdrawals)
        .where(withdrawals.c.id == wid, withdrawals.c.state.in_(frm))
        .values(state=to, updated_at=now, **values)
        .returning(*withdrawals.c)
    )
    return conn.execute(stmt).first()


def _notice(
    row: Row[Any], state: str, extra: dict[str, Any]
) -> tuple[int, str, dict[str, Any] | None, str | None]:
    params = {"id": row.id, "state": state, "amount": row.amount - row.fee, "asset": row.asset, **extra}
    return row.user_id, "withdrawal_state", params, f"withdrawal:{row.id}:{state}"


def tell(conn: Connection, row: Row[Any], state: str, now: datetime, **extra: Any) -> None:
    """Queue the user's notice of a state change (key ``withdrawal:{id}:{state}``)."""
    tell_many(conn, [(row, state, extra)], now)


def tell_many(conn: Connection, changes: list[tuple[Row[Any], str, dict[str, Any]]], now: datetime) -> None:
    """``tell`` for many (row, state, extra) at once: one multi-row insert (a batch settles thousands)."""
    notices.enqueue_many(
        conn,
        [_notice(row, state, extra) for row, state, extra in changes],
        now=now,
        threads=[f"withdrawal:{row.id}" for row, _state, _extra in changes],  # one message each
    )


def request_withdrawal(
    conn: Connection,
    user_id: int,
    asset: str,
    amount: int,
    destination: str | None,
    policy: Policy,
    now: datetime | None = None,
) -> Withdrawal:
    """Quote a withdrawal as a draft (nothing held yet): validates the address and the amount.

    ``policy`` is ``policy_for(params, asset)``. With ``policy.to_telegram_wallet`` (the asset
    pays out through Crypto Pay) the coins go to the user's @CryptoBot wallet by Telegram id,
    and ``destination`` is not needed.
    """
    standing.require(conn, user_id, standing.WITHDRAW, lock=True)
    now = now or utcnow()
    code = get_asset(asset).code
    fee = policy.fee
    if policy.to_telegram_wallet:
        address_text, chain = TELEGRAM_WALLET, "cryptopay"
    else:
        address = resolve(conn, user_id, code, destination or "", policy.network)
        address_text, chain = address.text, address.chain
    if amount < max(policy.minimum, fee + 1):
        raise WithdrawalError("below_minimum", minimum=max(policy.minimum, fee + 1), asset=code)
    have = ledger.balance(conn, user_account(user_id), code).available
    if have < amount:
        raise InsufficientFunds(user_account(user_id), code, amount, have=max(0, have))
    wid = conn.execute(
        withdrawals.insert()
        .values(
            user_id=user_id,
            asset=code,
            amount=amount,
            fee=fee,
            address=address_text,
            chain=chain,
            state=State.DRAFT,
            created_at=now,
            updated_at=now,
        )
        .returning(withdrawals.c.id)
    ).scalar_one()
    return _w(_get(conn, user_id, wid))


def _good_standing(conn: Connection, user_id: int, age_seconds: int, now: datetime) -> bool:
    row = conn.execute(select(users.c.created_at, users.c.is_blocked).where(users.c.id == user_id)).first()
    return row is not None and not row.is_blocked and row.created_at <= now - timedelta(seconds=age_seconds)


def confirm_withdrawal(
    conn: Connection,
    user_id: int,
    wid: int,
    *,
    code: str | None,
    secret_key: str,
    policy_of: Callable[[str], Policy],
    now: datetime | None = None,
) -> Withdrawal:
    """Confirm a draft: check 2FA, reserve the amount, approve if small. Pressing twice is harmless.

    ``policy_of(asset)`` gives the settings for the withdrawal's asset (``policy_for`` bound
    to the params in force), so the caller need not read the withdrawal first.
    """
    standing.require(conn, user_id, standing.WITHDRAW, lock=True)
    now = now or utcnow()
    row = _get(conn, user_id, wid)
    if row.state == State.CANCELLED:
        raise WithdrawalError("withdrawal_cancelled")
    if row.state != State.DRAFT:
        return _w(row, replayed=True)
    if row.created_at < now - DRAFT_TTL:
        raise WithdrawalError("quote_expired")
    policy = policy_of(row.asset)
    twofa.require(
        conn, user_id, code, secret_key, now, max_failures=policy.max_failures, session=policy.twofa_session
    )
    if not _move(conn, wid, (State.DRAFT,), State.REQUESTED, now):
        return _w(_get(conn, user_id, wid), replayed=True)
    t = ledger.reserve(
        conn,
        debit=user_account(user_id),
        credit=WITHDRAWALS_PENDING,
        asset=row.asset,
        amount=row.amount,
        code=Code.WITHDRAWAL,
        key=f"withdrawal:{wid}",
        meta={"address": row.address},
        now=now,
    )
    conn.execute(update(withdrawals).where(withdrawals.c.id == wid).values(reserve_id=t.id))
    state = State.REQUESTED
    if row.amount <= policy.auto_approve and _good_standing(conn, user_id, policy.good_standing_age, now):
        _move(conn, wid, (State.REQUESTED,), State.APPROVED, now)
        state = State.APPROVED
    tell(conn, row, state, now)
    return _w(_get(conn, user_id, wid))


def void(conn: Connection, row: Row[Any], now: datetime) -> None:
    ledger.void_pending(conn, row.reserve_id, key=f"withdrawal:{row.id}:void", now=now)


def cancel_withdrawal(conn: Connection, user_id: int, wid: int, now: datetime | None = None) -> Withdrawal:
    """Cancel before batching; the reserve (if any) is voided. Cancelling twice is harmless."""
    now = now or utcnow()
    row = _get(conn, user_id, wid)
    if row.state == State.CANCELLED:
        return _w(row, replayed=True)
    moved = _move(conn, wid, CANCELLABLE, State.CANCELLED, now) if row.state in CANCELLABLE else None
    if moved is None:
        raise WithdrawalError("too_late_to_cancel")
    if moved.reserve_id is not None:
        void(conn, moved, now)
        tell(conn, moved, State.CANCELLED, now)
    return _w(_get(conn, user_id, wid))


def approve(
    conn: Connection,
    admin_id: int,
    wid: int,
    *,
    code: str | None = None,
    secret_key: str,
    max_failures: int,
    now: datetime | None = None,
) -> Withdrawal:
    """An admin approves a request (2FA code when the admin has 2FA on)."""
    now = now or utcnow()
    _get(conn, None, wid)
    twofa.require(conn, admin_id, code, secret_key, now, max_failures=max_failures)
    row = _move(conn, wid, (State.REQUESTED,), State.APPROVED, now, approved_by=admin_id)
    if row is None:
        raise WithdrawalError("not_awaiting_approval", id=wid)
    audit.record(conn, "approve_withdrawal", actor=admin_id, target=str(wid), now=now)
    tell(conn, row, State.APPROVED, now)
    return _w(_get(conn, None, wid))


def reject(
    conn: Connection, admin_id: int, wid: int, reason: str = "", now: datetime | None = None
) -> Withdrawal:
    """An admin refuses a request: the reserve is voided. ``reason`` defaults to REJECTED."""
    now = now or utcnow()
    reason = reason or REJECTED
    _get(conn, None, wid)
    row = _move(conn, wid, (State.REQUESTED,), State.FAILED, now, reason=reason[:200])
    if row is None:
        raise WithdrawalError("not_awaiting_approval", id=wid)
    void(conn, row, now)
    audit.record(conn, "reject_withdrawal", actor=admin_id, target=str(wid), reason=reason, now=now)
    tell(conn, row, State.FAILED, now, reason=reason[:200])
    return _w(_get(conn, None, wid))


def hold_for_review(conn: Connection, user_id: int, now: datetime | None = None) -> list[int]:
    """A user was banned or frozen: their withdrawals not yet handed to a payout backend wait
    for an admin again. Approved ones go back to ``requested`` (the approval queue; the payout
    job batches only approved ones); requested ones stay there. Nothing is released when the
    user is unbanned: an admin approves or rejects (the reserve voided back) as usual. Batched
    and later ones are left alone. Returns the ids now waiting, oldest first; money is untouched
    (the reserve stays held)."""
    now = now or utcnow()
    conn.execute(
        update(withdrawals)
        .where(
            withdrawals.c.user_id == user_id,
            withdrawals.c.state == State.APPROVED,
            withdrawals.c.batch_id.is_(None),
        )
        .values(state=State.REQUESTED, approved_by=None, updated_at=now)
    )
    q = (
        select(withdrawals.c.id)
        .where(withdrawals.c.user_id == user_id, withdrawals.c.state == State.REQUESTED)
        .order_by(withdrawals.c.id)
    )
    return list(conn.execute(q).scalars())


def list_for_user(conn: Connection, user_id: int, limit: int = 10) -> list[Withdrawal]:
    q = (
        select(withdrawals)
        .where(withdrawals.c.user_id == user_id, withdrawals.c.state != State.DRAFT)
        .order_by(withdrawals.c.id.desc())
        .limit(limit)
    )
    return [_w(r) for r in conn.execute(q)]


def awaiting_approval(conn: Connection, limit: int = 20) -> list[Withdrawal]:
    q = (
        select(withdrawals)
        .where(withdrawals.c.state == State.REQUESTED)
        .order_by(withdrawals.c.id)
        .limit(limit)
    )
    return [_w(r) for r in conn.execute(q)]


def get_withdrawal(conn: Connection, user_id: int, wid: int) -> Withdrawal:
    """One of the user's withdrawals; WithdrawalError(withdrawal_not_found) for anyone else's."""
    return _w(_get(conn, user_id, wid))


def withdrawable(conn: Connection, user_id: int, policy_of: Callable[[str], Policy]) -> dict[str, int]:
    """The coins the user can withdraw now (available >= the smallest withdrawal), with what
    they have available, minor units, registry order: the withdraw picker offers only these."""
    held = ledger.balances(conn, user_account(user_id))
    found: dict[str, int] = {}
    for code, b in held.items():
        policy = policy_of(code)
        if b.available >= max(policy.minimum, policy.fee + 1):
            found[code] = b.available
    return found
