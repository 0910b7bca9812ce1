#!/usr/bin/env python3
"""Check a Dustpan proof of liabilities against a published root and total.

    python3 tools/verify_proof.py proof.json --root <published root hash> --total <published total>

proof.json is the document /proof sends you. The root and total are the ones Dustpan published
for that coin and day (in /proof, and in its channel when it has one). Prints "OK: ..." and exits 0
when your balance is counted in that total, or says what is wrong and exits 1.

Standard library only, so you can read all of it. The rules (the same as core/trust/merkle.py):
    leaf = SHA-256("dustpan-pol-leaf" | salt (32 bytes) | user id (8 bytes) | balance (16 bytes))
    node = SHA-256("dustpan-pol-node" | left hash | left sum (16 bytes) | right hash | right sum (16 bytes))
integers unsigned big-endian; a node's sum is the sum of its children's, and can never be negative.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys

FORMAT = "dustpan-proof-of-liabilities/1"
SUM_BYTES = 16
MAX_SUM = (1 << (8 * SUM_BYTES)) - 1


class Refused(Exception):
    pass


def _int(value: object, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise Refused(f"{what} is not a whole number")
    if value < 0:
        raise Refused(f"{what} is negative")
    if value > MAX_SUM:
        raise Refused(f"{what} is too large")
    return value


def _hex32(value: object, what: str) -> bytes:
    if not isinstance(value, str) or len(value) != 64:
        raise Refused(f"{what} is not 64 hex digits")
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise Refused(f"{what} is not 64 hex digits") from None


def _node(lh: bytes, ls: int, rh: bytes, rs: int) -> bytes:
    return hashlib.sha256(
        b"dustpan-pol-node" + lh + ls.to_bytes(SUM_BYTES, "big") + rh + rs.to_bytes(SUM_BYTES, "big")
    ).digest()


def verify(doc: object, root: str | None = None, total: int | None = None) -> str:
    """The OK line, or raise Refused with what is wrong."""
    if not isinstance(doc, dict):
        raise Refused("the proof is not a JSON object")
    if doc.get("format") != FORMAT:
        raise Refused(f"unknown format {doc.get('format')!r} (expected {FORMAT})")
    leaf = doc.get("leaf")
    if not isinstance(leaf, dict):
        raise Refused("the proof has no leaf")
    user = _int(leaf.get("user_id"), "the leaf's user id")
    balance = _int(leaf.get("balance"), "the leaf's balance")
    salt = _hex32(leaf.get("salt"), "the leaf's salt")
    path = doc.get("path")
    if not isinstance(path, list):
        raise Refused("the proof has no path")
    h = hashlib.sha256(
        b"dustpan-pol-leaf" + salt + user.to_bytes(8, "big") + balance.to_bytes(SUM_BYTES, "big")
    ).digest()
    s = balance
    for n, step in enumerate(path, 1):
        if not isinstance(step, dict):
            raise Refused(f"step {n} of the path is not an object")
        sib_h = _hex32(step.get("hash"), f"step {n}'s hash")
        sib_s = _int(step.get("sum"), f"step {n}'s sum")
        side = step.get("side")
        if side == "left":
            h, s = _node(sib_h, sib_s, h, s), sib_s + s
        elif side == "right":
            h, s = _node(h, s, sib_h, sib_s), s + sib_s
        else:
            raise Refused(f"step {n}'s side is not left or right")
        if s > MAX_SUM:
            raise Refused(f"the sum after step {n} is too large")
    claimed_root = doc.get("root")
    claimed_total = doc.get("total")
    if h.hex() != claimed_root:
        raise Refused(f"the path leads to root {h.hex()}, not to the proof's root {claimed_root}")
    if s != claimed_total:
        raise Refused(f"the path adds up to {s}, not to the proof's total {claimed_total}")
    if root is not None and root.strip().lower() != h.hex():
        raise Refused(f"the proof is for root {h.hex()}, not for the published root {root}")
    if total is not None and total != s:
        raise Refused(f"the proof's total is {s}, not the published total {total}")
    where = (
        "the published root" if root is not None else "the root named in the proof (pass --root to compare)"
    )
    return (
        f"OK: your balance {balance} of {doc.get('asset')} on {doc.get('day')} is counted in total {s}, "
        f"under {where} {h.hex()}"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Check a Dustpan proof of liabilities.")
    ap.add_argument("proof", help="the JSON document /proof sent you (- for standard input)")
    ap.add_argument("--root", help="the published root hash")
    ap.add_argument("--total", type=int, help="the published total, in the coin's smallest unit")
    args = ap.parse_args(argv)
    try:
        text = sys.stdin.read() if args.proof == "-" else open(args.proof, encoding="utf-8").read()
    except OSError as e:
        print(f"FAILED: cannot read {args.proof}: {e.strerror}")
        return 1
    try:
        doc = json.loads(text)
    except ValueError:
        print("FAILED: the proof is not valid JSON (truncated?)")
        return 1
    try:
        print(verify(doc, args.root, args.total))
    except Refused as e:
        print(f"FAILED: {e}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
