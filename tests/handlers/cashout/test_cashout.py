"""/withdraw, /withdrawals, /addresses, /payouts, /paid, /failed and admin 2FA through the real dispatcher."""

from datetime import UTC, datetime, timedelta

import pyotp
import pytest

from core.cashout import payouts
from core.identity import twofa
from core.money import ledger
from core.money.accounts import TREASURY, user_account
from core.platform import audit
from tests.handlers.conftest import ADMIN
from tests.handlers.harness import texts
from tests.handlers.home.test_wallet import pay

ALICE = 111
ADDR = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"
KEY = "k" * 40


async def available(db, owner=user_account(ALICE), asset="BTC"):
    return (await db.read(ledger.balance, owner, asset)).available


@pytest.fixture
async def alice(tg, db):
    p = tg.person(ALICE)
    await p.send("/start")
    await pay(db, ALICE, 1_000_000)
    return p


async def enable_2fa(db, user_id):
    setup = await db.write(twofa.begin_setup, user_id, KEY, "x")
    t = pyotp.TOTP(setup.secret)
    await db.write(
        twofa.confirm_setup, user_id, t.at(datetime.now(UTC) - timedelta(seconds=30)), KEY, max_failures=10
    )
    return t


async def test_withdraw_quote_confirm_twice_then_cancel(tg, db, alice):
    out = texts(await alice.send(f"/withdraw 0.001 BTC {ADDR}"))
    assert "Network fee: 0.00001000 BTC" in out and "You will receive: <b>0.00099000 BTC</b>" in out
    assert await available(db) == 1_000_000
    confirm = alice.tg.last_with_buttons(ALICE)
    assert "confirmed: approved" in texts(await alice.tap_button("Confirm"))
    assert "already confirmed" in texts(await alice.tap(confirm.buttons()[0][1], confirm))
    assert await available(db) == 900_000
    listing = texts(await alice.send("/withdrawals"))
    assert "approved" in listing and ADDR in listing
    assert "cancelled" in texts(await alice.tap_button("Cancel #"))
    assert await available(db) == 1_000_000
    assert "was cancelled" in texts(await alice.tap(confirm.buttons()[0][1], confirm))
    assert await available(db) == 1_000_000


async def test_withdraw_with_buttons(tg, db, alice):
    await alice.send("/withdraw")
    await alice.tap_button("BTC")
    out = texts(await alice.send(f"0.0005 {ADDR}"))
    assert "You will receive: <b>0.00049000 BTC</b>" in out


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (f"/withdraw 0.001 BTC {ADDR[:-1]}5", "typo"),
        ("/withdraw 0.001 BTC tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx", "testnet"),
        ("/withdraw 0.001 BTC LTVdcw8fdTTK4TcebTZ4jiiCbvTXaRxZNh", "another coin"),
        ("/withdraw 0.001 BTC hello!!", "characters an address cannot have"),
        (f"/withdraw 0.000000001 BTC {ADDR}", "at most 8 decimal places"),
        (f"/withdraw 0 BTC {ADDR}", "greater than zero"),
        (f"/withdraw -1 BTC {ADDR}", "must be positive"),
        (f"/withdraw 1 BTC {ADDR}", "Not enough BTC"),
        (f"/withdraw 0.00001 BTC {ADDR}", "minimum withdrawal"),
        (f"/withdraw 0.001 XRP {ADDR}", "Unknown coin"),
        ("/withdraw 0.001 BTC", "Please enter an address"),
        ("/withdraw 0.001", "Usage: /withdraw"),
        ("/withdraw 0.001 BTC nolabel", "characters an address cannot have"),
    ],
)
async def test_bad_withdrawals_move_nothing(tg, db, alice, command, expected):
    assert expected in texts(await alice.send(command))
    assert await available(db) == 1_000_000


async def test_tampered_and_foreign_callbacks(tg, db, alice):
    await alice.send(f"/withdraw 0.001 BTC {ADDR}")
    bob = tg.person(222)
    await bob.send("/start")
    quote = alice.tg.last_with_buttons(ALICE)
    assert "does not exist" in texts(await bob.tap(quote.buttons()[0][1], quote))
    for forged in ("wd:ok:-1", "wd:zz:1", "wd:ok:abc", "po:yes:1"):
        answer = [s for s in await alice.tap(forged) if s.method == "answerCallbackQuery"]
        assert answer and "no longer valid" in answer[0].text, forged
    assert await available(db) == 1_000_000


