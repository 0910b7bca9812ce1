"""Two instances on one PostgreSQL database: their group commits never deadlock.

Each writer commits groups of use cases whose row locks come in arrival order; two groups
locking the same accounts in different orders used to deadlock (a second lost each time,
then a retry). The writers now take one advisory lock first, so this cannot happen: here two
Database objects (two engines, as two processes would have) move money at random among a few
accounts at once, and every transfer is kept exactly once with no deadlock retried.
"""

from __future__ import annotations

import asyncio
import random

import pytest
from sqlalchemy import text

from core.money import ledger
from core.money.accounts import WORLD, user_account
from core.platform.db import Database
from tests.conftest import PG_URL

pytestmark = pytest.mark.skipif(
    not PG_URL, reason="two instances share a PostgreSQL database: set TEST_DATABASE_URL to a PostgreSQL one"
)

ACCOUNTS = 5
FUNDS = 10**9


async def _move(db: Database, tag: str, tasks: int, each: int) -> int:
    rng = random.Random(tag)

    async def worker(w: int) -> int:
        done = 0
        for i in range(each):
            a, b = rng.sample(range(1, ACCOUNTS + 1), 2)
            got = await db.write(
                ledger.transfer,
                debit=user_account(a),
                credit=user_account(b),
                asset="BTC",
                amount=rng.randint(1, 1000),
                code="bank",
                key=f"bank:{tag}:{w}:{i}",
            )
            assert not got.replayed
            done += 1
        return done

    return sum(await asyncio.gather(*(worker(w) for w in range(tasks))))


async def test_two_instances_moving_money_among_few_accounts_never_deadlock(db):
    for a in range(1, ACCOUNTS + 1):
        await db.write(
            ledger.transfer,
            debit=WORLD,
            credit=user_account(a),
            asset="BTC",
            amount=FUNDS,
            code="seed",
            key=f"s{a}",
        )
    first, second = Database(PG_URL), Database(PG_URL)  # two engines, two writers: two instances
    await first.start()
    await second.start()
    try:
        done = await asyncio.gather(_move(first, "a", 16, 40), _move(second, "b", 16, 40))
        deadlocks = (first.retries["40P01"], second.retries["40P01"])
    finally:
        await first.close()
        await second.close()

    assert done == [640, 640]
    assert deadlocks == (0, 0)

    def books(conn):
        stored = conn.execute(text("SELECT count(*) FROM transfers WHERE code = 'bank'")).scalar_one()
        total = conn.execute(
            text("SELECT sum(balance) FROM accounts WHERE owner LIKE 'user:%' AND asset = 'BTC'")
        ).scalar_one()
        return stored, total

    assert await db.read(books) == (1280, ACCOUNTS * FUNDS)  # none lost, none doubled, no unit made


async def test_the_writers_of_one_instance_take_the_same_lock(db):
    """writers=4 (several writer connections in one process) is ordered the same way."""
    for a in range(1, ACCOUNTS + 1):
        await db.write(
            ledger.transfer,
            debit=WORLD,
            credit=user_account(a),
            asset="BTC",
            amount=FUNDS,
            code="seed",
            key=f"s{a}",
        )
    many = Database(PG_URL, writers=4)
    await many.start()
    try:
        assert await _move(many, "w", 32, 20) == 640
        assert many.retries["40P01"] == 0
    finally:
        await many.close()


async def test_a_database_error_in_the_one_trip_transfer_reaches_the_writer_as_sqlalchemy_raises_it(db):
    """The one-statement transfer runs on the driver's cursor; its errors must still be
    SQLAlchemy DBAPIErrors carrying the SQLSTATE, or the writer could not retry a deadlock."""
    from sqlalchemy.exc import DBAPIError

    from core.platform.db import _sqlstate

    await db.write(
        ledger.transfer, debit=WORLD, credit=user_account(1), asset="BTC", amount=100, code="seed", key="s1"
    )

    def impatient(conn):
        conn.exec_driver_sql("SET LOCAL lock_timeout = '50ms'")
        return ledger.transfer(
            conn, debit=user_account(1), credit=user_account(2), asset="BTC", amount=1, code="t", key="t1"
        )

    async with db.engine.connect() as holder:  # another program holds the account's row
        await holder.execute(text("SELECT 1 FROM accounts WHERE owner = 'user:1' FOR UPDATE"))
        with pytest.raises(DBAPIError) as caught:
            await db.write(impatient)
        await holder.rollback()
    assert _sqlstate(caught.value) == "55P03"  # lock_not_available, as asyncpg reported it
    assert await db.write(impatient)  # and nothing of the failed attempt was kept
