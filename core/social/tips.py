"""/tip in a group: a reply moves money to the author of the message replied to.

To someone who has started the bot the tip is paid at once (key ``tip:{chat}:{message}``).
To someone who has not, it is held: a pending transfer from the sender to the recipient
(the same key), which the recipient claims through ``t.me/<bot>?start=t<code>`` (posted,
``tip:{id}:claim``) or which returns to the sender after ``send.unclaimed_days`` (voided,
``tip:{id}:return``, by jobs.social). Claim and return each move the tip out of ``held`` with
one conditional UPDATE first, so of the two only one ever happens.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import ModuleType
from typing import Any

from sqlalchemy import Connection, Row, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite

from core.identity import standing, twofa
from core.identity import users_table as users
from core.money import Code, get_asset, ledger, user_account
from core.platform import notices, utcnow
from core.social.sends import Policy, SendError, check_amount
from core.social.tables import social_tips

CODE = Code.TIP


@dataclass(frozen=True, slots=True)
class Tip:
    id: int
    code: str
    sender_id: int
    recipient_id: int
    asset: str
    amount: int
    state: str  # paid | held | claimed | returned
    replayed: bool = False


def _tip(row: Row[Any], *, replayed: bool = False) -> Tip:
    return Tip(row.id, row.code, row.sender_id, row.recipient_id, row.asset, row.amount, row.state, replayed)


def _insert(dialect: ModuleType) -> Any:
    return (
        dialect.insert(social_tips)
        .on_conflict_do_nothing(index_elements=[social_tips.c.chat_id, social_tips.c.message_id])
        .returning(social_tips.c.id)
    )


_INSERT = {"sqlite": _insert(sqlite), "postgresql": _insert(postgresql)}
_BY_MESSAGE = select(social_tips).where(
    social_tips.c.chat_id == bindparam("c"), social_tips.c.message_id == bindparam("m")
)
_BY_CODE = select(social_tips).where(social_tips.c.code == bindparam("code"))
_STARTED = select(users.c.started_at).where(users.c.id == bindparam("u"))
_LEAVE_HELD = (
    update(social_tips)
    .where(social_tips.c.id == bindparam("i"), social_tips.c.state == "held")
    .values(state=bindparam("to"), updated_at=bindparam("now"))
)


def tip(
    conn: Connection,
    sender_id: int,
    recipient_id: int,
    chat_id: int,
    message_id: int,
    asset: str,
    value: int,
    policy: Policy,
    *,
    recipient_is_bot: bool = False,
    now: datetime | None = None,
) -> Tip:
    """Tip ``value`` minor units of ``asset`` for the /tip message ``(chat_id, message_id)``.

    The same message again returns the first tip (``replayed``). Refuses a bot, yourself,
    an amount under the minimum or above the balance, and (2FA on) one above
    ``send.twofa_over``: no code is asked in a group, /send is for that.
    """
    standing.require(conn, sender_id, standing.SEND)
    now = now or utcnow()
    asset = get_asset(asset).code
    if recipient_is_bot:
        raise SendError("send_bot")
    if recipient_id == sender_id:
        raise SendError("send_self")
    first = conn.execute(_BY_MESSAGE, {"c": chat_id, "m": message_id}).first()
    if first is not None:
        return _tip(first, replayed=True)
    check_amount(conn, sender_id, asset, value, policy.minimum)
    if value > policy.twofa_over and twofa.is_enabled(conn, sender_id):
        raise SendError("tip_needs_code", maximum=policy.twofa_over, asset=asset)
    started = conn.execute(_STARTED, {"u": recipient_id}).scalar()
    state = "paid" if started is not None else "held"
    code = secrets.token_urlsafe(12)
    new_id = conn.execute(
        _INSERT[conn.dialect.name],
        dict(
            code=code,
            chat_id=chat_id,
            message_id=message_id,
            sender_id=sender_id,
            recipient_id=recipient_id,
            asset=asset,
            amount=value,
            state=state,
            created_at=now,
            updated_at=now,
        ),
    ).scalar()
    if new_id is None:  # the same message at the same moment (a retried update)
        return _tip(conn.execute(_BY_MESSAGE, {"c": chat_id, "m": message_id}).one(), replayed=True)
    move = ledger.transfer if state == "paid" else ledger.reserve
    t = move(
        conn,
        debit=user_account(sender_id),
        credit=user_account(recipient_id),
        asset=asset,
        amount=value,
        code=CODE,
        key=f"tip:{chat_id}:{message_id}",
        meta={"tip": new_id},
        now=now,
    )
    if state == "held":
        conn.execute(update(social_tips).where(social_tips.c.id == new_id).values(pending_id=t.id))
    else:
        notices.enqueue(
            conn,
            recipient_id,
            "social_tipped",
            {"amount": value, "asset": asset},
            key=f"tip:{new_id}",
            now=now,
        )
    return Tip(new_id, code, sender_id, recipient_id, asset, value, state)


def claim_tip(conn: Connection, user_id: int, code: str, now: datetime | None = None) -> Tip:
    """The recipient takes a held tip (from the claim link). Only the recipient may; twice is harmless."""
    now = now or utcnow()
    row = conn.execute(_BY_CODE, {"code": code}).first() if code and len(code) <= 24 else None
    if row is None or row.recipient_id != user_id:
        raise SendError("tip_unknown")
    if row.state in ("claimed", "paid"):
        return _tip(row, replayed=True)
    if row.state == "returned":
        raise SendError("tip_returned")
    if conn.execute(_LEAVE_HELD, {"i": row.id, "to": "claimed", "now": now}).rowcount != 1:
        raise SendError("tip_returned")
    ledger.post_pending(conn, row.pending_id, key=f"tip:{row.id}:claim", now=now)
    return Tip(row.id, row.code, row.sender_id, row.recipient_id, row.asset, row.amount, "claimed")


def held_for(conn: Connection, user_id: int) -> list[Tip]:
    """Tips held for ``user_id``, oldest first."""
    rows = conn.execute(
        select(social_tips)
        .where(social_tips.c.recipient_id == user_id, social_tips.c.state == "held")
        .order_by(social_tips.c.id)
        .limit(20)
    )
    return [_tip(r) for r in rows]


def return_unclaimed(conn: Connection, days: int, now: datetime | None = None, limit: int = 200) -> list[Tip]:
    """Give back tips held longer than ``days``: the hold is voided and the sender is told."""
    now = now or utcnow()
    rows = conn.execute(
        select(social_tips)
        .where(social_tips.c.state == "held", social_tips.c.created_at < now - timedelta(days=days))
        .order_by(social_tips.c.id)
        .limit(limit)
    ).all()
    out = []
    for row in rows:
        if conn.execute(_LEAVE_HELD, {"i": row.id, "to": "returned", "now": now}).rowcount != 1:
            continue
        ledger.void_pending(conn, row.pending_id, key=f"tip:{row.id}:return", now=now)
        notices.enqueue(
            conn,
            row.sender_id,
            "social_tip_returned",
            {"amount": row.amount, "asset": row.asset},
            key=f"tip:{row.id}:return",
            now=now,
        )
        out.append(Tip(row.id, row.code, row.sender_id, row.recipient_id, row.asset, row.amount, "returned"))
    return out