async def test_withdraw_needs_2fa_code_when_on(tg, db, alice):
    t = await enable_2fa(db, ALICE)
    await alice.send(f"/withdraw 0.001 BTC {ADDR}")
    quote = tg.last_with_buttons(ALICE)
    assert "6-digit code" in texts(await alice.tap_button("Confirm"))
    assert "wrong" in texts(await alice.send("123456"))
    assert await available(db) == 1_000_000
    await alice.tap(quote.buttons()[0][1], quote)  # Confirm again: it asks for the code again
    sent = await alice.send(t.now())
    assert any(s.method == "deleteMessage" for s in sent) and "confirmed" in texts(sent)
    assert await available(db) == 900_000


async def test_address_book_and_2fa(tg, db, alice):
    assert "Saved cold" in texts(await alice.send(f"/addresses add BTC cold {ADDR}"))
    assert "typo" in texts(await alice.send(f"/addresses add BTC warm {ADDR[:-1]}5"))
    assert "cold" in texts(await alice.send("/addresses"))
    assert "You will receive" in texts(await alice.send("/withdraw 0.001 BTC cold"))
    t = await enable_2fa(db, ALICE)
    assert "6-digit code" in texts(
        await alice.send("/addresses add BTC warm 1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa")
    )
    assert "Saved warm" in texts(await alice.send(t.now()))
    assert "removed" in texts(await alice.send("/addresses remove warm"))
    assert "No address labelled" in texts(await alice.send("/addresses remove warm"))


async def test_big_withdrawal_needs_admin_approval_then_manual_batch(tg, db, alice):
    admin = tg.person(ADMIN)
    await admin.send("/start")
    await alice.send(f"/withdraw 0.005 BTC {ADDR}")
    assert "waiting for approval" in texts(await alice.tap_button("Confirm"))
    out = texts(await admin.send("/payouts"))
    assert "0.00500000 BTC" in out
    assert "approved" in texts(await admin.tap_button("Approve"))
    assert "not waiting for approval" in texts(await admin.tap_button("Approve"))
    from core.platform.params import Params
    from jobs.payout_backends import ManualBackend
    from jobs.payouts import Payouts

    manual = ManualBackend(tg.bot, frozenset({ADMIN}))
    await Payouts(db, Params(env={}), lambda name, asset: manual).run_once()
    doc = [s for s in tg.session.sent if s.method == "sendDocument"][-1]
    assert doc.chat_id == ADMIN and "/paid 1" in doc.text
    assert "Usage: /paid" in texts(await admin.send("/paid x"))
    assert "1 withdrawal marked sent" in texts(await admin.send("/paid 1 deadbeef"))
    assert "not waiting" in texts(await admin.send("/failed 1 oops"))
    assert "deadbeef" in texts(await alice.send("/withdrawals"))
    assert await available(db) == 500_000
    assert (await db.read(payouts.get_batch, 1)).state == "done"


async def test_admin_reject_returns_the_amount(tg, db, alice):
    admin = tg.person(ADMIN)
    await admin.send("/start")
    await alice.send(f"/withdraw 0.005 BTC {ADDR}")
    await alice.tap_button("Confirm")
    await admin.send("/payouts")
    assert "rejected" in texts(await admin.tap_button("Reject"))
    assert await available(db) == 1_000_000


async def test_admin_credit_needs_code_when_admin_has_2fa(tg, db, alice):
    admin = tg.person(ADMIN)
    await admin.send("/start")
    await pay(db, ADMIN, 1, key="x")  # registers accounts
    await admin.send("/deposit 1 BTC float")
    t = await enable_2fa(db, ADMIN)
    assert "6-digit code" in texts(await admin.send("/credit 111 0.0001 BTC gift"))
    assert "wrong" in texts(await admin.send("000000"))
    assert await available(db) == 1_000_000
    await admin.send("/credit 111 0.0001 BTC gift")
    assert "Credited 0.00010000 BTC" in texts(await admin.send(t.now()))
    assert "Credited 0.00010000 BTC" in texts(
        await admin.send(
            f"/credit 111 0.0001 BTC gift two code {t.at(datetime.now(UTC) + timedelta(seconds=30))}"
        )
    )
    assert await available(db) == 1_020_000
    assert [a.details["reason"] for a in await db.read(audit.recent, 5) if a.action == "credit"] == [
        "gift two",
        "gift",
    ]
    assert await available(db, TREASURY) > 0


