"""The ledger on a real database (SQLite file, or PostgreSQL with TEST_DATABASE_URL)."""

import asyncio

import pytest
from sqlalchemy import Float, Numeric
from sqlalchemy.util import await_only

from core.errors import IdempotencyConflict, InsufficientFunds, TransferRejected, UnknownAccount, UnknownAsset
from core.money import ledger
from core.money.accounts import HOUSE, TREASURY, WORLD, user_account
from core.money.ledger import Move
from core.platform.schema import load_all

ALICE, BOB = user_account(1), user_account(2)


async def fund(db, owner, amount, asset="BTC", key=None):
    return await db.write(
        ledger.transfer,
        debit=WORLD,
        credit=owner,
        asset=asset,
        amount=amount,
        code="test",
        key=key or f"fund:{owner}:{asset}:{amount}",
    )


async def bal(db, owner, asset="BTC"):
    return (await db.read(ledger.balance, owner, asset)).available


async def test_transfer_moves_money_and_records_entries(db):
    await fund(db, ALICE, 1000)
    t = await db.write(
        ledger.transfer, debit=ALICE, credit=BOB, asset="BTC", amount=300, code="tip", key="tip:1"
    )
    assert not t.replayed and t.amount == 300
    assert await bal(db, ALICE) == 700
    assert await bal(db, BOB) == 300
    moves, total = await db.read(ledger.history, ALICE)
    assert total == 2
    assert [(m.amount, m.balance_after, m.code) for m in moves] == [(-300, 700, "tip"), (1000, 1000, "test")]


async def test_same_key_returns_first_transfer_and_moves_nothing(db):
    await fund(db, ALICE, 1000)
    first = await db.write(
        ledger.transfer, debit=ALICE, credit=BOB, asset="BTC", amount=5, code="tip", key="k"
    )
    again = await db.write(
        ledger.transfer, debit=ALICE, credit=BOB, asset="BTC", amount=5, code="tip", key="k"
    )
    assert again.replayed and again.id == first.id
    assert await bal(db, ALICE) == 995


@pytest.mark.parametrize(
    "change",
    [{"amount": 6}, {"credit": user_account(3)}, {"asset": "DOGE"}, {"code": "other"}, {"debit": WORLD}],
)
async def test_same_key_with_different_fields_raises(db, change):
    await fund(db, ALICE, 1000)
    await fund(db, ALICE, 1000, asset="DOGE")
    base = dict(debit=ALICE, credit=BOB, asset="BTC", amount=5, code="tip", key="k")
    await db.write(ledger.transfer, **base)
    with pytest.raises(IdempotencyConflict):
        await db.write(ledger.transfer, **{**base, **change})
    assert await bal(db, ALICE) == 995


async def test_never_negative(db):
    await fund(db, ALICE, 10)
    with pytest.raises(InsufficientFunds):
        await db.write(ledger.transfer, debit=ALICE, credit=BOB, asset="BTC", amount=11, code="tip", key="t")
    with pytest.raises(InsufficientFunds):  # an account that does not exist yet holds nothing
        await db.write(ledger.transfer, debit=HOUSE, credit=BOB, asset="BTC", amount=1, code="t", key="t2")
    assert await bal(db, ALICE) == 10
    # the refused key was not consumed: it can be used once funds are there
    await fund(db, ALICE, 1)
    await db.write(ledger.transfer, debit=ALICE, credit=BOB, asset="BTC", amount=11, code="tip", key="t")
    assert await bal(db, BOB) == 11


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"amount": 0}, TransferRejected),
        ({"amount": -5}, TransferRejected),
        ({"amount": 1.5}, TransferRejected),
        ({"amount": True}, TransferRejected),
        ({"asset": "XRP"}, UnknownAsset),
        ({"asset": "btc"}, UnknownAsset),  # would be a second, hidden BTC account
        ({"amount": 10**18 + 1}, TransferRejected),
        ({"credit": ALICE}, TransferRejected),
        ({"credit": "nobody"}, UnknownAccount),
        ({"credit": "user:abc"}, UnknownAccount),
        ({"key": ""}, TransferRejected),
    ],
)
async def test_bad_transfers_are_refused(db, fields, error):
    await fund(db, ALICE, 100)
    with pytest.raises(error):
        await db.write(
            ledger.transfer,
            **{**dict(debit=ALICE, credit=BOB, asset="BTC", amount=5, code="x", key="x"), **fields},
        )
    assert await bal(db, ALICE) == 100
    assert await bal(db, BOB) == 0
    assert await db.read(ledger.balances, BOB) == {}


