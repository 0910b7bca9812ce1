"""The bulk ledger path: many transfers, or many posts of pending transfers, in a few statements.

A job that pays a million users (the daily bonus, the staking epoch) cannot afford a
million trips through ``ledger.transfer``. These functions take a batch and do, per chunk of
rows (SQLite: multi-row VALUES on the driver's own cursor; PostgreSQL: one array per column
through ``unnest``, so one statement whatever the chunk's size):

- one ``INSERT ... ON CONFLICT (key) DO NOTHING RETURNING`` of the transfers, so a key posted
  before is a replay exactly as for one transfer;
- one ``UPDATE ... FROM`` of the accounts the batch debits (the sum per account, guarded by
  ``balance - debits_pending >= sum``; world by its cap);
- one ``INSERT ... ON CONFLICT DO UPDATE`` of the accounts it credits (the sum per account,
  guarded by the balance cap);
- one insert of the entries, each with its own ``balance_after`` (the account's running
  balance in batch order).

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
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import BigInteger, Connection, String, bindparam, delete, select, text
from sqlalchemy.dialects import postgresql, sqlite

from core.errors import BalanceLimit, IdempotencyConflict, InsufficientFunds, TransferRejected, UnknownAsset
from core.money.accounts import WORLD, check_owner
from core.money.amounts import MAX_AMOUNT, MAX_BALANCE
from core.money.assets import LEDGER_ASSETS
from core.money.ledger import PENDING, POST, POSTED, VOID, Move
from core.money.tables import accounts, transfers
from core.platform import UTCDateTime, utcnow

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
    if not meta:
        return "{}"
    return json.dumps(meta or {}, sort_keys=True, separators=(",", ":"), default=str)


def _check(m: Move, known: set[str]) -> None:
    """The checks ``ledger.transfer`` makes of one transfer before it writes (``known``: owners
    already checked in this batch, e.g. the one account that pays everybody)."""
    if type(m.amount) is not int or not 0 < m.amount <= MAX_AMOUNT:
        raise TransferRejected("bad_amount", amount=repr(m.amount)[:40])
    if m.asset not in LEDGER_ASSETS:
        raise UnknownAsset(m.asset)
    for owner in (m.debit, m.credit):
        if owner not in known:
            check_owner(owner)
            known.add(owner)
    if m.debit == m.credit:
        raise TransferRejected("same_account", account=m.debit)
    if not m.key or len(m.key) > 200 or not m.code or len(m.code) > 32:
        raise TransferRejected("bad_key_or_code", key=str(m.key)[:40])


_FIELDS = ("kind", "debit", "credit", "asset", "amount", "code", "pending_id")


_T_COLS = "key, kind, debit, credit, asset, amount, code, meta, pending_id, reverses_id, created_at"
_SQLITE_ROWS = 2000  # rows per SQLite statement: 11 binds a row stays below its 32766


def _is_pg(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql"


# Pages SQLite may keep in memory for a batch (KiB, negative as PRAGMA cache_size takes it): a
# batch touches the key index, the entries index and the accounts of a million users in no
# useful order, and the default 2 MB cache makes each touch a read.
SQLITE_CACHE_KIB = 98_304


def _cursor(conn: Connection) -> Any:
    """The SQLite driver's own cursor, in the caller's transaction: at a million rows, SQLAlchemy's
    per-row work costs several times SQLite's own (the same reason as ledger._sqlite_posted)."""
    cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    cur.execute(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
    return cur


def _stamp(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")  # as UTCDateTime stores it on SQLite


def _arr(name: str, kind: Any) -> Any:
    return bindparam(name, type_=postgresql.ARRAY(kind))


# PostgreSQL: one statement per chunk with one array per column (unnest), built once.
_PG_INSERT = text(
    f"INSERT INTO transfers ({_T_COLS}) "
    "SELECT v.k, v.kd, v.d, v.c, v.s, v.a, v.cd, v.m, v.p, NULL, :now "
    "FROM unnest(:k, :kd, :d, :c, :s, :a, :cd, :m, :p) AS v(k, kd, d, c, s, a, cd, m, p) "
    "ON CONFLICT (key) DO NOTHING RETURNING id, key"
).bindparams(
    *(_arr(n, String) for n in ("k", "kd", "d", "c", "s", "cd", "m")),
    _arr("a", BigInteger),
    _arr("p", BigInteger),
    bindparam("now", type_=UTCDateTime),
)
_PG_BY_KEYS = text(
    "SELECT id, key, kind, debit, credit, asset, amount, code, pending_id FROM transfers WHERE key = ANY(:k)"
).bindparams(_arr("k", String))
_PG_ENTRIES = text(
    "INSERT INTO entries (transfer_id, owner, asset, amount, balance_after) "
    "SELECT * FROM unnest(:t, :o, :s, :a, :b)"
).bindparams(
    _arr("t", BigInteger), _arr("o", String), _arr("s", String), _arr("a", BigInteger), _arr("b", BigInteger)
)
_RETURN = " RETURNING accounts.owner, accounts.asset, accounts.balance"
_GUARD = f"accounts.balance + accounts.credits_pending + excluded.balance <= {MAX_BALANCE}"
_SQL = {  # the set-based account updates: {source} is the rows (a VALUES list or unnest)
    "debit": "UPDATE accounts SET balance = accounts.balance - v.a FROM {source} "
    "WHERE accounts.owner = v.o AND accounts.asset = v.s AND accounts.balance - accounts.debits_pending >= v.a"
    + _RETURN,
    "credit": "INSERT INTO accounts (owner, asset, balance, debits_pending, credits_pending, created_at) "
    "SELECT v.o, v.s, v.a, 0, 0, {now} FROM {source} WHERE true ON CONFLICT (owner, asset) DO UPDATE "
    f"SET balance = accounts.balance + excluded.balance WHERE {_GUARD}" + _RETURN,
    "settle": "UPDATE accounts SET balance = accounts.balance + v.d, debits_pending = accounts.debits_pending - v.h, "
    "credits_pending = accounts.credits_pending - v.c FROM {source} "
    "WHERE accounts.owner = v.o AND accounts.asset = v.s" + _RETURN,
}
_COLS = {"debit": "osa", "credit": "osa", "settle": "osdhc"}
_PG_RUN = {
    kind: text(
        sql.format(
            source=f"unnest({', '.join(':' + c for c in _COLS[kind])}) AS v({', '.join(_COLS[kind])})",
            now=":now",
        )
    ).bindparams(
        *(_arr(c, String if c in "os" else BigInteger) for c in _COLS[kind]),
        *([bindparam("now", type_=UTCDateTime)] if kind == "credit" else []),
    )
    for kind, sql in _SQL.items()
}
_SQLITE_RUN: dict[tuple[str, int], str] = {}


def _sqlite_run_sql(kind: str, n: int) -> str:
    got = _SQLITE_RUN.get((kind, n))
    if got is None:
        cols = _COLS[kind]
        row = "(" + ", ".join("?" if c in "os" else "CAST(? AS INTEGER)" for c in cols) + ")"
        cte = f"WITH v({', '.join(cols)}) AS (VALUES {', '.join([row] * n)}) "
        got = _SQLITE_RUN[(kind, n)] = cte + _SQL[kind].format(source="v", now="?")
    return got


def _insert_transfers(conn: Connection, rows: list[dict[str, Any]], now: datetime) -> dict[str, int]:
    """Insert transfer rows, skipping keys that exist; {key: new id} of those written."""
    new: dict[str, int] = {}
    if _is_pg(conn):
        for part in _chunks(rows, 10 * CHUNK):
            cols = {
                c: [r[f] for r in part]
                for c, f in (
                    ("k", "key"),
                    ("kd", "kind"),
                    ("d", "debit"),
                    ("c", "credit"),
                    ("s", "asset"),
                    ("a", "amount"),
                    ("cd", "code"),
                    ("m", "meta"),
                    ("p", "pending_id"),
                )
            }
            for r in conn.execute(_PG_INSERT, {**cols, "now": now}):
                new[r.key] = r.id
        return new
    cur, at = _cursor(conn), _stamp(now)
    try:
        for part in _chunks(rows, _SQLITE_ROWS):
            sql = (
                f"INSERT INTO transfers ({_T_COLS}) VALUES "
                + ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?)"] * len(part))
                + " ON CONFLICT (key) DO NOTHING RETURNING id, key"
            )
            binds = [
                v
                for r in part
                for v in (
                    r["key"],
                    r["kind"],
                    r["debit"],
                    r["credit"],
                    r["asset"],
                    r["amount"],
                    r["code"],
                    r["meta"],
                    r["pending_id"],
                    at,
                )
            ]
            new.update({key: tid for tid, key in cur.execute(sql, binds).fetchall()})
    finally:
        cur.close()
    return new


def _check_replays(conn: Connection, rows: list[dict[str, Any]], new: dict[str, int]) -> dict[str, int]:
    """Ids of the batch's keys that were posted before; IdempotencyConflict if one differs."""
    old = [r for r in rows if r["key"] not in new]
    ids: dict[str, int] = {}
    for part in _chunks(old, _SQLITE_ROWS):
        by_key = {r["key"]: r for r in part}
        if _is_pg(conn):
            found = [tuple(t) for t in conn.execute(_PG_BY_KEYS, {"k": list(by_key)})]
        else:
            cur = _cursor(conn)
            try:
                sql = (
                    "SELECT id, key, kind, debit, credit, asset, amount, code, pending_id FROM transfers"
                    f" WHERE key IN ({', '.join(['?'] * len(by_key))})"
                )
                found = cur.execute(sql, list(by_key)).fetchall()
            finally:
                cur.close()
        for tid, key, *fields in found:
            want = by_key[key]
            if any(got != want[name] for name, got in zip(_FIELDS, fields, strict=True)):
                raise IdempotencyConflict(key)
            ids[key] = tid
    return ids


def _run(conn: Connection, kind: str, rows: list[tuple[Any, ...]], now: datetime) -> dict[Account, int]:
    """Apply ``kind`` to ``rows`` ((owner, asset, *amounts)); {account: balance after} of those it changed."""
    cols = _COLS[kind]
    after: dict[Account, int] = {}
    if _is_pg(conn):
        for part in _chunks(rows, 10 * CHUNK):
            binds: dict[str, Any] = {c: [r[i] for r in part] for i, c in enumerate(cols)}
            if kind == "credit":
                binds["now"] = now
            for r in conn.execute(_PG_RUN[kind], binds):
                after[(r.owner, r.asset)] = int(r.balance)
        return after
    cur = _cursor(conn)
    try:
        for part in _chunks(rows, CHUNK):
            flat = [v for r in part for v in r]
            if kind == "credit":
                flat.append(_stamp(now))
            for owner, asset, balance in cur.execute(_sqlite_run_sql(kind, len(part)), flat).fetchall():
                after[(owner, asset)] = int(balance)
    finally:
        cur.close()
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
    rows: list[tuple[int, str, str, int, int]] = []
    for tid, owner, asset, amount in reversed(legs):
        acc = (owner, asset)
        rows.append((tid, owner, asset, amount, after[acc] - later.get(acc, 0)))
        later[acc] = later.get(acc, 0) + amount
    rows.reverse()
    if _is_pg(conn):
        for part in _chunks(rows, 20 * CHUNK):
            conn.execute(_PG_ENTRIES, {c: [r[i] for r in part] for i, c in enumerate("tosab")})
        return
    cur = _cursor(conn)
    try:
        cur.executemany(
            "INSERT INTO entries (transfer_id, owner, asset, amount, balance_after) VALUES (?, ?, ?, ?, ?)",
            rows,
        )
    finally:
        cur.close()


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
    known: set[str] = set()
    for m in moves:
        _check(m, known)
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
    new = _insert_transfers(conn, batch, now)
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
    return _resolve_bulk(conn, POST, posts, meta, now)


def void_pending_bulk(
    conn: Connection,
    voids: Sequence[tuple[int, str]],
    *,
    meta: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> BulkResult:
    """Cancel many pending transfers, each ``(pending_id, key)``, like ``ledger.void_pending``:
    each hold is released and nothing moves (no entries). The same rules as
    ``post_pending_bulk``: at most once, a replay under the same key, refused under another."""
    return _resolve_bulk(conn, VOID, voids, meta, now)


def _resolve_bulk(
    conn: Connection,
    kind: str,
    items: Sequence[tuple[int, str]],
    meta: dict[str, Any] | None,
    now: datetime | None,
) -> BulkResult:
    now = now or utcnow()
    if now.tzinfo is None:
        raise ValueError("naive datetime given to a UTC column")
    want: dict[int, str] = {}
    for pid, key in items:
        if want.get(pid, key) != key:
            raise TransferRejected("already_resolved", id=pid)
        if not key or len(key) > 200:
            raise TransferRejected("bad_key_or_code", key=str(key)[:40])
        want[pid] = key
    pending: dict[int, Any] = {}
    resolved: dict[int, str] = {}
    ids = list(want)
    pg = _is_pg(conn)
    for part in _chunks(ids, 10 * CHUNK):
        # PostgreSQL: one array parameter, not ten thousand rendered binds
        for t in conn.execute(_PG_BY_IDS if pg else _BY_IDS, {"ids": list(part)}):
            pending[t.id] = t
        for t in conn.execute(_PG_RESOLVED_BY if pg else _RESOLVED_BY, {"ids": list(part)}):
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
                "kind": kind,
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
    new = _insert_transfers(conn, rows, now)
    old_ids = _check_replays(conn, rows, new)
    fresh = [r for r in rows if r["key"] in new]
    posting = kind == POST
    delta: dict[Account, list[int]] = {}  # account -> [balance change, held released, incoming settled]
    for r in fresh:
        d = delta.setdefault((r["debit"], r["asset"]), [0, 0, 0])
        d[0] -= r["amount"] if posting else 0
        d[1] += r["amount"]
        c = delta.setdefault((r["credit"], r["asset"]), [0, 0, 0])
        c[0] += r["amount"] if posting else 0
        c[2] += r["amount"]
    # In one order on every engine and instance, so two batches lock their accounts alike.
    after = _run(conn, "settle", [(o, s, *v) for (o, s), v in sorted(delta.items())], now)
    if posting:
        legs: list[tuple[int, str, str, int]] = []
        for r in fresh:
            tid = new[r["key"]]
            legs.append((tid, r["debit"], r["asset"], -r["amount"]))
            legs.append((tid, r["credit"], r["asset"], r["amount"]))
        _entries(conn, legs, after)
    return BulkResult(posted=len(fresh), replayed=len(rows) - len(fresh), ids={**old_ids, **new})


_BY_IDS = select(transfers).where(transfers.c.id.in_(bindparam("ids", expanding=True)))
_RESOLVED_BY = select(transfers.c.pending_id, transfers.c.key).where(
    transfers.c.pending_id.in_(bindparam("ids", expanding=True))
)
_PG_BY_IDS = text(
    "SELECT id, kind, debit, credit, asset, amount, code FROM transfers WHERE id = ANY(:ids)"
).bindparams(_arr("ids", BigInteger))
_PG_RESOLVED_BY = text("SELECT pending_id, key FROM transfers WHERE pending_id = ANY(:ids)").bindparams(
    _arr("ids", BigInteger)
)


__all__ = ["BulkResult", "Move", "post_pending_bulk", "transfer_bulk", "void_pending_bulk"]
