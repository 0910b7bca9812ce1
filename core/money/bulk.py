"""The bulk ledger path: many transfers, or many posts of pending transfers, in a few statements.

A job that pays a million users (the daily bonus, the staking epoch) cannot afford a
million trips through ``ledger.transfer``. These functions take a batch and do, whatever
its size:

- one multi-row ``INSERT ... ON CONFLICT (key) DO NOTHING RETURNING`` of the transfers
  (per chunk of rows), so a key posted before is a replay exactly as for one transfer;
- one ``UPDATE ... FROM (VALUES ...)`` per chunk of the accounts the batch debits (the sum per
  account, guarded by ``balance - debits_pending >= sum``, world by its cap);
- one ``INSERT ... ON CONFLICT DO UPDATE`` per chunk of the accounts it credits (the sum per
  account, guarded by the balance cap);
- one multi-row insert of the entries, each with its own ``balance_after`` (the account's
  running balance in batch order).

Same rules as core.money.ledger: amounts are ints in minor units, ``0 < amount <= MAX_AMOUNT``,
assets and owners are checked, a key posted before with the same fields is a replay (nothing
moves), with other fields it is IdempotencyConflict. A batch is all or nothing: when an
account cannot pay (InsufficientFunds) or would pass the cap (BalanceLimit), what the batch
wrote is taken back before the error is raised, so even a caller that catches it may go on.
A batch's debits are paid from the balances before it (its own credits never fund them).
Both engines; every statement is built with bind parameters only.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, TextClause, bindparam, delete, select, text
from sqlalchemy.dialects import postgresql, sqlite

from core.errors import BalanceLimit, IdempotencyConflict, InsufficientFunds, TransferRejected, UnknownAsset
from core.money.accounts import WORLD, check_owner
from core.money.amounts import MAX_AMOUNT, MAX_BALANCE
from core.money.assets import LEDGER_ASSETS
from core.money.ledger import PENDING, POST, POSTED, Move
from core.platform.schema import UTCDateTime, accounts, entries, transfers, utcnow

CHUNK = 1000  # rows per statement: 5 binds a row stays far below both engines' limits

T = TypeVar("T")
Account = tuple[str, str]  # (owner, asset)


@dataclass(frozen=True, slots=True)
class BulkResult:
    """What a batch did: ``posted`` new transfers now, ``replayed`` keys posted before (nothing
    moved for them), and the transfer id of every key of the batch."""

    posted: int
    replayed: int
    ids: dict[str, int]


def _chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _meta_text(meta: dict[str, Any] | None) -> str:
    return json.dumps(meta or {}, sort_keys=True, separators=(",", ":"), default=str)


def _check(m: Move) -> None:
    """The checks ``ledger.transfer`` makes of one transfer before it writes."""
    if type(m.amount) is not int or not 0 < m.amount <= MAX_AMOUNT:
        raise TransferRejected("bad_amount", amount=repr(m.amount)[:40])
    if m.asset not in LEDGER_ASSETS:
        raise UnknownAsset(m.asset)
    check_owner(m.debit)
    check_owner(m.credit)
    if m.debit == m.credit:
        raise TransferRejected("same_account", account=m.debit)
    if not m.key or len(m.key) > 200 or not m.code or len(m.code) > 32:
        raise TransferRejected("bad_key_or_code", key=str(m.key)[:40])


_FIELDS = ("kind", "debit", "credit", "asset", "amount", "code", "pending_id")


def _insert_transfers(conn: Connection, rows: list[dict[str, Any]]) -> dict[str, int]:
    """Insert transfer rows, skipping keys that exist; {key: new id} of those written."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = (
        dialect.insert(transfers)
        .on_conflict_do_nothing(index_elements=[transfers.c.key])
        .returning(transfers.c.id, transfers.c.key)
    )
    new: dict[str, int] = {}
    for part in _chunks(rows):
        for r in conn.execute(stmt, list(part)):
            new[r.key] = r.id
    return new


