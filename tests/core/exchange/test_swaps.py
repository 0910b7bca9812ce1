"""Swaps and sweeps through core on the real database: one transaction, all legs or none,
rounding in the platform's favour, limits, liquidity, expired and moved quotes, double confirms."""

import asyncio
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest

from core.errors import InsufficientFunds, UnknownAsset
from core.exchange import SwapError, confirm_quote, quote_swap, quote_sweep
from core.exchange.policy import Policy
from core.money import ledger
from core.money.accounts import FEES, LIQUIDITY, user_account
from core.platform.schema import utcnow
from tests.exchange import fund_liquidity, set_prices
from tests.money import available, fund

ALICE, BOB = 111, 222
POLICY = Policy(spread_bp=100, minimums={"BTC": 100, "DOGE": 1_000_000, "USDT": 10_000}, quote_ttl=30)


async def alice_with(db, amounts, user=ALICE):
    for asset, amount in amounts.items():
        await fund(db, user_account(user), amount, asset, key=f"{user}:{asset}")


async def test_swap_moves_three_legs_in_one_transaction(db):
    await set_prices(db)
    await fund_liquidity(db, {"USDT": 10_000_000_000})
    await alice_with(db, {"BTC": 100_000})  # 0.001 BTC = 60 USDT
    q = await db.write(quote_swap, ALICE, "btc", "USDT", 100_000, POLICY)
    leg = q.legs[0]
    assert (leg.amount_in, leg.amount_out, leg.spread) == (100_000, 59_400_000, 600_000)
    done = await db.write(confirm_quote, ALICE, q.id, POLICY)
    assert done.status == "done"
    assert await available(db, user_account(ALICE), "BTC") == 0
    assert await available(db, user_account(ALICE), "USDT") == 59_400_000
    assert await available(db, LIQUIDITY, "BTC") == 100_000
    assert await available(db, FEES, "USDT") == 600_000
    assert await available(db, LIQUIDITY, "USDT") == 10_000_000_000 - 60_000_000


async def test_confirming_twice_executes_once(db):
    await set_prices(db)
    await fund_liquidity(db, {"USDT": 10_000_000_000})
    await alice_with(db, {"BTC": 200_000})
    q = await db.write(quote_swap, ALICE, "BTC", "USDT", 100_000, POLICY)
    first, second = await asyncio.gather(
        db.write(confirm_quote, ALICE, q.id, POLICY), db.write(confirm_quote, ALICE, q.id, POLICY)
    )
    assert sorted([first.status, second.status]) == ["already", "done"]
    assert await available(db, user_account(ALICE), "BTC") == 100_000
    again = await db.write(confirm_quote, ALICE, q.id, POLICY)
    assert again.status == "already"
    assert await available(db, user_account(ALICE), "USDT") == 59_400_000


async def test_100_concurrent_swaps_against_liquidity_for_40_execute_40(db):
    await set_prices(db)
    await fund_liquidity(db, {"USDT": 40 * 60_000_000})  # each swap needs 60 USDT from liquidity
    users = [1000 + i for i in range(100)]
    for u in users:
        await alice_with(db, {"BTC": 100_000}, user=u)
    policy = replace(POLICY, spread_bp=0)
    quotes = [await db.write(quote_swap, u, "BTC", "USDT", 100_000, policy) for u in users]

    async def confirm(u, q):
        try:
            return (await db.write(confirm_quote, u, q.id, policy)).status
        except SwapError as err:
            return err.reason

    results = await asyncio.gather(*(confirm(u, q) for u, q in zip(users, quotes, strict=True)))
    assert results.count("done") == 40 and results.count("no_liquidity") == 60
    assert await available(db, LIQUIDITY, "USDT") == 0
    assert await available(db, LIQUIDITY, "BTC") == 40 * 100_000


