"""Withdrawals and payout batches on a real database, against fake payout services."""

import asyncio
from datetime import UTC, datetime, timedelta

import pyotp
import pytest

from core.cashout import addressbook, payouts
from core.cashout.withdrawals import (
    Policy,
    WithdrawalError,
    cancel_withdrawal,
    confirm_withdrawal,
    list_for_user,
    request_withdrawal,
)
from core.errors import InsufficientFunds
from core.identity import twofa
from core.identity.users import upsert_user
from core.money import ledger
from core.money.accounts import FEES, WITHDRAWALS_PENDING, WORLD, user_account
from core.money.addresses import InvalidAddress
from jobs.payout_backends import CryptoPayBackend, RpcBackend
from jobs.payouts import Payouts
from tests.conftest import ENGINE
from tests.fakes.payouts import FakeCryptoPay, FakeRpc, serve
from tests.money import fund as give

KEY = "k" * 40
U = 7
BTC_ADDR = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"
BTC_ADDR2 = "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"
FEE = 1000


def policy(auto=10**8, asset="BTC", max_failures=10) -> Policy:
    return Policy(
        fee=FEE,
        minimum=10_000,
        auto_approve=auto,
        good_standing_age=0,
        network="mainnet",
        to_telegram_wallet=False,
        max_failures=max_failures,
    )


async def fund(db, user_id=U, amount=1_000_000, asset="BTC"):
    await db.write(upsert_user, id=user_id, username=None, first_name="U", language_code="en")
    await give(db, user_account(user_id), amount, asset, key=f"{user_id}{asset}", code="admin_credit")


async def draft(db, amount=100_000, address=BTC_ADDR, user_id=U):
    return await db.write(request_withdrawal, user_id, "BTC", amount, address, policy())


async def confirm(db, wid, code=None, user_id=U, auto=10**8):
    return await db.write(
        confirm_withdrawal, user_id, wid, code=code, secret_key=KEY, policy_of=lambda a: policy(auto, a)
    )


async def avail(db, owner, asset="BTC"):
    return (await db.read(ledger.balance, owner, asset)).available


async def test_request_confirm_cancel_moves_nothing_in_the_end(db):
    await fund(db)
    w = await draft(db)
    assert w.state == "draft" and w.arrives == 99_000
    assert await avail(db, user_account(U)) == 1_000_000  # a draft holds nothing
    w = await confirm(db, w.id)
    assert w.state == "approved" and await avail(db, user_account(U)) == 900_000
    again = await confirm(db, w.id)
    assert again.replayed and await avail(db, user_account(U)) == 900_000
    await db.write(cancel_withdrawal, U, w.id)
    assert await avail(db, user_account(U)) == 1_000_000
    with pytest.raises(WithdrawalError, match="withdrawal_cancelled"):
        await confirm(db, w.id)
    with pytest.raises(WithdrawalError, match="withdrawal_not_found"):  # another user's id
        await db.write(confirm_withdrawal, 8, w.id, code=None, secret_key=KEY, policy_of=lambda a: policy(0))


@pytest.mark.parametrize(
    ("amount", "address", "error"),
    [
        (100_000, "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5", InvalidAddress),  # typo: checksum
        (100_000, "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx", InvalidAddress),  # testnet or garbage
        (100_000, "LTVdcw8fdTTK4TcebTZ4jiiCbvTXaRxZNh", InvalidAddress),  # litecoin for BTC
        (5_000, BTC_ADDR, WithdrawalError),  # below minimum
        (2_000_000, BTC_ADDR, InsufficientFunds),  # above balance
    ],
)
async def test_bad_requests_are_refused(db, amount, address, error):
    await fund(db)
    with pytest.raises(error):
        await draft(db, amount, address)
    assert await db.read(list_for_user, U) == []


async def test_address_book_labels(db):
    await fund(db)
    await db.write(
        addressbook.save_address,
        U,
        "btc",
        BTC_ADDR2,
        "Cold",
        network="mainnet",
        code=None,
        secret_key=KEY,
        max_failures=10,
    )
    w = await draft(db, address="cold")
    assert w.address == BTC_ADDR2
    with pytest.raises(addressbook.AddressBookError):
        await db.write(
            addressbook.save_address,
            U,
            "btc",
            BTC_ADDR2,
            "bad label!",
            network="mainnet",
            code=None,
            secret_key=KEY,
            max_failures=10,
        )


