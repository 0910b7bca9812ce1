"""The admin dashboard: a handful of numbers an operator reads at a glance, in plain SQL.

Every figure comes from one indexed lookup, so the whole dashboard answers in well under a
second with a million users and ten million transfers (bench/broadcast.py measures it):

* users: total, seen in 24 h and 7 days (``ix_users_seen_at``), new since UTC midnight
  (``ix_users_created_at``), blocked the bot;
* liabilities per coin, read as minus the sum of every *non-user* account (per asset all
  balances sum to zero, and there are a few hundred system accounts against millions of user
  ones: ``ix_accounts_system``, a partial index), against the treasury's balance;
* revenue today and over 7 days by source: withdrawal and swap fees, ad fees (net of fees given
  back for invalid views), and the house's net from games (stakes minus payouts of settled bets);
  transfers by ``ix_transfers_code_at`` (code, created_at, asset, amount, kind: covering);
* the faucet pool's days left at the last 7 days' pace, pending withdrawals per coin;
* what needs an admin: a dry faucet pool or house, stuck payout batches, ads waiting for review.

Amounts are ints in each asset's minor units; rendering is the handlers' job.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, func, literal_column, select

from core.cashout import payout_batches_table as payout_batches
from core.cashout import withdrawals_table as withdrawals
from core.earn import ad_campaigns_table as ad_campaigns
from core.identity import users_table as users
from core.money import ASSETS, FAUCET_POOL, FEES, HOUSE, TREASURY, Code
from core.money import accounts_table as accounts
from core.money import transfers_table as transfers
from core.platform import utcnow
from core.play import bets_table as bets
from core.play import crash_bets_table as crash_bets

# Revenue sources and the transfer codes behind them (credited to ``fees``; minus: given back).
FEE_CODES = (Code.WITHDRAWAL_FEE.value, Code.SWAP_FEE.value)
AD_FEE_CODES = (Code.AD_FEE.value,)
AD_FEE_BACK = (Code.AD_INVALID.value,)  # fees -> escrow: the platform's cut of an invalid view returned
SOURCES = ("fees", "ad_fees", "house")
MOVED = ("posted", "post")  # kinds of transfers where money moved (pending holds, voids release)
PENDING_WITHDRAWALS = ("requested", "approved", "batched", "unknown")
STUCK_AFTER = timedelta(hours=1)  # a payout batch sending (or in doubt) longer than this needs an admin
PACE_DAYS = 7
# The literal (never a bound parameter) is what lets SQLite and PostgreSQL use the partial index.
NOT_USER = accounts.c.owner.not_like(literal_column("'user:%'"))


@dataclass(frozen=True, slots=True)
class Coin:
    asset: str
    liabilities: int  # what users hold, minor units
    treasury: int  # the operator's float


@dataclass(frozen=True, slots=True)
class Faucet:
    asset: str
    pool: int  # available in faucet_pool (balance minus holds)
    paid_week: int  # paid by the faucet in the last 7 days
    days_left: int | None  # pool / daily pace, rounded down; None when nothing was paid


@dataclass(frozen=True, slots=True)
class Attention:
    kind: str  # dry_faucet | dry_house | stuck_batch | ad_review
    asset: str = ""
    count: int = 0
    ref: int = 0  # a batch id


@dataclass(frozen=True, slots=True)
class Dashboard:
    at: datetime
    users: int
    active_day: int
    active_week: int
    new_today: int
    blocked: int
    coins: list[Coin]
    revenue_today: dict[str, dict[str, int]]  # source -> asset -> minor units (may be negative for house)
    revenue_week: dict[str, dict[str, int]]
    faucet: list[Faucet]
    withdrawals: dict[str, tuple[int, int]]  # asset -> (count, amount) not yet sent
    awaiting_approval: int
    attention: list[Attention] = field(default_factory=list)


def midnight(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def _count(conn: Connection, *where: Any) -> int:
    return int(conn.execute(select(func.count()).select_from(users).where(*where)).scalar_one())


def active_since(conn: Connection, since: datetime) -> int:
    """Users seen since ``since``, without those who blocked the bot (Telegram answered 403: they
    count as inactive until they write again). All seen minus the blocked ones seen: two index
    reads (ix_users_seen_at, the partial ix_users_blocked), where a filter on ``is_blocked`` would
    visit every active row."""
    seen = users.c.seen_at >= since
    return _count(conn, seen) - _count(conn, users.c.is_blocked.is_(True), seen)


def blocked(conn: Connection) -> int:
    """Users who blocked the bot (the partial index ix_users_blocked)."""
    return _count(conn, users.c.is_blocked.is_(True))


def liabilities_now(conn: Connection) -> dict[str, int]:
    """asset -> what users hold (minor units), as minus the sum of every other account."""
    return {c.asset: c.liabilities for c in _coins(conn)}


def _coins(conn: Connection) -> list[Coin]:
    system: dict[str, int] = {}
    treasury: dict[str, int] = {}
    for owner, asset, balance in conn.execute(
        select(accounts.c.owner, accounts.c.asset, accounts.c.balance).where(NOT_USER)
    ):
        system[asset] = system.get(asset, 0) + int(balance)
        if owner == TREASURY:
            treasury[asset] = int(balance)
    return [
        Coin(code, -system.get(code, 0), treasury.get(code, 0))
        for code in ASSETS
        if code in system or code in treasury
    ]


def _by_code(conn: Connection, codes: Iterable[str], since: datetime) -> dict[tuple[str, str], int]:
    """(code, asset) -> amount moved since ``since`` by transfers of ``codes`` (covering index)."""
    rows = conn.execute(
        select(transfers.c.code, transfers.c.asset, func.sum(transfers.c.amount))
        .where(
            transfers.c.code.in_(list(codes)),
            transfers.c.created_at >= since,
            transfers.c.kind.in_(MOVED),
        )
        .group_by(transfers.c.code, transfers.c.asset)
    )
    return {(str(c), str(a)): int(s) for c, a, s in rows}


def house_net(conn: Connection, since: datetime, until: datetime | None = None) -> dict[str, int]:
    """asset -> stakes minus payouts of bets placed (dice, limbo, plinko) and crash bets settled
    in [since, until): the house's net from games, negative when players won."""
    got: dict[str, int] = {}
    for table, at, extra in (
        (bets, bets.c.created_at, ()),
        (crash_bets, crash_bets.c.settled_at, (crash_bets.c.status.in_(("won", "lost")),)),
    ):
        cond = [at >= since, *extra] + ([at < until] if until is not None else [])
        for asset, net in conn.execute(
            select(table.c.asset, func.sum(table.c.amount - table.c.payout))
            .where(*cond)
            .group_by(table.c.asset)
        ):
            got[str(asset)] = got.get(str(asset), 0) + int(net or 0)
    return got


