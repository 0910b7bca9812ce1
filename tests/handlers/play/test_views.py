"""What players read in the games: through the real dispatcher (tests.handlers' harness)."""

from __future__ import annotations

from core.play import crash
from tests.handlers.conftest import ADMIN, settings, tg  # noqa: F401  (fixtures)
from tests.handlers.harness import texts
from tests.play import load_chain, setup_money

A = 111


async def test_dice_chance_limit_follows_the_edge(tg, db):  # noqa: F811
    await setup_money(db, {A: 10**8})
    alice, admin = tg.person(A), tg.person(ADMIN)
    assert "between 0.01% and 98%." in texts(await alice.send("/dice 0.0001 DOGE under 99.5"))
    await admin.send("/set games.edge 20%")
    refused = texts(await alice.send("/dice 0.0001 DOGE over 10"))  # 90 % would pay 0.8888x
    assert "between 0.01% and 79.99%." in refused
    assert "Bet #1" in texts(await alice.send("/dice 0.0001 DOGE over 20.01"))


async def test_risk_and_game_names_are_shown_in_the_players_language(tg, db):  # noqa: F811
    await setup_money(db, {A: 10**8})
    maria = tg.person(A, language_code="es")
    await maria.send("/start")
    played = texts(await maria.send("/plinko 0.0001 DOGE 16 high"))  # typed words stay English
    assert "Plinko, 16 filas, riesgo alto" in played and "high" not in played
    await maria.send("/dice 0.0001 DOGE over 50")
    listing = (await maria.send("/bets"))[0].buttons()
    assert listing[0][0].startswith("#2 🎲 Dados ") and listing[1][0].startswith("#1 🔻 Plinko ")


async def test_half_and_double_buttons_step_the_stake_on_both_panels(tg, db):  # noqa: F811
    alice = tg.person(A)
    await alice.send("/games")
    for data, shown in [
        ("gp:dbl:d:DOGE:10000:5050:o", "Bet: 0.00020000 DOGE"),
        ("gp:half:d:DOGE:1:5050:o", "Bet: 0.00010000 DOGE"),  # never below the smallest bet (issue 12)
        ("gp:dbl:d:DOGE:999999999999999:5050:o", "Bet: 10000000.00000000 DOGE"),  # capped
        ("cj:dbl:DOGE:10000", "Bet: 0.00020000 DOGE"),
        ("cj:half:DOGE:1", "Bet: 0.00010000 DOGE"),
        ("cj:dbl:DOGE:999999999999999", "Bet: 10000000.00000000 DOGE"),
    ]:
        assert shown in texts(await alice.tap(data)), data


async def test_crash_chain_commands_and_the_auto_cash_out_a_player_sees(tg, db, btc_node):  # noqa: F811
    await setup_money(db, {A: 10**8, A + 1: 10**8})
    admin, alice, bob = tg.person(ADMIN), tg.person(A), tg.person(A + 1)
    assert "Terminating hash" in texts(await admin.send("/crashnew"))
    await admin.send("/crashsalt " + btc_node.mine(btc_node.tip + 6))
    assert "still has games to play" in texts(await admin.send("/crashnew"))  # before any hashing
    chains = crash.ChainCache("k" * 40)  # the settings' SECRET_KEY
    await load_chain(db, chains)
    await db.write(crash.open_round, chains, betting_seconds=30)
    asked = texts(await alice.send("/crash 0.0001 DOGE auto 1000000"))
    assert "Auto cash-out at 1000000.00x" in asked
    assert "Auto cash-out" not in texts(await bob.send("/crash 0.0001 DOGE"))  # only the ceiling