async def test_thousand_concurrent_whole_balance_withdrawals_reserve_once(db):
    await fund(db, amount=500_000)
    drafts = [await draft(db, 500_000) for _ in range(50)]
    ids = [d.id for d in drafts] * 20  # 1,000 confirmations over 50 drafts of the whole balance
    results = await asyncio.gather(*(confirm(db, i) for i in ids), return_exceptions=True)
    fresh = [r for r in results if not isinstance(r, Exception) and not r.replayed]
    assert len(fresh) == 1
    assert all(isinstance(r, InsufficientFunds) or not isinstance(r, Exception) for r in results)
    assert await avail(db, user_account(U)) == 0
    assert (await db.read(ledger.balance, user_account(U), "BTC")).held == 500_000


async def test_two_factor_guards_confirmation(db):
    await fund(db)
    setup = await db.write(twofa.begin_setup, U, KEY, "u")
    t = pyotp.TOTP(setup.secret)
    await db.write(
        twofa.confirm_setup, U, t.at(datetime.now(UTC) - timedelta(seconds=30)), KEY, max_failures=10
    )
    w = await draft(db)
    with pytest.raises(twofa.TwoFactorRequired):
        await confirm(db, w.id)
    with pytest.raises(twofa.TwoFactorFailed):
        await confirm(db, w.id, "000000")
    assert (await confirm(db, w.id, t.now())).state == "approved"


async def approved(db, n, asset="BTC", address=BTC_ADDR):
    out = []
    for _ in range(n):
        w = await draft(db, 20_000, address)
        out.append(await confirm(db, w.id))
    return out


def job(db, backend, name="rpc"):
    from core.platform.params import Params

    env = {"PAYOUT_BACKEND_BTC": name, "PAYOUT_RECONCILE_AFTER": "0s"}
    return Payouts(db, Params(env=env), lambda name, asset: backend)


async def check_paid_once(db, fake_paid, ws, by_comment=True):
    rows = await db.read(list_for_user, U, 1000)
    states = {r.id: r.state for r in rows}
    sent = [w for w in ws if states[w.id] == "sent"]
    assert all(states[w.id] in ("sent", "failed") for w in ws), states
    assert await avail(db, FEES) == FEE * len(sent)
    assert (await db.read(ledger.balance, WITHDRAWALS_PENDING, "BTC")).balance == 0
    return states


async def test_rpc_batch_sends_once_and_settles(db):
    await fund(db)
    ws = await approved(db, 3)
    fake = FakeRpc()
    runner, port = await serve(fake.app())
    try:
        backend = RpcBackend(f"http://rpc:secret@127.0.0.1:{port}/", timeout=1)
        totals = await job(db, backend).run_once()
        assert totals == {"sent": 3}
        assert len(fake.paid) == 1 and fake.paid[0]["outputs"] == {BTC_ADDR: "0.00057000"}
        assert await job(db, backend).run_once() == {}
        await check_paid_once(db, fake.paid, ws)
        rows = await db.read(list_for_user, U)
        assert all(r.txid == fake.paid[0]["txid"] for r in rows)
        from core.platform.notices import notices

        keys = {r.key for r in await db.read(lambda c: c.execute(notices.select()).all())}
        for w in ws:
            assert {f"withdrawal:{w.id}:{s}" for s in ("approved", "batched", "sent")} <= keys
        assert (await db.read(ledger.balance, WORLD, "BTC")).balance == -1_000_000 + 57_000
        fake.fail_next = "Insufficient funds"
        ws2 = await approved(db, 1)
        assert await job(db, backend).run_once() == {"failed": 1}
        assert await avail(db, user_account(U)) == 1_000_000 - 60_000
        assert ws2[0].id
    finally:
        await runner.cleanup()


