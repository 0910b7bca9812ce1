"""Payouts in doubt (issue 9, item 4): a batch whose outcome is not known is never failed
because its payment was not found; it stays unknown and is looked up again (the wallet's
history, the mempool, the wallet's conflicts), until the payment shows up or an admin
marks it failed with evidence. Crypto Pay spend ids are this installation's own, and a
lookup takes a transfer as ours only if spend id, recipient, coin and amount all match."""

import asyncio
from decimal import Decimal

import pytest

from core.cashout import payouts
from core.cashout.payouts import Batch, Item
from core.cashout.withdrawals import list_for_user
from core.money import ledger
from core.money.accounts import FEES, WITHDRAWALS_PENDING, WORLD, user_account
from core.platform import audit
from core.platform.params import Params
from jobs.payout_backends import CryptoPayBackend, RpcBackend
from jobs.payouts import Payouts
from tests.core.cashout.test_withdrawals import BTC_ADDR, FEE, U, approved, fund
from tests.fakes.payouts import FakeCryptoPay, serve

KEY_A, KEY_B = "a" * 40, "b" * 40
START = 1_000_000


def job(db, backend, name="rpc", asset="BTC"):
    env = {f"PAYOUT_BACKEND_{asset}": name, "PAYOUT_RECONCILE_AFTER": "0s"}
    return Payouts(db, Params(env=env), lambda name, asset: backend)


async def rows(db):
    return await db.read(list_for_user, U, 1000)


async def user(db, asset="BTC"):
    return await db.read(ledger.balance, user_account(U), asset)


async def books_after_paying(db, count, amount=20_000, asset="BTC"):
    """The books once ``count`` withdrawals of ``amount`` were paid exactly once."""
    u = await user(db, asset)
    assert (u.balance, u.held) == (START - amount * count, 0)
    assert (await db.read(ledger.balance, FEES, asset)).balance == FEE * count
    assert (await db.read(ledger.balance, WORLD, asset)).balance == -START + (amount - FEE) * count
    assert (await db.read(ledger.balance, WITHDRAWALS_PENDING, asset)).balance == 0




async def sent_in_doubt(db, node, count=2):
    """``count`` withdrawals in one batch whose sendmany the node took and did not answer."""
    await fund(db, amount=START)
    ws = await approved(db, count)
    node.hang_after_pay, node.hang_seconds = 1, 2
    backend = RpcBackend(node.url, timeout=0.5)
    assert await job(db, backend).run_once() == {"unknown": count}
    return ws, backend


async def test_a_send_that_lands_after_the_lookup_is_paid_once_and_never_refunded(db, node):
    await fund(db, amount=START)
    await approved(db, 2)
    node.hold_sends = 1  # the node takes the call and sends nothing for now
    backend = RpcBackend(node.url, timeout=0.5)
    assert await job(db, backend).run_once() == {"unknown": 2}
    assert await job(db, backend).run_once() == {}  # not in the wallet: still unknown, not failed
    assert {w.state for w in await rows(db)} == {"unknown"}
    assert (await user(db)).held == 40_000  # nothing went back to the user
    assert node.calls.count("sendmany") == 1  # and nothing was sent again
    late = node.release()  # the node sends it after all
    assert await job(db, backend).run_once() == {"sent": 2}
    assert {(w.state, w.txid) for w in await rows(db)} == {("sent", late[0]["txid"])}
    assert len(node.paid) == 1
    await books_after_paying(db, 2)


async def test_in_the_mempool_is_sent_out_of_it_waits_for_a_block(db, node):
    ws, backend = await sent_in_doubt(db, node)
    txid = node.paid[0]["txid"]
    node.evict(txid)  # dropped from the mempool: the wallet may still broadcast it again
    assert await job(db, backend).run_once() == {}
    assert {w.state for w in await rows(db)} == {"unknown"}
    node.mine(txid)
    assert await job(db, backend).run_once() == {"sent": 2}
    assert {w.txid for w in await rows(db)} == {txid}
    await books_after_paying(db, 2)
    assert len(ws) == 2


async def test_a_fee_bump_is_followed_to_the_transaction_that_was_mined(db, node):
    await sent_in_doubt(db, node)
    first = node.paid[0]["txid"]
    bumped = node.bump(first)
    node.mine(bumped["txid"])
    node.tx(first)["confirmations"] = -1  # the original is now conflicted by its replacement
    assert await job(db, backend := RpcBackend(node.url, timeout=1)).run_once() == {"sent": 2}
    assert {w.txid for w in await rows(db)} == {bumped["txid"]}
    assert await job(db, backend).run_once() == {}
    await books_after_paying(db, 2)


