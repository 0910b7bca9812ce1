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
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, Connection, String, bindparam, delete, select, text
from sqlalchemy.dialects import postgresql

from core.errors import IdempotencyConflict, TransferRejected
from core.money.ledger import PENDING, VOID
from core.money.tables import transfers
from core.platform import UTCDateTime, utcnow

CHUNK = 1000  # rows per SQLite statement (2 binds a row); PostgreSQL takes 10 times that as arrays

_COLS = "key, kind, debit, credit, asset, amount, code, meta, pending_id, reverses_id, created_at"
# The void of each pending transfer, from its own row: nothing for an id that is not pending, and
# nothing (ON CONFLICT DO NOTHING, any unique) for a key used before or a hold resolved before
# (transfers.pending_id is unique). What was not written is sorted out afterwards, in Python.
_SELECT = (
    "SELECT v.k, 'void', p.debit, p.credit, p.asset, p.amount, p.code, '{{}}', p.id, NULL, {now}"
    " FROM {values} JOIN transfers p ON p.id = v.p WHERE p.kind = 'pending'"
    " ON CONFLICT DO NOTHING RETURNING id, key, debit, credit, asset, amount"
)
_PG_VOID = text(
    f"INSERT INTO transfers ({_COLS}) " + _SELECT.format(now=":now", values="unnest(:p, :k) AS v(p, k)")
).bindparams(
    bindparam("p", type_=postgresql.ARRAY(BigInteger)),
    bindparam("k", type_=postgresql.ARRAY(String)),
    bindparam("now", type_=UTCDateTime),
)
# Released per account in one statement: the debit side's hold, the credit side's incoming.
_PG_RELEASE = {
    side: text(
        f"UPDATE accounts a SET {col} = a.{col} - v.a FROM unnest(:o, :s, :a) AS v(o, s, a)"
        " WHERE a.owner = v.o AND a.asset = v.s"
    ).bindparams(
        bindparam("o", type_=postgresql.ARRAY(String)),
        bindparam("s", type_=postgresql.ARRAY(String)),
        bindparam("a", type_=postgresql.ARRAY(BigInteger)),
    )
    for side, col in (("debit", "debits_pending"), ("credit", "credits_pending"))
}
_SQLITE_RELEASE = {
    side: f"UPDATE accounts SET {col} = {col} - ? WHERE owner = ? AND asset = ?"
    for side, col in (("debit", "debits_pending"), ("credit", "credits_pending"))
}


def void_pending_bulk(
    conn: Connection, voids: Sequence[tuple[int, str]], *, now: datetime | None = None
) -> dict[str, int]:
    """Void every ``(pending_id, key)`` of ``voids``; returns {key: void transfer id}.

    Amounts are the pending transfers' own (minor units); the debit account's hold and the
    credit account's incoming amount are released. Idempotent per key, at most once per pending
    transfer (see the module docstring); a refusal raises before anything is released, and the
    caller's transaction takes back what was written.
    """
    now = now or utcnow()
    if now.tzinfo is None:
        raise ValueError("naive datetime given to a UTC column")
    want: dict[int, str] = {}
    for pid, key in voids:
        if want.get(pid, key) != key:
            raise TransferRejected("already_resolved", id=pid)
        if not key or len(key) > 200:
            raise TransferRejected("bad_key_or_code", key=str(key)[:40])
        want[pid] = key
    if not want:
        return {}
    pg = conn.dialect.name == "postgresql"
    items = list(want.items())
    written: list[Any] = []
    if pg:
        for i in range(0, len(items), 10 * CHUNK):
            part = items[i : i + 10 * CHUNK]
            got = conn.execute(_PG_VOID, {"p": [p for p, _ in part], "k": [k for _, k in part], "now": now})
            written += got.all()
    else:
        at = now.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")  # as UTCDateTime stores it on SQLite
        cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            for i in range(0, len(items), CHUNK):
                part = items[i : i + CHUNK]
                rows = ", ".join(["(?, ?)"] * len(part))
                values = f"(SELECT column1 AS p, column2 AS k FROM (VALUES {rows})) AS v"
                sql = f"INSERT INTO transfers ({_COLS}) " + _SELECT.format(now="?", values=values)
                written += cur.execute(sql, [at, *(x for pair in part for x in pair)]).fetchall()
        finally:
            cur.close()
    out = {r[1]: r[0] for r in written}
    if len(out) < len(want):
        try:
            out.update(_unwritten(conn, [(p, k) for p, k in items if k not in out]))
        except (TransferRejected, IdempotencyConflict):
            # Nothing is released yet: taking the rows written moments ago back (never committed)
            # leaves the books as they were, even for a caller that catches the refusal.
            ids = [r[0] for r in written]
            for i in range(0, len(ids), CHUNK):
                conn.execute(delete(transfers).where(transfers.c.id.in_(ids[i : i + CHUNK])))
            raise
    held: dict[tuple[str, str], int] = {}
    incoming: dict[tuple[str, str], int] = {}
    for _id, _key, debit, credit, asset, amount in written:
        held[(debit, asset)] = held.get((debit, asset), 0) + amount
        incoming[(credit, asset)] = incoming.get((credit, asset), 0) + amount
    # Sorted, as every writer locks accounts: two batches never wait on each other in a circle.
    for side, sums in (("debit", held), ("credit", incoming)):
        rows = sorted(sums.items())
        if not rows:
            continue
        if pg:
            conn.execute(
                _PG_RELEASE[side],
                {"o": [o for (o, _), _a in rows], "s": [s for (_, s), _a in rows], "a": [a for _, a in rows]},
            )
        else:
            cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
            try:
                cur.executemany(_SQLITE_RELEASE[side], [(a, o, s) for (o, s), a in rows])
            finally:
                cur.close()
    return out


def _unwritten(conn: Connection, missing: list[tuple[int, str]]) -> dict[str, int]:
    """The voids the insert skipped: replays of this very void (their ids), or refusals."""
    found: dict[str, int] = {}
    for pid, key in missing:
        first = conn.execute(select(transfers).where(transfers.c.key == key)).first()
        if first is not None:
            if first.kind != VOID or first.pending_id != pid:
                raise IdempotencyConflict(key)
            found[key] = first.id
            continue
        p = conn.execute(select(transfers.c.kind).where(transfers.c.id == pid)).first()
        if p is None or p.kind != PENDING:
            raise TransferRejected("not_pending", id=pid)
        raise TransferRejected("already_resolved", id=pid)
    return found


__all__ = ["void_pending_bulk"]