async def test_an_expired_quote_gives_a_fresh_one(db):
    await set_prices(db)
    await fund_liquidity(db, {"USDT": 10_000_000_000})
    await alice_with(db, {"BTC": 100_000})
    t0 = utcnow()
    q = await db.write(quote_swap, ALICE, "BTC", "USDT", 100_000, POLICY, now=t0)
    out = await db.write(confirm_quote, ALICE, q.id, POLICY, now=t0 + timedelta(seconds=31))
    assert out.status == "requoted" and out.quote.id != q.id and out.previous.id == q.id
    assert await available(db, user_account(ALICE), "BTC") == 100_000  # nothing moved
    with pytest.raises(SwapError) as err:
        await db.write(confirm_quote, ALICE, q.id, POLICY, now=t0 + timedelta(seconds=32))
    assert err.value.reason == "quote_replaced"
    done = await db.write(confirm_quote, ALICE, out.quote.id, POLICY, now=t0 + timedelta(seconds=40))
    assert done.status == "done"


async def test_a_rate_that_moved_past_max_slippage_gives_a_fresh_quote(db):
    await set_prices(db)
    await fund_liquidity(db, {"USDT": 10_000_000_000})
    await alice_with(db, {"BTC": 100_000})
    q = await db.write(quote_swap, ALICE, "BTC", "USDT", 100_000, POLICY)
    await set_prices(db, {"BTC": "60500", "USDT": "1"})  # +0.83%: within 1%
    assert (await db.write(confirm_quote, ALICE, q.id, POLICY)).status == "done"
    await alice_with(db, {"BTC": 100_000}, user=BOB)
    q2 = await db.write(quote_swap, BOB, "BTC", "USDT", 100_000, POLICY)
    await set_prices(db, {"BTC": "59000", "USDT": "1"})  # -2.5%
    out = await db.write(confirm_quote, BOB, q2.id, POLICY)
    assert out.status == "requoted" and out.quote.legs[0].p_from == "59000"
    assert await available(db, user_account(BOB), "BTC") == 100_000


@pytest.mark.parametrize(
    "frm,to,amount,reason",
    [
        ("BTC", "BTC", 100_000, "same_asset"),
        ("RP", "BTC", 100_000, "not_swappable"),
        ("BTC", "RP", 100_000, "not_swappable"),
        ("BTC", "DOGE", 99, "below_min"),
        ("BTC", "DUST", 100_000, "no_price"),  # swap.rate.DUST not set
        ("BTC", "USDT", 0, "bad_amount"),
        ("BTC", "USDT", -5, "bad_amount"),
        ("LTC", "USDT", "all", "nothing_held"),
    ],
)
async def test_bad_swaps_are_refused(db, frm, to, amount, reason):
    await set_prices(db)
    await fund_liquidity(db, {"USDT": 10_000_000_000, "DOGE": 10**14})
    await alice_with(db, {"BTC": 100_000})
    with pytest.raises(SwapError) as err:
        await db.write(quote_swap, ALICE, frm, to, amount, POLICY)
    assert err.value.reason == reason


async def test_unknown_coin_and_more_than_held(db):
    await set_prices(db)
    await alice_with(db, {"BTC": 100_000})
    with pytest.raises(UnknownAsset):
        await db.write(quote_swap, ALICE, "XMR", "BTC", 1, POLICY)
    with pytest.raises(InsufficientFunds):
        await db.write(quote_swap, ALICE, "BTC", "USDT", 100_001, POLICY)


async def test_a_pair_without_a_fresh_price_pauses(db):
    await set_prices(db, now=utcnow() - timedelta(seconds=301))
    await alice_with(db, {"BTC": 100_000})
    with pytest.raises(SwapError) as err:
        await db.write(quote_swap, ALICE, "BTC", "USDT", 100_000, POLICY)
    assert err.value.reason == "no_price"