def _check_replays(conn: Connection, rows: list[dict[str, Any]], new: dict[str, int]) -> dict[str, int]:
    """Ids of the batch's keys that were posted before; IdempotencyConflict if one differs."""
    old = [r for r in rows if r["key"] not in new]
    ids: dict[str, int] = {}
    for part in _chunks(old):
        by_key = {r["key"]: r for r in part}
        for t in conn.execute(select(transfers).where(transfers.c.key.in_(list(by_key)))):
            want = by_key[t.key]
            if any(getattr(t, name) != want[name] for name in _FIELDS):
                raise IdempotencyConflict(t.key)
            ids[t.key] = t.id
    return ids


def _values(n: int, cols: Iterable[str]) -> str:
    names = list(cols)
    return ", ".join(
        "(" + ", ".join(f":{c}{i}" if c in ("o", "s") else f"CAST(:{c}{i} AS BIGINT)" for c in names) + ")"
        for i in range(n)
    )


_STATEMENTS: dict[tuple[str, int], TextClause] = {}


def _stmt(kind: str, n: int) -> TextClause:
    """The set-based statement ``kind`` for ``n`` rows, built once per size."""
    got = _STATEMENTS.get((kind, n))
    if got is not None:
        return got
    if kind == "debit":  # the sum per account leaves it only if it can pay it all
        sql = (
            f"WITH v(o, s, a) AS (VALUES {_values(n, 'osa')}) "
            "UPDATE accounts SET balance = accounts.balance - v.a FROM v "
            "WHERE accounts.owner = v.o AND accounts.asset = v.s "
            "AND accounts.balance - accounts.debits_pending >= v.a "
            "RETURNING accounts.owner, accounts.asset, accounts.balance"
        )
    elif kind == "credit":  # creates the account when needed; refuses (no row) past the cap
        sql = (
            f"WITH v(o, s, a) AS (VALUES {_values(n, 'osa')}) "
            "INSERT INTO accounts (owner, asset, balance, debits_pending, credits_pending, created_at) "
            "SELECT v.o, v.s, v.a, 0, 0, :now FROM v WHERE true "
            "ON CONFLICT (owner, asset) DO UPDATE SET balance = accounts.balance + excluded.balance "
            f"WHERE accounts.balance + accounts.credits_pending + excluded.balance <= {MAX_BALANCE} "
            "RETURNING owner, asset, balance"
        )
    else:  # "settle": posts of pending transfers; held amounts leave, incoming ones arrive
        sql = (
            f"WITH v(o, s, d, h, c) AS (VALUES {_values(n, 'osdhc')}) "
            "UPDATE accounts SET balance = accounts.balance + v.d, "
            "debits_pending = accounts.debits_pending - v.h, "
            "credits_pending = accounts.credits_pending - v.c FROM v "
            "WHERE accounts.owner = v.o AND accounts.asset = v.s "
            "RETURNING accounts.owner, accounts.asset, accounts.balance"
        )
    stmt = text(sql)
    if kind == "credit":
        stmt = stmt.bindparams(bindparam("now", type_=UTCDateTime))
    _STATEMENTS[(kind, n)] = stmt
    return stmt


def _run(conn: Connection, kind: str, rows: list[tuple[Any, ...]], now: datetime) -> dict[Account, int]:
    """Apply ``kind`` to ``rows`` ((owner, asset, *amounts)); {account: balance after} of those it changed."""
    cols = {"debit": "osa", "credit": "osa", "settle": "osdhc"}[kind]
    after: dict[Account, int] = {}
    for part in _chunks(rows):
        binds: dict[str, Any] = {
            f"{c}{i}": v for i, row in enumerate(part) for c, v in zip(cols, row, strict=True)
        }
        if kind == "credit":
            binds["now"] = now
        for r in conn.execute(_stmt(kind, len(part)), binds):
            after[(r.owner, r.asset)] = r.balance
    return after


_UNDO_TRANSFERS = delete(transfers).where(transfers.c.id.in_(bindparam("ids", expanding=True)))


def _take_back(
    conn: Connection, new_ids: Iterable[int], moved: list[tuple[str, Account, int]], now: datetime
) -> None:
    """Undo what a refused batch wrote in this transaction (never committed: no history is rewritten)."""
    for kind, (owner, asset), amount in moved:
        # a debit is given back, a credit taken back, each exactly as it was applied
        sign = 1 if kind == "debit" else -1
        conn.execute(
            text("UPDATE accounts SET balance = balance + :a WHERE owner = :o AND asset = :s"),
            {"a": sign * amount, "o": owner, "s": asset},
        )
    ids = list(new_ids)
    for part in _chunks(ids):
        conn.execute(_UNDO_TRANSFERS, {"ids": list(part)})


