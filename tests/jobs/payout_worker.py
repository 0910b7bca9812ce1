"""A payout worker for the crash test: runs the payout job until nothing is left to send or to
look up, in its own process. A batch whose payment the node never got stays unknown (a
lookup never fails it): the worker stops once every such batch was looked up again.

python -m tests.jobs.payout_worker DATABASE_URL RPC_URL
"""

from __future__ import annotations

import asyncio
import sys

from sqlalchemy import func, select

from core.cashout.payouts import payout_batches
from core.platform.db import Database
from core.platform.params import Params
from jobs.payout_backends import RpcBackend
from jobs.payouts import Payouts


def unfinished(conn) -> int:
    return conn.execute(
        select(func.count()).where(payout_batches.c.state.in_(("open", "sending")))
    ).scalar_one()


async def main(url: str, rpc_url: str) -> None:
    db = Database(url)
    await db.start()
    params = Params(
        env={"PAYOUT_BACKEND_BTC": "rpc", "PAYOUT_BATCH_SIZE": "3", "PAYOUT_RECONCILE_AFTER": "1s"}
    )
    backend = RpcBackend(rpc_url, timeout=5)
    job = Payouts(db, params, lambda name, asset: backend)
    print("ready", flush=True)
    while True:
        await job.run_once()
        if not await db.read(unfinished):
            break
        await asyncio.sleep(0.05)  # a batch in doubt waits payout.reconcile_after before its lookup
    await asyncio.sleep(1.1)  # past payout.reconcile_after: look up what is still unknown once more
    await job.run_once()
    print("done", flush=True)
    await db.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
