"""Merkle-sum trees: the pure maths of the proof of liabilities.

A leaf commits to one user's balance of one coin on one day, hidden behind a salt only that
user is shown. A node commits to its two children's hashes and sums, and carries their sum,
so the root's sum is the total the platform owes, and no node can hide a negative balance.

    leaf = SHA-256("dustpan-pol-leaf" | salt (32 bytes) | user id (8 bytes) | balance (16 bytes))
    node = SHA-256("dustpan-pol-node" | left hash | left sum (16 bytes) | right hash | right sum (16 bytes))

Integers are unsigned big-endian, so a negative sum cannot even be written. A level with an odd
number of nodes carries its last node up unchanged (it has no sibling at that level). The same
rules are written out, with the standard library only, in tools/verify_proof.py: change both or
neither.
"""

from __future__ import annotations

import hashlib
from array import array
from collections.abc import Sequence
from dataclasses import dataclass

LEAF_TAG = b"dustpan-pol-leaf"
NODE_TAG = b"dustpan-pol-node"
SUM_BYTES = 16  # 2**128 > any sum of balances capped at 10**18 each
MAX_SUM = (1 << (8 * SUM_BYTES)) - 1


def leaf_hash(salt: bytes, user_id: int, balance: int) -> bytes:
    if len(salt) != 32 or balance < 0 or user_id < 0:
        raise ValueError("a leaf needs a 32-byte salt, a user id and a balance of zero or more")
    return hashlib.sha256(
        LEAF_TAG + salt + user_id.to_bytes(8, "big") + balance.to_bytes(SUM_BYTES, "big")
    ).digest()


def leaf_hashes(salts: bytes, users: Sequence[int], balances: Sequence[int]) -> bytes:
    """``leaf_hash`` of many leaves at once (salts as one bytes object, 32 bytes each), concatenated."""
    sha, tag = hashlib.sha256, LEAF_TAG
    return b"".join(
        sha(tag + salts[32 * i : 32 * i + 32] + u.to_bytes(8, "big") + b.to_bytes(SUM_BYTES, "big")).digest()
        for i, (u, b) in enumerate(zip(users, balances, strict=True))
    )


def node_hash(left: bytes, left_sum: int, right: bytes, right_sum: int) -> bytes:
    return hashlib.sha256(
        NODE_TAG + left + left_sum.to_bytes(SUM_BYTES, "big") + right + right_sum.to_bytes(SUM_BYTES, "big")
    ).digest()


@dataclass(frozen=True, slots=True)
class Step:
    """One sibling on the way from a leaf to the root: it sits on ``side`` of our node."""

    side: str  # "left" or "right"
    hash: bytes
    sum: int


# A level is compact: its hashes as one bytes object (32 bytes each) and its sums as an array of
# unsigned 64-bit ints (a million users' tree then takes tens of MB, not hundreds). Sums fit: the
# ledger keeps what the world owes, and so any sum of user balances, below 10**18 < 2**63.
Level = tuple[bytes, array]


def level(hashes: Sequence[bytes], sums: Sequence[int]) -> Level:
    return b"".join(hashes), array("Q", sums)


def next_level(hashes: bytes, sums: array) -> Level:
    """The level above: pairs combined, an odd last node carried up."""
    sha, tag = hashlib.sha256, NODE_TAG
    n = len(sums)
    up_h = bytearray()
    up_s = array("Q")
    for i in range(0, n - 1, 2):
        ls, rs = sums[i], sums[i + 1]
        at = 32 * i
        up_h += sha(
            tag
            + hashes[at : at + 32]
            + ls.to_bytes(SUM_BYTES, "big")
            + hashes[at + 32 : at + 64]
            + rs.to_bytes(SUM_BYTES, "big")
        ).digest()
        up_s.append(ls + rs)
    if n % 2:
        up_h += hashes[-32:]
        up_s.append(sums[-1])
    return bytes(up_h), up_s


def build(hashes: bytes, sums: array) -> list[Level]:
    """Every level of the tree over these leaves, leaves first, the root's level last."""
    if not sums or len(hashes) != 32 * len(sums):
        raise ValueError("a tree needs at least one leaf, and a hash per sum")
    levels: list[Level] = [(hashes, sums)]
    while len(levels[-1][1]) > 1:
        levels.append(next_level(*levels[-1]))
    return levels


def path(levels: Sequence[Level], index: int) -> list[Step]:
    """The siblings from leaf ``index`` up to the root (levels as ``build`` returns them)."""
    steps: list[Step] = []
    for hashes, sums in levels[:-1]:
        sibling = index ^ 1
        if sibling < len(sums):
            side = "left" if sibling < index else "right"
            steps.append(Step(side, hashes[32 * sibling : 32 * sibling + 32], sums[sibling]))
        index //= 2
    return steps


def fold(leaf: bytes, balance: int, steps: Sequence[Step]) -> tuple[bytes, int]:
    """The root hash and sum that a leaf and its path lead to."""
    h, s = leaf, balance
    for step in steps:
        if step.sum < 0 or step.sum > MAX_SUM:
            raise ValueError("a sum out of range")
        if step.side == "left":
            h, s = node_hash(step.hash, step.sum, h, s), step.sum + s
        elif step.side == "right":
            h, s = node_hash(h, s, step.hash, step.sum), s + step.sum
        else:
            raise ValueError("a step's side is left or right")
        if s > MAX_SUM:
            raise ValueError("a sum out of range")
    return h, s