def revenue(
    conn: Connection,
    since: datetime,
    moved: dict[tuple[str, str], int] | None = None,
    house: dict[str, int] | None = None,
) -> dict[str, dict[str, int]]:
    """source -> asset -> revenue since ``since`` (sources: fees, ad_fees, house). ``moved`` and
    ``house``: the sums of ``_by_code`` and ``house_net`` since then, when the caller has them."""
    if moved is None:
        moved = _by_code(conn, FEE_CODES + AD_FEE_CODES, since)
    back = conn.execute(
        select(transfers.c.asset, func.sum(transfers.c.amount))
        .where(
            transfers.c.code.in_(AD_FEE_BACK),
            transfers.c.created_at >= since,
            transfers.c.debit == FEES,
            transfers.c.kind.in_(MOVED),
        )
        .group_by(transfers.c.asset)
    )
    out: dict[str, dict[str, int]] = {s: {} for s in SOURCES}
    for (code, asset), total in moved.items():
        if code in FEE_CODES or code in AD_FEE_CODES:
            source = "ad_fees" if code in AD_FEE_CODES else "fees"
            out[source][asset] = out[source].get(asset, 0) + total
    for asset, total in back:
        out["ad_fees"][str(asset)] = out["ad_fees"].get(str(asset), 0) - int(total)
    out["house"] = house if house is not None else house_net(conn, since)
    return {s: {a: v for a, v in per.items() if v} for s, per in out.items()}


def _available(conn: Connection, owner: str) -> dict[str, int]:
    return {
        str(a): int(b) - int(h)
        for a, b, h in conn.execute(
            select(accounts.c.asset, accounts.c.balance, accounts.c.debits_pending).where(
                accounts.c.owner == owner
            )
        )
    }


