"""/daily, /convert, /boost, /profile, /stake and /unstake through the real dispatcher."""

from __future__ import annotations

from core.loyalty import points
from core.money.accounts import MARKETING, user_account
from core.platform.schema import utcnow
from tests.handlers.harness import texts
from tests.money import available, fund

ALICE = 111
COIN = 10**8


async def give_points(db, n: int, user: int = ALICE) -> None:
    await db.write(points.earn, user, "daily", n, key=f"gift:{user}:{n}", now=utcnow())


async def test_daily_pays_once_a_day_and_has_a_menu_button(tg, db):
    alice = tg.person(ALICE)
    menu = await alice.send("/start")
    assert "🎁 Daily bonus" in [b[0] for b in menu[0].buttons()]
    out = texts(await alice.send("/daily"))
    assert "Check-in done: +10 RP. Streak: 1 day(s)." in out
    again = texts(await alice.send("/daily"))
    assert "You already checked in today" in again
    assert await available(db, user_account(ALICE), "RP") == 10
    await alice.send("/start")
    tapped = texts(await alice.tap_button("Daily bonus"))
    assert "You already checked in today" in tapped
    assert await available(db, user_account(ALICE), "RP") == 10
    assert "10 RP" in texts(await alice.send("/balance"))
    await alice.send("/daily")
    sent = await alice.tap_button("Buy a streak freeze")  # 200 RP, 10 held
    assert "it needs 200 RP" in [s for s in sent if s.method == "answerCallbackQuery"][-1].params["text"]
    assert await available(db, user_account(ALICE), "RP") == 10
    await give_points(db, 400)
    await alice.send("/daily")
    bought = await alice.tap_button("Buy a streak freeze")
    assert (
        "Streak freezes held: 1"
        in [s for s in bought if s.method == "answerCallbackQuery"][-1].params["text"]
    )
    await alice.tap_button("Buy a streak freeze")  # the same message again: bought once
    assert await available(db, user_account(ALICE), "RP") == 210


async def test_daily_in_spanish_and_reminders_opt_in(tg, db):
    ana = tg.person(222, language_code="es")
    out = texts(await ana.send("/daily"))
    assert "Check-in hecho: +10 RP" in out
    await ana.tap_button("Avísame")
    from core.loyalty import daily

    assert (await db.read(daily.streak_of, 222)).reminders is True


async def test_convert_quote_confirm_and_replayed_tap(tg, db):
    await fund(db, MARKETING, 10 * COIN, "DOGE", key="m")
    await give_points(db, 500)
    alice = tg.person(ALICE)
    quote = await alice.send("/convert 400 DOGE")
    assert "Convert 400 RP into 0.40000000 DOGE?" in texts(quote)
    confirm = next(data for text, data in quote[0].buttons() if "Confirm" in text)
    done = texts(await alice.tap(confirm, quote[0]))
    assert "Converted 400 RP into 0.40000000 DOGE" in done
    await alice.tap(confirm, quote[0])  # a second tap on the same quote converts nothing more
    assert await available(db, user_account(ALICE), "RP") == 100
    assert await available(db, user_account(ALICE), "DOGE") == 40_000_000


async def test_convert_bad_input_moves_nothing(tg, db):
    await fund(db, MARKETING, 10 * COIN, "DOGE", key="m")
    await give_points(db, 100)
    alice = tg.person(ALICE)
    cases = {
        "/convert": "Usage: /convert POINTS COIN",
        "/convert 1.5 DOGE": "whole number of points",
        "/convert 0 DOGE": "whole number of points",
        "/convert -3 DOGE": "whole number of points",
        "/convert 10 XYZ": "Unknown coin",
        "/convert 10 RP": "Unknown coin",
        "/convert 10 BTC": "cannot be converted into BTC",
        "/convert 101 DOGE": "it needs 101 RP",
    }
    for command, expected in cases.items():
        assert expected in texts(await alice.send(command)), command
    # forged buttons: more points than held, a changed quote, an unknown coin
    await alice.send("/convert 10 DOGE")
    for forged, expected in (
        ("ly:cv:5000:DOGE:500000000", "it needs 5000 RP"),
        ("ly:cv:10:DOGE:999", "rate changed"),
        ("ly:cv:10:ZZZ:1", "Unknown coin"),
    ):
        sent = await alice.tap(forged)
        alert = [s for s in sent if s.method == "answerCallbackQuery"]
        assert expected in alert[-1].params.get("text", ""), forged
    assert await available(db, user_account(ALICE), "RP") == 100
    assert await available(db, user_account(ALICE), "DOGE") == 0


