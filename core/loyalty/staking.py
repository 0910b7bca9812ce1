"""DUST staking: positions, unstaking with a cooldown, and the epoch distribution.

A user's position is the DUST in their own sub-account ``staking:user:{id}`` (available
balance: DUST on its way out after an unstake is held there, no longer staked). ``stake``
moves DUST in, ``unstake`` moves it out at once, or, with ``staking.cooldown``, as a pending
transfer posted by ``release_due`` when the cooldown ends. Every change is logged
(``stake_log``: before, after) so an epoch can weigh stake x time exactly.

An epoch is a UTC day. Its pool per asset is ``staking.share`` of the platform's revenue that
day (fees received, and the house's net win if positive), plus for DUST ``staking.emission``
from the ``staking`` account's reserve; the pool is first moved to ``staking:pool`` (keys
``stake_pool:{epoch}:{asset}:{source}``) and fixed in ``stake_epochs``. Each position gets
``pool * weight // total_weight`` (weight = stake x seconds staked within the epoch), key
``stake:{user}:{epoch}:{asset}``. The remainder rule: what the rounding down leaves,
``pool - sum(paid)``, goes back to ``staking`` (key ``stake_rest:{epoch}:{asset}``): it stays
with the platform, and paid + remainder = pool exactly. A run killed in the middle pays every
position once when run again: the numbers are fixed, and every payment has its key.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, and_, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from core.errors import InsufficientFunds
from core.identity import standing
from core.loyalty.errors import LoyaltyError
from core.loyalty.points import day_of
from core.loyalty.tables import stake_epochs, stake_log, stake_rewards, unstakes
from core.money import ASSETS, FEES, HOUSE, STAKING, bulk, ledger, user_account
from core.money import accounts_table as accounts
from core.money import entries_table as entries
from core.money import transfers_table as transfers
from core.platform import define

DUST = "DUST"
POOL = f"{STAKING}:pool"
CODE_STAKE, CODE_UNSTAKE, CODE_REWARD = "stake", "unstake", "stake_reward"
CODE_POOL, CODE_REST = "stake_pool", "stake_rest"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
EPOCH_SECONDS = 86400
# Movements of fees and house that are not revenue: funding, admin corrections, staking itself.
NOT_REVENUE = ("deposit", "fund", "admin_credit", "admin_debit", "correction", CODE_POOL, CODE_REST)

define("staking.cooldown", "0s", "duration", minimum=0, maximum=30 * 86400)
define("staking.share", "10%", "share")
define("staking.emission", "100", "amount", asset=DUST)


def position_account(user_id: int) -> str:
    return f"{STAKING}:user:{int(user_id)}"


def epoch_start(epoch: int) -> datetime:
    return EPOCH + timedelta(days=epoch)


def _staked(conn: Connection, user_id: int) -> int:
    return ledger.balance(conn, position_account(user_id), DUST).available


def _log(conn: Connection, user_id: int, before: int, after: int, now: datetime) -> None:
    conn.execute(stake_log.insert().values(user_id=user_id, at=now, amount_before=before, amount_after=after))


def stake(conn: Connection, user_id: int, amount: int, *, key: str, now: datetime) -> int:
    """Move ``amount`` DUST (minor units) from the user into their position (key ``stake:in:{key}``).
    Refuses stake_too_much beyond the available balance, bad_stake for amounts <= 0. Returns the position."""
    standing.require(conn, user_id, standing.SWAP)
    if type(amount) is not int or amount <= 0:
        raise LoyaltyError("bad_stake")
    if ledger.balance(conn, user_account(user_id), DUST).available < amount:
        raise LoyaltyError("stake_too_much", amount=amount)
    before = _staked(conn, user_id)
    t = ledger.transfer(
        conn,
        debit=user_account(user_id),
        credit=position_account(user_id),
        asset=DUST,
        amount=amount,
        code=CODE_STAKE,
        key=f"stake:in:{key}",
        now=now,
    )
    if not t.replayed:
        _log(conn, user_id, before, before + amount, now)
    return _staked(conn, user_id)


@dataclass(frozen=True, slots=True)
class Unstaked:
    amount: int
    position: int  # what stays staked
    spendable_at: datetime  # now, or the end of the cooldown


def unstake(
    conn: Connection, user_id: int, amount: int, cooldown: int, *, key: str, now: datetime
) -> Unstaked:
    """Take ``amount`` DUST out of the position: at once (cooldown 0) or held until ``now + cooldown``
    (a pending transfer; ``release_due`` posts it). Key ``stake:out:{key}``. Refuses
    unstake_too_much beyond the position, bad_stake for amounts <= 0."""
    standing.require(conn, user_id, standing.SWAP)
    if type(amount) is not int or amount <= 0:
        raise LoyaltyError("bad_stake")
    before = _staked(conn, user_id)
    k = f"stake:out:{key}"
    done = ledger.get_transfer(conn, key=k)
    if done is not None:
        row = conn.execute(select(unstakes.c.due_at).where(unstakes.c.transfer_id == done.id)).first()
        return Unstaked(done.amount, before, row.due_at if row is not None else done.created_at)
    if before < amount:
        raise LoyaltyError("unstake_too_much", amount=amount)
    due = now + timedelta(seconds=cooldown)
    try:
        if cooldown <= 0:
            ledger.transfer(
                conn,
                debit=position_account(user_id),
                credit=user_account(user_id),
                asset=DUST,
                amount=amount,
                code=CODE_UNSTAKE,
                key=k,
                now=now,
            )
        else:
            t = ledger.reserve(
                conn,
                debit=position_account(user_id),
                credit=user_account(user_id),
                asset=DUST,
                amount=amount,
                code=CODE_UNSTAKE,
                key=k,
                now=now,
            )
            conn.execute(
                unstakes.insert().values(user_id=user_id, transfer_id=t.id, amount=amount, due_at=due)
            )
    except InsufficientFunds:  # a concurrent unstake took it first
        raise LoyaltyError("unstake_too_much", amount=amount) from None
    _log(conn, user_id, before, before - amount, now)
    return Unstaked(amount, before - amount, due)


def release_due(conn: Connection, now: datetime, *, limit: int = 10_000) -> int:
    """Post every unstake whose cooldown has ended (up to ``limit``), set-based; how many."""
    rows = conn.execute(
        select(unstakes.c.id, unstakes.c.transfer_id)
        .where(unstakes.c.released.is_(False), unstakes.c.due_at <= now)
        .order_by(unstakes.c.id)
        .limit(limit)
    ).all()
    if not rows:
        return 0
    bulk.post_pending_bulk(
        conn, [(int(r.transfer_id), f"stake:release:{r.transfer_id}") for r in rows], now=now
    )
    conn.execute(update(unstakes).where(unstakes.c.id.in_([r.id for r in rows])).values(released=True))
    return len(rows)


@dataclass(frozen=True, slots=True)
class Cooling:
    amount: int
    due_at: datetime


@dataclass(frozen=True, slots=True)
class Position:
    staked: int
    cooling: list[Cooling]
    rewards: list[tuple[int, str, int]]  # (epoch, asset, amount), newest first
    apy_bp: int | None  # DUST rewards of the last 7 epochs, yearly, over the stake; None without data


def position(conn: Connection, user_id: int, now: datetime, *, epochs: int = 7) -> Position:
    staked = _staked(conn, user_id)
    cooling = [
        Cooling(int(r.amount), r.due_at)
        for r in conn.execute(
            select(unstakes.c.amount, unstakes.c.due_at)
            .where(unstakes.c.user_id == user_id, unstakes.c.released.is_(False))
            .order_by(unstakes.c.due_at)
        )
    ]
    since = day_of(now) - epochs
    rewards = [
        (int(r.epoch), str(r.asset), int(r.amount))
        for r in conn.execute(
            select(stake_rewards.c.epoch, stake_rewards.c.asset, stake_rewards.c.amount)
            .where(stake_rewards.c.user_id == user_id, stake_rewards.c.epoch >= since)
            .order_by(stake_rewards.c.epoch.desc(), stake_rewards.c.asset)
        )
    ]
    dust = sum(a for _, asset, a in rewards if asset == DUST)
    apy = None
    if staked > 0 and rewards:
        apy = dust * 365 * 10000 // (epochs * staked)
    return Position(staked, cooling, rewards, apy)


# --- the epoch ----------------------------------------------------------------------


def weights(conn: Connection, epoch: int) -> dict[int, int]:
    """Stake x seconds of every position within UTC day ``epoch``, from the log, exactly.

    A position's stake at the epoch's start is the ``before`` of its first change since then,
    or, without any, what it holds now; it then follows its changes until the epoch's end."""
    start, end = epoch_start(epoch), epoch_start(epoch + 1)
    t0, t1 = int(start.timestamp()), int(end.timestamp())
    changes: dict[int, list[tuple[int, int, int]]] = {}
    for r in conn.execute(
        select(stake_log.c.user_id, stake_log.c.at, stake_log.c.amount_before, stake_log.c.amount_after)
        .where(stake_log.c.at >= start)
        .order_by(stake_log.c.user_id, stake_log.c.at, stake_log.c.id)
    ):
        changes.setdefault(int(r.user_id), []).append(
            (int(r.at.timestamp()), int(r.amount_before), int(r.amount_after))
        )
    prefix = f"{STAKING}:user:"
    held = {
        int(r.owner[len(prefix) :]): int(r.balance) - int(r.debits_pending)
        for r in conn.execute(
            select(accounts.c.owner, accounts.c.balance, accounts.c.debits_pending).where(
                accounts.c.owner.like(prefix + "%"), accounts.c.asset == DUST
            )
        )
    }
    out: dict[int, int] = {}
    for user_id in held.keys() | changes.keys():
        log = changes.get(user_id, [])
        amount = log[0][1] if log else held.get(user_id, 0)
        t, w = t0, 0
        for at, _before, after in log:
            if at >= t1:
                break
            w += amount * (max(at, t0) - t)
            amount, t = after, max(at, t0)
        w += amount * (t1 - t)
        if w > 0:
            out[user_id] = w
    for user_id in conn.execute(standing.BANNED_IDS).scalars():  # banned: no share; the others share it
        out.pop(int(user_id), None)
    return out


