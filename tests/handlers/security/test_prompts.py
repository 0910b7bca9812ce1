"""Prompts and 2FA as phones use them (issue 12, items 3-7), through the real dispatcher:
every prompt has Cancel and is left by any command; a wrong code keeps the action waiting;
/2fa is the on/off screen; twofa.session; an address is checked before a code is asked for."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyotp
import pytest

from core.identity import twofa
from core.money import ledger
from core.money.accounts import user_account
from tests.handlers.cashout.test_cashout import ADDR, enable_2fa
from tests.handlers.conftest import ADMIN
from tests.handlers.harness import Sent, texts
from tests.handlers.home.test_wallet import pay

ALICE, BOB = 121, 122
ASKS = "6-digit code"
WAITING = "I am waiting for your 2FA code"


async def available(db, user_id=ALICE, asset="BTC"):
    return (await db.read(ledger.balance, user_account(user_id), asset)).available


@pytest.fixture
async def alice(tg, db):
    p = tg.person(ALICE)
    await p.send("/start")
    await pay(db, ALICE, 1_000_000)
    return p


def button_data(sent: list[Sent], text: str) -> tuple[str, Sent]:
    for s in reversed(sent):
        for label, data in s.buttons():
            if text in label:
                return data, s
    raise AssertionError(f"no {text!r} button in {[s.buttons() for s in sent]}")


def deleted(sent: list[Sent]) -> list[int]:
    return [s.params["message_id"] for s in sent if s.method == "deleteMessage"]


async def quote_and_ask(alice, tg) -> Sent:
    await alice.send(f"/withdraw 0.001 BTC {ADDR}")
    quote = tg.last_with_buttons(ALICE)
    assert ASKS in texts(await alice.tap_button("Confirm"))
    return quote


# -- item 3: a way out of every prompt ------------------------------------------------------


async def test_code_prompt_has_cancel_and_cancel_ends_it(tg, db, alice):
    await enable_2fa(db, ALICE)
    await quote_and_ask(alice, tg)
    data, prompt = button_data(tg.session.sent, "Cancel")
    sent = await alice.tap(data, prompt)
    assert "Cancelled. Nothing was changed." in texts(sent)
    assert ("⬅️ Menu", "m:home") in sent[0].buttons()
    assert "I understand commands and buttons" in texts(await alice.send("123456"))  # no longer waiting
    again = await alice.tap(data, prompt)  # a stale Cancel says so, and changes nothing
    assert "no longer open" in str([s.params.get("text") for s in again])
    assert await available(db) == 1_000_000


async def test_another_command_leaves_the_prompt(tg, db, alice):
    t = await enable_2fa(db, ALICE)
    await quote_and_ask(alice, tg)
    assert "Your balance" in texts(await alice.send("/balance"))
    out = texts(await alice.send(t.now()))  # the old prompt no longer takes it
    assert "confirmed" not in out and "I understand commands" in out
    assert await available(db) == 1_000_000


async def test_withdraw_details_prompt_has_cancel(tg, db, alice):
    await alice.send("/withdraw")
    sent = await alice.tap(_asset_button(tg))
    assert "Send the amount and the address" in texts(sent)
    data, prompt = button_data(sent, "Cancel")
    assert "Cancelled" in texts(await alice.tap(data, prompt))
    assert "I understand commands" in texts(await alice.send(f"0.001 {ADDR}"))


def _asset_button(tg) -> str:
    return [d for label, d in tg.last_with_buttons(ALICE).buttons() if label == "BTC"][0]


@pytest.mark.parametrize(
    ("command", "section"),
    [
        ("/address", "addresses"),
        ("/balance", "balance"),
        ("/history", "history"),
        ("/help", "help"),
        ("/2fa", "twofa"),
        ("/faucets", "faucets"),
        ("/refer", "refer"),
        ("/language", "language"),
        ("/withdraw", "withdraw"),
        ("/faucet", "faucet"),
    ],
)
async def test_typed_screens_have_the_menu_button_like_their_menu_versions(tg, db, command, section):
    p = tg.person(ALICE)
    await p.send("/start")
    typed = [s for s in await p.send(command) if s.method == "sendMessage"][-1]
    await p.send("/start")
    tapped = [s for s in await p.tap(f"m:{section}") if s.method == "editMessageText"][-1]
    assert ("⬅️ Menu", "m:home") in tapped.buttons()
    assert ("⬅️ Menu", "m:home") in typed.buttons(), command


# -- item 4: a wrong code keeps the pending action --------------------------------------------


async def test_wrong_code_keeps_the_withdrawal_waiting_with_tries_left(tg, db, alice):
    t = await enable_2fa(db, ALICE)
    await quote_and_ask(alice, tg)
    wrong = await alice.send("111111")
    assert "That code is wrong" in texts(
        wrong
    ) and "Tries left before 2FA actions lock for 24 hours: 9" in texts(wrong)
    assert ("✖️ Cancel", "prompt:cancel") in wrong[-1].buttons()
    assert "Tries left before 2FA actions lock for 24 hours: 8" in texts(await alice.send("222222"))
    sent = await alice.send(t.now())
    assert "confirmed" in texts(sent) and deleted(sent)
    assert await available(db) == 900_000


async def test_wrong_codes_until_the_limit_then_locked(tg, db, alice):
    admin = tg.person(ADMIN)
    await admin.send("/start")
    assert "is now 2" in texts(await admin.send("/set twofa.max_failures 2"))
    t = await enable_2fa(db, ALICE)
    quote = await quote_and_ask(alice, tg)
    assert "1 try left" in texts(await alice.send("111111"))
    assert "locked until" in texts(await alice.send("222222"))
    out = texts(await alice.send(t.now()))  # the action no longer waits
    assert "I understand commands" in out and "confirmed" not in out
    await alice.tap(quote.buttons()[0][1], quote)
    assert "locked until" in texts(await alice.send(t.now()))
    assert await available(db) == 1_000_000


async def test_the_wait_for_a_code_expires(tg, db, alice, monkeypatch):
    from handlers.security import twofa as twofa_handlers

    t = await enable_2fa(db, ALICE)
    await quote_and_ask(alice, tg)
    monkeypatch.setattr(twofa_handlers, "PROMPT_TTL", -1)
    assert "expired" in texts(await alice.send(t.now()))
    assert await available(db) == 1_000_000


# -- item 5: /2fa is the on/off screen; setup only from its button ----------------------------


async def test_typed_2fa_shows_the_same_screen_as_the_menu_and_creates_nothing(tg, db):
    p = tg.person(ALICE)
    await p.send("/start")
    typed = await p.send("/2fa")
    assert [s.method for s in typed] == ["sendMessage"]
    assert "is <b>off</b>" in texts(typed) and ("Turn 2FA on", "2fa:on") in typed[0].buttons()
    assert not await db.read(lambda c: c.execute(twofa.twofa.select()).all())  # no secret yet
    await p.send("/start")
    menu = await p.tap("m:twofa")
    assert texts(menu) == texts(typed) and menu[0].buttons() == typed[0].buttons()


async def test_setup_answers_other_text_and_keeps_it(tg, db):
    p = tg.person(ALICE)
    await p.send("/start")
    await p.send("/2fa")
    photo = [s for s in await p.tap("2fa:on") if s.method == "sendPhoto"][0]
    assert ("✖️ Cancel", "prompt:cancel") in photo.buttons()
    secret = photo.text.split("<code>")[1].split("</code>")[0]
    sent = await p.send("hello, what now?")
    assert WAITING in texts(sent) and not deleted(sent)  # not a code: kept, and told what we wait for
    assert ("✖️ Cancel", "prompt:cancel") in sent[-1].buttons()
    sent = await p.send("123 456")
    assert "That code is wrong" in texts(sent) and deleted(sent)  # looks like a code: deleted
    sent = await p.send(pyotp.TOTP(secret).now())
    assert "Two-factor authentication is on" in texts(sent) and photo.message_id in deleted(sent)


async def test_cancel_during_setup_takes_the_qr_code_away(tg, db):
    p = tg.person(ALICE)
    await p.send("/start")
    await p.send("/2fa")
    photo = [s for s in await p.tap("2fa:on") if s.method == "sendPhoto"][0]
    sent = await p.tap("prompt:cancel", photo)
    assert photo.message_id in deleted(sent) and "Cancelled" in texts(sent)
    assert not await db.read(twofa.is_enabled, ALICE)
    assert "I understand commands" in texts(await p.send("123456"))


async def test_a_command_during_setup_takes_the_qr_code_away(tg, db):
    p = tg.person(ALICE)
    await p.send("/start")
    await p.send("/2fa")
    photo = [s for s in await p.tap("2fa:on") if s.method == "sendPhoto"][0]
    sent = await p.send("/help")
    assert photo.message_id in deleted(sent) and "Dustpan commands" in texts(sent)


# -- item 6: twofa.session --------------------------------------------------------------------


async def two_quotes_confirmed_with_one_code(tg, db, alice, t) -> tuple[str, str]:
    code = t.now()
    await quote_and_ask(alice, tg)
    first = texts(await alice.send(code))
    await quote_and_ask(alice, tg)
    second = texts(await alice.send(code))
    return first, second


async def test_a_code_used_a_moment_ago_confirms_the_next_action_in_the_session(tg, db, alice):
    t = await enable_2fa(db, ALICE)
    first, second = await two_quotes_confirmed_with_one_code(tg, db, alice, t)
    assert "confirmed" in first and "confirmed" in second
    assert await available(db) == 800_000


async def test_with_the_session_off_the_wait_is_explained(tg, db, alice):
    admin = tg.person(ADMIN)
    await admin.send("/start")
    assert "twofa.session is now" in texts(await admin.send("/set twofa.session 0"))
    t = await enable_2fa(db, ALICE)
    first, second = await two_quotes_confirmed_with_one_code(tg, db, alice, t)
    assert "confirmed" in first and "confirmed" not in second
    assert "wait" in second and "for the next one" in second
    assert await available(db) == 900_000
    row = await db.read(lambda c: c.execute(twofa.twofa.select().where(twofa.twofa.c.user_id == ALICE)).one())
    assert row.failures == 0  # a spent code is no guess


async def test_the_session_never_crosses_users(tg, db, alice):
    bob = tg.person(BOB)
    await bob.send("/start")
    await pay(db, BOB, 1_000_000, key="gift-bob")
    t_alice, t_bob = await enable_2fa(db, ALICE), await enable_2fa(db, BOB)
    code = t_alice.now()
    await quote_and_ask(alice, tg)
    assert "confirmed" in texts(await alice.send(code))
    await bob.send(f"/withdraw 0.001 BTC {ADDR}")
    await bob.tap_button("Confirm")
    if code != t_bob.now():  # (one chance in a million that their codes agree)
        assert "That code is wrong" in texts(await bob.send(code))
    assert await available(db, BOB) == 1_000_000


async def test_session_rules_in_core(db):
    """The session accepts only the user's own last used step, within the window; backup codes
    and codes of earlier steps never come back; with session 0 every replay is refused."""
    from tests.core.identity.test_twofa import KEY, MAX, U, enable, verify

    now = datetime(2026, 12, 6, 12, 0, 5, tzinfo=UTC)
    secret, backups = await enable(db, now=now - timedelta(minutes=5))
    t = pyotp.TOTP(secret)
    code = t.at(now)
    assert await db.write(verify, U, code, KEY, now=now, session=300)
    later = now + timedelta(minutes=4)  # the app shows other codes by now; this one is remembered
    assert await db.write(verify, U, code, KEY, now=later, session=300)
    with pytest.raises(twofa.TwoFactorFailed):  # past the session: an expired code, like any other
        await db.write(verify, U, code, KEY, now=now + timedelta(minutes=6), session=300)
    with pytest.raises(twofa.TwoFactorReplayed):
        await db.write(verify, U, code, KEY, now=now + timedelta(seconds=10), session=0)
    older = t.at(now - timedelta(seconds=30))  # a step before the used one: never
    with pytest.raises(twofa.TwoFactorFailed):
        await db.write(verify, U, older, KEY, now=now + timedelta(seconds=10), session=300)
    assert await db.write(verify, U, backups[0], KEY, now=now, session=300)
    with pytest.raises(twofa.TwoFactorFailed):
        await db.write(verify, U, backups[0], KEY, now=now, session=300)
    assert MAX == 10


# -- item 7: the address is checked before the code is asked for ------------------------------


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx", "testnet"),
        (ADDR[:-1] + "5", "typo"),
        ("hello", "characters an address cannot have"),
    ],
)
async def test_a_bad_address_is_refused_before_the_code_is_asked(tg, db, alice, address, why):
    await enable_2fa(db, ALICE)
    out = texts(await alice.send(f"/address add BTC cold {address}"))
    assert why in out and ASKS not in out
    out = texts(await alice.send(f"/withdraw 0.001 BTC {address}"))
    assert why in out and "Confirm" not in out


async def test_an_admin_command_keeps_waiting_through_a_wrong_code(tg, db):
    from core.platform import audit

    admin = tg.person(ADMIN)
    await admin.send("/start")
    t = await enable_2fa(db, ADMIN)
    assert ASKS in texts(await admin.send("/deposit 1 BTC float"))
    wrong = texts(await admin.send("000000"))
    assert "That code is wrong" in wrong and "Tries left" in wrong
    assert not [a for a in await db.read(audit.recent, 10) if a.action == "deposit"]
    assert "Recorded a deposit of 1.00000000 BTC" in texts(await admin.send(t.now()))
    assert [a.action for a in await db.read(audit.recent, 10)].count("deposit") == 1


async def test_a_check_password_prompt_has_cancel(tg, db):
    from tests.handlers.social.test_checks_inline import link_of
    from tests.money import fund

    alice = tg.person(ALICE)
    await alice.send("/start")
    await fund(db, user_account(ALICE), 10_000_000_000, "DOGE", key="alice-doge")
    payload = link_of(texts(await alice.send("/check 0.5 DOGE 1 sesame")))
    bob = tg.person(BOB)
    sent = await bob.send(f"/start {payload}")
    assert "protected by a password" in texts(sent)
    data, prompt = button_data(sent, "Cancel")
    assert "Cancelled" in texts(await bob.tap(data, prompt))
    assert "I understand commands" in texts(await bob.send("sesame"))  # no longer taken as the password
