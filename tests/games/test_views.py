"""What players read in the games: through the real dispatcher (tests.handlers' harness)."""

from __future__ import annotations

from tests.games.helpers import setup_money
from tests.handlers.conftest import ADMIN, settings, tg  # noqa: F401  (fixtures)
from tests.handlers.harness import texts

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
        ("gp:half:d:DOGE:1:5050:o", "Bet: 0.00000001 DOGE"),  # never below one minor unit
        ("gp:dbl:d:DOGE:999999999999999:5050:o", "Bet: 10000000.00000000 DOGE"),  # capped
        ("cj:dbl:DOGE:10000", "Bet: 0.00020000 DOGE"),
        ("cj:half:DOGE:1", "Bet: 0.00000001 DOGE"),
        ("cj:dbl:DOGE:999999999999999", "Bet: 10000000.00000000 DOGE"),
    ]:
        assert shown in texts(await alice.tap(data)), data
