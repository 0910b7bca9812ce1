"""Admin commands: ledger transfers with audit lines; invisible to everyone else."""

import asyncio

import pytest

from core.money import ledger
from core.money.accounts import FAUCET_POOL, TREASURY, WORLD, user_account
from core.platform import audit
from tests.handlers.conftest import ADMIN
from tests.handlers.harness import texts

ALICE = 111


async def available(db, owner, asset="BTC"):
    return (await db.read(ledger.balance, owner, asset)).available


@pytest.fixture
async def admin(tg):
    person = tg.person(ADMIN, first_name="Root", username="root")
    await person.send("/start")
    return person


async def test_deposit_fund_credit_debit_move_money_and_are_audited(tg, db, admin):
    await tg.person(ALICE, username="alice").send("/start")
    assert "Recorded a deposit of 1.00000000 BTC" in texts(await admin.send("/deposit 1 BTC cold wallet"))
    assert await available(db, TREASURY) == 100_000_000
    assert (await db.read(ledger.balance, WORLD, "BTC")).balance == -100_000_000

    assert "to faucet_pool" in texts(await admin.send("/fund faucet_pool 0.25 BTC"))
    assert await available(db, FAUCET_POOL) == 25_000_000

    assert "Credited 0.00010000 BTC to user 111" in texts(
        await admin.send("/credit @alice 0.0001 BTC welcome gift")
    )
    assert "Debited 0.00005000 BTC from user 111" in texts(await admin.send("/debit 111 0,00005 BTC abuse"))
    assert "Credited 0.00000001 BTC" in texts(
        await admin.send("/credit 111 0.00000001 BTC")
    )  # reason optional
    await admin.send("/debit 111 0.00000001 BTC")
    assert await available(db, user_account(ALICE)) == 5_000

    lines = await db.read(audit.recent, 10)
    assert [a.action for a in lines] == ["debit", "credit", "debit", "credit", "fund", "deposit"]
    assert all(a.actor == ADMIN for a in lines)
    assert lines[3].details["reason"] == "welcome gift"


async def test_admin_sees_stats(tg, db, admin):
    await admin.send("/deposit 2 DOGE test")
    await tg.person(ALICE).send("/start")
    await admin.send("/credit 111 0.5 DOGE hello")
    out = texts(await admin.send("/admin"))
    assert "Users: 2" in out
    assert "0.50000000 DOGE" in out  # owed to users
    assert "treasury: 1.50000000 DOGE" in out and "world: -2.00000000 DOGE" in out
    assert "house: 0" in out and "withdrawals_pending: 0" in out  # every system account is listed


async def test_non_admin_gets_the_unknown_command_reply(tg, db):
    alice = tg.person(ALICE)
    unknown = texts(await alice.send("/definitely_not_a_command"))
    for cmd in (
        "/admin",
        "/deposit 1 BTC x",
        "/fund house 1 BTC",
        "/credit 111 1 BTC x",
        "/debit 111 1 BTC x",
        "/set a b",
    ):
        assert texts(await alice.send(cmd)) == unknown
    assert await available(db, TREASURY) == 0
    assert await db.read(audit.recent, 10) == []


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("/deposit", "Usage: /deposit"),
        ("/deposit 1", "Usage: /deposit"),
        ("/deposit -1 BTC x", "must be positive"),
        ("/deposit 0 BTC x", "greater than zero"),
        ("/deposit 1e-8 BTC x", "not with an exponent"),
        ("/deposit NaN BTC x", "not an amount"),
        ("/deposit 0x10 BTC x", "not an amount"),
        ("/deposit 0.000000001 BTC x", "at most 8 decimal places"),
        ("/deposit 1 XRP x", "Unknown coin"),
        ("/fund casino 1 BTC", "Unknown account"),
        ("/fund world 1 BTC", "Unknown account"),
        ("/fund house 1 BTC", "Not enough BTC"),
        ("/credit @nobody 1 BTC x", "No user"),
        ("/credit 111 1 BTC x", "Not enough BTC"),
        ("/debit 111 1 BTC x", "Not enough BTC"),
        ("/set nope 1", "no setting called"),
        ("/set payout.backend.BTC cryptopy", "is not a valid value"),  # a typo, not a fallback
        ("/set payout.backend.BTC Manual", "is not a valid value"),
        ("/set cashout.network mainet", "is not a valid value"),
    ],
)
async def test_bad_admin_input_changes_nothing(tg, db, admin, command, expected):
    await tg.person(ALICE).send("/start")
    assert expected in texts(await admin.send(command))
    assert await db.read(ledger.check_invariants) == []
    assert await available(db, TREASURY) == 0
    assert await db.read(audit.recent, 10) == []


async def test_retried_admin_update_moves_money_once(tg, db, admin):
    """Telegram redelivers the same update (same message id) twice at once: one deposit."""
    from datetime import UTC, datetime

    from aiogram.types import Chat, Message, MessageEntity, Update

    msg = Message(
        message_id=77,
        date=datetime.now(UTC),
        chat=Chat(id=ADMIN, type="private"),
        from_user=admin.user,
        text="/deposit 1 BTC retry",
        entities=[MessageEntity(type="bot_command", offset=0, length=8)],
    )
    await asyncio.gather(*(tg.feed(Update(update_id=500, message=msg)) for _ in range(5)))
    assert await available(db, TREASURY) == 100_000_000
    assert len([a for a in await db.read(audit.recent, 10) if a.action == "deposit"]) == 1