async def test_a_payment_conflicted_by_one_to_someone_else_stays_unknown_until_an_admin_fails_it(db, node):
    await sent_in_doubt(db, node)
    node.double_spend(node.paid[0]["txid"])
    backend = RpcBackend(node.url, timeout=1)
    assert await job(db, backend).run_once() == {}
    batch = (await db.read(payouts.batches_in, ("unknown",)))[0]
    with pytest.raises(payouts.PayoutError, match="evidence_needed"):
        await db.write(payouts.settle_manual, 9001, batch.id, reason="  ")
    counts = await db.write(
        payouts.settle_manual, 9001, batch.id, reason="double-spent by the other transaction, see explorer"
    )
    assert counts == {"failed": 2}
    assert {w.state for w in await rows(db)} == {"failed"}
    u = await user(db)
    assert (u.balance, u.held) == (START, 0)
    line = [a for a in await db.read(audit.recent, 5) if a.action == "batch_failed"][0]
    assert (
        line.actor == 9001 and "double-spent" in line.details["reason"] and line.details["backend"] == "rpc"
    )
    assert await job(db, backend).run_once() == {}  # settled: nothing is looked up again


async def test_another_installations_payment_under_the_same_comment_is_not_ours(db, node):
    node.pay("payout:BTC:1", {"bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq": "0.5"})  # same batch key
    node.mine(node.paid[0]["txid"])
    await fund(db, amount=START)
    await approved(db, 2)
    node.hold_sends = 1
    backend = RpcBackend(node.url, timeout=0.5)
    assert await job(db, backend).run_once() == {"unknown": 2}
    assert await job(db, backend).run_once() == {}
    assert {(w.state, w.txid) for w in await rows(db)} == {("unknown", None)}
    node.release()
    assert await job(db, backend).run_once() == {"sent": 2}
    assert {w.txid for w in await rows(db)} == {node.paid[1]["txid"]}
    await books_after_paying(db, 2)


async def test_an_admin_who_found_the_transaction_settles_an_unknown_batch_as_sent(db, node):
    await sent_in_doubt(db, node)
    node.paid.clear()  # say the node's wallet was restored from an old backup: not found
    backend = RpcBackend(node.url, timeout=1)
    assert await job(db, backend).run_once() == {}
    assert (await db.read(payouts.get_batch, 1)).state == "unknown"
    assert await db.write(payouts.settle_manual, 9001, 1, txid="ab" * 32) == {"sent": 2}
    assert {(w.state, w.txid) for w in await rows(db)} == {("sent", "ab" * 32)}
    with pytest.raises(payouts.PayoutError, match="batch_not_manual"):  # settled: nothing left to settle
        await db.write(payouts.settle_manual, 9001, 1, reason="not sent after all")
    await books_after_paying(db, 2)


async def test_a_batch_not_yet_looked_up_cannot_be_failed_by_hand(db, node):
    await fund(db, amount=START)
    await approved(db, 1)
    backend = RpcBackend(node.url, timeout=0.5)
    await db.write(payouts.form_batches, {"BTC": "rpc"}, 10)
    await db.write(payouts.start_sending, 1)  # cut off right before the call: "sending"
    with pytest.raises(payouts.PayoutError, match="batch_not_manual"):
        await db.write(payouts.settle_manual, 9001, 1, reason="I think it never went out")
    assert await job(db, backend).run_once() == {"unknown": 1}  # looked up: not found; never resent
    assert node.calls.count("sendmany") == 0
    assert (await db.read(payouts.get_batch, 1)).state == "unknown"


# -- Crypto Pay -------------------------------------------------------------------------------


@pytest.fixture
async def app():
    fake = FakeCryptoPay()
    runner, port = await serve(fake.app())
    fake.base = f"http://127.0.0.1:{port}/api"
    yield fake
    await runner.cleanup()


def usdt_batch(user_id, amount, wid=1):
    return Batch(
        wid,
        f"payout:USDT:{wid}",
        "USDT",
        "cryptopay",
        "sending",
        [Item(wid, user_id, "@CryptoBot", amount, "USDT")],
    )


def installation(app, key, timeout=2.0):
    return CryptoPayBackend(app.token, secret_key=key, base_url=app.base, timeout=timeout)


async def test_two_installations_on_one_crypto_pay_app_each_pay_and_find_their_own(app):
    a, b = installation(app, KEY_A), installation(app, KEY_B)
    mine, theirs = usdt_batch(111, 7_000_000), usdt_batch(222, 5_000_000)  # both are withdrawal #1
    assert (await b.send(theirs))[0].result == "sent"
    out = await a.send(mine)
    assert out[0].result == "sent"
    assert sorted((t["user_id"], Decimal(t["amount"])) for t in app.paid) == [(111, 7), (222, 5)]
    found = (await a.lookup(mine))[0]
    assert found.result == "sent" and found.txid == out[0].txid
    spend_a, spend_b = (t["spend_id"] for t in sorted(app.paid, key=lambda t: t["user_id"]))
    assert spend_a != spend_b and len(spend_a) <= 64
    assert KEY_A not in spend_a and spend_a == a.spend_id(1)
    assert spend_a != "wd-1" and spend_a != installation(app, KEY_A + "x").spend_id(1)


