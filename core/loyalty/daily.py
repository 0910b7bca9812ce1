"""The daily check-in with its streak, streak freezes, and the daily bonus for yesterday's activity.

``check_in`` (``/daily``): once per UTC day, key ``rp:checkin:{user}:{day}``; pays
``Rules.daily_points(streak)``. The streak grows by one a day; a missed day breaks it unless
the user holds streak freezes, one used up automatically per missed day.

The job (jobs/daily.py, 00:05 UTC) runs for the day just ended: ``settle_streaks`` uses a
freeze for, or breaks the streak of, everyone who did not check in that day; ``pay_bonus``
pays each user active that day the tier of their action count, set-based through
core.money.bulk, key ``rp:daily:{user}:{date}`` (so a second run, or a run killed in the
middle and run again, pays each user once); ``remind`` queues opt-in reminders to those whose
streak ends tonight.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, select, update
from sqlalchemy.dialects import postgresql, sqlite

from core.identity import standing
from core.loyalty.errors import LoyaltyError
from core.loyalty.points import RP, Rules, count_action, day_of, earn, ensure_row
from core.loyalty.tables import daily_progress, loyalty_activity, loyalty_users
from core.money import WORLD, bulk, ledger, user_account
from core.platform import notices

CODE_FREEZE = "rp_freeze"
CODE_DAILY = "rp_daily"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def date_of(day: int) -> str:
    """The ISO date of a UTC day number: 20428 -> '2025-12-06'."""
    return (EPOCH + timedelta(days=day)).date().isoformat()


def seconds_to_midnight(now: datetime) -> int:
    nxt = EPOCH + timedelta(days=day_of(now) + 1)
    return max(1, int((nxt - now).total_seconds()))


@dataclass(frozen=True, slots=True)
class Streak:
    streak: int
    covered_day: int
    freezes: int
    reminders: bool

    def alive(self, today: int) -> bool:
        return self.streak > 0 and self.covered_day >= today - 1


@dataclass(frozen=True, slots=True)
class CheckIn:
    points: int
    streak: int
    freezes_used: int
    freezes_left: int
    next_in: int  # seconds until the next check-in opens (UTC midnight)


def streak_of(conn: Connection, user_id: int) -> Streak:
    row = conn.execute(select(loyalty_users).where(loyalty_users.c.user_id == user_id)).first()
    if row is None:
        return Streak(0, 0, 0, False)
    return Streak(int(row.streak), int(row.covered_day), int(row.freezes), bool(row.reminders))


def _locked(conn: Connection, user_id: int) -> Streak:
    ensure_row(conn, user_id)
    row = conn.execute(
        select(loyalty_users).where(loyalty_users.c.user_id == user_id).with_for_update()
    ).one()
    return Streak(int(row.streak), int(row.covered_day), int(row.freezes), bool(row.reminders))


def check_in(conn: Connection, rules: Rules, user_id: int, now: datetime) -> CheckIn:
    """Check ``user_id`` in for today (UTC). Refuses a second check-in the same day
    (already_checked_in, with the seconds until the next one); moves nothing then."""
    standing.require(conn, user_id, standing.EARN)
    today = day_of(now)
    s = _locked(conn, user_id)
    if s.covered_day >= today:
        raise LoyaltyError("already_checked_in", seconds=seconds_to_midnight(now))
    missed = today - s.covered_day - 1
    used = 0
    if s.streak > 0 and missed == 0:
        streak = s.streak + 1
    elif s.streak > 0 and 0 < missed <= s.freezes:
        used, streak = missed, s.streak + 1
    else:
        streak = 1
    points = rules.daily_points(streak)
    t = earn(conn, user_id, "checkin", points, key=f"checkin:{user_id}:{today}", now=now)
    if t is not None and t.replayed:
        raise LoyaltyError("already_checked_in", seconds=seconds_to_midnight(now))
    conn.execute(
        update(loyalty_users)
        .where(loyalty_users.c.user_id == user_id)
        .values(streak=streak, covered_day=today, freezes=loyalty_users.c.freezes - used)
    )
    count_action(conn, user_id, now)
    return CheckIn(points, streak, used, s.freezes - used, seconds_to_midnight(now))


def buy_freeze(conn: Connection, rules: Rules, user_id: int, *, key: str, now: datetime) -> int:
    """Buy one streak freeze for ``rp.freeze.price`` RP (key ``rp:freeze:{key}``); the freezes held after.
    Refuses freeze_limit at ``rp.freeze.max`` and not_enough_points."""
    s = _locked(conn, user_id)
    if ledger.get_transfer(conn, key=f"rp:freeze:{key}") is not None:
        return s.freezes
    if s.freezes >= rules.freeze_max:
        raise LoyaltyError("freeze_limit", max=rules.freeze_max)
    if ledger.balance(conn, user_account(user_id), RP).available < rules.freeze_price:
        raise LoyaltyError("not_enough_points", need=rules.freeze_price)
    ledger.transfer(
        conn,
        debit=user_account(user_id),
        credit=WORLD,
        asset=RP,
        amount=rules.freeze_price,
        code=CODE_FREEZE,
        key=f"rp:freeze:{key}",
        now=now,
    )
    conn.execute(
        update(loyalty_users)
        .where(loyalty_users.c.user_id == user_id)
        .values(freezes=loyalty_users.c.freezes + 1)
    )
    return s.freezes + 1


def set_reminders(conn: Connection, user_id: int, on: bool) -> None:
    ensure_row(conn, user_id)
    conn.execute(update(loyalty_users).where(loyalty_users.c.user_id == user_id).values(reminders=on))


def settle_streaks(conn: Connection, day: int) -> tuple[int, int]:
    """For UTC ``day`` just ended: a streak not checked in that day uses a freeze if one is held,
    else breaks. Set-based and idempotent (a second run finds nothing to do). (frozen, broken)."""
    frozen = conn.execute(
        update(loyalty_users)
        .where(
            loyalty_users.c.covered_day == day - 1, loyalty_users.c.streak > 0, loyalty_users.c.freezes > 0
        )
        .values(freezes=loyalty_users.c.freezes - 1, covered_day=day)
    ).rowcount
    broken = conn.execute(
        update(loyalty_users)
        .where(loyalty_users.c.covered_day < day, loyalty_users.c.streak > 0)
        .values(streak=0)
    ).rowcount
    return int(frozen or 0), int(broken or 0)


def bonus_key(user_id: int, day: int) -> str:
    return f"rp:daily:{user_id}:{date_of(day)}"


def bonus_progress(conn: Connection, day: int) -> tuple[int, bool]:
    """(last user id paid, finished) of the daily bonus of ``day``."""
    row = conn.execute(select(daily_progress).where(daily_progress.c.day == day)).first()
    return (0, False) if row is None else (int(row.after), row.done_at is not None)


def pay_bonus(
    conn: Connection, rules: Rules, day: int, *, after: int = 0, limit: int = 20_000, now: datetime
) -> tuple[int, int, int]:
    """Pay the daily bonus of UTC ``day`` to the next ``limit`` active users with an id above
    ``after``, in one set-based batch, and record how far it got (``bonus_progress``) in the
    same transaction. Returns (last user id seen, paid now, replayed); a last id of 0 means
    nobody was left (the day is then marked done)."""
    rows = conn.execute(
        select(loyalty_activity.c.user_id, loyalty_activity.c.actions)
        .where(
            loyalty_activity.c.day == day,
            loyalty_activity.c.user_id > after,
            loyalty_activity.c.user_id.not_in(standing.BANNED_IDS),  # a banned user earns no bonus
        )
        .order_by(loyalty_activity.c.user_id)
        .limit(limit)
    ).all()
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    ins = dialect.insert(daily_progress)
    if not rows:
        stmt = ins.values(day=day, after=after, done_at=now)
        conn.execute(stmt.on_conflict_do_update(index_elements=[daily_progress.c.day], set_={"done_at": now}))
        return 0, 0, 0
    moves = []
    for user_id, actions in rows:
        points = rules.bonus_points(int(actions))
        if points > 0:
            moves.append(
                ledger.Move(
                    WORLD, user_account(int(user_id)), RP, points, CODE_DAILY, bonus_key(int(user_id), day)
                )
            )
    got = bulk.transfer_bulk(conn, moves, now=now)
    last = int(rows[-1][0])
    stmt = ins.values(day=day, after=last)
    conn.execute(stmt.on_conflict_do_update(index_elements=[daily_progress.c.day], set_={"after": last}))
    return last, got.posted, got.replayed


def remind(conn: Connection, now: datetime, *, after: int = 0, limit: int = 5_000) -> tuple[int, int]:
    """Queue a reminder (notice ``streak_ends``, key ``streak_ends:{user}:{day}``, low priority:
    the outbox sends within Telegram's limits) to the next ``limit`` opted-in users with an id
    above ``after`` whose streak is alive but not yet checked in today. (last id or 0, queued)."""
    today = day_of(now)
    rows = conn.execute(
        select(loyalty_users.c.user_id, loyalty_users.c.streak)
        .where(
            loyalty_users.c.reminders.is_(True),
            loyalty_users.c.streak > 0,
            loyalty_users.c.covered_day == today - 1,
            loyalty_users.c.user_id > after,
        )
        .order_by(loyalty_users.c.user_id)
        .limit(limit)
    ).all()
    if not rows:
        return 0, 0
    hours = max(1, seconds_to_midnight(now) // 3600)
    notices.enqueue_many(
        conn,
        [
            (
                int(r.user_id),
                "streak_ends",
                {"streak": int(r.streak), "hours": hours},
                f"streak_ends:{r.user_id}:{today}",
            )
            for r in rows
        ],
        now=now,
        priority=notices.LOW,
    )
    return int(rows[-1].user_id), len(rows)
