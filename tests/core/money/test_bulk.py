"""The bulk ledger path: set-based batches keep every rule of single transfers (both engines)."""

from __future__ import annotations

import pytest

from core.errors import IdempotencyConflict, InsufficientFunds, TransferRejected
from core.money import bulk, ledger
from core.money.accounts import MARKETING, WORLD, user_account
from core.money.ledger import Move
from tests.money import available, fund


def moves(n: int, *, debit: str = MARKETING, amount: int = 7, tag: str = "d") -> list[Move]:
    return [Move(debit, user_account(i + 1), "BTC", amount + i % 3, "bonus", f"{tag}:{i}") for i in range(n)]


async def test_a_batch_pays_everyone_once_and_replays_after(db):
    await fund(db, MARKETING, 100_000)
    batch = moves(2500)
    total = sum(m.amount for m in batch)
    got = await db.write(bulk.transfer_bulk, batch)
    assert (got.posted, got.replayed, len(got.ids)) == (2500, 0, 2500)
    assert await available(db, MARKETING) == 100_000 - total
    assert await available(db, user_account(3)) == 7 + 2
    again = await db.write(bulk.transfer_bulk, batch)
    assert (again.posted, again.replayed) == (0, 2500)
    assert again.ids == got.ids
    assert await available(db, MARKETING) == 100_000 - total
    one = await db.read(ledger.get_transfer, key="d:2")
    assert (one.debit, one.credit, one.amount, one.kind) == (MARKETING, user_account(3), 9, "posted")


async def test_entries_carry_the_running_balance(db):
    await fund(db, MARKETING, 1_000)
    await fund(db, user_account(1), 4, key="u1")
    batch = [Move(MARKETING, user_account(1), "BTC", a, "bonus", f"k{a}") for a in (5, 6, 7)]
    batch.append(Move(user_account(1), user_account(2), "BTC", 3, "bonus", "k-pass"))
    await db.write(bulk.transfer_bulk, batch)
    hist, _ = await db.read(ledger.history, user_account(1), limit=10)
    # oldest first: the funding, the credits of 5, 6, 7, then the debit of 3, each with its balance after
    assert [(m.amount, m.balance_after) for m in reversed(hist)] == [
        (4, 4),
        (5, 9),
        (6, 15),
        (7, 22),
        (-3, 19),
    ]
    # a batch's debits are paid from the balances before it: its own credits never fund them
    with pytest.raises(InsufficientFunds):
        await db.write(
            bulk.transfer_bulk,
            [
                Move(MARKETING, user_account(3), "BTC", 5, "bonus", "n1"),
                Move(user_account(3), user_account(2), "BTC", 5, "bonus", "n2"),
            ],
        )


async def test_a_batch_the_payer_cannot_cover_moves_nothing_and_keeps_keys_free(db):
    await fund(db, MARKETING, 100)
    batch = moves(20, amount=7)  # 7, 8, 9, ... more than 100 in all
    with pytest.raises(InsufficientFunds):
        await db.write(bulk.transfer_bulk, batch)
    assert await available(db, MARKETING) == 100
    assert await db.read(ledger.get_transfer, key="d:0") is None

    def caught(conn):  # a caller that catches the refusal and goes on finds nothing of it kept
        try:
            bulk.transfer_bulk(conn, batch)
        except InsufficientFunds:
            pass
        return ledger.get_transfer(conn, key="d:0"), ledger.balance(conn, MARKETING, "BTC").available

    assert await db.write(caught) == (None, 100)
    assert (await db.write(bulk.transfer_bulk, batch[:5])).posted == 5


async def test_world_may_pay_and_a_changed_key_is_a_conflict(db):
    batch = [Move(WORLD, user_account(i + 1), "RP", 10, "rp_daily", f"rp:{i}") for i in range(50)]
    await db.write(bulk.transfer_bulk, batch)
    assert (await db.read(ledger.balance, WORLD, "RP")).balance == -500
    changed = [Move(WORLD, user_account(1), "RP", 11, "rp_daily", "rp:0")]
    with pytest.raises(IdempotencyConflict):
        await db.write(bulk.transfer_bulk, changed)
    with pytest.raises(IdempotencyConflict):  # the same key twice in one batch, with other fields
        await db.write(bulk.transfer_bulk, [batch[0], changed[0]])