async def test_not_enough_liquidity_is_refused_at_quote_and_at_confirm(db):
    await set_prices(db)
    await alice_with(db, {"BTC": 200_000})
    with pytest.raises(SwapError) as err:
        await db.write(quote_swap, ALICE, "BTC", "USDT", 100_000, POLICY)
    assert err.value.reason == "no_liquidity"
    await fund_liquidity(db, {"USDT": 60_000_000})
    q1 = await db.write(quote_swap, ALICE, "BTC", "USDT", 100_000, POLICY)
    q2 = await db.write(quote_swap, ALICE, "BTC", "USDT", 100_000, POLICY)
    assert (await db.write(confirm_quote, ALICE, q1.id, POLICY)).status == "done"
    with pytest.raises(SwapError) as err:
        await db.write(confirm_quote, ALICE, q2.id, POLICY)
    assert err.value.reason == "no_liquidity"
    assert await available(db, user_account(ALICE), "BTC") == 100_000


async def test_daily_limit_per_user_and_coin(db):
    await set_prices(db)
    await fund_liquidity(db, {"USDT": 10_000_000_000})
    await alice_with(db, {"BTC": 300_000})
    policy = replace(POLICY, daily_limits={"BTC": 250_000})
    q1 = await db.write(quote_swap, ALICE, "BTC", "USDT", 100_000, policy)
    q2 = await db.write(quote_swap, ALICE, "BTC", "USDT", 100_000, policy)
    q3 = await db.write(quote_swap, ALICE, "BTC", "USDT", 100_000, policy)
    for q in (q1, q2):
        assert (await db.write(confirm_quote, ALICE, q.id, policy)).status == "done"
    with pytest.raises(SwapError) as err:
        await db.write(confirm_quote, ALICE, q3.id, policy)
    assert err.value.reason == "daily_limit" and err.value.params["left"] == 50_000
    with pytest.raises(SwapError):
        await db.write(quote_swap, ALICE, "BTC", "USDT", 100_000, policy)


async def test_another_users_quote_is_unknown(db):
    await set_prices(db)
    await fund_liquidity(db, {"USDT": 10_000_000_000})
    await alice_with(db, {"BTC": 100_000})
    q = await db.write(quote_swap, ALICE, "BTC", "USDT", 100_000, POLICY)
    for user, qid in ((BOB, q.id), (ALICE, q.id + 1000)):
        with pytest.raises(SwapError) as err:
            await db.write(confirm_quote, user, qid, POLICY)
        assert err.value.reason == "quote_unknown"
    assert await available(db, user_account(ALICE), "BTC") == 100_000


async def test_sweep_converts_every_other_coin_all_or_none(db):
    await set_prices(db)
    await fund_liquidity(db, {"DOGE": 10**15})
    policy = replace(POLICY, dust_rate=Decimal("0.001"), minimums={"LTC": 1_000_000})
    await alice_with(
        db, {"BTC": 100_000, "LTC": 10_000, "USDT": 5_000_000, "TRX": 4_000_000, "DUST": 10**8, "DOGE": 7}
    )
    q = await db.write(quote_sweep, ALICE, "doge", policy)
    assert [leg.frm for leg in q.active] == ["BTC", "USDT", "TRX", "DUST"]
    assert [(leg.frm, leg.skip) for leg in q.skipped] == [("LTC", "below_min")]
    # 60 USD + 5 USD + 1 USD + 0.001 USD, less 1%, in DOGE at 0.1
    assert q.total_out == 600 * 99 * 10**6 + 50 * 99 * 10**6 + 10 * 99 * 10**6 + 99 * 10**4
    done = await db.write(confirm_quote, ALICE, q.id, policy)
    assert done.status == "done"
    held = await db.read(ledger.balances, user_account(ALICE))
    assert {a: b.available for a, b in held.items() if b.available} == {
        "LTC": 10_000,
        "DOGE": 7 + q.total_out,
    }


async def test_a_sweep_leg_that_fails_moves_nothing(db):
    await set_prices(db)
    await fund_liquidity(db, {"DOGE": 10**15})
    await alice_with(db, {"BTC": 100_000, "USDT": 5_000_000})
    q = await db.write(quote_sweep, ALICE, "DOGE", POLICY)
    # Alice spends her USDT between preview and confirm: the whole sweep is refused
    await db.write(
        ledger.transfer,
        debit=user_account(ALICE),
        credit=FEES,
        asset="USDT",
        amount=1,
        code="fund",
        key="spend",
    )
    with pytest.raises(InsufficientFunds):
        await db.write(confirm_quote, ALICE, q.id, POLICY)
    assert await available(db, user_account(ALICE), "BTC") == 100_000
    assert await available(db, user_account(ALICE), "DOGE") == 0