def _faucet(conn: Connection, paid: dict[tuple[str, str], int]) -> list[Faucet]:
    """The faucet pool per coin and its days left; ``paid``: ``_by_code`` sums of the last 7 days."""
    pool = _available(conn, FAUCET_POOL)
    out = []
    for asset in ASSETS:
        week = paid.get((Code.FAUCET.value, asset), 0)
        if asset not in pool and not week:
            continue
        have = pool.get(asset, 0)
        days = have * PACE_DAYS // week if week else None
        out.append(Faucet(asset, have, week, days))
    return out


def _withdrawals(conn: Connection) -> tuple[dict[str, tuple[int, int]], int]:
    per: dict[str, tuple[int, int]] = {}
    waiting = 0
    for state, asset, n, total in conn.execute(
        select(withdrawals.c.state, withdrawals.c.asset, func.count(), func.sum(withdrawals.c.amount))
        .where(withdrawals.c.state.in_(PENDING_WITHDRAWALS))
        .group_by(withdrawals.c.state, withdrawals.c.asset)
    ):
        n0, t0 = per.get(str(asset), (0, 0))
        per[str(asset)] = (n0 + int(n), t0 + int(total or 0))
        if state == "requested":
            waiting += int(n)
    return per, waiting


def _attention(conn: Connection, now: datetime, faucet: list[Faucet], played: set[str]) -> list[Attention]:
    """What needs an admin; ``played``: the coins games were played in over the last 7 days."""
    out = [Attention("dry_faucet", f.asset) for f in faucet if f.days_left is not None and f.days_left < 1]
    house = _available(conn, HOUSE)
    out += [Attention("dry_house", a) for a in sorted(played) if house.get(a, 0) <= 0]
    for bid, asset in conn.execute(
        select(payout_batches.c.id, payout_batches.c.asset)
        .where(
            (payout_batches.c.state == "unknown")
            | and_(
                payout_batches.c.state.in_(("sending", "manual")),
                payout_batches.c.updated_at < now - STUCK_AFTER,
            )
        )
        .order_by(payout_batches.c.id)
        .limit(20)
    ):
        out.append(Attention("stuck_batch", str(asset), ref=int(bid)))
    reviews = int(
        conn.execute(
            select(func.count()).select_from(ad_campaigns).where(ad_campaigns.c.status == "review")
        ).scalar_one()
    )
    if reviews:
        out.append(Attention("ad_review", count=reviews))
    return out


def dashboard(conn: Connection, now: datetime | None = None) -> Dashboard:
    """Everything the console's Dashboard shows, read in one transaction."""
    now = now or utcnow()
    today = midnight(now)
    week = now - timedelta(days=PACE_DAYS)
    moved_week = _by_code(conn, (*FEE_CODES, *AD_FEE_CODES, Code.FAUCET.value), week)  # one range for both
    faucet = _faucet(conn, moved_week)
    house_week = house_net(conn, week)
    revenue_week = revenue(conn, week, moved_week, house_week)
    pending, waiting = _withdrawals(conn)
    return Dashboard(
        at=now,
        users=_count(conn),
        active_day=active_since(conn, now - timedelta(days=1)),
        active_week=active_since(conn, now - timedelta(days=7)),
        new_today=_count(conn, users.c.created_at >= today),
        blocked=blocked(conn),
        coins=_coins(conn),
        revenue_today=revenue(conn, today),
        revenue_week=revenue_week,
        faucet=faucet,
        withdrawals=pending,
        awaiting_approval=waiting,
        attention=_attention(conn, now, faucet, set(house_week)),
    )


@dataclass(frozen=True, slots=True)
class UsersOverview:
    total: int
    new_today: int
    active_week: int
    blocked: int
    banned: int
    newest: list[tuple[int, str | None, str, datetime]]  # id, username, first name, joined


def users_overview(conn: Connection, now: datetime | None = None, newest: int = 10) -> UsersOverview:
    """The console's Users screen: totals and the newest users (``/user`` shows one in full)."""
    now = now or utcnow()
    rows = conn.execute(
        select(users.c.id, users.c.username, users.c.first_name, users.c.created_at)
        .order_by(users.c.created_at.desc())
        .limit(newest)
    )
    return UsersOverview(
        total=_count(conn),
        new_today=_count(conn, users.c.created_at >= midnight(now)),
        active_week=active_since(conn, now - timedelta(days=7)),
        blocked=blocked(conn),
        banned=_count(conn, users.c.banned_at.is_not(None)),
        newest=[(int(i), u, str(f), c) for i, u, f, c in rows],
    )
