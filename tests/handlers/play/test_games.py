"""Games through the real dispatcher: typed bets, buttons, /fair, rotation, /verify, /bets, /limits, crash."""

from __future__ import annotations

from core.money.accounts import user_account
from core.play import stakes
from tests.handlers.harness import texts
from tests.play import balance, setup_money

A = 111


def answers(sent):
    return " ".join(s.params.get("text") or "" for s in sent if s.method == "answerCallbackQuery")


async def test_typed_dice_bet_and_retry_of_the_same_update(tg, db):
    await setup_money(db, {A: 10**8})
    alice = tg.person(A)
    out = texts(await alice.send("/dice 0.0001 DOGE over 50.5"))
    assert "Dice over 50.50" in out and "Bet #1, nonce 0" in out
    after = await balance(db, user_account(A))
    assert after in (10**8 - 10_000, 10**8 + 10_000)
    # The same Telegram update delivered twice: the retry returns the first bet.
    from datetime import UTC, datetime

    from aiogram.types import Chat, Message, MessageEntity, Update

    msg = Message(
        message_id=77,
        date=datetime.now(UTC),
        chat=Chat(id=A, type="private"),
        from_user=alice.user,
        text="/limbo 0.0001 DOGE 2",
        entities=[MessageEntity(type="bot_command", offset=0, length=6)],
    )
    first = texts(await tg.feed(Update(update_id=900, message=msg)))
    again = texts(await tg.feed(Update(update_id=900, message=msg)))
    assert "Bet #2" in first and "Bet #2" in again
    assert "Bet #3" not in texts(await alice.send("/fair")) and "Nonce: 2" in texts(await alice.send("/fair"))


async def test_typed_limbo_and_plinko(tg, db):
    await setup_money(db, {A: 10**8})
    alice = tg.person(A)
    assert "Limbo at 2.50x" in texts(await alice.send("/limbo 0.0001 DOGE 2.5x"))
    assert "Plinko, 16 rows, high risk" in texts(await alice.send("/plinko 0.0001 DOGE 16 high"))


async def test_bad_input_is_refused_and_moves_nothing(tg, db):
    await setup_money(db, {A: 50_000})
    alice = tg.person(A)
    cases = {
        "/dice 0.00000001 DOGE over 50": "smallest bet",
        "/dice 1 DOGE over 50": "Not enough DOGE",
        "/dice 0.0001 DOGE under 99.5": "win chance",
        "/dice 0.0001 DOGE sideways 50": "over or under",
        "/dice 0.0001 DOGE over abc": "as a number",
        "/limbo 0.0001 DOGE 1": "outside the allowed range",
        "/plinko 0.0001 DOGE 20 low": "8 to 16 rows",
        "/plinko 0.0001 DOGE 8 wild": "low, medium or high",
        "/dice 0.0001 XYZ over 50": "Unknown coin",
        "/dice": "Usage: /dice",
        "/clientseed": "Usage: /clientseed",
        "/clientseed " + "x" * 65: "at most 64",
        "/clientseed a\u200bb": "visible characters",
        "/verify abc": "Usage: /verify",
        "/verify 12345": "No such bet",
    }
    for command, expected in cases.items():
        assert expected in texts(await alice.send(command)), command
    assert await balance(db, user_account(A)) == 50_000
    await alice.send("/games")
    for forged in (
        "gp:go:d:DOGE:-5:5050:o",
        "gp:go:z:DOGE:100:1:o",
        "gp:go:d:XXX:100:5050:o",
        "bt:-1",
        "co:0",
        "lx:3",
    ):
        assert "no longer valid" in answers(await alice.tap(forged)), forged
    sent = await alice.tap("gp:go:d:DOGE:10000:100:o")  # well-formed but an impossible target
    assert "win chance" in answers(sent)
    assert await balance(db, user_account(A)) == 50_000


async def test_buttons_halve_double_play_and_repeat(tg, db):
    await setup_money(db, {A: 10**8})
    alice = tg.person(A)
    await alice.send("/start")
    await alice.tap_button("Games")
    shown = await alice.tap_button("Dice")
    assert "Bet: 0.00010000 DOGE" in texts(shown)
    assert "Bet: 0.00020000 DOGE" in texts(await alice.tap_button("×2"))
    assert "Bet: 0.00010000 DOGE" in texts(await alice.tap_button("½"))
    played = texts(await alice.tap_button("Play"))
    assert "Bet #1" in played
    assert "Bet #2" in texts(await alice.tap_button("Repeat last bet"))