async def test_nothing_to_sweep(db):
    await set_prices(db)
    await alice_with(db, {"DOGE": 10**8})
    with pytest.raises(SwapError) as err:
        await db.write(quote_sweep, ALICE, "DOGE", POLICY)
    assert err.value.reason == "nothing_to_sweep"


async def test_several_quotes_for_the_same_coins_cannot_spend_them_twice(db):
    """A script asks for many quotes of all it holds, then confirms them all at once."""
    await set_prices(db)
    await fund_liquidity(db, {"USDT": 10_000_000_000})
    await alice_with(db, {"BTC": 100_000})
    quotes = [await db.write(quote_swap, ALICE, "BTC", "USDT", "all", POLICY) for _ in range(5)]

    async def confirm(q):
        try:
            return (await db.write(confirm_quote, ALICE, q.id, POLICY)).status
        except InsufficientFunds:
            return "refused"

    results = await asyncio.gather(*(confirm(q) for q in quotes))
    assert sorted(results) == ["done"] + ["refused"] * 4
    assert await available(db, user_account(ALICE), "USDT") == 59_400_000


async def test_concurrent_confirms_respect_the_daily_limit(db):
    await set_prices(db)
    await fund_liquidity(db, {"USDT": 10_000_000_000})
    await alice_with(db, {"BTC": 1_000_000})
    policy = replace(POLICY, daily_limits={"BTC": 300_000})
    # six quotes of 0.001 BTC each fit today's 0.003 BTC limit when quoted: none is confirmed yet
    quotes = [await db.write(quote_swap, ALICE, "BTC", "USDT", 100_000, policy) for _ in range(6)]

    async def confirm(q):
        try:
            return (await db.write(confirm_quote, ALICE, q.id, policy)).status
        except SwapError as err:
            return err.reason

    results = await asyncio.gather(*(confirm(q) for q in quotes))
    assert results.count("done") == 3 and results.count("daily_limit") == 3
    assert await available(db, user_account(ALICE), "BTC") == 700_000


async def test_a_sweep_skips_a_coin_past_the_daily_limit(db):
    await set_prices(db)
    await fund_liquidity(db, {"DOGE": 10**15})
    policy = replace(POLICY, daily_limits={"USDT": 1_000_000})
    await alice_with(db, {"BTC": 100_000, "USDT": 5_000_000})
    q = await db.write(quote_sweep, ALICE, "DOGE", policy)
    assert [(leg.frm, leg.skip) for leg in q.legs] == [("BTC", None), ("USDT", "daily_limit")]


async def test_an_expired_or_moved_sweep_comes_back_fresh(db):
    await set_prices(db)
    await fund_liquidity(db, {"DOGE": 10**15})
    await alice_with(db, {"BTC": 100_000, "USDT": 5_000_000})
    t0 = utcnow()
    q = await db.write(quote_sweep, ALICE, "DOGE", POLICY, now=t0)
    out = await db.write(confirm_quote, ALICE, q.id, POLICY, now=t0 + timedelta(seconds=30))
    assert out.status == "requoted" and out.quote.kind == "sweep" and len(out.quote.active) == 2
    await set_prices(db, {"USDT": "1", "DOGE": "0.12"})  # DOGE +20%: every leg moved
    moved = await db.write(confirm_quote, ALICE, out.quote.id, POLICY)
    assert moved.status == "requoted" and moved.quote.legs[0].p_to == "0.12"
    assert (await db.write(confirm_quote, ALICE, moved.quote.id, POLICY)).status == "done"
    assert await available(db, user_account(ALICE), "BTC") == 0