async def test_a_read_sees_one_snapshot_while_a_write_commits(db):
    """check_invariants sums the book in several queries: none may see half a transfer."""
    await fund(db, ALICE, 100)

    def read_around_a_payment(conn):
        before = ledger.balance(conn, ALICE, "BTC").balance
        await_only(
            db.write(ledger.transfer, debit=ALICE, credit=BOB, asset="BTC", amount=40, code="x", key="mid")
        )
        return before, ledger.balance(conn, ALICE, "BTC").balance, ledger.balance(conn, BOB, "BTC").balance

    assert await db.read(read_around_a_payment) == (100, 100, 0)
    assert (await bal(db, ALICE), await bal(db, BOB)) == (60, 40)


async def test_transfer_many_is_all_or_nothing(db):
    await fund(db, ALICE, 100)
    moves = [
        Move(ALICE, BOB, "BTC", 60, "split", "m:1"),
        Move(ALICE, user_account(3), "BTC", 60, "split", "m:2"),  # the second one cannot be paid
    ]
    with pytest.raises(InsufficientFunds):
        await db.write(ledger.transfer_many, moves)
    assert (await bal(db, ALICE), await bal(db, BOB)) == (100, 0)
    moves[1] = Move(ALICE, user_account(3), "BTC", 40, "split", "m:2")
    done = await db.write(ledger.transfer_many, moves)
    assert [t.amount for t in done] == [60, 40]
    assert await bal(db, ALICE) == 0


async def test_two_phase_post_once(db):
    await fund(db, ALICE, 100)
    p = await db.write(
        ledger.reserve, debit=ALICE, credit=TREASURY, asset="BTC", amount=70, code="withdrawal", key="w:1"
    )
    b = await db.read(ledger.balance, ALICE, "BTC")
    assert (b.balance, b.held, b.available) == (100, 70, 30)
    with pytest.raises(InsufficientFunds):  # held money cannot be spent twice
        await db.write(ledger.transfer, debit=ALICE, credit=BOB, asset="BTC", amount=31, code="tip", key="t")
    posted = await db.write(ledger.post_pending, p.id, key="w:1:post")
    assert posted.kind == "post" and posted.pending_id == p.id
    again = await db.write(ledger.post_pending, p.id, key="w:1:post")
    assert again.replayed
    with pytest.raises(TransferRejected) as err:
        await db.write(ledger.void_pending, p.id, key="w:1:void")
    assert err.value.reason == "already_resolved"
    with pytest.raises(TransferRejected):
        await db.write(ledger.post_pending, p.id, key="w:1:post-again")
    b = await db.read(ledger.balance, ALICE, "BTC")
    assert (b.balance, b.held) == (30, 0)
    assert await bal(db, TREASURY) == 70


async def test_two_phase_void_once(db):
    await fund(db, ALICE, 100)
    p = await db.write(
        ledger.reserve, debit=ALICE, credit=TREASURY, asset="BTC", amount=70, code="withdrawal", key="w:1"
    )
    await db.write(ledger.void_pending, p.id, key="w:1:void")
    await db.write(ledger.void_pending, p.id, key="w:1:void")
    with pytest.raises(TransferRejected):
        await db.write(ledger.post_pending, p.id, key="w:1:post")
    b = await db.read(ledger.balance, ALICE, "BTC")
    assert (b.balance, b.held) == (100, 0)
    with pytest.raises(InsufficientFunds):
        await db.write(
            ledger.reserve, debit=ALICE, credit=TREASURY, asset="BTC", amount=101, code="w", key="w:2"
        )
    with pytest.raises(TransferRejected):  # only pending transfers can be posted or voided
        await db.write(ledger.post_pending, (await fund(db, BOB, 1)).id, key="nope")


async def test_concurrent_post_and_void_resolve_once(db):
    await fund(db, ALICE, 100)
    p = await db.write(
        ledger.reserve, debit=ALICE, credit=TREASURY, asset="BTC", amount=70, code="w", key="w:1"
    )
    calls = [db.write(ledger.post_pending, p.id, key=f"post:{i}") for i in range(10)]
    calls += [db.write(ledger.void_pending, p.id, key=f"void:{i}") for i in range(10)]
    results = await asyncio.gather(*calls, return_exceptions=True)
    assert sum(not isinstance(r, Exception) for r in results) == 1
    assert all(isinstance(r, TransferRejected) for r in results if isinstance(r, Exception))


