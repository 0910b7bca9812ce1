"""Reward points by source, boosts that expire between claims, levels, and converting points."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.earn import faucet
from core.loyalty import boosts, levels, points
from core.loyalty.errors import LoyaltyError
from core.loyalty.points import Rules
from core.money import ledger
from core.money.accounts import FAUCET_POOL, MARKETING, WORLD, user_account
from core.platform.params import Params
from tests.money import available, fund

T0 = datetime(2026, 3, 1, 12, 0, 5, tzinfo=UTC)
U = 7


def rules(**kw) -> Rules:
    base = points.rules_from(Params(env={}))
    fields = {f: getattr(base, f) for f in base.__slots__}
    fields.update(kw)
    return Rules(**fields)


async def give_points(db, n: int, user: int = U, key: str = "g") -> None:
    await db.write(points.earn, user, "daily", n, key=key, now=T0)


async def claim(db, s: faucet.Settings, now: datetime) -> faucet.Outcome:
    ch = await db.write(faucet.new_challenge, U, "BTC", s, now=now)
    right = ch.options.index(ch.target)
    return await db.write(faucet.answer_challenge, U, ch.id, right, lambda a: s, now=now)


async def test_a_boost_that_expires_between_two_claims(db):
    await fund(db, FAUCET_POOL, 10_000)
    await fund(db, MARKETING, 10_000, key="m")
    r = rules(boosts=boosts.parse_choices("50%/1h/100"), levels=levels.parse_levels(""))
    s = faucet.Settings(reward=100, interval=3600, loyalty=r)
    await give_points(db, 150)
    boost = await db.write(boosts.buy, r.boosts, U, 1, "new", key="b1", now=T0)
    assert boost.until == T0 + timedelta(hours=1)
    first = await claim(db, s, T0 + timedelta(minutes=5))
    assert (first.amount, first.bonus, first.points) == (100, 50, 10)
    t = await db.read(
        ledger.get_transfer, key=f"boost:{faucet.claim_key(U, 'BTC', faucet.window_of(T0, 3600))}"
    )
    assert (t.debit, t.credit, t.code, t.amount) == (MARKETING, user_account(U), "boost_bonus", 50)
    second = await claim(db, s, T0 + timedelta(hours=1, minutes=5))  # the boost ended at 13:00:05
    assert (second.amount, second.bonus) == (100, 0)
    assert await available(db, user_account(U)) == 250
    assert await available(db, user_account(U), "RP") == 150 - 100 + 10 + 10


async def test_one_boost_at_a_time_extended_or_replaced_as_chosen(db):
    r = rules(boosts=boosts.parse_choices("25%/2h/10,50%/1h/10"))
    await give_points(db, 100)
    await db.write(boosts.buy, r.boosts, U, 1, "new", key="a", now=T0)
    with pytest.raises(LoyaltyError) as err:
        await db.write(boosts.buy, r.boosts, U, 2, "new", key="b", now=T0)
    assert err.value.reason == "boost_running"
    with pytest.raises(LoyaltyError) as err:
        await db.write(boosts.buy, r.boosts, U, 2, "extend", key="b", now=T0)
    assert err.value.reason == "boost_mismatch"
    ext = await db.write(boosts.buy, r.boosts, U, 1, "extend", key="c", now=T0 + timedelta(hours=1))
    assert (ext.bp, ext.until) == (2500, T0 + timedelta(hours=4))
    rep = await db.write(boosts.buy, r.boosts, U, 2, "replace", key="d", now=T0 + timedelta(hours=1))
    assert (rep.bp, rep.until) == (5000, T0 + timedelta(hours=2))
    again = await db.write(boosts.buy, r.boosts, U, 2, "replace", key="d", now=T0 + timedelta(hours=1))
    assert again == rep  # a replayed purchase charges nothing again
    assert await available(db, user_account(U), "RP") == 70
    for number in (0, 3, 99):
        with pytest.raises(LoyaltyError) as err:
            await db.write(boosts.buy, r.boosts, U, number, "replace", key=f"x{number}", now=T0)
        assert err.value.reason == "unknown_boost"
    poor = 8
    with pytest.raises(LoyaltyError) as err:
        await db.write(boosts.buy, r.boosts, poor, 1, "new", key="p", now=T0)
    assert err.value.reason == "not_enough_points"


async def test_levels_from_lifetime_points_give_a_faucet_bonus(db):
    await fund(db, FAUCET_POOL, 10_000)
    await fund(db, MARKETING, 10_000, key="m")
    r = rules(levels=levels.parse_levels("100:10%,1000:20%"), per_source={"faucet": 0, "ad": 0, "offer": 0})
    s = faucet.Settings(reward=100, interval=3600, loyalty=r)
    await give_points(db, 150)
    await db.write(points.earn, U, "daily", 1, key="spent-later", now=T0)
    await db.write(  # spending points never lowers the level
        ledger.transfer,
        debit=user_account(U),
        credit=WORLD,
        asset="RP",
        amount=151,
        code="rp_boost",
        key="spend",
    )
    out = await claim(db, s, T0)
    assert (out.amount, out.bonus) == (100, 10)
    p = levels.progress(r.levels, await db.read(points.lifetime_points, U))
    assert (p.level.number, p.next.number, p.to_next) == (1, 2, 849)
    assert await db.read(points.earned_by_source, U) == {"daily": 151}


async def test_wager_points_per_whole_coin_and_rewards_counted_once(db):
    r = rules(per_wager={"BTC": 1000, "DOGE": 1})
    got = await db.write(points.reward_paid, r, U, "wager", "BTC", 250_000, "bet:7:1", T0)  # 0.0025 BTC
    assert got.points == 2
    again = await db.write(points.reward_paid, r, U, "wager", "BTC", 250_000, "bet:7:1", T0)
    assert again.points == 2 and await available(db, user_account(U), "RP") == 2
    assert (await db.write(points.reward_paid, r, U, "ad", "BTC", 5, "ad:1", T0)).points == 5
    with pytest.raises(ValueError):
        await db.write(points.reward_paid, r, U, "lottery", "BTC", 5, "l:1", T0)


async def test_convert_pays_from_marketing_at_the_quoted_rate(db):
    await fund(db, MARKETING, 10_000, "DOGE", key="m")
    r = rules(rates={"DOGE": 3, "BTC": 0})
    await give_points(db, 500)
    q = points.quote(r, 400, "doge")
    assert (q.asset, q.amount) == ("DOGE", 1200)
    done = await db.write(points.convert, r, U, 400, "DOGE", 1200, key="c1", now=T0)
    assert done == q
    assert await db.write(points.convert, r, U, 400, "DOGE", 1200, key="c1", now=T0) == q  # replayed confirm
    assert await available(db, user_account(U), "DOGE") == 1200
    assert await available(db, user_account(U), "RP") == 100
    assert await available(db, MARKETING, "DOGE") == 10_000 - 1200


@pytest.mark.parametrize(
    ("pts", "asset", "expected", "reason"),
    [
        (101, "DOGE", 303, "not_enough_points"),
        (0, "DOGE", 0, "bad_points"),
        (-5, "DOGE", 0, "bad_points"),
        (50, "BTC", 0, "convert_off"),
        (50, "DOGE", 151, "quote_changed"),
        (5000, "DOGE", 15000, "not_enough_points"),
    ],
)
async def test_convert_refusals_move_nothing(db, pts, asset, expected, reason):
    await fund(db, MARKETING, 10_000, "DOGE", key="m")
    await give_points(db, 100)
    r = rules(rates={"DOGE": 3, "BTC": 0})
    with pytest.raises(LoyaltyError) as err:
        await db.write(points.convert, r, U, pts, asset, expected, key="c", now=T0)
    assert err.value.reason == reason
    assert await available(db, user_account(U), "RP") == 100
    assert await available(db, MARKETING, "DOGE") == 10_000


async def test_unknown_coin_and_points_are_not_coins(db):
    from core.errors import UnknownAsset
    from core.money.assets import get_asset

    with pytest.raises(UnknownAsset):
        points.quote(rules(), 10, "XYZ")
    with pytest.raises(UnknownAsset):  # RP is never a coin: no withdrawal, game or conversion into it
        get_asset("RP")


async def test_bets_earn_points_per_whole_coin_wagered(db):
    import dataclasses

    from core.play import games
    from tests.play import RULES, setup_money

    await setup_money(db, {U: 10 * 10**8})
    r = dataclasses.replace(RULES, max_bet=10**9, loyalty=rules(per_wager={"DOGE": 3}))
    for i, stake in enumerate((10**8, 2 * 10**8, 10**7)):  # 1, 2 and 0.1 DOGE
        await db.write(
            games.place_bet,
            user_id=U,
            game="dice",
            asset="DOGE",
            amount=stake,
            params={"target": 5050, "direction": "over"},
            rules=r,
            idem=f"m:{i}",
            secret_key="k" * 40,
        )
    assert await available(db, user_account(U), "RP") == 3 + 6  # 0.1 DOGE earns 0 (rounded down)
    acts = await db.read(
        lambda c: c.execute(__import__("sqlalchemy").text("SELECT actions FROM loyalty_activity")).scalar()
    )
    assert acts == 2  # a bet too small to earn points is no activity either
