"""Issue 12, items 9 and 11 through the real dispatcher: pickers offer only what can be used;
withdrawal messages edit in place; state notices edit one message per withdrawal."""

from __future__ import annotations

from aiogram import Bot

from core.money.accounts import FAUCET_POOL
from core.platform.params import Params
from jobs.notify import NoticeSender
from tests.handlers.conftest import ADMIN
from tests.handlers.harness import BOT_TOKEN, RecordingSession, texts
from tests.handlers.home.test_wallet import pay
from tests.money import fund

A = 111
ADDR = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"


def labels(sent) -> list[str]:
    return [b[0] for s in sent for b in s.buttons()]


async def test_withdraw_picker_lists_only_coins_with_enough(tg, db):
    alice = tg.person(A)
    await alice.send("/start")
    none = (await alice.send("/withdraw"))[0]
    assert "No coin has enough for a withdrawal yet" in none.text and "🚰 Faucet" in labels([none])
    await pay(db, A, 1_000_000)  # 0.01 BTC: above the 0.0001 BTC minimum
    await pay(db, A, 100_000_000, asset="DOGE", key="doge")  # 1 DOGE: below the 5 DOGE minimum
    picker = (await alice.send("/withdraw"))[0]
    names = labels([picker])
    assert any(n.startswith("BTC · 0.01000000 BTC") for n in names)
    assert not any(n.startswith("DOGE") for n in names) and not any(n.startswith("LTC") for n in names)


async def test_faucet_picker_marks_dry_coins(tg, db):
    await fund(db, FAUCET_POOL, 10**8, "DOGE", key="pool")
    alice = tg.person(A)
    names = labels(await alice.send("/faucet"))
    assert any(n.startswith("DOGE · ") for n in names)
    assert "🏜 BTC · dry" in names and "🏜 LTC · dry" in names
    alert = [s for s in await alice.tap_button("BTC · dry") if s.method == "answerCallbackQuery"][0]
    assert "dry right now" in alert.text and alert.params.get("show_alert")


async def test_confirm_and_cancel_edit_the_quote_in_place(tg, db):
    alice = tg.person(A)
    await alice.send("/start")
    await pay(db, A, 1_000_000)
    quote = (await alice.send(f"/withdraw 0.001 BTC {ADDR}"))[0]
    sent = await alice.tap_button("Confirm")
    assert not [s for s in sent if s.method == "sendMessage"]  # one message, not two
    (edit,) = [s for s in sent if s.method == "editMessageText"]
    assert edit.message_id == quote.message_id and "confirmed" in edit.text and edit.markup is None
    quote = (await alice.send(f"/withdraw 0.002 BTC {ADDR}"))[0]
    sent = await alice.tap_button("Cancel")
    assert not [s for s in sent if s.method == "sendMessage"]
    (edit,) = [s for s in sent if s.method == "editMessageText"]
    assert edit.message_id == quote.message_id and "cancelled" in edit.text and edit.markup is None


async def test_lists_are_redrawn_after_an_action_and_a_failure_shows_its_reason(tg, db):
    admin = tg.person(ADMIN, username="root")
    await admin.send("/start")
    alice = tg.person(A)
    await alice.send("/start")
    await pay(db, A, 10_000_000)
    for value in ("0.005", "0.006", "0.007"):  # above auto-approval: they wait for an admin
        await alice.send(f"/withdraw {value} BTC {ADDR}")
        await alice.tap_button("Confirm")
    listing = (await alice.send("/withdrawals"))[0]
    assert len([n for n in labels([listing]) if n.startswith("Cancel #")]) == 3
    sent = await alice.tap_button("Cancel #3")
    (edit,) = [s for s in sent if s.method == "editMessageText"]
    assert edit.message_id == listing.message_id and "Cancel #3" not in labels([edit])
    assert "Cancel #2" in labels([edit]) and "#3 · " in edit.text and "cancelled" in edit.text
    payouts = (await admin.send("/payouts"))[-1]
    assert "Approve #1" in labels([payouts]) and "Reject #2" in labels([payouts])
    sent = await admin.tap_button("Approve #1")
    (edit,) = [s for s in sent if s.method == "editMessageText"]
    assert edit.message_id == payouts.message_id and "Withdrawal #1 approved." in edit.text
    assert "Approve #1" not in labels([edit]) and "Reject #2" in labels([edit])  # no stale button
    sent = await admin.tap_button("Reject #2")
    (edit,) = [s for s in sent if s.method == "editMessageText"]
    assert "rejected" in edit.text and edit.markup is None and "No withdrawals are waiting" in edit.text
    out = texts(await alice.send("/withdrawals"))
    assert "#2 · " in out and "Reason: an admin rejected it" in out


async def test_state_notices_edit_one_message_per_withdrawal(tg, db):
    admin = tg.person(ADMIN, username="root")
    await admin.send("/start")
    alice = tg.person(A)
    await alice.send("/start")
    await pay(db, A, 10_000_000)
    await alice.send(f"/withdraw 0.005 BTC {ADDR}")
    await alice.tap_button("Confirm")
    session = RecordingSession()
    sender = NoticeSender(db, Bot(BOT_TOKEN, session=session), Params(env={}), sleep=_no_sleep)
    await sender.run_once()
    await admin.send("/payouts")
    await admin.tap_button("Reject #1")
    await sender.run_once()
    to_alice = [s for s in session.sent if s.chat_id == A]
    assert [s.method for s in to_alice] == ["sendMessage", "editMessageText"]
    first, second = to_alice
    assert "waiting for approval" in first.text
    assert second.message_id == first.message_id and "failed" in second.text and "rejected" in second.text


async def _no_sleep(seconds: float) -> None:  # float ok: seconds
    return None


async def test_after_a_typed_2fa_code_the_quote_and_the_list_lose_their_buttons(tg, db):
    from tests.handlers.cashout.test_cashout import enable_2fa

    admin = tg.person(ADMIN, username="root")
    await admin.send("/start")
    alice = tg.person(A)
    await alice.send("/start")
    await pay(db, A, 10_000_000)
    totp_a, totp_admin = await enable_2fa(db, A), await enable_2fa(db, ADMIN)
    quote = (await alice.send(f"/withdraw 0.005 BTC {ADDR}"))[0]
    await alice.tap_button("Confirm")
    sent = await alice.send(totp_a.now())
    (edit,) = [s for s in sent if s.method == "editMessageText"]
    assert edit.message_id == quote.message_id and edit.markup is None and "confirmed" in edit.text
    listing = (await admin.send("/payouts"))[-1]
    await admin.tap_button("Approve #1")
    sent = await admin.send(totp_admin.now())
    assert "approved" in texts(sent)
    (edit,) = [s for s in sent if s.method == "editMessageText"]
    assert edit.message_id == listing.message_id and "Approve #1" not in labels([edit])
