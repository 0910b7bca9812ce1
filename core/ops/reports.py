"""The console's reports: the rows behind each chart, and exactly the rows its CSV export holds.

Each report is a ``Report``: column names and rows of plain values (days as ``YYYY-MM-DD`` UTC,
amounts as ints in the asset's minor units). Handlers draw the chart from these rows and write
the same rows as CSV, so the picture and the file never disagree.

* ``earnings``: what users were paid per day by source (faucet, referrals, faucet sites, ads,
  offers, staking, bonuses), from the transfer codes (``ix_transfers_code_at``);
* ``liabilities``: per coin, what users hold against the reserves (core.trust.reserves: hot
  and cold wallets), as of now;
* ``house``: the house's profit and loss per day and game (stakes minus payouts);
* ``users``: new users per day, and active users per day (who made a rewarded action that UTC day).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, func, literal, select

from core.identity import users_table as users
from core.loyalty import activity_table as activity
from core.money import Code
from core.money import transfers_table as transfers
from core.ops.dashboard import MOVED, liabilities_now, midnight
from core.platform import utcnow
from core.play import bets_table as bets
from core.play import crash_bets_table as crash_bets
from core.trust import reserves

PERIODS = (7, 30, 365)  # days a report covers, today included
KINDS = ("earnings", "liabilities", "house", "users")
EARN_SOURCES: dict[str, tuple[str, ...]] = {
    "faucet": (Code.FAUCET.value,),
    "referrals": (Code.REFERRAL.value,),
    "sites": (Code.FAUCET_API.value, Code.FAUCET_API_REFERRAL.value),
    "ads": (Code.AD_VIEW.value,),
    "offers": (Code.OFFER.value,),
    "staking": (Code.STAKE_REWARD.value,),
    "bonuses": (Code.LEVEL_BONUS.value, Code.BOOST_BONUS.value),
}
_SOURCE_OF = {code: source for source, codes in EARN_SOURCES.items() for code in codes}
EPOCH_DAY = date(1970, 1, 1)


@dataclass(frozen=True, slots=True)
class Report:
    kind: str
    days: int
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]


def start_of(days: int, now: datetime) -> datetime:
    """The first instant a ``days``-day report covers: UTC midnight ``days - 1`` days ago."""
    if days not in PERIODS:
        raise ValueError(days)
    return midnight(now) - timedelta(days=days - 1)


def day_of(conn: Connection, column: Any) -> ColumnElement[str]:
    """``YYYY-MM-DD`` (UTC) of a timestamp column, on either engine."""
    if conn.dialect.name == "sqlite":
        return func.substr(column, 1, 10)  # stored as 'YYYY-MM-DD HH:MM:SS.ffffff' in UTC
    return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD")


def earnings(conn: Connection, days: int, now: datetime | None = None) -> Report:
    """(day, source, asset, amount) paid to users, per day and source; days without pay are absent."""
    since = start_of(days, now or utcnow())
    day = day_of(conn, transfers.c.created_at)
    got: dict[tuple[str, str, str], int] = {}
    for d, code, asset, total in conn.execute(
        select(day, transfers.c.code, transfers.c.asset, func.sum(transfers.c.amount))
        .where(
            transfers.c.code.in_(list(_SOURCE_OF)),
            transfers.c.created_at >= since,
            transfers.c.kind.in_(MOVED),
            transfers.c.asset != "RP",
        )
        .group_by(day, transfers.c.code, transfers.c.asset)
    ):
        k = (str(d), _SOURCE_OF[str(code)], str(asset))
        got[k] = got.get(k, 0) + int(total)
    return Report(
        "earnings", days, ("day", "source", "asset", "amount"), [(*k, v) for k, v in sorted(got.items())]
    )


def liabilities(conn: Connection, days: int = 7, now: datetime | None = None) -> Report:
    """(asset, liabilities, hot, cold, reserves) as of now; ``days`` is ignored (a snapshot)."""
    owed = liabilities_now(conn)
    held = {r.asset: r for r in reserves.overview(conn)}
    rows = []
    for asset in sorted(set(owed) | set(held)):
        r = held.get(asset)
        hot, cold = (r.hot, r.cold) if r else (0, 0)
        if owed.get(asset, 0) or hot or cold:
            rows.append((asset, owed.get(asset, 0), hot, cold, hot + cold))
    return Report("liabilities", days, ("asset", "liabilities", "hot", "cold", "reserves"), rows)


def house(conn: Connection, days: int, now: datetime | None = None) -> Report:
    """(day, game, asset, net): stakes minus payouts per day and game (crash by settlement)."""
    since = start_of(days, now or utcnow())
    got: dict[tuple[str, str, str], int] = {}
    bet_day = day_of(conn, bets.c.created_at)
    crash_day = day_of(conn, crash_bets.c.settled_at)
    queries = (
        select(bet_day, bets.c.game, bets.c.asset, func.sum(bets.c.amount - bets.c.payout))
        .where(bets.c.created_at >= since)
        .group_by(bet_day, bets.c.game, bets.c.asset),
        select(
            crash_day,
            literal("crash"),
            crash_bets.c.asset,
            func.sum(crash_bets.c.amount - crash_bets.c.payout),
        )
        .where(crash_bets.c.settled_at >= since, crash_bets.c.status.in_(("won", "lost")))
        .group_by(crash_day, crash_bets.c.asset),
    )
    for q in queries:
        for d, game, asset, net in conn.execute(q):
            k = (str(d), str(game), str(asset))
            got[k] = got.get(k, 0) + int(net or 0)
    return Report("house", days, ("day", "game", "asset", "net"), [(*k, v) for k, v in sorted(got.items())])


def users_daily(conn: Connection, days: int, now: datetime | None = None) -> Report:
    """(day, new, active) for every day of the period (zeros included, so the lines are whole)."""
    now = now or utcnow()
    since = start_of(days, now)
    day = day_of(conn, users.c.created_at)
    new = dict(
        (str(d), int(n))
        for d, n in conn.execute(select(day, func.count()).where(users.c.created_at >= since).group_by(day))
    )
    first = (since.date() - EPOCH_DAY).days
    active = {
        (EPOCH_DAY + timedelta(days=int(d))).isoformat(): int(n)
        for d, n in conn.execute(
            select(activity.c.day, func.count()).where(activity.c.day >= first).group_by(activity.c.day)
        )
    }
    rows = []
    for i in range(days):
        d = (since + timedelta(days=i)).date().isoformat()
        rows.append((d, int(new.get(d, 0)), active.get(d, 0)))
    return Report("users", days, ("day", "new", "active"), rows)


BUILDERS = {"earnings": earnings, "liabilities": liabilities, "house": house, "users": users_daily}


def report(conn: Connection, kind: str, days: int, now: datetime | None = None) -> Report:
    """One report by name (``KINDS``) and period (``PERIODS``); ValueError for anything else."""
    if kind not in BUILDERS:
        raise ValueError(kind)
    return BUILDERS[kind](conn, days, now or datetime.now(UTC))