async def test_boost_buy_extend_and_shown_in_balance(tg, db):
    alice = tg.person(ALICE)
    listed = texts(await alice.send("/boost"))
    assert "1. +25% for 24 h: 500 RP" in listed
    assert "There is no boost 9" in texts(await alice.send("/boost 9"))
    assert "There is no boost" in texts(await alice.send("/boost x"))
    assert "it needs 500 RP" in texts(await alice.send("/boost 1"))
    await give_points(db, 1000)
    assert "Boost +25% on faucet, ad and offer rewards" in texts(await alice.send("/boost 1"))
    assert "🚀 Boost +25%" in texts(await alice.send("/balance"))
    ask = await alice.send("/boost 1")
    assert "A boost is already running" in texts(ask) or "Boost +25%" in texts(ask)
    await alice.tap_button("Extend")
    assert await available(db, user_account(ALICE), "RP") == 0
    sent = await alice.tap("ly:boost:77:new:0")
    assert "There is no boost 77" in [s for s in sent if s.method == "answerCallbackQuery"][-1].params["text"]


async def test_profile_shows_level_streak_and_sources(tg, db):
    alice = tg.person(ALICE)
    await alice.send("/daily")
    out = texts(await alice.send("/profile"))
    assert "Level 0" in out and "990 RP more to level 1" in out
    assert "Streak: 1 day(s)" in out and "Daily check-in: 10 RP" in out


async def test_stake_and_unstake_with_bad_amounts(tg, db):
    await fund(db, user_account(ALICE), 5 * COIN, "DUST", key="a")
    alice = tg.person(ALICE)
    assert "You cannot stake more DUST" in texts(await alice.send("/stake 6"))
    assert "greater than zero" in texts(await alice.send("/stake 0"))
    assert "not an amount" in texts(await alice.send("/stake abc"))
    out = texts(await alice.send("/stake 4"))
    assert "Staked 4.00000000 DUST" in out and "Staked: 4.00000000 DUST" in out
    assert "You cannot unstake more DUST" in texts(await alice.send("/unstake 5"))
    assert "Usage: /unstake" in texts(await alice.send("/unstake"))
    assert "Unstaked 1.00000000 DUST; it is in your balance" in texts(await alice.send("/unstake 1"))
    assert await available(db, user_account(ALICE), "DUST") == 2 * COIN


async def test_reward_points_cannot_be_withdrawn(tg, db):
    await give_points(db, 100)
    alice = tg.person(ALICE)
    out = texts(await alice.send("/withdraw 10 RP somewhere"))
    assert "Unknown coin" in out
    assert await available(db, user_account(ALICE), "RP") == 100


async def test_daily_tapped_twenty_times_at_once_pays_once(tg, db):
    import asyncio

    alice = tg.person(ALICE)
    await alice.send("/start")
    menu = tg.last_with_buttons(ALICE)
    data = next(d for t, d in menu.buttons() if "Daily bonus" in t)
    await asyncio.gather(
        *(alice.tap(data, menu) for _ in range(20)), *(alice.send("/daily") for _ in range(5))
    )
    assert await available(db, user_account(ALICE), "RP") == 10


async def test_unstake_with_a_cooldown_shows_when_it_is_spendable(tg, db):
    await tg.dp.workflow_data["params"].store(db, "staking.cooldown", "1h", admin_id=1)
    await fund(db, user_account(ALICE), 5 * COIN, "DUST", key="a")
    alice = tg.person(ALICE)
    await alice.send("/stake 2")
    out = texts(await alice.send("/unstake 1"))
    assert "Unstaked 1.00000000 DUST; it becomes spendable at" in out
    view = texts(await alice.send("/stake"))
    assert "Unstaking: 1.00000000 DUST, spendable at" in view and "Staked: 1.00000000 DUST" in view
    assert await available(db, user_account(ALICE), "DUST") == 3 * COIN