def _world_debit(conn: Connection, asset: str, amount: int, now: datetime) -> int | None:
    """World pays ``amount`` (it may go below zero, down to minus the cap); its balance after, or None."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    ins = dialect.insert(accounts)
    stmt = ins.values(owner=WORLD, asset=asset, balance=-amount, created_at=now).on_conflict_do_update(
        index_elements=[accounts.c.owner, accounts.c.asset],
        set_={"balance": accounts.c.balance + ins.excluded.balance},
        where=accounts.c.balance - accounts.c.debits_pending + ins.excluded.balance >= -MAX_BALANCE,
    )
    got = conn.execute(stmt.returning(accounts.c.balance)).scalar()
    return None if got is None else int(got)


def _entries(
    conn: Connection,
    legs: list[tuple[int, str, str, int]],
    after: dict[Account, int],
) -> None:
    """Write the entries of ``legs`` ((transfer id, owner, asset, signed amount), in batch order),
    each with the account's balance right after it: the final balance minus what came later."""
    later: dict[Account, int] = {}
    rows: list[dict[str, Any]] = []
    for tid, owner, asset, amount in reversed(legs):
        acc = (owner, asset)
        rows.append(
            {
                "transfer_id": tid,
                "owner": owner,
                "asset": asset,
                "amount": amount,
                "balance_after": after[acc] - later.get(acc, 0),
            }
        )
        later[acc] = later.get(acc, 0) + amount
    rows.reverse()
    for part in _chunks(rows, 5 * CHUNK):
        conn.execute(entries.insert(), list(part))


def transfer_bulk(conn: Connection, moves: Sequence[Move], *, now: datetime | None = None) -> BulkResult:
    """Post every transfer of ``moves`` now, set-based, in the caller's transaction.

    Idempotent per key, like ``ledger.transfer`` (a key twice in one batch with the same
    fields is posted once). All or nothing: InsufficientFunds when a debit account cannot pay
    its sum, BalanceLimit past a cap, IdempotencyConflict for a key posted with other fields.
    """
    now = now or utcnow()
    if now.tzinfo is None:
        raise ValueError("naive datetime given to a UTC column")
    rows: dict[str, dict[str, Any]] = {}
    for m in moves:
        _check(m)
        row = {
            "key": m.key,
            "kind": POSTED,
            "debit": m.debit,
            "credit": m.credit,
            "asset": m.asset,
            "amount": m.amount,
            "code": m.code,
            "meta": _meta_text(m.meta),
            "pending_id": None,
            "reverses_id": None,
            "created_at": now,
        }
        seen = rows.get(m.key)
        if seen is not None:
            if any(seen[name] != row[name] for name in _FIELDS):
                raise IdempotencyConflict(m.key)
            continue
        rows[m.key] = row
    batch = list(rows.values())
    new = _insert_transfers(conn, batch)
    ids = _check_replays(conn, batch, new)
    fresh = [r for r in batch if r["key"] in new]
    debits: dict[Account, int] = {}
    credits: dict[Account, int] = {}
    for r in fresh:
        debits[(r["debit"], r["asset"])] = debits.get((r["debit"], r["asset"]), 0) + r["amount"]
        credits[(r["credit"], r["asset"])] = credits.get((r["credit"], r["asset"]), 0) + r["amount"]
    moved: list[tuple[str, Account, int]] = []
    after: dict[Account, int] = {}
    try:
        for acc, total in debits.items():
            if total > MAX_BALANCE:  # a sum no account could pay, nor any BIGINT hold for long
                raise BalanceLimit(acc[0], acc[1], MAX_BALANCE)
        users = [(o, s, a) for (o, s), a in debits.items() if o != WORLD]
        got = _run(conn, "debit", users, now)
        moved += [("debit", acc, debits[acc]) for acc in got]
        after.update(got)
        short = [acc for acc in debits if acc[0] != WORLD and acc not in got]
        if short:
            raise InsufficientFunds(short[0][0], short[0][1], debits[short[0]])
        for (o, s), a in debits.items():
            if o == WORLD:
                world_after = _world_debit(conn, s, a, now)
                if world_after is None:
                    raise BalanceLimit(o, s, MAX_BALANCE)
                moved.append(("debit", (o, s), a))
                after[(o, s)] = world_after
        got = _run(conn, "credit", [(o, s, a) for (o, s), a in credits.items()], now)
        moved += [("credit", acc, credits[acc]) for acc in got]
        capped = [acc for acc in credits if acc not in got]
        if capped:
            raise BalanceLimit(capped[0][0], capped[0][1], MAX_BALANCE)
        after.update(got)  # an account both debited and credited: its last statement is the credit
    except (InsufficientFunds, BalanceLimit):
        _take_back(conn, new.values(), moved, now)
        raise
    legs: list[tuple[int, str, str, int]] = []
    for r in fresh:
        tid = new[r["key"]]
        legs.append((tid, r["debit"], r["asset"], -r["amount"]))
        legs.append((tid, r["credit"], r["asset"], r["amount"]))
    _entries(conn, legs, after)
    return BulkResult(posted=len(fresh), replayed=len(batch) - len(fresh), ids={**ids, **new})


