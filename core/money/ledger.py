"""The ledger: the one writer of balances. Double-entry, idempotent, never negative.

Every movement is a transfer of ``amount`` (int, minor units, > 0) of one asset
from a debit account to a credit account, with a ``code`` (why) and a unique
idempotency ``key`` derived from the fact that caused it. Posting a key again
returns the first transfer and moves nothing; the same key with different fields
raises IdempotencyConflict. Transfers are never updated or deleted: a mistake is
fixed by a new transfer that points at the one it reverses (``reverse``).

Two-phase: ``reserve`` makes a pending transfer that holds the amount on the debit
account (it can no longer be spent) without moving it; ``post_pending`` or
``void_pending`` resolves it, each at most once, never both.

Invariants: per asset all balances sum to zero; each balance equals the sum of its
entries; no account but ``world`` has ``balance - debits_pending < 0``.

Caps (core.money.amounts.MAX_BALANCE): no account's ``balance + credits_pending`` passes the cap and
the world's ``balance - debits_pending`` never goes below minus the cap. A transfer that would
break either is refused with BalanceLimit, like a debit without funds: nothing of it is kept,
even for a caller that catches the refusal. Since only world is negative, every sum of
balances, pending amounts or entries then stays far inside a BIGINT.

All functions take a SQLAlchemy ``Connection`` inside the caller's transaction
(see core.platform.db); statements are built once, with bind parameters.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NoReturn

from sqlalchemy import (
    BigInteger,
    Connection,
    Row,
    Select,
    String,
    Table,
    Text,
    and_,
    bindparam,
    delete,
    func,
    literal,
    select,
    text,
    update,
)
from sqlalchemy.exc import DBAPIError, OperationalError

from core.errors import BalanceLimit, IdempotencyConflict, InsufficientFunds, TransferRejected, UnknownAsset
from core.money.accounts import WORLD, check_owner
from core.money.amounts import MAX_AMOUNT, MAX_BALANCE
from core.money.assets import LEDGER_ASSETS
from core.money.codes import Code
from core.money.tables import accounts, entries, transfers
from core.platform import UTCDateTime, per_engine, utcnow

POSTED, PENDING, POST, VOID = "posted", "pending", "post", "void"


@dataclass(frozen=True, slots=True)
class Transfer:
    id: int
    key: str
    kind: str
    debit: str
    credit: str
    asset: str
    amount: int
    code: str
    meta: dict[str, Any]
    pending_id: int | None
    reverses_id: int | None
    created_at: datetime
    replayed: bool = False  # True when the key had already been posted: nothing moved now

    @classmethod
    def from_row(cls, row: Row[Any], *, replayed: bool = False) -> Transfer:
        fields = row._mapping
        return cls(
            id=fields["id"],
            key=fields["key"],
            kind=fields["kind"],
            debit=fields["debit"],
            credit=fields["credit"],
            asset=fields["asset"],
            amount=fields["amount"],
            code=fields["code"],
            meta=json.loads(fields["meta"] or "{}"),
            pending_id=fields["pending_id"],
            reverses_id=fields["reverses_id"],
            created_at=fields["created_at"],
            replayed=replayed,
        )


@dataclass(frozen=True, slots=True)
class Move:
    """One transfer to post, for ``transfer_many``."""

    debit: str
    credit: str
    asset: str
    amount: int
    code: str
    key: str
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Posting:
    """One transfer to write, before it has an id: what ``_post`` takes (like TigerBeetle's
    Transfer). ``kind`` is POSTED, PENDING, or POST/VOID with the ``pending_id`` it resolves;
    ``reverses_id`` names the transfer a correction reverses; ``now`` defaults to utcnow()."""

    kind: str
    debit: str
    credit: str
    asset: str
    amount: int
    code: str
    key: str
    meta: dict[str, Any] | None = None
    pending_id: int | None = None
    reverses_id: int | None = None
    now: datetime | None = None


# --- statements, built once -------------------------------------------------------

# Bind names are not column names: SQLAlchemy keeps those for an UPDATE's own SET values.
_BY_KEY = select(transfers).where(transfers.c.key == bindparam("key"))
_BY_ID = select(transfers).where(transfers.c.id == bindparam("transfer_id"))
_RESOLVED = select(transfers.c.id).where(transfers.c.pending_id == bindparam("transfer_id"))

# One leg of a transfer, as every account statement below binds it (see ``_leg``).
_available = accounts.c.balance - accounts.c.debits_pending
_this_account = and_(accounts.c.owner == bindparam("account"), accounts.c.asset == bindparam("asset_code"))
_DEBIT = (
    update(accounts)
    .where(_this_account, _available >= bindparam("amount"))
    .values(balance=accounts.c.balance - bindparam("amount"))
    .returning(accounts.c.balance)
)
_HOLD = (
    update(accounts)
    .where(_this_account, _available >= bindparam("amount"))
    .values(debits_pending=accounts.c.debits_pending + bindparam("amount"))
    .returning(accounts.c.balance)
)
_RELEASE_DEBIT = (  # post: the held amount leaves the account
    update(accounts)
    .where(_this_account)
    .values(
        balance=accounts.c.balance - bindparam("amount"),
        debits_pending=accounts.c.debits_pending - bindparam("amount"),
    )
    .returning(accounts.c.balance)
)
_SETTLE_CREDIT = (
    update(accounts)
    .where(_this_account)
    .values(
        balance=accounts.c.balance + bindparam("amount"),
        credits_pending=accounts.c.credits_pending - bindparam("amount"),
    )
    .returning(accounts.c.balance)
)
_UNHOLD = (
    update(accounts)
    .where(_this_account)
    .values(
        debits_pending=accounts.c.debits_pending - bindparam("amount"),
    )
)
_UNCREDIT = (
    update(accounts)
    .where(_this_account)
    .values(
        credits_pending=accounts.c.credits_pending - bindparam("amount"),
    )
)
_UNDEBIT = update(accounts).where(_this_account).values(balance=accounts.c.balance + bindparam("amount"))
_INSERT_ENTRY = entries.insert()


def _upserts(insert: Callable[[Table], Any]) -> dict[str, Any]:
    """Credit (or debit world): create the account row if needed, in one statement.

    Each returns no row when the cap would be passed (the conflict update's WHERE): a new
    row never passes it, since no amount is larger than the cap.
    """
    ins = insert(accounts)
    new_row: dict[str, Any] = dict(
        owner=bindparam("account"), asset=bindparam("asset_code"), created_at=bindparam("now")
    )
    key = [accounts.c.owner, accounts.c.asset]
    incoming = accounts.c.balance + accounts.c.credits_pending
    world_available = accounts.c.balance - accounts.c.debits_pending
    add = ins.values(**new_row, balance=bindparam("amount")).on_conflict_do_update(
        index_elements=key,
        set_={"balance": accounts.c.balance + ins.excluded.balance},
        where=incoming + ins.excluded.balance <= literal(MAX_BALANCE),
    )
    debit_world = ins.values(**new_row, balance=-bindparam("amount", type_=BigInteger)).on_conflict_do_update(
        index_elements=key,
        set_={"balance": accounts.c.balance + ins.excluded.balance},
        where=world_available + ins.excluded.balance >= literal(-MAX_BALANCE),
    )
    pend = ins.values(**new_row, credits_pending=bindparam("amount")).on_conflict_do_update(
        index_elements=key,
        set_={"credits_pending": accounts.c.credits_pending + ins.excluded.credits_pending},
        where=incoming + ins.excluded.credits_pending <= literal(MAX_BALANCE),
    )
    hold_world = ins.values(**new_row, debits_pending=bindparam("amount")).on_conflict_do_update(
        index_elements=key,
        set_={"debits_pending": accounts.c.debits_pending + ins.excluded.debits_pending},
        where=world_available - ins.excluded.debits_pending >= literal(-MAX_BALANCE),
    )
    insert_transfer = (
        insert(transfers).on_conflict_do_nothing(index_elements=[transfers.c.key]).returning(transfers.c.id)
    )
    return {
        "add": add.returning(accounts.c.balance),
        "debit_world": debit_world.returning(accounts.c.balance),
        "pend": pend.returning(accounts.c.credits_pending),
        "hold_world": hold_world.returning(accounts.c.debits_pending),
        "insert_transfer": insert_transfer,
    }


_DIALECT_STMTS = per_engine(_upserts)

# PostgreSQL can do a whole posted transfer in one statement with data-modifying CTEs:
# insert the transfer (nothing if the key exists), debit only if funds suffice, credit
# only if the debit happened and the cap allows, and write both entries only if both legs
# happened (a capped credit is undone by the caller). Round trips, not SQL, are the cost there.
_PG_POSTED = text(
    f"""
WITH t AS (
    INSERT INTO transfers (key, kind, debit, credit, asset, amount, code, meta, pending_id, reverses_id, created_at)
    VALUES (:key, :kind, :debit, :credit, :asset, :amount, :code, :meta, :pending_id, :reverses_id, :created_at)
    ON CONFLICT (key) DO NOTHING
    RETURNING id
), d AS (
    UPDATE accounts SET balance = balance - :amount
    WHERE owner = :debit AND asset = :asset AND balance - debits_pending >= :amount AND EXISTS (SELECT 1 FROM t)
    RETURNING balance
), c AS (
    INSERT INTO accounts (owner, asset, balance, debits_pending, credits_pending, created_at)
    SELECT :credit, :asset, :amount, 0, 0, :created_at WHERE EXISTS (SELECT 1 FROM d)
    ON CONFLICT (owner, asset) DO UPDATE SET balance = accounts.balance + excluded.balance
    WHERE accounts.balance + accounts.credits_pending + excluded.balance <= {MAX_BALANCE}
    RETURNING balance
), e AS (
    INSERT INTO entries (transfer_id, owner, asset, amount, balance_after)
    SELECT t.id, :debit, :asset, -:amount, d.balance FROM t, d, c
    UNION ALL
    SELECT t.id, :credit, :asset, :amount, c.balance FROM t, d, c
)
SELECT (SELECT id FROM t) AS id, (SELECT balance FROM d) AS debit_after, (SELECT balance FROM c) AS credit_after
"""
).bindparams(
    bindparam("amount", type_=BigInteger),
    bindparam("pending_id", type_=BigInteger),
    bindparam("reverses_id", type_=BigInteger),
    bindparam("created_at", type_=UTCDateTime),
    bindparam("key", type_=String),
    bindparam("kind", type_=String),
    bindparam("debit", type_=String),
    bindparam("credit", type_=String),
    bindparam("asset", type_=String),
    bindparam("code", type_=String),
    bindparam("meta", type_=Text),
)


# The same statement in the driver's own terms ($n parameters, in _PG_ORDER), run on the DBAPI
# cursor: SQLAlchemy's execution context and result objects cost about as much as the round trip
# itself here (measured: 25-30 % more transfers/s on one connection). asyncpg still prepares it once
# per connection and caches it.
_PG_ORDER = (
    "key",
    "kind",
    "debit",
    "credit",
    "asset",
    "amount",
    "code",
    "meta",
    "pending_id",
    "reverses_id",
    "created_at",
)
_PG_CASTS = {
    "amount": "::bigint",
    "pending_id": "::bigint",
    "reverses_id": "::bigint",
    "created_at": "::timestamptz",
}


def _dollar(sql: str) -> str:
    for k, name in sorted(enumerate(_PG_ORDER, 1), key=lambda kn: -len(kn[1])):
        sql = re.sub(rf"(?<!:):{name}\b", f"${k}{_PG_CASTS.get(name, '::text')}", sql)
    return sql


_PG_POSTED_SQL = _dollar(_PG_POSTED.text)


def _pg_posted(conn: Connection, row: dict[str, Any]) -> tuple[int | None, int | None, int | None]:
    params = tuple(row[name] for name in _PG_ORDER)
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(_PG_POSTED_SQL, params)
        got = cursor.fetchone()
    except Exception as exc:  # as SQLAlchemy would raise it: the writer retries by its SQLSTATE
        raise DBAPIError.instance(_PG_POSTED_SQL, params, exc, conn.dialect.loaded_dbapi.Error) from exc
    finally:
        cursor.close()
    assert got is not None  # the statement returns one row, whatever happened
    return got[0], got[1], got[2]


def _stmts(conn: Connection) -> dict[str, Any]:
    return _DIALECT_STMTS.of(conn)


# --- posting ----------------------------------------------------------------------


def transfer(
    conn: Connection,
    *,
    debit: str,
    credit: str,
    asset: str,
    amount: int,
    code: str,
    key: str,
    meta: dict[str, Any] | None = None,
    reverses_id: int | None = None,
    now: datetime | None = None,
) -> Transfer:
    """Move ``amount`` minor units of ``asset`` from ``debit`` to ``credit`` now.

    Idempotent on ``key``. Raises InsufficientFunds if the debit account (any but
    world) would go below zero, counting amounts held by pending transfers.
    """
    return _post(
        conn, Posting(POSTED, debit, credit, asset, amount, code, key, meta, reverses_id=reverses_id, now=now)
    )


def transfer_many(conn: Connection, moves: list[Move], *, now: datetime | None = None) -> list[Transfer]:
    """Post several transfers atomically: in the caller's transaction, all or none."""
    now = now or utcnow()
    return [
        _post(
            conn,
            Posting(
                POSTED,
                move.debit,
                move.credit,
                move.asset,
                move.amount,
                move.code,
                move.key,
                move.meta,
                now=now,
            ),
        )
        for move in moves
    ]


def reserve(
    conn: Connection,
    *,
    debit: str,
    credit: str,
    asset: str,
    amount: int,
    code: str,
    key: str,
    meta: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> Transfer:
    """Hold ``amount`` on ``debit`` for a later ``post_pending`` or ``void_pending`` (two-phase)."""
    return _post(conn, Posting(PENDING, debit, credit, asset, amount, code, key, meta, now=now))


def post_pending(
    conn: Connection,
    pending_id: int,
    *,
    key: str,
    meta: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> Transfer:
    """Complete a pending transfer: the held amount moves. At most once; never after a void."""
    return _post(conn, _resolution(POST, _pending(conn, pending_id, key), key, meta, now))


def void_pending(
    conn: Connection,
    pending_id: int,
    *,
    key: str,
    meta: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> Transfer:
    """Cancel a pending transfer: the hold is released, nothing moves. At most once; never after a post."""
    return _post(conn, _resolution(VOID, _pending(conn, pending_id, key), key, meta, now))


def reverse(
    conn: Connection,
    transfer_id: int,
    *,
    key: str,
    code: str = Code.CORRECTION,
    meta: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> Transfer:
    """Correct a posted transfer with a new one in the opposite direction that points at it."""
    row = conn.execute(_BY_ID, {"transfer_id": transfer_id}).first()
    if row is None or row.kind not in (POSTED, POST):
        raise TransferRejected("not_reversible", id=transfer_id)
    return transfer(
        conn,
        debit=row.credit,
        credit=row.debit,
        asset=row.asset,
        amount=row.amount,
        code=code,
        key=key,
        meta=meta,
        reverses_id=row.id,
        now=now,
    )


def get_transfer(conn: Connection, *, key: str | None = None, id: int | None = None) -> Transfer | None:
    row = (
        conn.execute(_BY_KEY, {"key": key}).first()
        if key is not None
        else conn.execute(_BY_ID, {"transfer_id": id}).first()
    )
    return Transfer.from_row(row) if row is not None else None


def _resolution(
    kind: str, pending: Transfer, key: str, meta: dict[str, Any] | None, now: datetime | None
) -> Posting:
    """The POST or VOID of ``pending``: its accounts, asset, amount and code, under a key of its own."""
    return Posting(
        kind,
        pending.debit,
        pending.credit,
        pending.asset,
        pending.amount,
        pending.code,
        key,
        meta,
        pending.id,
        now=now,
    )


def _pending(conn: Connection, pending_id: int, key: str) -> Transfer:
    """The pending transfer to resolve; refuses one already resolved under another key."""
    row = conn.execute(_BY_ID, {"transfer_id": pending_id}).first()
    if row is None or row.kind != PENDING:
        raise TransferRejected("not_pending", id=pending_id)
    resolved_by = conn.execute(_RESOLVED, {"transfer_id": pending_id}).scalar()
    if resolved_by is not None and conn.execute(_BY_KEY, {"key": key}).first() is None:
        raise TransferRejected("already_resolved", id=pending_id)
    return Transfer.from_row(row)


def _leg(account: str, posting: Posting, now: datetime) -> dict[str, Any]:
    """The bind values of one account's side of a posting (the statements above)."""
    return {"account": account, "asset_code": posting.asset, "amount": posting.amount, "now": now}


def _post(conn: Connection, posting: Posting) -> Transfer:
    """Write ``posting``: check it, insert its transfer row (or find the key's first one),
    then move its legs by its kind. A refusal takes the row back (``_refuse``)."""
    kind, debit, credit, asset, amount, code, key = (
        posting.kind,
        posting.debit,
        posting.credit,
        posting.asset,
        posting.amount,
        posting.code,
        posting.key,
    )
    if type(amount) is not int or not 0 < amount <= MAX_AMOUNT:
        raise TransferRejected("bad_amount", amount=repr(amount)[:40])
    if asset not in LEDGER_ASSETS:  # the canonical code only: "btc" would open a second, hidden account
        raise UnknownAsset(asset)
    check_owner(debit)
    check_owner(credit)
    if debit == credit:
        raise TransferRejected("same_account", account=debit)
    if not key or len(key) > 200 or not code or len(code) > 32:
        raise TransferRejected("bad_key_or_code", key=str(key)[:40])
    now = posting.now or utcnow()
    if now.tzinfo is None:  # the plain-sqlite3 path would read it as local time
        raise ValueError("naive datetime given to a UTC column")
    meta_text = json.dumps(posting.meta or {}, sort_keys=True, separators=(",", ":"), default=str)
    fields: dict[str, Any] = dict(
        kind=kind,
        debit=debit,
        credit=credit,
        asset=asset,
        amount=amount,
        code=code,
        pending_id=posting.pending_id,
        reverses_id=posting.reverses_id,
    )
    statements = _stmts(conn)
    row = {**fields, "key": key, "meta": meta_text, "created_at": now}
    one_trip = kind == POSTED and debit != WORLD
    if one_trip and conn.dialect.name == "postgresql":
        # One round trip instead of four (see _PG_POSTED); a refused debit raises below and
        # the caller's transaction rolls the transfer row back.
        new_id, debit_after, credit_after = _pg_posted(conn, row)
    elif one_trip:
        new_id, debit_after, credit_after = _sqlite_posted(conn, row)
    else:
        new_id = conn.execute(statements["insert_transfer"], row).scalar()
    if new_id is None:  # the key was posted before: return it, or refuse if it differs
        first = conn.execute(_BY_KEY, {"key": key}).one()
        if any(getattr(first, name) != value for name, value in fields.items()):
            raise IdempotencyConflict(key)
        return Transfer.from_row(first, replayed=True)

    debit_leg = _leg(debit, posting, now)
    credit_leg = _leg(credit, posting, now)
    if one_trip:
        if debit_after is None:
            _refuse(conn, new_id, debit, asset, amount)
        if credit_after is None:
            conn.execute(_UNDEBIT, debit_leg)
            _refuse(conn, new_id, credit, asset, amount, capped=True)
    elif kind == POSTED:
        debit_after = _debit(conn, statements, debit_leg)
        if debit_after is None:
            _refuse(conn, new_id, debit, asset, amount, capped=debit == WORLD)
        credit_after = conn.execute(statements["add"], credit_leg).scalar()
        if credit_after is None:
            conn.execute(_UNDEBIT, debit_leg)
            _refuse(conn, new_id, credit, asset, amount, capped=True)
        _entries(conn, new_id, debit, credit, asset, amount, debit_after, credit_after)
    elif kind == PENDING:
        if debit == WORLD:
            if conn.execute(statements["hold_world"], debit_leg).first() is None:
                _refuse(conn, new_id, debit, asset, amount, capped=True)
        elif conn.execute(_HOLD, debit_leg).first() is None:
            _refuse(conn, new_id, debit, asset, amount)
        if conn.execute(statements["pend"], credit_leg).first() is None:
            conn.execute(_UNHOLD, debit_leg)
            _refuse(conn, new_id, credit, asset, amount, capped=True)
    elif kind == POST:
        debit_after = conn.execute(_RELEASE_DEBIT, debit_leg).scalar_one()
        credit_after = conn.execute(_SETTLE_CREDIT, credit_leg).scalar_one()
        _entries(conn, new_id, debit, credit, asset, amount, debit_after, credit_after)
    else:  # VOID
        conn.execute(_UNHOLD, debit_leg)
        conn.execute(_UNCREDIT, credit_leg)
    return Transfer(
        id=new_id,
        key=key,
        meta=json.loads(meta_text),
        created_at=now,
        **fields,
    )


# The hottest path on SQLite, as plain sqlite3 calls on the same connection and transaction:
# SQLAlchemy's per-statement overhead is several times SQLite's own cost here, and the
# writer thread shares the GIL with the event loop.
_SQL_INSERT = (
    "INSERT INTO transfers (key, kind, debit, credit, asset, amount, code, meta, reverses_id, created_at)"
    " VALUES (?, 'posted', ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING RETURNING id"
)
_SQL_DEBIT = (
    "UPDATE accounts SET balance = balance - ? WHERE owner = ? AND asset = ?"
    " AND balance - debits_pending >= ? RETURNING balance"
)
_SQL_CREDIT = (
    "INSERT INTO accounts (owner, asset, balance, debits_pending, credits_pending, created_at)"
    " VALUES (?, ?, ?, 0, 0, ?) ON CONFLICT (owner, asset) DO UPDATE SET balance = accounts.balance + excluded.balance"
    f" WHERE accounts.balance + accounts.credits_pending + excluded.balance <= {MAX_BALANCE}"
    " RETURNING balance"
)
_SQL_ENTRY = "INSERT INTO entries (transfer_id, owner, asset, amount, balance_after) VALUES (?, ?, ?, ?, ?)"


def _sqlite_posted(conn: Connection, row: dict[str, Any]) -> tuple[int | None, int | None, int | None]:
    at = row["created_at"].astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")  # as UTCDateTime stores it
    driver = conn.connection.driver_connection
    assert driver is not None  # a connection in a transaction has its driver connection
    cur = driver.cursor()
    try:
        debit, credit, asset, amount = row["debit"], row["credit"], row["asset"], row["amount"]
        got = cur.execute(
            _SQL_INSERT,
            (row["key"], debit, credit, asset, amount, row["code"], row["meta"], row["reverses_id"], at),
        ).fetchone()
        if got is None:
            return None, None, None
        got_debit = cur.execute(_SQL_DEBIT, (amount, debit, asset, amount)).fetchone()
        if got_debit is None:
            return got[0], None, None
        got_credit = cur.execute(_SQL_CREDIT, (credit, asset, amount, at)).fetchone()
        if got_credit is None:  # over the cap: the caller undoes the debit
            return got[0], got_debit[0], None
        credit_after = got_credit[0]
        cur.executemany(
            _SQL_ENTRY,
            ((got[0], debit, asset, -amount, got_debit[0]), (got[0], credit, asset, amount, credit_after)),
        )
        return got[0], got_debit[0], credit_after
    finally:
        cur.close()


def _debit(conn: Connection, statements: dict[str, Any], debit_leg: dict[str, Any]) -> int | None:
    """The debit account's balance after, or None when it cannot pay (world: up to the cap)."""
    if debit_leg["account"] == WORLD:
        return conn.execute(statements["debit_world"], debit_leg).scalar()
    return conn.execute(_DEBIT, debit_leg).scalar()


_UNDO = delete(transfers).where(transfers.c.id == bindparam("transfer_id"))


def _refuse(
    conn: Connection, new_id: int, account: str, asset: str, amount: int, *, capped: bool = False
) -> NoReturn:
    """Take back the transfer row written moments ago in this same transaction, then refuse:
    InsufficientFunds, or BalanceLimit when ``account`` would pass the cap (the caller undid
    any leg it had already moved).

    The row was never committed, so this is no rewrite of history; it keeps the key
    unused even for a caller that catches the refusal and goes on (a retry can then pay).
    """
    conn.execute(_UNDO, {"transfer_id": new_id})
    if capped:
        raise BalanceLimit(account, asset, MAX_BALANCE)
    raise InsufficientFunds(account, asset, amount, have=max(0, balance(conn, account, asset).available))


def _entries(
    conn: Connection,
    transfer_id: int,
    debit: str,
    credit: str,
    asset: str,
    amount: int,
    debit_after: int,
    credit_after: int,
) -> None:
    conn.execute(
        _INSERT_ENTRY,
        [
            dict(
                transfer_id=transfer_id, owner=debit, asset=asset, amount=-amount, balance_after=debit_after
            ),
            dict(
                transfer_id=transfer_id, owner=credit, asset=asset, amount=amount, balance_after=credit_after
            ),
        ],
    )


# --- reading ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Balance:
    asset: str
    balance: int  # posted
    held: int  # held by pending transfers (e.g. a withdrawal on its way)

    @property
    def available(self) -> int:
        return self.balance - self.held


_BALANCES = select(accounts.c.asset, accounts.c.balance, accounts.c.debits_pending).where(
    accounts.c.owner == bindparam("account")
)
_BALANCE = select(accounts.c.balance, accounts.c.debits_pending).where(_this_account)


def balances_of(conn: Connection, owners: list[str]) -> dict[tuple[str, str], Balance]:
    """Balances of several owners in one query, by (owner, asset); absent accounts are absent."""
    if not owners:
        return {}
    rows = conn.execute(
        select(accounts.c.owner, accounts.c.asset, accounts.c.balance, accounts.c.debits_pending).where(
            accounts.c.owner.in_(owners)
        )
    )
    return {(r.owner, r.asset): Balance(r.asset, r.balance, r.debits_pending) for r in rows}


def balances(conn: Connection, owner: str) -> dict[str, Balance]:
    """Every asset the owner has an account in, in registry order."""
    rows = {
        r.asset: Balance(r.asset, r.balance, r.debits_pending)
        for r in conn.execute(_BALANCES, {"account": owner})
    }
    return {code: rows[code] for code in LEDGER_ASSETS if code in rows}


def balance(conn: Connection, owner: str, asset: str) -> Balance:
    row = conn.execute(_BALANCE, {"account": owner, "asset_code": asset}).first()
    return Balance(asset, row.balance, row.debits_pending) if row else Balance(asset, 0, 0)


@dataclass(frozen=True, slots=True)
class Movement:
    """One line of an account's history: a posted entry and the transfer behind it."""

    entry_id: int
    transfer_id: int
    asset: str
    amount: int  # signed: + in, - out
    balance_after: int
    code: str
    meta: dict[str, Any]
    counterparty: str
    created_at: datetime


_HISTORY = (
    select(
        entries.c.id,
        entries.c.transfer_id,
        entries.c.asset,
        entries.c.amount,
        entries.c.balance_after,
        transfers.c.code,
        transfers.c.meta,
        transfers.c.debit,
        transfers.c.credit,
        transfers.c.created_at,
    )
    .join(transfers, transfers.c.id == entries.c.transfer_id)
    .where(entries.c.owner == bindparam("account"))
    .order_by(entries.c.id.desc())
    .limit(bindparam("limit"))
    .offset(bindparam("skip"))
)
_HISTORY_COUNT = select(func.count()).select_from(entries).where(entries.c.owner == bindparam("account"))


def history(conn: Connection, owner: str, *, limit: int = 10, offset: int = 0) -> tuple[list[Movement], int]:
    """Posted movements of ``owner``, newest first, and how many there are in all."""
    rows = conn.execute(_HISTORY, {"account": owner, "limit": limit, "skip": offset}).all()
    total = conn.execute(_HISTORY_COUNT, {"account": owner}).scalar_one()
    return [
        Movement(
            entry_id=r.id,
            transfer_id=r.transfer_id,
            asset=r.asset,
            amount=r.amount,
            balance_after=r.balance_after,
            code=r.code,
            meta=json.loads(r.meta or "{}"),
            counterparty=r.debit if r.amount > 0 else r.credit,
            created_at=r.created_at,
        )
        for r in rows
    ], total


# --- invariants ---------------------------------------------------------------------


def _grouped_sums(conn: Connection, summed: Select[Any], rows: Select[Any]) -> dict[tuple[Any, ...], int]:
    """``summed`` (a GROUP BY with the sum last) as {group: sum}. SQLite's SUM() fails on a
    64-bit overflow, which the caps rule out but books from before them may hold: then the
    sums are taken here, exactly, from ``rows`` (the same columns, one row per value)."""
    try:
        return {tuple(r[:-1]): r[-1] for r in conn.execute(summed)}
    except OperationalError:
        if conn.dialect.name != "sqlite":
            raise
    totals: dict[tuple[Any, ...], int] = {}
    for r in conn.execute(rows.execution_options(yield_per=10_000)):
        totals[tuple(r[:-1])] = totals.get(tuple(r[:-1]), 0) + r[-1]
    return totals


def check_invariants(conn: Connection) -> list[str]:
    """Every broken ledger invariant, as readable lines; empty when the books balance.

    Never fails on what is stored: values SQLite turned into floats and balances past the
    caps (both only possible in books from before the caps) are reported like the rest.
    """
    problems: list[str] = []
    totals = _grouped_sums(
        conn,
        select(accounts.c.asset, func.sum(accounts.c.balance)).group_by(accounts.c.asset),
        select(accounts.c.asset, accounts.c.balance),
    )
    for (asset,), total in totals.items():
        if total != 0:
            problems.append(f"{asset}: balances sum to {total}, not 0")
    sums = _grouped_sums(
        conn,
        select(entries.c.owner, entries.c.asset, func.sum(entries.c.amount)).group_by(
            entries.c.owner, entries.c.asset
        ),
        select(entries.c.owner, entries.c.asset, entries.c.amount),
    )
    pending: dict[tuple[str, str], list[int]] = {}
    resolved = select(transfers.c.pending_id).where(transfers.c.pending_id.is_not(None))
    open_pending = select(transfers).where(transfers.c.kind == PENDING, transfers.c.id.not_in(resolved))
    for t in conn.execute(open_pending):
        pending.setdefault((t.debit, t.asset), [0, 0])[0] += t.amount
        pending.setdefault((t.credit, t.asset), [0, 0])[1] += t.amount
    for a in conn.execute(select(accounts)):
        k = (a.owner, a.asset)
        if any(type(v) is not int for v in (a.balance, a.debits_pending, a.credits_pending)):
            problems.append(
                f"{a.owner}/{a.asset}: balance {a.balance} is not a whole number (stored as a float)"
            )
        if sums.get(k, 0) != a.balance:
            problems.append(f"{a.owner}/{a.asset}: balance {a.balance} but entries sum to {sums.get(k, 0)}")
        if a.owner != WORLD and a.balance - a.debits_pending < 0:
            problems.append(f"{a.owner}/{a.asset}: negative ({a.balance} - {a.debits_pending} held)")
        if a.balance + a.credits_pending > MAX_BALANCE or a.balance - a.debits_pending < -MAX_BALANCE:
            problems.append(
                f"{a.owner}/{a.asset}: balance {a.balance} ({a.debits_pending} held, {a.credits_pending}"
                f" incoming) is past the cap of {MAX_BALANCE} either way"
            )
        held, incoming = pending.get(k, [0, 0])
        if (a.debits_pending, a.credits_pending) != (held, incoming):
            problems.append(
                f"{a.owner}/{a.asset}: pending {a.debits_pending}/{a.credits_pending}, open transfers {held}/{incoming}"
            )
    return problems
