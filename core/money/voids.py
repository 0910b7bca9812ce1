"""Voiding many pending transfers at once: ``ledger.void_pending`` for a batch, set-based.

The companion of core.money.bulk's ``post_pending_bulk`` for a settlement that releases many
holds at once (a crash round voids the house's cover of every bet). Per batch, whatever its size:
two reads of the pending transfers (and of what resolved them), one multi-row insert of the void
transfers (``ON CONFLICT (key) DO NOTHING``, so a key voided before is a replay), and one
statement per side of the accounts (the held sums per account released).

Same rules as ``ledger.void_pending``: each pending transfer is resolved at most once (a void
again under the same key is a replay and moves nothing; under another key, or after a post,
TransferRejected ``already_resolved``; an id that is not a pending transfer ``not_pending``).
A void moves no balance, so it writes no entries. All in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, select, update

from core.errors import IdempotencyConflict, TransferRejected
from core.money.ledger import PENDING, VOID
from core.money.tables import accounts, transfers
from core.platform import insert_for, utcnow

CHUNK = 1000

_UNHOLD = (
    update(accounts)
    .where(accounts.c.owner == bindparam("o"), accounts.c.asset == bindparam("s"))
    .values(debits_pending=accounts.c.debits_pending - bindparam("a"))
)
_UNCREDIT = (
    update(accounts)
    .where(accounts.c.owner == bindparam("o"), accounts.c.asset == bindparam("s"))
    .values(credits_pending=accounts.c.credits_pending - bindparam("a"))
)


def void_pending_bulk(
    conn: Connection, voids: Sequence[tuple[int, str]], *, now: datetime | None = None
) -> dict[str, int]:
    """Void every ``(pending_id, key)`` of ``voids``; returns {key: void transfer id}.

    Amounts are the pending transfers' own (minor units); the debit account's hold and the
    credit account's incoming amount are released. Idempotent per key, at most once per pending
    transfer (see the module docstring).
    """
    now = now or utcnow()
    want: dict[int, str] = {}
    for pid, key in voids:
        if want.get(pid, key) != key:
            raise TransferRejected("already_resolved", id=pid)
        if not key or len(key) > 200:
            raise TransferRejected("bad_key_or_code", key=str(key)[:40])
        want[pid] = key
    if not want:
        return {}
    ids = list(want)
    pending: dict[int, Any] = {}
    resolved: dict[int, str] = {}
    for i in range(0, len(ids), CHUNK):
        part = ids[i : i + CHUNK]
        for t in conn.execute(select(transfers).where(transfers.c.id.in_(part))):
            pending[t.id] = t
        for t in conn.execute(
            select(transfers.c.pending_id, transfers.c.key).where(transfers.c.pending_id.in_(part))
        ):
            resolved[t.pending_id] = t.key
    rows: list[dict[str, Any]] = []
    for pid, key in want.items():
        p = pending.get(pid)
        if p is None or p.kind != PENDING:
            raise TransferRejected("not_pending", id=pid)
        if pid in resolved and resolved[pid] != key:
            raise TransferRejected("already_resolved", id=pid)
        rows.append(
            dict(
                key=key,
                kind=VOID,
                debit=p.debit,
                credit=p.credit,
                asset=p.asset,
                amount=p.amount,
                code=p.code,
                meta="{}",
                pending_id=pid,
                reverses_id=None,
                created_at=now,
            )
        )
    insert = insert_for(conn)(transfers).on_conflict_do_nothing(index_elements=[transfers.c.key])
    new: dict[str, int] = {}
    for i in range(0, len(rows), CHUNK):
        got = conn.execute(insert.returning(transfers.c.id, transfers.c.key), rows[i : i + CHUNK])
        new.update({r.key: r.id for r in got})
    out = dict(new)
    for r in rows:
        if r["key"] in new:
            continue
        first = conn.execute(select(transfers).where(transfers.c.key == r["key"])).one()
        if first.kind != VOID or first.pending_id != r["pending_id"]:
            raise IdempotencyConflict(r["key"])
        out[r["key"]] = first.id
    held: dict[tuple[str, str], int] = {}
    incoming: dict[tuple[str, str], int] = {}
    for r in rows:
        if r["key"] in new:
            held[(r["debit"], r["asset"])] = held.get((r["debit"], r["asset"]), 0) + r["amount"]
            incoming[(r["credit"], r["asset"])] = incoming.get((r["credit"], r["asset"]), 0) + r["amount"]
    # Sorted, as every writer locks accounts: two batches never wait on each other in a circle.
    if held:
        conn.execute(_UNHOLD, [{"o": o, "s": s, "a": a} for (o, s), a in sorted(held.items())])
    if incoming:
        conn.execute(_UNCREDIT, [{"o": o, "s": s, "a": a} for (o, s), a in sorted(incoming.items())])
    return out


__all__ = ["void_pending_bulk"]
