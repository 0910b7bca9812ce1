"""Proof of liabilities: every day, per coin, a Merkle-sum tree over what each user holds.

The root hash and the total are published; a user gets their own leaf (balance and salt) and
the path to the root as a JSON document, and checks it with tools/verify_proof.py. The salt is a
keyed hash of (coin, day, user) under SECRET_KEY, new every day and shown only to its user. The
leaves are ordered by salt, so the order changes daily and a neighbour's sum in a path cannot be
tied to a person.

A user's balance here is their posted balance, which still includes what is on hold (a
withdrawal on its way is owed until it is sent). Users holding nothing of a coin are left out.

Building is a read of one consistent snapshot, the hashing (off the event loop), then writes in
chunks: the root row is written first without a hash, so a run killed in the middle leaves an
unpublished root that the next run deletes and builds again. Only published roots are served.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, delete, insert, or_, select, update

from core.money.assets import ASSETS, get_asset
from core.platform import params
from core.platform.schema import accounts
from core.trust import merkle
from core.trust.tables import proof_leaves, proof_nodes, proof_roots

FORMAT = "dustpan-proof-of-liabilities/1"
CHUNK_LEVEL = 8  # nodes from this level up are stored; below, one chunk of 256 leaves is rebuilt
CHUNK = 1 << CHUNK_LEVEL
WRITE_BATCH = 20_000  # leaves per write transaction: the writer is never held for long

params.define("ops.channel", "", "text")


def salt_for(secret: str, asset: str, day: str, user_id: int) -> bytes:
    return hmac.new(secret.encode(), f"pol:{asset}:{day}:{user_id}".encode(), hashlib.sha256).digest()


@dataclass(frozen=True, slots=True)
class Root:
    id: int
    asset: str
    day: str
    root_hash: str
    total: int
    leaves: int
    taken_at: datetime
    published_at: datetime


@dataclass(slots=True)
class Tree:
    """A built tree, ready to be written: leaves in order and every level of hashes and sums."""

    asset: str
    day: str
    taken_at: datetime
    leaves: list[tuple[int, int, bytes]]  # (user id, balance, salt), in tree order
    levels: list[tuple[list[bytes], list[int]]]

    @property
    def root_hash(self) -> str:
        return self.levels[-1][0][0].hex()

    @property
    def total(self) -> int:
        return self.levels[-1][1][0]


def owed_balances(conn: Connection, asset: str) -> list[tuple[int, int]]:
    """(user id, balance) of every user holding some of ``asset``."""
    rows = conn.execute(
        select(accounts.c.owner, accounts.c.balance).where(
            accounts.c.asset == asset, accounts.c.owner.like("user:%"), accounts.c.balance > 0
        )
    )
    return [(int(owner[5:]), int(balance)) for owner, balance in rows]


def build_tree(
    secret: str, asset: str, day: str, taken_at: datetime, owed: Sequence[tuple[int, int]]
) -> Tree | None:
    """The tree over ``owed`` (pure CPU; run it off the event loop). None when nobody holds the coin."""
    if not owed:
        return None
    leaves = sorted(
        ((user, bal, salt_for(secret, asset, day, user)) for user, bal in owed), key=lambda leaf: leaf[2]
    )
    hashes = [merkle.leaf_hash(salt, user, bal) for user, bal, salt in leaves]
    levels = merkle.build(hashes, [bal for _, bal, _ in leaves])
    return Tree(asset, day, taken_at, leaves, levels)


# --- writing a tree: start, leaves in batches, nodes, publish -----------------------------------


def start(conn: Connection, tree: Tree) -> int | None:
    """Reserve the (coin, day) row; None if that day's proof is already published."""
    row = conn.execute(
        select(proof_roots.c.id, proof_roots.c.root_hash).where(
            proof_roots.c.asset == tree.asset, proof_roots.c.day == tree.day
        )
    ).first()
    if row is not None:
        if row.root_hash is not None:
            return None
        # A run that died half way: start that day again from nothing.
        conn.execute(delete(proof_leaves).where(proof_leaves.c.root_id == row.id))
        conn.execute(delete(proof_nodes).where(proof_nodes.c.root_id == row.id))
        conn.execute(delete(proof_roots).where(proof_roots.c.id == row.id))
    return int(
        conn.execute(
            insert(proof_roots)
            .values(
                asset=tree.asset,
                day=tree.day,
                total=tree.total,
                leaves=len(tree.leaves),
                taken_at=tree.taken_at,
            )
            .returning(proof_roots.c.id)
        ).scalar_one()
    )


def leaf_batches(tree: Tree) -> Iterator[tuple[int, list[tuple[int, int, bytes]]]]:
    for first in range(0, len(tree.leaves), WRITE_BATCH):
        yield first, tree.leaves[first : first + WRITE_BATCH]


