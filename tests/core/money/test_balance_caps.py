"""Every balance is capped, not only every transfer: no account holds more than MAX_BALANCE
and the world (what the operator put in) owes no more than that, so no sum of balances or
entries can overflow a BIGINT, and a transfer that would pass a cap is refused, leaving no
trace, on both engines and on every path of the ledger."""

import sqlite3

import pytest
from sqlalchemy import delete, insert, update

from core.errors import BalanceLimit
from core.money import ledger
from core.money.accounts import TREASURY, WITHDRAWALS_PENDING, WORLD, user_account
from core.money.amounts import MAX_AMOUNT, MAX_BALANCE
from core.platform.db import Database
from core.platform.schema import accounts, entries, transfers, utcnow

ALICE = user_account(1)


def test_a_balance_may_hold_one_maximal_transfer_and_sums_stay_inside_bigint():
    assert MAX_BALANCE >= MAX_AMOUNT
    # Only world is negative, and it is bounded: every other balance and pending amount sums
    # to at most MAX_BALANCE, so two of those sums (the checks add them) fit a BIGINT.
    assert 3 * MAX_BALANCE < 2**63 - 1


async def deposit(db, amount, key, asset="BTC"):
    return await db.write(
        ledger.transfer, debit=WORLD, credit=TREASURY, asset=asset, amount=amount, code="deposit", key=key
    )


async def test_the_world_owes_at_most_max_balance(db):
    await deposit(db, MAX_AMOUNT, "d1")
    with pytest.raises(BalanceLimit) as refused:
        await deposit(db, 1, "d2")
    assert refused.value.params == {"account": WORLD, "asset": "BTC", "limit": MAX_BALANCE}
    with pytest.raises(BalanceLimit):  # two-phase from world too
        await db.write(
            ledger.reserve, debit=WORLD, credit=ALICE, asset="BTC", amount=1, code="incoming", key="r1"
        )
    assert await db.read(ledger.get_transfer, key="d2") is None
    assert await db.read(ledger.get_transfer, key="r1") is None
    assert (await db.read(ledger.balance, WORLD, "BTC")).balance == -MAX_BALANCE
    assert (await db.read(ledger.balance, TREASURY, "BTC")).balance == MAX_BALANCE
    await deposit(db, MAX_AMOUNT, "d3", asset="DOGE")  # each asset has its own cap


async def test_money_coming_back_makes_room_again(db):
    await deposit(db, MAX_AMOUNT, "d1")
    await db.write(
        ledger.transfer, debit=TREASURY, credit=WORLD, asset="BTC", amount=10, code="paid_out", key="out"
    )
    await deposit(db, 10, "d2")
    with pytest.raises(BalanceLimit):
        await deposit(db, 1, "d3")


def put_legacy_money(conn, owner: str, amount: int, key: str) -> None:
    """What a database from before the caps may hold: a deposit above the cap (no overflow yet)."""
    now = utcnow()
    tid = conn.execute(
        insert(transfers)
        .values(key=key, kind="posted", debit=WORLD, credit=owner, asset="BTC", amount=amount, code="legacy", created_at=now)
        .returning(transfers.c.id)
    ).scalar_one()
    for who, signed in ((WORLD, -amount), (owner, amount)):
        changed = conn.execute(
            update(accounts)
            .where(accounts.c.owner == who, accounts.c.asset == "BTC")
            .values(balance=accounts.c.balance + signed)
        ).rowcount
        if not changed:
            conn.execute(insert(accounts).values(owner=who, asset="BTC", balance=signed, created_at=now))
        after = conn.execute(
            accounts.select().where(accounts.c.owner == who, accounts.c.asset == "BTC")
        ).one().balance
        conn.execute(insert(entries).values(transfer_id=tid, owner=who, asset="BTC", amount=signed, balance_after=after))


def take_legacy_money_back(conn, keys: list[str]) -> None:
    for key in keys:
        t = conn.execute(transfers.select().where(transfers.c.key == key)).one()
        conn.execute(delete(entries).where(entries.c.transfer_id == t.id))
        conn.execute(delete(transfers).where(transfers.c.id == t.id))
        for who, signed in ((WORLD, t.amount), (t.credit, -t.amount)):
            conn.execute(
                update(accounts)
                .where(accounts.c.owner == who, accounts.c.asset == "BTC")
                .values(balance=accounts.c.balance + signed)
            )