async def test_crypto_pay_assets_go_to_the_telegram_wallet_without_an_address(tg, db, alice):
    params = tg.dp["params"]
    await params.store(db, "payout.backend.USDT", "cryptopay", admin_id=ADMIN)
    await pay(db, ALICE, 10_000_000, asset="USDT", key="usdt")
    out = texts(await alice.send("/withdraw 6 USDT"))
    assert "@CryptoBot" in out and "You will receive: <b>5.000000 USDT</b>" in out
    assert "Please enter an address" in texts(await alice.send("/withdraw 0.001 BTC"))


async def test_locked_2fa_tells_when(tg, db, alice):
    await enable_2fa(db, ALICE)
    for _ in range(10):
        await db.write(twofa.record_failure, ALICE)
    await alice.send(f"/withdraw 0.001 BTC {ADDR}")
    await alice.tap_button("Confirm")
    out = texts(await alice.send("123456"))
    assert "locked until" in out and "UTC" in out
    assert await available(db) == 1_000_000


async def test_no_secret_or_code_in_logs(tg, db, caplog):
    import logging

    caplog.set_level(logging.DEBUG)
    p = tg.person(333)
    await p.send("/start")
    await p.send("/2fa")
    sent = await p.tap_button("Turn 2FA on")
    secret = [s for s in sent if s.method == "sendPhoto"][0].text.split("<code>")[1].split("</code>")[0]
    code = pyotp.TOTP(secret).now()
    out = texts(await p.send(code))
    backup = out.split("<code>")[1].split("</code>")[0]
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert secret not in logged and code not in logged and backup not in logged


async def test_forged_huge_ids_are_stale_buttons_not_errors(tg, db, alice):
    admin = tg.person(ADMIN)
    await admin.send("/start")
    await alice.send(f"/withdraw 0.001 BTC {ADDR}")
    huge = 10**20  # past any database integer
    for person, forged in ((alice, f"wd:ok:{huge}"), (alice, f"wd:no:{huge}"), (admin, f"po:yes:{huge}")):
        await person.send("/withdrawals" if person is alice else "/payouts")
        sent = await person.tap(forged, alice.tg.session.sent[-1])
        answer = [s for s in sent if s.method == "answerCallbackQuery"]
        assert answer and "no longer valid" in answer[0].text, forged
    admin_sent = await admin.tap(f"po:no:{huge}", tg.session.sent[-1])
    assert "no longer valid" in texts(admin_sent)
    assert await available(db) == 1_000_000


async def test_credit_with_the_code_as_the_whole_reason_keeps_the_code_out_of_the_books(tg, db, alice):
    admin = tg.person(ADMIN)
    await admin.send("/start")
    await admin.send("/deposit 1 BTC float")
    t = await enable_2fa(db, ADMIN)
    code = t.now()
    sent = await admin.send(f"/credit 111 0.0001 BTC code {code}")
    assert "Credited 0.00010000 BTC" in texts(sent)
    assert any(s.method == "deleteMessage" for s in sent)  # the code leaves the chat
    assert await available(db) == 1_010_000
    lines = await db.read(audit.recent, 10)
    assert [a.details.get("reason") for a in lines if a.action == "credit"] == [""]
    assert all(code not in str(a.details) for a in lines)
    entries, _total = await db.read(ledger.history, user_account(ALICE), limit=10)
    assert entries and all(code not in str(e.meta) for e in entries)


async def test_the_max_failures_setting_applies_to_every_guarded_action(tg, db, alice):
    admin = tg.person(ADMIN)
    await admin.send("/start")
    assert "is now 3" in texts(await admin.send("/set twofa.max_failures 3"))
    await alice.send(f"/withdraw 0.005 BTC {ADDR}")
    await alice.tap_button("Confirm")  # waits for approval
    t_alice, t_admin = await enable_2fa(db, ALICE), await enable_2fa(db, ADMIN)
    for _ in range(3):
        await db.write(twofa.record_failure, ALICE)
        await db.write(twofa.record_failure, ADMIN)
    await alice.send(f"/addresses add BTC cold {ADDR}")  # adding an address
    assert "locked until" in texts(await alice.send(t_alice.now()))
    await alice.send("/2fa")  # turning 2FA off
    await alice.tap_button("Turn 2FA off")
    assert "locked until" in texts(await alice.send(t_alice.now()))
    await admin.send("/payouts")  # approving
    await admin.tap_button("Approve")
    assert "locked until" in texts(await admin.send(t_admin.now()))
    assert "locked until" in texts(await admin.send(f"/credit 111 0.0001 BTC x code {t_admin.now()}"))
    assert await db.read(twofa.is_enabled, ALICE)
    assert (await db.read(ledger.balance, user_account(ALICE), "BTC")).held == 500_000
    assert await available(db) == 500_000


