"""/send: money from one user to another, quoted first, then confirmed.

``quote_send`` checks everything it can (recipient, minimum, balance) and stores a draft;
``confirm_send`` pays it once: the draft moves to ``sent`` by one conditional UPDATE, and the
transfer's key is ``send:{id}``, so twenty concurrent confirms (double taps, two devices, a
retried update) pay once. Above ``send.twofa_over.<ASSET>`` a user with 2FA on must give a
code (core.identity.twofa.require, in the same transaction). The recipient is told by a
notice (``social_received``) written in the same transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, bindparam, select, update

from core.errors import DomainError, InsufficientFunds, UnknownUser
from core.identity import User, find_user, get_user, standing, twofa
from core.money import ASSET_CODES, Code, get_asset, ledger, user_account
from core.platform import Params, define, notices, utcnow
from core.social.tables import social_sends

_MINS = {"BTC": "0.00000100", "LTC": "0.00001", "DOGE": "0.01", "USDT": "0.01", "TRX": "0.01", "DUST": "0.01"}
_TWOFA = {"BTC": "0.0001", "LTC": "0.01", "DOGE": "10", "USDT": "5", "TRX": "50", "DUST": "100"}
for _code in ASSET_CODES:
    define(f"send.min.{_code}", _MINS.get(_code, "0.01"), "amount", asset=_code)
    define(f"send.twofa_over.{_code}", _TWOFA.get(_code, "1"), "amount", asset=_code)
define("send.unclaimed_days", "7", "int", minimum=1, maximum=365)

CODE = Code.SEND
QUOTE_TTL = timedelta(minutes=15)
MAX_USERNAME = 32


class SendError(DomainError):
    """reasons: send_self, send_bot, send_below_min, send_not_found, send_cancelled,
    send_expired, send_not_yours."""


@dataclass(frozen=True, slots=True)
class Policy:
    """The settings in force for one asset (read from core.platform.params by the caller)."""

    minimum: int
    twofa_over: int
    max_failures: int = 10


PolicyOf = Callable[[str], Policy]


def policy_for(params: Params, asset: str) -> Policy:
    return Policy(
        minimum=params.get(f"send.min.{asset}"),
        twofa_over=params.get(f"send.twofa_over.{asset}"),
        max_failures=params.get("twofa.max_failures"),
    )


@dataclass(frozen=True, slots=True)
class Send:
    id: int
    sender_id: int
    recipient: User
    asset: str
    amount: int
    state: str
    needs_code: bool = False  # confirming needs the sender's 2FA code
    replayed: bool = False  # confirmed before: nothing moved now


def is_bot_name(ref: str) -> bool:
    """Telegram gives names ending in "bot" to bots only."""
    name = ref.strip().removeprefix("@").lower()
    return name.endswith("bot") and not name.isdigit()


def check_amount(conn: Connection, user_id: int, asset: str, value: int, minimum: int) -> None:
    """Refuse an amount under ``minimum`` or above what ``user_id`` can spend now (nothing moves)."""
    if value < minimum:
        raise SendError("send_below_min", minimum=minimum, asset=asset)
    if ledger.balance(conn, user_account(user_id), asset).available < value:
        raise InsufficientFunds(user_account(user_id), asset, value)


def quote_send(
    conn: Connection,
    sender_id: int,
    ref: str,
    asset: str,
    value: int,
    policy: Policy,
    *,
    bot_id: int = 0,
    now: datetime | None = None,
) -> Send:
    """Store a draft of ``value`` minor units of ``asset`` to the user named by ``ref``
    (numeric id or @username). Refuses yourself, bots, unknown users, amounts under the
    minimum or above the sender's available balance."""
    standing.require(conn, sender_id, standing.SEND)
    now = now or utcnow()
    asset = get_asset(asset).code
    ref = (ref or "").strip()
    if not ref or len(ref) > MAX_USERNAME + 1:
        raise UnknownUser(ref[:40])
    if is_bot_name(ref) or (bot_id and ref == str(bot_id)):
        raise SendError("send_bot")
    recipient = find_user(conn, ref)
    if recipient.id == sender_id:
        raise SendError("send_self")
    check_amount(conn, sender_id, asset, value, policy.minimum)
    row = conn.execute(
        social_sends.insert()
        .values(
            sender_id=sender_id,
            recipient_id=recipient.id,
            asset=asset,
            amount=value,
            state="draft",
            created_at=now,
            updated_at=now,
        )
        .returning(social_sends.c.id)
    ).one()
    needs_code = value > policy.twofa_over and twofa.is_enabled(conn, sender_id)
    return Send(row.id, sender_id, recipient, asset, value, "draft", needs_code)


