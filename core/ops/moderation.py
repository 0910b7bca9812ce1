"""Moderation: an admin bans a user (or freezes their withdrawals), lifts it, and reads a
user's card; a restricted user appeals.

Each action runs in one transaction: the user's row first (on PostgreSQL its row lock orders the
action against a withdrawal request, see core.identity.standing), then the user's withdrawals in
flight are held for review (core.cashout.hold_for_review), an audit line (who, whom, reason) and
one notice to the user (template ``moderation``, key ``moderation:{user}:{action}:{time}``: told
once, in their language, with how to appeal). The balance is never touched. A refusal
(``ModerationError``) changes nothing: an admin or oneself (``cannot_restrict_admin``,
``cannot_restrict_self``), a ban without a reason (``reason_needed``), banning the banned
(``already_banned``) and the like.

An appeal (``/appeal TEXT``) from a restricted user reaches every admin as a notice (template
``appeal``) and is audited; one per user per ``APPEAL_EVERY``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, Connection, bindparam, func, or_, select, update

from core.cashout import hold_for_review
from core.cashout import withdrawals_table as withdrawals
from core.earn import referrals
from core.errors import DomainError
from core.identity import User, find_user, standing, twofa
from core.identity import users_table as users
from core.money import entries_table as entries
from core.money import ledger, user_account
from core.money import transfers_table as transfers
from core.ops import dashboard
from core.platform import audit, notices, utcnow

REASON_LONGEST = 200
APPEAL_LONGEST = 1000
APPEAL_EVERY = timedelta(hours=1)


class Action(StrEnum):
    """What an admin did (``audit_log.action`` and the notice's ``action``)."""

    BAN = "user_banned"
    UNBAN = "user_unbanned"
    FREEZE = "user_frozen"
    UNFREEZE = "user_unfrozen"


class ModerationError(DomainError):
    """A moderation action or an appeal refused; nothing was changed."""


@dataclass(frozen=True, slots=True)
class Moderated:
    user_id: int
    action: str
    reason: str
    held: tuple[int, ...]  # withdrawals waiting for an admin after the action (ban, freeze)


def _clean(text: str | None, longest: int) -> str:
    return " ".join((text or "").split())[:longest]


def _target(conn: Connection, admin_id: int, ref: str, admin_ids: Iterable[int]) -> User:
    user = find_user(conn, ref)
    if user.id == admin_id:
        raise ModerationError("cannot_restrict_self")
    if user.id in frozenset(admin_ids):
        raise ModerationError("cannot_restrict_admin", user=user.id)
    return user


def _act(
    conn: Connection, admin_id: int, user_id: int, action: Action, reason: str, now: datetime
) -> Moderated:
    held: tuple[int, ...] = ()
    if action in (Action.BAN, Action.FREEZE):
        held = tuple(hold_for_review(conn, user_id, now))
    audit.record(conn, action, actor=admin_id, target=str(user_id), reason=reason, held=list(held), now=now)
    notices.enqueue(
        conn,
        user_id,
        "moderation",
        {"action": str(action), "reason": reason},
        key=f"moderation:{user_id}:{action}:{now.timestamp():.6f}",
        now=now,
        priority=notices.HIGH,
    )
    return Moderated(user_id, str(action), reason, held)


def ban(
    conn: Connection,
    admin_id: int,
    ref: str,
    reason: str,
    *,
    admin_ids: Iterable[int],
    now: datetime | None = None,
) -> Moderated:
    """Ban the user ``ref`` names (numeric id or @username) for ``reason`` (required)."""
    now = now or utcnow()
    user = _target(conn, admin_id, ref, admin_ids)
    reason = _clean(reason, REASON_LONGEST)
    if not reason:
        raise ModerationError("reason_needed")
    _flip(
        conn,
        user.id,
        users.c.banned_at,
        "already_banned",
        banned_at=now,
        ban_reason=reason,
        banned_by=admin_id,
    )
    return _act(conn, admin_id, user.id, Action.BAN, reason, now)


def _flip(conn: Connection, user_id: int, since: Any, refusal: str, **values: Any) -> None:
    """Set or lift a ban or freeze: the row changes only from the other state (``since`` is its
    timestamp column: NULL when off), so two admins acting at once change it once and the second
    hears ``refusal``."""
    turning_on = values[since.name] is not None
    state = since.is_(None) if turning_on else since.is_not(None)
    if conn.execute(update(users).where(users.c.id == user_id, state).values(**values)).rowcount != 1:
        raise ModerationError(refusal, user=user_id)


def unban(
    conn: Connection, admin_id: int, ref: str, *, admin_ids: Iterable[int], now: datetime | None = None
) -> Moderated:
    """Lift a ban. Withdrawals held by it stay in the approval queue (never released by this)."""
    now = now or utcnow()
    user = find_user(conn, ref)
    _flip(conn, user.id, users.c.banned_at, "not_banned", banned_at=None, ban_reason=None, banned_by=None)
    return _act(conn, admin_id, user.id, Action.UNBAN, "", now)


def freeze(
    conn: Connection,
    admin_id: int,
    ref: str,
    reason: str = "",
    *,
    admin_ids: Iterable[int],
    now: datetime | None = None,
) -> Moderated:
    """Freeze the user's withdrawals (and sends, tips, checks); ``reason`` is optional."""
    now = now or utcnow()
    user = _target(conn, admin_id, ref, admin_ids)
    reason = _clean(reason, REASON_LONGEST)
    _flip(
        conn,
        user.id,
        users.c.frozen_at,
        "already_frozen",
        frozen_at=now,
        freeze_reason=reason or None,
        frozen_by=admin_id,
    )
    return _act(conn, admin_id, user.id, Action.FREEZE, reason, now)


def unfreeze(
    conn: Connection, admin_id: int, ref: str, *, admin_ids: Iterable[int], now: datetime | None = None
) -> Moderated:
    """Lift a freeze; held withdrawals stay with the admins."""
    now = now or utcnow()
    user = find_user(conn, ref)
    _flip(conn, user.id, users.c.frozen_at, "not_frozen", frozen_at=None, freeze_reason=None, frozen_by=None)
    return _act(conn, admin_id, user.id, Action.UNFREEZE, "", now)


def appeal(
    conn: Connection, user_id: int, text: str, *, admin_ids: Iterable[int], now: datetime | None = None
) -> int:
    """A restricted user's appeal: queued to every admin and audited; returns how many admins.

    Refuses: ``not_restricted`` (nothing to appeal), ``appeal_empty``, ``appeal_too_long``
    (``longest`` characters), ``appeal_too_soon`` (``seconds`` until the next one)."""
    now = now or utcnow()
    s = standing.standing_of(conn, user_id, lock=True)
    if not s.restricted:
        raise ModerationError("not_restricted")
    text = " ".join((text or "").split())
    if not text:
        raise ModerationError("appeal_empty")
    if len(text) > APPEAL_LONGEST:
        raise ModerationError("appeal_too_long", longest=APPEAL_LONGEST)
    since = now - APPEAL_EVERY
    done = conn.execute(
        update(users)
        .where(users.c.id == user_id, or_(users.c.appealed_at.is_(None), users.c.appealed_at <= since))
        .values(appealed_at=now)
    )
    if done.rowcount != 1:
        last = conn.execute(select(users.c.appealed_at).where(users.c.id == user_id)).scalar_one()
        left = math.ceil((last + APPEAL_EVERY - now).total_seconds())
        raise ModerationError("appeal_too_soon", seconds=max(1, left))
    kind = "banned" if s.banned else "withdrawals_frozen"
    audit.record(conn, "appeal", actor=user_id, target=str(user_id), text=text, standing=kind, now=now)
    admins = sorted(frozenset(admin_ids))
    notices.enqueue_many(
        conn,
        [
            (
                a,
                "appeal",
                {"user": user_id, "text": text, "standing": kind},
                f"appeal:{user_id}:{now.timestamp():.6f}:{a}",
            )
            for a in admins
        ],
        now=now,
    )
    return len(admins)


# --- the user card (/user) ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Card:
    """Everything /user shows about one user; amounts in minor units."""

    user: User
    seen_at: datetime
    blocked_bot: bool
    banned_at: datetime | None
    ban_reason: str | None
    banned_by: int | None
    frozen_at: datetime | None
    freeze_reason: str | None
    frozen_by: int | None
    balances: tuple[ledger.Balance, ...]
    recent: tuple[ledger.Movement, ...]
    earned: tuple[tuple[str, str, int], ...]  # (code, asset, sum of what came in), by code
    referrer: int | None
    invited: int
    active_referrals: int
    twofa_on: bool
    audit: tuple[audit.AuditLine, ...]
    held: tuple[int, ...]  # withdrawals waiting for an admin


_EARNED = (
    select(transfers.c.code, entries.c.asset, func.sum(entries.c.amount).label("total"))
    .join(transfers, transfers.c.id == entries.c.transfer_id)
    .where(entries.c.owner == bindparam("account"), entries.c.amount > 0)
    .group_by(transfers.c.code, entries.c.asset)
)


def card(conn: Connection, ref: str, *, recent: int = 8, lines: int = 8) -> Card:
    """The card of the user ``ref`` names (numeric id or @username); UnknownUser otherwise."""
    user = find_user(conn, ref)
    row = conn.execute(select(users).where(users.c.id == user.id)).one()
    account = user_account(user.id)
    moved, _total = ledger.history(conn, account, limit=recent)
    earned = sorted(
        ((r.code, r.asset, int(r.total)) for r in conn.execute(_EARNED, {"account": account})),
        key=lambda e: (e[0], e[1]),
    )
    stats = referrals.stats(conn, user.id)
    return Card(
        user=user,
        seen_at=row.seen_at,
        blocked_bot=bool(row.is_blocked),
        banned_at=row.banned_at,
        ban_reason=row.ban_reason,
        banned_by=row.banned_by,
        frozen_at=row.frozen_at,
        freeze_reason=row.freeze_reason,
        frozen_by=row.frozen_by,
        balances=tuple(ledger.balances(conn, account).values()),
        recent=tuple(moved),
        earned=tuple(earned),
        referrer=referrals.invited_by(conn, user.id),
        invited=stats.invited,
        active_referrals=stats.active,
        twofa_on=twofa.is_enabled(conn, user.id),
        audit=tuple(audit.about(conn, user.id, lines)),
        held=tuple(hold_ids(conn, user.id)),
    )


def hold_ids(conn: Connection, user_id: int) -> list[int]:
    """The user's withdrawals waiting for an admin (read only)."""
    w = withdrawals
    q = select(w.c.id).where(w.c.user_id == user_id, w.c.state == "requested").order_by(w.c.id)
    return list(conn.execute(q).scalars())


@dataclass(frozen=True, slots=True)
class Counts:
    """Users by standing: who blocked the bot is counted apart, never as active."""

    active_day: int  # seen in the last 24 hours and not blocking the bot
    active_week: int
    blocked: int  # Telegram answered 403: they blocked the bot (cleared when they write again)
    banned: int
    frozen: int


def counts(conn: Connection, now: datetime | None = None) -> Counts:
    now = now or utcnow()

    def n(*where: ColumnElement[bool]) -> int:
        return int(conn.execute(select(func.count()).select_from(users).where(*where)).scalar_one())

    return Counts(
        active_day=dashboard.active_since(conn, now - timedelta(days=1)),
        active_week=dashboard.active_since(conn, now - timedelta(days=7)),
        blocked=dashboard.blocked(conn),
        banned=n(users.c.banned_at.is_not(None)),
        frozen=n(users.c.frozen_at.is_not(None)),
    )
