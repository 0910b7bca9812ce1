"""Trust against a fake Bitcoin Core: a hot wallet too small for the batch holds it back (users
and admins told once), confirmations rise to final (users told twice), a dropped transaction is
flagged to admins and never sent again by itself. Also hot-wallet readings for /reserves."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from core.cashout.withdrawals import list_for_user
from core.platform.notices import notices
from core.platform.params import Params
from core.trust import reserves, tracking
from jobs.payout_backends import RpcBackend
from jobs.payouts import Payouts
from jobs.trust import Trust
from tests.core.cashout.test_withdrawals import FEE, U, approved, fund
from tests.fakes.payouts import serve

ADMIN = 900




def env() -> dict[str, str]:
    return {"PAYOUT_BACKEND_BTC": "rpc", "PAYOUT_RECONCILE_AFTER": "0s", "CASHOUT_DROP_AFTER": "1h"}


def payouts_job(db, backend):
    return Payouts(
        db, Params(env=env()), lambda name, asset: backend if name == "rpc" else None, admin_ids={ADMIN}
    )


class Clock:
    def __init__(self) -> None:
        self.at = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.at


def trust_job(db, backend, clock):
    return Trust(
        db,
        Params(env=env()),
        lambda name, asset: backend if name == "rpc" else None,
        secret_key="s" * 40,
        admin_ids=frozenset({ADMIN}),
        now=clock,
    )


async def sent_notices(db, template=None):
    def q(conn):
        rows = conn.execute(select(notices.c.chat_id, notices.c.template, notices.c.params)).all()
        return [(r.chat_id, r.template, json.loads(r.params)) for r in rows if template in (None, r.template)]

    return await db.read(q)


async def states(db):
    return [w.state for w in await db.read(list_for_user, U, 100)]


async def sent_batch(db, node, count=1):
    """``count`` approved withdrawals sent in one batch through the node: (its transaction, the backend)."""
    await fund(db, amount=1_000_000)
    await approved(db, count)
    backend = RpcBackend(node.url)
    await payouts_job(db, backend).run_once()
    [tx] = node.paid
    return tx, backend


async def test_a_hot_wallet_too_small_holds_the_batch_and_tells_everyone_once(db, node):
    await fund(db, amount=1_000_000)
    await approved(db, 3)  # 3 x 20,000 sats, 1,000 of each a fee: 57,000 to send
    node.wallet_balance = Decimal("0.00050000")
    backend = RpcBackend(node.url)
    job = payouts_job(db, backend)
    await job.run_once()
    await job.run_once()
    assert await states(db) == ["approved"] * 3 and node.paid == []
    short = await sent_notices(db, "hot_wallet_short")
    assert short == [
        (
            ADMIN,
            "hot_wallet_short",
            {"asset": "BTC", "short": 7_000, "need": 57_000, "hot": 50_000, "backend": "rpc"},
        )
    ]
    waiting = await sent_notices(db, "withdrawal_refill")
    assert sorted(p["state"] for _, _, p in waiting if p["state"] == "refilling") == ["refilling"] * 3
    assert await db.read(reserves.refilling) == {"BTC": 7_000}

    node.wallet_balance = Decimal("0.00057000")  # the admin moved coins from cold storage
    await job.run_once()
    assert await states(db) == ["sent"] * 3 and len(node.paid) == 1
    assert await db.read(reserves.refilling) == {}
    assert len(await sent_notices(db, "hot_wallet_short")) == 1


async def test_confirmations_rise_to_final_and_users_are_told_at_the_first_and_the_last(db, node):
    tx, backend = await sent_batch(db, node, 2)
    clock = Clock()
    trust = trust_job(db, backend, clock)
    assert await trust.follow_payouts() == 1
    [item] = await db.read(tracking.open_items)
    assert item.confirmations == 0 and item.confirmed_at is None
    node.mine(tx["txid"], 1)
    await trust.follow_payouts()
    node.mine(tx["txid"], 2)
    await trust.follow_payouts()
    node.mine(tx["txid"], 3)  # BTC is final at 3
    await trust.follow_payouts()
    assert await db.read(tracking.open_items) == []
    told = [(p["state"], p.get("confirmations")) for _, _, p in await sent_notices(db, "withdrawal_chain")]
    assert told.count(("confirmed", 1)) == 2 and told.count(("final", 3)) == 2
    assert not [s for s in told if s[0] == "confirmed" and s[1] != 1]  # one note at the first, none between
    await trust.follow_payouts()
    assert len(await sent_notices(db, "withdrawal_chain")) == len(told) + 0
    [row] = (await db.read(tracking.progress, [item.batch_id])).values()
    assert row.confirmations == 3 and row.final_at is not None


async def test_a_dropped_transaction_is_flagged_to_admins_once_and_never_resent(db, node):
    tx, backend = await sent_batch(db, node, 1)
    node.evict(tx["txid"])  # out of the mempool, never mined
    clock = Clock()
    trust = trust_job(db, backend, clock)
    await trust.follow_payouts()
    assert await sent_notices(db, "payout_dropped") == []  # missing, not yet long enough
    clock.at += timedelta(minutes=61)
    await trust.follow_payouts()
    await trust.follow_payouts()
    dropped = await sent_notices(db, "payout_dropped")
    assert [(c, p["txid"]) for c, _, p in dropped] == [(ADMIN, tx["txid"])]
    assert await db.read(tracking.open_items) == []
    await payouts_job(db, backend).run_once()
    assert len(node.paid) == 1 and await states(db) == ["sent"]  # nothing sent again


async def test_a_transaction_back_in_view_before_the_limit_is_not_dropped(db, node):
    tx, backend = await sent_batch(db, node, 1)
    node.evict(tx["txid"])
    clock = Clock()
    trust = trust_job(db, backend, clock)
    await trust.follow_payouts()
    clock.at += timedelta(minutes=30)
    node.mine(tx["txid"], 1)
    await trust.follow_payouts()
    clock.at += timedelta(hours=5)
    await trust.follow_payouts()
    assert await sent_notices(db, "payout_dropped") == []
    [item] = await db.read(tracking.open_items)
    assert item.missing_since is None and item.confirmations == 1


async def test_a_fee_bump_is_followed_to_its_replacement(db, node):
    tx, backend = await sent_batch(db, node, 1)
    new = node.bump(tx["txid"])
    node.mine(new["txid"], 3)
    assert await backend.confirmations(tx["txid"]) == 3


async def test_the_hot_wallet_reading_is_recorded_for_reserves(db, node):
    node.wallet_balance = Decimal("1.5")
    trust = trust_job(db, RpcBackend(node.url), Clock())
    assert await trust.read_hot_wallets() == {"BTC": 150_000_000}
    [coin] = await db.read(reserves.overview)
    assert (coin.asset, coin.hot, coin.cold, coin.liabilities) == ("BTC", 150_000_000, 0, None)
    assert FEE  # the fee constant the withdrawals above pay


async def test_crypto_pay_hot_wallet_is_read_with_get_balance(db):
    from jobs.payout_backends import CryptoPayBackend
    from tests.fakes.payouts import FakeCryptoPay

    fake = FakeCryptoPay()
    runner, port = await serve(fake.app())
    try:
        fake.balance = {"USDT": Decimal("12.5")}
        backend = CryptoPayBackend(fake.token, secret_key="s" * 40, base_url=f"http://127.0.0.1:{port}/api")
        trust = Trust(
            db,
            Params(env={"PAYOUT_BACKEND_USDT": "cryptopay"}),
            lambda name, asset: backend if name == "cryptopay" else None,
            secret_key="s" * 40,
        )
        assert await trust.read_hot_wallets() == {"USDT": 12_500_000}
        with pytest.raises(LookupError):  # a coin Crypto Pay did not report is not taken as zero
            await backend.balance("TRX")
    finally:
        await runner.cleanup()