async def test_rpc_timeout_after_paying_is_unknown_then_reconciled_never_paid_twice(db):
    await fund(db)
    ws = await approved(db, 2)
    fake = FakeRpc()
    fake.hang_after_pay, fake.hang_seconds = 1, 2
    runner, port = await serve(fake.app())
    try:
        backend = RpcBackend(f"http://rpc:secret@127.0.0.1:{port}/", timeout=0.5)
        assert await job(db, backend).run_once() == {"unknown": 2}
        assert {r.state for r in await db.read(list_for_user, U)} == {"unknown"}
        assert await job(db, backend).run_once() == {"sent": 2}
        assert len(fake.paid) == 1
        await check_paid_once(db, fake.paid, ws)
    finally:
        await runner.cleanup()


async def test_cryptopay_timeout_then_reconciled_by_spend_id(db):
    await fund(db)
    ws = await approved(db, 3)
    fake = FakeCryptoPay()
    fake.hang_after_pay, fake.hang_seconds = 1, 2
    runner, port = await serve(fake.app())
    try:
        backend = CryptoPayBackend(
            fake.token, secret_key=KEY, base_url=f"http://127.0.0.1:{port}/api", timeout=0.5
        )
        assert await job(db, backend).run_once() == {"unknown": 1, "sent": 2}
        assert await job(db, backend).run_once() == {"sent": 1}
        assert sorted(p["spend_id"] for p in fake.paid) == sorted(backend.spend_id(w.id) for w in ws)
        assert all(p["user_id"] == U and p["amount"] == "0.00019000" for p in fake.paid)
        await check_paid_once(db, fake.paid, ws)
    finally:
        await runner.cleanup()


async def test_manual_batch_paid_and_failed_by_admin(db):
    await fund(db)
    ws = await approved(db, 2)

    class Rec:
        sent = []

        async def send(self, batch):
            self.sent.append(batch)
            return [payouts.Outcome(i.withdrawal_id, "manual") for i in batch.items]

        lookup = send

    rec = Rec()
    await job(db, rec, "manual").run_once()
    batch = rec.sent[0]
    assert len(batch.items) == 2
    with pytest.raises(payouts.PayoutError):
        await db.write(payouts.settle_manual, 1, batch.id + 99, txid="x")
    b = await db.read(payouts.get_batch, batch.id)
    assert b.state == "manual"
    assert await db.write(payouts.settle_manual, 1, batch.id, txid="abc") == {"sent": 2}
    await check_paid_once(db, [], ws)


async def test_unreachable_node_fails_the_batch_and_returns_the_money(db):
    import socket

    await fund(db)
    await approved(db, 2)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    backend = RpcBackend(f"http://rpc:secret@127.0.0.1:{port}/", timeout=1)
    assert await job(db, backend).run_once() == {"failed": 2}
    assert await avail(db, user_account(U)) == 1_000_000
    assert {r.reason for r in await db.read(list_for_user, U)} == {"payout node unreachable"}


async def test_rpc_wrong_credentials_fail_without_paying(db):
    await fund(db)
    await approved(db, 1)
    fake = FakeRpc()
    runner, port = await serve(fake.app())
    try:
        backend = RpcBackend(f"http://rpc:wrong@127.0.0.1:{port}/", timeout=1)
        assert await job(db, backend).run_once() == {"failed": 1}
        assert fake.paid == [] and "secret" not in repr(backend)
    finally:
        await runner.cleanup()


async def test_lookup_pages_through_a_long_wallet_history(db):
    from core.cashout.payouts import Batch, Item

    fake = FakeRpc()
    for i in range(2500):
        fake.pay(f"other:{i}", {BTC_ADDR2: "0.0001"})
        if i == 100:
            ours = fake.pay("payout:BTC:7", {"a": "0.00000001"})
    runner, port = await serve(fake.app())
    try:
        backend = RpcBackend(f"http://rpc:secret@127.0.0.1:{port}/", timeout=2)
        found = await backend.lookup(
            Batch(7, "payout:BTC:7", "BTC", "rpc", "sending", [Item(1, 1, "a", 1, "BTC")])
        )
        assert found[0].result == "sent" and found[0].txid == ours["txid"]
        missing = await backend.lookup(
            Batch(8, "payout:BTC:8", "BTC", "rpc", "sending", [Item(2, 1, "a", 1, "BTC")])
        )
        assert missing[0].result == "unknown"  # not found proves nothing: it may still land
        assert fake.calls.count("listtransactions") == 2 * 3  # 2,500 entries: three pages each
    finally:
        await runner.cleanup()