_GET = select(social_sends).where(social_sends.c.id == bindparam("i"))
_SENT = (
    update(social_sends)
    .where(social_sends.c.id == bindparam("i"), social_sends.c.state == "draft")
    .values(state="sent", updated_at=bindparam("now"))
)


def _row(conn: Connection, sender_id: int, send_id: int) -> Row[Any]:
    row = conn.execute(_GET, {"i": send_id}).first()
    if row is None:
        raise SendError("send_not_found")
    if row.sender_id != sender_id:  # a forged button: someone else's quote
        raise SendError("send_not_found")
    return row


def needs_code(conn: Connection, sender_id: int, send_id: int, policy_of: PolicyOf) -> bool:
    """Whether confirming this draft needs the sender's 2FA code."""
    row = _row(conn, sender_id, send_id)
    policy: Policy = policy_of(row.asset)
    return bool(row.amount > policy.twofa_over and twofa.is_enabled(conn, sender_id))


def confirm_send(
    conn: Connection,
    sender_id: int,
    send_id: int,
    *,
    code: str | None,
    secret_key: str,
    policy_of: PolicyOf,
    now: datetime | None = None,
) -> Send:
    """Pay a draft: at most once (key ``send:{id}``), never after a cancel or its 15 minutes.

    ``policy_of(asset) -> Policy``. Above ``twofa_over`` with 2FA on, ``code`` is checked first.
    """
    standing.require(conn, sender_id, standing.SEND)
    now = now or utcnow()
    row = _row(conn, sender_id, send_id)
    recipient = get_user(conn, row.recipient_id)
    if row.state == "sent":
        return Send(row.id, sender_id, recipient, row.asset, row.amount, "sent", replayed=True)
    if row.state == "cancelled":
        raise SendError("send_cancelled")
    if row.created_at < now - QUOTE_TTL:
        raise SendError("send_expired")
    policy: Policy = policy_of(row.asset)
    if row.amount > policy.twofa_over:
        twofa.require(conn, sender_id, code, secret_key, now, max_failures=policy.max_failures)
    if conn.execute(_SENT, {"i": send_id, "now": now}).rowcount != 1:
        return Send(row.id, sender_id, recipient, row.asset, row.amount, "sent", replayed=True)
    t = ledger.transfer(
        conn,
        debit=user_account(sender_id),
        credit=user_account(row.recipient_id),
        asset=row.asset,
        amount=row.amount,
        code=CODE,
        key=f"send:{send_id}",
        meta={"send": send_id},
        now=now,
    )
    conn.execute(update(social_sends).where(social_sends.c.id == send_id).values(transfer_id=t.id))
    sender = get_user(conn, sender_id)
    notices.enqueue(
        conn,
        row.recipient_id,
        "social_received",
        {"amount": row.amount, "asset": row.asset, "name": sender.first_name, "username": sender.username},
        key=f"send:{send_id}",
        now=now,
    )
    return Send(row.id, sender_id, recipient, row.asset, row.amount, "sent")


def cancel_send(conn: Connection, sender_id: int, send_id: int, now: datetime | None = None) -> Send:
    """Drop a draft; a sent one stays sent (refused)."""
    now = now or utcnow()
    row = _row(conn, sender_id, send_id)
    if row.state == "sent":
        raise SendError("send_already_sent")
    conn.execute(
        update(social_sends)
        .where(social_sends.c.id == send_id, social_sends.c.state == "draft")
        .values(state="cancelled", updated_at=now)
    )
    return Send(row.id, sender_id, get_user(conn, row.recipient_id), row.asset, row.amount, "cancelled")
