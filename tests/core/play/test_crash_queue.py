"""core.play.crash_queue: joins that wait for the next round, on the real engine."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from core.errors import DomainError
from core.money.accounts import user_account
from core.platform.schema import utcnow
from core.play import crash, crash_queue
from tests.play import RULES, balance, load_chain, new_chain, setup_money

KEY = "s" * 40
SALT = "00000000000000000002a0d9b1c2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0"


async def running_round(db) -> tuple[crash.ChainCache, crash.Round]:
    await new_chain(db, 50, KEY)
    await db.write(crash.set_salt, SALT, admin_id=1)
    chains = crash.ChainCache(KEY)
    await load_chain(db, chains)
    rnd = await db.write(crash.open_round, chains, betting_seconds=1, now=utcnow() - timedelta(seconds=5))
    return chains, await db.write(crash.start_round, rnd.id, now=utcnow() - timedelta(seconds=3))


def queue(user_id: int, amount: int, idem: str):
    return dict(
        user_id=user_id,
        asset="DOGE",
        amount=amount,
        auto_cashout=None,
        rules=RULES,
        idem=idem,
        chat_id=user_id,
    )


async def test_not_open_before_a_salted_chain(db):
    await setup_money(db, {1: 10**6})
    with pytest.raises(crash.CrashRefused) as e:
        await db.write(crash_queue.join_or_queue, **queue(1, 10_000, "a"))
    assert e.value.reason == "not_open"


async def test_concurrent_joins_of_one_user_queue_once(db):
    await setup_money(db, {1: 10**6})
    await running_round(db)
    results = await asyncio.gather(
        *(db.write(crash_queue.join_or_queue, **queue(1, 10_000, f"k{i}")) for i in range(6)),
        return_exceptions=True,
    )
    queued = [r for r in results if isinstance(r, crash_queue.Joined) and r.queued is not None]
    refused = [r for r in results if isinstance(r, DomainError)]
    assert len(queued) == 1 and len(refused) == 5
    assert {r.reason for r in refused} == {"already_queued"}
    first = f"k{results.index(queued[0])}"
    again = await db.write(crash_queue.join_or_queue, **queue(1, 10_000, first))
    assert again.queued is not None and again.queued.replayed  # a retried update returns its queued join


async def test_queued_joins_become_bets_and_a_refusal_drops_only_its_own(db):
    await setup_money(db, {1: 10**6, 2: 10**6, 3: 10**6})
    chains, rnd = await running_round(db)
    for uid in (1, 2, 3):
        await db.write(crash_queue.join_or_queue, **queue(uid, 500_000, f"q{uid}"))
    assert await balance(db, user_account(1)) == 10**6  # nothing held while waiting

    def spend(conn):  # user 2 spends most of it before the next round opens
        from core.money import ledger
        from core.money.accounts import TREASURY

        ledger.transfer(
            conn,
            debit=user_account(2),
            credit=TREASURY,
            asset="DOGE",
            amount=900_000,
            code="fund",
            key="spend",
        )

    await db.write(spend)
    await db.write(crash.crash_round, rnd.id, "00" * 32)
    opened_round = await db.write(crash.open_round, chains, betting_seconds=30)
    done = await db.write(crash_queue.join_queued, lambda asset: RULES)
    by_user = {o.queued.user_id: o for o in done}
    assert by_user[1].bet is not None and by_user[3].bet is not None
    assert by_user[2].bet is None and by_user[2].refusal.reason == "insufficient_funds"
    assert {b.user_id for b in await db.read(crash.round_bets, opened_round.id)} == {1, 3}
    assert await balance(db, user_account(1)) == 500_000  # the stake is reserved now
    assert await db.write(crash_queue.join_queued, lambda asset: RULES) == []  # once only