@dataclass(frozen=True, slots=True)
class EpochPool:
    epoch: int
    asset: str
    pool: int
    paid: int
    remainder: int
    weight: int
    positions: int
    done: bool


def split(pool: int, weights_of: dict[int, int]) -> tuple[dict[int, int], int]:
    """Each position's share ``pool * w // W`` (rounded down) and the remainder; shares + remainder == pool."""
    total = sum(weights_of.values())
    if pool <= 0 or total <= 0:
        return {}, max(pool, 0)
    shares = {u: pool * w // total for u, w in weights_of.items()}
    shares = {u: a for u, a in shares.items() if a > 0}
    return shares, pool - sum(shares.values())


def fix_pools(
    conn: Connection,
    epoch: int,
    share_bp: int,
    emission: int,
    *,
    now: datetime,
    weights_of: dict[int, int] | None = None,
) -> list[EpochPool]:
    """Fix the epoch's pools (the first run computes and collects them into ``staking:pool``; later
    runs read them back). Without any stake in the epoch nothing is collected. ``weights_of``:
    the epoch's weights when the caller has them (they depend only on the log: see ``weights``)."""
    existing = pools_of(conn, epoch)
    if existing:
        return existing
    w = weights(conn, epoch) if weights_of is None else weights_of
    total = sum(w.values())
    if total <= 0:
        return []
    wanted: dict[tuple[str, str], int] = {}
    fees_and_house = revenue(conn, epoch)
    for (asset, source), income in fees_and_house.items():
        wanted[(asset, source)] = income * share_bp // 10000
    if emission > 0:
        wanted[(DUST, STAKING)] = emission
    pools: dict[str, int] = {}
    for (asset, source), amount in sorted(wanted.items()):
        amount = min(amount, ledger.balance(conn, source, asset).available)
        if amount <= 0:
            continue
        ledger.transfer(
            conn,
            debit=source,
            credit=POOL,
            asset=asset,
            amount=amount,
            code=CODE_POOL,
            key=f"stake_pool:{epoch}:{asset}:{source}",
            meta={"epoch": epoch},
            now=now,
        )
        pools[asset] = pools.get(asset, 0) + amount
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    for asset, pool in pools.items():
        shares, rest = split(pool, w)
        ins = dialect.insert(stake_epochs).values(
            epoch=epoch,
            asset=asset,
            pool=pool,
            paid=pool - rest,
            remainder=rest,
            weight=str(total),
            positions=len(shares),
        )
        conn.execute(ins.on_conflict_do_nothing(index_elements=[stake_epochs.c.epoch, stake_epochs.c.asset]))
    return pools_of(conn, epoch)


def revenue(conn: Connection, epoch: int) -> dict[tuple[str, str], int]:
    """The platform's revenue in ``epoch`` by (asset, account): fees received, and the house's
    net win when positive (funding, corrections and staking's own moves do not count)."""
    start, end = epoch_start(epoch), epoch_start(epoch + 1)
    got: dict[tuple[str, str], int] = {}
    for owner, positive_only in ((FEES, True), (HOUSE, False)):
        cond = [
            entries.c.owner == owner,
            transfers.c.created_at >= start,
            transfers.c.created_at < end,
            transfers.c.code.not_in(NOT_REVENUE),
        ]
        if positive_only:
            cond.append(entries.c.amount > 0)
        for asset, total in conn.execute(
            select(entries.c.asset, func.sum(entries.c.amount))
            .select_from(entries.join(transfers, transfers.c.id == entries.c.transfer_id))
            .where(and_(*cond))
            .group_by(entries.c.asset)
        ):
            if int(total) > 0 and str(asset) in ASSETS:
                got[(str(asset), owner)] = int(total)
    return got


def pools_of(conn: Connection, epoch: int) -> list[EpochPool]:
    return [
        EpochPool(
            int(r.epoch),
            str(r.asset),
            int(r.pool),
            int(r.paid),
            int(r.remainder),
            int(r.weight),
            int(r.positions),
            r.done_at is not None,
        )
        for r in conn.execute(
            select(stake_epochs).where(stake_epochs.c.epoch == epoch).order_by(stake_epochs.c.asset)
        )
    ]


def reward_key(user_id: int, epoch: int, asset: str) -> str:
    return f"stake:{user_id}:{epoch}:{asset}"


def chunks(shares: dict[int, int], size: int) -> Iterator[list[tuple[int, int]]]:
    items = sorted(shares.items())
    for i in range(0, len(items), size):
        yield items[i : i + size]


def pay_shares(
    conn: Connection, epoch: int, asset: str, part: list[tuple[int, int]], *, now: datetime
) -> int:
    """Pay one chunk of an epoch's shares from ``staking:pool``, set-based; how many were new."""
    moves = [
        ledger.Move(POOL, user_account(u), asset, a, CODE_REWARD, reward_key(u, epoch, asset))
        for u, a in part
    ]
    got = bulk.transfer_bulk(conn, moves, now=now)
    mark = "$1, $2, $3, $4" if conn.dialect.name == "postgresql" else "?, ?, ?, ?"
    conn.exec_driver_sql(  # the driver's executemany: no per-row work of ours at 100,000 positions
        f"INSERT INTO stake_rewards (user_id, epoch, asset, amount) VALUES ({mark}) ON CONFLICT DO NOTHING",
        [(u, epoch, asset, a) for u, a in part],
    )
    return got.posted


def close_pool(conn: Connection, pool: EpochPool, *, now: datetime) -> None:
    """Return the epoch's remainder to ``staking`` and mark the pool done (idempotent)."""
    if pool.remainder > 0:
        ledger.transfer(
            conn,
            debit=POOL,
            credit=STAKING,
            asset=pool.asset,
            amount=pool.remainder,
            code=CODE_REST,
            key=f"stake_rest:{pool.epoch}:{pool.asset}",
            meta={"epoch": pool.epoch},
            now=now,
        )
    conn.execute(
        update(stake_epochs)
        .where(stake_epochs.c.epoch == pool.epoch, stake_epochs.c.asset == pool.asset)
        .values(done_at=now)
    )
