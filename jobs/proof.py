"""The daily proof of liabilities: one Merkle-sum tree per coin, published once a day.

Run under a lease by one instance. Each coin is read in one consistent snapshot, hashed off the
event loop, and written in short transactions (core.trust.proof); a run killed half way is
simply run again, and a day already published is left as it is.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from core.platform.db import Database
from core.trust import proof

log = logging.getLogger(__name__)

Announce = Callable[[list[proof.Root]], Awaitable[None]]


async def publish(
    db: Database,
    secret_key: str,
    *,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    announce: Announce | None = None,
    assets: list[str] | None = None,
) -> list[proof.Root]:
    """Build and publish today's proof for every coin someone holds; the roots published now."""
    published: list[proof.Root] = []
    for asset in assets or proof.provable_assets():
        taken_at = now()
        day = taken_at.date().isoformat()
        owed = await db.read(proof.owed_balances, asset)
        tree = await asyncio.to_thread(proof.build_tree, secret_key, asset, day, taken_at, owed)
        del owed  # a million tuples: not kept while the tree is written
        if tree is None:
            continue
        root_id = await db.write(proof.start, tree)
        if root_id is None:
            continue  # already published today
        for chunks in proof.chunk_batches(tree):
            await db.write(proof.write_chunks, root_id, tree, chunks)
        await db.write(proof.write_nodes_and_publish, root_id, tree, now())
        root = await db.read(proof.latest_root, asset)
        if root is not None:
            log.info(
                "proof of liabilities %s %s: %d users, total %d, root %s",
                asset,
                day,
                root.leaves,
                root.total,
                root.root_hash,
            )
            published.append(root)
    if published and announce is not None:
        try:
            await announce(published)
        except Exception:
            log.warning("could not post the proof of liabilities", exc_info=True)
    return published