def write_leaves(conn: Connection, root_id: int, first: int, batch: Sequence[tuple[int, int, bytes]]) -> None:
    conn.execute(
        insert(proof_leaves),
        [
            {"root_id": root_id, "idx": first + i, "user_id": user, "balance": bal, "salt": salt}
            for i, (user, bal, salt) in enumerate(batch)
        ],
    )


def write_nodes_and_publish(conn: Connection, root_id: int, tree: Tree, at: datetime) -> None:
    rows: list[dict[str, Any]] = [
        {"root_id": root_id, "level": level, "idx": i, "hash": h, "sum": s}
        for level in range(CHUNK_LEVEL, len(tree.levels) - 1)
        for i, (h, s) in enumerate(zip(*tree.levels[level], strict=True))
    ]
    if rows:
        conn.execute(insert(proof_nodes), rows)
    conn.execute(
        update(proof_roots)
        .where(proof_roots.c.id == root_id)
        .values(root_hash=tree.root_hash, published_at=at)
    )


# --- reading -------------------------------------------------------------------------------------


def _root(row: Any) -> Root:
    return Root(
        int(row.id),
        row.asset,
        row.day,
        row.root_hash,
        int(row.total),
        int(row.leaves),
        row.taken_at,
        row.published_at,
    )


def latest_roots(conn: Connection) -> dict[str, Root]:
    """The newest published root of each coin."""
    out: dict[str, Root] = {}
    rows = conn.execute(
        select(proof_roots).where(proof_roots.c.root_hash.is_not(None)).order_by(proof_roots.c.day.desc())
    )
    for row in rows:
        out.setdefault(row.asset, _root(row))
    return out


def latest_root(conn: Connection, asset: str) -> Root | None:
    row = conn.execute(
        select(proof_roots)
        .where(proof_roots.c.asset == asset, proof_roots.c.root_hash.is_not(None))
        .order_by(proof_roots.c.day.desc())
        .limit(1)
    ).first()
    return _root(row) if row is not None else None


def _height(leaves: int) -> int:
    """Index of the root's level in a tree of ``leaves`` leaves."""
    height, count = 0, leaves
    while count > 1:
        count, height = (count + 1) // 2, height + 1
    return height


def proof_document(conn: Connection, user_id: int, asset: str) -> dict[str, Any] | None:
    """The user's proof for the newest published root of ``asset``; None if they are not in it."""
    root = latest_root(conn, asset)
    if root is None:
        return None
    mine = conn.execute(
        select(proof_leaves.c.idx, proof_leaves.c.balance, proof_leaves.c.salt).where(
            proof_leaves.c.root_id == root.id, proof_leaves.c.user_id == user_id
        )
    ).first()
    if mine is None:
        return None
    index = int(mine.idx)
    first = (index >> CHUNK_LEVEL) << CHUNK_LEVEL
    chunk = conn.execute(
        select(proof_leaves.c.user_id, proof_leaves.c.balance, proof_leaves.c.salt)
        .where(
            proof_leaves.c.root_id == root.id, proof_leaves.c.idx >= first, proof_leaves.c.idx < first + CHUNK
        )
        .order_by(proof_leaves.c.idx)
    ).all()
    hashes = [merkle.leaf_hash(bytes(r.salt), int(r.user_id), int(r.balance)) for r in chunk]
    local = merkle.build(hashes, [int(r.balance) for r in chunk])
    steps = merkle.path(local, index - first)
    height = _height(root.leaves)
    wanted = [(level, (index >> level) ^ 1) for level in range(CHUNK_LEVEL, height)]
    if wanted:
        found = {
            (int(r.level), int(r.idx)): (bytes(r.hash), int(r.sum))
            for r in conn.execute(
                select(proof_nodes.c.level, proof_nodes.c.idx, proof_nodes.c.hash, proof_nodes.c.sum).where(
                    proof_nodes.c.root_id == root.id,
                    or_(*(and_(proof_nodes.c.level == lv, proof_nodes.c.idx == i) for lv, i in wanted)),
                )
            )
        }
        for level, sibling in wanted:
            if (level, sibling) in found:
                h, s = found[(level, sibling)]
                steps.append(merkle.Step("left" if sibling < (index >> level) else "right", h, s))
    return {
        "format": FORMAT,
        "asset": asset,
        "decimals": get_asset(asset).decimals,
        "day": root.day,
        "root": root.root_hash,
        "total": root.total,
        "leaf": {"user_id": user_id, "balance": int(mine.balance), "salt": bytes(mine.salt).hex()},
        "path": [{"side": s.side, "hash": s.hash.hex(), "sum": s.sum} for s in steps],
    }


def provable_assets() -> list[str]:
    """Coins a proof is built for: every ledger asset users can hold."""
    return list(ASSETS)