async def _with_confirm_committed_midway(db, use_case, *args):
    """Run ``use_case`` (cancel or reject) in a transaction of its own and, just after it has read
    the withdrawal and before its state change, let a confirmation commit in another one: what
    READ COMMITTED allows on PostgreSQL when a user taps Confirm and Cancel at once."""
    from sqlalchemy import event

    async with db.engine.connect() as racer, db.engine.connect() as other:
        fired = []

        def confirm_first(conn, cursor, statement, parameters, context, executemany):
            if not fired and statement.lstrip().upper().startswith("UPDATE WITHDRAWALS"):
                fired.append(True)
                sync = other.sync_connection
                confirm_withdrawal(
                    sync, U, args[-1], code=None, secret_key=KEY, policy_of=lambda a: policy(0)
                )
                sync.commit()

        await racer.begin()
        event.listen(racer.sync_connection, "before_cursor_execute", confirm_first)
        result = await racer.run_sync(lambda c: use_case(c, *args))
        await racer.commit()
    assert fired
    return result


@pytest.mark.skipif(ENGINE != "postgresql", reason="SQLite runs one write transaction at a time")
async def test_cancel_racing_a_confirmation_voids_the_reserve(db):
    await fund(db)
    w = await draft(db)
    done = await _with_confirm_committed_midway(db, cancel_withdrawal, U, w.id)
    assert done.state == "cancelled"
    held = await db.read(ledger.balance, user_account(U), "BTC")
    assert held.held == 0 and held.available == 1_000_000  # nothing stays on hold


@pytest.mark.skipif(ENGINE != "postgresql", reason="SQLite runs one write transaction at a time")
async def test_reject_racing_a_confirmation_voids_the_reserve(db):
    from core.cashout.withdrawals import reject

    await fund(db)
    w = await draft(db)
    done = await _with_confirm_committed_midway(db, reject, 1, w.id)
    assert done.state == "failed"
    held = await db.read(ledger.balance, user_account(U), "BTC")
    assert held.held == 0 and held.available == 1_000_000


async def test_an_address_under_two_labels_stays_linked_until_no_label_keeps_it(db):
    from core.earn import payout_links

    await fund(db)

    async def save(label, address):
        await db.write(
            addressbook.save_address,
            U,
            "BTC",
            address,
            label,
            network="mainnet",
            code=None,
            secret_key=KEY,
            max_failures=10,
        )

    async def owner(address):
        return await db.read(payout_links.find_user, "BTC", address)

    await save("a", BTC_ADDR)
    await save("b", BTC_ADDR)
    await db.write(addressbook.remove_address, U, "a")
    assert await owner(BTC_ADDR) == U  # "b" still holds it: faucet sites still pay there
    await save("b", BTC_ADDR2)  # "b" changes to another address: nothing holds the first one now
    assert await owner(BTC_ADDR) is None and await owner(BTC_ADDR2) == U
    await save("c", BTC_ADDR2)
    await save("b", BTC_ADDR)  # "b" changes back; "c" still holds the second one
    assert await owner(BTC_ADDR) == U and await owner(BTC_ADDR2) == U
    await db.write(addressbook.remove_address, U, "c")
    assert await owner(BTC_ADDR2) is None


async def test_removing_by_address_removes_its_entry_and_says_which(db):
    from core.earn import payout_links

    await fund(db)
    for label, address in (("cold", BTC_ADDR), ("hot", BTC_ADDR2)):
        await db.write(
            addressbook.save_address,
            U,
            "BTC",
            address,
            label,
            network="mainnet",
            code=None,
            secret_key=KEY,
            max_failures=10,
        )
    with pytest.raises(addressbook.AddressBookError) as refused:
        await db.write(addressbook.remove_by_address, U, "LTC", BTC_ADDR)  # another coin's book
    assert refused.value.reason == "no_such_label"
    assert await db.write(addressbook.remove_by_address, U, "btc", f" {BTC_ADDR.upper()} ") == "cold"
    assert [e.label for e in await db.read(addressbook.list_addresses, U)] == ["hot"]
    assert await db.read(payout_links.find_user, "BTC", BTC_ADDR) is None  # sites no longer pay there
    with pytest.raises(addressbook.AddressBookError):
        await db.write(addressbook.remove_by_address, U, "BTC", BTC_ADDR)