async def test_help_lists_admin_commands_only_for_admins(tg, admin):
    assert "/deposit" in texts(await admin.send("/help"))
    assert "/deposit" not in texts(await tg.person(ALICE).send("/help"))


async def test_a_setting_from_a_list_of_choices(tg, db, admin):
    params = tg.dp["params"]
    assert "payout.backend.BTC is now rpc" in texts(await admin.send("/set payout.backend.BTC rpc"))
    assert params.get("payout.backend.BTC") == "rpc"
    assert "cashout.network is now testnet" in texts(await admin.send("/set cashout.network testnet"))
    assert "not a valid value" in texts(await admin.send("/set cashout.network regtest"))
    assert params.get("cashout.network") == "testnet"


async def test_a_setting_is_in_force_only_once_it_is_stored(tg, db):
    params = tg.dp["params"]

    def set_then_fail(conn):
        params.set(conn, "payout.batch_size", "7", admin_id=ADMIN)
        raise RuntimeError("something after it refuses: the transaction rolls back")

    with pytest.raises(RuntimeError):
        await db.write(set_then_fail)
    assert params.get("payout.batch_size") == 500
    await params.refresh(db, force=True)
    assert params.get("payout.batch_size") == 500
    assert await db.read(audit.recent, 10) == []


def group_message(person, text, message_id=5):
    from datetime import UTC, datetime

    from aiogram.types import Chat, Message, MessageEntity, Update

    msg = Message(
        message_id=message_id,
        date=datetime.now(UTC),
        chat=Chat(id=-100123, type="supergroup", title="Team"),
        from_user=person.user,
        text=text,
        entities=[MessageEntity(type="bot_command", offset=0, length=len(text.split()[0]))],
    )
    return Update(update_id=person.tg.next_update_id(), message=msg)


async def test_admin_commands_do_nothing_in_a_group(tg, db, admin):
    """In a group the chat is not the admin: no 2FA of the group's to pass, no group id as actor."""
    await tg.person(ALICE).send("/start")
    await admin.send("/deposit 1 BTC float")
    for n, command in enumerate(
        ("/credit 111 0.0001 BTC gift", "/deposit 1 BTC x", "/set payout.batch_size 3")
    ):
        sent = await tg.feed(group_message(admin, command, message_id=10 + n))
        assert not [s for s in sent if s.method == "sendMessage"], command
    assert await available(db, user_account(ALICE)) == 0
    assert [a.action for a in await db.read(audit.recent, 10)] == ["deposit"]
    assert tg.dp["params"].get("payout.batch_size") == 500


async def test_credit_by_username_reaches_its_current_holder(tg, db, admin):
    await tg.person(ALICE, username="alice").send("/start")
    await tg.person(222, first_name="Bob", username="Alice").send("/start")  # @alice is Bob's now
    await admin.send("/deposit 1 BTC float")
    assert "Credited 0.00010000 BTC to user 222" in texts(await admin.send("/credit @alice 0.0001 BTC gift"))
    assert await available(db, user_account(222)) == 10_000
    assert await available(db, user_account(ALICE)) == 0


async def test_ten_maximal_deposits_get_a_clear_refusal_and_the_books_stay_whole(tg, db, admin):
    """10,000,000,000 BTC is the largest amount /deposit takes; ten of them would pass what a
    balance can hold (SQLite stored a float, PostgreSQL refused with an error)."""
    from jobs import ledger_check

    answers = [texts(await admin.send("/deposit 10000000000 BTC top-up")) for _ in range(10)]
    assert "Recorded a deposit of 10000000000.00000000 BTC" in answers[0]
    for answer in answers[1:]:
        assert "past the largest balance an account may hold (10000000000.00000000 BTC)" in answer, answer
        assert "Nothing was changed" in answer
    assert (await db.read(ledger.balance, WORLD, "BTC")).balance == -(10**18)
    assert await available(db, TREASURY) == 10**18
    assert await ledger_check.run(db, tg.bot, frozenset({ADMIN})) == []
    assert [a.action for a in await db.read(audit.recent, 20)] == ["deposit"]


async def test_admin_shows_who_holds_each_job_and_since_when(tg, db, admin):
    from datetime import timedelta

    from core.platform import leases
    from core.platform.schema import utcnow

    first = utcnow() - timedelta(minutes=5)
    await db.write(leases.acquire, "payouts", "host-a:1234abcd:0", 30, now=first)
    await db.write(leases.acquire, "payouts", "host-a:1234abcd:0", 30)  # renewed: still held since `first`
    await db.write(leases.acquire, "notify", "host-b:99ff00aa:1", 30, now=first)
    await db.write(leases.release, "notify", "host-b:99ff00aa:1")
    out = texts(await admin.send("/admin"))
    assert "<b>Jobs</b>" in out
    assert f"payouts: host-a:1234abcd:0 since {first:%Y-%m-%d %H:%M:%S} UTC, lease until " in out
    assert f"notify: free (last run by host-b:99ff00aa:1 since {first:%Y-%m-%d %H:%M:%S} UTC)" in out