async def test_a_transfer_is_ours_only_if_spend_id_recipient_coin_and_amount_match(app):
    a = installation(app, KEY_A)
    mine = usdt_batch(111, 7_000_000)
    app.pay(a.spend_id(1), 999, "USDT", "7")  # our spend id, someone else's transfer
    assert (await a.lookup(mine))[0].result == "unknown"
    assert (await a.send(mine))[0].result == "unknown"  # SPEND_ID_ALREADY_USED: maybe sent, never failed
    for other in ((111, "TRX", "7"), (111, "USDT", "7.5")):
        app.paid.clear()
        app.pay(a.spend_id(1), other[0], other[1], other[2])
        assert (await a.lookup(mine))[0].result == "unknown", other
    app.paid.clear()
    app.pay(a.spend_id(1), 111, "USDT", "7.000000")
    assert (await a.lookup(mine))[0].result == "sent"


async def test_spend_id_already_used_and_server_errors_are_unknown_and_a_missing_transfer_stays_so(db, app):
    await fund(db, amount=100_000_000, asset="USDT")
    await approved_usdt(db, 2)
    backend = installation(app, KEY_A)
    app.fail_next = (500, "INTERNAL_ERROR")
    assert await job(db, backend, "cryptopay", "USDT").run_once() == {"unknown": 1, "sent": 1}
    assert await job(db, backend, "cryptopay", "USDT").run_once() == {}  # not found: still unknown
    assert sorted(w.state for w in await rows(db)) == ["sent", "unknown"]
    assert (await user(db, "USDT")).held == 6_000_000
    app.fail_next = (400, "INSUFFICIENT_FUNDS")  # a refusal that proves nothing was paid
    await approved_usdt(db, 1)
    assert await job(db, backend, "cryptopay", "USDT").run_once() == {"failed": 1}


async def approved_usdt(db, n):
    from core.cashout.withdrawals import Policy, confirm_withdrawal, request_withdrawal

    pol = Policy(
        fee=1_000_000,
        minimum=1_000_000,
        auto_approve=10**12,
        good_standing_age=0,
        network="mainnet",
        to_telegram_wallet=True,
        max_failures=10,
    )
    out = []
    for _ in range(n):
        w = await db.write(request_withdrawal, U, "USDT", 6_000_000, None, pol)
        out.append(
            await db.write(confirm_withdrawal, U, w.id, code=None, secret_key=KEY_A, policy_of=lambda a: pol)
        )
    return out


def test_a_crypto_pay_backend_needs_the_installation_secret():
    with pytest.raises(TypeError):
        CryptoPayBackend("t", base_url="http://127.0.0.1:1/api")  # no secret: no spend ids
    assert "a" * 40 not in repr(CryptoPayBackend("t", secret_key="a" * 40))
    assert BTC_ADDR  # the address the helpers above pay


async def test_admins_racing_to_settle_a_batch_in_doubt_settle_it_once(db, node, database_url):
    """Two admins on two bot instances, /paid and /failed at once, while the job's lookup
    finds the late payment: exactly one outcome lands, and the books move once."""
    from core.platform.db import Database

    await fund(db, amount=START)
    await approved(db, 2)
    node.hold_sends = 1
    backend = RpcBackend(node.url, timeout=0.5)
    assert await job(db, backend).run_once() == {"unknown": 2}
    assert await job(db, backend).run_once() == {}
    node.release()  # the payment lands while the admins act
    other = Database(database_url)
    await other.start()

    async def settle(database, **how):
        try:
            return await database.write(payouts.settle_manual, 9001, 1, **how)
        except payouts.PayoutError as e:
            assert e.reason == "batch_not_manual"  # already settled by someone else
            return {}

    try:
        results = await asyncio.gather(
            *(settle(db if i % 2 else other, reason=f"not on chain {i}") for i in range(6)),
            *(settle(other if i % 2 else db, txid=f"{i:064x}") for i in range(6)),
            job(db, backend).run_once(),
        )
    finally:
        await other.close()
    moved = [r for r in results if r]
    assert len(moved) == 1 and sum(moved[0].values()) == 2, results
    states = {w.state for w in await rows(db)}
    assert states in ({"sent"}, {"failed"})
    u = await user(db)
    assert u.held == 0 and u.balance == (START - 40_000 if states == {"sent"} else START)
    assert (await db.read(ledger.balance, WITHDRAWALS_PENDING, "BTC")).balance == 0
