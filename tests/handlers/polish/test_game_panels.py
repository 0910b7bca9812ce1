"""Issue 12, items 13 and 15 through the real dispatcher: game panels with every choice, pauses."""

from __future__ import annotations

from core.money.accounts import user_account
from core.play import fair
from core.play.games import recent_bets
from tests.handlers.harness import texts
from tests.play import balance, setup_money

A = 111


def panel_of(sent):
    return [s for s in sent if s.method in ("editMessageText", "sendMessage") and s.markup][-1]


def labels(s) -> list[str]:
    return [b[0] for b in s.buttons()]


async def test_panel_offers_only_coins_held_and_every_choice_of_the_typed_command(tg, db):
    await setup_money(db, {A: 10**8})  # DOGE only
    await setup_money(db, {A: 10**6}, asset="BTC")
    alice = tg.person(A)
    await alice.send("/games")
    sent = panel_of(await alice.tap_button("Dice"))
    names = labels(sent)
    assert "• BTC" in names and "DOGE" in names and "LTC" not in names and "USDT" not in names
    for choice in ("½", "×2", "Min", "Max", "−5", "+5", "⇄ under", "▶️ Play"):
        assert choice in names, choice
    assert "Balance: 0.01000000 BTC" in sent.text
    sent = panel_of(await alice.tap_button("DOGE"))  # switch coin: the smallest DOGE bet
    assert "Bet: 0.00010000 DOGE" in sent.text and "• DOGE" in labels(sent)
    assert "Dice under 49.50" in panel_of(await alice.tap_button("⇄ under")).text
    assert "Dice under 54.50" in panel_of(await alice.tap_button("+5")).text
    await alice.tap_button("½")  # at the minimum already: the panel stays as it is (no edit is needed)
    assert "Bet: 0.00010000 DOGE" in tg.last_with_buttons(A).text  # never below the minimum
    assert "Bet: 0.00020000 DOGE" in panel_of(await alice.tap_button("×2")).text
    played = panel_of(await alice.tap_button("Play"))
    bet = (await db.read(recent_bets, A, 1))[0]
    assert bet.params["direction"] == fair.UNDER and bet.params["target"] == 5450 and bet.amount == 20_000
    after = await balance(db, user_account(A))
    assert f"Balance: {after // 10**8}.{after % 10**8:08d} DOGE" in played.text  # the balance after the bet
    assert "▶️ Play" in labels(played)  # the panel stays for the next bet


async def test_limbo_targets_plinko_rows_and_risk(tg, db):
    await setup_money(db, {A: 10**8})
    alice = tg.person(A)
    await alice.send("/games")
    await alice.tap_button("Limbo")
    assert "Limbo at 3.00x" in panel_of(await alice.tap_button("3x")).text
    await alice.send("/games")
    await alice.tap_button("Plinko")
    assert "12 rows, low risk" in panel_of(await alice.tap_button("12")).text
    sent = panel_of(await alice.tap_button("high"))
    assert "12 rows, high risk" in sent.text and "• high" in labels(sent) and "• 12" in labels(sent)
    await alice.tap_button("Play")
    bet = (await db.read(recent_bets, A, 1))[0]
    assert bet.game == "plinko" and bet.params == {"rows": 12, "risk": "high"}


async def test_max_is_the_largest_stake_the_profit_cap_allows(tg, db):
    await setup_money(db, {A: 10**10}, house=10**9)  # the cap: 1% of 10 DOGE = 0.1 DOGE of profit
    alice = tg.person(A)
    await alice.send("/games")
    await alice.tap_button("Limbo")  # 2x: the stake wins its own size at most
    sent = panel_of(await alice.tap_button("Max"))
    assert "Bet: 0.10000000 DOGE" in sent.text
    await alice.tap_button("×2")  # at the cap already: the panel stays as it is
    assert "Bet: 0.10000000 DOGE" in tg.last_with_buttons(A).text  # ×2 stays within the cap
    out = texts(await alice.tap_button("Play"))
    assert "current limit" not in out
    bet = (await db.read(recent_bets, A, 1))[0]
    assert bet.amount == 10_000_000


async def test_max_with_nothing_to_bet_says_what_is_missing(tg, db):
    await setup_money(db, {A: 5_000})  # below the smallest DOGE bet
    alice = tg.person(A)
    await alice.send("/games")
    await alice.tap_button("Dice")
    sent = await alice.tap_button("Max")
    alert = [s for s in sent if s.method == "answerCallbackQuery"][0]
    assert "Not enough DOGE: you have 0.00005000 DOGE, this needs 0.00010000 DOGE." in alert.params["text"]


async def test_paused_player_sees_the_end_of_the_pause_not_the_games(tg, db):
    await setup_money(db, {A: 10**8})
    alice = tg.person(A)
    await alice.send("/limits")
    await alice.tap_button("7 days")
    sent = (await alice.send("/games"))[0]
    assert "You paused games until" in sent.text
    assert not any("Dice" in b for b in labels(sent))
    await alice.send("/start")
    menu = panel_of(await alice.tap_button("Games"))
    assert "You paused games until" in menu.text and not any("Dice" in b for b in labels(menu))
