"""Issue 12, items 8, 10 and 12 through the real dispatcher: /balance, refusals, /credit notices."""

from __future__ import annotations

from aiogram import Bot

from core.money import wallet
from core.money.accounts import user_account
from core.platform.params import Params
from jobs.notify import NoticeSender
from tests.handlers.conftest import ADMIN
from tests.handlers.harness import BOT_TOKEN, RecordingSession, texts
from tests.handlers.home.test_wallet import pay
from tests.play import setup_money

A = 111
ADDR = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"


async def test_new_user_sees_one_line_and_buttons_not_six_zeros(tg, db):
    alice = tg.person(A)
    await alice.send("/start")
    sent = (await alice.send("/balance"))[0]
    assert "Nothing yet: try the faucet" in sent.text
    assert "0.00000000" not in sent.text
    labels = [b[0] for b in sent.buttons()]
    assert "🚰 Faucet" in labels and "Show all coins" in labels and "⬅️ Menu" in labels
    every = texts(await alice.tap_button("Show all coins"))
    for line in ("0.00000000 BTC", "0.00000000 LTC", "0.00000000 DOGE", "0.000000 USDT", "0.000000 TRX"):
        assert line in every


async def test_balance_lists_only_coins_held_with_holds_and_a_show_all_button(tg, db):
    alice = tg.person(A)
    await alice.send("/start")
    await pay(db, A, 1_000_000)
    await pay(db, A, 5 * 10**8, asset="DOGE", key="gift:doge")
    await alice.send(f"/withdraw 0.001 BTC {ADDR}")
    await alice.tap_button("Confirm")  # 0.001 BTC is now on hold
    sent = (await alice.send("/balance"))[0]
    assert "0.00900000 BTC (0.00100000 BTC on hold)" in sent.text and "5.00000000 DOGE" in sent.text
    assert "LTC" not in sent.text and "USDT" not in sent.text
    shown = texts(await alice.tap_button("Show all coins"))
    assert "0.00000000 LTC" in shown and "0.00900000 BTC" in shown
    back = texts(await alice.tap_button("Only coins I hold"))
    assert "LTC" not in back


async def test_features_add_balance_lines_through_the_core_hook(tg, db, monkeypatch):
    from handlers.home import wallet as wallet_view

    monkeypatch.setattr(wallet, "_SOURCES", [lambda conn, uid: [wallet.Extra("level", {"n": 3})]])
    monkeypatch.setitem(wallet_view.extra_lines, "level", lambda e: f"⭐ Level {e.params['n']}")
    alice = tg.person(A)
    await alice.send("/start")
    out = texts(await alice.send("/balance"))
    assert "⭐ Level 3" in out and "Nothing yet" not in out


async def test_refusals_say_what_the_user_has_and_needs(tg, db):
    await setup_money(db, {A: 50_000})  # 0.0005 DOGE
    alice = tg.person(A)
    out = texts(await alice.send("/dice 1 DOGE over 50"))
    assert "Not enough DOGE: you have 0.00050000 DOGE, this needs 1.00000000 DOGE." in out
    await pay(db, A, 1000)
    out = texts(await alice.send(f"/withdraw 0.001 BTC {ADDR}"))
    assert "Not enough BTC: you have 0.00001000 BTC, this needs 0.00100000 BTC." in out
    assert "outside the allowed range (1.01x to 1,000x)" in texts(await alice.send("/limbo 0.0001 DOGE 1"))
    assert "outside the allowed range (1.01x to 1,000x)" in texts(await alice.send("/limbo 0.0001 DOGE 5000"))
    assert "(1.01x to 1,000,000x)" in texts(await alice.send("/crash 0.0001 DOGE auto 1"))
    assert await wallet_available(db) == 50_000


async def wallet_available(db) -> int:
    s = await db.read(wallet.summary, A)
    return s.balances["DOGE"].available


async def test_plinko_max_profit_does_not_say_lower_the_target(tg, db):
    await setup_money(db, {A: 10**10}, house=10**9)  # the cap: 1% of 10 DOGE = 0.1 DOGE
    alice = tg.person(A)
    plinko = texts(await alice.send("/plinko 1 DOGE 16 high"))
    assert "current limit" in plinko and "target" not in plinko and "Lower the stake." in plinko
    limbo = texts(await alice.send("/limbo 1 DOGE 500"))
    assert "Lower the stake or the target." in limbo


async def test_an_unknown_label_says_there_is_no_such_label(tg, db):
    await pay(db, A, 10**6)
    alice = tg.person(A)
    out = texts(await alice.send("/withdraw 0.001 BTC my-wallet"))
    assert "There is no label my-wallet in your address book" in out
    assert "not a valid" not in out.lower()


async def test_a_credited_user_is_told_with_the_reason(tg, db):
    admin, alice = tg.person(ADMIN, username="root"), tg.person(A, username="alice")
    await alice.send("/start")
    await admin.send("/start")
    await admin.send("/deposit 1 BTC cold wallet")
    await admin.send("/credit @alice 0.0001 BTC sorry for the outage")
    session = RecordingSession()
    sender = NoticeSender(db, Bot(BOT_TOKEN, session=session), Params(env={}), sleep=_no_sleep)
    assert await sender.run_once() == 1
    (notice,) = [s for s in session.sent if s.method == "sendMessage"]
    assert notice.chat_id == A
    assert "credited you 0.00010000 BTC" in notice.text and "sorry for the outage" in notice.text
    assert await sender.run_once() == 0  # once only
    assert (await db.read(wallet.summary, A)).balances["BTC"].available == 10_000
    _ = user_account


async def _no_sleep(seconds: float) -> None:  # float ok: seconds
    return None
