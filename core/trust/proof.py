"""Proof of liabilities: every day, per coin, a Merkle-sum tree over what each user holds.

The root hash and the total are published; a user gets their own leaf (balance and salt) and
the path to the root as a JSON document, and checks it with tools/verify_proof.py. The salt is a
keyed hash of (coin, day, user) under SECRET_KEY, new every day and shown only to its user. The
leaves are ordered by salt, so the order changes daily and a neighbour's sum in a path cannot be
tied to a person; the same order lets the server find a user's leaf from their salt.

A user's balance here is their posted balance, which still includes what is on hold (a
withdrawal on its way is owed until it is sent). Users holding nothing of a coin are left out.

Building is a read of one consistent snapshot, the hashing (off the event loop), then a few
short writes: the root row first without a hash, the leaves a chunk of 128 per row, the upper
nodes, then the hash, which publishes it. A run killed in the middle leaves an unpublished root
that the next run deletes and builds again; only published roots are served.
"""

from __future__ import annotations

import hmac
import sys
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, cast, delete, func, insert, select, update
from sqlalchemy.types import BigInteger

from core.money.assets import ASSETS, get_asset
from core.platform import params
from core.platform.schema import accounts
from core.trust import merkle
from core.trust.tables import proof_chunks, proof_nodes, proof_roots

FORMAT = "dustpan-proof-of-liabilities/1"
CHUNK_LEVEL = 7  # leaves are stored 2**7 to a row; nodes from this level up are stored as they are
WRITE_ROWS = 200  # chunk rows per write transaction (51,200 users): the writer is never held long

params.define("ops.channel", "", "text")


def chunk_size() -> int:
    return 1 << CHUNK_LEVEL


def salt_for(secret: str, asset: str, day: str, user_id: int) -> bytes:
    return hmac.digest(secret.encode(), b"pol:%s:%s:%d" % (asset.encode(), day.encode(), user_id), "sha256")


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
    """A built tree, ready to be written: the leaves in order, and every level of hashes and sums."""

    asset: str
    day: str
    taken_at: datetime
    users: array  # user ids in tree order
    salts: bytes  # 32 bytes per leaf, in tree order
    levels: list[merkle.Level]  # levels[0][1] are the balances in tree order

    @property
    def root_hash(self) -> str:
        return self.levels[-1][0].hex()

    @property
    def total(self) -> int:
        return int(self.levels[-1][1][0])

    @property
    def size(self) -> int:
        return len(self.users)


def owed_balances(conn: Connection, asset: str) -> list[tuple[int, int]]:
    """(user id, balance) of every user holding some of ``asset``."""
    user_id = cast(func.substr(accounts.c.owner, 6), BigInteger)
    rows = conn.execute(
        select(user_id, accounts.c.balance).where(
            accounts.c.asset == asset, accounts.c.owner.like("user:%"), accounts.c.balance > 0
        )
    ).all()
    return [(int(u), int(b)) for u, b in rows]


def build_tree(
    secret: str, asset: str, day: str, taken_at: datetime, owed: Sequence[tuple[int, int]]
) -> Tree | None:
    """The tree over ``owed`` (pure CPU; run it off the event loop). None when nobody holds the coin."""
    if not owed:
        return None
    key, prefix = secret.encode(), b"pol:%s:%s:" % (asset.encode(), day.encode())
    salts = [hmac.digest(key, prefix + b"%d" % user, "sha256") for user, _ in owed]
    order = sorted(range(len(owed)), key=salts.__getitem__)
    users = array("Q", (owed[i][0] for i in order))
    balances = array("Q", (owed[i][1] for i in order))
    salt_blob = b"".join(salts[i] for i in order)
    del salts, order
    leaves = merkle.leaf_hashes(salt_blob, users, balances)
    return Tree(asset, day, taken_at, users, salt_blob, merkle.build(leaves, balances))


def _le(values: array) -> bytes:
    if sys.byteorder == "big":
        values = array(values.typecode, values)
        values.byteswap()
    return values.tobytes()


def _from_le(data: bytes) -> array:
    values = array("Q")
    values.frombytes(data)
    if sys.byteorder == "big":
        values.byteswap()
    return values


def pack(tree: Tree, chunk: int) -> dict[str, Any]:
    size = chunk_size()
    lo, hi = chunk * size, min((chunk + 1) * size, tree.size)
    data = _le(tree.users[lo:hi]) + _le(tree.levels[0][1][lo:hi]) + tree.salts[32 * lo : 32 * hi]
    return {"idx": chunk, "first_salt": tree.salts[32 * lo : 32 * lo + 32], "data": data}