async def test_users_and_admins_read_a_rejection_in_their_language(tg, db, alice):
    from aiogram import Bot

    from core.identity.users import set_language
    from core.platform.params import Params
    from jobs.notify import NoticeSender
    from tests.handlers.harness import BOT_TOKEN, RecordingSession

    admin = tg.person(ADMIN, language_code="es")
    await admin.send("/start")
    await db.write(set_language, ALICE, "pt")
    await alice.send(f"/withdraw 0.005 BTC {ADDR}")
    await alice.tap_button("Confirm")
    assert "usuario 111" in texts(await admin.send("/payouts"))
    await admin.tap_button("Rechazar")
    session = RecordingSession()
    await NoticeSender(db, Bot(BOT_TOKEN, session=session), Params(env={})).run_once()
    to_alice = texts([s for s in session.sent if s.chat_id == ALICE])
    assert "um administrador o recusou" in to_alice and "rejected" not in to_alice
    assert await available(db) == 1_000_000


@pytest.mark.parametrize(
    ("asset", "backend"), [("DUST", "cryptopay"), ("DUST", "rpc"), ("USDT", "rpc"), ("TRX", "rpc")]
)
async def test_set_refuses_a_payout_backend_that_cannot_send_the_coin(tg, db, asset, backend):
    admin = tg.person(ADMIN)
    await admin.send("/start")
    out = texts(await admin.send(f"/set payout.backend.{asset} {backend}"))
    assert f"{backend} cannot send {asset}" in out and "manual" in out
    assert tg.dp["params"].get(f"payout.backend.{asset}") == "manual"
    assert await db.read(audit.recent, 10) == []


@pytest.mark.parametrize(
    ("asset", "backend"), [("BTC", "rpc"), ("LTC", "cryptopay"), ("DOGE", "rpc"), ("USDT", "cryptopay")]
)
async def test_set_takes_a_payout_backend_that_sends_the_coin(tg, db, asset, backend):
    admin = tg.person(ADMIN)
    await admin.send("/start")
    assert f"is now {backend}" in texts(await admin.send(f"/set payout.backend.{asset} {backend}"))
    assert tg.dp["params"].get(f"payout.backend.{asset}") == backend


async def test_a_batch_in_doubt_is_shown_to_admins_and_failed_only_with_evidence(tg, db, alice):
    from aiogram import Bot

    from core.platform.params import Params
    from jobs.notify import NoticeSender
    from jobs.payout_backends import RpcBackend
    from jobs.payouts import Payouts
    from tests.fakes.payouts import FakeRpc, serve
    from tests.handlers.harness import BOT_TOKEN, RecordingSession

    admin = tg.person(ADMIN)
    await admin.send("/start")
    await alice.send(f"/withdraw 0.001 BTC {ADDR}")
    await alice.tap_button("Confirm")
    node = FakeRpc()
    node.hold_sends = 1  # the node takes sendmany and answers nothing
    runner, port = await serve(node.app())
    try:
        backend = RpcBackend(f"http://rpc:secret@127.0.0.1:{port}/", timeout=0.5)
        env = {"PAYOUT_BACKEND_BTC": "rpc", "PAYOUT_RECONCILE_AFTER": "0s"}
        job = Payouts(db, Params(env=env), lambda name, asset: backend, admin_ids={ADMIN})
        assert await job.run_once() == {"unknown": 1}
        assert await job.run_once() == {}  # looked up, not found: still unknown
        assert await job.run_once() == {}
        session = RecordingSession()
        await NoticeSender(db, Bot(BOT_TOKEN, session=session), Params(env={})).run_once()
        told = [s.text for s in session.sent if s.chat_id == ADMIN]
        assert len(told) == 1 and "/failed 1" in told[0] and "/paid 1" in told[0]  # once, not per lookup
        assert "Batch 1 · BTC · rpc · 1 withdrawal ·" in texts(await admin.send("/payouts"))
        assert "being checked" in texts(await alice.send("/withdrawals"))
        assert "Usage: /failed" in texts(await admin.send("/failed 1"))
        assert await available(db) == 900_000
        out = texts(await admin.send("/failed 1 node wallet has no transaction with comment payout:BTC:1"))
        assert "1 withdrawal marked failed" in out
        assert await available(db) == 1_000_000
        line = [a for a in await db.read(audit.recent, 5) if a.action == "batch_failed"][0]
        assert line.actor == ADMIN and "no transaction" in line.details["reason"]
        assert "not waiting" in texts(await admin.send("/failed 1 again"))
    finally:
        node.release()
        await runner.cleanup()