async def test_fair_rotation_and_verify(tg, db):
    await setup_money(db, {A: 10**8})
    alice = tg.person(A)
    shown = texts(await alice.send("/fair"))
    assert "Next server seed (SHA-256)" in shown and "Nonce: 0" in shown
    await alice.send("/dice 0.0001 DOGE under 50")
    secret = texts(await alice.send("/verify 1"))
    assert "still secret" in secret and "Server seed:" not in secret
    await alice.send("/fair")
    rotated = texts(await alice.tap_button("Rotate"))
    assert "Revealed server seed" in rotated
    revealed = texts(await alice.send("/verify 1"))
    assert "Server seed:" in revealed and "HMAC 0" in revealed and "Roll = floor" in revealed
    out = texts(await alice.send("/clientseed hello world"))
    assert "Client seed: <code>hello world</code>" in out
    listing = await alice.send("/bets")
    assert "#1 🎲 Dice" in listing[0].buttons()[0][0]
    assert "Server seed:" in texts(await alice.tap(listing[0].buttons()[0][1]))
    bob = tg.person(222)
    assert "No such bet" in texts(await bob.send("/verify 1"))


async def test_limits_enforced_and_cannot_be_loosened(tg, db):
    await setup_money(db, {A: 10**8})
    alice = tg.person(A)
    assert "Daily loss limit: 0.00020000 DOGE" in texts(await alice.send("/limits DOGE 0.0002"))
    assert "raise or remove this limit after" in texts(await alice.send("/limits DOGE 1"))
    assert "raise or remove" in texts(await alice.send("/limits DOGE off"))
    assert "Daily loss limit: 0.00010000 DOGE" in texts(await alice.send("/limits DOGE 0.0001"))
    assert "daily loss limit" in texts(await alice.send("/dice 0.0002 DOGE over 50"))
    await alice.send("/limits")
    assert "paused until" in texts(await alice.tap_button("7 days"))
    assert "paused games until" in texts(await alice.send("/dice 0.0001 DOGE over 50"))
    assert "cannot be shortened" in answers(await alice.tap_button("1 day"))


async def test_limits_no_longer_show_a_pause_that_has_ended(tg, db):
    """A 1-day pause taken two days ago is over: /limits and the games menu say nothing of it."""
    from datetime import timedelta

    from core.platform.schema import utcnow

    await setup_money(db, {A: 10**8})
    await db.write(stakes.self_exclude, A, 1, now=utcnow() - timedelta(days=2))
    alice = tg.person(A)
    out = texts(await alice.send("/limits"))
    assert "paused until" not in out and "No limits set." in out
    assert "paused games until" not in texts(await alice.send("/dice 0.0001 DOGE over 50"))


async def test_verify_shows_the_limbo_formula_stake_verifiers_use(tg, db):
    """/verify names Stake's formula, and what it shows is that formula run in doubles on the
    revealed seeds (tests.core.play.test_fair.stake_limbo_js is Stake's JavaScript, line by line)."""
    import re

    from core.play import fair
    from tests.core.play.test_fair import stake_limbo_js

    await setup_money(db, {A: 10**8})
    alice = tg.person(A)
    played = texts(await alice.send("/limbo 0.0001 DOGE 1.5"))
    shown = re.search(r"Result: <b>([0-9.]+)x</b>", played).group(1)
    await alice.send("/fair")
    rotated = texts(await alice.tap_button("Rotate"))
    seed = re.search(r"Revealed server seed: <code>([0-9a-f]{64})</code>", rotated).group(1)
    client = re.search(r"client seed <code>([^<]+)</code> for nonces", rotated).group(1)
    checked = texts(await alice.send("/verify 1"))
    assert "Result = max(1, floor(1e8 / (float × 1e8) × 0.99 × 100) / 100)" in checked
    assert f"Result = {shown}x" in checked
    assert fair.format_fixed(stake_limbo_js(fair.draw(seed, client, 0, 1)[0])) == shown


async def test_rotate_button_draws_a_new_client_seed_and_invites_your_own(tg, db):
    import re

    alice = tg.person(A)
    before = re.search(r"Client seed: <code>([^<]+)</code>", texts(await alice.send("/fair"))).group(1)
    rotated = texts(await alice.tap_button("Rotate"))
    now = re.search(r"Client seed: <code>([^<]+)</code>", rotated).group(1)
    assert now != before and f"client seed <code>{before}</code> for nonces" in rotated
    assert "new client seed was drawn at random" in rotated and "/clientseed" in rotated
    own = texts(await alice.send("/clientseed my own words"))
    assert "Client seed: <code>my own words</code>" in own and "drawn at random" not in own
