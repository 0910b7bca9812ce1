"""A user's standing: the one check every use case that moves a user's money makes.

An admin may **ban** a user (earning, games, swaps, sends and withdrawals stop; the balance is
kept and can still be seen) or **freeze** their withdrawals (a softer step: withdrawals stop, and
so do sends, tips and checks, which would otherwise carry the money out through someone else).
The flags live on the user's row (``users.banned_at``, ``users.frozen_at``); core.ops.moderation
sets them, audited, and holds the user's withdrawals in flight.

``require(conn, user_id, activity)`` runs inside the use case's write transaction, before any
money moves, and raises ``Restricted`` (reason ``banned`` or ``withdrawals_frozen``), which
handlers translate. Withdrawals pass ``lock=True``: on PostgreSQL the user's row is then read
``FOR SHARE``, so a ban (which updates that row first) and a withdrawal request are ordered:
either the request sees the ban, or the ban's hold sees the request.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Connection, bindparam, select

from core.errors import DomainError
from core.identity.tables import users


class Activity(StrEnum):
    """What a use case is about to do with the user's money."""

    EARN = "earn"  # faucet, ads, offers, faucet-site payments, daily bonus, RP, staking rewards
    PLAY = "play"  # dice, limbo, plinko, crash
    SWAP = "swap"  # swaps, sweeps, converting points, boosts, staking
    SEND = "send"  # /send, /tip, /check create and claim
    WITHDRAW = "withdraw"


# Frozen withdrawals also stop the money leaving to other people (sends, tips, checks).
_FROZEN_STOPS = frozenset({Activity.WITHDRAW, Activity.SEND})


class Restricted(DomainError):
    """``banned`` (``reason`` the admin gave) or ``withdrawals_frozen``. Nothing was changed."""


@dataclass(frozen=True, slots=True)
class Standing:
    banned_at: datetime | None
    ban_reason: str | None
    frozen_at: datetime | None
    freeze_reason: str | None

    @property
    def banned(self) -> bool:
        return self.banned_at is not None

    @property
    def frozen(self) -> bool:
        return self.frozen_at is not None

    @property
    def restricted(self) -> bool:
        return self.banned or self.frozen


GOOD = Standing(None, None, None, None)
_COLUMNS = (users.c.banned_at, users.c.ban_reason, users.c.frozen_at, users.c.freeze_reason)
_READ = select(*_COLUMNS).where(users.c.id == bindparam("id"))
_READ_LOCKED = _READ.with_for_update(read=True)  # FOR SHARE on PostgreSQL; SQLite's writer is single


def standing_of(conn: Connection, user_id: int, *, lock: bool = False) -> Standing:
    """The user's flags; GOOD for someone never seen (a faucet site may pay a stranger)."""
    row = conn.execute(_READ_LOCKED if lock else _READ, {"id": user_id}).first()
    if row is None:
        return GOOD
    return Standing(row.banned_at, row.ban_reason, row.frozen_at, row.freeze_reason)


def require(conn: Connection, user_id: int, activity: str = Activity.EARN, *, lock: bool = False) -> None:
    """Refuse (``Restricted``) when ``user_id`` may not do ``activity``; call it inside the write
    transaction of the use case, before money moves. ``lock``: see the module's note."""
    s = standing_of(conn, user_id, lock=lock)
    if s.banned:
        raise Restricted("banned", why=s.ban_reason or "")
    if s.frozen and activity in _FROZEN_STOPS:
        raise Restricted("withdrawals_frozen", why=s.freeze_reason or "")


# The banned users' ids (few): set-based payouts (the daily bonus, staking shares) leave them out.
BANNED_IDS = select(users.c.id).where(users.c.banned_at.is_not(None))


def is_banned(conn: Connection, user_id: int) -> bool:
    return standing_of(conn, user_id).banned


EARN, PLAY, SWAP, SEND, WITHDRAW = (
    Activity.EARN,
    Activity.PLAY,
    Activity.SWAP,
    Activity.SEND,
    Activity.WITHDRAW,
)