async def test_a_credit_over_the_cap_is_refused_on_every_path_and_leaves_no_trace(db):
    """A treasury above the cap (from before it existed) takes no more money, whichever way it
    would come: a posted transfer (the one-statement path of each engine), a reserve, a deposit;
    even a use case that catches the refusal and goes on leaves nothing behind."""
    await db.write(put_legacy_money, TREASURY, 3 * MAX_BALANCE, "legacy:treasury")
    await db.write(put_legacy_money, ALICE, 1_000, "legacy:alice")
    problems = await db.read(ledger.check_invariants)
    assert any("treasury/BTC" in p and "cap" in p for p in problems), problems

    def try_each_then_go_on(conn):
        refused = []
        for attempt in (
            lambda: ledger.transfer(
                conn, debit=ALICE, credit=TREASURY, asset="BTC", amount=5, code="x", key="posted"
            ),
            lambda: ledger.reserve(
                conn, debit=ALICE, credit=TREASURY, asset="BTC", amount=5, code="x", key="reserve"
            ),
            lambda: ledger.transfer(
                conn, debit=WORLD, credit=TREASURY, asset="BTC", amount=5, code="x", key="world"
            ),
        ):
            try:
                attempt()
            except BalanceLimit as e:
                refused.append(e.params["account"])
        return refused, [ledger.get_transfer(conn, key=k) for k in ("posted", "reserve", "world")]

    refused, left = await db.write(try_each_then_go_on)
    assert refused == [TREASURY, TREASURY, WORLD] and left == [None, None, None]
    alice = await db.read(ledger.balance, ALICE, "BTC")
    assert (alice.balance, alice.held) == (1_000, 0)
    # The refused keys stay unused: once there is room, the same transfer goes through.
    await db.write(take_legacy_money_back, ["legacy:treasury"])
    t = await db.write(ledger.transfer, debit=ALICE, credit=TREASURY, asset="BTC", amount=5, code="x", key="posted")
    assert not t.replayed and await db.read(ledger.check_invariants) == []


async def test_a_pending_credit_keeps_room_for_itself(db):
    """Amounts on their way in count against the cap, so posting them can never pass it."""
    await deposit(db, MAX_AMOUNT, "d1")
    await db.write(ledger.transfer, debit=TREASURY, credit=ALICE, asset="BTC", amount=MAX_AMOUNT, code="x", key="all")
    p = await db.write(
        ledger.reserve, debit=ALICE, credit=WITHDRAWALS_PENDING, asset="BTC", amount=MAX_AMOUNT, code="w", key="w"
    )
    await db.write(ledger.post_pending, p.id, key="w:post")
    assert (await db.read(ledger.balance, WITHDRAWALS_PENDING, "BTC")).balance == MAX_BALANCE


async def test_the_ledger_check_reports_an_overflow_stored_by_old_code_instead_of_crashing(tmp_path, migrated_template):
    """SQLite turned a balance past a BIGINT into a float and SUM() of the entries failed with
    'integer overflow', so the hourly check crashed instead of telling the admins."""
    import shutil

    from aiogram import Bot

    from jobs import ledger_check
    from tests.handlers.harness import BOT_TOKEN, RecordingSession

    if not migrated_template.endswith(".db"):
        pytest.skip("an overflow can only be stored by SQLite")
    path = tmp_path / "overflowed.db"
    shutil.copyfile(migrated_template, path)
    with sqlite3.connect(path) as conn:  # what ten deposits of 10**18 left behind
        for i in range(10):
            tid = conn.execute(
                "INSERT INTO transfers (key, kind, debit, credit, asset, amount, code, meta, created_at)"
                " VALUES (?, 'posted', 'world', 'treasury', 'BTC', ?, 'deposit', '{}', '2026-12-01 00:00:00.000000')",
                (f"dep{i}", 10**18),
            ).lastrowid
            conn.executemany(
                "INSERT INTO entries (transfer_id, owner, asset, amount, balance_after) VALUES (?, ?, 'BTC', ?, ?)",
                [(tid, "world", -(10**18), -1e18 * (i + 1)), (tid, "treasury", 10**18, 1e18 * (i + 1))],
            )
        conn.executemany(
            "INSERT INTO accounts (owner, asset, balance, debits_pending, credits_pending, created_at)"
            " VALUES (?, 'BTC', ?, 0, 0, '2026-12-01 00:00:00.000000')",
            [("world", -1e19), ("treasury", 1e19)],
        )
    db = Database(f"sqlite+aiosqlite:///{path}")
    await db.start()
    session = RecordingSession()
    try:
        problems = await ledger_check.run(db, Bot(BOT_TOKEN, session=session), frozenset({9001}))
    finally:
        await db.close()
    assert any("treasury/BTC" in p and "not a whole number" in p for p in problems), problems
    assert any("world/BTC" in p and "cap" in p for p in problems), problems
    alert = [s for s in session.sent if s.chat_id == 9001]
    assert alert and "Ledger check failed" in alert[0].text