def unpack(data: bytes) -> tuple[array, array, bytes]:
    """A stored chunk: (user ids, balances, salts)."""
    n = len(data) // 48
    return _from_le(data[: 8 * n]), _from_le(data[8 * n : 16 * n]), data[16 * n :]


# --- writing a tree: start, chunks in batches, nodes and publish ---------------------------------


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
        conn.execute(delete(proof_chunks).where(proof_chunks.c.root_id == row.id))
        conn.execute(delete(proof_nodes).where(proof_nodes.c.root_id == row.id))
        conn.execute(delete(proof_roots).where(proof_roots.c.id == row.id))
    return int(
        conn.execute(
            insert(proof_roots)
            .values(
                asset=tree.asset, day=tree.day, total=tree.total, leaves=tree.size, taken_at=tree.taken_at
            )
            .returning(proof_roots.c.id)
        ).scalar_one()
    )


def chunk_batches(tree: Tree) -> Iterator[range]:
    chunks = (tree.size + chunk_size() - 1) // chunk_size()
    for first in range(0, chunks, WRITE_ROWS):
        yield range(first, min(first + WRITE_ROWS, chunks))


def write_chunks(conn: Connection, root_id: int, tree: Tree, chunks: range) -> None:
    conn.execute(insert(proof_chunks), [{"root_id": root_id, **pack(tree, c)} for c in chunks])


def write_nodes_and_publish(conn: Connection, root_id: int, tree: Tree, at: datetime) -> None:
    rows: list[dict[str, Any]] = [
        {"root_id": root_id, "level": lv, "idx": i, "hash": hashes[32 * i : 32 * i + 32], "sum": int(sums[i])}
        for lv in range(CHUNK_LEVEL, len(tree.levels) - 1)
        for hashes, sums in [tree.levels[lv]]
        for i in range(len(sums))
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


# The siblings above the chunk: one statement, the same for every proof (a superset of the rows
# wanted: every stored level at every wanted index, a few dozen rows; the dict picks the right ones).
_NODES = select(proof_nodes.c.level, proof_nodes.c.idx, proof_nodes.c.hash, proof_nodes.c.sum).where(
    proof_nodes.c.root_id == bindparam("root"),
    proof_nodes.c.level >= bindparam("low"),
    proof_nodes.c.idx.in_(bindparam("idx", expanding=True)),
)


def _height(leaves: int) -> int:
    """Index of the root's level in a tree of ``leaves`` leaves."""
    height, count = 0, leaves
    while count > 1:
        count, height = (count + 1) // 2, height + 1
    return height


def proof_document(conn: Connection, secret: str, user_id: int, asset: str) -> dict[str, Any] | None:
    """The user's proof for the newest published root of ``asset``; None if they are not in it."""
    root = latest_root(conn, asset)
    if root is None:
        return None
    salt = salt_for(secret, asset, root.day, user_id)
    row = conn.execute(
        select(proof_chunks.c.idx, proof_chunks.c.data)
        .where(proof_chunks.c.root_id == root.id, proof_chunks.c.first_salt <= salt)
        .order_by(proof_chunks.c.first_salt.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    users, balances, salts = unpack(bytes(row.data))
    try:
        j = next(j for j, u in enumerate(users) if u == user_id and salts[32 * j : 32 * j + 32] == salt)
    except StopIteration:
        return None
    steps = merkle.path(merkle.build(merkle.leaf_hashes(salts, users, balances), balances), j)
    index = int(row.idx) * chunk_size() + j
    wanted = [(lv, (index >> lv) ^ 1) for lv in range(CHUNK_LEVEL, _height(root.leaves))]
    if wanted:
        found = {
            (int(r.level), int(r.idx)): (bytes(r.hash), int(r.sum))
            for r in conn.execute(
                _NODES, {"root": root.id, "low": CHUNK_LEVEL, "idx": sorted({i for _, i in wanted})}
            )
        }
        for lv, sibling in wanted:
            if (lv, sibling) in found:
                h, s = found[(lv, sibling)]
                steps.append(merkle.Step("left" if sibling < (index >> lv) else "right", h, s))
    return {
        "format": FORMAT,
        "asset": asset,
        "decimals": get_asset(asset).decimals,
        "day": root.day,
        "root": root.root_hash,
        "total": root.total,
        "leaf": {"user_id": user_id, "balance": int(balances[j]), "salt": salt.hex()},
        "path": [{"side": s.side, "hash": s.hash.hex(), "sum": s.sum} for s in steps],
    }


def provable_assets() -> list[str]:
    """Coins a proof is built for: every ledger asset users can hold."""
    return list(ASSETS)
