"""Withdrawals a user can follow on chain: a sent payout transaction, watched until it is final.

After a batch is sent through a node (backend ``rpc``), a job asks the node for the transaction's
confirmations until ``cashout.confirmations.<ASSET>``. Users are told at the first confirmation
and when it is final. A transaction the node no longer knows (replaced, or dropped from the
mempool) for ``cashout.drop_after`` is flagged to the admins, once, and never sent again by
itself: only an admin, who can see the whole picture, decides what happens next.
Crypto Pay transfers happen inside Crypto Pay and are final when sent; they are not followed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, insert, select, update

from core.platform import notices, params
from core.trust.tables import payout_tracking

# Confirmations after which a payment counts as final, per coin (a block every 10, 2.5, 1 min).
FINAL = {"BTC": 3, "LTC": 6, "DOGE": 20, "USDT": 20, "TRX": 20}
EXPLORERS = {
    "BTC": "https://mempool.space/tx/{txid}",
    "LTC": "https://litecoinspace.org/tx/{txid}",
    "DOGE": "https://blockchair.com/dogecoin/transaction/{txid}",
    "USDT": "https://tronscan.org/#/transaction/{txid}",
    "TRX": "https://tronscan.org/#/transaction/{txid}",
}
for _asset, _n in FINAL.items():
    params.define(f"cashout.confirmations.{_asset}", str(_n), "int", minimum=1, maximum=1000)
for _asset, _url in EXPLORERS.items():
    params.define(f"explorer.{_asset}", _url, "text")
params.define("cashout.drop_after", "24h", "duration", minimum=600, maximum=30 * 86400)


@dataclass(frozen=True, slots=True)
class Tracked:
    batch_id: int
    asset: str
    txid: str
    confirmations: int
    confirmed_at: datetime | None
    final_at: datetime | None
    missing_since: datetime | None
    dropped_at: datetime | None


def _tracked(r: Any) -> Tracked:
    return Tracked(
        int(r.batch_id),
        r.asset,
        r.txid,
        int(r.confirmations),
        r.confirmed_at,
        r.final_at,
        r.missing_since,
        r.dropped_at,
    )


def start(conn: Connection, at: datetime) -> int:
    """Follow every batch sent through a node and not followed yet; how many were added."""
    from core.cashout.payouts import payout_batches

    fresh = conn.execute(
        select(payout_batches.c.id, payout_batches.c.asset, payout_batches.c.txid).where(
            payout_batches.c.backend == "rpc",
            payout_batches.c.state == "done",
            payout_batches.c.txid.is_not(None),
            payout_batches.c.id.not_in(select(payout_tracking.c.batch_id)),
        )
    ).all()
    if fresh:
        conn.execute(
            insert(payout_tracking),
            [{"batch_id": r.id, "asset": r.asset, "txid": r.txid, "sent_at": at} for r in fresh],
        )
    return len(fresh)


def open_items(conn: Connection) -> list[Tracked]:
    rows = conn.execute(
        select(payout_tracking)
        .where(payout_tracking.c.final_at.is_(None), payout_tracking.c.dropped_at.is_(None))
        .order_by(payout_tracking.c.batch_id)
    )
    return [_tracked(r) for r in rows]


def _tell_users(conn: Connection, batch_id: int, state: str, extra: dict[str, object], at: datetime) -> None:
    from core.cashout.withdrawals import withdrawals

    rows = conn.execute(
        select(
            withdrawals.c.id,
            withdrawals.c.user_id,
            withdrawals.c.amount,
            withdrawals.c.fee,
            withdrawals.c.asset,
        ).where(withdrawals.c.batch_id == batch_id, withdrawals.c.state == "sent")
    ).all()
    notices.enqueue_many(
        conn,
        [
            (
                int(w.user_id),
                "withdrawal_chain",
                {"id": int(w.id), "state": state, "amount": int(w.amount - w.fee), "asset": w.asset, **extra},
                f"withdrawal:{w.id}:{state}",
            )
            for w in rows
        ],
        now=at,
    )


def observe(
    conn: Connection,
    batch_id: int,
    confirmations: int | None,
    at: datetime,
    *,
    needed: int,
    drop_after: int,
    admin_ids: frozenset[int],
) -> Tracked:
    """Record what the node says of a followed transaction (None: it does not know it)."""
    row = conn.execute(select(payout_tracking).where(payout_tracking.c.batch_id == batch_id)).one()
    t = _tracked(row)
    if t.final_at is not None or t.dropped_at is not None:
        return t
    values: dict[str, object] = {"checked_at": at}
    if confirmations is None or confirmations < 0:  # unknown, or conflicted by another transaction
        since = t.missing_since or at
        values["missing_since"] = since
        values["confirmations"] = 0
        if at - since >= timedelta(seconds=drop_after):
            values["dropped_at"] = at
            notices.enqueue_many(
                conn,
                [
                    (
                        a,
                        "payout_dropped",
                        {"batch": batch_id, "asset": t.asset, "txid": t.txid},
                        f"payout_dropped:{batch_id}:{a}",
                    )
                    for a in sorted(admin_ids)
                ],
                now=at,
            )
    else:
        values["missing_since"] = None
        values["confirmations"] = confirmations
        if confirmations >= 1 and t.confirmed_at is None:
            values["confirmed_at"] = at
            if confirmations < needed:
                _tell_users(
                    conn,
                    batch_id,
                    "confirmed",
                    {"confirmations": confirmations, "needed": needed, "txid": t.txid},
                    at,
                )
        if confirmations >= needed:
            values["final_at"] = at
            _tell_users(conn, batch_id, "final", {"confirmations": confirmations, "txid": t.txid}, at)
    conn.execute(update(payout_tracking).where(payout_tracking.c.batch_id == batch_id).values(**values))
    return _tracked(conn.execute(select(payout_tracking).where(payout_tracking.c.batch_id == batch_id)).one())


def progress(conn: Connection, batch_ids: list[int]) -> dict[int, Tracked]:
    """What /withdrawals shows of these batches' transactions."""
    if not batch_ids:
        return {}
    rows = conn.execute(select(payout_tracking).where(payout_tracking.c.batch_id.in_(batch_ids)))
    return {int(r.batch_id): _tracked(r) for r in rows}


def explorer_link(template: str, txid: str) -> str | None:
    """``explorer.<ASSET>`` with the transaction filled in; None without a template or a txid."""
    return template.replace("{txid}", txid) if template and "{txid}" in template and txid else None
