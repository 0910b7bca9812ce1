"""The set-based crash settlement (core.play.crash_settle) and the bulk void it uses
(core.money.bulk.void_pending_bulk): the same transfers, keys and balances as settling each bet alone."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.errors import TransferRejected
from core.money import HOUSE, Code, bulk, ledger, user_account
from core.platform.schema import utcnow
from core.play import crash, crash_chain
from tests.core.play.test_crash import KEY, find_round, join
from tests.play import balance, setup_money

START = 100_000


async def test_a_round_settles_every_bet_once_with_the_keys_of_a_single_settlement(db):
    """Winners (auto at or below the bust), losers (auto above it, or none) and a bet cashed out
    by hand before the bust: each gets exactly the transfers a settlement of one bet makes."""
    chains, now = crash.ChainCache(KEY), utcnow()
    players = range(1, 13)
    await setup_money(db, {u: START for u in players})
    rnd = await find_round(db, chains, now, lambda cp: 160 <= cp <= 5000)
    autos = {u: (None if u % 4 == 0 else (101 + u * 7 if u % 2 else rnd.crash_point + u)) for u in players}
    bets = {u: (await join(db, u, now, amount=1_000 * u, auto=autos[u]))[0] for u in players}
    rnd = await db.write(crash.start_round, rnd.id, now=now)
    at = now + timedelta(milliseconds=crash_chain.time_to_reach(150))
    by_hand = await db.write(crash.cash_out, user_id=12, bet_id=bets[12].id, now=at)
    assert by_hand.status == "won"
    house_before = await db.read(ledger.balance, HOUSE, "DOGE")
    late = rnd.bust_at() + timedelta(seconds=1)
    settled = {b.user_id: b for b in await db.write(crash.crash_round, rnd.id, "ab" * 32, now=late)}
    paid = 0
    for u in players:
        b, amount, auto = settled[u], 1_000 * u, autos[u]
        ref = f"crash:{rnd.id}:{u}"
        if u == 12:
            assert b.status == "won" and b.payout == by_hand.payout
            expect = by_hand.payout
        elif auto is not None and auto <= rnd.crash_point:
            expect = amount * auto // 100
            assert (b.status, b.cashout, b.payout) == ("won", auto, expect)
            win = await db.read(ledger.get_transfer, key=f"{ref}:win")
            assert (win.debit, win.credit, win.amount, win.code) == (
                HOUSE,
                user_account(u),
                expect,
                Code.CRASH_WIN,
            )
            assert win.meta == {"round": rnd.id, "x": auto}
            paid += expect
        else:
            expect = 0
            assert (b.status, b.cashout, b.payout) == ("lost", None, 0)
            assert await db.read(ledger.get_transfer, key=f"{ref}:win") is None
        assert await balance(db, user_account(u)) == START - amount + expect
        post = await db.read(ledger.get_transfer, key=f"{ref}:post")
        assert (post.kind, post.amount, post.debit, post.credit) == ("post", amount, user_account(u), HOUSE)
        if b.cover:
            void = await db.read(ledger.get_transfer, key=f"{ref}:cover:void")
            assert (void.kind, void.amount, void.debit, void.credit) == (
                "void",
                b.cover,
                HOUSE,
                user_account(u),
            )
        acc = await db.read(ledger.balance, user_account(u), "DOGE")
        assert acc.held == 0
    house = await db.read(ledger.balance, HOUSE, "DOGE")
    assert house.held == 0  # every cover released
    staked_open = sum(1_000 * u for u in players if u != 12)
    assert house.balance == house_before.balance + staked_open - paid
    again = await db.write(crash.crash_round, rnd.id, "ab" * 32, now=late)  # settling again moves nothing
    assert [(b.id, b.status, b.payout) for b in again] == [
        (settled[u].id, settled[u].status, settled[u].payout)
        for u in sorted(settled, key=lambda u: settled[u].id)
    ]
    assert (await db.read(ledger.balance, HOUSE, "DOGE")) == house


async def test_bulk_voids_follow_the_rules_of_one_void(db):
    """A replay under the same key moves nothing; another key, a posted hold or a transfer that
    is not pending is refused, and a refusal changes nothing."""
    await setup_money(db, {1: START, 2: START})

    def holds(conn):
        return [
            ledger.reserve(
                conn,
                debit=user_account(u),
                credit=HOUSE,
                asset="DOGE",
                amount=100 * u,
                code="crash_bet",
                key=f"h:{u}",
            ).id
            for u in (1, 2)
        ]

    h1, h2 = await db.write(holds)
    got = await db.write(bulk.void_pending_bulk, [(h1, "v:1"), (h2, "v:2")])
    assert set(got.ids) == {"v:1", "v:2"} and got.posted == 2
    assert await balance(db, user_account(1)) == START and await balance(db, user_account(2)) == START
    house = await db.read(ledger.balance, HOUSE, "DOGE")
    assert house.held == 0
    again = await db.write(bulk.void_pending_bulk, [(h1, "v:1")])  # a replay
    assert again.ids == {"v:1": got.ids["v:1"]} and again.replayed == 1
    assert await db.read(ledger.balance, HOUSE, "DOGE") == house
    with pytest.raises(TransferRejected) as e:
        await db.write(bulk.void_pending_bulk, [(h1, "v:other")])
    assert e.value.reason == "already_resolved"

    def posted(conn):
        t = ledger.reserve(
            conn, debit=user_account(1), credit=HOUSE, asset="DOGE", amount=7, code="crash_bet", key="h:3"
        )
        ledger.post_pending(conn, t.id, key="p:3")
        return t.id

    h3 = await db.write(posted)
    with pytest.raises(TransferRejected) as e:
        await db.write(bulk.void_pending_bulk, [(h3, "v:3")])
    assert e.value.reason == "already_resolved"
    plain = (await db.read(ledger.get_transfer, key="p:3")).id
    with pytest.raises(TransferRejected) as e:
        await db.write(bulk.void_pending_bulk, [(plain, "v:4")])
    assert e.value.reason == "not_pending"
    assert await balance(db, user_account(1)) == START - 7


async def test_a_refused_bulk_void_leaves_nothing_behind_even_when_caught(db):
    """One bad id in a batch: the refusal comes before any hold is released, and the voids the
    batch had written are taken back, so a caller that catches it may go on."""
    await setup_money(db, {1: START})

    def go(conn):
        good = ledger.reserve(
            conn, debit=user_account(1), credit=HOUSE, asset="DOGE", amount=50, code="crash_bet", key="h:g"
        )
        bad = ledger.transfer(
            conn, debit=user_account(1), credit=HOUSE, asset="DOGE", amount=5, code="bet", key="t:b"
        )
        try:
            bulk.void_pending_bulk(conn, [(good.id, "v:g"), (bad.id, "v:b")])
        except TransferRejected as e:
            reason = e.reason
        return reason, ledger.get_transfer(conn, key="v:g"), ledger.balance(conn, user_account(1), "DOGE")

    reason, written, acc = await db.write(go)
    assert reason == "not_pending" and written is None
    assert (acc.balance, acc.held) == (START - 5, 50)


@pytest.mark.parametrize(
    ("amount", "x"),
    [(1, 101), (99, 150), (12_345, 777), (10**18 - 1, 899), (10**12 - 1, 99_999_999), (987_654_321, 101)],
)
async def test_the_payout_is_computed_in_sql_exactly_and_without_overflow(db, amount, x):
    """``amount * x // 100`` as Python computes it, for amounts and multipliers whose plain
    product would pass a BIGINT."""
    from sqlalchemy import delete, insert, select

    from core.play.crash_settle import _win
    from core.play.tables import crash_bets

    def go(conn):
        row = dict(
            round_id=0,
            user_id=1,
            asset="DOGE",
            amount=amount,
            auto_cashout=x,
            status="open",
            payout=0,
            reserve_id=0,
            cover=0,
            idem="w",
            chat_id=1,
            locale="en",
            created_at=utcnow(),
        )
        bet = conn.execute(insert(crash_bets).values(row).returning(crash_bets.c.id)).scalar_one()
        got = conn.execute(select(_win).where(crash_bets.c.id == bet)).scalar_one()
        conn.execute(delete(crash_bets).where(crash_bets.c.id == bet))
        return got

    assert await db.write(go) == amount * x // 100