@pytest.mark.parametrize(
    "bad",
    [
        Move(MARKETING, user_account(1), "BTC", 0, "bonus", "z"),
        Move(MARKETING, user_account(1), "BTC", -3, "bonus", "z"),
        Move(MARKETING, user_account(1), "XXX", 3, "bonus", "z"),
        Move(MARKETING, MARKETING, "BTC", 3, "bonus", "z"),
        Move(MARKETING, user_account(1), "BTC", 3, "bonus", ""),
    ],
)
async def test_bad_moves_are_refused_before_anything_is_written(db, bad):
    await fund(db, MARKETING, 100)
    with pytest.raises((TransferRejected, Exception)):
        await db.write(bulk.transfer_bulk, [*moves(3), bad])
    assert await available(db, MARKETING) == 100


async def test_posting_many_pending_transfers(db):
    await fund(db, MARKETING, 1_000)
    pend = []
    for i in range(30):
        t = await db.write(
            ledger.reserve,
            debit=MARKETING,
            credit=user_account(i + 1),
            asset="BTC",
            amount=10,
            code="bonus",
            key=f"p:{i}",
        )
        pend.append(t.id)
    assert await available(db, MARKETING) == 700
    posts = [(pid, f"post:{pid}") for pid in pend]
    got = await db.write(bulk.post_pending_bulk, posts)
    assert got.posted == 30
    assert await available(db, user_account(5)) == 10
    assert (await db.read(ledger.balance, MARKETING, "BTC")).balance == 700
    assert (await db.write(bulk.post_pending_bulk, posts)).replayed == 30
    with pytest.raises(TransferRejected):  # resolved before under another key
        await db.write(bulk.post_pending_bulk, [(pend[0], "other")])
    with pytest.raises(TransferRejected):  # not a pending transfer
        await db.write(bulk.post_pending_bulk, [(got.ids[f"post:{pend[0]}"], "x")])
    single = await db.write(
        ledger.reserve,
        debit=MARKETING,
        credit=user_account(99),
        asset="BTC",
        amount=1,
        code="bonus",
        key="p:x",
    )
    await db.write(ledger.void_pending, single.id, key="void:x")
    with pytest.raises(TransferRejected):  # voided: never posted after
        await db.write(bulk.post_pending_bulk, [(single.id, "post:x")])


async def test_voiding_many_pending_transfers_releases_the_holds_as_one_by_one_does(db):
    await fund(db, MARKETING, 1_000)
    pend = []
    for i in range(20):
        t = await db.write(
            ledger.reserve,
            debit=MARKETING,
            credit=user_account(i + 1),
            asset="BTC",
            amount=10,
            code="bonus",
            key=f"p:{i}",
        )
        pend.append(t.id)
    voids = [(pid, f"void:{pid}") for pid in pend[:15]]
    got = await db.write(bulk.void_pending_bulk, voids)
    assert got.posted == 15
    assert await available(db, MARKETING) == 950  # 5 still held
    assert (await db.read(ledger.balance, MARKETING, "BTC")).balance == 1_000  # nothing moved
    assert await available(db, user_account(1)) == 0
    assert (await db.write(bulk.void_pending_bulk, voids)).replayed == 15  # a replay moves nothing
    assert await available(db, MARKETING) == 950
    with pytest.raises(TransferRejected):  # voided: never posted after, nor voided under another key
        await db.write(bulk.post_pending_bulk, [(pend[0], "post:x")])
    with pytest.raises(TransferRejected):
        await db.write(bulk.void_pending_bulk, [(pend[0], "void:other")])
    posted = await db.write(ledger.post_pending, pend[15], key="post:one")
    with pytest.raises(TransferRejected):  # posted one by one: never voided after
        await db.write(bulk.void_pending_bulk, [(pend[15], "void:late")])
    with pytest.raises(TransferRejected):  # not a pending transfer
        await db.write(bulk.void_pending_bulk, [(posted.id, "void:post")])
    assert await available(db, MARKETING) == 950  # 4 still held, one posted out