async def test_correction_reverses_and_points_back(db):
    await fund(db, ALICE, 100)
    t = await db.write(ledger.transfer, debit=ALICE, credit=BOB, asset="BTC", amount=40, code="tip", key="t")
    fix = await db.write(ledger.reverse, t.id, key="fix:t")
    assert (fix.debit, fix.credit, fix.amount, fix.reverses_id) == (BOB, ALICE, 40, t.id)
    assert await bal(db, ALICE) == 100
    assert (await db.read(ledger.get_transfer, id=t.id)).amount == 40  # the original is untouched


async def test_race_200_debits_of_one_unit_from_150(db):
    """200 concurrent tasks each take 1 unit from an account holding 150: exactly 150 succeed."""
    await fund(db, HOUSE, 150)

    async def take(i):
        return await db.write(
            ledger.transfer,
            debit=HOUSE,
            credit=user_account(1000 + i),
            asset="BTC",
            amount=1,
            code="race",
            key=f"race:{i}",
        )

    results = await asyncio.gather(*(take(i) for i in range(200)), return_exceptions=True)
    ok = [r for r in results if not isinstance(r, Exception)]
    failed = [r for r in results if isinstance(r, Exception)]
    assert len(ok) == 150
    assert all(isinstance(e, InsufficientFunds) for e in failed) and len(failed) == 50
    assert await bal(db, HOUSE) == 0


async def test_race_same_key_from_many_tasks_pays_once(db):
    await fund(db, HOUSE, 1000)
    calls = [
        db.write(ledger.transfer, debit=HOUSE, credit=ALICE, asset="BTC", amount=7, code="x", key="once")
        for _ in range(50)
    ]
    results = await asyncio.gather(*calls)
    assert sum(not r.replayed for r in results) == 1
    assert len({r.id for r in results}) == 1
    assert await bal(db, ALICE) == 7


async def test_invariant_check_notices_a_broken_book(db):
    await fund(db, ALICE, 100)
    from sqlalchemy import update

    from core.platform.schema import accounts

    def corrupt(conn):
        conn.execute(update(accounts).where(accounts.c.owner == ALICE).values(balance=accounts.c.balance + 1))

    await db.write(corrupt)
    problems = await db.read(ledger.check_invariants)
    assert any("sum to 1" in p for p in problems)
    assert any("entries sum to 100" in p for p in problems)

    def repair(conn):
        conn.execute(update(accounts).where(accounts.c.owner == ALICE).values(balance=accounts.c.balance - 1))

    await db.write(repair)


def test_no_money_column_is_a_float():
    for table in load_all().sorted_tables:
        for column in table.columns:
            assert not isinstance(column.type, Float | Numeric), (
                f"{table.name}.{column.name} is {column.type}"
            )


async def test_a_refused_debit_leaves_no_trace_even_when_caught(db):
    """A use case may catch InsufficientFunds and go on; the refused key must stay unused."""
    from core.errors import InsufficientFunds as Refused

    def try_then_go_on(conn):
        try:
            ledger.transfer(conn, debit=ALICE, credit=BOB, asset="BTC", amount=5, code="tip", key="maybe")
        except Refused:
            pass
        try:
            ledger.reserve(
                conn, debit=ALICE, credit=BOB, asset="BTC", amount=5, code="hold", key="maybe-hold"
            )
        except Refused:
            pass
        return ledger.get_transfer(conn, key="maybe"), ledger.get_transfer(conn, key="maybe-hold")

    assert await db.write(try_then_go_on) == (None, None)
    await fund(db, ALICE, 5)
    t = await db.write(
        ledger.transfer, debit=ALICE, credit=BOB, asset="BTC", amount=5, code="tip", key="maybe"
    )
    assert not t.replayed and await bal(db, BOB) == 5


async def test_a_naive_time_is_refused_and_moves_nothing(db):
    from datetime import datetime

    await fund(db, ALICE, 100)
    for debit in (ALICE, WORLD):  # the one-statement path and the general one
        with pytest.raises(ValueError, match="naive"):
            await db.write(
                ledger.transfer,
                debit=debit,
                credit=BOB,
                asset="BTC",
                amount=5,
                code="x",
                key=f"naive:{debit}",
                now=datetime(2026, 11, 30, 12, 0),
            )
    assert (await bal(db, ALICE), await bal(db, BOB)) == (100, 0)
