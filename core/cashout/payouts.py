"""Payout batches: approved withdrawals grouped per asset and handed to a payout backend.

Exactly once: a batch and its items are written (state ``open``, key ``payout:{asset}:{id}``)
before any outside call; ``start_sending`` flips it to ``sending`` in its own committed
transaction right before the call, so after a crash a ``sending`` batch is never sent
again: its items are reconciled with the backend (which finds a payment by the batch key
or the item's spend id). ``settle`` applies one outcome per item, only to items still
``batched`` or ``unknown`` (conditional UPDATE), so a replayed outcome moves nothing.

Outcomes: sent (post the reserve, pay world and fees), failed (void), unknown (kept for
reconciliation), manual (an admin settles with /paid or /failed). Only a backend's answer
that proves nothing was paid, or an admin (``settle_manual``, with evidence), fails an
item: a lookup that finds no payment leaves it unknown, since the payment may still land.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    Row,
    and_,
    bindparam,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY

from core.cashout.tables import payout_batches, withdrawals
from core.cashout.withdrawals import State, tell_many
from core.errors import DomainError, InvalidParam
from core.money import ASSET_CODES, FEES, WITHDRAWALS_PENDING, WORLD, Code, bulk, ledger
from core.platform import Param, define, utcnow

BACKENDS = ("manual", "rpc", "cryptopay")
# What each backend can send. rpc: a Bitcoin Core-compatible wallet node (BTC, LTC, DOGE).
# cryptopay: Crypto Pay's coins among ours (it has no DUST, our own token). manual: an
# admin pays by hand, whatever the coin.
CAN_SEND = {
    "manual": frozenset(ASSET_CODES),
    "rpc": frozenset({"BTC", "LTC", "DOGE"}),
    "cryptopay": frozenset({"BTC", "LTC", "DOGE", "USDT", "TRX"}),
}


def backends_for(asset: str) -> tuple[str, ...]:
    """The payout backends that can send ``asset``."""
    return tuple(b for b in BACKENDS if asset in CAN_SEND[b])


def _backend_sends_asset(param: Param, value: object) -> None:
    assert isinstance(value, str) and param.asset is not None  # a text setting per asset
    if param.asset not in CAN_SEND[value]:
        raise InvalidParam(
            "backend_cannot_send",
            key=param.key,
            value=value,
            asset=param.asset,
            choices=", ".join(backends_for(param.asset)),
        )


for _code in ASSET_CODES:
    define(
        f"payout.backend.{_code}",
        "manual",
        "text",
        asset=_code,
        choices=BACKENDS,
        check=_backend_sends_asset,
    )
define("payout.batch_size", "500", "int", minimum=1, maximum=100_000)
define(
    "payout.every", "60s", "duration", minimum=1, maximum=86400
)  # how often the batch job runs (read at start)
# A batch cut off mid-call is looked up only this long after, so a call still running
# on the node (our side crashed or timed out) has landed before we decide it never did.
define("payout.reconcile_after", "2m", "duration")


class PayoutError(DomainError):
    """no_such_batch, batch_not_manual, evidence_needed."""


@dataclass(frozen=True, slots=True)
class Item:
    withdrawal_id: int
    user_id: int
    address: str
    amount: int  # what arrives: the withdrawal's amount minus its fee
    asset: str


@dataclass(frozen=True, slots=True)
class Batch:
    id: int
    key: str
    asset: str
    backend: str
    state: str
    items: list[Item] = field(default_factory=list)
    updated_at: datetime | None = None
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    withdrawal_id: int
    result: str  # sent | failed | unknown | manual
    txid: str | None = None
    reason: str | None = None


_ITEMS = select(withdrawals).where(
    withdrawals.c.batch_id == bindparam("b"), withdrawals.c.state.in_((State.BATCHED, State.UNKNOWN))
)


def _batch(conn: Connection, row: Row[Any]) -> Batch:
    items = [
        Item(r.id, r.user_id, r.address, r.amount - r.fee, r.asset)
        for r in conn.execute(_ITEMS, {"b": row.id})
    ]
    return Batch(row.id, row.key, row.asset, row.backend, row.state, items, row.updated_at, row.created_at)


def form_batches(
    conn: Connection,
    backend_of: dict[str, str],
    size: int,
    now: datetime | None = None,
    max_items: int = 200_000,
) -> list[int]:
    """Group approved withdrawals per asset into new ``open`` batches of up to ``size`` items each."""
    now = now or utcnow()
    made = []
    rows = conn.execute(
        select(withdrawals.c.id, withdrawals.c.asset)
        .where(withdrawals.c.state == State.APPROVED)
        .order_by(withdrawals.c.asset, withdrawals.c.id)
        .limit(max_items)
    ).all()
    per_asset: dict[str, list[int]] = {}
    for r in rows:
        per_asset.setdefault(r.asset, []).append(r.id)
    for asset, ids in per_asset.items():
        if backend_of.get(asset) not in BACKENDS:  # nothing could settle such a batch: leave them approved
            continue
        for start in range(0, len(ids), size):
            chunk = ids[start : start + size]
            bid = conn.execute(
                payout_batches.insert()
                .values(
                    key=f"new:{asset}:{chunk[0]}",
                    asset=asset,
                    backend=backend_of[asset],
                    state="open",
                    created_at=now,
                    updated_at=now,
                )
                .returning(payout_batches.c.id)
            ).scalar_one()
            conn.execute(
                update(payout_batches).where(payout_batches.c.id == bid).values(key=f"payout:{asset}:{bid}")
            )
            _claim(conn, chunk, (State.APPROVED,), state=State.BATCHED, batch_id=bid, updated_at=now)
            batched = conn.execute(select(withdrawals).where(withdrawals.c.batch_id == bid)).all()
            tell_many(conn, [(r, State.BATCHED, {}) for r in batched], now)
            made.append(bid)
    return made


def batches_in(conn: Connection, states: tuple[str, ...]) -> list[Batch]:
    rows = conn.execute(
        select(payout_batches).where(payout_batches.c.state.in_(states)).order_by(payout_batches.c.id)
    )
    return [_batch(conn, r) for r in rows]


def get_batch(conn: Connection, batch_id: int) -> Batch:
    row = conn.execute(select(payout_batches).where(payout_batches.c.id == batch_id)).first()
    if row is None:
        raise PayoutError("no_such_batch", id=batch_id)
    return _batch(conn, row)


def start_sending(conn: Connection, batch_id: int, now: datetime | None = None) -> Batch | None:
    """Mark an open batch as being sent (committed before the outside call). None if not open."""
    now = now or utcnow()
    done = conn.execute(
        update(payout_batches)
        .where(payout_batches.c.id == batch_id, payout_batches.c.state == "open")
        .values(state="sending", updated_at=now)
    ).rowcount
    return get_batch(conn, batch_id) if done else None


def _claim(conn: Connection, ids: list[int], frm: tuple[str, ...], **values: Any) -> list[int]:
    """Move the items in ``ids`` still in one of ``frm`` to new values; the ids this call moved."""
    moved: list[int] = []
    if conn.dialect.name == "postgresql":  # one array parameter, not a thousand rendered binds
        stmt = (
            update(withdrawals)
            .where(withdrawals.c.id == func.any(bindparam("ids", type_=ARRAY(BigInteger))))
            .where(withdrawals.c.state.in_(frm))
            .values(**values)
            .returning(withdrawals.c.id)
        )
        for part in range(0, len(ids), 10_000):
            moved += conn.execute(stmt, {"ids": ids[part : part + 10_000]}).scalars().all()
        return sorted(moved)
    for part in range(0, len(ids), 1000):
        stmt = (
            update(withdrawals)
            .where(withdrawals.c.id.in_(ids[part : part + 1000]), withdrawals.c.state.in_(frm))
            .values(**values)
            .returning(withdrawals.c.id)
        )
        moved += conn.execute(stmt).scalars().all()
    return sorted(moved)


_SET_TXID = update(withdrawals).where(withdrawals.c.id == bindparam("w")).values(txid=bindparam("t"))


def settle(
    conn: Connection, batch_id: int, outcomes: list[Outcome], now: datetime | None = None
) -> dict[str, int]:
    """Apply each item's outcome once; then set the batch's state from what is left.

    Items that share an outcome (sent, each with its own txid; failed for one reason; unknown)
    are moved by one conditional UPDATE (only those still batched/unknown move), then their reserves are posted or voided set-based (core.money.bulk:
    a few statements per thousand items, not several round trips per item). What a
    group of sent items pays out leaves withdrawals_pending in one transfer to world and
    one to fees, keyed ``payout:{batch}:{first withdrawal id}:out|fee`` (a group's ids are
    its own: an item moves once).
    """
    now = now or utcnow()
    counts: dict[str, int] = {}
    rows = {r.id: r for r in conn.execute(_ITEMS, {"b": batch_id})}
    groups: dict[tuple[Any, ...], list[int]] = {}
    txid_of: dict[int, str] = {}  # sent items: each may have its own (Crypto Pay pays one by one)
    for o in outcomes:
        row = rows.get(o.withdrawal_id)
        if row is None or o.result == "manual" or (o.result == "unknown" and row.state == State.UNKNOWN):
            continue
        if o.result == "sent":
            txid_of[o.withdrawal_id] = (o.txid or "")[:128]
        groups.setdefault((o.result, None if o.result == "sent" else o.reason), []).append(o.withdrawal_id)
    for (result, reason), ids in groups.items():
        if result == "unknown":
            moved = _claim(conn, ids, (State.BATCHED,), state=State.UNKNOWN, updated_at=now)
            tell_many(conn, [(rows[w], State.UNKNOWN, {}) for w in moved], now)
        elif result == "failed":
            moved = _claim(
                conn,
                ids,
                (State.BATCHED, State.UNKNOWN),
                state=State.FAILED,
                reason=(reason or "")[:200],
                updated_at=now,
            )
            bulk.void_pending_bulk(
                conn, [(rows[w].reserve_id, f"withdrawal:{w}:void") for w in moved], now=now
            )
            tell_many(conn, [(rows[w], State.FAILED, {"reason": reason}) for w in moved], now)
        else:
            moved = _claim(conn, ids, (State.BATCHED, State.UNKNOWN), state=State.SENT, updated_at=now)
            if moved:  # one statement (asyncpg pipelines an executemany), not one per item
                conn.execute(_SET_TXID, [{"w": w, "t": txid_of[w]} for w in moved])
            bulk.post_pending_bulk(
                conn, [(rows[w].reserve_id, f"withdrawal:{w}:post") for w in moved], now=now
            )
            tell_many(conn, [(rows[w], State.SENT, {"txid": txid_of[w] or None}) for w in moved], now)
            if moved:
                _pay_out(conn, batch_id, [rows[w] for w in moved], now)
        if moved:  # what this call moved: another transaction may have settled some first
            counts[result] = counts.get(result, 0) + len(moved)
    left = conn.execute(
        select(withdrawals.c.state, func.count())
        .where(withdrawals.c.batch_id == batch_id, withdrawals.c.state.in_((State.BATCHED, State.UNKNOWN)))
        .group_by(withdrawals.c.state)
    ).all()
    states = {s for s, _n in left}
    batch_state = "done" if not states else ("unknown" if "unknown" in states else None)
    values: dict[str, Any] = {"updated_at": now}
    if batch_state:
        values["state"] = batch_state
    elif any(o.result == "manual" for o in outcomes):
        values["state"] = "manual"
    txids = {o.txid for o in outcomes if o.txid}
    if len(txids) == 1:
        values["txid"] = txids.pop()[:128]
    conn.execute(update(payout_batches).where(payout_batches.c.id == batch_id).values(**values))
    return counts


def _pay_out(conn: Connection, batch_id: int, rows: list[Row[Any]], now: datetime) -> None:
    asset = rows[0].asset
    key = f"payout:{batch_id}:{rows[0].id}"
    out = sum(r.amount - r.fee for r in rows)
    fee = sum(r.fee for r in rows)
    meta = {"batch": batch_id, "withdrawals": len(rows)}
    ledger.transfer(
        conn,
        debit=WITHDRAWALS_PENDING,
        credit=WORLD,
        asset=asset,
        amount=out,
        code=Code.WITHDRAWAL_OUT,
        key=f"{key}:out",
        meta=meta,
        now=now,
    )
    if fee:
        ledger.transfer(
            conn,
            debit=WITHDRAWALS_PENDING,
            credit=FEES,
            asset=asset,
            amount=fee,
            code=Code.WITHDRAWAL_FEE,
            key=f"{key}:fee",
            meta=meta,
            now=now,
        )


def settle_manual(
    conn: Connection,
    admin_id: int,
    batch_id: int,
    *,
    txid: str | None = None,
    reason: str | None = None,
    now: datetime | None = None,
) -> dict[str, int]:
    """/paid BATCH TXID or /failed BATCH REASON, audited.

    A manual batch waits on an admin (``manual``, or ``sending`` when the CSV went out just
    before a restart). A batch sent through a payout service is settled by hand only once it
    is ``unknown``: the job looked it up and found no payment, which proves nothing (the
    payment may still land), so the job never fails it; an admin does, with the evidence
    that nothing was paid as the reason (required), or marks it sent with the txid found.
    """
    from core.platform import audit

    now = now or utcnow()
    txid, reason = (txid or "").strip() or None, (reason or "").strip() or None
    batch = get_batch(conn, batch_id)
    if not txid and not reason:
        raise PayoutError("evidence_needed", id=batch_id)
    # Claim the batch row first (a conditional UPDATE): of two admins (or an admin and the
    # job) settling it at once, the second waits for the first, then finds it settled.
    t = payout_batches.c
    claimed = conn.execute(
        update(payout_batches)
        .where(
            t.id == batch_id,
            or_(
                and_(t.backend != "manual", t.state == "unknown"),
                and_(t.backend == "manual", t.state.in_(("manual", "sending"))),
            ),
        )
        .values(updated_at=now)
        .returning(t.id)
    ).first()
    if claimed is None:
        raise PayoutError("batch_not_manual", id=batch_id)
    batch = get_batch(conn, batch_id)
    result = "sent" if txid else "failed"
    outcomes = [Outcome(i.withdrawal_id, result, txid, reason) for i in batch.items]
    audit.record(
        conn,
        f"batch_{result}",
        actor=admin_id,
        target=str(batch_id),
        txid=txid,
        reason=reason,
        backend=batch.backend,
        was=batch.state,
        withdrawals=len(batch.items),
        now=now,
    )
    counts = settle(conn, batch_id, outcomes, now)
    if not counts:  # the job settled every item while we waited: nothing of ours to record
        raise PayoutError("batch_not_manual", id=batch_id)
    return counts


def alert_in_doubt(
    conn: Connection, batch_id: int, admin_ids: Iterable[int], now: datetime | None = None
) -> bool:
    """Tell every admin, once per batch, that a batch's outcome is still unknown after a lookup
    (notice ``payout_in_doubt``, key ``payout_in_doubt:{batch}:{admin}``). True if it is."""
    from core.platform import notices

    batch = get_batch(conn, batch_id)
    if batch.state != "unknown" or not batch.items:
        return False
    params = {"id": batch.id, "asset": batch.asset, "backend": batch.backend, "count": len(batch.items)}
    notices.enqueue_many(
        conn,
        [(a, "payout_in_doubt", params, f"payout_in_doubt:{batch.id}:{a}") for a in sorted(admin_ids)],
        now=now,
    )
    return True
