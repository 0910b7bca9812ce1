"""Every minute: release offerwall credits whose hold is over (core.earn.offers.release_due),
then tell each user in one notice what was credited, held and reversed since the last run
(core.earn.offers.queue_notices; the notice outbox sends it).

Each batch is one transaction; a release is a conditional state change plus a pending post
under the key ``offer_release:{row}``, so running twice, on two instances or after a kill in
the middle pays every credit once.
"""

from __future__ import annotations

import logging

from core.earn import offers
from core.platform.db import Database
from core.platform.params import Params

log = logging.getLogger(__name__)
BATCH = 200


async def release(db: Database, params: Params, *, batches: int = 50) -> int:
    """Release what is due, BATCH per transaction; returns how many were released."""
    await params.refresh(db)
    total = 0
    for _ in range(batches):
        done = await db.write(
            offers.release_due, lambda asset: offers.settings_for(params, asset), limit=BATCH
        )
        total += done
        if done < BATCH:
            break
    if total:
        log.info("released %d held offer credits", total)
    while await db.write(offers.queue_notices) > 0:
        pass
    return total
