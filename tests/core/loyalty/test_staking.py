"""DUST staking: positions, cooldowns, and epochs that pay stake x time exactly (clock injected)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from core.loyalty import staking
from core.loyalty.errors import LoyaltyError
from core.loyalty.points import day_of
from core.money import ledger
from core.money.accounts import FEES, HOUSE, STAKING, user_account
from core.platform.params import Params
from jobs.staking import StakingJob
from tests.money import available, fund

DAY = datetime(2026, 3, 2, tzinfo=UTC)  # the epoch under test
EPOCH = day_of(DAY)
COIN = 10**8


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def params(**values: str) -> Params:
    p = Params(env={})
    p._stored.update(values)
    p._loaded_at = 1e18  # no database reload in these tests
    return p


async def stake(db, user: int, amount: int, at: datetime, key: str) -> int:
    return await db.write(staking.stake, user, amount, key=key, now=at)


async def setup_epoch(db) -> None:
    """A stakes all along; B opens at 12:00; C closes at 06:00; D stakes only the next day."""
    for user in (1, 2, 3, 4):
        await fund(db, user_account(user), 100 * COIN, "DUST", key=f"u{user}")
    await stake(db, 1, 10 * COIN, DAY - timedelta(days=1), "a")
    await stake(db, 3, 10 * COIN, DAY - timedelta(days=1), "c")
    await stake(db, 2, 10 * COIN, DAY + timedelta(hours=12), "b")
    await db.write(staking.unstake, 3, 10 * COIN, 0, key="c-out", now=DAY + timedelta(hours=6))
    await stake(db, 4, 10 * COIN, DAY + timedelta(days=1, hours=1), "d")


async def test_weights_follow_stakes_opened_and_closed_within_the_epoch(db):
    await setup_epoch(db)
    w = await db.read(staking.weights, EPOCH)
    assert w == {1: 10 * COIN * 86400, 2: 10 * COIN * 43200, 3: 10 * COIN * 21600}


async def test_an_epoch_pays_exactly_the_pool_minus_the_remainder_once(db):
    await setup_epoch(db)
    await fund(db, STAKING, 1000 * COIN, "DUST", key="reserve")
    await fund(db, user_account(9), 1 * COIN, "BTC", key="u9")
    await db.write(  # revenue in the epoch: a fee, and a house win
        ledger.transfer,
        debit=user_account(9),
        credit=FEES,
        asset="BTC",
        amount=1001,
        code="withdrawal_fee",
        key="fee1",
        now=DAY + timedelta(hours=3),
    )
    await db.write(
        ledger.transfer,
        debit=user_account(9),
        credit=HOUSE,
        asset="BTC",
        amount=10_000,
        code="bet",
        key="bet1",
        now=DAY + timedelta(hours=4),
    )
    await db.write(
        ledger.transfer,
        debit=user_account(9),
        credit=FEES,
        asset="BTC",
        amount=999_999,
        code="withdrawal_fee",
        key="fee-next-day",
        now=DAY + timedelta(days=1, hours=1),
    )
    job = StakingJob(
        db,
        params(**{"staking.share": "10%", "staking.emission": "7"}),
        clock=Clock(DAY + timedelta(days=1, minutes=5)),
        chunk=2,
    )
    report = await job.distribute()
    pools = {p.asset: p for p in report.pools}
    assert pools["BTC"].pool == (1001 + 10_000) * 1000 // 10000 == 1100
    assert pools["DUST"].pool == 7 * COIN
    for p in report.pools:
        assert p.paid + p.remainder == p.pool and p.done
    # weights 4 : 2 : 1 of 7 shares
    assert await db.read(ledger.get_transfer, key=f"stake:1:{EPOCH}:DUST") is not None
    got = {u: await available(db, user_account(u), "BTC") for u in (1, 2, 3)}
    assert got == {1: 1100 * 4 // 7, 2: 1100 * 2 // 7, 3: 1100 * 1 // 7}
    assert sum(got.values()) + pools["BTC"].remainder == 1100
    assert await available(db, staking.POOL, "BTC") == 0 and await available(db, staking.POOL, "DUST") == 0
    again = await job.distribute()
    assert again.paid_now == 0
    assert await available(db, user_account(1), "BTC") == got[1]


async def test_a_run_killed_in_the_middle_pays_everyone_once(db):
    await setup_epoch(db)
    await fund(db, STAKING, 1000 * COIN, "DUST", key="reserve")
    p = params(**{"staking.emission": "7"})
    now = DAY + timedelta(days=1, minutes=5)
    pools = await db.write(staking.fix_pools, EPOCH, 1000, 7 * COIN, now=now)
    w = await db.read(staking.weights, EPOCH)
    shares, _ = staking.split(pools[0].pool, w)
    first = next(staking.chunks(shares, 1))
    await db.write(staking.pay_shares, EPOCH, "DUST", first, now=now)  # then the process died
    report = await StakingJob(db, p, clock=Clock(now), chunk=1).distribute()
    assert report.paid_now == len(shares) - 1
    paid = sum([await available(db, user_account(u), "DUST") for u in (1, 2, 3)]) - (90 + 90 + 100) * COIN
    assert paid + report.pools[0].remainder == 7 * COIN


async def test_an_unstake_racing_the_distribution(db):
    await setup_epoch(db)
    await fund(db, STAKING, 1000 * COIN, "DUST", key="reserve")
    job = StakingJob(db, params(**{"staking.emission": "3"}), clock=Clock(DAY + timedelta(days=1, minutes=5)))
    now = DAY + timedelta(days=1, minutes=5)
    outcome = await asyncio.gather(
        job.distribute(),
        db.write(staking.unstake, 1, 10 * COIN, 0, key="race", now=now),
        return_exceptions=True,
    )
    assert not any(isinstance(x, BaseException) for x in outcome), outcome
    pool = outcome[0].pools[0]
    rewards = sum(
        [(await db.read(ledger.get_transfer, key=f"stake:{u}:{EPOCH}:DUST")).amount for u in (1, 2, 3)]
    )
    assert rewards + pool.remainder == pool.pool == 3 * COIN
    assert await available(db, staking.position_account(1), "DUST") == 0


async def test_cooldown_holds_unstaked_dust_until_it_ends(db):
    await fund(db, user_account(1), 5 * COIN, "DUST", key="u1")
    await stake(db, 1, 4 * COIN, DAY, "s")
    out = await db.write(staking.unstake, 1, COIN, 3600, key="o", now=DAY)
    assert out.spendable_at == DAY + timedelta(hours=1) and out.position == 3 * COIN
    assert await available(db, user_account(1), "DUST") == COIN
    assert await db.write(staking.release_due, DAY + timedelta(minutes=59)) == 0
    assert await db.write(staking.release_due, DAY + timedelta(hours=1)) == 1
    assert await db.write(staking.release_due, DAY + timedelta(hours=2)) == 0
    assert await available(db, user_account(1), "DUST") == 2 * COIN
    pos = await db.read(staking.position, 1, DAY + timedelta(hours=2))
    assert (pos.staked, pos.cooling) == (3 * COIN, [])


@pytest.mark.parametrize(
    ("what", "amount", "reason"),
    [
        ("stake", 6 * COIN, "stake_too_much"),
        ("stake", 0, "bad_stake"),
        ("unstake", 5 * COIN, "unstake_too_much"),
        ("unstake", -1, "bad_stake"),
    ],
)
async def test_bad_amounts_move_nothing(db, what, amount, reason):
    await fund(db, user_account(1), 5 * COIN, "DUST", key="u1")
    await stake(db, 1, 4 * COIN, DAY, "s")
    with pytest.raises(LoyaltyError) as err:
        if what == "stake":
            await stake(db, 1, amount, DAY, "x")
        else:
            await db.write(staking.unstake, 1, amount, 0, key="x", now=DAY)
    assert err.value.reason == reason
    assert await available(db, user_account(1), "DUST") == COIN
    assert await available(db, staking.position_account(1), "DUST") == 4 * COIN


def test_split_is_exact_in_integers():
    shares, rest = staking.split(100, {1: 1, 2: 1, 3: 1})
    assert shares == {1: 33, 2: 33, 3: 33} and rest == 1
    shares, rest = staking.split(10**18, {i: i * 7919 for i in range(1, 500)})
    assert sum(shares.values()) + rest == 10**18 and 0 <= rest < 500
