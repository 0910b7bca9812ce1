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


def next_level(hashes: Sequence[bytes], sums: Sequence[int]) -> tuple[list[bytes], list[int]]:
    """The level above ``hashes``/``sums``: pairs combined, an odd last node carried up."""
    up_h: list[bytes] = []
    up_s: list[int] = []
    n = len(hashes)
    for i in range(0, n - 1, 2):
        s = sums[i] + sums[i + 1]
        up_h.append(node_hash(hashes[i], sums[i], hashes[i + 1], sums[i + 1]))
        up_s.append(s)
    if n % 2:
        up_h.append(hashes[-1])
        up_s.append(sums[-1])
    return up_h, up_s


def build(hashes: Sequence[bytes], sums: Sequence[int]) -> list[tuple[list[bytes], list[int]]]:
    """Every level of the tree over these leaves, leaves first, the root's level last."""
    if not hashes:
        raise ValueError("a tree needs at least one leaf")
    levels = [(list(hashes), list(sums))]
    while len(levels[-1][0]) > 1:
        levels.append(next_level(*levels[-1]))
    return levels


def path(levels: Sequence[tuple[Sequence[bytes], Sequence[int]]], index: int) -> list[Step]:
    """The siblings from leaf ``index`` up to the root (levels as ``build`` returns them)."""
    steps: list[Step] = []
    for hashes, sums in levels[:-1]:
        sibling = index ^ 1
        if sibling < len(hashes):
            side = "left" if sibling < index else "right"
            steps.append(Step(side, hashes[sibling], sums[sibling]))
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
