"""Crash safety: SIGKILL the payout worker at random points of its batches, restart it, and
check that every withdrawal ended paid exactly once or stayed in doubt (a batch cut off
before the node got it is never failed by a lookup), by the ledger and by the fake node's
own log of payments; an admin then fails what the node shows was never sent."""

import asyncio
import random
import signal
import sys
from collections import Counter

from core.cashout import payouts
from core.cashout.withdrawals import list_for_user
from core.money import ledger
from core.money.accounts import FEES, WORLD, user_account
from tests.conftest import repo_root
from tests.core.cashout.test_withdrawals import BTC_ADDR, FEE, U, approved, fund
from tests.fakes.payouts import FakeRpc, serve


class SlowRpc(FakeRpc):
    """Waits a little before and after paying, so kills land on both sides of the payment."""

    async def handle(self, request):
        await asyncio.sleep(random.uniform(0, 0.03))
        reply = await super().handle(request)
        await asyncio.sleep(random.uniform(0, 0.03))
        return reply


async def run_worker(database_url: str, rpc_url: str, kill_after: float | None) -> int:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.jobs.payout_worker",
        database_url,
        rpc_url,
        cwd=repo_root(),
        stdout=asyncio.subprocess.PIPE,
    )
    assert (await asyncio.wait_for(proc.stdout.readline(), 20)).strip() == b"ready"
    if kill_after is not None:
        try:
            await asyncio.wait_for(proc.wait(), kill_after)
        except TimeoutError:
            proc.send_signal(signal.SIGKILL)
    return await asyncio.wait_for(proc.wait(), 60)


async def test_sigkill_at_random_points_pays_each_withdrawal_at_most_once(db, database_url):
    random.seed()
    await fund(db, amount=10_000_000)
    ws = await approved(db, 45)
    fake = SlowRpc()
    runner, port = await serve(fake.app())
    rpc_url = f"http://rpc:secret@127.0.0.1:{port}/"
    kills = 0
    try:
        for _ in range(6):
            code = await run_worker(database_url, rpc_url, random.uniform(0.05, 0.6))
            kills += code == -signal.SIGKILL
        assert await run_worker(database_url, rpc_url, None) == 0
    finally:
        await runner.cleanup()
    assert kills >= 1

    rows = {w.id: w for w in await db.read(list_for_user, U, 1000)}
    assert {w.state for w in rows.values()} <= {"sent", "unknown"}
    in_doubt = await db.read(payouts.batches_in, ("unknown",))
    for batch in in_doubt:  # what an admin checks before /failed: the node never paid that batch
        assert batch.key not in {p["comment"] for p in fake.paid}
        await db.write(payouts.settle_manual, 1, batch.id, reason=f"no wallet transaction {batch.key}")
    rows = {w.id: w for w in await db.read(list_for_user, U, 1000)}
    assert {w.state for w in rows.values()} <= {"sent", "failed"}
    assert set(rows) == {w.id for w in ws}
    per_batch = Counter(p["comment"] for p in fake.paid)
    assert all(n == 1 for n in per_batch.values()), per_batch  # no batch paid twice
    by_txid = {p["txid"]: p for p in fake.paid}
    sent = [w for w in rows.values() if w.state == "sent"]
    for w in sent:
        assert w.txid in by_txid  # every sent withdrawal was really paid
    paid_total = sum(int(v.replace(".", "")) for p in fake.paid for v in p["outputs"].values())
    assert paid_total == sum(w.arrives for w in sent)  # and nothing else was
    assert all(p["outputs"].keys() == {BTC_ADDR} for p in fake.paid)
    assert (await db.read(ledger.balance, FEES, "BTC")).balance == FEE * len(sent)
    assert (await db.read(ledger.balance, WORLD, "BTC")).balance == -10_000_000 + paid_total
    user = await db.read(ledger.balance, user_account(U), "BTC")
    assert user.held == 0 and user.balance == 10_000_000 - 20_000 * len(sent)
    print(f"kills={kills} sent={len(sent)} failed by hand={len(rows) - len(sent)} sendmany={len(fake.paid)}")
