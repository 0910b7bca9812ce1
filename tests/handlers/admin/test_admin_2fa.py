"""Admin commands that move money, change a setting or settle payouts need the admin's 2FA
code when the admin has 2FA on: a stolen Telegram session alone moves nothing."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from core.cashout import withdrawals
from core.identity import twofa
from core.money import ledger
from core.money.accounts import TREASURY, user_account
from core.platform import audit
from core.platform.schema import utcnow
from core.play import crash
from core.play.tables import crash_chains
from handlers.common.commands import ADMIN as ADMIN_COMMANDS
from tests.core.earn.ads_world import ad_world
from tests.handlers.cashout.test_cashout import ADDR, enable_2fa
from tests.handlers.conftest import ADMIN
from tests.handlers.harness import texts
from tests.money import available, fund

ALICE = 111
SALT = "ab" * 32
ASKS = "6-digit code"

READ_ONLY = {
    "admin",
    "params",
    "audit",
    "payouts",
    "review",
    "rates",
    "user",
}  # show, never change (/rates set: test_rates)
# Every other admin command, as an attacker with the admin's session would send it, and the
# audit line it writes once the code is given.
GUARDED = {
    "deposit": ("/deposit 1 BTC top-up", "deposit"),
    "fund": ("/fund house 0.5 BTC", "fund"),
    "credit": ("/credit 111 0.0001 BTC gift", "credit"),
    "debit": ("/debit 111 0.0001 BTC abuse", "debit"),
    "set": ("/set withdraw.auto_approve.BTC 1", "set_param"),
    "paid": ("/paid 1 deadbeef", "batch_sent"),
    "failed": ("/failed 1 lost", "batch_failed"),
    "crashnew": ("/crashnew 925000", "crash_chain"),  # no Bitcoin node: the admin gives the tip
    "crashsalt": (f"/crashsalt {SALT}", "crash_salt"),
    "adreject": ("/adreject 1 spam", "ad_rejected"),  # campaign 1 waits for review (ad_world)
    "invalidview": ("/invalidview 1", "ad_view_invalid"),  # view 1 was paid (ad_world)
    "offerwall": ("/offerwall hold w 1", "offerwall_hold"),
    "broadcast": ("/broadcast News for all", "broadcast_draft"),
    "ban": ("/ban 111 multi-accounting", "user_banned"),
    "unban": ("/unban 111", "user_unbanned"),  # banned before 2FA is on (below)
    "freeze": ("/freeze @alice checking", "user_frozen"),
    "unfreeze": ("/unfreeze 111", "user_unfrozen"),  # frozen before 2FA is on (below)
}


def test_every_admin_command_is_either_read_only_or_tested_here():
    """A new admin command must be listed above, so that this file proves it asks for the code."""
    assert {name for name, _ in ADMIN_COMMANDS} == READ_ONLY | set(GUARDED)


async def world(tg, db):
    """A treasury, a user with money, a manual payout batch and a crash chain with no salt yet."""
    admin = tg.person(ADMIN, first_name="Root", username="root")
    alice = tg.person(ALICE, username="alice")
    await admin.send("/start")
    await alice.send("/start")
    await admin.send("/deposit 10 BTC float")  # no 2FA yet: works at once
    await fund(db, user_account(ALICE), 3_000_000, key="alice")
    await alice.send(f"/withdraw 0.001 BTC {ADDR}")
    await alice.tap_button("Confirm")  # small: approved at once
    from core.platform.params import Params
    from jobs.payout_backends import ManualBackend
    from jobs.payouts import Payouts

    await Payouts(
        db, Params(env={}), lambda name, asset: ManualBackend(tg.bot, frozenset({ADMIN}))
    ).run_once()
    await admin.send("/set crash.chain_length 10")
    await ad_world(db)
    return admin, alice


async def snapshot(db, tg):
    actions = [a.action for a in await db.read(audit.recent, 100)]
    money = [
        await available(db, TREASURY),
        await available(db, "house"),
        await available(db, user_account(ALICE)),
    ]
    chain = await db.read(crash.latest_chain)
    return actions, money, chain, tg.dp["params"].get("withdraw.auto_approve.BTC")


def committed_block_can_exist(conn):  # as if the commitment had been posted an hour ago
    conn.execute(update(crash_chains).values(salt_after=utcnow() - timedelta(minutes=54)))


def next_code(t, steps=0):
    return t.at(datetime.now(UTC) + timedelta(seconds=30 * steps))


@pytest.mark.parametrize("name", sorted(GUARDED))
async def test_a_stolen_session_without_the_code_changes_nothing(tg, db, name):
    command, action = GUARDED[name]
    admin, _alice = await world(tg, db)
    if name == "crashsalt":
        await admin.send("/crashnew 925000")
        await db.write(committed_block_can_exist)
    if name == "offerwall":
        await admin.send("/offerwall add cpx w 123 s3cret DOGE 0.00001")
    if name in ("unban", "unfreeze"):
        await admin.send(f"/{name[2:]} 111 abuse")
    t = await enable_2fa(db, ADMIN)
    before = await snapshot(db, tg)

    prompt = texts(await admin.send(command))
    assert ASKS in prompt and f"It confirms: <code>{command}</code>" in prompt  # what the code will do
    assert await snapshot(db, tg) == before
    assert "wrong" in texts(await admin.send("000000"))
    assert await snapshot(db, tg) == before
    assert "wrong" in texts(await admin.send(f"{command} code 000000"))  # the code typed inline
    assert await snapshot(db, tg) == before
    assert await db.read(ledger.check_invariants) == []

    await admin.send(command)
    out = texts(await admin.send(next_code(t)))
    assert "wrong" not in out and ASKS not in out, out
    actions = [a.action for a in await db.read(audit.recent, 100)]
    assert actions[0] == action and actions[1:] == before[0]


@pytest.mark.parametrize("name", ["deposit", "set", "crashnew"])
async def test_the_code_typed_with_the_command_works_once(tg, db, name):
    command, action = GUARDED[name]
    admin, _alice = await world(tg, db)
    t = await enable_2fa(db, ADMIN)
    code = next_code(t)
    sent = await admin.send(f"{command} code {code}")
    assert any(s.method == "deleteMessage" for s in sent)  # the code leaves the chat
    assert [a.action for a in await db.read(audit.recent, 1)] == [action]
    assert all(code not in str(a.details) for a in await db.read(audit.recent, 100))
    done = await db.read(audit.recent, 100)
    await admin.send(f"{command} code {code}")  # the same code again: refused, nothing more done
    assert await db.read(audit.recent, 100) == done
    if name != "crashnew":  # /crashnew refuses first: the chain still has games to play
        assert "wrong" in texts(await admin.send(f"{command} code {code}"))


async def test_the_code_of_a_former_admin_does_nothing(tg, db):
    """ADMIN_IDS changed between the command and the code: the code is not even looked at."""
    admin, _alice = await world(tg, db)
    t = await enable_2fa(db, ADMIN)
    before = await snapshot(db, tg)
    assert ASKS in texts(await admin.send("/deposit 5 BTC bye"))
    tg.dp["admin_ids"] = frozenset()
    out = texts(await admin.send(next_code(t)))
    assert "Only admins" in out
    assert await snapshot(db, tg) == before
    tg.dp["admin_ids"] = frozenset({ADMIN})
    assert "Recorded a deposit" in texts(await admin.send(f"/deposit 5 BTC back code {next_code(t)}"))


async def test_approving_and_rejecting_payouts_need_the_code_of_a_current_admin(tg, db):
    admin, alice = await world(tg, db)
    await alice.send(f"/withdraw 0.005 BTC {ADDR}")
    await alice.tap_button("Confirm")  # big: waits for approval
    await alice.send(f"/withdraw 0.006 BTC {ADDR}")
    await alice.tap_button("Confirm")
    t = await enable_2fa(db, ADMIN)
    waiting = lambda: db.read(withdrawals.awaiting_approval)  # noqa: E731
    assert len(await waiting()) == 2

    await admin.send("/payouts")
    assert "It confirms: <code>reject withdrawal #" in texts(await admin.tap_button("Reject"))
    assert "wrong" in texts(await admin.send("000000"))
    assert len(await waiting()) == 2
    await admin.send("/payouts")
    assert ASKS in texts(await admin.tap_button("Reject"))
    assert "rejected" in texts(await admin.send(next_code(t)))
    assert len(await waiting()) == 1

    await admin.send("/payouts")
    assert ASKS in texts(await admin.tap_button("Approve"))
    tg.dp["admin_ids"] = frozenset()
    assert "Only admins" in texts(await admin.send(next_code(t, 1)))
    assert len(await waiting()) == 1


async def test_admin_without_2fa_is_told_to_turn_it_on(tg, db):
    admin = tg.person(ADMIN)
    await admin.send("/start")
    assert "/2fa" in texts(await admin.send("/admin"))
    await enable_2fa(db, ADMIN)
    out = texts(await admin.send("/admin"))
    assert "Users:" in out and "/2fa" not in out


async def test_without_2fa_the_commands_work_at_once(tg, db):
    admin, _alice = await world(tg, db)
    assert not await db.read(twofa.is_enabled, ADMIN)
    assert "Recorded a deposit" in texts(await admin.send("/deposit 1 BTC more"))
    assert "to house" in texts(await admin.send("/fund house 0.5 BTC"))
