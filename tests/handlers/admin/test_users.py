"""Admin: users, through the real dispatcher: /user, Ban / Unban, Freeze / Unfreeze (buttons and
typed, with 2FA), what a banned or frozen user can and cannot do, /appeal, and who blocked the bot."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core import ops
from core.cashout import withdrawals
from core.earn import referrals
from core.money import ledger
from core.money.accounts import FAUCET_POOL, user_account
from core.platform import audit
from core.platform.schema import notices
from tests.handlers.admin.test_admin_2fa import next_code
from tests.handlers.cashout.test_cashout import ADDR, enable_2fa
from tests.handlers.conftest import ADMIN
from tests.handlers.earn.test_faucet import open_captcha
from tests.handlers.harness import texts
from tests.money import available, fund
from tests.play import setup_money

ALICE, BOB = 111, 222
BANNED = "Your account is banned: multi-accounting"
FROZEN = "Your withdrawals are frozen"


async def people(tg, db):
    admin = tg.person(ADMIN, first_name="Root", username="root")
    alice = tg.person(ALICE, username="alice")
    bob = tg.person(BOB, first_name="Bob", username="bob")
    for p in (admin, alice, bob):
        await p.send("/start")
    return admin, alice, bob


async def actions(db) -> list[str]:
    return [a.action for a in await db.read(audit.recent, 100)]


async def balances(db, owner=None) -> dict:
    got = await db.read(ledger.balances, owner or user_account(ALICE))
    return {k: (b.balance, b.held) for k, b in got.items()}


async def notices_to(db, chat_id: int, template: str) -> list:
    def read(conn):
        q = select(notices.c.params).where(notices.c.chat_id == chat_id, notices.c.template == template)
        return conn.execute(q).scalars().all()

    return await db.read(read)


def everything(sent) -> str:
    """Messages, edits and the answers to taps (alerts)."""
    return texts(sent) + " ".join(
        s.params.get("text") or "" for s in sent if s.method == "answerCallbackQuery"
    )


# --- /user ----------------------------------------------------------------------------------


async def test_user_card_shows_money_flags_referrals_and_audit(tg, db):
    admin, alice, _bob = await people(tg, db)
    carol = tg.person(333, username="carol")
    await carol.send(f"/start {referrals.invite_code(ALICE)}")
    await fund(db, user_account(ALICE), 2_000_000, key="a")
    await admin.send("/deposit 1 BTC float")
    await admin.send("/credit @alice 0.0001 BTC welcome")
    await alice.send(f"/withdraw 0.002 BTC {ADDR}")
    await alice.tap_button("Confirm")  # over the auto-approve limit: waits for an admin
    out = texts(await admin.send("/user @alice"))
    assert "<b>User 111</b> @alice" in out
    assert "✅ Not banned, withdrawals open." in out and "2FA: off" in out
    assert "0.02010000 BTC (held: 0.00200000 BTC)" in out  # balance and hold
    assert "Withdrawals waiting for an admin (/payouts): #1" in out
    assert (
        "Came in, by source</b>\nCredit from the Dustpan team: 0.00010000 BTC\nPool funding: 0.02000000 BTC"
        in out
    )
    assert "Recent transfers" in out
    assert "Invited 1 (0 active)." in out
    assert "credited 0.00010000 BTC to user 111: welcome" in out  # the audit lines about them
    assert "Invited by 111." in texts(await admin.send("/user @carol"))
    buttons = [b for b, _ in tg.last_with_buttons(ADMIN).buttons()]
    assert buttons == ["⛔ Ban", "🧊 Freeze withdrawals"]


@pytest.mark.parametrize(
    ("typed", "answer"),
    [
        ("/user", "Usage: /user ID or /user @username"),
        ("/user   ", "Usage: /user ID or /user @username"),
        ("/user abc", "That is not a user"),
        ("/user -5", "That is not a user"),
        ("/user @", "That is not a user"),
        ("/user 0", "That is not a user"),
        ("/user 99999999999999999999", "That is not a user"),
        ("/user 424242", "No user “424242” here"),
        ("/user @nobody_here", "No user “@nobody_here” here"),
    ],
)
async def test_user_bad_input(tg, db, typed, answer):
    admin, _alice, _bob = await people(tg, db)
    before = await actions(db)
    out = texts(await admin.send(typed))
    assert answer in out, out
    assert await actions(db) == before


async def test_user_is_an_unknown_command_for_others(tg, db):
    _admin, alice, _bob = await people(tg, db)
    assert "don't know that command" in texts(await alice.send("/user 222"))
    assert "don't know that command" in texts(await alice.send("/ban 222 spam"))


# --- typed actions --------------------------------------------------------------------------


async def test_typed_ban_unban_freeze_unfreeze_and_refusals(tg, db):
    admin, alice, _bob = await people(tg, db)
    await fund(db, user_account(ALICE), 1_000_000, key="a")
    money = await balances(db)
    before = await actions(db)
    for typed, answer in [
        ("/ban", "Usage: /ban USER REASON"),
        ("/ban @alice", "Say why"),
        ("/ban -5 spam", "That is not a user"),
        ("/ban 424242 spam", "No user “424242” here"),
        (f"/ban {ADMIN} oops", "You cannot ban or freeze yourself"),
        (f"/freeze {ADMIN}", "You cannot ban or freeze yourself"),
        ("/unban @alice", "User 111 is not banned"),
        ("/unfreeze @alice", "User 111's withdrawals are not frozen"),
    ]:
        assert answer in texts(await admin.send(typed)), typed
    assert await actions(db) == before

    assert "User 111 is banned" in texts(await admin.send("/ban @alice multi-accounting"))
    assert "User 111 is already banned" in texts(await admin.send("/ban 111 again"))
    assert await actions(db) == ["user_banned", *before]  # the second ban changed nothing
    line = (await db.read(audit.recent, 1))[0]
    assert (line.actor, line.target, line.details["reason"]) == (ADMIN, "111", "multi-accounting")
    assert len(await notices_to(db, ALICE, "moderation")) == 1  # told once
    assert "⛔ Banned since" in texts(await admin.send("/user 111"))
    assert "User 111 is no longer banned" in texts(await admin.send("/unban 111"))
    assert "User 111's withdrawals are frozen" in texts(await admin.send("/freeze 111"))
    assert "already frozen" in texts(await admin.send("/freeze @alice card fraud"))
    assert "no longer frozen" in texts(await admin.send("/unfreeze @alice"))
    assert await actions(db) == ["user_unfrozen", "user_frozen", "user_unbanned", "user_banned", *before]
    assert await balances(db) == money  # the balance is never touched


async def test_banning_an_admin_is_refused_in_core(db):
    from core.identity.users import upsert_user
    from core.ops import moderation

    await db.write(upsert_user, id=7, username=None, first_name="Other admin", language_code="en")
    with pytest.raises(moderation.ModerationError) as e:
        await db.write(moderation.ban, 1, "7", "x", admin_ids={1, 7})
    assert e.value.reason == "cannot_restrict_admin"
    with pytest.raises(moderation.ModerationError) as e:
        await db.write(moderation.freeze, 1, "7", "", admin_ids={1, 7})
    assert e.value.reason == "cannot_restrict_admin"
    assert await db.read(audit.recent, 10) == []


# --- buttons, with and without 2FA ------------------------------------------------------------


async def test_ban_button_asks_the_reason_with_cancel(tg, db):
    admin, alice, _bob = await people(tg, db)
    await admin.send("/user 111")
    prompt = await admin.tap_button("Ban")
    assert "Why is user 111 banned?" in texts(prompt)
    assert any("Cancel" in b for s in prompt for b, _ in s.buttons())
    assert "Cancelled. Nothing was changed." in texts(await admin.tap_button("Cancel"))
    assert await actions(db) == []
    await admin.send("/user 111")
    await admin.tap_button("Ban")
    out = await admin.send("multi-accounting")
    assert "User 111 is banned" in texts(out)
    assert "⛔ Banned since" in texts(out)  # the card is edited in place
    assert await actions(db) == ["user_banned"]
    buttons = [b for b, _ in tg.last_with_buttons(ADMIN).buttons()]
    assert "✅ Unban" in buttons
    assert BANNED in texts(await alice.send("/dice 0.0001 BTC over 50"))


async def test_buttons_with_2fa_and_a_stolen_session(tg, db):
    admin, alice, _bob = await people(tg, db)
    t = await enable_2fa(db, ADMIN)
    await admin.send("/user 111")
    assert "6-digit code" in texts(await admin.tap_button("Freeze withdrawals"))
    assert "wrong" in texts(await admin.send("000000"))  # the thief's guess
    assert [a for a in await actions(db) if a.startswith("user_")] == []
    await admin.send("/user 111")
    await admin.tap_button("Freeze withdrawals")
    assert "withdrawals are frozen" in texts(await admin.send(next_code(t)))
    await admin.send("/user 111")
    await admin.tap_button("Ban")
    asked = texts(await admin.send("multi-accounting"))
    assert "6-digit code" in asked and "ban user 111" in asked
    assert "User 111 is banned" in texts(await admin.send(next_code(t, 1)))
    assert [a for a in await actions(db) if a.startswith("user_")] == ["user_banned", "user_frozen"]
    # typed, without the code: asked for it, nothing changes
    assert "6-digit code" in texts(await admin.send("/unban 111"))
    assert "⛔ Banned since" in texts(await admin.send("/user 111"))


# --- what a banned or frozen user can do ------------------------------------------------------

REFUSED_WHEN_BANNED = [
    "/dice 0.0001 DOGE over 50",
    "/limbo 0.0001 DOGE 2",
    "/plinko 0.0001 DOGE 8 low",
    "/crash 0.0001 DOGE",
    "/swap 10 DOGE BTC",
    "/sweep BTC",
    "/send 10 DOGE @bob",
    "/check 10 DOGE",
    "/withdraw 10 DOGE DH5yaieqoZN36fDVciNyRueRGvGLR3mr7L",
    "/daily",
]


@pytest.mark.parametrize("typed", REFUSED_WHEN_BANNED)
async def test_a_banned_user_is_refused_and_keeps_the_balance(tg, db, typed):
    admin, alice, _bob = await people(tg, db)
    await setup_money(db, {ALICE: 10**10})
    await admin.send("/ban @alice multi-accounting")
    money = await balances(db)
    out = texts(await alice.send(typed))
    assert BANNED in out and "/appeal" in out, out
    assert await balances(db) == money


async def test_a_banned_user_still_reads_their_wallet(tg, db):
    admin, alice, _bob = await people(tg, db)
    await setup_money(db, {ALICE: 10**10})
    await admin.send("/ban @alice multi-accounting")
    assert "DOGE" in texts(await alice.send("/balance"))
    assert "banned" not in texts(await alice.send("/start"))
    assert "/appeal" in texts(await alice.send("/help"))


async def test_frozen_stops_withdrawals_and_sends_not_games(tg, db):
    admin, alice, _bob = await people(tg, db)
    await setup_money(db, {ALICE: 10**10})
    await admin.send("/freeze @alice card fraud")
    money = await balances(db)
    assert FROZEN in texts(await alice.send("/withdraw 10 DOGE DH5yaieqoZN36fDVciNyRueRGvGLR3mr7L"))
    assert FROZEN in texts(await alice.send("/send 10 DOGE @bob"))
    assert await balances(db) == money
    assert FROZEN not in texts(await alice.send("/dice 0.0001 DOGE over 50"))


async def test_a_captcha_shown_before_the_ban_pays_nothing_after(tg, db):
    await fund(db, FAUCET_POOL, 100_000)
    admin, alice, _bob = await people(tg, db)
    _msg, target = await open_captcha(alice, db)
    await admin.send("/ban @alice multi-accounting")
    out = await alice.tap_button(target)
    assert BANNED in everything(out)
    assert await available(db, user_account(ALICE)) == 0
    assert await available(db, FAUCET_POOL) == 100_000
    await alice.send("/faucet")
    assert BANNED in everything(await alice.tap_button("BTC"))  # no new puzzle either


async def test_a_ban_holds_a_withdrawal_in_flight(tg, db):
    admin, alice, _bob = await people(tg, db)
    await fund(db, user_account(ALICE), 3_000_000, key="a")
    await alice.send(f"/withdraw 0.001 BTC {ADDR}")
    await alice.tap_button("Confirm")  # small: approved at once
    [w] = await db.read(withdrawals.list_for_user, ALICE)
    assert w.state == "approved"
    out = texts(await admin.send("/ban @alice multi-accounting"))
    assert f"Held for review in /payouts: #{w.id}" in out
    [w] = await db.read(withdrawals.list_for_user, ALICE)
    assert w.state == "requested"  # back in the approval queue; the payout job batches only approved
    assert await balances(db) == {"BTC": (3_000_000, 100_000)}  # still reserved, nothing lost
    assert f"#{w.id}" in texts(await admin.send("/payouts"))
    out = texts(await admin.send("/unban @alice"))
    assert "stay in /payouts" in out
    [w] = await db.read(withdrawals.list_for_user, ALICE)
    assert w.state == "requested"  # unbanning releases nothing
    await admin.tap_button(f"Reject #{w.id}")
    assert await balances(db) == {"BTC": (3_000_000, 0)}  # the reserve came back through the ledger


# --- /appeal --------------------------------------------------------------------------------


async def test_appeal(tg, db):
    admin, alice, bob = await people(tg, db)
    assert "nothing to appeal" in texts(await bob.send("/appeal let me in"))
    await admin.send("/ban @alice multi-accounting")
    assert "Write your appeal after the command" in texts(await alice.send("/appeal"))
    assert "too long" in texts(await alice.send("/appeal " + "x" * 1001))
    assert "sent to the admins" in texts(await alice.send("/appeal I share a phone with my brother"))
    [sent] = await notices_to(db, ADMIN, "appeal")
    assert "brother" in sent
    assert "appeal again in" in texts(await alice.send("/appeal please"))
    assert len(await notices_to(db, ADMIN, "appeal")) == 1
    assert (await db.read(audit.recent, 1))[0].action == "appeal"


async def test_the_ban_notice_is_in_the_users_language(tg, db):
    import jobs

    admin, _alice, _bob = await people(tg, db)
    tg.person(333, language_code="es")
    await tg.person(333, language_code="es").send("/start")
    await admin.send("/ban 333 spam")
    [params] = await notices_to(db, 333, "moderation")
    import json

    text = jobs.texts().notice("es", "moderation", json.loads(params))
    assert "spam" in text and "/appeal" in text and "Your balance is kept" not in text


# --- who blocked the bot ----------------------------------------------------------------------


async def test_blocked_users_are_counted_apart_and_writing_again_clears_it(tg, db, monkeypatch):
    import time
    from types import SimpleNamespace

    import handlers.middlewares

    admin, alice, _bob = await people(tg, db)
    await db.write(ops.mark_blocked, ALICE)
    out = texts(await admin.send("/admin"))
    assert "Users: 3" in out and "Blocked the bot: 1" in out and "Active: 2 in 24 h, 2 in 7 days" in out
    assert "Blocked the bot" in texts(await admin.send("/user 111"))
    later = time.monotonic() + 120  # the registration cache writes a known user at most once a minute
    monkeypatch.setattr(handlers.middlewares, "time", SimpleNamespace(monotonic=lambda: later))
    await alice.send("/balance")
    out = texts(await admin.send("/admin"))
    assert "Blocked the bot: 0" in out and "Active: 3 in 24 h" in out


async def test_a_banned_user_cannot_claim_a_check(tg, db):
    import re

    admin, alice, bob = await people(tg, db)
    await setup_money(db, {BOB: 10**10})
    link = re.search(r"start=(c[A-Za-z0-9_-]{16})", texts(await bob.send("/check 1 DOGE"))).group(1)
    await admin.send("/ban @alice multi-accounting")
    money = await balances(db)
    assert BANNED in texts(await alice.send(f"/start {link}"))
    assert await balances(db) == money