def post_pending_bulk(
    conn: Connection,
    posts: Sequence[tuple[int, str]],
    *,
    meta: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> BulkResult:
    """Complete many pending transfers, each ``(pending_id, key)``, like ``ledger.post_pending``.

    Each pending transfer is resolved at most once: posting it again under the same key is a
    replay, under another key (or after a void) it is refused (TransferRejected
    ``already_resolved``), as is an id that is not a pending transfer (``not_pending``).
    """
    now = now or utcnow()
    if now.tzinfo is None:
        raise ValueError("naive datetime given to a UTC column")
    want: dict[int, str] = {}
    for pid, key in posts:
        if want.get(pid, key) != key:
            raise TransferRejected("already_resolved", id=pid)
        if not key or len(key) > 200:
            raise TransferRejected("bad_key_or_code", key=str(key)[:40])
        want[pid] = key
    pending: dict[int, Any] = {}
    resolved: dict[int, str] = {}
    ids = list(want)
    for part in _chunks(ids):
        for t in conn.execute(select(transfers).where(transfers.c.id.in_(list(part)))):
            pending[t.id] = t
        for t in conn.execute(
            select(transfers.c.pending_id, transfers.c.key).where(transfers.c.pending_id.in_(list(part)))
        ):
            resolved[t.pending_id] = t.key
    rows: list[dict[str, Any]] = []
    meta_text = _meta_text(meta)
    for pid, key in want.items():
        p = pending.get(pid)
        if p is None or p.kind != PENDING:
            raise TransferRejected("not_pending", id=pid)
        if pid in resolved and resolved[pid] != key:
            raise TransferRejected("already_resolved", id=pid)
        rows.append(
            {
                "key": key,
                "kind": POST,
                "debit": p.debit,
                "credit": p.credit,
                "asset": p.asset,
                "amount": p.amount,
                "code": p.code,
                "meta": meta_text,
                "pending_id": pid,
                "reverses_id": None,
                "created_at": now,
            }
        )
    new = _insert_transfers(conn, rows)
    old_ids = _check_replays(conn, rows, new)
    fresh = [r for r in rows if r["key"] in new]
    delta: dict[Account, list[int]] = {}  # account -> [balance change, held released, incoming settled]
    for r in fresh:
        d = delta.setdefault((r["debit"], r["asset"]), [0, 0, 0])
        d[0] -= r["amount"]
        d[1] += r["amount"]
        c = delta.setdefault((r["credit"], r["asset"]), [0, 0, 0])
        c[0] += r["amount"]
        c[2] += r["amount"]
    after = _run(conn, "settle", [(o, s, *v) for (o, s), v in delta.items()], now)
    legs: list[tuple[int, str, str, int]] = []
    for r in fresh:
        tid = new[r["key"]]
        legs.append((tid, r["debit"], r["asset"], -r["amount"]))
        legs.append((tid, r["credit"], r["asset"], r["amount"]))
    _entries(conn, legs, after)
    return BulkResult(posted=len(fresh), replayed=len(rows) - len(fresh), ids={**old_ids, **new})


__all__ = ["BulkResult", "Move", "post_pending_bulk", "transfer_bulk"]
